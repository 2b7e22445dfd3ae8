//! One Rust source file as tidy sees it: its workspace-relative path, its text,
//! and a flat token list (from `proc-macro2`'s lexer, so comments, string
//! contents and raw strings can never fool a rule) in which each token knows its
//! line and whether it sits inside a `#[cfg(test)] mod … { … }` body.
//!
//! Doc comments lex as `#[doc = "…"]` attributes; their tokens are dropped, so
//! prose that mentions `telemux:` keys or `tokio::spawn` is never a violation.

use std::str::FromStr;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// What a token is, reduced to what the rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An identifier or keyword (`tokio`, `crate`, `mod`).
    Ident(String),
    /// One punctuation character (`::` is two `:`).
    Punct(char),
    /// A literal exactly as written, quotes and prefixes included.
    Lit(String),
    /// The opening of a `(`/`[`/`{` group.
    Open(char),
    /// The closing of a group.
    Close(char),
}

/// A token with the line it starts on (1-based) and whether it is test code.
#[derive(Debug, Clone)]
pub struct Tok {
    /// What it is.
    pub kind: Kind,
    /// Line in the file, 1-based.
    pub line: usize,
    /// Inside the body of a `#[cfg(test)] mod`.
    pub test: bool,
}

impl Tok {
    /// Whether this is the identifier `name`.
    pub fn is_ident(&self, name: &str) -> bool {
        matches!(&self.kind, Kind::Ident(i) if i == name)
    }

    /// Whether this is the punctuation `c`.
    pub fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }
}

/// A lexed source file.
#[derive(Debug)]
pub struct Source {
    /// Path relative to the workspace root, with `/` separators.
    pub path: String,
    /// The file's text.
    pub text: String,
    /// Its tokens, in order, doc attributes removed.
    pub toks: Vec<Tok>,
    /// First line of a `#[cfg(test)] mod … { … }` that runs to the end of the
    /// file (nothing but whitespace after it), if there is one.
    pub test_tail_line: Option<usize>,
    /// Names of `#[cfg(test)] mod name;` declarations (out-of-line test modules).
    pub test_mod_decls: Vec<String>,
}

impl Source {
    /// Lexes `text`; a file that does not lex is an error naming it.
    pub fn parse(path: &str, text: &str) -> anyhow::Result<Source> {
        let stream =
            TokenStream::from_str(text).map_err(|e| anyhow::anyhow!("{path}: cannot lex: {e}"))?;
        let mut out = Source {
            path: path.to_string(),
            text: text.to_string(),
            toks: Vec::new(),
            test_tail_line: None,
            test_mod_decls: Vec::new(),
        };
        let top: Vec<TokenTree> = stream.into_iter().collect();
        let last_line = top.last().map(|t| t.span().end().line);
        flatten(&top, false, true, last_line, &mut out);
        Ok(out)
    }

    /// Number of lines in the file.
    pub fn line_count(&self) -> usize {
        self.text.lines().count()
    }

    /// Tokens that are product code (not inside a test module).
    pub fn product_toks(&self) -> Vec<&Tok> {
        self.toks.iter().filter(|t| !t.test).collect()
    }
}

/// Whether `tt` is the bracket group of `#[cfg(test)]`.
fn is_cfg_test(tt: &TokenTree) -> bool {
    let TokenTree::Group(g) = tt else {
        return false;
    };
    if g.delimiter() != Delimiter::Bracket {
        return false;
    }
    let inner: Vec<String> = g.stream().into_iter().map(|t| t.to_string()).collect();
    inner.len() == 2 && inner[0] == "cfg" && inner[1].replace(' ', "") == "(test)"
}

/// Whether `tt` is the bracket group of a `doc` attribute.
fn is_doc_attr(tt: &TokenTree) -> bool {
    let TokenTree::Group(g) = tt else {
        return false;
    };
    g.delimiter() == Delimiter::Bracket
        && matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(i)) if i == "doc")
}

