//! The per-file rules: file size, owned spawns, where tmux and Redis strings
//! may appear, the `//!` header, and no `Result<_, String>` in libraries.
//!
//! Each rule is a function from one [`Source`] to its [`Violation`]s; which
//! files a rule applies to is decided in `mod.rs` ([`super::Scope`]).

use super::source::{string_contents, Kind, Source, Tok};
use super::Violation;

/// Longest product source file, in lines.
pub const MAX_LINES: usize = 600;

/// Files allowed to call `tokio::spawn` directly, each with the reason. Every
/// other task goes into a `TaskTracker`/`JoinSet` owned by whoever can cancel it.
pub const SPAWN_ALLOWLIST: &[(&str, &str)] = &[
    (
        "crates/telemux-tmux/src/hub.rs",
        "the orphan collector is owned by ControlHub::run: aborted on drop when run returns, ended by its shutdown token",
    ),
    (
        "crates/telemux-tmux/src/waker.rs",
        "the wake loop is owned by the returned Waker: a drop guard cancels it, stop() awaits it",
    ),
    (
        "crates/telemux-gateway/src/mcp/http.rs",
        "the HTTP server's JoinHandle is returned to its caller, which awaits it; ended by the cancel token",
    ),
    (
        "crates/telemux/src/daemon.rs",
        "the signal listener ends when the token it cancels is cancelled (by a signal or by the daemon)",
    ),
    (
        "crates/telemux/src/serve_mcp.rs",
        "returns the JoinHandle to the gateway, which awaits it; ended by the cancel token",
    ),
    (
        "crates/telemux/src/serve_telegram.rs",
        "returns the JoinHandle to the gateway, which awaits it; ended by the cancel token",
    ),
];

/// (a) `file-size`: a product file over [`MAX_LINES`] lines.
///
/// Counted: every line of the file, except that a `#[cfg(test)] mod … { … }`
/// block which ends the file (its tail) is not counted — unit tests belong next
/// to the code and should not push it to be split. A test module in the middle
/// of a file counts.
pub fn file_size(src: &Source) -> Vec<Violation> {
    let counted = match src.test_tail_line {
        Some(line) => line.saturating_sub(1),
        None => src.line_count(),
    };
    if counted <= MAX_LINES {
        return Vec::new();
    }
    vec![Violation::new(
        src,
        MAX_LINES + 1,
        "file-size",
        format!(
            "{counted} lines of product code (limit {MAX_LINES}, a trailing `#[cfg(test)] mod tests` not counted): split the file by concern"
        ),
    )]
}

/// (b) `spawn`: `tokio::spawn` / `tokio::task::spawn` outside [`SPAWN_ALLOWLIST`].
pub fn spawn(src: &Source) -> Vec<Violation> {
    if SPAWN_ALLOWLIST.iter().any(|(path, _)| *path == src.path) {
        return Vec::new();
    }
    let toks = src.product_toks();
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if !t.is_ident("tokio") || !path_sep(&toks, i + 1) {
            continue;
        }
        let direct = toks.get(i + 3).is_some_and(|t| t.is_ident("spawn"));
        let via_task = toks.get(i + 3).is_some_and(|t| t.is_ident("task"))
            && path_sep(&toks, i + 4)
            && toks.get(i + 6).is_some_and(|t| t.is_ident("spawn"));
        if direct || via_task {
            out.push(Violation::new(
                src,
                t.line,
                "spawn",
                "detached `tokio::spawn`: spawn into a TaskTracker/JoinSet owned by the struct that cancels it (or add the file to SPAWN_ALLOWLIST in xtask/src/tidy/rules.rs with a reason)".into(),
            ));
        }
    }
    out
}

/// Whether `toks[i]` and `toks[i + 1]` are `::`.
pub fn path_sep(toks: &[&Tok], i: usize) -> bool {
    toks.get(i).is_some_and(|t| t.is_punct(':')) && toks.get(i + 1).is_some_and(|t| t.is_punct(':'))
}

