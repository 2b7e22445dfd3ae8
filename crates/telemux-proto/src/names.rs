//! Computer and session names: the rules, addresses, and "did you mean".
//!
//! Names are checked before they reach tmux or Redis keys, because `:` `.` `;`
//! spaces and a leading `-` are tmux target syntax or shell syntax. Names are
//! matched case-insensitively; keys use the lowercase form.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{limits::MAX_NAME_LEN, ProtoError};

/// Human-readable statement of the computer name rule, used in errors.
pub const COMPUTER_RULE: &str =
    "1-64 characters: letters, digits, '_', '.', '-', starting with a letter or digit";
/// Human-readable statement of the session name rule, used in errors.
pub const SESSION_RULE: &str =
    "1-64 characters: letters, digits, '_', '-', starting with a letter or digit ('.' and ':' are tmux target syntax)";

/// Whether `c` may appear in a name (after the first character).
fn allowed(c: char, allow_dot: bool) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || (allow_dot && c == '.')
}

/// `name` as it can be quoted in an error: control characters escaped (a
/// newline must not break the message in two), at most 60 characters.
pub fn shown(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i == 60 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The valid name closest to `name`: every run of characters that are not
/// allowed becomes one `-`, leading and trailing ones are dropped, and the
/// result is cut to [`MAX_NAME_LEN`]. `None` when too little of `name` is left
/// for the result to be what was meant (e.g. `é`, `$$$`).
pub fn nearest_valid(name: &str, allow_dot: bool) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        if allowed(c, allow_dot) {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let trimmed = trimmed.trim_end_matches('-');
    let kept = trimmed.chars().filter(|c| *c != '-').count();
    let meaningful = name.chars().filter(|c| !c.is_whitespace()).count();
    if trimmed.is_empty() || kept * 2 < meaningful.min(2 * MAX_NAME_LEN) {
        return None;
    }
    // Only ASCII is left, so cutting at a byte index is a character boundary.
    let cut = trimmed[..trimmed.len().min(MAX_NAME_LEN)].trim_end_matches(['-', '.']);
    Some(cut.to_string())
}

fn check(what: &'static str, name: &str, allow_dot: bool) -> Result<(), ProtoError> {
    let rule = if allow_dot {
        COMPUTER_RULE
    } else {
        SESSION_RULE
    };
    let bad = |problem: String| {
        let nearest = nearest_valid(name, allow_dot)
            .map(|n| format!("; nearest valid name: '{n}'"))
            .unwrap_or_default();
        ProtoError::InvalidName {
            what,
            name: shown(name),
            reason: format!("{problem}; allowed: {rule}{nearest}"),
        }
    };
    if name.is_empty() {
        return Err(bad("it is empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad(format!(
            "it is {} bytes long (at most {MAX_NAME_LEN})",
            name.len()
        )));
    }
    let first = name.chars().next().unwrap_or(' ');
    if !first.is_ascii_alphanumeric() {
        return Err(bad(format!("it starts with {first:?}")));
    }
    if let Some(c) = name.chars().find(|&c| !allowed(c, allow_dot)) {
        return Err(bad(format!("{c:?} is not allowed")));
    }
    Ok(())
}

/// A validated computer name such as `MozBook` (display case kept).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(try_from = "String", into = "String")]
pub struct ComputerName(String);

impl ComputerName {
    /// Validates `name` against [`COMPUTER_RULE`].
    pub fn new(name: &str) -> Result<Self, ProtoError> {
        check("computer", name, true)?;
        Ok(ComputerName(name.to_string()))
    }
    /// The name as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The case-folded form used in Redis keys and comparisons.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A validated tmux session name such as `api`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(try_from = "String", into = "String")]
pub struct SessionName(String);

impl SessionName {
    /// Validates `name` against [`SESSION_RULE`].
    pub fn new(name: &str) -> Result<Self, ProtoError> {
        check("session", name, false)?;
        Ok(SessionName(name.to_string()))
    }
    /// The name as tmux knows it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The case-folded form used in Redis keys and comparisons.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

macro_rules! string_like {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = ProtoError;
            fn try_from(s: String) -> Result<Self, ProtoError> {
                <$t>::new(&s)
            }
        }
        impl From<$t> for String {
            fn from(n: $t) -> String {
                n.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::str::FromStr for $t {
            type Err = ProtoError;
            fn from_str(s: &str) -> Result<Self, ProtoError> {
                <$t>::new(s)
            }
        }
    };
}
string_like!(ComputerName);
string_like!(SessionName);

/// A session address as typed by a user: `MozBook/api`, or a bare `api`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAddr {
    /// The computer part, absent for a bare session name.
    pub computer: Option<ComputerName>,
    /// The session part.
    pub session: SessionName,
}

impl SessionAddr {
    /// Parses `computer/session` or `session`, validating both parts.
    pub fn parse(s: &str) -> Result<Self, ProtoError> {
        match s.split_once('/') {
            Some((c, sess)) => Ok(SessionAddr {
                computer: Some(ComputerName::new(c)?),
                session: SessionName::new(sess)?,
            }),
            None => Ok(SessionAddr {
                computer: None,
                session: SessionName::new(s)?,
            }),
        }
    }
}

impl fmt::Display for SessionAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.computer {
            Some(c) => write!(f, "{c}/{}", self.session),
            None => write!(f, "{}", self.session),
        }
    }
}

