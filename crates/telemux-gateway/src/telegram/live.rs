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

use serde::{Deserialize, Serialize};
use telemux_proto::{AgentState, OutputEvent};

use super::html::{clean, escape, split_utf16, utf16_len};

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

/// One Telegram message of a live slot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Local id, stable while the segment lives.
    pub id: u64,
    /// The Telegram message once sent.
    pub message_id: Option<i32>,
    lines: VecDeque<String>,
    len16: usize,
    partial: String,
    frame: Option<String>,
    omitted_lines: u64,
    skipped_messages: u64,
    footer: Option<String>,
    /// Prebuilt HTML (command replies) instead of `<pre>` output.
    raw_html: Option<String>,
    /// An agent session's state line, shown under the output.
    #[serde(default)]
    status: Option<String>,
    /// No more content will be added.
    pub frozen: bool,
    /// Telegram refused the HTML: send plain text.
    pub plain: bool,
    /// Rendering last delivered (text + whether buttons were shown).
    sent: Option<String>,
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
}

impl Rendered {
    fn key(&self) -> String {
        format!("{}|{}|{}", self.html, self.buttons, self.text)
    }
}

impl Segment {
    /// Whether it holds anything to show.
    fn has_content(&self) -> bool {
        self.has_output() || self.status.is_some()
    }

    /// Whether it holds output or notes (a status line alone is not output:
    /// the first screen may take its place).
    fn has_output(&self) -> bool {
        !self.lines.is_empty()
            || self.frame.is_some()
            || self.footer.is_some()
            || self.raw_html.is_some()
            || self.omitted_lines > 0
            || self.skipped_messages > 0
    }

