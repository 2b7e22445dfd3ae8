#!/usr/bin/env python3
"""A scripted fake model server for driving the real agent CLIs offline.

One loopback server speaks the three APIs the agents call, dispatching on the path:

  Anthropic Messages  POST /v1/messages[?beta=true] (SSE or JSON), /v1/messages/count_tokens
  OpenAI Responses    POST /v1/responses (SSE)
  Gemini              POST /v1beta/models/{m}:streamGenerateContent?alt=sse (data-only SSE),
                      :generateContent (the CLI's JSON-schema router), :countTokens

Usage: fake_model.py SCRIPT.json LOG.jsonl
The first stdout line is `PORT <n>` (port 0 is bound, so tests never collide).

The script file is re-read on every request, so a test can rewrite it between turns:
  text      the answer to an ordinary prompt           ("Hello from the fake model!")
  tool_cmd  the shell command a TOOL prompt asks for   ("touch hi.txt && echo hi")
  delay_s   seconds slept before answering a request that offers tools (0)
  error     null, or an HTTP status (500, 529, ...) to answer those requests with,
            in the API's own error JSON; or {"status": N, "message": "..."}.
            Gemini CLI retries 429/5xx forever (its fallback resets the attempts):
            script a 4xx (e.g. 400) for it
  side_text the answer to requests without tools, e.g. title generation ("Fake title")

Replies, the same for every API:
  the last user turn is a tool result       -> "Tool said: <output>. Done."
  its text has TOOL and tools are offered   -> "I will run a command." + a shell tool call
  anything else                             -> the script's text

Every request is appended to LOG as one JSON line (method, path, headers, body, kind).
"""

import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULTS = {
    "text": "Hello from the fake model!",
    "tool_cmd": "touch hi.txt && echo hi",
    "delay_s": 0,
    "error": None,
    "side_text": "Fake title",
}
TOOL_INTRO = "I will run a command."
TOOL_DESCRIPTION = "Run the test command"
# Shown by Codex as the approval prompt's "Reason:".
CODEX_JUSTIFICATION = "Allow the fake model to run the test command?"
WORD_GAP_S = 0.03
USAGE_IN, USAGE_OUT = 100, 20
ROUTER_ANSWER = {"complexity_reasoning": "simple", "complexity_score": 1}

SCRIPT_PATH = sys.argv[1]
LOG_PATH = sys.argv[2]
LOG_LOCK = threading.Lock()


def script():
    """The current script merged over the defaults; a missing or torn file means defaults."""
    merged = dict(DEFAULTS)
    try:
        with open(SCRIPT_PATH) as f:
            merged.update(json.load(f))
    except (OSError, ValueError):
        pass
    return merged


def words(text):
    """Splits text into stream chunks that concatenate back to exactly `text`."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


def tool_said(output):
    """The final answer after a tool ran: just the command's output, on one line."""
    text = output if isinstance(output, str) else json.dumps(output)
    # Codex ("Output:\nhi\n") and Gemini ("Output: hi\nProcess Group PGID: ...") wrap
    # the output in metadata; keep what follows "Output:" up to the next metadata line.
    if "Output:" in text:
        text = text.split("Output:", 1)[1]
        text = re.split(r"\n(?:Process Group PGID|Error|Exit Code|Signal|Background PIDs)"
                        r"\b|\n</untrusted_context>", text)[0]
    return "Tool said: " + " ".join(text.split()) + ". Done."


def error_of(sc):
    """(status, message) of the scripted error, or None."""
    err = sc.get("error")
    if not err:
        return None
    if isinstance(err, dict):
        status = int(err.get("status", 500))
        return status, err.get("message", f"fake error {status}")
    status = int(err)
    return status, "Overloaded" if status == 529 else f"fake error {status}"


def decide(sc, tool_output, user_text, has_tools):
    """What to answer: (text, command or None)."""
    if tool_output is not None:
        return tool_said(tool_output), None
    if has_tools and "TOOL" in user_text:
        return TOOL_INTRO, sc["tool_cmd"]
    if not has_tools:
        return sc["side_text"], None
    return sc["text"], None


def new_id(prefix):
    return prefix + uuid.uuid4().hex[:24]