/// String literals of product code whose contents satisfy `pred`.
fn literals<'a>(src: &'a Source, pred: impl Fn(&str) -> bool + 'a) -> Vec<&'a Tok> {
    src.toks
        .iter()
        .filter(|t| !t.test)
        .filter(|t| match &t.kind {
            Kind::Lit(l) => string_contents(l).is_some_and(&pred),
            _ => false,
        })
        .collect()
}

/// (c) `tmux-literal`: an `@telemux_` string outside crates/telemux-tmux.
pub fn tmux_literal(src: &Source) -> Vec<Violation> {
    literals(src, |s| s.contains("@telemux_"))
        .into_iter()
        .map(|t| {
            Violation::new(
                src,
                t.line,
                "tmux-literal",
                "`@telemux_` pane-option name outside crates/telemux-tmux: add a typed method in telemux-tmux (pane.rs) and call it".into(),
            )
        })
        .collect()
}

/// (d) `redis-key`: a string beginning with `telemux:` outside crates/telemux-proto.
///
/// `telemux: ` with a space after the colon is a message to a user
/// (`"telemux: {e}"`), not a key, and is not reported.
pub fn redis_key(src: &Source) -> Vec<Violation> {
    let is_key = |s: &str| {
        s.strip_prefix("telemux:")
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_whitespace() || c == '\\'))
    };
    literals(src, is_key)
        .into_iter()
        .map(|t| {
            Violation::new(
                src,
                t.line,
                "redis-key",
                "Redis key literal outside crates/telemux-proto: build it with a function in telemux_proto::keys".into(),
            )
        })
        .collect()
}

/// (e) `header`: the first non-empty line must be a `//!` module header.
pub fn header(src: &Source) -> Vec<Violation> {
    let first = src
        .text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty());
    match first {
        Some((_, l)) if l.trim_start().starts_with("//!") => Vec::new(),
        first => vec![Violation::new(
            src,
            first.map_or(1, |(n, _)| n + 1),
            "header",
            "no `//!` header: start the file with a `//!` comment saying what the module is for"
                .into(),
        )],
    }
}

/// (f) `string-error`: `Result<…, String>` in a library crate.
pub fn string_error(src: &Source) -> Vec<Violation> {
    let toks = src.product_toks();
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if !t.is_ident("Result") || !toks.get(i + 1).is_some_and(|t| t.is_punct('<')) {
            continue;
        }
        if error_type_is_string(&toks[i + 2..]) {
            out.push(Violation::new(
                src,
                t.line,
                "string-error",
                "`Result<_, String>` in a library crate: return a `thiserror` enum whose variants say what went wrong (keep the source error)".into(),
            ));
        }
    }
    out
}

