"""Drives telemux's MCP server with the official Python MCP SDK (a client we did not write).

Run by tests/tests/mcp_client.rs against a real mesh (redis-server + two
`telemux node` processes). Two transports:

    python mcp_client_check.py stdio --telemux BIN --other RasPi
    python mcp_client_check.py http --url http://127.0.0.1:P/mcp --token T --other RasPi

With `--agent COMPUTER` (stdio), that computer's node must have the fake
agent profile `fake` and the project `proj` (telemux_tests::agents), and an
agent session is driven too: list_projects, start_session with agent and a
project cwd, send_text then wait_for idle, read_output last_turn.

`screenshot` is checked for one image content block (image/png) whose base64
data decodes to a PNG of the size the structured content reports.

The environment for the stdio server (TELEMUX_REDIS__URL, HOME, ...) is this
process's environment. Every step is printed as a transcript line
(`>>> tool {args}` / `<<< result`), so a failure shows what happened. Any failed
check raises, and the exit code is non-zero.
"""

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import uuid

import httpx2
import jsonschema
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

TOOLS = {
    "answer_prompt",
    "list_computers",
    "list_sessions",
    "list_projects",
    "start_session",
    "send_text",
    "send_keys",
    "read_output",
    "run_command",
    "wait_for",
    "kill_session",
    "screenshot",
    "search_output",
    "session_info",
    "clean_sessions",
    "rename_session",
    "read_file",
    "write_file",
    "wait_for_event",
    "send_message",
}


def show(prefix, obj):
    text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True)
    print(f"{prefix} {text}", flush=True)


def check(cond, what, detail=None):
    if not cond:
        raise AssertionError(f"{what}: {detail!r}")


async def call(session, name, args, expect_error=False, progress=None):
    show(">>>", f"{name} {json.dumps(args, sort_keys=True)}")
    result = await session.call_tool(name, args, progress_callback=progress)
    text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    show("<<<", {"is_error": result.is_error, "structured": result.structured_content, "text": text})
    check(
        result.is_error == expect_error,
        f"{name} is_error should be {expect_error}",
        text,
    )
    check(text.strip() != "", f"{name} returned no text rendering", result)
    if not expect_error:
        check(isinstance(result.structured_content, dict), f"{name} has structured content", result)
    return result, text


async def scenario(session, other):
    init = await session.initialize()
    show("<<<", {"server": init.server_info.name, "version": init.server_info.version,
                 "protocol": init.protocol_version})
    check(init.server_info.name == "telemux", "server name", init.server_info)
    check(init.instructions and "COMPUTER/SESSION" in init.instructions,
          "instructions explain addressing", init.instructions)

    listed = await session.list_tools()
    names = {t.name for t in listed.tools}
    show("<<<", {"tools": sorted(names)})
    check(names == TOOLS, "exactly the listed tools", sorted(names))
    for t in listed.tools:
        check(t.description and len(t.description) > 40, f"{t.name} has a description", t.description)
        jsonschema.validators.validator_for(t.input_schema).check_schema(t.input_schema)
        check(t.input_schema.get("type") == "object", f"{t.name} input is an object", t.input_schema)
        for prop, spec in t.input_schema.get("properties", {}).items():
            check("description" in spec, f"{t.name}.{prop} has a description", spec)
        if t.output_schema is not None:
            jsonschema.validators.validator_for(t.output_schema).check_schema(t.output_schema)

    r, _ = await call(session, "list_computers", {})
    computers = {c["name"]: c for c in r.structured_content["computers"]}
    check(other in computers and computers[other]["online"], f"{other} is online", computers)

    r, _ = await call(session, "start_session", {"computer": other.lower(), "name": "mcp-py"})
    addr = r.structured_content["session"]
    check(addr == f"{other}/mcp-py", "canonical session address", addr)

    r, _ = await call(session, "list_sessions", {"computer": other})
    check(any(s["session"] == addr for s in r.structured_content["sessions"]), "session listed", r)

    r, _ = await call(session, "send_text", {"session": addr, "text": "echo hello-$((6*7)); false"})
    cursor = r.structured_content["cursor"]

    r, _ = await call(session, "wait_for", {"session": addr, "until": "exit", "since": cursor, "timeout_s": 30})
    check(r.structured_content["happened"] == "command_finished", "wait_for saw the command finish", r)
    check(r.structured_content["exit_code"] == 1, "exit code of `false`", r)

    r, _ = await call(session, "read_output", {"session": addr, "since": cursor})
    check("hello-42" in r.structured_content["text"], "read_output since cursor has the output", r)

    r, _ = await call(session, "read_output", {"session": addr, "lines": 20})
    check("hello-42" in r.structured_content["text"], "read_output screen has the output", r)

    r, text = await call(session, "screenshot", {"session": addr})
    images = [c for c in r.content if getattr(c, "type", "") == "image"]
    mime = [getattr(c, "mime_type", None) or getattr(c, "mimeType", None) for c in images]
    check(mime == ["image/png"], "screenshot has one PNG image block", r.content)
    png = base64.b64decode(images[0].data)
    check(png[:8] == b"\x89PNG\r\n\x1a\n", "the image block decodes to a PNG", png[:16])
    sc = r.structured_content
    check(sc["session"] == addr and sc["bytes"] == len(png), "screenshot structured content", sc)
    check(int.from_bytes(png[16:20], "big") == sc["width"] and int.from_bytes(png[20:24], "big") == sc["height"],
          "PNG size is the reported size", sc)
    r, text = await call(session, "screenshot", {"session": f"{other}/no-such"}, expect_error=True)
    check("no-such" in text, "screenshot of an unknown session names it", text)

    r, _ = await call(session, "send_keys", {"session": addr, "keys": ["C-c"]})

    progress_seen = []

    async def on_progress(progress, total, message):
        progress_seen.append((progress, total, message))

    r, text = await call(session, "run_command",
                         {"computer": other, "command": "sleep 2; echo out-line; exit 3", "timeout_s": 30},
                         progress=on_progress)
    check(r.structured_content["exit_code"] == 3, "run_command exit code", r)
    check("out-line" in r.structured_content["output"], "run_command output", r)
    check("exit code 3" in text, "run_command text rendering", text)
    show("<<<", {"progress_notifications": len(progress_seen)})
    check(len(progress_seen) >= 1, "progress notifications during a 2 s run", progress_seen)

    wrong = other[:-1] + ("x" if other[-1] != "x" else "y")
    r, text = await call(session, "run_command", {"computer": wrong, "command": "true"}, expect_error=True)
    check(f"no computer '{wrong}'" in text and f"did you mean {other}" in text, "suggestion text", text)

    r, text = await call(session, "read_output", {"session": f"{other}/no-such"}, expect_error=True)
    check("no-such" in text, "unknown session error names it", text)

    await call(session, "kill_session", {"session": addr})


