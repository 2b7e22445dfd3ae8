//! [`Live`]: what a session's (or a `/run`'s) Telegram messages should say, as
//! output records arrive — pure, no I/O, so the rules are unit-tested.
//!
//! Output becomes *segments*, one Telegram message each. A command (a turn)
//! fills one segment, edited in place; when it would pass [`SOFT_LIMIT`]
//! UTF-16 units the segment is frozen and a new one continues. After
//! [`MAX_SEGMENTS_PER_TURN`] messages in one turn the last one becomes a
//! rolling tail ("… N lines not shown") — 10 000 lines become a handful of
//! messages, not a hundred, and `/output` has the whole scrollback. A full-
//! screen frame replaces the content of its segment. `CommandFinished` puts
//! ✅/❌, the code and the duration under the segment and ends the turn.
//!
//! An agent session's state (`agent_state` records) is a status line under
//! the active message, edited as the state changes.
//!
//! Each segment remembers what was last delivered, so the sender only acts on
//! segments whose rendering changed, and memory is bounded: at most
//! [`MAX_QUEUED`] segments wait, older never-sent ones are dropped (counted in
//! the next one's header) rather than queued without bound.

use std::collections::VecDeque;

use frankenstein::types::InlineKeyboardMarkup;
use serde::{Deserialize, Serialize};
use telemux_proto::{AgentState, OutputEvent};

mod segment;
#[cfg(test)]
mod tests;

pub use segment::{Rendered, Segment};

use super::html::{clean, split_utf16, utf16_len};

/// Visible text per message (UTF-16 units), well below Telegram's 4096.
pub const SOFT_LIMIT: usize = 3800;
/// Messages one turn may fill before its last one becomes a rolling tail.
pub const MAX_SEGMENTS_PER_TURN: usize = 4;
/// Segments kept waiting for delivery at most (per slot).
pub const MAX_QUEUED: usize = 8;
/// Longest unfinished line kept (the end of it).
const MAX_PARTIAL: usize = 1000;
/// Room kept for header, status and footer lines.
const RESERVE: usize = 360;
/// Longest agent detail (a question) shown in the status line.
const MAX_DETAIL: usize = 180;

/// The live messages of one session or `/run`.
#[derive(Debug, Clone, Default)]
pub struct Live {
    segs: VecDeque<Segment>,
    next_id: u64,
    turn_segments: usize,
    /// Session slots show Ctrl-C/Enter/Esc/↑/↓ under the active message.
    pub buttons: bool,
    /// The session ended: no buttons any more.
    pub ended: bool,
    /// Output stream id of the last record applied.
    pub cursor: Option<String>,
    /// The agent status line new segments start with.
    status: Option<String>,
}

/// What was persisted after a delivery, to resume after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveState {
    /// Stream id up to which everything is delivered.
    pub cursor: Option<String>,
    /// The last (active) segment as delivered.
    pub seg: Segment,
    /// Segments already used by the current turn.
    pub turn_segments: usize,
    /// The session ended.
    pub ended: bool,
}

/// A planned API call for one segment.
#[derive(Debug, Clone)]
pub struct Action {
    /// Segment it delivers.
    pub seg_id: u64,
    /// Existing message to edit, or `None` to send a new one.
    pub message_id: Option<i32>,
    /// What to deliver.
    pub rendered: Rendered,
    /// The segment at planning time and the cursor then, for persistence.
    pub snapshot: Segment,
    /// Cursor at planning time.
    pub cursor: Option<String>,
}

impl Live {
    /// An empty live slot; `buttons` for sessions.
    pub fn new(buttons: bool) -> Live {
        Live {
            buttons,
            ..Live::default()
        }
    }

    /// A slot holding one finished HTML message (a command reply).
    pub fn message(html: String) -> Live {
        Live::message_with(html, None)
    }

    /// [`Live::message`] with `keyboard` under it (an agent question's choices).
    pub fn message_with(html: String, keyboard: Option<InlineKeyboardMarkup>) -> Live {
        let mut l = Live::new(false);
        let id = l.alloc();
        l.segs.push_back(Segment {
            id,
            raw_html: Some(html),
            keyboard,
            frozen: true,
            ..Segment::default()
        });
        l
    }

    /// Continues from a persisted state (after a restart).
    pub fn restore(buttons: bool, st: LiveState) -> Live {
        let mut l = Live::new(buttons);
        let mut seg = st.seg;
        l.next_id = seg.id + 1;
        seg.id = l.alloc();
        l.segs.push_back(seg);
        l.turn_segments = st.turn_segments;
        l.ended = st.ended;
        l.cursor = st.cursor;
        l.status = l.segs.back().and_then(|s| s.status.clone());
        l
    }