/// Appends `trees` to `out.toks`, marking test-module bodies.
fn flatten(trees: &[TokenTree], test: bool, top: bool, last_line: Option<usize>, out: &mut Source) {
    let mut i = 0;
    // Set by `#[cfg(test)]`, consumed by the next `mod name { … }` or `mod name;`.
    let mut cfg_test_at: Option<usize> = None;
    while i < trees.len() {
        let tt = &trees[i];
        let line = tt.span().start().line;
        // `#[doc = "…"]` and `#![doc = "…"]`: skip entirely.
        if matches!(tt, TokenTree::Punct(p) if p.as_char() == '#') {
            let bang = matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!');
            let attr = trees.get(i + 1 + usize::from(bang));
            if attr.is_some_and(is_doc_attr) {
                i += 2 + usize::from(bang);
                continue;
            }
            if !bang && attr.is_some_and(is_cfg_test) {
                cfg_test_at = Some(line);
            }
        }
        if let (Some(at), TokenTree::Ident(m)) = (cfg_test_at, tt) {
            if m == "mod" {
                if let Some(TokenTree::Ident(name)) = trees.get(i + 1) {
                    match trees.get(i + 2) {
                        Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Brace => {
                            push(out, Kind::Ident("mod".into()), line, test);
                            push(out, Kind::Ident(name.to_string()), line, test);
                            let inner: Vec<TokenTree> = body.stream().into_iter().collect();
                            let end = body.span().end().line;
                            push(out, Kind::Open('{'), body.span().start().line, true);
                            flatten(&inner, true, false, None, out);
                            push(out, Kind::Close('}'), end, true);
                            if top && i + 3 == trees.len() && last_line == Some(end) {
                                out.test_tail_line = Some(at);
                            }
                            cfg_test_at = None;
                            i += 3;
                            continue;
                        }
                        Some(TokenTree::Punct(p)) if p.as_char() == ';' => {
                            out.test_mod_decls.push(name.to_string());
                        }
                        _ => {}
                    }
                }
                cfg_test_at = None;
            }
        }
        match tt {
            TokenTree::Ident(id) => push(out, Kind::Ident(id.to_string()), line, test),
            TokenTree::Punct(p) => push(out, Kind::Punct(p.as_char()), line, test),
            TokenTree::Literal(l) => push(out, Kind::Lit(l.to_string()), line, test),
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ('(', ')'),
                    Delimiter::Bracket => ('[', ']'),
                    Delimiter::Brace => ('{', '}'),
                    Delimiter::None => (' ', ' '),
                };
                push(out, Kind::Open(open), line, test);
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                flatten(&inner, test, false, None, out);
                push(out, Kind::Close(close), g.span().end().line, test);
            }
        }
        i += 1;
    }
}

fn push(out: &mut Source, kind: Kind, line: usize, test: bool) {
    out.toks.push(Tok { kind, line, test });
}

/// The contents of a string literal as written (`"a"`, `r#"a"#`, `b"a"`), or
/// `None` for other literals. Escapes are left as written; the rules only look
/// at prefixes and plain substrings.
pub fn string_contents(lit: &str) -> Option<&str> {
    let rest = lit.strip_prefix('b').unwrap_or(lit);
    let rest = rest.strip_prefix('r').unwrap_or(rest);
    let hashes = rest.len() - rest.trim_start_matches('#').len();
    let rest = &rest[hashes..];
    let body = rest.strip_prefix('"')?;
    let body = body.strip_suffix(&"#".repeat(hashes)[..])?;
    body.strip_suffix('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_test_modules_and_drops_docs() {
        let src = "//! header\n/// doc with \"telemux:x\"\nfn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() {}\n}\n";
        let s = Source::parse("x.rs", src).unwrap();
        assert!(!s.toks.iter().any(|t| matches!(&t.kind, Kind::Lit(_))));
        let b = s.toks.iter().find(|t| t.is_ident("b")).unwrap();
        assert!(b.test);
        assert_eq!(b.line, 6);
        assert!(!s.toks.iter().find(|t| t.is_ident("a")).unwrap().test);
        assert_eq!(s.test_tail_line, Some(4));
    }

    #[test]
    fn test_module_not_at_the_end_is_no_tail() {
        let src = "#[cfg(test)]\nmod tests {}\nfn after() {}\n";
        let s = Source::parse("x.rs", src).unwrap();
        assert_eq!(s.test_tail_line, None);
        let s = Source::parse("x.rs", "#[cfg(test)]\nmod tests;\n").unwrap();
        assert_eq!(s.test_mod_decls, vec!["tests".to_string()]);
    }

    #[test]
    fn string_literal_contents() {
        assert_eq!(string_contents("\"telemux:a\""), Some("telemux:a"));
        assert_eq!(string_contents("r#\"x\"#"), Some("x"));
        assert_eq!(string_contents("b\"y\""), Some("y"));
        assert_eq!(string_contents("'c'"), None);
        assert_eq!(string_contents("42"), None);
    }
}