async def agent_scenario(session, computer):
    r, _ = await call(session, "list_projects", {"computer": computer})
    entry = r.structured_content["computers"][0]
    check([p["name"] for p in entry["projects"]] == ["proj"], "the project is listed", entry)
    check("fake" in entry["agents"], "the fake agent profile is listed", entry)

    r, _ = await call(session, "start_session",
                      {"computer": computer, "name": "py-agent", "agent": "fake", "cwd": "proj"})
    addr = r.structured_content["session"]
    r, _ = await call(session, "wait_for",
                      {"session": addr, "until": "idle", "since": r.structured_content["cursor"], "timeout_s": 60})
    check(r.structured_content["happened"] == "idle", "the agent became ready", r)

    await call(session, "send_text", {"session": addr, "text": "hi from python"})
    r, _ = await call(session, "wait_for", {"session": addr, "until": "idle", "timeout_s": 60})
    check(r.structured_content["happened"] == "idle" and r.structured_content["already"] is False,
          "wait_for idle waited for the turn the prompt started", r)

    r, _ = await call(session, "list_sessions", {"computer": computer})
    mine = [x for x in r.structured_content["sessions"] if x["session"] == addr]
    check(mine and mine[0]["agent"] == "fake" and mine[0]["agent_state"] == "idle", "agent state listed", mine)

    r, _ = await call(session, "read_output", {"session": addr, "last_turn": True})
    check(r.structured_content["text"].startswith("You said: hi from python"), "last turn is the answer", r)
    await call(session, "kill_session", {"session": addr})


async def run_stdio(args):
    params = StdioServerParameters(command=args.telemux, args=["mcp"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await scenario(session, args.other)
            if args.agent:
                await agent_scenario(session, args.agent)


async def unauthorized(args):
    """Without the token, or with a wrong one: 401, and a tools/call is not executed."""
    marker = os.path.join(tempfile.gettempdir(), f"telemux-mcp-unauth-{uuid.uuid4().hex}")
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "run_command", "arguments": {"computer": args.other, "command": f"touch {marker}"}},
    }
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "unauth-probe", "version": "0"}},
    }
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx2.AsyncClient(timeout=10) as client:
        for label, extra in [("no token", {}), ("wrong token", {"Authorization": "Bearer wrong"}),
                             ("wrong scheme", {"Authorization": f"Basic {args.token}"})]:
            for payload in (init, body):
                resp = await client.post(args.url, json=payload, headers={**headers, **extra})
                show("<<<", {"unauthorized": label, "method": payload["method"], "status": resp.status_code})
                check(resp.status_code == 401, f"{label} is refused with 401", resp.text)
    await asyncio.sleep(1.5)
    check(not os.path.exists(marker), "nothing executed without the token", marker)


async def run_http(args):
    await unauthorized(args)
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {args.token}"},
                                timeout=httpx2.Timeout(60, read=120))
    async with client:
        async with streamable_http_client(args.url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await scenario(session, args.other)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("transport", choices=["stdio", "http"])
    p.add_argument("--telemux")
    p.add_argument("--url")
    p.add_argument("--token")
    p.add_argument("--other", required=True)
    p.add_argument("--agent", help="computer with the fake agent profile and project `proj` (stdio only)")
    args = p.parse_args()
    asyncio.run(run_stdio(args) if args.transport == "stdio" else run_http(args))
    print("mcp client check: all steps passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except BaseException as e:  # noqa: BLE001 - report everything, including ExceptionGroups
        import traceback

        traceback.print_exception(e)
        sys.exit(1)
