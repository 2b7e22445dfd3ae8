//! What the mailbox does next with one message, decided from what is known
//! about its target — pure, so every rule is tested without tmux or Redis.

use telemux_proto::mailbox::{Delivery, Status, When, MAX_ATTEMPTS};
use telemux_proto::AgentState;

/// How long the screen must have been still for `when: idle`.
pub(crate) const QUIET_MS: u64 = 2_000;

/// Programs that count as "a shell at its prompt" when in the foreground.
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "fish", "ksh", "mksh", "ash", "tcsh", "csh",
];

/// What is known about a message's target at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetView {
    /// The agent's state, for an agent session.
    pub agent: Option<AgentState>,
    /// The foreground program (tmux's `pane_current_command`).
    pub foreground: String,
    /// Time since the pane last printed.
    pub quiet_ms: u64,
}

impl TargetView {
    /// A shell with nothing running in it.
    fn at_prompt(&self) -> bool {
        let f = self.foreground.trim_start_matches('-');
        SHELLS.contains(&f)
    }
}

/// Whether a message sent `when` may be typed into the target now.
pub(crate) fn ready(when: When, v: &TargetView) -> bool {
    let can_take = match v.agent {
        Some(s) => s == AgentState::Idle,
        None => v.at_prompt(),
    };
    match when {
        When::Now => true,
        When::Ready => can_take,
        When::Idle => can_take && v.quiet_ms >= QUIET_MS,
    }
}

/// The next step for a message that is not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing to do yet.
    Wait,
    /// Type it now.
    Type,
    /// The target took it.
    Delivered,
    /// Its time-to-live ran out.
    Expire,
    /// Not taken: try again at `next_try_ms`.
    Retry { next_try_ms: u64 },
    /// Give up, saying why.
    Dead(String),
}

/// Delay before attempt `attempts + 1`: 2 s, 4 s, 8 s ... at most a minute.
pub(crate) fn backoff_ms(attempts: u32) -> u64 {
    (2_000u64 << attempts.saturating_sub(1).min(5)).min(60_000)
}

/// Decides the step for `d` at `now`; `ready` says whether the target may
/// take input now, `accepted` whether it took the typed message, which it
/// may take up to `accept_within_ms` to do.
pub(crate) fn step(
    d: &Delivery,
    now: u64,
    ready: bool,
    accepted: bool,
    accept_within_ms: u64,
) -> Step {
    match d.status {
        Status::Pending => {
            if now >= d.letter.expires_ms {
                Step::Expire
            } else if now >= d.next_try_ms && ready {
                Step::Type
            } else {
                Step::Wait
            }
        }
        Status::Typed => {
            if accepted {
                Step::Delivered
            } else if now < d.changed_ms + accept_within_ms {
                Step::Wait
            } else if d.attempts >= MAX_ATTEMPTS {
                Step::Dead(format!(
                    "not taken by its target after {} attempts",
                    d.attempts
                ))
            } else {
                Step::Retry {
                    next_try_ms: now + backoff_ms(d.attempts),
                }
            }
        }
        _ => Step::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemux_proto::Letter;

    const W: u64 = 15_000;

    fn pending(expires_ms: u64) -> Delivery {
        Delivery {
            letter: Letter {
                id: "m1".into(),
                session: "api".into(),
                text: "hi".into(),
                when: When::Idle,
                expires_ms,
                from: "cli@h".into(),
                notify: false,
                reply_to: None,
                queued_ms: 0,
            },
            status: Status::Pending,
            attempts: 0,
            next_try_ms: 0,
            changed_ms: 0,
            detail: String::new(),
            awaiting_answer: false,
        }
    }

    fn view(agent: Option<AgentState>, fg: &str, quiet_ms: u64) -> TargetView {
        TargetView {
            agent,
            foreground: fg.into(),
            quiet_ms,
        }
    }

    #[test]
    fn readiness_per_target_and_mode() {
        let working = view(Some(AgentState::Working), "node", 10_000);
        let idle_agent = view(Some(AgentState::Idle), "node", 10_000);
        let asking = view(Some(AgentState::WaitingForInput), "node", 10_000);
        assert!(ready(When::Now, &working));
        assert!(!ready(When::Ready, &working) && !ready(When::Idle, &working));
        assert!(!ready(When::Ready, &asking), "never typed into a question");
        assert!(ready(When::Idle, &idle_agent));
        let prompt = view(None, "-bash", 100);
        assert!(ready(When::Ready, &prompt));
        assert!(!ready(When::Idle, &prompt), "still printing");
        assert!(ready(When::Idle, &view(None, "zsh", 5_000)));
        assert!(!ready(When::Ready, &view(None, "vim", 5_000)));
    }

    #[test]
    fn pending_messages_expire_or_wait_for_their_retry_time() {
        let mut d = pending(1_000);
        assert_eq!(step(&d, 500, true, false, W), Step::Type);
        assert_eq!(step(&d, 500, false, false, W), Step::Wait);
        assert_eq!(step(&d, 1_000, true, false, W), Step::Expire);
        d.next_try_ms = 800;
        assert_eq!(step(&d, 700, true, false, W), Step::Wait);
        assert_eq!(step(&d, 800, true, false, W), Step::Type);
    }

    #[test]
    fn typed_messages_are_delivered_retried_then_dead() {
        let mut d = pending(u64::MAX);
        d.status = Status::Typed;
        d.attempts = 1;
        d.changed_ms = 1_000;
        assert_eq!(step(&d, 2_000, false, true, W), Step::Delivered);
        assert_eq!(step(&d, 2_000, false, false, W), Step::Wait);
        let late = 1_000 + W;
        assert_eq!(
            step(&d, late, false, false, W),
            Step::Retry {
                next_try_ms: late + 2_000
            }
        );
        d.attempts = MAX_ATTEMPTS;
        assert!(matches!(step(&d, late, false, false, W), Step::Dead(_)));
        assert_eq!(backoff_ms(2), 4_000);
        assert_eq!(backoff_ms(30), 60_000);
    }
}
