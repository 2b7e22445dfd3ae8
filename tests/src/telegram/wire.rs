//! The Bot API's wire formats as the fake reads them: Telegram's HTML parse
//! mode (what the user sees, or Telegram's error), UTF-16 lengths, loose
//! integers and `multipart/form-data` uploads.

use serde_json::Value;

pub fn parse_html(s: &str) -> Result<String, String> {
    const TAGS: &[&str] = &[
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    ];
    let mut out = String::new();
    let mut stack: Vec<String> = Vec::new();
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        match b[i] {
            b'<' => {
                let end = s[i..].find('>').ok_or_else(|| {
                    format!(
                        "Bad Request: can't parse entities: Unclosed start tag at byte offset {i}"
                    )
                })? + i;
                let inner = &s[i + 1..end];
                if let Some(name) = inner.strip_prefix('/') {
                    match stack.pop() {
                        Some(open) if open == name.trim() => {}
                        _ => {
                            return Err(format!(
                                "Bad Request: can't parse entities: Unmatched end tag at byte offset {i}, expected \"</{}>\", found \"</{name}>\"",
                                stack.last().cloned().unwrap_or_default()
                            ))
                        }
                    }
                } else {
                    let name = inner.split_whitespace().next().unwrap_or("");
                    if !TAGS.contains(&name) {
                        return Err(format!(
                            "Bad Request: can't parse entities: Unsupported start tag \"{name}\" at byte offset {i}"
                        ));
                    }
                    stack.push(name.to_string());
                }
                i = end + 1;
            }
            b'&' => {
                let semi = s[i..].find(';').map(|p| p + i);
                let ent = semi.map(|e| &s[i + 1..e]);
                let ch = match ent {
                    Some("lt") => Some('<'),
                    Some("gt") => Some('>'),
                    Some("amp") => Some('&'),
                    Some("quot") => Some('"'),
                    Some(e) if e.starts_with('#') => {
                        let n = e
                            .strip_prefix("#x")
                            .map(|h| u32::from_str_radix(h, 16).ok())
                            .unwrap_or_else(|| e[1..].parse().ok());
                        n.and_then(char::from_u32)
                    }
                    _ => None,
                };
                match ch {
                    Some(c) => {
                        out.push(c);
                        i = semi.expect("entity end") + 1;
                    }
                    None => {
                        out.push('&');
                        i += 1;
                    }
                }
            }
            _ => {
                let c = s[i..].chars().next().expect("in bounds");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!(
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"{open}\""
        ));
    }
    Ok(out)
}

pub(super) fn utf16(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

pub(super) fn int(v: &Value, k: &str) -> Option<i64> {
    match v.get(k)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Parses `multipart/form-data` into text fields and files.
pub(super) fn multipart(ct: &str, body: &[u8]) -> (Value, Vec<(String, String, Vec<u8>)>) {
    let mut fields = serde_json::Map::new();
    let mut files = Vec::new();
    let Some(boundary) = ct.split("boundary=").nth(1) else {
        return (Value::Object(fields), files);
    };
    let delim = format!("--{}", boundary.trim_matches('"'));
    let text = body;
    let mut parts = Vec::new();
    let mut start = 0;
    while let Some(p) = find(&text[start..], delim.as_bytes()) {
        parts.push(start + p);
        start += p + delim.len();
    }
    for w in parts.windows(2) {
        let part = &text[w[0] + delim.len()..w[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(h) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&part[..h]).to_string();
        let data = part[h + 4..].to_vec();
        let attr = |a: &str| {
            headers.split(';').find_map(|x| {
                x.trim().strip_prefix(&format!("{a}=\"")).map(|v| {
                    v.trim_end_matches(['"', '\r'])
                        .split('"')
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
            })
        };
        let name = attr("name").unwrap_or_default();
        match attr("filename") {
            Some(f) => files.push((name, f, data)),
            None => {
                fields.insert(
                    name,
                    Value::String(String::from_utf8_lossy(&data).to_string()),
                );
            }
        }
    }
    (Value::Object(fields), files)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_like_telegram() {
        assert_eq!(
            parse_html("<pre>a &lt;b&gt; &amp;</pre>\n✅").unwrap(),
            "a <b> &\n✅"
        );
        assert!(parse_html("<pre>a<b</pre>").is_err());
        assert!(parse_html("<pre>x").is_err());
        assert!(parse_html("<foo>x</foo>").is_err());
    }
}
