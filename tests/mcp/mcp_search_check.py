"""search_output through telemux's MCP server, with the official Python MCP SDK.

Run by tests/tests/search.rs (mcp_search_output_finds_lines_with_a_cursor):

    python mcp_search_check.py --telemux BIN --sessions A/S1,B/S2 [--info]

With --info (tests/tests/info.rs, mcp_session_info_through_the_python_sdk)
it checks session_info on each session instead: its address, a pid, a size,
state running and a non-empty output stream; an unknown session is a tool
error; clean_sessions with dry_run lists nothing to remove on each
computer; rename_session renames the first session and back (its output
is readable under the new name; a name in use is a tool error saying so).
Last line then: `mcp session_info check: passed`.

Each session printed `needle-42` (typed as `echo needle-$((6*7))`). Checks:
search_output finds the line in both sessions, each hit on its computer
with a cursor; read_output(session, since=cursor) shows the line; a
`sessions` filter narrows to one; a bad regex and a 2000-character pattern
are tool errors with the reason. Exit code 0 and the last line
`mcp search check: all steps passed` when every check held.
"""

import argparse
import asyncio
import os

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_steps import call, check


async def run(args):
    params = StdioServerParameters(command=args.telemux, args=["mcp"], env=dict(os.environ))
    sessions = args.sessions.split(",")
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            if args.info:
                check("session_info" in tools, "session_info listed", sorted(tools))
                for addr in sessions:
                    r, text = await call(session, "session_info", {"session": addr})
                    check(r["session"] == addr and r["state"] == "running", "address and state", r)
                    check(r["pid"] > 1 and r["width"] > 0 and r["stream_len"] > 0, "pid, size, stream", r)
                    check("pid" in text, "a text block", text)
                _, text = await call(session, "session_info", {"session": sessions[0] + "-nope"},
                                     expect_error=True)
                check("no session" in text, "unknown session", text)
                r, text = await call(session, "clean_sessions", {"dry_run": True})
                names = sorted(c["computer"] for c in r["computers"])
                check(names == sorted(a.split("/")[0] for a in sessions), "every computer asked", r)
                check(all(c["dry_run"] and c["sessions"] == [] for c in r["computers"]), "nothing exited", r)
                computer, name = sessions[0].split("/")
                r, text = await call(session, "rename_session", {"session": sessions[0], "new_name": name + "-mcp"})
                check(r["session"] == f"{computer}/{name}-mcp" and r["from"] == sessions[0], "renamed", r)
                out, text = await call(session, "read_output", {"session": r["session"]})
                check("needle-42" in text, "the output follows the new name", text)
                _, text = await call(session, "rename_session", {"session": r["session"], "new_name": name + "-mcp"},
                                     expect_error=True)
                check("called that already" in text, "same name refused", text)
                r, _ = await call(session, "rename_session", {"session": r["session"], "new_name": name})
                check(r["session"] == sessions[0], "renamed back", r)
                print("mcp session_info check: passed", flush=True)
                return
            check("search_output" in tools, "search_output listed", sorted(tools))

            r, _ = await call(session, "search_output", {"pattern": r"^needle-42$"})
            found = sorted(h["session"] for h in r["hits"])
            check(found == sorted(sessions), "a hit in each session", r["hits"])
            check(not r["truncated"], "not truncated", r)

            for h in r["hits"]:
                check(h["line"] == "needle-42", "the line", h)
                out, text = await call(session, "read_output", {"session": h["session"], "since": h["cursor"]})
                check("needle-42" in text, "read_output from the hit's cursor shows it", text)

            r, _ = await call(session, "search_output", {"pattern": "needle-42", "sessions": [sessions[1]]})
            check([h["session"] for h in r["hits"]] == [sessions[1]], "sessions narrows", r["hits"])

            r, _ = await call(session, "search_output", {"pattern": "needle-42", "max_results": 1})
            check(len(r["hits"]) == 1 and r["truncated"], "max_results bounds", r)

            _, text = await call(session, "search_output", {"pattern": "(unclosed"}, expect_error=True)
            check("unclosed group" in text, "the regex error", text)
            _, text = await call(session, "search_output", {"pattern": "a" * 2000}, expect_error=True)
            check("limit is 1000 characters" in text, "the length limit", text)
    print("mcp search check: all steps passed", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--telemux", required=True)
    p.add_argument("--sessions", required=True)
    p.add_argument("--info", action="store_true")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
