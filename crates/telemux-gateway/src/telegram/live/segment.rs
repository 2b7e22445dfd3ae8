//! [`Segment`]: one Telegram message of a live slot, and how it renders —
//! `<pre>` output (escaped), a status line and a footer under it, or a
//! prebuilt HTML reply. Pure; the splitting and limits that decide what goes
//! into which segment are [`super::Live`]'s.

use std::collections::VecDeque;

use frankenstein::types::InlineKeyboardMarkup;
use serde::{Deserialize, Serialize};

use super::{RESERVE, SOFT_LIMIT};
use crate::telegram::html::{escape, utf16_len};

/// One Telegram message of a live slot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Local id, stable while the segment lives.
    pub id: u64,
    /// The Telegram message once sent.
    pub message_id: Option<i32>,
    pub(super) lines: VecDeque<String>,
    pub(super) len16: usize,
    pub(super) partial: String,
    pub(super) frame: Option<String>,
    pub(super) omitted_lines: u64,
    pub(super) skipped_messages: u64,
    pub(super) footer: Option<String>,
    /// Prebuilt HTML (command replies) instead of `<pre>` output.
    pub(super) raw_html: Option<String>,
    /// A keyboard of its own for a prebuilt message (an agent question's
    /// choices), instead of the session buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) keyboard: Option<InlineKeyboardMarkup>,
    /// An agent session's state line, shown under the output.
    #[serde(default)]
    pub(super) status: Option<String>,
    /// No more content will be added.
    pub frozen: bool,
    /// Telegram refused the HTML: send plain text.
    pub plain: bool,
    /// Rendering last delivered (text + whether buttons were shown).
    pub(super) sent: Option<String>,
}

/// A rendered segment: what to send or edit.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Message text.
    pub text: String,
    /// parse_mode HTML.
    pub html: bool,
    /// Show the session buttons under it.
    pub buttons: bool,
    /// Show this keyboard under it (instead of the session buttons).
    pub keyboard: Option<InlineKeyboardMarkup>,
}

impl Rendered {
    pub(super) fn key(&self) -> String {
        let keyboard = self
            .keyboard
            .as_ref()
            .and_then(|k| serde_json::to_string(k).ok())
            .unwrap_or_default();
        format!("{}|{}|{keyboard}|{}", self.html, self.buttons, self.text)
    }
}

impl Segment {
    /// Whether it holds anything to show.
    pub(super) fn has_content(&self) -> bool {
        self.has_output() || self.status.is_some()
    }

    /// Whether it holds output or notes (a status line alone is not output:
    /// the first screen may take its place).
    pub(super) fn has_output(&self) -> bool {
        !self.lines.is_empty()
            || self.frame.is_some()
            || self.footer.is_some()
            || self.raw_html.is_some()
            || self.omitted_lines > 0
            || self.skipped_messages > 0
    }

    pub(super) fn body(&self) -> String {
        let mut out = String::new();
        if self.skipped_messages > 0 {
            out.push_str(&format!(
                "[… {} message(s) skipped while Telegram was rate-limited; /output has everything]\n",
                self.skipped_messages
            ));
        }
        if self.omitted_lines > 0 {
            out.push_str(&format!(
                "[… {} lines not shown; /output sends the whole scrollback]\n",
                self.omitted_lines
            ));
        }
        if let Some(f) = &self.frame {
            out.push_str(f);
        } else {
            for (i, l) in self.lines.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(l);
            }
            if !self.partial.is_empty() {
                if !self.lines.is_empty() {
                    out.push('\n');
                }
                out.push_str(&self.partial);
            }
        }
        while out.ends_with('\n') {
            out.pop();
        }
        if out.trim().is_empty() {
            out = "(no output)".into();
        }
        out
    }

    /// The text to deliver; `buttons` when it is the slot's active message.
    pub fn render(&self, buttons: bool) -> Rendered {
        if let Some(h) = &self.raw_html {
            return Rendered {
                text: h.clone(),
                html: !self.plain,
                buttons: false,
                keyboard: self.keyboard.clone(),
            };
        }
        let body = self.body();
        let mut text = if self.plain {
            body
        } else {
            format!("<pre>{}</pre>", escape(&body))
        };
        for line in [&self.status, &self.footer].into_iter().flatten() {
            text.push('\n');
            if self.plain {
                text.push_str(line);
            } else {
                text.push_str(&escape(line));
            }
        }
        Rendered {
            text,
            html: !self.plain,
            buttons,
            keyboard: None,
        }
    }

    pub(super) fn used(&self) -> usize {
        self.len16 + utf16_len(&self.partial) + RESERVE
    }

    /// Drops lines from the front until `extra` more units fit.
    pub(super) fn make_room(&mut self, extra: usize) {
        while self.used() + extra > SOFT_LIMIT {
            match self.lines.pop_front() {
                Some(l) => {
                    self.len16 -= utf16_len(&l) + 1;
                    self.omitted_lines += 1;
                }
                None => break,
            }
        }
    }
}