    fn alloc(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The open segment of this turn, creating one when needed.
    fn open(&mut self) -> &mut Segment {
        let need_new = self.segs.back().is_none_or(|s| s.frozen);
        if need_new {
            if self.segs.len() >= MAX_QUEUED {
                self.drop_one();
            }
            let id = self.alloc();
            self.turn_segments += 1;
            self.segs.push_back(Segment {
                id,
                status: self.status.clone(),
                ..Segment::default()
            });
        }
        self.segs.back_mut().expect("just ensured")
    }

    /// Drops the oldest waiting segment, counting it in its successor.
    fn drop_one(&mut self) {
        if self.segs.len() < 2 {
            return;
        }
        let gone = self.segs.pop_front().expect("len >= 2");
        let next = self.segs.front_mut().expect("len >= 1");
        next.skipped_messages += 1 + gone.skipped_messages;
    }

    fn freeze_open(&mut self) {
        if let Some(s) = self.segs.back_mut() {
            s.frozen = true;
        }
    }

    fn push_line(&mut self, line: &str) {
        let line = clean(line);
        for piece in split_utf16(&line, SOFT_LIMIT - RESERVE - 8) {
            let w = utf16_len(&piece) + 1;
            let tail = self.turn_segments >= MAX_SEGMENTS_PER_TURN;
            let seg = self.open();
            if seg.frame.is_some() {
                seg.frozen = true;
                self.open();
            }
            let seg = self.segs.back_mut().expect("open");
            if seg.used() + w > SOFT_LIMIT && !seg.lines.is_empty() {
                if tail {
                    seg.make_room(w);
                } else {
                    seg.frozen = true;
                    let p = std::mem::take(&mut seg.partial);
                    self.open().partial = p;
                }
            }
            let seg = self.segs.back_mut().expect("open");
            seg.len16 += w;
            seg.lines.push_back(piece);
        }
    }

    fn set_partial(&mut self, partial: &str) {
        let mut p = clean(partial);
        if utf16_len(&p) > MAX_PARTIAL {
            let skip = p.chars().count().saturating_sub(MAX_PARTIAL / 2);
            p = p.chars().skip(skip).collect();
        }
        if p.is_empty() && self.segs.back().is_none_or(|s| s.frozen) {
            return;
        }
        let tail = self.turn_segments >= MAX_SEGMENTS_PER_TURN;
        let seg = self.open();
        seg.partial = String::new();
        let w = utf16_len(&p);
        if seg.used() + w > SOFT_LIMIT {
            if tail {
                seg.make_room(w);
            } else if !seg.lines.is_empty() {
                seg.frozen = true;
                self.open();
            }
        }
        self.segs.back_mut().expect("open").partial = p;
    }

    fn set_frame(&mut self, rows: &[String]) {
        let mut rows: Vec<String> = rows.iter().map(|r| clean(r.trim_end())).collect();
        while rows.last().is_some_and(|r| r.is_empty()) {
            rows.pop();
        }
        // Keep the bottom of the screen: that is where prompts and input are.
        let mut total = 0;
        let mut keep = 0;
        for r in rows.iter().rev() {
            let w = utf16_len(r) + 1;
            if total + w + RESERVE > SOFT_LIMIT {
                break;
            }
            total += w;
            keep += 1;
        }
        let text = rows[rows.len() - keep..].join("\n");
        let open_lines = self
            .segs
            .back()
            .is_some_and(|s| !s.frozen && s.frame.is_none() && s.has_output());
        if open_lines {
            self.freeze_open();
        }
        let seg = self.open();
        seg.frame = Some(text);
        seg.partial.clear();
    }

    /// Ends the current turn with `footer` under its last message.
    pub fn finish(&mut self, footer: String) {
        let seg = self.open();
        seg.footer = Some(footer);
        seg.frozen = true;
        self.turn_segments = 0;
    }

    /// Adds a line of telemux's own (a gap notice) to the output.
    pub fn note(&mut self, text: &str) {
        self.push_line(text);
    }

    /// Applies one output record.
    pub fn apply(&mut self, ev: &OutputEvent) {
        match ev {
            OutputEvent::Lines { lines, partial, .. } => {
                for l in lines {
                    self.push_line(l);
                }
                self.set_partial(partial);
            }
            OutputEvent::Frame { rows, .. } => self.set_frame(rows),
            // Only terminal emulators follow these.
            OutputEvent::Raw { .. } => {}
            OutputEvent::CommandFinished {
                exit_code,
                started_ms,
                finished_ms,
            } => {
                self.finish(exit_footer(
                    *exit_code,
                    Some(finished_ms.saturating_sub(*started_ms)),
                ));
            }
            OutputEvent::SessionExited {
                exit_status,
                signal,
                timed_out,
            } => {
                let mut f = format!("session ended · {}", exit_footer(*exit_status, None));
                if let Some(s) = signal {
                    f.push_str(&format!(" (signal {s})"));
                }
                if *timed_out {
                    f.push_str(" (timed out)");
                }
                self.finish(f);
                self.ended = true;
            }
            OutputEvent::SessionClosed { reason } => {
                if !self.ended {
                    self.finish(format!("session closed ({reason})"));
                }
                self.ended = true;
            }
            OutputEvent::Gap {
                from_seq, to_seq, ..
            } => self.note(&format!(
                "[telemux: output records {from_seq}..{to_seq} were lost]"
            )),
            OutputEvent::Renamed { from, to, .. } => {
                self.note(&format!("[telemux: session renamed {from} → {to}]"))
            }
            OutputEvent::AgentState { state, detail, .. } => self.set_agent(*state, detail),
        }
    }

    /// Shows an agent's state under the active message.
    pub fn set_agent(&mut self, state: AgentState, detail: &str) {
        let line = agent_status(state, detail);
        self.status = Some(line.clone());
        // A frozen last segment (an ended turn) still gets the new line:
        // it is the message the user looks at.
        if self.segs.is_empty() {
            self.open();
        }
        if let Some(seg) = self.segs.back_mut() {
            seg.status = Some(line);
        }
    }

    /// Every message of a running session carries the buttons (they all act
    /// on the same session), so starting a new message never costs an edit.
    fn buttons_for(&self, _i: usize) -> bool {
        self.buttons && !self.ended
    }

    /// Whether anything waits for delivery.
    pub fn dirty(&self) -> bool {
        self.next_action().is_some()
    }

    /// The next API call: the first segment whose rendering changed.
    pub fn next_action(&self) -> Option<Action> {
        for (i, s) in self.segs.iter().enumerate() {
            if !s.has_content() {
                continue;
            }
            let r = s.render(self.buttons_for(i));
            if s.sent.as_deref() == Some(r.key().as_str()) {
                continue;
            }
            return Some(Action {
                seg_id: s.id,
                message_id: s.message_id,
                rendered: r,
                snapshot: s.clone(),
                cursor: self.cursor.clone(),
            });
        }
        None
    }

    /// Records a successful delivery; returns what to persist when everything
    /// up to the action's cursor is now delivered.
    pub fn delivered(&mut self, a: &Action, message_id: Option<i32>) -> Option<LiveState> {
        let key = a.rendered.key();
        let pos = self.segs.iter().position(|s| s.id == a.seg_id)?;
        {
            let s = &mut self.segs[pos];
            if message_id.is_some() {
                s.message_id = message_id;
            }
            s.sent = Some(key.clone());
        }
        let last = pos + 1 == self.segs.len();
        let earlier_clean = self.segs.iter().take(pos).enumerate().all(|(i, s)| {
            !s.has_content() || s.sent.as_deref() == Some(&*s.render(self.buttons_for(i)).key())
        });
        // Finished segments before the active one need no more work: forget them.
        while self.segs.len() > 1 {
            let i = 0;
            let f = &self.segs[i];
            let clean = !f.has_content()
                || f.sent.as_deref() == Some(&*f.render(self.buttons_for(i)).key());
            if f.frozen && clean {
                self.segs.pop_front();
            } else {
                break;
            }
        }
        (last && earlier_clean).then(|| {
            let mut seg = a.snapshot.clone();
            seg.message_id = message_id.or(seg.message_id);
            seg.sent = Some(key);
            LiveState {
                cursor: a.cursor.clone(),
                seg,
                turn_segments: self.turn_segments,
                ended: self.ended,
            }
        })
    }

    /// The message is gone from Telegram: send it again as a new one.
    pub fn forget_message(&mut self, seg_id: u64) {
        if let Some(s) = self.segs.iter_mut().find(|s| s.id == seg_id) {
            s.message_id = None;
            s.sent = None;
        }
    }

    /// Telegram refused the HTML: switch that segment to plain text.
    pub fn make_plain(&mut self, seg_id: u64) {
        if let Some(s) = self.segs.iter_mut().find(|s| s.id == seg_id) {
            s.plain = true;
        }
    }

    /// Telegram refused the segment for good: stop trying.
    pub fn give_up(&mut self, a: &Action) {
        if let Some(s) = self.segs.iter_mut().find(|s| s.id == a.seg_id) {
            s.sent = Some(a.rendered.key());
        }
    }

    /// Number of segments held (for bounds checks).
    pub fn len(&self) -> usize {
        self.segs.len()
    }

    /// Whether no segment is held.
    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }
}