    fn body(&self) -> String {
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
        }
    }

    fn used(&self) -> usize {
        self.len16 + utf16_len(&self.partial) + RESERVE
    }

    /// Drops lines from the front until `extra` more units fit.
    fn make_room(&mut self, extra: usize) {
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
        let mut l = Live::new(false);
        let id = l.alloc();
        l.segs.push_back(Segment {
            id,
            raw_html: Some(html),
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
            OutputEvent::AgentState { state, detail } => self.set_agent(*state, detail),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telegram::html::visible_len;

    fn lines(n: usize, from: usize) -> OutputEvent {
        OutputEvent::Lines {
            lines: (from..from + n).map(|i| format!("line {i} <&>")).collect(),
            partial: String::new(),
            raw: Vec::new(),
        }
    }

    /// Delivers everything as a perfect Telegram would, returning the calls made.
    fn drain(l: &mut Live, next_msg: &mut i32) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(a) = l.next_action() {
            let id = match a.message_id {
                Some(_) => None,
                None => {
                    *next_msg += 1;
                    Some(*next_msg)
                }
            };
            l.delivered(&a, id);
            out.push(a);
        }
        out
    }

    #[test]
    fn one_message_per_command_with_footer() {
        let mut l = Live::new(true);
        l.apply(&lines(2, 0));
        let mut n = 0;
        let calls = drain(&mut l, &mut n);
        assert_eq!(calls.len(), 1);
        assert!(calls[0].rendered.text.contains("line 0 &lt;&amp;&gt;"));
        assert!(calls[0].rendered.buttons);
        l.apply(&OutputEvent::CommandFinished {
            exit_code: 3,
            started_ms: 1000,
            finished_ms: 2500,
        });
        let calls = drain(&mut l, &mut n);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].message_id, Some(1));
        assert!(
            calls[0].rendered.text.ends_with("❌ 3 · 1.5 s"),
            "{}",
            calls[0].rendered.text
        );
        // The prompt alone does not open a message.
        l.apply(&OutputEvent::Lines {
            lines: vec![],
            partial: "$ ".into(),
            raw: vec![],
        });
        assert!(drain(&mut l, &mut n).is_empty());
        l.apply(&lines(1, 5));
        let calls = drain(&mut l, &mut n);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].message_id, None);
    }

    #[test]
    fn ten_thousand_lines_stay_bounded_and_short() {
        let mut l = Live::new(true);
        let mut n = 0;
        let mut total = 0;
        for b in 0..100 {
            l.apply(&lines(100, b * 100));
            assert!(l.len() <= MAX_QUEUED);
            if b % 10 == 0 {
                for a in drain(&mut l, &mut n) {
                    assert!(visible_len(&a.rendered.text) < 4096);
                    total += 1;
                }
            }
        }
        for a in drain(&mut l, &mut n) {
            assert!(visible_len(&a.rendered.text) < 4096);
            total += 1;
        }
        assert!(n as usize <= MAX_SEGMENTS_PER_TURN, "{n} messages");
        assert!(total < 40, "{total} calls");
        let last = l.segs.back().unwrap().render(true).text;
        assert!(last.contains("line 9999"), "{last}");
        assert!(last.contains("lines not shown"));
    }

    #[test]
    fn undelivered_output_is_coalesced() {
        let mut l = Live::new(true);
        for i in 0..100 {
            l.apply(&lines(1, i));
            l.apply(&OutputEvent::CommandFinished {
                exit_code: 0,
                started_ms: 0,
                finished_ms: 1,
            });
        }
        assert!(l.len() <= MAX_QUEUED);
        let a = l.next_action().unwrap();
        assert!(a.rendered.text.contains("skipped"), "{}", a.rendered.text);
    }

    #[test]
    fn frames_replace_and_long_lines_split() {
        let mut l = Live::new(false);
        l.apply(&OutputEvent::Frame {
            rows: vec!["a".into(), "b".into(), "".into()],
            raw: vec![],
        });
        l.apply(&OutputEvent::Frame {
            rows: vec!["c😀".into()],
            raw: vec![],
        });
        let mut n = 0;
        let calls = drain(&mut l, &mut n);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].rendered.text, "<pre>c😀</pre>");
        l.apply(&OutputEvent::Lines {
            lines: vec!["😀".repeat(5000)],
            partial: String::new(),
            raw: vec![],
        });
        for a in drain(&mut l, &mut n) {
            assert!(visible_len(&a.rendered.text) < 4096);
        }
    }

    #[test]
    fn agent_state_is_a_status_line_on_the_active_message() {
        let mut l = Live::new(true);
        l.apply(&OutputEvent::AgentState {
            state: AgentState::Starting,
            detail: "claude started".into(),
        });
        let mut n = 0;
        let calls = drain(&mut l, &mut n);
        assert_eq!(calls.len(), 1);
        assert!(calls[0].rendered.text.ends_with("🤖 agent starting…"));
        l.apply(&OutputEvent::Frame {
            rows: vec!["│ > │".into()],
            raw: vec![],
        });
        l.apply(&OutputEvent::AgentState {
            state: AgentState::WaitingForInput,
            detail: "Do <you> want & proceed?".into(),
        });
        let calls = drain(&mut l, &mut n);
        assert_eq!(calls.len(), 1, "one edit of the same message");
        assert_eq!(calls[0].message_id, Some(1));
        assert_eq!(
            calls[0].rendered.text,
            "<pre>│ &gt; │</pre>\n❓ agent waiting for you: Do &lt;you&gt; want &amp; proceed?"
        );
        // A new message carries the state on.
        l.apply(&lines(1, 0));
        let calls = drain(&mut l, &mut n);
        assert!(calls
            .last()
            .unwrap()
            .rendered
            .text
            .ends_with("❓ agent waiting for you: Do &lt;you&gt; want &amp; proceed?"));
        l.apply(&OutputEvent::AgentState {
            state: AgentState::Idle,
            detail: String::new(),
        });
        let calls = drain(&mut l, &mut n);
        assert_eq!(calls.len(), 1);
        assert!(calls[0]
            .rendered
            .text
            .ends_with("💤 agent idle — your turn"));
        let long = "x".repeat(1000);
        assert!(
            agent_status(AgentState::WaitingForInput, &long)
                .chars()
                .count()
                < 250
        );
    }

    #[test]
    fn restore_continues_the_same_message() {
        let mut l = Live::new(true);
        l.cursor = Some("1-0".into());
        l.apply(&lines(1, 0));
        let a = l.next_action().unwrap();
        let st = l.delivered(&a, Some(7)).unwrap();
        let json = serde_json::to_string(&st).unwrap();
        let mut r = Live::restore(true, serde_json::from_str(&json).unwrap());
        assert!(!r.dirty());
        r.apply(&lines(1, 1));
        let a = r.next_action().unwrap();
        assert_eq!(a.message_id, Some(7));
        assert!(a.rendered.text.contains("line 0") && a.rendered.text.contains("line 1"));
    }
}
