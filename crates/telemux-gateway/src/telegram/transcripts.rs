//! [`Transcripts`]: voice notes' transcripts waiting for Send / Edit /
//! Cancel, in memory, bounded ([`MAX_PENDING`]; the oldest is dropped), keyed
//! by chat and the voice note's message id. A leaf; pure.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Transcripts held at most; beyond, the oldest is forgotten (its buttons
/// then answer that it is gone).
pub const MAX_PENDING: usize = 64;

/// A transcript waiting for its button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The chat.
    pub chat: i64,
    /// The voice note's message id.
    pub message: i32,
    /// The session's topic.
    pub thread: i32,
    /// What the speech-to-text command heard.
    pub text: String,
}

/// The transcripts waiting, oldest first.
#[derive(Debug, Default)]
pub struct Transcripts {
    pending: Mutex<VecDeque<Pending>>,
}

impl Transcripts {
    /// Holds `p` (replacing one with the same key), dropping the oldest beyond [`MAX_PENDING`].
    pub fn put(&self, p: Pending) {
        let mut q = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        q.retain(|o| (o.chat, o.message) != (p.chat, p.message));
        q.push_back(p);
        while q.len() > MAX_PENDING {
            q.pop_front();
        }
    }

    /// Takes the transcript of voice note `message` in `chat` out, if held.
    pub fn take(&self, chat: i64, message: i32) -> Option<Pending> {
        let mut q = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let i = q
            .iter()
            .position(|o| (o.chat, o.message) == (chat, message))?;
        q.remove(i)
    }

    /// Transcripts held.
    pub fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(message: i32) -> Pending {
        Pending {
            chat: -1,
            message,
            thread: 9,
            text: format!("t{message}"),
        }
    }

    #[test]
    fn bounded_oldest_dropped_taken_once() {
        let t = Transcripts::default();
        for m in 0..(MAX_PENDING as i32 + 5) {
            t.put(p(m));
        }
        assert_eq!(t.len(), MAX_PENDING);
        assert_eq!(t.take(-1, 0), None, "the oldest went first");
        assert_eq!(t.take(-1, 5).map(|x| x.text), Some("t5".into()));
        assert_eq!(t.take(-1, 5), None, "taken once");
        assert_eq!(t.take(-2, 6), None, "another chat's key");
    }
}
