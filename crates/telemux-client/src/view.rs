//! The one view of output records: how an [`OutputRecord`] reads as text and
//! as JSON, for every front end.
//!
//! * [`event_note`] — the sentence for an event (command finished, session
//!   exited, …); every front end words events the same way.
//! * [`Transcript`] — records collected into one text with `[telemux: …]`
//!   notes (MCP `read_output`/`wait_for`, the output of `run`).
//! * [`Printer`] — records as a stream for people (`telemux tail`, `telemux
//!   run`): what to write to stdout and stderr for each record.
//! * [`record_json`] — one record as a JSON object (`tail --json`).
//!
//! A lines record carries completed lines plus the unfinished last line
//! (`partial`), which a later record may still complete or redraw. So the
//! partial is shown only when nothing can follow it — at the session's end —
//! and never twice. (Telegram edits messages in place, so it shows partials
//! live; it keeps its own segment renderer in `telemux-gateway`.)
//!
//! Everything here is pure, so the exact texts are unit-tested.

use serde_json::{json, Value};
use telemux_proto::{OutputEvent, OutputRecord};

/// The sentence for an event record, `None` for output (lines, screens).
pub fn event_note(ev: &OutputEvent) -> Option<String> {
    Some(match ev {
        OutputEvent::Lines { .. } | OutputEvent::Frame { .. } | OutputEvent::Raw { .. } => {
            return None
        }
        OutputEvent::CommandFinished {
            exit_code,
            started_ms,
            finished_ms,
        } => format!(
            "command finished: exit code {exit_code}, {} ms",
            finished_ms.saturating_sub(*started_ms)
        ),
        OutputEvent::SessionExited {
            exit_status,
            timed_out,
            ..
        } => {
            let t = if *timed_out { ", timed out" } else { "" };
            format!("session exited: status {exit_status}{t}")
        }
        OutputEvent::SessionClosed { reason } => format!("session closed: {reason}"),
        OutputEvent::Gap { reason, .. } => format!("gap in output: {reason}"),
        OutputEvent::Renamed { from, to, .. } => format!("session renamed: {from} → {to}"),
        OutputEvent::AgentState {
            state,
            detail,
            prompt: Some(p),
            ..
        } => {
            let choices: Vec<String> = p
                .choices
                .iter()
                .map(|c| format!("{}. {}", c.number, c.label))
                .collect();
            format!("agent {state}: {detail} [{}]", choices.join(" | "))
        }
        OutputEvent::AgentState { state, detail, .. } => format!("agent {state}: {detail}"),
    })
}

/// Whether nothing can follow this record in its session's stream.
fn is_end(ev: &OutputEvent) -> bool {
    matches!(
        ev,
        OutputEvent::SessionExited { .. } | OutputEvent::SessionClosed { .. }
    )
}

/// What a [`Transcript`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Output, screens and a note per event (for a model reading a session).
    Everything,
    /// Only the program's output lines and gap notes (what `run` returns):
    /// the exit is the result itself, not part of the output.
    OutputOnly,
}

/// Output records collected as one text, plus what happened among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// Completed lines, screens and event notes, in order.
    pub text: String,
    /// The unfinished last line (typically a prompt), when there is one.
    pub partial: String,
    /// Completed lines and screen rows added to `text`.
    pub lines: usize,
    /// Exit code of the last shell command that finished, if one did.
    pub command_exit_code: Option<i32>,
    /// Exit status of the session's process, if it ended.
    pub session_exit_status: Option<i32>,
    /// Why the session is gone, if it was closed.
    pub closed: Option<String>,
    keep: Keep,
    /// Output lines that would take `text` past this many bytes are dropped.
    limit: usize,
}

impl Default for Transcript {
    fn default() -> Transcript {
        Transcript {
            text: String::new(),
            partial: String::new(),
            lines: 0,
            command_exit_code: None,
            session_exit_status: None,
            closed: None,
            keep: Keep::Everything,
            limit: usize::MAX,
        }
    }
}

impl Transcript {
    /// Only output lines and gap notes, at most `limit` bytes of lines (for `run`).
    pub fn output_only(limit: usize) -> Transcript {
        Transcript {
            keep: Keep::OutputOnly,
            limit,
            ..Transcript::default()
        }
    }

