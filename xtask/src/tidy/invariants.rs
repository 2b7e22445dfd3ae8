//! (h) `invariant-map`: every "Architecture invariant:" line of
//! docs/ARCHITECTURE.md names what enforces it, and what it names exists.
//!
//! An enforcer is written in parentheses on the line: `(tidy: file-size)` for a
//! tidy rule, `(test: tests/tests/foo.rs::name)` for a test — the file must
//! exist and define `fn name`. Several may be given, comma-separated inside one
//! pair (`(tidy: spawn, test: crates/x/src/a.rs::t)`) or in several pairs.

use std::path::Path;

use super::Violation;

/// What the line must contain.
pub const MARKER: &str = "Architecture invariant:";

/// One enforcer named on an invariant line.
#[derive(Debug, PartialEq, Eq)]
pub enum Enforcer {
    /// A tidy rule by name.
    Tidy(String),
    /// A test: file relative to the workspace root, and the test function.
    Test { file: String, name: String },
}

/// The enforcers named on `line` (empty when it names none).
pub fn enforcers(line: &str) -> Vec<Enforcer> {
    let mut out = Vec::new();
    for group in line.split('(').skip(1) {
        let Some(group) = group.split(')').next() else {
            continue;
        };
        for item in group.split(',') {
            let item = item.trim().trim_matches('`');
            if let Some(rule) = item.strip_prefix("tidy:") {
                out.push(Enforcer::Tidy(rule.trim().trim_matches('`').to_string()));
            } else if let Some(test) = item.strip_prefix("test:") {
                let test = test.trim().trim_matches('`');
                let (file, name) = test.rsplit_once("::").unwrap_or((test, ""));
                out.push(Enforcer::Test {
                    file: file.to_string(),
                    name: name.to_string(),
                });
            }
        }
    }
    out
}

/// Checks `doc` (the text of `doc_path`, relative to `root`) against `rules`.
pub fn check(root: &Path, doc_path: &str, doc: &str, rules: &[&str]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut bad = |line: usize, message: String| {
        out.push(Violation {
            file: doc_path.to_string(),
            line,
            rule: "invariant-map",
            message,
        })
    };
    for (n, line) in doc.lines().enumerate() {
        if !line.contains(MARKER) {
            continue;
        }
        let named = enforcers(line);
        if named.is_empty() {
            bad(n + 1, "invariant names no enforcer: add `(tidy: RULE)` or `(test: path/to/file.rs::test_name)`".into());
        }
        for e in named {
            match e {
                Enforcer::Tidy(rule) if !rules.contains(&rule.as_str()) => bad(
                    n + 1,
                    format!("no tidy rule `{rule}` (rules: {})", rules.join(", ")),
                ),
                Enforcer::Tidy(_) => {}
                Enforcer::Test { file, name } => match std::fs::read_to_string(root.join(&file)) {
                    Err(_) => bad(n + 1, format!("test file `{file}` does not exist")),
                    Ok(text) if name.is_empty() || !defines_fn(&text, &name) => bad(
                        n + 1,
                        format!("`{file}` has no test `fn {name}` (write `file.rs::test_name`)"),
                    ),
                    Ok(_) => {}
                },
            }
        }
    }
    out
}

/// Whether `text` defines a function called `name` (plain or async).
fn defines_fn(text: &str, name: &str) -> bool {
    let pattern = format!("fn {name}");
    text.match_indices(&pattern).any(|(at, _)| {
        let next = text[at + pattern.len()..].chars().next();
        !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_parsed() {
        assert_eq!(
            enforcers("Architecture invariant: x (tidy: file-size, test: `tests/tests/a.rs::b`) (tidy: spawn)"),
            [
                Enforcer::Tidy("file-size".into()),
                Enforcer::Test { file: "tests/tests/a.rs".into(), name: "b".into() },
                Enforcer::Tidy("spawn".into()),
            ]
        );
        assert!(enforcers("Architecture invariant: nothing (see above)").is_empty());
    }

    #[test]
    fn every_invariant_is_enforced_by_something_real() {
        let dir = std::env::temp_dir().join(format!("tidy-inv-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("t")).unwrap();
        std::fs::write(dir.join("t/a.rs"), "#[test]\nfn real_one() {}\n").unwrap();
        let rules = ["file-size", "spawn"];
        let good = "Architecture invariant: small files (tidy: file-size)\n\
                    Architecture invariant: it works (test: t/a.rs::real_one)\nother line\n";
        assert!(check(&dir, "ARCH.md", good, &rules).is_empty());
        let bad = "Architecture invariant: unenforced\n\
                   Architecture invariant: x (tidy: no-such-rule)\n\
                   Architecture invariant: y (test: t/missing.rs::a)\n\
                   Architecture invariant: z (test: t/a.rs::real)\n";
        let lines: Vec<usize> = check(&dir, "ARCH.md", bad, &rules)
            .iter()
            .map(|v| v.line)
            .collect();
        assert_eq!(lines, [1, 2, 3, 4]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
