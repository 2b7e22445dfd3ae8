//! AI coding agents in sessions: profiles (how to start one, how to read its
//! screen), the state tracker that turns screens and hook signals into
//! [`AgentState`] changes, and the "last turn" extractor.
//!
//! A profile is data, not code: the command line, the delay its input box
//! needs before Enter, and regular expressions over the rendered screen.
//! Built-in profiles exist for `claude`, `codex` and `gemini`; a config file
//! can override any of their fields or define new agents.
//!
//! State comes from two sources. The screen: after output settles the
//! watcher captures the visible screen and asks [`Tracker::observe`], where
//! `waiting` patterns beat `working` patterns, which beat `idle` patterns (an
//! agent's input box stays visible while it works). And the agent's own
//! hooks, where it has them (Claude Code: `UserPromptSubmit`, `Stop`,
//! `Notification`), which set a pane option that [`Tracker::signal`] reads.
//! Idle is only declared after the screen has looked idle for
//! `idle_settle_ms`, so a redraw between two tool calls is not a turn's end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};
use telemux_proto::AgentState;
use tokio::time::Instant;

/// A profile as written in config: every field optional, so a user can
/// override one field of a built-in profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSpec {
    /// Program and arguments: an array, or one string split like a shell
    /// would (`"claude --dangerously-skip-permissions"`).
    #[serde(deserialize_with = "argv", default)]
    pub command: Option<Vec<String>>,
    /// Pause between typed text and Enter (input boxes that treat a fast
    /// Enter after a paste as a newline need one).
    pub submit_delay_ms: Option<u64>,
    /// Screen patterns meaning "busy with a turn".
    pub working: Option<Vec<String>>,
    /// Screen patterns meaning "asks the user something".
    pub waiting: Option<Vec<String>>,
    /// Screen patterns meaning "its prompt is shown".
    pub idle: Option<Vec<String>>,
    /// How long the screen must look idle before the turn counts as ended.
    pub idle_settle_ms: Option<u64>,
    /// A line that echoes the user's prompt in the transcript (starts a turn).
    pub user_line: Option<String>,
    /// Prefix removed from the agent's answer lines (e.g. Claude's `⏺ `).
    pub answer_prefix: Option<String>,
    /// Lines that are screen chrome, not part of an answer.
    pub chrome: Option<Vec<String>>,
    /// Which hook integration to install: `"claude"` (Claude Code
    /// `--settings` hooks) or `"none"`.
    pub hooks: Option<String>,
}

impl AgentSpec {
    /// `self`, with fields it leaves unset taken from `base`.
    pub fn over(self, base: AgentSpec) -> AgentSpec {
        AgentSpec {
            command: self.command.or(base.command),
            submit_delay_ms: self.submit_delay_ms.or(base.submit_delay_ms),
            working: self.working.or(base.working),
            waiting: self.waiting.or(base.waiting),
            idle: self.idle.or(base.idle),
            idle_settle_ms: self.idle_settle_ms.or(base.idle_settle_ms),
            user_line: self.user_line.or(base.user_line),
            answer_prefix: self.answer_prefix.or(base.answer_prefix),
            chrome: self.chrome.or(base.chrome),
            hooks: self.hooks.or(base.hooks),
        }
    }
}

/// Accepts `command` as an argv array or as one shell-quoted string.
fn argv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Argv {
        Line(String),
        List(Vec<String>),
    }
    match Option::<Argv>::deserialize(d)? {
        None => Ok(None),
        Some(Argv::List(v)) => Ok(Some(v)),
        Some(Argv::Line(s)) => shlex::split(&s).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "cannot split command {s:?} (unbalanced quotes?); give it as an array"
            ))
        }),
    }
}