/// Given the tokens after `Result<`, whether the second type argument is exactly `String`.
fn error_type_is_string(toks: &[&Tok]) -> bool {
    let (mut angle, mut groups) = (0usize, 0usize);
    let mut prev: Option<&Kind> = None;
    for (i, t) in toks.iter().enumerate() {
        match &t.kind {
            Kind::Open(_) => groups += 1,
            Kind::Close(_) if groups == 0 => return false,
            Kind::Close(_) => groups -= 1,
            Kind::Punct('<') => angle += 1,
            // `->` and `=>` are not closing angles.
            Kind::Punct('>') if matches!(prev, Some(Kind::Punct('-' | '='))) => {}
            Kind::Punct('>') if angle == 0 => return false,
            Kind::Punct('>') => angle -= 1,
            Kind::Punct(',') if angle == 0 && groups == 0 => {
                let rest = &toks[i + 1..];
                let is_string = |j: usize| rest.get(j).is_some_and(|t| t.is_ident("String"));
                let closes = |j: usize| rest.get(j).is_some_and(|t| t.is_punct('>'));
                // `String>` or `std::string::String>`.
                return (is_string(0) && closes(1))
                    || (rest.first().is_some_and(|t| t.is_ident("std"))
                        && rest.get(3).is_some_and(|t| t.is_ident("string"))
                        && is_string(6)
                        && closes(7));
            }
            Kind::Punct(';') if groups == 0 => return false,
            _ => {}
        }
        prev = Some(&t.kind);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source::parse("crates/x/src/a.rs", text).unwrap()
    }

    fn rules(v: &[Violation]) -> Vec<(usize, &str)> {
        v.iter().map(|v| (v.line, v.rule)).collect()
    }

    #[test]
    fn file_size_counts_all_but_a_trailing_test_module() {
        let body = "fn a() {}\n".repeat(MAX_LINES);
        assert!(file_size(&src(&format!("//! h\n{}", "\n".repeat(MAX_LINES - 1)))).is_empty());
        assert_eq!(
            rules(&file_size(&src(&format!("//! h\n{body}")))),
            [(601, "file-size")]
        );
        let tail = format!(
            "{}#[cfg(test)]\nmod tests {{\n{body}}}\n",
            "fn a() {}\n".repeat(10)
        );
        assert!(file_size(&src(&tail)).is_empty());
        let middle = format!("#[cfg(test)]\nmod tests {{\n{body}}}\nfn after() {{}}\n");
        assert_eq!(file_size(&src(&middle)).len(), 1);
    }

    #[test]
    fn spawn_outside_allowlist() {
        assert!(spawn(&src(
            "fn a(t: TaskTracker) { t.spawn(async {}); tokio::task::spawn_blocking(f); }"
        ))
        .is_empty());
        assert!(spawn(&src(
            "#[cfg(test)]\nmod tests { fn a() { tokio::spawn(async {}); } }"
        ))
        .is_empty());
        assert!(spawn(&src("// tokio::spawn in a comment\nfn a() {}")).is_empty());
        let v = spawn(&src(
            "fn a() {\n    tokio::spawn(async {});\n    tokio::task::spawn(f);\n}",
        ));
        assert_eq!(rules(&v), [(2, "spawn"), (3, "spawn")]);
    }

    #[test]
    fn tmux_and_redis_literals() {
        assert!(
            tmux_literal(&src("/// sets `@telemux_x`\nfn a() { pane.set_state(); }")).is_empty()
        );
        assert_eq!(
            rules(&tmux_literal(&src(
                "fn a() {\n let o = \"@telemux_state\"; }"
            ))),
            [(2, "tmux-literal")]
        );
        assert!(redis_key(&src(
            "fn a() { keys::output(s); let x = \"not telemux:\"; }"
        ))
        .is_empty());
        let v = redis_key(&src("fn a() { format!(\"telemux:out:{s}\"); }"));
        assert_eq!(rules(&v), [(1, "redis-key")]);
    }

    #[test]
    fn header_must_come_first() {
        assert!(header(&src("\n//! What this is.\nuse a;")).is_empty());
        assert_eq!(rules(&header(&src("\nuse a;\n//! late"))), [(2, "header")]);
        assert_eq!(
            rules(&header(&src("/// item doc\nfn a() {}"))),
            [(1, "header")]
        );
    }

    #[test]
    fn string_errors() {
        for ok in [
            "fn a() -> Result<(), BusError> {}",
            "fn a() -> Result<String, E> {}",
            "fn a() -> Result<Vec<String>, E> {}",
            "fn a() -> Result<fn() -> String, E> {}",
            "fn a() -> io::Result<String> {}",
        ] {
            assert!(string_error(&src(ok)).is_empty(), "{ok}");
        }
        for bad in [
            "fn a() -> Result<(), String> {}",
            "fn a() -> Result<HashMap<K, V>, String> {}",
            "type R<T> = Result<T, std::string::String>;",
        ] {
            assert_eq!(
                rules(&string_error(&src(bad))),
                [(1, "string-error")],
                "{bad}"
            );
        }
        assert!(string_error(&src(
            "#[cfg(test)]\nmod tests { fn a() -> Result<(), String> {} }"
        ))
        .is_empty());
    }
}
