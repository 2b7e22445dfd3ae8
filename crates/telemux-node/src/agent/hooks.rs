//! The agents' own signals: hook settings telemux installs when it starts an
//! agent, and the per-pane event file those hooks append to.
//!
//! Every hook runs one shell command inside the agent's pane. It appends the
//! event's name, a timestamp and the JSON the agent passed on stdin as one
//! line to `<state_dir>/agents/hooks/<pane>.jsonl`, then sets the pane option
//! `@telemux_agent_signal` to a fresh value and signals tmux's wake channel.
//! The node sees the option change like an exit code and reads the new lines:
//! no network and no telemux binary in the pane, and no event is lost when
//! two hooks fire between two looks (the file keeps them in order).
//!
//! How each agent is given the hooks without touching the user's own config:
//! Claude Code `--settings FILE`; Codex `-c hooks.EVENT=[…]` session flags
//! (with `--dangerously-bypass-hook-trust`, since Codex otherwise asks to
//! review new hooks); Gemini CLI an extension of telemux's own,
//! `~/.gemini/extensions/telemux` (Gemini has no flag for extra settings,
//! and refuses a system settings file unless root owns it and every
//! directory above it). An extension's hooks run in every Gemini session of
//! the user, so each hook command first checks that it runs in a telemux
//! session (`$TELEMUX_SESSION`) and does nothing otherwise.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use telemux_proto::AgentState;

/// Hook integrations an agent profile can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hooks {
    /// Screen only.
    None,
    /// Claude Code hooks through `--settings FILE`.
    Claude,
    /// Codex hooks through `-c hooks.…` session flags.
    Codex,
    /// Gemini CLI hooks through a system settings file.
    Gemini,
}

impl Hooks {
    /// Parses a profile's `hooks` value.
    pub fn parse(s: &str) -> Option<Hooks> {
        match s {
            "none" => Some(Hooks::None),
            "claude" => Some(Hooks::Claude),
            "codex" => Some(Hooks::Codex),
            "gemini" => Some(Hooks::Gemini),
            _ => None,
        }
    }

    /// The values [`Hooks::parse`] accepts, for error messages.
    pub const NAMES: &'static str = "\"claude\", \"codex\", \"gemini\", \"none\"";

    /// The events telemux registers for this agent.
    fn events(self) -> &'static [&'static str] {
        match self {
            Hooks::None => &[],
            Hooks::Claude => &[
                "SessionStart",
                "UserPromptSubmit",
                "PreToolUse",
                "PermissionRequest",
                "PostToolUse",
                "Notification",
                "Stop",
                "SessionEnd",
            ],
            Hooks::Codex => &[
                "SessionStart",
                "UserPromptSubmit",
                "PreToolUse",
                "PermissionRequest",
                "PostToolUse",
                "Stop",
            ],
            Hooks::Gemini => &[
                "SessionStart",
                "BeforeAgent",
                "BeforeTool",
                "AfterTool",
                "Notification",
                "AfterAgent",
                "SessionEnd",
            ],
        }
    }
}

/// One hook event as read back from the pane's event file.
#[derive(Debug, Clone, PartialEq)]
pub struct HookEvent {
    /// Event name (`Stop`, `PermissionRequest`, `AfterAgent`).
    pub name: String,
    /// When the hook ran (ms since epoch, the pane's clock; `u64::MAX` when
    /// the pane's `date` cannot say).
    pub ms: u64,
    /// What the agent passed on stdin (`Null` if it was not JSON).
    pub payload: Value,
}

impl HookEvent {
    /// The agent state this event reports, if any.
    pub fn state(&self) -> Option<AgentState> {
        let notification = || {
            self.payload
                .get("notification_type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase()
        };
        Some(match self.name.as_str() {
            "UserPromptSubmit" | "BeforeAgent" | "PostToolUse" | "AfterTool" => AgentState::Working,
            "PermissionRequest" => AgentState::WaitingForInput,
            // Claude's permission notification comes seconds late and its
            // idle one a minute late; PermissionRequest and Stop said so first.
            "Notification" if notification().contains("permission") => AgentState::WaitingForInput,
            "Stop" | "AfterAgent" => AgentState::Idle,
            // SessionEnd also fires on `/clear`; a real exit is seen as the
            // process ending.
            _ => return None,
        })
    }

    /// A string field of the payload.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.payload.get(key).and_then(Value::as_str)
    }

