//! Typed inline buttons: what a button under a session's live message does,
//! and the `callback_data` string Telegram carries for it (at most
//! [`MAX_CALLBACK_DATA`] bytes). The outbox builds the keyboard from
//! [`Button`]s and the command handler decodes presses back into one, so the
//! wire format lives only here.
//!
//! The format `k:KEY:THREAD` is the one earlier versions wrote, so buttons
//! already sitting in a chat keep working after an upgrade.

use frankenstein::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use thiserror::Error;

/// Telegram's limit for `callback_data`, in bytes.
pub const MAX_CALLBACK_DATA: usize = 64;

/// A key one of the session buttons presses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKey {
    /// Ctrl-C.
    CtrlC,
    /// Enter.
    Enter,
    /// Escape.
    Escape,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
}

impl SessionKey {
    /// Every key, in the order the buttons show.
    pub const ALL: [SessionKey; 5] = [
        SessionKey::CtrlC,
        SessionKey::Enter,
        SessionKey::Escape,
        SessionKey::Up,
        SessionKey::Down,
    ];

    /// The key name as `/keys` and the mesh's `send_keys` take it.
    pub fn name(self) -> &'static str {
        match self {
            SessionKey::CtrlC => "C-c",
            SessionKey::Enter => "Enter",
            SessionKey::Escape => "Escape",
            SessionKey::Up => "Up",
            SessionKey::Down => "Down",
        }
    }

    /// The button label.
    pub fn label(self) -> &'static str {
        match self {
            SessionKey::CtrlC => "Ctrl-C",
            SessionKey::Enter => "Enter",
            SessionKey::Escape => "Esc",
            SessionKey::Up => "↑",
            SessionKey::Down => "↓",
        }
    }

    fn from_name(s: &str) -> Option<SessionKey> {
        SessionKey::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// What a pressed button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// Press `key` in the session of forum topic `thread`.
    Key {
        /// The key.
        key: SessionKey,
        /// The topic (`message_thread_id`) whose session gets it.
        thread: i32,
    },
}

/// `callback_data` that is not one of ours (an old or forged button).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UnknownButton {
    /// Not of the `k:KEY:THREAD` shape, too long, or a bad thread id.
    #[error("unknown button")]
    Malformed,
    /// The shape is ours but the key is not one a button presses; named, so a
    /// forged key is answered like a forged `/keys` (what was wrong, what is allowed).
    #[error("unknown key '{0}' on a button; buttons press only C-c, Enter, Escape, Up and Down")]
    Key(String),
}

impl Button {
    /// The `callback_data` for this button (always within [`MAX_CALLBACK_DATA`]).
    pub fn encode(&self) -> String {
        match self {
            Button::Key { key, thread } => format!("k:{}:{thread}", key.name()),
        }
    }

    /// Reads `callback_data` back; anything we did not write is refused.
    pub fn decode(data: &str) -> Result<Button, UnknownButton> {
        if data.len() > MAX_CALLBACK_DATA {
            return Err(UnknownButton::Malformed);
        }
        let mut parts = data.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("k"), Some(key), Some(thread)) => {
                let key = SessionKey::from_name(key)
                    .ok_or_else(|| UnknownButton::Key(key.to_string()))?;
                // Only plain digits: `parse` would also take a leading `+`.
                if thread.is_empty() || !thread.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(UnknownButton::Malformed);
                }
                let thread = thread.parse().map_err(|_| UnknownButton::Malformed)?;
                Ok(Button::Key { key, thread })
            }
            _ => Err(UnknownButton::Malformed),
        }
    }
}

/// The row of key buttons under a session's messages in topic `thread`.
pub fn session_keyboard(thread: Option<i32>) -> Option<InlineKeyboardMarkup> {
    let thread = thread?;
    let row = SessionKey::ALL
        .into_iter()
        .map(|key| {
            InlineKeyboardButton::builder()
                .text(key.label())
                .callback_data(Button::Key { key, thread }.encode())
                .build()
        })
        .collect();
    Some(
        InlineKeyboardMarkup::builder()
            .inline_keyboard(vec![row])
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_button_round_trips_within_the_limit() {
        for key in SessionKey::ALL {
            for thread in [0, 1, 1001, i32::MAX] {
                let b = Button::Key { key, thread };
                let data = b.encode();
                assert!(data.len() <= MAX_CALLBACK_DATA, "{data}");
                assert_eq!(Button::decode(&data), Ok(b), "{data}");
            }
        }
        // The format earlier versions wrote still decodes.
        assert_eq!(
            Button::decode("k:C-c:1001"),
            Ok(Button::Key {
                key: SessionKey::CtrlC,
                thread: 1001
            })
        );
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "k",
            "k:C-c",
            "k:C-c:",
            "k::5",
            "k:rm -rf:5",
            "k:C-c:abc",
            "k:C-c:-5",
            "k:C-c:+5",
            "k:C-c:99999999999",
            "k:C-c:5:6",
            "x:C-c:5",
            "K:C-c:5",
            &format!("k:C-c:{}", "1".repeat(70)),
        ] {
            assert!(Button::decode(bad).is_err(), "{bad:?}");
        }
        // A forged key is named, so the answer says what was wrong.
        assert_eq!(
            Button::decode("k:C-c;kill-server:5"),
            Err(UnknownButton::Key("C-c;kill-server".into()))
        );
    }

    #[test]
    fn the_keyboard_has_one_button_per_key() {
        assert!(session_keyboard(None).is_none());
        let k = session_keyboard(Some(7)).unwrap();
        assert_eq!(k.inline_keyboard.len(), 1);
        assert_eq!(k.inline_keyboard[0].len(), SessionKey::ALL.len());
    }
}
