//! An agent's last turn read from its own transcript file: the answer text,
//! the tools run and the tokens used, exactly as the agent recorded them.
//!
//! Where the transcript is comes from the agent's hooks (`transcript_path`
//! in every payload). The three formats, one JSON object per line:
//! * Claude Code `~/.claude/projects/<cwd>/<session>.jsonl`: `user` and
//!   `assistant` entries with Anthropic message content; a tool's result is
//!   a `user` entry with a `tool_result` block.
//! * Codex `$CODEX_HOME/sessions/…/rollout-*.jsonl`: `response_item`s
//!   (`message`, `function_call`, `function_call_output`) and `event_msg`s.
//! * Gemini CLI `~/.gemini/tmp/<dir>/chats/session-*.jsonl`: `user` and
//!   `gemini` records, where a later line with the same `id` replaces the
//!   earlier one.
//!
//! The answer is the model's text after the turn's last tool result — what
//! the agents themselves report as the last message (Claude's and Codex's
//! `last_assistant_message`, Gemini's `prompt_response`).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use telemux_proto::{ToolCall, Turn, Usage};

/// Which transcript format a profile's agent writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Claude Code project JSONL.
    Claude,
    /// Codex rollout JSONL.
    Codex,
    /// Gemini CLI chat JSONL.
    Gemini,
}

/// Largest transcript read (the tail of a longer one is read).
const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Reads the last turn from the transcript at `path`; `None` when the file
/// cannot be read or has no turn yet.
pub async fn last_turn(format: Format, path: &Path) -> Option<Turn> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut f = tokio::fs::File::open(path).await.ok()?;
    let len = f.metadata().await.ok()?.len();
    if len > MAX_BYTES {
        f.seek(std::io::SeekFrom::Start(len - MAX_BYTES))
            .await
            .ok()?;
    }
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let turn = match format {
        Format::Claude => claude(&lines),
        Format::Codex => codex(&lines),
        Format::Gemini => gemini(&lines),
    }?;
    Some(Turn {
        source: "transcript".into(),
        ..turn
    })
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

fn add_usage(total: &mut Option<Usage>, u: &Value) {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    if let (Some(i), Some(o)) = (
        n("input_tokens").or(n("input")),
        n("output_tokens").or(n("output")),
    ) {
        let t = total.get_or_insert_with(Usage::default);
        t.input_tokens += i;
        t.output_tokens += o;
    }
}

/// Claude Code: the turn starts at the last `user` entry typed by the user
/// (a string, or text blocks — not tool results).
fn claude(lines: &[Value]) -> Option<Turn> {
    let is_prompt = |v: &Value| {
        v.get("type").and_then(Value::as_str) == Some("user")
            && match v.pointer("/message/content") {
                Some(Value::String(_)) => true,
                Some(Value::Array(a)) => a
                    .iter()
                    .all(|b| b.get("type").and_then(Value::as_str) == Some("text")),
                _ => false,
            }
            && v.get("isMeta").and_then(Value::as_bool) != Some(true)
    };
    let start = lines.iter().rposition(is_prompt)?;
    let mut text: Vec<String> = Vec::new();
    let mut tools: Vec<ToolCall> = Vec::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    // Streamed messages repeat their usage on every line; the last counts.
    let mut usage_by_msg: Vec<(String, Value)> = Vec::new();
    for v in &lines[start + 1..] {
        match v.get("type").and_then(Value::as_str) {
            Some("assistant") => {
                if let (Some(id), Some(u)) = (s(v, &["message", "id"]), v.pointer("/message/usage"))
                {
                    match usage_by_msg.iter_mut().find(|(i, _)| i == id) {
                        Some(slot) => slot.1 = u.clone(),
                        None => usage_by_msg.push((id.to_string(), u.clone())),
                    }
                }
                for b in v
                    .pointer("/message/content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match b.get("type").and_then(Value::as_str) {
                        Some("text") => text.push(s(b, &["text"]).unwrap_or("").to_string()),
                        Some("tool_use") => {
                            let input = b
                                .pointer("/input/command")
                                .and_then(Value::as_str)
                                .map(str::to_string)
                                .unwrap_or_else(|| {
                                    b.get("input").map(|i| i.to_string()).unwrap_or_default()
                                });
                            if let Some(id) = s(b, &["id"]) {
                                ids.insert(id.to_string(), tools.len());
                            }
                            tools.push(ToolCall {
                                name: s(b, &["name"]).unwrap_or("?").to_string(),
                                input,
                                outcome: String::new(),
                            });
                        }
                        _ => {}
                    }
                }
            }
            Some("user") => {
                for b in v
                    .pointer("/message/content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if b.get("type").and_then(Value::as_str) != Some("tool_result") {
                        continue;
                    }
                    // What follows a tool's result is the answer, not what came before.
                    text.clear();
                    let Some(i) = s(b, &["tool_use_id"]).and_then(|id| ids.get(id)) else {
                        continue;
                    };
                    let rejected = v
                        .get("toolUseResult")
                        .and_then(Value::as_str)
                        .is_some_and(|r| r.contains("rejected"));
                    let content = match b.get("content") {
                        Some(Value::String(c)) => c.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    tools[*i].outcome = if rejected {
                        "rejected".into()
                    } else if b.get("is_error").and_then(Value::as_bool) == Some(true) {
                        exit_code(&content)
                            .map(|c| format!("exit {c}"))
                            .unwrap_or_else(|| "error".into())
                    } else if tools[*i].name == "Bash" {
                        "exit 0".into()
                    } else {
                        "ok".into()
                    };
                }
            }
            _ => {}
        }
    }
    let mut usage = None;
    for (_, u) in &usage_by_msg {
        add_usage(&mut usage, u);
    }
    Some(Turn {
        text: text.join("\n\n").trim().to_string(),
        tools,
        usage,
        source: String::new(),
    })
}