fn strings(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

/// Lines made only of box drawing, rules and blanks.
const BOX_CHROME: &str = r"^[\s─━│┃╭╮╰╯┌┐└┘├┤┬┴┼═║╔╗╚╝▌▐▀▄█-]*$";

/// The profiles telemux knows without configuration.
///
/// The patterns follow what these programs print as of late 2026; when an
/// agent changes its screen, override the field in config (docs/agents.md).
pub fn builtin_specs() -> BTreeMap<String, AgentSpec> {
    let mut m = BTreeMap::new();
    m.insert(
        "claude".to_string(),
        AgentSpec {
            command: strings(&["claude"]),
            submit_delay_ms: Some(150),
            working: strings(&[r"(?i)esc to interrupt", r"(?i)ctrl\+c to interrupt"]),
            waiting: strings(&[
                r"(?i)do you want to (proceed|make this edit|create|run)",
                r"❯\s*1\.\s*Yes",
                r"(?i)\(y/n\)",
                r"(?i)waiting for your (input|answer)",
            ]),
            idle: strings(&[r"^\s*│?\s*>\s", r"(?i)\? for shortcuts"]),
            idle_settle_ms: Some(700),
            user_line: Some(r"^\s*>\s".into()),
            answer_prefix: Some(r"^\s*⏺\s?".into()),
            chrome: strings(&[
                BOX_CHROME,
                r"^\s*│.*│\s*$",
                r"(?i)\? for shortcuts",
                r"(?i)esc to interrupt",
                r"(?i)auto-accept edits",
                r"(?i)bypass(ing)? permissions",
                r"(?i)context left",
                r"^\s*[✻✽✶✳✢·]\s",
            ]),
            hooks: Some("claude".into()),
        },
    );
    m.insert(
        "codex".to_string(),
        AgentSpec {
            command: strings(&["codex"]),
            submit_delay_ms: Some(250),
            working: strings(&[r"(?i)esc to interrupt", r"(?i)^\s*[•◦]?\s*working"]),
            waiting: strings(&[
                r"(?i)allow (command|this)",
                r"(?i)approve",
                r"(?i)\[y/n\]",
                r"(?i)yes, (proceed|allow)",
            ]),
            idle: strings(&[r"^\s*[›>▌]\s", r"(?i)send\s+⏎", r"(?i)ctrl\+j newline"]),
            idle_settle_ms: Some(700),
            user_line: Some(r"^\s*(user|›)\s*".into()),
            answer_prefix: Some(r"^\s*(codex\s*$|•\s)".into()),
            chrome: strings(&[
                BOX_CHROME,
                r"(?i)esc to interrupt",
                r"(?i)context left",
                r"(?i)send\s+⏎",
            ]),
            hooks: Some("none".into()),
        },
    );
    m.insert(
        "gemini".to_string(),
        AgentSpec {
            command: strings(&["gemini"]),
            submit_delay_ms: Some(150),
            working: strings(&[r"(?i)esc to cancel"]),
            waiting: strings(&[
                r"(?i)allow execution",
                r"(?i)waiting for user confirmation",
                r"(?i)yes, allow once",
            ]),
            idle: strings(&[r"(?i)type your message", r"^\s*│?\s*>\s"]),
            idle_settle_ms: Some(700),
            user_line: Some(r"^\s*│?\s*>\s".into()),
            answer_prefix: Some(r"^\s*✦\s?".into()),
            chrome: strings(&[
                BOX_CHROME,
                r"^\s*│.*│\s*$",
                r"(?i)esc to cancel",
                r"(?i)type your message",
                r"(?i)context left",
            ]),
            hooks: Some("none".into()),
        },
    );
    m
}

/// Hook integrations an agent profile can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hooks {
    /// Screen only.
    None,
    /// Claude Code: `--settings FILE` with UserPromptSubmit/Stop/Notification hooks.
    Claude,
}

/// A compiled profile, ready for the node.
#[derive(Debug, Clone)]
pub struct AgentProfile {
    /// Profile name (`claude`).
    pub name: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Pause between typed text and Enter.
    pub submit_delay: Duration,
    working: Vec<Regex>,
    waiting: Vec<Regex>,
    idle: Vec<Regex>,
    idle_settle: Duration,
    user_line: Option<Regex>,
    answer_prefix: Option<Regex>,
    chrome: Vec<Regex>,
    /// Hook integration to install when starting it.
    pub hooks: Hooks,
}

/// A profile that cannot be used, with the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A pattern does not compile.
    #[error("agents.{agent}.{field}: invalid regular expression {pattern:?}: {error}")]
    Pattern {
        /// Profile name.
        agent: String,
        /// Field name.
        field: &'static str,
        /// The pattern.
        pattern: String,
        /// What the regex compiler said.
        error: String,
    },
    /// A required field is missing or empty, or has a value outside its set.
    #[error("agents.{agent}.{field}: {problem}")]
    Field {
        /// Profile name.
        agent: String,
        /// Field name.
        field: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },
}