/// Up to three known names closest to `input` (case-insensitive), best first.
pub fn suggest<'a>(input: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let input = input.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .map(|k| {
            let lk = k.to_ascii_lowercase();
            let mut score = strsim::jaro_winkler(&input, &lk);
            if lk.starts_with(&input) || input.starts_with(&lk) {
                score += 0.1;
            }
            (score, k)
        })
        .filter(|(s, _)| *s >= 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, k)| k.to_string())
        .collect()
}

/// Formats suggestions as "; did you mean A or B?" (empty when there are none).
pub fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        [init @ .., last] => format!("; did you mean {} or {last}?", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for n in ["MozBook", "RasPi4", "a", "my-host.local", "x_y"] {
            ComputerName::new(n).unwrap();
        }
        for n in ["api", "shell-2", "A_b"] {
            SessionName::new(n).unwrap();
        }
    }

    #[test]
    fn hostile_names_are_refused_with_the_rule() {
        for n in [
            "",
            "-t",
            "a:b",
            "a.b",
            "a;b",
            "a b",
            "$(id)",
            "`id`",
            "a\nb",
            "é",
            &"x".repeat(65),
        ] {
            let err = SessionName::new(n).unwrap_err();
            assert!(err.to_string().contains("allowed"), "{err}");
        }
        assert!(ComputerName::new("a:b").is_err());
        assert!(ComputerName::new(".hidden").is_err());
    }

    #[test]
    fn errors_show_the_nearest_valid_name_and_escape_control_characters() {
        let e = SessionName::new("a b").unwrap_err().to_string();
        assert!(e.ends_with("nearest valid name: 'a-b'"), "{e}");
        let e = SessionName::new("a\nb").unwrap_err().to_string();
        assert!(!e.contains('\n') && e.contains("'a\\nb'"), "{e}");
        let e = SessionName::new(&"x".repeat(200)).unwrap_err().to_string();
        assert!(e.contains("200 bytes long"), "{e}");
        assert!(
            e.contains(&format!("nearest valid name: '{}'", "x".repeat(64))),
            "{e}"
        );
        assert!(e.contains(&format!("'{}…'", "x".repeat(60))), "{e}");
        let e = SessionName::new("é").unwrap_err().to_string();
        assert!(!e.contains("nearest"), "{e}");
        for (bad, near, dot) in [
            ("$(touch X)", Some("touch-X"), false),
            ("a;touch X", Some("a-touch-X"), false),
            ("`id`", Some("id"), false),
            ("-t", Some("t"), false),
            ("--help", Some("help"), false),
            ("a:b.c", Some("a-b-c"), false),
            ("a:b.c", Some("a-b.c"), true),
            ("", None, false),
            ("ünï", None, false),
            (";;;", None, false),
        ] {
            assert_eq!(nearest_valid(bad, dot).as_deref(), near, "{bad:?}");
            if let Some(n) = near {
                check("x", n, dot).unwrap();
            }
        }
    }

    #[test]
    fn addresses() {
        let a = SessionAddr::parse("MozBook/api").unwrap();
        assert_eq!(a.computer.unwrap().as_str(), "MozBook");
        assert_eq!(a.session.as_str(), "api");
        assert!(SessionAddr::parse("api").unwrap().computer.is_none());
        assert!(SessionAddr::parse("MozBook/a/b").is_err());
        assert!(SessionAddr::parse("/api").is_err());
    }

    #[test]
    fn suggestions() {
        let known = ["MozBook", "RasPi", "RasPi4"];
        assert_eq!(suggest("mousebook", known)[0], "MozBook");
        assert_eq!(suggest("raspi", known)[0], "RasPi");
        assert!(suggest("zzzzzz", known).is_empty());
        assert_eq!(
            did_you_mean(&["A".into(), "B".into()]),
            "; did you mean A or B?"
        );
    }

    #[test]
    fn serde_validates() {
        let bytes = rmp_serde::to_vec("a:b").unwrap();
        assert!(rmp_serde::from_slice::<SessionName>(&bytes).is_err());
    }
}
