//! Named keys for `keys` / `send_keys`: the only words ever passed to tmux as key
//! names. Text never goes through here; it is sent literally.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ProtoError;

/// Help text listing the accepted key names, used in errors.
pub const ALLOWED_KEYS_HELP: &str =
    "Enter, Escape (Esc), Tab, BTab, Space, BSpace, Up, Down, Left, Right, Home, End, PageUp, PageDown, Delete, F1-F12, C-a..C-z";

/// A key press that `send_keys` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Key {
    /// Return.
    Enter,
    /// Escape.
    Escape,
    /// Tab.
    Tab,
    /// Shift-Tab.
    BTab,
    /// Space bar.
    Space,
    /// Backspace.
    BSpace,
    /// Cursor up.
    Up,
    /// Cursor down.
    Down,
    /// Cursor left.
    Left,
    /// Cursor right.
    Right,
    /// Home.
    Home,
    /// End.
    End,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Delete.
    Delete,
    /// Function key 1-12.
    F(u8),
    /// Control plus a lowercase ASCII letter (`C-c` is an interrupt).
    Ctrl(char),
}

impl Key {
    /// Parses a user-typed key name (case-insensitive, common aliases accepted).
    pub fn parse(s: &str) -> Result<Key, ProtoError> {
        let l = s.to_ascii_lowercase();
        let k = match l.as_str() {
            "enter" | "return" | "cr" => Key::Enter,
            "escape" | "esc" => Key::Escape,
            "tab" => Key::Tab,
            "btab" | "s-tab" => Key::BTab,
            "space" => Key::Space,
            "bspace" | "backspace" => Key::BSpace,
            "up" => Key::Up,
            "down" => Key::Down,
            "left" => Key::Left,
            "right" => Key::Right,
            "home" => Key::Home,
            "end" => Key::End,
            "pageup" | "pgup" | "ppage" => Key::PageUp,
            "pagedown" | "pgdn" | "npage" => Key::PageDown,
            "delete" | "del" | "dc" => Key::Delete,
            _ => {
                if let Some(rest) = l
                    .strip_prefix("c-")
                    .or_else(|| l.strip_prefix("ctrl-"))
                    .or_else(|| l.strip_prefix('^'))
                {
                    let mut cs = rest.chars();
                    match (cs.next(), cs.next()) {
                        (Some(c), None) if c.is_ascii_lowercase() => return Ok(Key::Ctrl(c)),
                        _ => return Err(ProtoError::UnknownKey(s.chars().take(40).collect())),
                    }
                }
                if let Some(n) = l.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    if (1..=12).contains(&n) {
                        return Ok(Key::F(n));
                    }
                }
                return Err(ProtoError::UnknownKey(s.chars().take(40).collect()));
            }
        };
        Ok(k)
    }

    /// The key name tmux's `send-keys` understands.
    pub fn tmux_name(&self) -> String {
        match self {
            Key::Enter => "Enter".into(),
            Key::Escape => "Escape".into(),
            Key::Tab => "Tab".into(),
            Key::BTab => "BTab".into(),
            Key::Space => "Space".into(),
            Key::BSpace => "BSpace".into(),
            Key::Up => "Up".into(),
            Key::Down => "Down".into(),
            Key::Left => "Left".into(),
            Key::Right => "Right".into(),
            Key::Home => "Home".into(),
            Key::End => "End".into(),
            Key::PageUp => "PageUp".into(),
            Key::PageDown => "PageDown".into(),
            Key::Delete => "DC".into(),
            Key::F(n) => format!("F{n}"),
            Key::Ctrl(c) => format!("C-{c}"),
        }
    }
}

/// What to say after "unknown key 'X'": one key per item when `s` holds
/// several words, else the valid key it starts with (`C-c;kill-server` → `C-c`).
pub fn unknown_key_hint(s: &str) -> String {
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.len() > 1 && words.iter().all(|w| Key::parse(w).is_ok()) {
        return format!(
            " (one key per item: give {} as separate keys)",
            words.join(", ")
        );
    }
    let longest = s
        .char_indices()
        .map(|(i, _)| &s[..i])
        .chain(std::iter::once(s))
        .rev()
        .find(|p| !p.is_empty() && Key::parse(p).is_ok());
    match longest {
        Some(p) if p != s => format!(
            "; did you mean {}?",
            Key::parse(p).map(|k| k.tmux_name()).unwrap_or_default()
        ),
        _ => String::new(),
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tmux_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_aliases() {
        assert_eq!(Key::parse("C-c").unwrap(), Key::Ctrl('c'));
        assert_eq!(Key::parse("esc").unwrap(), Key::Escape);
        assert_eq!(Key::parse("F12").unwrap(), Key::F(12));
        assert_eq!(Key::parse("PageUp").unwrap().tmux_name(), "PageUp");
    }

    #[test]
    fn refuses_everything_else() {
        for k in [
            "C-",
            "C-cc",
            "F13",
            "C-1",
            "M-x",
            "q",
            "Enter; kill-server",
            "-t",
        ] {
            let e = Key::parse(k).unwrap_err();
            assert!(e.to_string().contains("allowed"), "{e}");
        }
    }

    #[test]
    fn refusals_point_at_the_meant_key() {
        let e = Key::parse("C-c;kill-server").unwrap_err().to_string();
        assert!(
            e.starts_with("unknown key 'C-c;kill-server'; did you mean C-c?; allowed: Enter"),
            "{e}"
        );
        let e = Key::parse("Enter Enter").unwrap_err().to_string();
        assert!(e.contains("give Enter, Enter as separate keys"), "{e}");
        let e = Key::parse("-X").unwrap_err().to_string();
        assert!(e.starts_with("unknown key '-X'; allowed:"), "{e}");
        let e = Key::parse("C-c\nEnter").unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
    }
}