    /// Adds one record (stream order); `raw` keeps the bytes with their escapes.
    pub fn push(&mut self, rec: &OutputRecord, raw: bool) {
        match &rec.event {
            OutputEvent::Lines {
                lines,
                partial,
                raw: bytes,
            } => {
                if raw {
                    self.text.push_str(&String::from_utf8_lossy(bytes));
                } else {
                    for l in lines {
                        if self.text.len() + l.len() < self.limit {
                            self.text.push_str(l);
                            self.text.push('\n');
                        }
                    }
                    self.partial = partial.clone();
                }
                self.lines += lines.len();
            }
            OutputEvent::Raw { raw: bytes } => {
                if raw {
                    self.text.push_str(&String::from_utf8_lossy(bytes));
                }
            }
            // A command's screen is not its output: `run` is for commands
            // that print, and a model reading a session gets the screen.
            OutputEvent::Frame { .. } if self.keep == Keep::OutputOnly => {}
            OutputEvent::Frame { rows, raw: bytes } => {
                if raw {
                    self.text.push_str(&String::from_utf8_lossy(bytes));
                } else {
                    self.note("full-screen program: current screen follows");
                    for r in rows {
                        self.text.push_str(r);
                        self.text.push('\n');
                    }
                    self.partial.clear();
                }
                self.lines += rows.len();
            }
            ev => {
                match ev {
                    OutputEvent::CommandFinished { exit_code, .. } => {
                        self.command_exit_code = Some(*exit_code)
                    }
                    OutputEvent::SessionExited { exit_status, .. } => {
                        self.session_exit_status = Some(*exit_status)
                    }
                    OutputEvent::SessionClosed { reason } => self.closed = Some(reason.clone()),
                    _ => {}
                }
                let shown = self.keep == Keep::Everything || matches!(ev, OutputEvent::Gap { .. });
                if let (true, Some(n)) = (shown, event_note(ev)) {
                    self.note(&n);
                }
            }
        }
    }

    /// Adds a `[telemux: ...]` line. The unfinished line stays pending: the
    /// next record may complete it, and it must not appear twice.
    pub fn note(&mut self, what: &str) {
        self.text.push_str(&format!("[telemux: {what}]\n"));
    }

    /// The whole text including the unfinished last line.
    pub fn full_text(&self) -> String {
        let mut t = self.text.clone();
        t.push_str(&self.partial);
        t
    }
}

/// What to write for one record: `out` to stdout, `err` (a line) to stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Printed {
    /// Bytes for standard output.
    pub out: Vec<u8>,
    /// A notice for standard error (gaps), without its newline.
    pub err: Option<String>,
}

/// Records as a stream for people: output as it comes, events as `[…]` lines.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    /// Write the terminal bytes with their escapes instead of rendered lines.
    pub raw: bool,
    /// Leave out the event lines (for `run`, whose exit is its status).
    pub quiet_events: bool,
    /// The unfinished last line so far, printed when the session ends.
    partial: String,
}

impl Printer {
    /// A printer; `quiet_events` leaves out the event lines.
    pub fn new(raw: bool, quiet_events: bool) -> Printer {
        Printer {
            raw,
            quiet_events,
            partial: String::new(),
        }
    }

    /// What to write for `rec` (records in stream order).
    pub fn render(&mut self, rec: &OutputRecord) -> Printed {
        let mut p = Printed::default();
        let out = &mut p.out;
        match &rec.event {
            OutputEvent::Lines {
                lines,
                partial,
                raw: bytes,
            } => {
                if self.raw {
                    out.extend_from_slice(bytes);
                } else {
                    for l in lines {
                        out.extend_from_slice(l.as_bytes());
                        out.push(b'\n');
                    }
                    self.partial = partial.clone();
                }
            }
            OutputEvent::Frame { rows, raw: bytes } => {
                if self.raw {
                    out.extend_from_slice(bytes);
                } else {
                    out.extend_from_slice(format!("--- screen (seq {}) ---\n", rec.seq).as_bytes());
                    for r in rows {
                        out.extend_from_slice(r.as_bytes());
                        out.push(b'\n');
                    }
                    self.partial.clear();
                }
            }
            OutputEvent::Raw { raw: bytes } => {
                if self.raw {
                    out.extend_from_slice(bytes);
                }
            }
            OutputEvent::Gap { .. } => p.err = event_note(&rec.event),
            ev => {
                // The session ended: its unfinished last line is final now
                // (`printf done` prints no newline, and must still show).
                let last = is_end(ev).then(|| std::mem::take(&mut self.partial));
                let last = last.filter(|l| !l.is_empty());
                if let Some(l) = &last {
                    out.extend_from_slice(l.as_bytes());
                }
                if !self.quiet_events {
                    if last.is_some() {
                        out.push(b'\n');
                    }
                    if let Some(n) = event_note(ev) {
                        out.extend_from_slice(format!("[{n}]\n").as_bytes());
                    }
                }
            }
        }
        p
    }
}

