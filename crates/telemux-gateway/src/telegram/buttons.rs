//! Typed inline buttons: what a button under a session's live message does,
//! and the `callback_data` string Telegram carries for it (at most
//! [`MAX_CALLBACK_DATA`] bytes). The outbox builds the keyboard from
//! [`Button`]s and the command handler decodes presses back into one, so the
//! wire format lives only here.
//!
//! The format `k:KEY:THREAD` is the one earlier versions wrote, so buttons
//! already sitting in a chat keep working after an upgrade.
//!
//! The 📷 button after the keys, `s:THREAD`, sends a screenshot of the
//! topic's session into the topic.
//!
//! An agent's question gets one button per choice, `a:THREAD:PROMPT_ID:NUMBER`:
//! the topic names the session (as for key buttons) and the prompt id makes
//! a press on an old question fail as stale instead of answering a new one.
//!
//! A voice note's transcript gets Send / Edit / Cancel, `v:THREAD:MESSAGE:s|e|c`,
//! where MESSAGE is the voice note's message id (the key of the transcript the
//! gateway holds until one of them is pressed).

use frankenstein::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use telemux_proto::AgentPrompt;
use thiserror::Error;

/// The label of the screenshot button.
pub const SHOT_LABEL: &str = "📷";
/// Telegram's limit for `callback_data`, in bytes.
pub const MAX_CALLBACK_DATA: usize = 64;
/// Longest choice button text we send, in characters: Telegram shows about
/// this much on a phone, and a cut label reads better than a wrapped one.
pub const MAX_CHOICE_TEXT: usize = 60;

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

/// What a transcript's button does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiceAction {
    /// Type it into the session (with Enter).
    Send,
    /// Let the user send a corrected text instead.
    Edit,
    /// Drop it.
    Cancel,
}

impl VoiceAction {
    /// Every action, in the order the buttons show.
    pub const ALL: [VoiceAction; 3] = [VoiceAction::Send, VoiceAction::Edit, VoiceAction::Cancel];

    fn code(self) -> &'static str {
        match self {
            VoiceAction::Send => "s",
            VoiceAction::Edit => "e",
            VoiceAction::Cancel => "c",
        }
    }

    /// The button label.
    pub fn label(self) -> &'static str {
        match self {
            VoiceAction::Send => "✅ Send",
            VoiceAction::Edit => "✏️ Edit",
            VoiceAction::Cancel => "✖️ Cancel",
        }
    }
}

/// What a pressed button asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Button {
    /// Press `key` in the session of forum topic `thread`.
    Key {
        /// The key.
        key: SessionKey,
        /// The topic (`message_thread_id`) whose session gets it.
        thread: i32,
    },
    /// Send a screenshot of topic `thread`'s session into that topic.
    Shot {
        /// The topic whose session is pictured.
        thread: i32,
    },
    /// Answer question `prompt_id` of the agent in topic `thread`'s session
    /// with its choice `number`.
    Answer {
        /// The topic whose session asks.
        thread: i32,
        /// [`AgentPrompt::id`] of the question the button was made for.
        prompt_id: String,
        /// The choice's number on screen.
        number: u32,
    },
    /// Do `action` with the transcript of voice note `message` in topic `thread`.
    Voice {
        /// The topic whose session gets the text.
        thread: i32,
        /// The voice note's message id: the transcript's key.
        message: i32,
        /// What to do.
        action: VoiceAction,
    },
}

/// `callback_data` that is not one of ours (an old or forged button).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UnknownButton {
    /// Not of the `k:KEY:THREAD`, `s:THREAD` or `a:THREAD:PROMPT_ID:NUMBER` shape, too
    /// long, or a bad thread id, prompt id or number.
    #[error("unknown button")]
    Malformed,
    /// The shape is ours but the key is not one a button presses; named, so a
    /// forged key is answered like a forged `/keys` (what was wrong, what is allowed).
    #[error("unknown key '{0}' on a button; buttons press only C-c, Enter, Escape, Up and Down")]
    Key(String),
}

/// Plain decimal digits only: `parse` would also take a leading `+`.
fn digits<T: std::str::FromStr>(s: &str) -> Result<T, UnknownButton> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UnknownButton::Malformed);
    }
    s.parse().map_err(|_| UnknownButton::Malformed)
}