    /// The command line a tool event is about (`tool_input.command`, the
    /// same field in all three agents).
    pub fn tool_command(&self) -> Option<String> {
        self.payload
            .pointer("/tool_input/command")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

/// Where the hooks of pane `pane_id` (`%12`) write their events.
pub fn event_file(state_dir: &Path, pane_id: &str) -> PathBuf {
    hooks_dir(state_dir).join(format!("{}.jsonl", pane_id.trim_start_matches('%')))
}

fn hooks_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("agents").join("hooks")
}

/// The shell command a hook for `event` runs. Stdin is read only when it is
/// not a terminal, so a hook run without a payload cannot hang the agent by
/// reading the keyboard; at most 1 MiB of it is kept.
pub fn hook_command(state_dir: &Path, event: &str) -> String {
    let dir = shell_quote(&hooks_dir(state_dir).to_string_lossy());
    let signal = telemux_tmux::pane::agent_signal_command(&format!("{event}:$$"));
    format!(
        "[ -n \"${{TELEMUX_SESSION:-}}\" ] || exit 0; {{ printf '%s\\t%s\\t' {event} \"$(date +%s%3N)\"; [ -t 0 ] || head -c 1048576 | tr -d '\\n\\r'; echo; }} >> {dir}/\"${{TMUX_PANE#%}}.jsonl\" 2>/dev/null; {signal}"
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Parses one line of an event file; `None` for a torn or foreign line.
pub fn parse_line(line: &str) -> Option<HookEvent> {
    let mut parts = line.splitn(3, '\t');
    let name = parts.next()?.trim().to_string();
    // `date +%s%3N` is GNU; elsewhere the time is unknown, taken as "now".
    let ms = parts.next()?.trim().parse().unwrap_or(u64::MAX);
    if name.is_empty() {
        return None;
    }
    let payload = serde_json::from_str(parts.next().unwrap_or("").trim()).unwrap_or(Value::Null);
    Some(HookEvent { name, ms, payload })
}

/// Reads an event file from where it last stopped.
#[derive(Debug)]
pub struct EventReader {
    path: PathBuf,
    offset: u64,
}

impl EventReader {
    /// A reader of pane `pane_id`'s events, from the start of the file.
    pub fn new(state_dir: &Path, pane_id: &str) -> EventReader {
        EventReader {
            path: event_file(state_dir, pane_id),
            offset: 0,
        }
    }

    /// The complete lines appended since the last call.
    pub async fn read_new(&mut self) -> Vec<HookEvent> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let Ok(mut f) = tokio::fs::File::open(&self.path).await else {
            return Vec::new();
        };
        if f.seek(std::io::SeekFrom::Start(self.offset)).await.is_err() {
            return Vec::new();
        }
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).await.is_err() {
            return Vec::new();
        }
        // A line still being written stays for the next read.
        let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        self.offset += end as u64 + 1;
        String::from_utf8_lossy(&buf[..end])
            .lines()
            .filter_map(parse_line)
            .collect()
    }

    /// Removes the file (the session is gone).
    pub async fn remove(&self) {
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}

/// What starting an agent with hooks needs: extra arguments and environment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HookLaunch {
    /// Arguments appended to the agent's command line.
    pub args: Vec<String>,
    /// Environment set for the agent.
    pub env: Vec<(String, String)>,
}

/// The Claude Code / Codex `hooks` object: every event running its command.
fn hook_table(state_dir: &Path, hooks: Hooks) -> Value {
    let mut m = serde_json::Map::new();
    for ev in hooks.events() {
        let mut handler = json!({ "type": "command", "command": hook_command(state_dir, ev) });
        if hooks == Hooks::Gemini {
            handler["name"] = json!("telemux");
        }
        let mut group = json!({ "hooks": [handler] });
        if hooks == Hooks::Gemini {
            group["matcher"] = json!("*");
        }
        m.insert(ev.to_string(), json!([group]));
    }
    Value::Object(m)
}

/// The Claude Code settings file telemux passes with `--settings`.
pub fn claude_settings(state_dir: &Path) -> String {
    json!({ "hooks": hook_table(state_dir, Hooks::Claude) }).to_string()
}

/// Writes what `hooks` needs under `state_dir` and says how to start the
/// agent with it.
pub async fn install(state_dir: &Path, hooks: Hooks) -> std::io::Result<HookLaunch> {
    if hooks == Hooks::None {
        return Ok(HookLaunch::default());
    }
    tokio::fs::create_dir_all(hooks_dir(state_dir)).await?;
    let dir = state_dir.join("agents");
    match hooks {
        Hooks::None => Ok(HookLaunch::default()),
        Hooks::Claude => {
            let path =
                write_atomic(&dir, "claude-settings.json", &claude_settings(state_dir)).await?;
            Ok(HookLaunch {
                args: vec!["--settings".into(), path.to_string_lossy().into_owned()],
                env: Vec::new(),
            })
        }
        Hooks::Codex => {
            let mut args = vec!["--dangerously-bypass-hook-trust".to_string()];
            if let Value::Object(m) = hook_table(state_dir, Hooks::Codex) {
                for (ev, v) in m {
                    args.push("-c".into());
                    args.push(format!("hooks.{ev}={}", toml_inline(&v)));
                }
            }
            Ok(HookLaunch {
                args,
                env: Vec::new(),
            })
        }
        Hooks::Gemini => {
            let home = std::env::var_os("HOME").map(PathBuf::from).ok_or_else(|| {
                std::io::Error::other("HOME is not set, so the Gemini CLI extension has no place")
            })?;
            let ext = home.join(".gemini").join("extensions").join("telemux");
            tokio::fs::create_dir_all(ext.join("hooks")).await?;
            let manifest = json!({ "name": "telemux", "version": env!("CARGO_PKG_VERSION"),
                "description": "Reports this Gemini CLI session's turns to telemux (only inside telemux sessions)" });
            write_atomic(&ext, "gemini-extension.json", &manifest.to_string()).await?;
            let hooks = json!({ "hooks": hook_table(state_dir, Hooks::Gemini) }).to_string();
            write_atomic(&ext.join("hooks"), "hooks.json", &hooks).await?;
            Ok(HookLaunch::default())
        }
    }
}

async fn write_atomic(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    tokio::fs::write(&tmp, text).await?;
    tokio::fs::rename(&tmp, &path).await?;
    Ok(path)
}

/// A JSON value as a TOML inline value (arrays, tables, strings), for `-c`.
fn toml_inline(v: &Value) -> String {
    match v {
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(toml_inline).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k} = {}", toml_inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::String(s) => serde_json::to_string(s).expect("a string encodes"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_round_trip_and_torn_lines_are_skipped() {
        let e = parse_line("Stop\t1700000000123\t{\"last_assistant_message\":\"hi\"}").unwrap();
        assert_eq!(e.name, "Stop");
        assert_eq!(e.ms, 1700000000123);
        assert_eq!(e.str("last_assistant_message"), Some("hi"));
        assert_eq!(e.state(), Some(AgentState::Idle));
        let bare = parse_line("UserPromptSubmit\t5\t").unwrap();
        assert_eq!(bare.payload, Value::Null);
        assert_eq!(bare.state(), Some(AgentState::Working));
        assert!(parse_line("garbage").is_none());
        assert_eq!(parse_line("Stop\t17000000003N\t{}").unwrap().ms, u64::MAX);
    }

