"""An MCP reader that survives its gateway: read_output paged by cursor, across a kill -9.

Run by tests/tests/mcp_client.rs (a_killed_gateway_loses_no_output_for_an_mcp_reader)
with the official Python MCP SDK over streamable HTTP:

    python mcp_resume_check.py --url-file F --token T --computer RasPi --lines N

It starts a session on COMPUTER that prints `n-1` ... `n-N` (one every ~10 ms)
and then `n-END`, and pages through it with read_output since=CURSOR. When the
gateway goes away (the test kills it), every call fails; the reader keeps its
cursor, re-reads the gateway URL from F (the restarted gateway has a new port),
opens a new MCP session and carries on from the cursor, as a model's host
would. It prints a transcript and, last, one line `LINES <json list>` with every
`n-*` line it received, in order; the test checks that none is missing or
doubled. Exit code 0 once `n-END` was read, 1 on any other outcome.
"""

import argparse
import asyncio
import json
import re
import sys
import time

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

# One MCP call may not take longer than this; a dead gateway must not hang us.
CALL_TIMEOUT = 15
# How long the reader keeps trying to reach a gateway again.
RECONNECT_FOR = 90

LINE = re.compile(r"^n-(\d+|END)$")


def show(text):
    print(text, flush=True)


async def call(session, name, args):
    result = await asyncio.wait_for(session.call_tool(name, args), CALL_TIMEOUT)
    text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    if result.is_error:
        raise RuntimeError(f"{name} failed: {text}")
    return result.structured_content


class Reader:
    def __init__(self, args):
        self.args = args
        self.session_addr = None
        self.cursor = None
        self.lines = []
        self.reconnects = 0
        # Set once an MCP session is up, so a later failure starts a new outage.
        self.connected = False

    def done(self):
        return bool(self.lines) and self.lines[-1] == "n-END"

    async def run_once(self):
        """One MCP session: start the counter if not yet done, then page until the end."""
        url = open(self.args.url_file).read().strip()
        client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {self.args.token}"},
                                    timeout=httpx2.Timeout(CALL_TIMEOUT))
        async with client:
            async with streamable_http_client(url, http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await asyncio.wait_for(session.initialize(), CALL_TIMEOUT)
                    show(f"connected to {url}")
                    self.connected = True
                    if self.session_addr is None:
                        n = self.args.lines
                        script = (f"i=1; while [ $i -le {n} ]; do echo n-$i; i=$((i+1)); "
                                  "sleep 0.01; done; echo n-END; sleep 30")
                        r = await call(session, "start_session", {
                            "computer": self.args.computer, "name": "counter",
                            "command": script})
                        self.session_addr = r["session"]
                        self.cursor = r["cursor"]
                        show(f"started {self.session_addr} at cursor {self.cursor}")
                    while not self.done():
                        r = await call(session, "read_output",
                                       {"session": self.session_addr, "since": self.cursor})
                        got = [l for l in r["text"].splitlines() if LINE.match(l.strip())]
                        self.lines.extend(l.strip() for l in got)
                        self.cursor = r["cursor"]
                        show(f"page: {len(got)} lines, {len(self.lines)} in all, "
                             f"last {self.lines[-1] if self.lines else None}, cursor {self.cursor}")
                        if not got and not r.get("more"):
                            await asyncio.sleep(0.1)

    async def run(self):
        deadline = None
        while not self.done():
            try:
                await self.run_once()
            except BaseException as e:  # noqa: BLE001 - the gateway died under us: any error
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                if deadline is None or self.connected:
                    self.connected = False
                    deadline = time.monotonic() + RECONNECT_FOR
                    self.reconnects += 1
                    show(f"RECONNECT after {type(e).__name__}: {str(e)[:200]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no gateway within {RECONNECT_FOR} s") from e
                await asyncio.sleep(0.3)
                continue
            deadline = None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url-file", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--computer", required=True)
    p.add_argument("--lines", type=int, default=600)
    args = p.parse_args()
    reader = Reader(args)
    try:
        asyncio.run(reader.run())
    finally:
        show(f"RECONNECTS {reader.reconnects}")
        show("LINES " + json.dumps(reader.lines))


if __name__ == "__main__":
    try:
        main()
    except BaseException as e:  # noqa: BLE001 - report everything, including ExceptionGroups
        import traceback

        traceback.print_exception(e)
        sys.exit(1)
