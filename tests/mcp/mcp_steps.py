"""The transcript and step helpers the MCP check scripts share.

Each check prints what it sends (`>>>`) and what comes back (`<<<`), so a
failing step reads like a conversation, and fails with what it expected.
"""

import json


def show(prefix, obj):
    text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True, ensure_ascii=False)
    print(f"{prefix} {text}", flush=True)


def check(cond, what, detail=None):
    if not cond:
        raise AssertionError(f"{what}: {detail!r}")


async def call(session, name, args, expect_error=False):
    """Calls tool `name`; checks is_error; returns (structured content, text)."""
    show(">>>", f"{name} {json.dumps(args, sort_keys=True, ensure_ascii=False)[:200]}")
    result = await session.call_tool(name, args)
    text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    show("<<<", {"is_error": result.is_error, "structured": result.structured_content, "text": text})
    check(result.is_error == expect_error, f"{name} is_error", text)
    return result.structured_content, text