# ---------------------------------------------------------------- Anthropic


def claude_last_user(body):
    """(tool_output or None, user text) from the last role:"user" message.

    The array may end with a role:"system" message (mid-conversation system), so the
    last message is not necessarily the user's.
    """
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            return None, content
        texts = []
        for block in content or []:
            if block.get("type") == "tool_result":
                out = block.get("content")
                if isinstance(out, list):
                    out = "".join(b.get("text", "") for b in out if isinstance(b, dict))
                return out or "", ""
            if block.get("type") == "text" and not block.get("text", "").startswith(
                "<system-reminder>"
            ):
                texts.append(block.get("text", ""))
        return None, "\n".join(texts)
    return None, ""


CLAUDE_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def claude_error(status, message):
    kind = CLAUDE_ERRORS.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def claude_events(model, text, cmd):
    """The Messages SSE events of one answer, as (event, data, pause after) triples."""
    usage = {
        "input_tokens": USAGE_IN,
        "output_tokens": 1,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    message = {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    yield "message_start", {"type": "message_start", "message": message}, 0
    yield "ping", {"type": "ping"}, 0
    block = {"type": "text", "text": ""}
    yield "content_block_start", {
        "type": "content_block_start", "index": 0, "content_block": block}, 0
    for w in words(text):
        yield "content_block_delta", {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": w},
        }, WORD_GAP_S
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}, 0
    if cmd is not None:
        tool = {"type": "tool_use", "id": new_id("toolu_"), "name": "Bash", "input": {}}
        yield "content_block_start", {
            "type": "content_block_start", "index": 1, "content_block": tool}, 0
        args = json.dumps({"command": cmd, "description": TOOL_DESCRIPTION})
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            yield "content_block_delta", {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": piece},
            }, WORD_GAP_S
        yield "content_block_stop", {"type": "content_block_stop", "index": 1}, 0
    stop = "tool_use" if cmd is not None else "end_turn"
    yield "message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": {"output_tokens": USAGE_OUT},
    }, 0
    yield "message_stop", {"type": "message_stop"}, 0


def claude_message(model, text, cmd):
    """The same answer as one non-stream message object."""
    content = [{"type": "text", "text": text}]
    if cmd is not None:
        content.append({
            "type": "tool_use",
            "id": new_id("toolu_"),
            "name": "Bash",
            "input": {"command": cmd, "description": TOOL_DESCRIPTION},
        })
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if cmd is not None else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT},
    }


# ---------------------------------------------------------------- OpenAI Responses


def codex_last_user(body):
    """(tool_output or None, user text) from the last user message or tool output item."""
    items = body.get("input")
    if isinstance(items, str):
        return None, items
    for item in reversed(items or []):
        kind = item.get("type", "message")
        if kind == "function_call_output":
            out = item.get("output")
            if isinstance(out, list):
                out = "".join(p.get("text", "") for p in out if isinstance(p, dict))
            elif isinstance(out, dict):
                out = out.get("content", json.dumps(out))
            return out or "", ""
        if kind == "message" and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return None, content
            return None, "\n".join(p.get("text", "") for p in content or [])
    return None, ""


def openai_error(status, message):
    kinds = {400: "invalid_request_error", 401: "invalid_request_error",
             429: "rate_limit_exceeded"}
    return {"error": {"message": message, "type": kinds.get(status, "server_error"),
                      "param": None, "code": kinds.get(status, "server_error")}}


