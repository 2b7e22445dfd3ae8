"""read_file and write_file through telemux's MCP server, with the official Python MCP SDK.

Run by tests/tests/files.rs (paths_outside_the_roots_are_refused_naming_them):

    python mcp_files_check.py --telemux BIN --computer RasPi --roots HOME --stray NAME

COMPUTER's node serves only HOME (its files.roots), which holds `hello.txt`
(UTF-8 text), `blob.bin` (not UTF-8), `pw` (a symlink to /etc/passwd) and
`etc-link` (a symlink to /etc). Checks: text comes back as text, binary as
base64, long files page with next_offset; /etc/passwd, the symlinks and
`..` are refused with an error naming the roots; write_file writes text and
base64 inside HOME and refuses /tmp/NAME. Prints a transcript; exit code 0
and the last line `mcp files check: all steps passed` when every check held.
"""

import argparse
import asyncio
import base64
import json
import os

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


def show(prefix, obj):
    text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True, ensure_ascii=False)
    print(f"{prefix} {text}", flush=True)


def check(cond, what, detail=None):
    if not cond:
        raise AssertionError(f"{what}: {detail!r}")


async def call(session, name, args, expect_error=False):
    show(">>>", f"{name} {json.dumps(args, sort_keys=True, ensure_ascii=False)}")
    result = await session.call_tool(name, args)
    text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    show("<<<", {"is_error": result.is_error, "structured": result.structured_content, "text": text})
    check(result.is_error == expect_error, f"{name} is_error", text)
    return result.structured_content, text


async def run(args):
    params = StdioServerParameters(command=args.telemux, args=["mcp"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            check({"read_file", "write_file"} <= set(tools), "file tools listed", sorted(tools))
            c = args.computer
            roots = f"files.roots: {args.roots}"

            r, _ = await call(session, "read_file", {"computer": c, "path": "~/hello.txt"})
            check(r["encoding"] == "utf-8" and r["content"] == "héllo wörld\n", "text as text", r)
            check(r["size"] == len("héllo wörld\n".encode()) and "next_offset" not in r, "whole file", r)
            # Two bytes end inside `é`: the cut character waits for the next page.
            r, _ = await call(session, "read_file", {"computer": c, "path": "hello.txt", "max_bytes": 2})
            check(r["content"] == "h" and r["next_offset"] == 1, "a cut character is left for the next page", r)
            r, _ = await call(session, "read_file", {"computer": c, "path": "hello.txt", "offset": 1, "max_bytes": 2})
            check(r["content"] == "é" and r["next_offset"] == 3, "the next page", r)
            r, _ = await call(session, "read_file", {"computer": c, "path": "blob.bin"})
            check(r["encoding"] == "base64", "binary as base64", r)
            check(base64.b64decode(r["content"]) == bytes([0, 159, 146, 150, 255]), "base64 bytes", r)

            for path in ["/etc/passwd", "~/pw", "etc-link/passwd", "../../etc/passwd"]:
                _, text = await call(session, "read_file", {"computer": c, "path": path}, expect_error=True)
                check(roots in text, f"refusal of {path} names the roots", text)

            r, _ = await call(session, "write_file", {"computer": c, "path": "~/written.txt", "content": "from mcp ✓"})
            check(r["bytes"] == len("from mcp ✓".encode()) and len(r["sha256"]) == 64, "text written", r)
            r, _ = await call(session, "write_file", {"computer": c, "path": "written.bin",
                                                      "base64": base64.b64encode(bytes([0, 1, 2, 255])).decode()})
            check(r["bytes"] == 4, "base64 written", r)
            _, text = await call(session, "write_file", {"computer": c, "path": f"/tmp/{args.stray}", "content": "x"},
                                 expect_error=True)
            check(roots in text, "write outside the roots refused naming them", text)
            _, text = await call(session, "write_file", {"computer": c, "path": "~/both", "content": "x", "base64": "eA=="},
                                 expect_error=True)
            check("exactly one" in text, "content and base64 together refused", text)
    print("mcp files check: all steps passed", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--telemux", required=True)
    p.add_argument("--computer", required=True)
    p.add_argument("--roots", required=True)
    p.add_argument("--stray", required=True)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