impl AgentProfile {
    /// Compiles `spec` (already merged over any built-in) as profile `name`.
    pub fn compile(name: &str, spec: AgentSpec) -> Result<AgentProfile, ProfileError> {
        let field_err = |field: &'static str, problem: &str| ProfileError::Field {
            agent: name.to_string(),
            field,
            problem: problem.to_string(),
        };
        let command = spec.command.unwrap_or_default();
        if command.is_empty() || command[0].is_empty() {
            return Err(field_err(
                "command",
                "missing: give the program and its arguments, e.g. command = [\"claude\"]",
            ));
        }
        let one = |field: &'static str, p: &str| {
            Regex::new(p).map_err(|e| ProfileError::Pattern {
                agent: name.to_string(),
                field,
                pattern: p.to_string(),
                error: e.to_string(),
            })
        };
        let many = |field: &'static str, v: Option<Vec<String>>| {
            v.unwrap_or_default()
                .iter()
                .map(|p| one(field, p))
                .collect::<Result<Vec<_>, _>>()
        };
        let working = many("working", spec.working)?;
        let waiting = many("waiting", spec.waiting)?;
        let idle = many("idle", spec.idle)?;
        if idle.is_empty() {
            return Err(field_err(
                "idle",
                "no patterns: without them the end of a turn cannot be seen",
            ));
        }
        let hooks = match spec.hooks.as_deref().unwrap_or("none") {
            "none" => Hooks::None,
            "claude" => Hooks::Claude,
            other => {
                return Err(field_err(
                    "hooks",
                    &format!("unknown hook integration {other:?}; allowed: \"claude\", \"none\""),
                ))
            }
        };
        Ok(AgentProfile {
            name: name.to_string(),
            command,
            submit_delay: Duration::from_millis(spec.submit_delay_ms.unwrap_or(150)),
            working,
            waiting,
            idle,
            idle_settle: Duration::from_millis(spec.idle_settle_ms.unwrap_or(700)),
            user_line: spec.user_line.map(|p| one("user_line", &p)).transpose()?,
            answer_prefix: spec
                .answer_prefix
                .map(|p| one("answer_prefix", &p))
                .transpose()?,
            chrome: many("chrome", spec.chrome)?,
            hooks,
        })
    }

    /// What the screen says, with the line that shows it.
    pub fn classify(&self, rows: &[String]) -> Option<(AgentState, String)> {
        let find = |pats: &[Regex]| {
            rows.iter()
                .find(|r| pats.iter().any(|p| p.is_match(r)))
                .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        if let Some(line) = find(&self.waiting) {
            return Some((AgentState::WaitingForInput, line));
        }
        if let Some(line) = find(&self.working) {
            return Some((AgentState::Working, line));
        }
        find(&self.idle).map(|line| (AgentState::Idle, line))
    }

    fn is_chrome(&self, line: &str) -> bool {
        self.chrome.iter().any(|p| p.is_match(line))
    }

    /// The agent's last answer in `text` (screen plus scrollback): the lines
    /// after the last echo of a user prompt, without chrome and answer bullets.
    pub fn last_turn(&self, text: &str) -> String {
        let lines: Vec<&str> = text.lines().collect();
        let start = self
            .user_line
            .as_ref()
            .and_then(|u| {
                lines
                    .iter()
                    .rposition(|l| u.is_match(l) && !self.idle_box_line(l))
            })
            .map(|i| i + 1)
            .unwrap_or(0);
        let mut out: Vec<String> = Vec::new();
        // Continuation lines are indented to line up under the bullet's text.
        let mut indent = 0;
        for l in &lines[start..] {
            if self.is_chrome(l) {
                continue;
            }
            // The input box at the bottom is where the next turn begins.
            if self.idle_box_line(l) {
                break;
            }
            let l = match self.answer_prefix.as_ref().and_then(|p| p.find(l)) {
                Some(m) => {
                    indent = l[..m.end()].chars().count();
                    l[m.end()..].to_string()
                }
                None => {
                    let spaces = l.chars().take_while(|c| *c == ' ').count();
                    l.chars().skip(spaces.min(indent)).collect()
                }
            };
            out.push(l.trim_end().to_string());
        }
        while out.first().is_some_and(|l| l.trim().is_empty()) {
            out.remove(0);
        }
        while out.last().is_some_and(|l| l.trim().is_empty()) {
            out.pop();
        }
        out.join("\n")
    }

    /// An empty input-box line (`│ > ` with nothing typed), which also
    /// matches `user_line` but is not an echo of a prompt.
    fn idle_box_line(&self, l: &str) -> bool {
        let t = l.trim().trim_matches('│').trim();
        t == ">" || t == "›"
    }
}

