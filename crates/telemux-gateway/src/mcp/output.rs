//! Turning session output into text a model can read: bounding long output to
//! its head and tail with an explicit "N lines omitted" marker, and rendering
//! output-stream records (read with a `since` cursor) as lines plus event notes.
//!
//! Everything here is pure, so the exact texts an agent sees are unit-tested.

use telemux_proto::{OutputEvent, OutputRecord};

/// Lines kept from the start of a long output.
pub const HEAD_LINES: usize = 60;
/// Lines kept from the end of a long output (the end is usually what matters).
pub const TAIL_LINES: usize = 140;
/// Characters kept of one line; a longer one is cut with a marker.
pub const MAX_LINE_CHARS: usize = 2000;

/// A text cut down to its head and tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounded {
    /// The text with the middle replaced by a marker line.
    pub text: String,
    /// How many lines the marker replaced (0: nothing omitted).
    pub omitted: usize,
}

/// Cuts `line` to [`MAX_LINE_CHARS`] characters, saying how much was cut.
fn cut_line(line: &str) -> String {
    let n = line.chars().count();
    if n <= MAX_LINE_CHARS {
        return line.to_string();
    }
    let kept: String = line.chars().take(MAX_LINE_CHARS).collect();
    format!("{kept}… [{} characters cut]", n - MAX_LINE_CHARS)
}

/// Keeps the first `head` and last `tail` lines of `text`; the lines between
/// become one line `[... N lines omitted ...]`. Very long lines are cut too.
pub fn bound(text: &str, head: usize, tail: usize) -> Bounded {
    let ends_with_newline = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let omitted = lines.len().saturating_sub(head + tail);
    if omitted == 0 {
        out.extend(lines.iter().map(|l| cut_line(l)));
    } else {
        out.extend(lines[..head].iter().map(|l| cut_line(l)));
        out.push(format!(
            "[... {omitted} lines omitted; read the session with read_output to see them ...]"
        ));
        out.extend(lines[lines.len() - tail..].iter().map(|l| cut_line(l)));
    }
    let mut text = out.join("\n");
    if ends_with_newline && !text.is_empty() {
        text.push('\n');
    }
    Bounded { text, omitted }
}

/// [`bound`] with the default [`HEAD_LINES`] and [`TAIL_LINES`].
pub fn bound_default(text: &str) -> Bounded {
    bound(text, HEAD_LINES, TAIL_LINES)
}

/// Output records rendered as text, plus what happened among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
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
}

impl Rendered {
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
                        self.text.push_str(l);
                        self.text.push('\n');
                    }
                    self.partial = partial.clone();
                }
                self.lines += lines.len();
            }
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
            OutputEvent::CommandFinished {
                exit_code,
                started_ms,
                finished_ms,
            } => {
                self.command_exit_code = Some(*exit_code);
                let ms = finished_ms.saturating_sub(*started_ms);
                self.note(&format!("command finished: exit code {exit_code}, {ms} ms"));
            }
            OutputEvent::SessionExited {
                exit_status,
                timed_out,
                ..
            } => {
                self.session_exit_status = Some(*exit_status);
                let t = if *timed_out { ", timed out" } else { "" };
                self.note(&format!("session exited: status {exit_status}{t}"));
            }
            OutputEvent::SessionClosed { reason } => {
                self.closed = Some(reason.clone());
                self.note(&format!("session closed: {reason}"));
            }
            OutputEvent::Gap { reason, .. } => {
                self.note(&format!("gap in output: {reason}"));
            }
            OutputEvent::AgentState { state, detail } => {
                self.note(&format!("agent {state}: {detail}"));
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

    #[test]
    fn short_text_is_unchanged() {
        let b = bound("a\nb\nc\n", 2, 2);
        assert_eq!(b.text, "a\nb\nc\n");
        assert_eq!(b.omitted, 0);
    }

    #[test]
    fn long_text_keeps_head_and_tail_and_says_how_much_is_gone() {
        let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        let b = bound(&text, 2, 3);
        assert_eq!(b.omitted, 5);
        assert_eq!(
            b.text,
            "line 1\nline 2\n[... 5 lines omitted; read the session with read_output to see them ...]\nline 8\nline 9\nline 10\n"
        );
    }

    #[test]
    fn very_long_lines_are_cut() {
        let long = "x".repeat(MAX_LINE_CHARS + 5);
        let b = bound(&long, 2, 2);
        assert!(b.text.ends_with("… [5 characters cut]"), "{}", b.text);
    }

    #[test]
    fn records_render_lines_partial_and_events() {
        let mut r = Rendered::default();
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
        let mut r = Rendered::default();
        r.push(&lines(&["a"], "b"), true);
        assert_eq!(r.full_text(), "a\r\nb");
    }
}
