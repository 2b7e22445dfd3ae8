//! Authorization, checked before anything else looks at an update: only
//! `telegram.allowed_users` may do anything. Others get no reply at all (a
//! reply would confirm the bot exists) and are logged with their user id, so
//! the owner can add themselves from the log.

use frankenstein::updates::{Update, UpdateContent};

/// The user an update comes from, when it has one.
pub fn sender(u: &Update) -> Option<i64> {
    match &u.content {
        UpdateContent::Message(m) | UpdateContent::EditedMessage(m) => {
            m.from.as_ref().map(|f| f.id as i64)
        }
        UpdateContent::CallbackQuery(q) => Some(q.from.id as i64),
        _ => None,
    }
}

/// Whether update `u` may be acted on; logs refusals.
pub fn allowed(allowed_users: &[i64], u: &Update) -> bool {
    match sender(u) {
        Some(id) if allowed_users.contains(&id) => true,
        Some(id) => {
            tracing::warn!(
                user_id = id,
                update_id = u.update_id,
                "ignoring Telegram update from a user not in telegram.allowed_users"
            );
            false
        }
        None => {
            tracing::debug!(
                update_id = u.update_id,
                "ignoring Telegram update without a sender"
            );
            false
        }
    }
}
