//! Which attached terminals claim a size for which session's window, and
//! what size the window had before the first of them (pure; a leaf).
//!
//! The newest claim wins, as the newest client does in tmux; when the last
//! claim is released the window gets its own size back. Kept in memory: a
//! node restart forgets claims, and the window keeps the size it had.

use std::collections::HashMap;

/// What the node must do to the window after a claim changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeAction {
    /// Give the window this size.
    Resize(u16, u16),
    /// No claim is left: give back this size and let tmux size it again.
    Restore(u16, u16),
    /// Nothing to do (a release by a client that held no claim).
    Nothing,
}

#[derive(Debug, Default)]
struct Claims {
    original: (u16, u16),
    /// (client, size), oldest first.
    by_client: Vec<(String, (u16, u16))>,
}

/// Size claims of attached terminals, per session (case-folded name).
#[derive(Debug, Default)]
pub(crate) struct SizeClaims {
    sessions: HashMap<String, Claims>,
}

impl SizeClaims {
    /// `client` claims `size`; `current` is the window's size now (kept as the
    /// one to restore when this is the session's first claim).
    pub fn claim(
        &mut self,
        session: &str,
        client: &str,
        size: (u16, u16),
        current: (u16, u16),
    ) -> SizeAction {
        let c = self
            .sessions
            .entry(session.to_string())
            .or_insert_with(|| Claims {
                original: current,
                by_client: Vec::new(),
            });
        c.by_client.retain(|(who, _)| who != client);
        c.by_client.push((client.to_string(), size));
        SizeAction::Resize(size.0, size.1)
    }

    /// `client` detached: the newest remaining claim, or the original size.
    pub fn release(&mut self, session: &str, client: &str) -> SizeAction {
        let Some(c) = self.sessions.get_mut(session) else {
            return SizeAction::Nothing;
        };
        let before = c.by_client.len();
        c.by_client.retain(|(who, _)| who != client);
        if c.by_client.len() == before {
            return SizeAction::Nothing;
        }
        match c.by_client.last() {
            Some((_, (w, h))) => SizeAction::Resize(*w, *h),
            None => {
                let (w, h) = c.original;
                self.sessions.remove(session);
                SizeAction::Restore(w, h)
            }
        }
    }

    /// A session was renamed (case-folded names): its claims follow it.
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(c) = self.sessions.remove(from) {
            self.sessions.insert(to.to_string(), c);
        }
    }

    /// Forgets a session that is gone.
    pub fn forget(&mut self, session: &str) {
        self.sessions.remove(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_claim_wins_and_the_last_release_restores_the_original() {
        let mut c = SizeClaims::default();
        assert_eq!(
            c.claim("api", "a", (100, 30), (80, 24)),
            SizeAction::Resize(100, 30)
        );
        assert_eq!(
            c.claim("api", "b", (120, 40), (100, 30)),
            SizeAction::Resize(120, 40)
        );
        assert_eq!(c.release("api", "b"), SizeAction::Resize(100, 30));
        assert_eq!(c.release("api", "b"), SizeAction::Nothing);
        assert_eq!(c.release("api", "a"), SizeAction::Restore(80, 24));
        assert_eq!(c.release("api", "a"), SizeAction::Nothing);
    }

    #[test]
    fn a_client_resizing_replaces_its_own_claim() {
        let mut c = SizeClaims::default();
        c.claim("api", "a", (100, 30), (80, 24));
        c.claim("api", "a", (90, 20), (100, 30));
        assert_eq!(c.release("api", "a"), SizeAction::Restore(80, 24));
    }
}
