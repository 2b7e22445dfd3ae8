//! The detach key and the filter that finds it in what the user types
//! (pure). Everything else typed goes to the remote session as is.

use crate::TuiError;

/// The key (or two-key sequence) that ends `attach`: `C-\ d` by default,
/// as tmux's prefix-then-d. Typing the prefix twice sends it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetachKey {
    prefix: u8,
    then: Option<u8>,
}

impl Default for DetachKey {
    fn default() -> DetachKey {
        DetachKey {
            prefix: 0x1c,
            then: Some(b'd'),
        }
    }
}

fn one_key(s: &str) -> Option<u8> {
    if let Some(c) = s.strip_prefix("C-") {
        let c = c.as_bytes();
        if c.len() == 1 && (0x40..0x80).contains(&(c[0].to_ascii_uppercase())) {
            return Some(c[0].to_ascii_uppercase() & 0x1f);
        }
        return None;
    }
    let b = s.as_bytes();
    (b.len() == 1 && b[0].is_ascii() && !b[0].is_ascii_whitespace()).then(|| b[0])
}

fn name(b: u8) -> String {
    if b < 0x20 {
        format!("C-{}", ((b | 0x40) as char).to_ascii_lowercase())
    } else {
        (b as char).to_string()
    }
}

impl DetachKey {
    /// Parses `"C-\ d"`, `"C-] q"`, `"C-q"`: a key, optionally a second one.
    pub fn parse(s: &str) -> Result<DetachKey, TuiError> {
        let bad = || TuiError::DetachKey {
            given: s.to_string(),
        };
        let mut parts = s.split_whitespace();
        let prefix = parts.next().and_then(one_key).ok_or_else(bad)?;
        let then = match parts.next() {
            Some(p) => Some(one_key(p).ok_or_else(bad)?),
            None => None,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(DetachKey { prefix, then })
    }

    /// How to type it, e.g. `C-\ d`.
    pub fn describe(&self) -> String {
        match self.then {
            Some(t) => format!("{} {}", name(self.prefix), name(t)),
            None => name(self.prefix),
        }
    }
}

/// Finds the detach key in typed bytes, across reads.
#[derive(Debug)]
pub struct KeyFilter {
    key: DetachKey,
    armed: bool,
}

impl KeyFilter {
    /// A filter for `key`.
    pub fn new(key: DetachKey) -> KeyFilter {
        KeyFilter { key, armed: false }
    }

    /// The bytes to send for `input`, and whether the detach key was typed
    /// (bytes after it are dropped: the user is leaving).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.armed {
                self.armed = false;
                if Some(b) == self.key.then {
                    return (out, true);
                }
                out.push(self.key.prefix);
                if b != self.key.prefix {
                    out.push(b);
                }
                continue;
            }
            if b == self.key.prefix {
                if self.key.then.is_none() {
                    return (out, true);
                }
                self.armed = true;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_ctrl_backslash_then_d() {
        let k = DetachKey::default();
        assert_eq!(k.describe(), "C-\\ d");
        assert_eq!(DetachKey::parse("C-\\ d").unwrap(), k);
        assert_eq!(DetachKey::parse("C-] q").unwrap().describe(), "C-] q");
        assert!(DetachKey::parse("C-").is_err());
        assert!(DetachKey::parse("a b c").is_err());
        assert!(DetachKey::parse("").is_err());
    }

    #[test]
    fn the_key_is_found_across_reads_and_other_bytes_pass() {
        let mut f = KeyFilter::new(DetachKey::default());
        assert_eq!(f.feed(b"ls\r"), (b"ls\r".to_vec(), false));
        assert_eq!(f.feed(b"a\x1c"), (b"a".to_vec(), false));
        assert_eq!(f.feed(b"x"), (b"\x1cx".to_vec(), false));
        assert_eq!(f.feed(b"\x1c\x1c"), (b"\x1c".to_vec(), false));
        assert_eq!(f.feed(b"\x1cdrest"), (Vec::new(), true));
    }

    #[test]
    fn a_single_key_detaches_at_once() {
        let mut f = KeyFilter::new(DetachKey::parse("C-q").unwrap());
        assert_eq!(f.feed(b"ab\x11cd"), (b"ab".to_vec(), true));
    }
}
