"""Feeds hostile names, keys and texts to telemux's MCP tools through the official Python MCP SDK.

Run by tests/tests/hostile.rs against a real mesh, over stdio:

    python mcp_hostile_check.py --telemux BIN --computer RasPi --session RasPi/victim --marker-dir DIR

Every hostile name must come back as a tool error (isError) that says what was
wrong and what is allowed; hostile key names as a tool error listing the
allowed keys; hostile texts typed with enter=false must arrive literally on the
session's screen. Shell syntax in them points at files under --marker-dir; the
Rust side checks that none of them was created. The server must keep serving
after all of it. Every step is printed as a transcript line; any failed check
raises, and the exit code is non-zero.
"""

import argparse
import asyncio
import json
import os
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


def show(prefix, obj):
    text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True)
    print(f"{prefix} {text[:600]}", flush=True)


def check(cond, what, detail=None):
    if not cond:
        raise AssertionError(f"{what}: {detail!r}")


async def call(session, name, args, expect_error=False):
    show(">>>", f"{name} {json.dumps(args, sort_keys=True)[:300]}")
    result = await session.call_tool(name, args)
    text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    show("<<<", {"is_error": result.is_error, "text": text})
    check(result.is_error == expect_error, f"{name} is_error should be {expect_error}", text)
    check(text.strip() != "", f"{name} returned no text", result)
    return result, text


def hostile_names(marker_dir):
    m = os.path.join(marker_dir, "PWNED-name")
    return [
        f"a;touch {m}",
        f"$(touch {m})",
        f"`touch {m}`",
        "a:b.c",
        "-t",
        "--help",
        "a b",
        "a\nb",
        "x" * 200,
        "ünïcödé",
        "",
    ]


def hostile_texts(marker_dir):
    m = os.path.join(marker_dir, "PWNED-mcp-text")
    return [
        f"; touch {m}",
        f"$(touch {m})",
        f"`touch {m}`",
        "C-c",
        "-l",
        ";",
        "-x a text starting with a dash",
        "#{pane_id} #{session_name}",
        "\\;",
        "end;",
        f"x \\; run-shell 'touch {m}'",
        "{ a }",
    ]


async def screen_line(session, addr):
    """The last non-empty line of the session's screen."""
    r = await session.call_tool("read_output", {"session": addr, "lines": 0})
    check(not r.is_error, "read_output works", r)
    lines = [l for l in r.structured_content["text"].split("\n") if l.strip()]
    return lines[-1] if lines else ""


async def wait_line(session, addr, ends_with, want=True, timeout=20):
    """Polls until the prompt line ends (or no longer ends) with `ends_with`:
    the shell echoes typed input a moment after tmux has written it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        line = await screen_line(session, addr)
        if line.endswith(ends_with) == want:
            return line
        check(asyncio.get_running_loop().time() < deadline,
              f"screen line {'ends' if want else 'stops ending'} with {ends_with!r}", line)
        await asyncio.sleep(0.05)


async def scenario(session, computer, addr, marker_dir):
    await session.initialize()

    # Names: refused with what was wrong and what is allowed.
    for name in hostile_names(marker_dir):
        _, text = await call(session, "start_session", {"computer": computer, "name": name}, expect_error=True)
        check("invalid session name" in text and "allowed:" in text, "start_session name refused", text)
        _, text = await call(session, "start_session", {"computer": name}, expect_error=True)
        check("invalid computer name" in text and "allowed:" in text, "start_session computer refused", text)
        _, text = await call(session, "list_sessions", {"computer": name}, expect_error=True)
        check("invalid computer name" in text and "allowed:" in text, "list_sessions computer refused", text)
        _, text = await call(session, "run_command",
                             {"computer": name, "command": f"touch {marker_dir}/PWNED-run"},
                             expect_error=True)
        check("invalid computer name" in text, "run_command computer refused", text)
        for tool, args in [
            ("send_text", {"session": f"{computer}/{name}", "text": "x", "enter": False}),
            ("send_keys", {"session": f"{computer}/{name}", "keys": ["Enter"]}),
            ("read_output", {"session": f"{computer}/{name}"}),
            ("kill_session", {"session": f"{computer}/{name}"}),
            ("wait_for", {"session": f"{computer}/{name}", "until": "idle", "timeout_s": 1}),
        ]:
            _, text = await call(session, tool, args, expect_error=True)
            check("invalid session name" in text and "allowed:" in text, f"{tool} session refused", text)
        check("\n" not in text, "a newline in a name does not break the error in two", text)

    # Key names: refused with the list of allowed keys.
    for key in ["C-c;kill-server", "Enter Enter", "-X", "C-c\n", "Escape; kill-session"]:
        _, text = await call(session, "send_keys", {"session": addr, "keys": [key]}, expect_error=True)
        check("unknown key" in text and "allowed: Enter" in text and "C-a..C-z" in text,
              "hostile key refused with the allowed keys", text)

    # Texts without Enter: typed literally, nothing runs.
    for t in hostile_texts(marker_dir):
        await call(session, "send_text", {"session": addr, "text": t, "enter": False})
        line = await wait_line(session, addr, t)
        show("<<<", {"screen_line": line})
        await call(session, "send_keys", {"session": addr, "keys": ["C-u"]})
        await wait_line(session, addr, t, want=False)

    # A text over the documented limit is refused with the limit, not a crash.
    _, text = await call(session, "send_text", {"session": addr, "text": "y" * (100 * 1024), "enter": False},
                         expect_error=True)
    check("the limit is 65536 bytes" in text, "100 KiB text refused with the limit", text)

    # The server and the node still work.
    r, _ = await call(session, "list_computers", {})
    check(any(c["name"] == computer and c["online"] for c in r.structured_content["computers"]),
          f"{computer} still online", r.structured_content)
    r, _ = await call(session, "start_session", {"computer": computer, "name": "after-mcp"})
    check(r.structured_content["session"] == f"{computer}/after-mcp", "a valid session starts", r)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--telemux", required=True)
    p.add_argument("--computer", required=True)
    p.add_argument("--session", required=True)
    p.add_argument("--marker-dir", required=True)
    args = p.parse_args()
    params = StdioServerParameters(command=args.telemux, args=["mcp"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await scenario(session, args.computer, args.session, args.marker_dir)
    print("mcp hostile check: all steps passed", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except BaseException as e:  # noqa: BLE001 - report everything, including ExceptionGroups
        import traceback

        traceback.print_exception(e)
        sys.exit(1)
