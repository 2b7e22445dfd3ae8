//! Queued delivery: a message for a session ([`Letter`]) waits in its
//! computer's mailbox until the target is ready for it, then is typed, and
//! counts as delivered once the target took it. Its progress is a
//! [`Delivery`]. Nodes keep both in Redis (`keys::mailbox`), so a queued
//! message survives node and gateway restarts.

use serde::{Deserialize, Serialize};

/// Messages one computer keeps queued or in flight, at most; a sender
/// gets `too_large` beyond it.
pub const MAX_PENDING: usize = 1000;
/// Typing attempts before a message that is never accepted is dead-lettered.
pub const MAX_ATTEMPTS: u32 = 3;
/// Longest time-to-live a sender may ask for (7 days), and the default (1 hour).
pub const MAX_TTL_MS: u64 = 7 * 86_400_000;
/// Default time-to-live.
pub const DEFAULT_TTL_MS: u64 = 3_600_000;
/// How long finished entries (delivered, expired, dead, dropped) stay
/// listed by `telemux inbox` before the node removes them.
pub const KEEP_FINISHED_MS: u64 = 86_400_000;

/// When a queued message may be typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// At once, whatever the target is doing.
    Now,
    /// When the target can take input: an agent idle (not working, not
    /// asking anything), a shell at its prompt.
    Ready,
    /// Like `ready`, and the screen has been still for a moment (the
    /// target is not printing either).
    Idle,
}

/// A `when` that is none of `now`, `ready`, `idle`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown --when {0:?}; allowed: now, ready, idle")]
pub struct UnknownWhen(pub String);

impl When {
    /// Parses `now`, `ready` or `idle`.
    pub fn parse(s: &str) -> Result<When, UnknownWhen> {
        match s.trim().to_ascii_lowercase().as_str() {
            "now" => Ok(When::Now),
            "ready" => Ok(When::Ready),
            "idle" => Ok(When::Idle),
            other => Err(UnknownWhen(other.to_string())),
        }
    }
}

/// A message for a session, as the sender hands it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    /// Unique id (chosen by the sender, so a resent request is one message).
    pub id: String,
    /// The target session on the node that receives it.
    pub session: String,
    /// Text typed, then Enter.
    pub text: String,
    /// When it may be typed.
    pub when: When,
    /// Not typed after this (ms since the epoch).
    pub expires_ms: u64,
    /// Who sends it, as shown to the target (`--from`, else the requester).
    pub from: String,
    /// Publish `message_answered` with the target's answer once the turn
    /// (or command) it started has finished.
    #[serde(default)]
    pub notify: bool,
    /// With `notify`: the sender's own session (`COMPUTER/SESSION`), which
    /// gets the answer as a message of its own, queued for when it is idle
    /// (its node reads `message_answered` and queues it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// When it was queued (sender's clock).
    pub queued_ms: u64,
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the target to be ready (or for a retry).
    Pending,
    /// Typed; waiting for the target to take it.
    Typed,
    /// The target took it.
    Delivered,
    /// Its time-to-live ran out before it was delivered.
    Expired,
    /// Given up: never accepted after [`MAX_ATTEMPTS`], or its session is gone.
    Dead,
    /// Removed on request (`telemux inbox --drop`).
    Dropped,
}

impl Status {
    /// No more work for the node.
    pub fn finished(self) -> bool {
        matches!(
            self,
            Status::Delivered | Status::Expired | Status::Dead | Status::Dropped
        )
    }
}

/// A message's progress, kept by the node beside the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The message.
    pub letter: Letter,
    /// Where it is.
    pub status: Status,
    /// Times it was typed.
    pub attempts: u32,
    /// Not before this (ms since the epoch): the retry backoff.
    pub next_try_ms: u64,
    /// When the status last changed.
    pub changed_ms: u64,
    /// Why it is where it is, for people (`retrying: not accepted`, ...).
    #[serde(default)]
    pub detail: String,
    /// Delivered with `notify`, and its answer not published yet.
    #[serde(default)]
    pub awaiting_answer: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_parses_and_names_the_allowed_values() {
        assert_eq!(When::parse(" Idle ").unwrap(), When::Idle);
        let e = When::parse("later").unwrap_err().to_string();
        assert!(e.contains("now, ready, idle"), "{e}");
    }

    #[test]
    fn finished_states() {
        assert!(!Status::Pending.finished() && !Status::Typed.finished());
        assert!(Status::Dead.finished() && Status::Delivered.finished());
    }
}
