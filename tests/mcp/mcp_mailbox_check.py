"""send_message through telemux's MCP server, with the official Python MCP SDK.

Run by tests/tests/mailbox.rs (mcp_send_message_with_notify_brings_the_answer):

    python mcp_mailbox_check.py --telemux BIN --agent COMPUTER/AGENT --shell COMPUTER/SHELL

AGENT is an idle fake agent session, SHELL a shell session busy with a
`sleep`. Checks: send_message with notify to the agent returns its answer to
the text; to the busy shell with a 1 s timeout it returns a cursor and no
answer, and wait_for_event from that cursor gets message_answered (exit code
0) once the shell is free; a bad `when` is a tool error naming the allowed
values. Prints a transcript; exit code 0 and the last line `mcp mailbox
check: all steps passed` when every check held.
"""

import argparse
import asyncio
import os

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_steps import call, check


async def run(args):
    params = StdioServerParameters(command=args.telemux, args=["mcp"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            check("send_message" in tools, "send_message listed", sorted(tools))

            r, _ = await call(session, "send_message",
                              {"session": args.agent, "text": "from mcp", "notify": True, "timeout_s": 60})
            check(r["status"] == "answered", "answered", r)
            check("You said: from mcp" in r["answer"], "the agent's answer", r)

            # The command outlasts the 1 s wait, so no answer can be there yet.
            r, _ = await call(session, "send_message",
                              {"session": args.shell, "text": "sleep 3", "notify": True, "timeout_s": 1})
            check(r["status"] == "pending" and r.get("cursor"), "no answer yet, a cursor", r)
            mid = r["id"]
            got = None
            cursor = r["cursor"]
            for _ in range(6):
                w, _ = await call(session, "wait_for_event",
                                  {"types": ["message_answered"], "since": cursor, "timeout_s": 10})
                cursor = w["cursor"]
                hits = [e for e in w["events"] if e["message_id"] == mid]
                if hits:
                    got = hits[0]
                    break
            check(got is not None and got["exit_code"] == 0, "answered once the shell was free", got)

            _, text = await call(session, "send_message",
                                 {"session": args.agent, "text": "x", "when": "soon"}, expect_error=True)
            check("now, ready, idle" in text, "allowed values named", text)
    print("mcp mailbox check: all steps passed", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--telemux", required=True)
    p.add_argument("--agent", required=True)
    p.add_argument("--shell", required=True)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
