//! The pane options telemux keeps in tmux (`@telemux_*`) and their value
//! formats, behind typed methods, plus the tmux version telemux needs.
//!
//! Every option name and value format the node writes or reads lives here
//! (or in the scripts of [`crate::shell`] and [`crate::wrapper`], and the
//! pane format of [`crate::format`]), so no other crate spells a tmux string.

use telemux_proto::{AgentState, SessionName};

use crate::{Result, Tmux, WAKE_CHANNEL};

/// The oldest tmux telemux works with (control-mode features need 3.2).
pub const MIN_TMUX_VERSION: (u32, u32) = (3, 2);

/// Parses a `tmux -V` line (`"tmux 3.3a"` → `(3, 3)`); `None` for
/// development builds (`"tmux master"`, `"tmux next-3.5"`) and other text.
pub fn parse_version(line: &str) -> Option<(u32, u32)> {
    let version = line.split_whitespace().nth(1)?;
    let (major, rest) = version.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Whether the tmux that printed `line` (`tmux -V`) is new enough: at least
/// [`MIN_TMUX_VERSION`]; a development build counts as new enough.
pub fn version_ok(line: &str) -> bool {
    parse_version(line).is_none_or(|v| v >= MIN_TMUX_VERSION)
}

/// A pane option the node sets itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaneOption {
    /// The agent profile a session runs (`@telemux_agent`).
    Agent,
    /// The agent's last published state, `"STATE SINCE_MS"` (`@telemux_agent_state`).
    AgentState,
    /// Marks a `run` session, to be killed once its exit is published; the
    /// value is the run's deadline in ms since the epoch (`@telemux_run`).
    /// A pane option, so a restarted node adopting the session still knows.
    Run,
}

impl PaneOption {
    /// The option's name as tmux knows it.
    pub fn name(self) -> &'static str {
        match self {
            PaneOption::Agent => "@telemux_agent",
            PaneOption::AgentState => "@telemux_agent_state",
            PaneOption::Run => "@telemux_run",
        }
    }
}

/// Formats an agent state for [`PaneOption::AgentState`].
pub fn agent_state_value(state: AgentState, since_ms: u64) -> String {
    format!("{state} {since_ms}")
}

/// Parses the [`PaneOption::AgentState`] value `"STATE SINCE_MS"`.
pub fn parse_agent_state(v: &str) -> Option<(AgentState, u64)> {
    let (state, since) = v.split_once(' ')?;
    Some((AgentState::parse(state)?, since.parse().ok()?))
}

/// The shell command an agent's own hook runs inside its pane to report
/// `state` (`@telemux_agent_signal "STATE MS"`, then a wake-up), for hook
/// settings files. It needs only `$TMUX_PANE` and tmux on PATH.
pub fn agent_signal_command(state: &str) -> String {
    format!(
        "tmux set -p -t \"$TMUX_PANE\" @telemux_agent_signal \"{state} $(date +%s%3N)\" \\; wait-for -S {WAKE_CHANNEL} >/dev/null 2>&1 || true"
    )
}

impl Tmux {
    /// Records the agent profile session `s` runs ([`PaneOption::Agent`]).
    pub async fn set_agent(&self, s: &SessionName, profile: &str) -> Result<()> {
        self.set_pane_option(s, PaneOption::Agent.name(), profile)
            .await
    }

    /// Records an agent state published for session `s`
    /// ([`PaneOption::AgentState`]), so listings show it and a restarted
    /// node resumes from it.
    pub async fn set_agent_state(
        &self,
        s: &SessionName,
        state: AgentState,
        since_ms: u64,
    ) -> Result<()> {
        self.set_pane_option(
            s,
            PaneOption::AgentState.name(),
            &agent_state_value(state, since_ms),
        )
        .await
    }

    /// Marks session `s` as a `run` session with its deadline
    /// ([`PaneOption::Run`]; ms since the epoch).
    pub async fn set_run_deadline(&self, s: &SessionName, deadline_ms: u64) -> Result<()> {
        self.set_pane_option(s, PaneOption::Run.name(), &deadline_ms.to_string())
            .await
    }

    /// The deadline of `run` session `s` ([`PaneOption::Run`]); `None` for
    /// any other session, and (tmux's `-q` hides that too) a missing one.
    pub async fn run_deadline(&self, s: &SessionName) -> Result<Option<u64>> {
        let t = crate::command::target(s);
        let name = PaneOption::Run.name();
        let out = self
            .run(&["show-options", "-p", "-q", "-v", "-t", &t, name])
            .await?;
        Ok(out.trim().parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(parse_version("tmux 3.10"), Some((3, 10)));
        assert_eq!(parse_version("tmux master"), None);
        assert!(version_ok("tmux 3.2"));
        assert!(!version_ok("tmux 3.1c"));
        assert!(version_ok("tmux next-3.5"));
    }

    #[test]
    fn agent_state_round_trips() {
        let v = agent_state_value(AgentState::Idle, 17);
        assert_eq!(parse_agent_state(&v), Some((AgentState::Idle, 17)));
        assert_eq!(parse_agent_state("idle"), None);
    }
}