/// `Exit code 3` / `Process exited with code 3` in a tool's output.
pub fn exit_code(text: &str) -> Option<i32> {
    for key in ["exited with code ", "Exit code "] {
        if let Some(i) = text.find(key) {
            let rest = &text[i + key.len()..];
            let n: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            if let Ok(n) = n.parse() {
                return Some(n);
            }
        }
    }
    None
}

/// Codex: the turn starts at the last user `message` item that is not
/// context telemux did not type (`<environment_context>`, instructions).
fn codex(lines: &[Value]) -> Option<Turn> {
    let item = |v: &Value| -> Option<Value> {
        (v.get("type").and_then(Value::as_str) == Some("response_item"))
            .then(|| v.get("payload").cloned())
            .flatten()
    };
    let msg_text = |p: &Value| -> String {
        p.get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("")
    };
    let start = lines.iter().rposition(|v| {
        item(v).is_some_and(|p| {
            p.get("type").and_then(Value::as_str) == Some("message")
                && p.get("role").and_then(Value::as_str) == Some("user")
                && !msg_text(&p).trim_start().starts_with('<')
        })
    })?;
    let mut text: Vec<String> = Vec::new();
    let mut tools: Vec<ToolCall> = Vec::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut usage = None;
    for v in &lines[start + 1..] {
        if let Some(p) = item(v) {
            match p.get("type").and_then(Value::as_str) {
                Some("message") if p.get("role").and_then(Value::as_str) == Some("assistant") => {
                    text.push(msg_text(&p));
                }
                Some("function_call") => {
                    let args: Value = s(&p, &["arguments"])
                        .and_then(|a| serde_json::from_str(a).ok())
                        .unwrap_or(Value::Null);
                    let input = args
                        .get("cmd")
                        .or(args.get("command"))
                        .map(|c| match c {
                            Value::String(s) => s.clone(),
                            Value::Array(a) => a
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(" "),
                            other => other.to_string(),
                        })
                        .unwrap_or_default();
                    if let Some(id) = s(&p, &["call_id"]) {
                        ids.insert(id.to_string(), tools.len());
                    }
                    tools.push(ToolCall {
                        name: s(&p, &["name"]).unwrap_or("?").to_string(),
                        input,
                        outcome: String::new(),
                    });
                }
                Some("function_call_output") => {
                    text.clear();
                    if let Some(i) = s(&p, &["call_id"]).and_then(|id| ids.get(id)) {
                        let out = match p.get("output") {
                            Some(Value::String(o)) => o.clone(),
                            Some(o) => o.to_string(),
                            None => String::new(),
                        };
                        tools[*i].outcome = match exit_code(&out) {
                            Some(c) => format!("exit {c}"),
                            None if out.contains("rejected") || out.contains("declined") => {
                                "rejected".into()
                            }
                            None => String::new(),
                        };
                    }
                }
                _ => {}
            }
        } else if v.get("type").and_then(Value::as_str) == Some("event_msg")
            && s(v, &["payload", "type"]) == Some("token_count")
        {
            if let Some(u) = v.pointer("/payload/info/last_token_usage") {
                add_usage(&mut usage, u);
            }
        }
    }
    Some(Turn {
        text: text.join("\n\n").trim().to_string(),
        tools,
        usage,
        source: String::new(),
    })
}

