//! Bounding output for a model: long output is cut to its head and tail with
//! an explicit "N lines omitted" marker. (Records become text in the one
//! record view, `telemux_client::view`.)
//!
//! Everything here is pure, so the exact texts an agent sees are unit-tested.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
