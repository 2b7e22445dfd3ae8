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
//! hooks, where it has them (all three built-ins; see [`hooks`]), whose
//! events [`Tracker::signal`] applies at once. Idle is only declared from the
//! screen after it has looked idle for `idle_settle_ms`, so a redraw between
//! two tool calls is not a turn's end.
//!
//! Submodules: [`hooks`] (installing the agents' hooks, reading their
//! events), [`prompt`] (a question's choices read off the screen),
//! [`transcript`] (the last turn from the agent's own transcript) and
//! [`locate`] (finding the program like the user's login shell would).

pub mod hooks;
pub mod info;
pub mod locate;
pub mod prompt;
pub mod tracker;
pub mod transcript;

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};
use telemux_proto::AgentState;

pub use hooks::Hooks;
pub use tracker::{parse_signal, Tracker};
pub use transcript::Format;

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
    /// Which hook integration to install: `"claude"`, `"codex"`,
    /// `"gemini"` (see [`hooks`]) or `"none"`.
    pub hooks: Option<String>,
    /// Which transcript format to read the last turn from: `"claude"`,
    /// `"codex"`, `"gemini"` or `"none"` (the screen only).
    pub transcript: Option<String>,
    /// Arguments that make the agent resume its last conversation in the
    /// session's directory (`--continue`, `resume --last`).
    #[serde(deserialize_with = "argv", default)]
    pub resume_args: Option<Vec<String>>,
    /// What to type to make the agent quit gracefully (`/exit`), for
    /// suspending an idle one; empty: it is never suspended.
    pub quit: Option<String>,
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
            transcript: self.transcript.or(base.transcript),
            resume_args: self.resume_args.or(base.resume_args),
            quit: self.quit.or(base.quit),
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
/// The patterns follow the screens of Claude Code 2.1.332 (and 2.1.197),
/// Codex 0.171.0 and Gemini CLI 0.61.0, tested on the real programs
/// (tests/tests/real_agents.rs); when an agent changes its screen, override
/// the field in config (docs/agents.md). The screen is the fallback: all
/// three report turns through hooks, and the last turn is read from their
/// transcripts.
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
            ]),
            // After an interrupt the prompt is put back into the input box
            // and the footer shows only the permission mode.
            idle: strings(&[
                r"(?i)\? for shortcuts",
                r"(?i)shift\+tab to cycle",
                r"(?i)manual mode on",
                r"^\s*❯\s",
                r"^\s*❯\s*$",
                r"^\s*│\s*>\s",
            ]),
            idle_settle_ms: Some(700),
            // `❯ Say hello` (older: `> Say hello`), not a choice `❯ 1. Yes`.
            user_line: Some(r"^\s*[❯>]\s+(\D|\d+[^.\d])".into()),
            answer_prefix: Some(r"^\s*[●⏺]\s?".into()),
            chrome: strings(&[
                BOX_CHROME,
                r"^\s*│.*│\s*$",
                r"^\s*[▐▛█▜▌▝▘▀▄▟▙▗▖]{2,}",
                r"Claude Code v\d",
                r"(?i)\? for shortcuts",
                r"(?i)esc to interrupt",
                r"(?i)auto-accept edits",
                r"(?i)bypass(ing)? permissions",
                r"(?i)manual mode on",
                r"(?i)context left",
                r"(?i)· /effort",
                r"(?i)focus-events",
                r"^\s*⎿",
                r"^\s*[✻✽✶✳✢·*]\s",
            ]),
            hooks: Some("claude".into()),
            transcript: Some("claude".into()),
            resume_args: strings(&["--continue"]),
            quit: Some("/exit".into()),
        },
    );
    m.insert(
        "codex".to_string(),
        AgentSpec {
            command: strings(&["codex"]),
            submit_delay_ms: Some(250),
            working: strings(&[r"(?i)esc to interrupt"]),
            waiting: strings(&[
                r"(?i)would you like to (run|make|apply|allow)",
                r"(?i)press enter to confirm",
                r"(?i)\[y/n\]",
            ]),
            idle: strings(&[
                r"(?i)ask codex to do anything",
                r"(?i)\? for shortcuts",
                r"^\s*›\s*$",
            ]),
            idle_settle_ms: Some(700),
            user_line: Some(r"^\s*›\s+\S".into()),
            answer_prefix: Some(r"^\s*•\s".into()),
            chrome: strings(&[
                BOX_CHROME,
                r"(?i)esc to interrupt",
                r"(?i)ask codex to do anything",
                r"(?i)\? for shortcuts",
                r"(?i)f2 to view",
                r"(?i)^\s*worked for \d",
                r"^\s*• (Ran|Running) ",
                r"^\s*└",
                r"^\s*✔ ",
                r"OpenAI Codex \(v",
                r"(?i)context left",
            ]),
            hooks: Some("codex".into()),
            transcript: Some("codex".into()),
            resume_args: strings(&["resume", "--last"]),
            // Not suspended: in the suspend test Codex 0.171 did not quit on
            // a `/exit` typed by the node, and was left running.
            quit: Some(String::new()),
        },
    );
    m.insert(
        "gemini".to_string(),
        AgentSpec {
            command: strings(&["gemini"]),
            // Gemini CLI drops an Enter that follows typed text too closely.
            submit_delay_ms: Some(300),
            working: strings(&[r"(?i)esc to cancel"]),
            waiting: strings(&[
                r"(?i)allow execution",
                r"(?i)waiting for user confirmation",
                r"(?i)apply this change",
            ]),
            idle: strings(&[r"(?i)type your message"]),
            idle_settle_ms: Some(700),
            user_line: Some(r"^\s*│?\s*>\s+\S".into()),
            answer_prefix: Some(r"^\s*✦\s?".into()),
            chrome: strings(&[
                BOX_CHROME,
                r"^\s*│.*│\s*$",
                r"(?i)esc to cancel",
                r"(?i)type your message",
                r"(?i)shift\+tab to accept",
                r"(?i)\? for shortcuts",
                r"(?i)workspace \(/directory\)",
                r"(?i)no sandbox",
                r"(?i)context left",
            ]),
            hooks: Some("gemini".into()),
            transcript: Some("gemini".into()),
            resume_args: strings(&["--resume", "latest"]),
            quit: Some("/quit".into()),
        },
    );
    m
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
    /// Transcript to read the last turn from (`None`: the screen).
    pub transcript: Option<Format>,
    /// Arguments that resume the last conversation.
    pub resume_args: Vec<String>,
    /// Typed to quit gracefully (empty: never suspended).
    pub quit: String,
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
        let hooks_name = spec.hooks.as_deref().unwrap_or("none");
        let Some(hooks) = Hooks::parse(hooks_name) else {
            return Err(field_err(
                "hooks",
                &format!(
                    "unknown hook integration {hooks_name:?}; allowed: {}",
                    Hooks::NAMES
                ),
            ));
        };
        let transcript = match spec.transcript.as_deref().unwrap_or("none") {
            "none" => None,
            "claude" => Some(Format::Claude),
            "codex" => Some(Format::Codex),
            "gemini" => Some(Format::Gemini),
            other => {
                return Err(field_err(
                    "transcript",
                    &format!(
                        "unknown transcript format {other:?}; allowed: \"claude\", \"codex\", \"gemini\", \"none\""
                    ),
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
            transcript,
            resume_args: spec.resume_args.unwrap_or_default(),
            quit: spec.quit.unwrap_or_default(),
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

    /// The question on screen with its choices (see [`prompt`]): found at
    /// the first row a `waiting` pattern matches, or, when that row is
    /// itself a choice, the line above the list.
    pub fn prompt(
        &self,
        rows: &[String],
        tool: Option<String>,
        command: Option<String>,
    ) -> Option<prompt::ScreenPrompt> {
        let q = rows
            .iter()
            .position(|r| self.waiting.iter().any(|p| p.is_match(r)))?;
        let q = if prompt::is_choice(&rows[q]) {
            rows[..q]
                .iter()
                .rposition(|r| !r.trim().is_empty() && !prompt::is_choice(r))?
        } else {
            q
        };
        prompt::read(rows, q, tool, command)
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
                    .rposition(|l| u.is_match(l) && !self.idle_box_line(l) && !self.is_chrome(l))
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
        t == ">" || t == "›" || t == "❯"
    }
}

#[cfg(test)]
mod tests;