/// Whether `id` can stand in `callback_data`: it must not contain the
/// separator, and only what node ids are made of is let through.
fn prompt_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Button {
    /// A choice button, or `None` when its `callback_data` would not fit
    /// [`MAX_CALLBACK_DATA`] or the prompt id has characters we do not carry.
    pub fn answer(thread: i32, prompt_id: &str, number: u32) -> Option<Button> {
        let b = Button::Answer {
            thread,
            prompt_id: prompt_id.to_string(),
            number,
        };
        (thread >= 0 && prompt_id_ok(prompt_id) && b.encode().len() <= MAX_CALLBACK_DATA)
            .then_some(b)
    }

    /// The topic whose session the button acts on.
    pub fn thread(&self) -> i32 {
        match self {
            Button::Key { thread, .. }
            | Button::Shot { thread }
            | Button::Answer { thread, .. }
            | Button::Voice { thread, .. } => *thread,
        }
    }

    /// The `callback_data` for this button (within [`MAX_CALLBACK_DATA`]
    /// for every button [`Button::answer`] made).
    pub fn encode(&self) -> String {
        match self {
            Button::Key { key, thread } => format!("k:{}:{thread}", key.name()),
            Button::Shot { thread } => format!("s:{thread}"),
            Button::Answer {
                thread,
                prompt_id,
                number,
            } => format!("a:{thread}:{prompt_id}:{number}"),
            Button::Voice {
                thread,
                message,
                action,
            } => format!("v:{thread}:{message}:{}", action.code()),
        }
    }

    /// Reads `callback_data` back; anything we did not write is refused.
    pub fn decode(data: &str) -> Result<Button, UnknownButton> {
        if data.len() > MAX_CALLBACK_DATA {
            return Err(UnknownButton::Malformed);
        }
        let parts: Vec<&str> = data.split(':').collect();
        match parts.as_slice() {
            ["k", key, thread @ ..] => {
                let key = SessionKey::from_name(key)
                    .ok_or_else(|| UnknownButton::Key(key.to_string()))?;
                let [thread] = thread else {
                    return Err(UnknownButton::Malformed);
                };
                Ok(Button::Key {
                    key,
                    thread: digits(thread)?,
                })
            }
            ["s", thread] => Ok(Button::Shot {
                thread: digits(thread)?,
            }),
            ["a", thread, prompt_id, number] => {
                if !prompt_id_ok(prompt_id) {
                    return Err(UnknownButton::Malformed);
                }
                Ok(Button::Answer {
                    thread: digits(thread)?,
                    prompt_id: prompt_id.to_string(),
                    number: digits(number)?,
                })
            }
            ["v", thread, message, action] => Ok(Button::Voice {
                thread: digits(thread)?,
                message: digits(message)?,
                action: VoiceAction::ALL
                    .into_iter()
                    .find(|a| a.code() == *action)
                    .ok_or(UnknownButton::Malformed)?,
            }),
            _ => Err(UnknownButton::Malformed),
        }
    }
}

/// Send / Edit / Cancel under the transcript of voice note `message` in topic `thread`.
pub fn voice_keyboard(thread: i32, message: i32) -> InlineKeyboardMarkup {
    let row = VoiceAction::ALL
        .into_iter()
        .map(|action| {
            InlineKeyboardButton::builder()
                .text(action.label())
                .callback_data(
                    Button::Voice {
                        thread,
                        message,
                        action,
                    }
                    .encode(),
                )
                .build()
        })
        .collect();
    InlineKeyboardMarkup::builder()
        .inline_keyboard(vec![row])
        .build()
}

/// The text of a choice's button: `2. Yes, and always allow …`, cut to
/// [`MAX_CHOICE_TEXT`] characters.
pub fn choice_text(number: u32, label: &str) -> String {
    let text = format!("{number}. {}", label.trim());
    if text.chars().count() <= MAX_CHOICE_TEXT {
        return text;
    }
    let cut: String = text.chars().take(MAX_CHOICE_TEXT - 1).collect();
    format!("{}…", cut.trim_end())
}

/// One button per choice of `prompt` (a row each: labels are long), for
/// the question's notification in topic `thread`; `None` when a choice's
/// button cannot be encoded (then the question is answered by typing).
pub fn answer_keyboard(thread: Option<i32>, prompt: &AgentPrompt) -> Option<InlineKeyboardMarkup> {
    let thread = thread?;
    if prompt.choices.is_empty() {
        return None;
    }
    let rows = prompt
        .choices
        .iter()
        .map(|c| {
            let b = Button::answer(thread, &prompt.id, c.number)?;
            Some(vec![InlineKeyboardButton::builder()
                .text(choice_text(c.number, &c.label))
                .callback_data(b.encode())
                .build()])
        })
        .collect::<Option<Vec<_>>>()?;
    Some(
        InlineKeyboardMarkup::builder()
            .inline_keyboard(rows)
            .build(),
    )
}

