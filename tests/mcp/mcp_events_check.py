"""wait_for_event through telemux's MCP server, with the official Python MCP SDK.

Run by tests/tests/events.rs (mcp_wait_for_event_long_polls_with_a_cursor):

    python mcp_events_check.py --telemux BIN --session COMPUTER/SESSION

SESSION is a shell session. Checks: with timeout_s 0 and no since, nothing
is returned and a cursor is; typing `false` with send_text makes
`input_written` (by this MCP server) and `command_finished` (exit code 1)
events that a call from that cursor returns, in order; a call from the
returned cursor waits and times out with nothing; a wait started before a
command is typed returns when it finishes (long poll); an unknown type is a
tool error naming the nearest type. Prints a transcript; exit code 0 and the
last line `mcp events check: all steps passed` when every check held.
"""

import argparse
import asyncio
import os
import time

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_steps import call, check


async def run(args):
    params = StdioServerParameters(command=args.telemux, args=["mcp"], env=dict(os.environ))
    computer, name = args.session.split("/")
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            check("wait_for_event" in tools, "wait_for_event listed", sorted(tools))
            want = ["input_written", "command_finished"]

            r, _ = await call(session, "wait_for_event",
                              {"types": want, "session": args.session, "timeout_s": 0})
            check(r["events"] == [] and r["timed_out"], "nothing yet", r)
            cursor = r["cursor"]

            await call(session, "send_text", {"session": args.session, "text": "false"})
            got = []
            deadline = time.monotonic() + 60
            while len(got) < 2 and time.monotonic() < deadline:
                r, _ = await call(session, "wait_for_event",
                                  {"types": want, "session": args.session, "since": cursor, "timeout_s": 10})
                got += r["events"]
                cursor = r["cursor"]
            check([e["type"] for e in got] == want, "typed, then finished, in order", got)
            check(got[0]["by"].startswith("mcp@"), "the typing caller is named", got[0])
            check(got[0]["computer"] == computer and got[0]["session"] == name, "where", got[0])
            check(got[1]["exit_code"] == 1, "the exit code", got[1])

            t0 = time.monotonic()
            r, _ = await call(session, "wait_for_event",
                              {"types": ["command_finished"], "session": args.session, "since": cursor,
                               "timeout_s": 2})
            check(r["events"] == [] and r["timed_out"], "nothing new after the cursor", r)
            check(time.monotonic() - t0 >= 1.5, "it waited", time.monotonic() - t0)

            async def later():
                await asyncio.sleep(1.0)
                await call(session, "send_text", {"session": args.session, "text": "sh -c 'exit 4'"})

            typing = asyncio.create_task(later())
            r, _ = await call(session, "wait_for_event",
                              {"types": ["command_finished"], "session": args.session, "since": r["cursor"],
                               "timeout_s": 30})
            await typing
            check(len(r["events"]) == 1 and r["events"][0]["exit_code"] == 4, "the long poll returned it", r)

            _, text = await call(session, "wait_for_event", {"types": ["comand_finished"], "timeout_s": 0},
                                 expect_error=True)
            check("command_finished" in text and "did you mean" in text, "nearest type named", text)
    print("mcp events check: all steps passed", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--telemux", required=True)
    p.add_argument("--session", required=True)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