/// One record as a JSON object with its stream id as `cursor` (`tail --json`).
pub fn record_json(cursor: &str, rec: &OutputRecord) -> Value {
    let mut v = match &rec.event {
        OutputEvent::Lines { lines, partial, .. } => {
            json!({"type": "lines", "lines": lines, "partial": partial})
        }
        OutputEvent::Frame { rows, .. } => json!({"type": "frame", "rows": rows}),
        OutputEvent::Raw { raw } => json!({"type": "raw", "bytes": raw.len()}),
        OutputEvent::CommandFinished {
            exit_code,
            started_ms,
            finished_ms,
        } => {
            json!({"type": "command_finished", "exit_code": exit_code, "started_ms": started_ms, "finished_ms": finished_ms})
        }
        OutputEvent::SessionExited {
            exit_status,
            signal,
            timed_out,
        } => {
            json!({"type": "session_exited", "exit_status": exit_status, "signal": signal, "timed_out": timed_out})
        }
        OutputEvent::Gap {
            from_seq,
            to_seq,
            reason,
        } => {
            json!({"type": "gap", "from_seq": from_seq, "to_seq": to_seq, "reason": reason})
        }
        OutputEvent::SessionClosed { reason } => {
            json!({"type": "session_closed", "reason": reason})
        }
        OutputEvent::Renamed { from, to, .. } => {
            json!({"type": "session_renamed", "from": from, "to": to})
        }
        OutputEvent::AgentState {
            state,
            detail,
            prompt,
            source,
        } => {
            let mut v = json!({"type": "agent_state", "state": state, "detail": detail});
            if let Some(p) = prompt {
                v["prompt"] = json!(p);
            }
            if !source.is_empty() {
                v["source"] = json!(source);
            }
            v
        }
    };
    v["seq"] = json!(rec.seq);
    v["ts_ms"] = json!(rec.ts_ms);
    v["cursor"] = json!(cursor);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(ls: &[&str], partial: &str) -> OutputRecord {
        OutputRecord {
            seq: 1,
            ts_ms: 0,
            event: OutputEvent::Lines {
                lines: ls.iter().map(|s| s.to_string()).collect(),
                partial: partial.into(),
                raw: format!("{}\r\n{partial}", ls.join("\r\n")).into_bytes(),
            },
        }
    }

    fn exited(status: i32) -> OutputRecord {
        OutputRecord {
            seq: 9,
            ts_ms: 0,
            event: OutputEvent::SessionExited {
                exit_status: status,
                signal: None,
                timed_out: false,
            },
        }
    }

    #[test]
    fn records_render_lines_partial_and_events() {
        let mut r = Transcript::default();
        r.push(&lines(&["$ false"], ""), false);
        r.push(
            &OutputRecord {
                seq: 2,
                ts_ms: 0,
                event: OutputEvent::CommandFinished {
                    exit_code: 1,
                    started_ms: 10,
                    finished_ms: 15,
                },
            },
            false,
        );
        r.push(&lines(&[], "$ "), false);
        assert_eq!(r.command_exit_code, Some(1));
        assert_eq!(r.lines, 1);
        assert_eq!(
            r.full_text(),
            "$ false\n[telemux: command finished: exit code 1, 5 ms]\n$ "
        );
    }

    #[test]
    fn raw_keeps_bytes() {
        let mut r = Transcript::default();
        r.push(&lines(&["a"], "b"), true);
        assert_eq!(r.full_text(), "a\r\nb");
    }

    #[test]
    fn output_only_keeps_lines_and_the_last_partial_but_no_exit_note() {
        let mut r = Transcript::output_only(usize::MAX);
        r.push(&lines(&["first"], "tail"), false);
        r.push(&exited(0), false);
        assert_eq!(r.session_exit_status, Some(0));
        assert_eq!(r.full_text(), "first\ntail");
    }

    #[test]
    fn printer_prints_the_unfinished_last_line_when_the_session_ends() {
        let mut quiet = Printer::new(false, true);
        let mut out = Vec::new();
        for rec in [lines(&["first"], "tail"), exited(0)] {
            out.extend(quiet.render(&rec).out);
        }
        assert_eq!(String::from_utf8(out).unwrap(), "first\ntail");

        let mut loud = Printer::new(false, false);
        let mut out = Vec::new();
        for rec in [lines(&[], "$ "), lines(&["$ ls"], "par"), exited(3)] {
            out.extend(loud.render(&rec).out);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "$ ls\npar\n[session exited: status 3]\n"
        );
    }

    #[test]
    fn printer_sends_gaps_to_stderr() {
        let mut p = Printer::new(false, false);
        let gap = OutputRecord {
            seq: 3,
            ts_ms: 0,
            event: OutputEvent::Gap {
                from_seq: 1,
                to_seq: 2,
                reason: "trimmed".into(),
            },
        };
        let printed = p.render(&gap);
        assert!(printed.out.is_empty());
        assert_eq!(printed.err.as_deref(), Some("gap in output: trimmed"));
    }
}