def codex_events(model, text, cmd):
    """The Responses SSE events of one answer, as (event, data, pause after) triples."""
    resp_id = new_id("resp_")
    base = {"id": resp_id, "object": "response", "created_at": int(time.time()),
            "model": model}
    yield "response.created", {"response": dict(base, status="in_progress", output=[])}, 0
    msg_id = new_id("msg_")
    part = {"type": "output_text", "text": "", "annotations": []}
    yield "response.output_item.added", {"output_index": 0, "item": {
        "id": msg_id, "type": "message", "role": "assistant", "status": "in_progress",
        "content": []}}, 0
    loc = {"item_id": msg_id, "output_index": 0, "content_index": 0}
    yield "response.content_part.added", dict(loc, part=part), 0
    for w in words(text):
        yield "response.output_text.delta", dict(loc, delta=w), WORD_GAP_S
    done_part = dict(part, text=text)
    yield "response.output_text.done", dict(loc, text=text), 0
    yield "response.content_part.done", dict(loc, part=done_part), 0
    message = {"id": msg_id, "type": "message", "role": "assistant",
               "status": "completed", "content": [done_part]}
    yield "response.output_item.done", {"output_index": 0, "item": message}, 0
    output = [message]
    if cmd is not None:
        args = json.dumps({"cmd": cmd, "sandbox_permissions": "require_escalated",
                           "justification": CODEX_JUSTIFICATION})
        call = {"id": new_id("fc_"), "type": "function_call", "status": "completed",
                "name": "exec_command", "call_id": new_id("call_")}
        yield "response.output_item.added", {
            "output_index": 1, "item": dict(call, arguments="")}, 0
        yield "response.function_call_arguments.done", {
            "item_id": call["id"], "output_index": 1, "arguments": args}, 0
        call["arguments"] = args
        yield "response.output_item.done", {"output_index": 1, "item": call}, 0
        output.append(call)
    usage = {"input_tokens": USAGE_IN, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": USAGE_OUT, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": USAGE_IN + USAGE_OUT}
    yield "response.completed", {"response": dict(
        base, status="completed", output=output, usage=usage)}, 0


# ---------------------------------------------------------------- Gemini


def gemini_last_user(body):
    """(tool_output or None, user text) from the last role:"user" content."""
    for content in reversed(body.get("contents") or []):
        if content.get("role", "user") != "user":
            continue
        texts = []
        for p in content.get("parts") or []:
            if "functionResponse" in p:
                resp = p["functionResponse"].get("response") or {}
                out = resp.get("output", resp.get("error", resp))
                return out if isinstance(out, str) else json.dumps(out), ""
            if "text" in p:
                texts.append(p["text"])
        return None, "\n".join(texts)
    return None, ""


GEMINI_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def gemini_error(status, message):
    return {"error": {"code": status, "message": message,
                      "status": GEMINI_STATUS.get(status, "UNAVAILABLE")}}


def gemini_usage():
    return {"promptTokenCount": USAGE_IN, "candidatesTokenCount": USAGE_OUT,
            "totalTokenCount": USAGE_IN + USAGE_OUT}


def gemini_chunk(parts, finish=False):
    cand = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = "STOP"
    return {"candidates": [cand], "usageMetadata": gemini_usage(),
            "modelVersion": "gemini-fake"}


def gemini_chunks(text, cmd):
    """The streamGenerateContent chunks of one answer, as (data, pause after) pairs."""
    pieces = words(text)
    for i, w in enumerate(pieces):
        last = i == len(pieces) - 1 and cmd is None
        yield gemini_chunk([{"text": w}], finish=last), WORD_GAP_S
    if cmd is not None:
        call = {"name": "run_shell_command",
                "args": {"command": cmd, "description": TOOL_DESCRIPTION}}
        yield gemini_chunk([{"functionCall": call}], finish=True), 0


def schema_answer(schema):
    """A JSON value fitting a (small) JSON schema, for non-stream structured requests."""
    props = (schema or {}).get("properties") or {}
    if "complexity_score" in props:
        return ROUTER_ANSWER
    if "next_speaker" in props:
        return {"reasoning": "The model answered; the user speaks next.",
                "next_speaker": "user"}

    def value(s):
        if "enum" in s:
            return s["enum"][0]
        kind = str(s.get("type", "string")).lower()
        if kind == "object":
            return {k: value(v) for k, v in (s.get("properties") or {}).items()}
        if kind == "array":
            return []
        if kind in ("integer", "number"):
            return 1
        if kind == "boolean":
            return False
        return "fake"

    return value(schema or {"type": "object"})