/// Gemini CLI: records by id (the last line of an id wins), in first-seen
/// order; the turn starts at the last `user` record.
fn gemini(lines: &[Value]) -> Option<Turn> {
    let mut order: Vec<String> = Vec::new();
    let mut by_id: HashMap<String, Value> = HashMap::new();
    for v in lines {
        let (Some(id), Some(_)) = (s(v, &["id"]), v.get("type")) else {
            continue;
        };
        if !by_id.contains_key(id) {
            order.push(id.to_string());
        }
        by_id.insert(id.to_string(), v.clone());
    }
    let records: Vec<&Value> = order.iter().filter_map(|id| by_id.get(id)).collect();
    let start = records
        .iter()
        .rposition(|r| r.get("type").and_then(Value::as_str) == Some("user"))?;
    let content = |r: &Value| -> String {
        match r.get("content") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        }
    };
    let mut text: Vec<String> = Vec::new();
    let mut tools: Vec<ToolCall> = Vec::new();
    let mut usage = None;
    for r in &records[start + 1..] {
        if r.get("type").and_then(Value::as_str) != Some("gemini") {
            continue;
        }
        if let Some(t) = r.get("tokens") {
            add_usage(&mut usage, t);
        }
        let calls = r.get("toolCalls").and_then(Value::as_array);
        let t = content(r);
        if !t.trim().is_empty() {
            text.push(t);
        }
        for c in calls.into_iter().flatten() {
            // A record with tool calls is followed by the answer to them.
            text.clear();
            let status = s(c, &["status"]).unwrap_or("");
            tools.push(ToolCall {
                name: s(c, &["name"]).unwrap_or("?").to_string(),
                input: c
                    .pointer("/args/command")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                outcome: match status {
                    "success" => "exit 0".into(),
                    "cancelled" => "rejected".into(),
                    other => other.to_string(),
                },
            });
        }
    }
    Some(Turn {
        text: text.join("\n\n").trim().to_string(),
        tools,
        usage,
        source: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Vec<Value> {
        s.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    #[test]
    fn claude_turn_with_a_tool_call() {
        let t = claude(&parse(r#"{"type":"user","message":{"role":"user","content":"Say hello"}}
{"type":"assistant","message":{"id":"m0","content":[{"type":"text","text":"Hello"}],"usage":{"input_tokens":1,"output_tokens":1}}}
{"type":"user","message":{"role":"user","content":"Please run the TOOL now"}}
{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"I will run a command."}],"usage":{"input_tokens":100,"output_tokens":5}}}
{"type":"assistant","message":{"id":"m1","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"touch hi.txt && echo hi"}}],"usage":{"input_tokens":100,"output_tokens":20}}}
{"type":"user","message":{"content":[{"tool_use_id":"t1","type":"tool_result","content":"hi","is_error":false}]},"toolUseResult":{"stdout":"hi"}}
{"type":"assistant","message":{"id":"m2","content":[{"type":"text","text":"Tool said: hi. Done."}],"usage":{"input_tokens":100,"output_tokens":20}}}
{"type":"system","subtype":"turn_duration"}"#))
        .unwrap();
        assert_eq!(t.text, "Tool said: hi. Done.");
        assert_eq!(t.tools.len(), 1);
        assert_eq!(
            t.tools[0].to_string(),
            "Bash(touch hi.txt && echo hi) → exit 0"
        );
        assert_eq!(
            t.usage,
            Some(Usage {
                input_tokens: 200,
                output_tokens: 40
            })
        );
    }

    #[test]
    fn claude_rejected_tool() {
        let t = claude(&parse(r#"{"type":"user","message":{"content":"go"}}
{"type":"assistant","message":{"id":"m1","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"rm x"}}]}}
{"type":"user","message":{"content":[{"tool_use_id":"t1","type":"tool_result","content":"The user doesn't want to proceed","is_error":true}]},"toolUseResult":"User rejected tool use"}"#))
        .unwrap();
        assert_eq!(t.tools[0].outcome, "rejected");
        assert_eq!(t.text, "");
    }

    #[test]
    fn codex_turn_skips_context_and_takes_the_text_after_the_tool() {
        let t = codex(&parse(r#"{"type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>x</environment_context>"}]}}
{"type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"Please run the TOOL now"}]}}
{"type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"I will run a command."}]}}
{"type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"touch hi.txt\"}","call_id":"c1"}}
{"type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"Process exited with code 0\nOutput:\nhi\n"}}
{"type":"event_msg","payload":{"type":"token_count","info":{"last_token_usage":{"input_tokens":100,"output_tokens":20}}}}
{"type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Tool said: hi. Done."}]}}"#))
        .unwrap();
        assert_eq!(t.text, "Tool said: hi. Done.");
        assert_eq!(
            t.tools[0].to_string(),
            "exec_command(touch hi.txt) → exit 0"
        );
        assert_eq!(t.usage.unwrap().output_tokens, 20);
    }

    #[test]
    fn gemini_later_lines_replace_records() {
        let t = gemini(&parse(r#"{"sessionId":"s","kind":"main"}
{"id":"u1","type":"user","content":[{"text":"Say hello"}]}
{"id":"g1","type":"gemini","content":"Hello from the fake model!","tokens":{"input":100,"output":20}}
{"id":"u2","type":"user","content":[{"text":"run TOOL"}]}
{"id":"g2","type":"gemini","content":"I will run a command.","tokens":{"input":100,"output":20}}
{"id":"g2","type":"gemini","content":"I will run a command.","tokens":{"input":100,"output":20},"toolCalls":[{"name":"run_shell_command","args":{"command":"touch hi.txt"},"status":"success"}]}
{"id":"g3","type":"gemini","content":"Tool said: hi. Done.","tokens":{"input":100,"output":20}}
{"$set":{"lastUpdated":"x"}}"#))
        .unwrap();
        assert_eq!(t.text, "Tool said: hi. Done.");
        assert_eq!(
            t.tools[0].to_string(),
            "run_shell_command(touch hi.txt) → exit 0"
        );
        assert_eq!(
            t.usage,
            Some(Usage {
                input_tokens: 200,
                output_tokens: 40
            })
        );
    }
}