/// The status line of an agent in `state` (plain text; escaped when rendered).
pub fn agent_status(state: AgentState, detail: &str) -> String {
    match state {
        AgentState::Starting => "🤖 agent starting…".into(),
        AgentState::Working => "⏳ agent working…".into(),
        AgentState::WaitingForInput => {
            let d = clean(detail.trim());
            let d: String = if d.chars().count() > MAX_DETAIL {
                d.chars().take(MAX_DETAIL).chain(['…']).collect()
            } else {
                d
            };
            format!("❓ agent waiting for you: {d}")
        }
        AgentState::Idle => "💤 agent idle — your turn".into(),
        AgentState::Exited => "⏹ agent exited".into(),
        AgentState::Suspended => "🌙 agent suspended — your next message resumes it".into(),
    }
}

/// `✅ 0 · 1.2 s` / `❌ 2 · 3 min`.
pub fn exit_footer(code: i32, duration_ms: Option<u64>) -> String {
    let mark = if code == 0 { "✅" } else { "❌" };
    match duration_ms {
        Some(ms) => format!("{mark} {code} · {}", duration(ms)),
        None => format!("{mark} {code}"),
    }
}

/// Short duration: `0.4 s`, `12.0 s`, `3 min 5 s`.
pub fn duration(ms: u64) -> String {
    if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}