/// Turns screens and signals into state changes for one agent session.
#[derive(Debug)]
pub struct Tracker {
    state: AgentState,
    /// A screen-derived state not yet committed, and since when it holds.
    pending: Option<(AgentState, String, Instant)>,
}

impl Tracker {
    /// A tracker resuming from `state` (`Starting` for a new session).
    pub fn new(state: AgentState) -> Tracker {
        Tracker {
            state,
            pending: None,
        }
    }

    /// The committed state.
    pub fn state(&self) -> AgentState {
        self.state
    }

    /// Feeds the current screen; returns a committed change, and when to
    /// look again if a change is pending (idle must hold for a while).
    pub fn observe(
        &mut self,
        profile: &AgentProfile,
        rows: &[String],
        now: Instant,
    ) -> (Option<(AgentState, String)>, Option<Instant>) {
        if self.state == AgentState::Exited {
            return (None, None);
        }
        let Some((seen, line)) = profile.classify(rows) else {
            self.pending = None;
            return (None, None);
        };
        if seen == self.state {
            self.pending = None;
            return (None, None);
        }
        let settle = if seen == AgentState::Idle {
            profile.idle_settle
        } else {
            Duration::ZERO
        };
        let since = match &self.pending {
            Some((p, _, since)) if *p == seen => *since,
            _ => now,
        };
        if now >= since + settle {
            self.pending = None;
            self.state = seen;
            (Some((seen, line)), None)
        } else {
            self.pending = Some((seen, line, since));
            (None, Some(since + settle))
        }
    }

    /// Applies a state the agent reported itself (hooks); returns it if new.
    pub fn signal(&mut self, state: AgentState) -> Option<AgentState> {
        self.pending = None;
        if state == self.state || self.state == AgentState::Exited {
            return None;
        }
        self.state = state;
        Some(state)
    }
}

/// Parses a hook signal value (`"idle 1700000000000"` or `"idle"`).
pub fn parse_signal(value: &str) -> Option<(AgentState, Option<u64>)> {
    let mut parts = value.split_whitespace();
    let state = match parts.next()? {
        "waiting" => AgentState::WaitingForInput,
        other => AgentState::parse(other)?,
    };
    Some((state, parts.next().and_then(|t| t.parse().ok())))
}

/// Claude Code settings that report turns through tmux pane options: the
/// hook runs inside the pane (it inherits `$TMUX` and `$TMUX_PANE`), so the
/// signal needs neither the network nor the telemux binary.
pub fn claude_settings() -> String {
    let hook = |state: &str| {
        serde_json::json!([{ "hooks": [{ "type": "command",
            "command": telemux_tmux::pane::agent_signal_command(state) }] }])
    };
    serde_json::json!({
        "hooks": {
            "UserPromptSubmit": hook("working"),
            "Stop": hook("idle"),
            "Notification": hook("waiting"),
        }
    })
    .to_string()
}

/// Writes the hook settings for `hooks` under `state_dir`; returns the extra
/// arguments that make the agent load them.
pub async fn install_hooks(state_dir: &Path, hooks: Hooks) -> std::io::Result<Vec<String>> {
    match hooks {
        Hooks::None => Ok(Vec::new()),
        Hooks::Claude => {
            let dir = state_dir.join("agents");
            tokio::fs::create_dir_all(&dir).await?;
            let path: PathBuf = dir.join("claude-settings.json");
            let tmp = dir.join(format!(".claude-settings.{}.tmp", std::process::id()));
            tokio::fs::write(&tmp, claude_settings()).await?;
            tokio::fs::rename(&tmp, &path).await?;
            Ok(vec![
                "--settings".to_string(),
                path.to_string_lossy().into_owned(),
            ])
        }
    }
}

#[cfg(test)]
mod tests;
