//! [`Typing`]: "typing…" in a topic while its agent works.
//!
//! Session watchers ([`super::topics`]) report each agent state record with
//! [`Typing::set`]; one task ([`run`]) sends `sendChatAction typing` into
//! every topic whose agent is `working` at once and then every
//! [`INTERVAL`] (Telegram shows the action for about five seconds), and
//! stops when the state leaves `working`. It never calls into a chat during
//! a 429's `retry_after` (the [`Outbox`]'s block), and a 429 it gets blocks
//! the chat for the outbox too. A leaf: it imports only the API client and
//! the outbox.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use frankenstein::{methods::SendChatActionParams, types::ChatAction, AsyncTelegramApi};
use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{api::BotClient, outbox::Outbox};

/// How often the action is renewed while an agent works.
pub const INTERVAL: Duration = Duration::from_secs(4);

/// Topics whose agent works: `(chat, thread)` → when the action was last sent.
#[derive(Default)]
pub struct Typing {
    topics: Mutex<HashMap<(i64, i32), Option<Instant>>>,
    changed: Notify,
}

impl Typing {
    /// Records whether the agent in `chat`/`thread` works now.
    pub fn set(&self, chat: i64, thread: i32, working: bool) {
        let mut t = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        let changed = if working {
            let new = !t.contains_key(&(chat, thread));
            if new {
                t.insert((chat, thread), None);
            }
            new
        } else {
            t.remove(&(chat, thread)).is_some()
        };
        drop(t);
        if changed {
            tracing::debug!(chat, thread, working, "typing indicator");
            self.changed.notify_one();
        }
    }

    /// Topics typing now (for tests and logs).
    pub fn len(&self) -> usize {
        self.topics.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no topic is typing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The topics due now, marked as sent; and when the next one is due.
    fn due(&self, outbox: &Outbox) -> (Vec<(i64, i32)>, Option<Instant>) {
        let now = Instant::now();
        let mut t = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for (&(chat, thread), last) in t.iter_mut() {
            let at = last.map_or(now, |l| l + INTERVAL);
            if at <= now && !outbox.blocked(chat) {
                *last = Some(now);
                due.push((chat, thread));
                next = Some(next.map_or(now + INTERVAL, |n| n.min(now + INTERVAL)));
            } else {
                // Blocked: look again in a second.
                let at = if at <= now {
                    now + Duration::from_secs(1)
                } else {
                    at
                };
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        (due, next)
    }
}

/// The one typing task: until `cancel`, sends the action where it is due.
pub async fn run(typing: Arc<Typing>, api: BotClient, outbox: Outbox, cancel: CancellationToken) {
    loop {
        let (due, next) = typing.due(&outbox);
        for (chat, thread) in due {
            let params = SendChatActionParams {
                business_connection_id: None,
                chat_id: chat.into(),
                message_thread_id: Some(thread),
                action: ChatAction::Typing,
            };
            let r = tokio::select! {
                _ = cancel.cancelled() => return,
                r = api.send_chat_action(&params) => r,
            };
            if let Err(e) = r {
                match e.retry_after() {
                    Some(d) => outbox.block(chat, d),
                    None => tracing::debug!(chat, thread, error = %e, "sendChatAction failed"),
                }
            }
        }
        let changed = typing.changed.notified();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = changed => {}
            _ = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_topics_are_due_at_once_then_every_interval() {
        let t = Typing::default();
        let outbox = Outbox::new(Default::default());
        t.set(-1, 7, true);
        let (due, next) = t.due(&outbox);
        assert_eq!(due, vec![(-1, 7)]);
        assert!(next.is_some());
        assert!(t.due(&outbox).0.is_empty(), "not again before the interval");
        // Still working: the record repeats, the schedule stays.
        t.set(-1, 7, true);
        assert!(t.due(&outbox).0.is_empty());
        t.set(-1, 7, false);
        assert!(t.is_empty());
        assert_eq!(t.due(&outbox), (vec![], None));
        // A blocked chat is skipped, not forgotten.
        t.set(-2, 8, true);
        outbox.block(-2, Duration::from_secs(30));
        let (due, next) = t.due(&outbox);
        assert!(due.is_empty() && next.is_some());
        assert_eq!(t.len(), 1);
    }
}
