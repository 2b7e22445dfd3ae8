//! Text for Telegram: HTML escaping (parse_mode HTML, never Markdown built from
//! terminal text) and lengths in UTF-16 code units, the unit of Telegram's
//! 4096-character limit (an emoji outside the BMP counts two).

/// Telegram's limit for one message, in UTF-16 code units after entity parsing.
pub const TELEGRAM_LIMIT: usize = 4096;

/// Escapes `&`, `<` and `>` so terminal text can never form a tag.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// Length in UTF-16 code units, as Telegram counts.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Removes control characters other than newline and tab (the node strips
/// ANSI already; stray bytes such as BEL or NUL would only confuse clients).
pub fn clean(s: &str) -> String {
    s.chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

/// Splits `s` into pieces of at most `max` UTF-16 units, never inside a character.
pub fn split_utf16(s: &str, max: usize) -> Vec<String> {
    let max = max.max(2);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut n = 0;
    for c in s.chars() {
        let w = c.len_utf16();
        if n + w > max {
            out.push(std::mem::take(&mut cur));
            n = 0;
        }
        cur.push(c);
        n += w;
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// Length Telegram checks against [`TELEGRAM_LIMIT`]: UTF-16 units of the
/// text after entity parsing (tags removed, `&lt;` counted as one).
pub fn visible_len(html: &str) -> usize {
    let mut n = 0;
    let mut in_tag = false;
    let mut chars = html.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            '&' => {
                // An entity counts as the one character it stands for.
                while let Some(&d) = chars.peek() {
                    chars.next();
                    if d == ';' {
                        break;
                    }
                }
                n += 1;
            }
            _ => n += c.len_utf16(),
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_counts() {
        assert_eq!(escape("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(utf16_len("a😀"), 3);
        assert_eq!(clean("a\u{7}b\tc\n"), "ab\tc\n");
        let parts = split_utf16("😀😀😀", 4);
        assert_eq!(parts, vec!["😀😀".to_string(), "😀".to_string()]);
        assert_eq!(split_utf16("", 10), vec![String::new()]);
        assert_eq!(visible_len("<pre>a&lt;😀</pre>\n✅"), 6);
    }
}