    #[test]
    fn late_idle_notifications_are_not_states() {
        let idle = parse_line("Notification\t1\t{\"notification_type\":\"idle_prompt\"}").unwrap();
        assert_eq!(idle.state(), None);
        let perm =
            parse_line("Notification\t1\t{\"notification_type\":\"ToolPermission\"}").unwrap();
        assert_eq!(perm.state(), Some(AgentState::WaitingForInput));
    }

    #[test]
    fn codex_hooks_are_toml_session_flags() {
        let v = json!([{ "hooks": [{ "type": "command", "command": "a \"b\"" }] }]);
        assert_eq!(
            toml_inline(&v),
            r#"[{hooks = [{command = "a \"b\"", type = "command"}]}]"#
        );
    }

    #[tokio::test]
    async fn the_hook_command_appends_an_event_line() {
        let dir = tempfile::tempdir().unwrap();
        tokio::fs::create_dir_all(hooks_dir(dir.path()))
            .await
            .unwrap();
        let cmd = hook_command(dir.path(), "Stop");
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .env("TMUX_PANE", "%7")
            .env("TELEMUX_SESSION", "s")
            .env_remove("TMUX")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"{\"a\":\n\"x\"}\n").await.unwrap();
        drop(stdin);
        child.wait().await.unwrap();
        let mut r = EventReader::new(dir.path(), "%7");
        let events = r.read_new().await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].name, "Stop");
        assert_eq!(events[0].str("a"), Some("x"));
        assert!(r.read_new().await.is_empty());
    }
}
