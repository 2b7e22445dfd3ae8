"""A real agent's permission prompt answered over MCP, with the official Python SDK.

Run by tests/tests/real_agents.rs over stdio (`telemux mcp`):

    python mcp_agent_prompt_check.py --telemux BIN --computer A --agent claude --cwd DIR

It starts the agent with start_session, waits for it to be ready, asks for a tool
call, waits with wait_for(until="waiting") for the question, checks its choices,
answers choice 1 with answer_prompt and the prompt_id, waits for the turn to end,
and reads the answer with read_output(last_turn=true). A second answer with the
same prompt_id must be refused as stale. Prints a transcript; the last line is
`mcp agent prompt check: all steps passed` and the exit code 0 on success.
"""

import argparse
import asyncio
import json
import os
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


def check(ok, what, detail=None):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        print(json.dumps(detail, default=str, indent=1)[:4000], flush=True)
        sys.exit(1)


async def call(session, name, args):
    r = await asyncio.wait_for(session.call_tool(name, args), 150)
    text = "\n".join(c.text for c in r.content if getattr(c, "type", "") == "text")
    return r, text


async def scenario(session, a):
    r, text = await call(session, "start_session", {"computer": a.computer, "name": a.agent + "-mcp", "agent": a.agent, "cwd": a.cwd})
    check(not r.is_error, "start_session", text)
    addr = r.structured_content["session"]
    r, text = await call(session, "wait_for", {"session": addr, "until": "idle", "timeout_s": 60})
    check(not r.is_error and r.structured_content["happened"] == "idle", "the agent is ready", text)

    r, text = await call(session, "send_text", {"session": addr, "text": "Please run the TOOL now"})
    check(not r.is_error, "send_text", text)
    cursor = r.structured_content["cursor"]
    r, text = await call(session, "wait_for", {"session": addr, "until": "waiting", "since": cursor, "timeout_s": 90})
    s = r.structured_content or {}
    check(not r.is_error and s.get("happened") == "waiting", "wait_for until=waiting", text)
    prompt = s.get("prompt") or {}
    labels = [c["label"] for c in prompt.get("choices", [])]
    check(len(labels) >= 3 and labels[0] == a.first, f"the prompt's own choices: {labels}", s)
    check("touch" in (prompt.get("command") or ""), "the command it is about", prompt)

    r, text = await call(session, "answer_prompt", {"session": addr, "choice": 1, "prompt_id": prompt["prompt_id"]})
    check(not r.is_error and r.structured_content["label"] == a.first, "answer_prompt chose 1", text)
    r, text = await call(session, "answer_prompt", {"session": addr, "choice": 1, "prompt_id": prompt["prompt_id"]})
    check(r.is_error and "nothing was pressed" in text, "a second answer is refused as stale", text)

    r, text = await call(session, "wait_for", {"session": addr, "until": "idle", "timeout_s": 90})
    check(not r.is_error and r.structured_content["happened"] == "idle", "the turn ended", text)
    r, text = await call(session, "read_output", {"session": addr, "last_turn": True})
    s = r.structured_content or {}
    check(s.get("text") == "Tool said: hi. Done.", "the exact answer", s)
    check(any("touch hi.txt" in t for t in s.get("tools") or []), "the tool call is listed", s)
    await call(session, "kill_session", {"session": addr})


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--telemux", required=True)
    p.add_argument("--computer", required=True)
    p.add_argument("--agent", required=True)
    p.add_argument("--cwd", required=True)
    p.add_argument("--first", required=True, help="label of choice 1")
    a = p.parse_args()
    params = StdioServerParameters(command=a.telemux, args=["mcp"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await scenario(session, a)
    print("mcp agent prompt check: all steps passed", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