# ---------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass  # requests go to the JSON log instead

    def log_request_line(self, body, kind):
        line = {"t": time.time(), "method": self.command, "path": self.path,
                "headers": dict(self.headers.items()), "body": body, "kind": kind}
        with LOG_LOCK, open(LOG_PATH, "a") as f:
            f.write(json.dumps(line) + "\n")

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        # http.server has no reason phrase for 529; some clients want one.
        self.send_response(status, "Overloaded" if status == 529 else None)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, event, data, pause):
        head = f"event: {event}\n" if event else ""
        self.wfile.write((head + "data: " + json.dumps(data) + "\n\n").encode())
        self.wfile.flush()
        if pause:
            time.sleep(pause)

    def do_HEAD(self):
        self.log_request_line(None, "head")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        path = self.path.split("?")[0]
        self.log_request_line(None, "get")
        if path.endswith("/models"):
            self.send_json(200, {"object": "list", "data": [], "models": []})
        else:
            self.send_json(404, {"error": {"message": f"no route {path}"}})

    def do_POST(self):
        body = self.read_body()
        if not isinstance(body, dict):
            body = {"raw": body}
        path = self.path.split("?")[0]
        try:
            if path == "/v1/messages/count_tokens":
                self.log_request_line(body, "count_tokens")
                self.send_json(200, {"input_tokens": 42})
            elif path == "/v1/messages":
                self.claude(body)
            elif path == "/v1/responses":
                self.codex(body)
            elif path.startswith("/v1beta/models/") and ":" in path:
                self.gemini(body, path)
            else:
                self.log_request_line(body, "unknown")
                self.send_json(404, {"error": {"message": f"no route {path}"}})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the agent hung up mid-stream (e.g. the user pressed Escape)

    def main_turn(self, sc, has_tools, kind, body):
        """Logs the request; for a main request, sleeps and returns the scripted error."""
        self.log_request_line(body, kind)
        if not has_tools:
            return None
        if sc["delay_s"]:
            time.sleep(float(sc["delay_s"]))
        return error_of(sc)

    def claude(self, body):
        sc = script()
        has_tools = bool(body.get("tools"))
        err = self.main_turn(sc, has_tools, "main" if has_tools else "side", body)
        if err:
            return self.send_json(err[0], claude_error(*err))
        tool_output, user_text = claude_last_user(body)
        text, cmd = decide(sc, tool_output, user_text, has_tools)
        model = body.get("model", "claude-fake")
        if not body.get("stream"):
            return self.send_json(200, claude_message(model, text, cmd))
        self.start_sse()
        for event, data, pause in claude_events(model, text, cmd):
            self.sse(event, data, pause)

    def codex(self, body):
        sc = script()
        has_tools = bool(body.get("tools"))
        err = self.main_turn(sc, has_tools, "main" if has_tools else "side", body)
        if err:
            return self.send_json(err[0], openai_error(*err))
        tool_output, user_text = codex_last_user(body)
        text, cmd = decide(sc, tool_output, user_text, has_tools)
        self.start_sse()
        seq = 0
        for event, data, pause in codex_events(body.get("model", "fake-model"), text, cmd):
            self.sse(event, dict(data, type=event, sequence_number=seq), pause)
            seq += 1

    def gemini(self, body, path):
        method = path.rsplit(":", 1)[1]
        if method == "countTokens":
            self.log_request_line(body, "count_tokens")
            return self.send_json(200, {"totalTokens": 42})
        sc = script()
        has_tools = bool(body.get("tools"))
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        kind = "main" if has_tools else ("router" if schema else "side")
        err = self.main_turn(sc, has_tools, kind, body)
        if err:
            return self.send_json(err[0], gemini_error(*err))
        if method == "generateContent":
            if schema and not has_tools:
                text = json.dumps(schema_answer(schema), separators=(",", ":"))
                parts = [{"text": text}]
            else:
                tool_output, user_text = gemini_last_user(body)
                text, cmd = decide(sc, tool_output, user_text, has_tools)
                parts = [{"text": text}]
                if cmd is not None:
                    parts.append({"functionCall": {"name": "run_shell_command", "args": {
                        "command": cmd, "description": TOOL_DESCRIPTION}}})
            return self.send_json(200, gemini_chunk(parts, finish=True))
        if method != "streamGenerateContent":
            return self.send_json(404, gemini_error(404, f"no method {method}"))
        tool_output, user_text = gemini_last_user(body)
        text, cmd = decide(sc, tool_output, user_text, has_tools)
        self.start_sse()
        for data, pause in gemini_chunks(text, cmd):
            self.sse(None, data, pause)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
