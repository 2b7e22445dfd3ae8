//! [`Notifier`] turns an agent's state changes into *new* messages in its
//! topic — not edits — so the phone buzzes when the agent asks something or
//! has finished its turn. The live message's status line (see
//! [`super::live`]) shows every state; notifications are only for the two
//! moments that need the user. Pure, so the rules are unit-tested.

use std::time::{Duration, Instant};

use telemux_proto::AgentState;

use super::html::escape;

/// Records older than this (by their node's clock) never notify: a watcher
/// catching up on a backlog must not buzz about questions long answered.
const STALE_MS: u64 = 10 * 60 * 1000;
/// The same notification is not repeated within this time (a flapping screen).
const REPEAT: Duration = Duration::from_secs(30);

/// Decides which agent state changes of one session become notifications.
#[derive(Debug, Default)]
pub struct Notifier {
    prev: Option<AgentState>,
    last: Option<(String, Instant)>,
}

impl Notifier {
    /// A notifier that knows nothing about the session's past.
    pub fn new() -> Notifier {
        Notifier::default()
    }

    /// The HTML message to send for an `agent_state` record of `addr`, if
    /// any. `ts_ms` is the record's time, `now_ms` ours (clocks may differ by
    /// seconds, not by the staleness limit).
    pub fn on_record(
        &mut self,
        addr: &str,
        state: AgentState,
        detail: &str,
        ts_ms: u64,
        now_ms: u64,
        now: Instant,
    ) -> Option<String> {
        let prev = self.prev.replace(state);
        if now_ms.saturating_sub(ts_ms) > STALE_MS {
            return None;
        }
        let html = match state {
            AgentState::WaitingForInput => {
                let detail = detail.trim();
                let quote = if detail.is_empty() {
                    String::new()
                } else {
                    format!("\n<blockquote>{}</blockquote>", escape(detail))
                };
                format!(
                    "❓ <b>{}</b> — the agent is waiting for you:{quote}\nAnswer here: what you type goes to it; the buttons press keys.",
                    escape(addr)
                )
            }
            AgentState::Idle
                if matches!(
                    prev,
                    Some(AgentState::Working | AgentState::WaitingForInput)
                ) =>
            {
                format!("✅ <b>{}</b> — the agent finished its turn.", escape(addr))
            }
            _ => return None,
        };
        if let Some((text, at)) = &self.last {
            if *text == html && now.duration_since(*at) < REPEAT {
                return None;
            }
        }
        self.last = Some((html.clone(), now));
        Some(html)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifies_questions_and_finished_turns_only() {
        let mut n = Notifier::new();
        let t = Instant::now();
        let now = 1_000_000_000;
        let mut on = |s, d: &str, at: Instant| n.on_record("Moz/c1", s, d, now, now, at);
        assert_eq!(on(AgentState::Starting, "claude started", t), None);
        assert_eq!(on(AgentState::Idle, "│ > │", t), None, "ready is no news");
        assert_eq!(on(AgentState::Working, "", t), None);
        let q = on(AgentState::WaitingForInput, "Do <you> want & go?", t).unwrap();
        assert!(
            q.contains("<blockquote>Do &lt;you&gt; want &amp; go?</blockquote>"),
            "{q}"
        );
        assert!(q.contains("<b>Moz/c1</b>"), "{q}");
        // The same question again right away (a flapping screen) stays quiet...
        assert_eq!(on(AgentState::Working, "", t), None);
        assert_eq!(
            on(AgentState::WaitingForInput, "Do <you> want & go?", t),
            None
        );
        // ...but not after a while.
        assert_eq!(on(AgentState::Working, "", t), None);
        assert!(on(
            AgentState::WaitingForInput,
            "Do <you> want & go?",
            t + REPEAT
        )
        .is_some());
        assert_eq!(on(AgentState::Working, "", t), None);
        let done = on(AgentState::Idle, "", t).unwrap();
        assert!(done.contains("finished its turn"), "{done}");
        // A new turn may ask the same question again: that is news.
        assert!(on(AgentState::WaitingForInput, "Do <you> want & go?", t).is_some());
    }

    #[test]
    fn stale_records_do_not_notify() {
        let mut n = Notifier::new();
        let now = 1_000_000_000;
        let old = now - STALE_MS - 1;
        assert_eq!(
            n.on_record(
                "a/b",
                AgentState::WaitingForInput,
                "?",
                old,
                now,
                Instant::now()
            ),
            None
        );
    }
}
