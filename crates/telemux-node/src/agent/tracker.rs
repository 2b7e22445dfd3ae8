//! The state machine of one agent session: screens and the agent's own
//! signals in, committed [`AgentState`] changes out (see [`super`] for the
//! rules: waiting beats working beats idle, idle must settle, a hook's word
//! holds for a moment against the screen).

use std::time::Duration;

use telemux_proto::AgentState;
use tokio::time::Instant;

use super::AgentProfile;

/// How long the screen may not contradict a state the agent's hook
/// reported: a screen drawn a moment before the hook fired (a spinner still
/// up after `Stop`) is not a new state.
const HOOK_HOLD: Duration = Duration::from_millis(1500);

/// Turns screens and signals into state changes for one agent session.
#[derive(Debug)]
pub struct Tracker {
    state: AgentState,
    /// A screen-derived state not yet committed, and since when it holds.
    pending: Option<(AgentState, String, Instant)>,
    /// Until when the screen only counts if it shows a question.
    hold_until: Option<Instant>,
}

impl Tracker {
    /// A tracker resuming from `state` (`Starting` for a new session).
    pub fn new(state: AgentState) -> Tracker {
        Tracker {
            state,
            pending: None,
            hold_until: None,
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
        // A suspended agent's screen is its wrapper's: nothing to read.
        if matches!(self.state, AgentState::Exited | AgentState::Suspended) {
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
        if let Some(until) = self.hold_until {
            if now < until && seen != AgentState::WaitingForInput {
                self.pending = None;
                return (None, Some(until));
            }
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
        // A quitting agent's last hooks do not undo its suspension.
        if matches!(self.state, AgentState::Exited | AgentState::Suspended) {
            return None;
        }
        self.hold_until = Some(Instant::now() + HOOK_HOLD);
        if state == self.state {
            return None;
        }
        self.state = state;
        Some(state)
    }

    /// The agent is being stopped to free its memory.
    pub fn suspend(&mut self) {
        self.pending = None;
        self.state = AgentState::Suspended;
    }

    /// A suspended agent was started again (its resume command line).
    pub fn resumed(&mut self) {
        self.pending = None;
        self.hold_until = None;
        self.state = AgentState::Starting;
    }

    /// The process ended.
    pub fn exited(&mut self) -> bool {
        self.pending = None;
        let changed = self.state != AgentState::Exited;
        self.state = AgentState::Exited;
        changed
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
