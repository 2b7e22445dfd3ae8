//! `search` (CLI `grep`, MCP `search_output`): a regular expression over the
//! retained output of a node's sessions. The hit and reply types, the limits
//! that bound one request's work on a node, and the one way a pattern is
//! compiled, so a client refuses what a node would refuse, in the same words.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest pattern accepted, in characters.
pub const MAX_PATTERN_CHARS: usize = 1000;
/// Bound on the compiled program (`RegexBuilder::size_limit`), 1 MiB.
pub const REGEX_SIZE_LIMIT: usize = 1024 * 1024;
/// Bound on the lazy DFA's cache (`RegexBuilder::dfa_size_limit`), 1 MiB.
pub const DFA_SIZE_LIMIT: usize = 1024 * 1024;
/// Most output records one node reads for one request (over all its sessions).
pub const MAX_SCANNED_RECORDS: u64 = 100_000;
/// Most time one node spends on one request.
pub const TIME_BUDGET: Duration = Duration::from_secs(2);
/// Most hits one request returns (the default is [`DEFAULT_MAX_RESULTS`]).
pub const MAX_RESULTS: u32 = 1000;
/// Hits returned when the caller names no maximum.
pub const DEFAULT_MAX_RESULTS: u32 = 100;
/// Longest hit line returned, in characters (longer lines are cut, with `…`).
pub const MAX_LINE_CHARS: usize = 500;

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// Computer that holds the session.
    pub computer: String,
    /// Session whose output matched.
    pub session: String,
    /// The line (ANSI-free; at most [`MAX_LINE_CHARS`] characters).
    pub line: String,
    /// When the record holding the line was published (ms since epoch).
    pub ts_ms: u64,
    /// The stream id just before the record holding the line (`0-0` for the
    /// first entry): reading output after it (`tail --cursor`, MCP
    /// `read_output since`) starts with the hit.
    pub cursor: String,
}

/// A node's answer to `Op::Search`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Found {
    /// Hits, sessions in name order, oldest first within a session.
    pub hits: Vec<Hit>,
    /// A bound stopped the search before every retained record was read.
    pub truncated: bool,
    /// Output records read.
    pub scanned_records: u64,
    /// Sessions whose streams were searched.
    #[serde(default)]
    pub sessions: u32,
    /// Time the node spent.
    pub elapsed_ms: u64,
    /// Which bound stopped it, with a hint how to narrow the search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_note: Option<String>,
}

/// A pattern that cannot be searched for.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// Longer than [`MAX_PATTERN_CHARS`].
    #[error("the pattern is {chars} characters long; the limit is {limit} characters")]
    TooLong {
        /// Its length.
        chars: usize,
        /// [`MAX_PATTERN_CHARS`].
        limit: usize,
    },
    /// Not a valid regular expression, or one whose program exceeds
    /// [`REGEX_SIZE_LIMIT`] (the text is the regex crate's).
    #[error("bad pattern: {0}")]
    Regex(String),
}

/// Compiles `pattern` within the limits above (Rust `regex` syntax; it runs
/// in time linear in the text, so no pattern can backtrack for ever).
pub fn compile(pattern: &str) -> Result<regex::Regex, PatternError> {
    let chars = pattern.chars().count();
    if chars > MAX_PATTERN_CHARS {
        return Err(PatternError::TooLong {
            chars,
            limit: MAX_PATTERN_CHARS,
        });
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| PatternError::Regex(e.to_string()))
}

/// `line` cut to [`MAX_LINE_CHARS`] characters (with `…` when cut).
pub fn clip_line(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_patterns_are_refused_naming_the_limit() {
        let e = compile(&"a".repeat(MAX_PATTERN_CHARS + 1)).unwrap_err();
        assert!(e.to_string().contains("limit is 1000 characters"), "{e}");
        assert!(compile(&"a".repeat(MAX_PATTERN_CHARS)).is_ok());
    }

    #[test]
    fn huge_programs_are_refused() {
        let e = compile(r"\w{1000}\w{1000}").unwrap_err();
        assert!(matches!(e, PatternError::Regex(_)), "{e}");
    }

    #[test]
    fn lines_are_clipped_on_char_boundaries() {
        let long = "é".repeat(MAX_LINE_CHARS + 10);
        let c = clip_line(&long);
        assert_eq!(c.chars().count(), MAX_LINE_CHARS + 1);
        assert_eq!(clip_line("short"), "short");
    }
}