/// The row of key buttons, then 📷, under a session's messages in topic `thread`.
pub fn session_keyboard(thread: Option<i32>) -> Option<InlineKeyboardMarkup> {
    let thread = thread?;
    let button = |text: &str, b: Button| {
        InlineKeyboardButton::builder()
            .text(text)
            .callback_data(b.encode())
            .build()
    };
    let row = SessionKey::ALL
        .into_iter()
        .map(|key| button(key.label(), Button::Key { key, thread }))
        .chain([button(SHOT_LABEL, Button::Shot { thread })])
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
    fn voice_buttons_round_trip_within_the_limit() {
        for action in VoiceAction::ALL {
            let b = Button::Voice {
                thread: i32::MAX,
                message: i32::MAX,
                action,
            };
            let data = b.encode();
            assert!(data.len() <= MAX_CALLBACK_DATA, "{data}");
            assert_eq!(Button::decode(&data), Ok(b));
        }
        assert!(Button::decode("v:1:2:x").is_err());
        assert!(Button::decode("v:1:-2:s").is_err());
    }

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
        assert_eq!(Button::decode("s:1001"), Ok(Button::Shot { thread: 1001 }));
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
            "s:",
            "s:-5",
            "s:5:6",
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
    fn answer_buttons_round_trip_within_the_limit() {
        for thread in [0, 1001, i32::MAX] {
            for number in [1, 9, 10, u32::MAX] {
                let b = Button::answer(thread, "0123456789ab", number).unwrap();
                let data = b.encode();
                assert!(data.len() <= MAX_CALLBACK_DATA, "{data}");
                assert_eq!(Button::decode(&data), Ok(b.clone()), "{data}");
                assert_eq!(b.thread(), thread);
            }
        }
        assert_eq!(
            Button::decode("a:1001:0123456789ab:2"),
            Ok(Button::Answer {
                thread: 1001,
                prompt_id: "0123456789ab".into(),
                number: 2
            })
        );
        // The session is named by its topic, so a long session name never
        // makes the data longer; only a (foreign) overlong prompt id does,
        // and then there is no button rather than one that cannot work.
        assert!(Button::answer(i32::MAX, &"f".repeat(40), u32::MAX).is_some());
        assert!(Button::answer(i32::MAX, &"f".repeat(60), 1).is_none());
        assert!(Button::answer(1, "a:b", 1).is_none());
        assert!(Button::answer(1, "", 1).is_none());
        assert!(Button::answer(-1, "abc", 1).is_none());
    }

    #[test]
    fn malformed_answer_data_is_refused() {
        for bad in [
            "a",
            "a:1001",
            "a:1001:abc",
            "a:1001:abc:",
            "a::abc:1",
            "a:1001::1",
            "a:1001:abc:x",
            "a:1001:abc:+1",
            "a:1001:abc:-1",
            "a:-5:abc:1",
            "a:1001:abc:1:2",
            "a:1001:a b:1",
            "a:1001:abc:99999999999",
            "A:1001:abc:1",
            &format!("a:1001:{}:1", "f".repeat(60)),
        ] {
            assert_eq!(
                Button::decode(bad),
                Err(UnknownButton::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_question_gets_one_button_per_choice_labelled_with_its_label() {
        use telemux_proto::PromptChoice;
        let long =
            "Yes, and always allow access to a-very-long-project-directory-name/ from this project";
        let p = AgentPrompt {
            id: "0123456789ab".into(),
            question: "Do you want to proceed?".into(),
            tool: None,
            command: None,
            choices: [(1, "Yes"), (2, long), (3, "No")]
                .into_iter()
                .map(|(number, label)| PromptChoice {
                    number,
                    label: label.into(),
                })
                .collect(),
        };
        assert!(
            answer_keyboard(None, &p).is_none(),
            "buttons live in topics"
        );
        let k = answer_keyboard(Some(1001), &p).unwrap();
        let rows: Vec<(&str, &str)> = k
            .inline_keyboard
            .iter()
            .map(|r| (r[0].text.as_str(), r[0].callback_data.as_deref().unwrap()))
            .collect();
        assert_eq!(rows[0], ("1. Yes", "a:1001:0123456789ab:1"));
        assert_eq!(rows[2], ("3. No", "a:1001:0123456789ab:3"));
        assert!(
            rows[1].0.starts_with("2. Yes, and always allow"),
            "{}",
            rows[1].0
        );
        assert!(rows[1].0.ends_with('…'), "{}", rows[1].0);
        assert_eq!(rows[1].0.chars().count(), MAX_CHOICE_TEXT);
        let none = AgentPrompt {
            choices: vec![],
            ..p.clone()
        };
        assert!(answer_keyboard(Some(1), &none).is_none());
        let foreign = AgentPrompt {
            id: "x".repeat(70),
            ..p
        };
        assert!(answer_keyboard(Some(1), &foreign).is_none());
    }

    #[test]
    fn the_keyboard_has_one_button_per_key_then_the_screenshot() {
        assert!(session_keyboard(None).is_none());
        let k = session_keyboard(Some(7)).unwrap();
        assert_eq!(k.inline_keyboard.len(), 1);
        assert_eq!(k.inline_keyboard[0].len(), SessionKey::ALL.len() + 1);
        let shot = k.inline_keyboard[0].last().unwrap();
        assert_eq!(shot.text, SHOT_LABEL);
        assert_eq!(
            Button::decode(shot.callback_data.as_deref().unwrap()),
            Ok(Button::Shot { thread: 7 })
        );
    }
}
