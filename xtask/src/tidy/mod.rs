//! `cargo xtask tidy`: the structural rules docs/ARCHITECTURE.md promises,
//! checked on the source so they cannot quietly stop being true.
//!
//! | rule            | what fails                                                    | where                         |
//! |-----------------|---------------------------------------------------------------|-------------------------------|
//! | `file-size`     | a product file over 600 lines (trailing test module excluded) | `crates/*/src`                |
//! | `spawn`         | `tokio::spawn` / `tokio::task::spawn` outside the allowlist   | `crates/*/src`, product code  |
//! | `tmux-literal`  | an `@telemux_` string literal                                 | all crates but telemux-tmux   |
//! | `redis-key`     | a string literal starting with `telemux:`                     | all crates but telemux-proto  |
//! | `header`        | first non-empty line is not a `//!` header                    | `crates/*/src`, `xtask/src`, `tests/src` |
//! | `string-error`  | `Result<…, String>`                                           | library crates (not `crates/telemux`) |
//! | `module-cycle`  | a `use crate::…` circle between sibling modules               | each crate under `crates/`    |
//! | `invariant-map` | an "Architecture invariant:" line naming no (real) enforcer   | docs/ARCHITECTURE.md          |
//!
//! "Product code" skips `#[cfg(test)] mod … { … }` bodies; `tests/` dirs, xtask
//! and the `tests` crate are only checked for headers. Rules are in `rules.rs`,
//! `cycles.rs` and `invariants.rs`; the source model in `source.rs`.
//!
//! [`KNOWN_VIOLATIONS`] is a baseline for a large change landing in steps:
//! matching violations are printed as warnings, not failures. It is empty,
//! and should stay so outside such a change.

mod cycles;
mod invariants;
mod rules;
mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use source::Source;

/// Every rule name, as used in reports, [`KNOWN_VIOLATIONS`] and ARCHITECTURE.md.
pub const RULES: &[&str] = &[
    "file-size",
    "spawn",
    "tmux-literal",
    "redis-key",
    "header",
    "string-error",
    "module-cycle",
    "invariant-map",
];

/// Baseline: `(file, rule)` pairs reported as warnings instead of failures,
/// for a change that lands in steps; empty since the issue 13 restructure
/// landed. Tidy says when an entry no longer matches.
/// Matching is by file and rule, not line, so edits elsewhere in a file keep it.
pub const KNOWN_VIOLATIONS: &[(&str, &str)] = &[];

/// One broken rule at a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Workspace-relative file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// Rule name (one of [`RULES`]).
    pub rule: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

impl Violation {
    fn new(src: &Source, line: usize, rule: &'static str, message: String) -> Violation {
        Violation {
            file: src.path.clone(),
            line,
            rule,
            message,
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: [{}] {}",
            self.file, self.line, self.rule, self.message
        )
    }
}

/// Which rules apply to a file, from where it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// Product source of a crate under `crates/`.
    pub product: bool,
    /// In `crates/telemux-tmux`.
    pub tmux: bool,
    /// In `crates/telemux-proto`.
    pub proto: bool,
    /// A library crate (under `crates/`, not the `telemux` binary).
    pub library: bool,
}

impl Scope {
    /// The scope of a workspace-relative path.
    pub fn of(path: &str) -> Scope {
        let krate = path
            .strip_prefix("crates/")
            .and_then(|rest| rest.split_once('/'))
            .map(|(name, _)| name);
        Scope {
            product: krate.is_some(),
            tmux: krate == Some("telemux-tmux"),
            proto: krate == Some("telemux-proto"),
            library: krate.is_some_and(|k| k != "telemux"),
        }
    }
}

/// The per-file rules that apply to `src`.
pub fn check_file(src: &Source) -> Vec<Violation> {
    let scope = Scope::of(&src.path);
    let mut out = rules::header(src);
    if scope.product {
        out.extend(rules::file_size(src));
        out.extend(rules::spawn(src));
        if !scope.tmux {
            out.extend(rules::tmux_literal(src));
        }
        if !scope.proto {
            out.extend(rules::redis_key(src));
        }
        if scope.library {
            out.extend(rules::string_error(src));
        }
    }
    out
}

/// All `.rs` files under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let path = e.path();
        if e.file_type()?.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Every violation in the workspace at `root`, sorted by file and line.
pub fn scan(root: &Path) -> Result<Vec<Violation>> {
    let mut dirs: Vec<PathBuf> = vec![root.join("xtask/src"), root.join("tests/src")];
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("src")))
        .filter(|p| p.is_dir())
        .collect();
    crates.sort();
    dirs.extend(crates);
    let mut sources = Vec::new();
    for dir in &dirs {
        let mut files = Vec::new();
        rust_files(dir, &mut files)?;
        for file in files {
            let rel = file
                .strip_prefix(root)?
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {rel}"))?;
            sources.push(Source::parse(&rel, &text)?);
        }
    }
    let test_files = out_of_line_test_modules(&sources);
    let mut out = Vec::new();
    for src in &sources {
        let mut found = check_file(src);
        if test_files.contains(&src.path) {
            // A `#[cfg(test)] mod x;` file is test code: only its header counts.
            found.retain(|v| v.rule == "header");
        }
        out.extend(found);
    }
    // Module cycles, per crate, over its product files.
    let mut by_crate: BTreeMap<String, Vec<(String, &Source)>> = BTreeMap::new();
    for src in sources.iter().filter(|s| !test_files.contains(&s.path)) {
        let Some(rest) = src.path.strip_prefix("crates/") else {
            continue;
        };
        if let Some((krate, in_src)) = rest.split_once("/src/") {
            by_crate
                .entry(krate.to_string())
                .or_default()
                .push((in_src.to_string(), src));
        }
    }
    for files in by_crate.values() {
        out.extend(cycles::module_cycles(files));
    }
    let doc_path = "docs/ARCHITECTURE.md";
    let doc =
        std::fs::read_to_string(root.join(doc_path)).context("reading docs/ARCHITECTURE.md")?;
    out.extend(invariants::check(root, doc_path, &doc, RULES));
    out.sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
    Ok(out)
}

/// Files that are `#[cfg(test)] mod name;` modules of their parent.
fn out_of_line_test_modules(sources: &[Source]) -> Vec<String> {
    let mut out = Vec::new();
    for src in sources {
        let dir = match src.path.rsplit_once('/') {
            Some((dir, "mod.rs" | "lib.rs" | "main.rs")) => dir.to_string(),
            Some(_) => src.path.trim_end_matches(".rs").to_string(),
            None => continue,
        };
        for name in &src.test_mod_decls {
            out.push(format!("{dir}/{name}.rs"));
            out.push(format!("{dir}/{name}/mod.rs"));
        }
    }
    out
}

/// Splits `found` into (failures, baselined warnings, stale baseline entries).
pub fn triage<'a>(
    found: Vec<Violation>,
    baseline: &'a [(&'a str, &'a str)],
) -> (Vec<Violation>, Vec<Violation>, Vec<&'a (&'a str, &'a str)>) {
    let (known, failures): (Vec<_>, Vec<_>) = found
        .into_iter()
        .partition(|v| baseline.iter().any(|(f, r)| *f == v.file && *r == v.rule));
    let stale = baseline
        .iter()
        .filter(|(f, r)| !known.iter().any(|v| v.file == *f && v.rule == *r))
        .collect();
    (failures, known, stale)
}

/// `cargo xtask tidy`: prints every violation; fails unless all are baselined.
pub fn main(root: &Path) -> Result<()> {
    let (failures, known, stale) = triage(scan(root)?, KNOWN_VIOLATIONS);
    for v in &known {
        println!("warning (KNOWN_VIOLATIONS baseline): {v}");
    }
    for (file, rule) in &stale {
        println!("warning: KNOWN_VIOLATIONS entry ({file}, {rule}) no longer matches: remove it from xtask/src/tidy/mod.rs");
    }
    for v in &failures {
        println!("{v}");
    }
    if !failures.is_empty() {
        bail!(
            "tidy: {} violation(s) (rules are described in xtask/src/tidy/mod.rs)",
            failures.len()
        );
    }
    println!("tidy: ok ({} baselined warning(s))", known.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let bin = Scope::of("crates/telemux/src/main.rs");
        assert!(bin.product && !bin.library);
        let tmux = Scope::of("crates/telemux-tmux/src/pane.rs");
        assert!(tmux.tmux && tmux.library && !tmux.proto);
        assert!(!Scope::of("tests/src/lib.rs").product);
        assert!(!Scope::of("xtask/src/main.rs").product);
    }

    #[test]
    fn rules_apply_by_crate() {
        let text =
            "//! h\nfn a() -> Result<(), String> { let _ = (\"@telemux_x\", \"telemux:k\"); }\n";
        let rules_of = |path: &str| -> Vec<&str> {
            check_file(&Source::parse(path, text).unwrap())
                .iter()
                .map(|v| v.rule)
                .collect()
        };
        assert_eq!(
            rules_of("crates/telemux-node/src/a.rs"),
            ["tmux-literal", "redis-key", "string-error"]
        );
        assert_eq!(
            rules_of("crates/telemux-tmux/src/a.rs"),
            ["redis-key", "string-error"]
        );
        assert_eq!(
            rules_of("crates/telemux-proto/src/a.rs"),
            ["tmux-literal", "string-error"]
        );
        assert_eq!(
            rules_of("crates/telemux/src/a.rs"),
            ["tmux-literal", "redis-key"]
        );
        assert!(rules_of("tests/src/a.rs").is_empty());
    }

    #[test]
    fn baseline_downgrades_and_reports_stale_entries() {
        let v = |file: &str, rule: &'static str| Violation {
            file: file.into(),
            line: 1,
            rule,
            message: String::new(),
        };
        let baseline = [("a.rs", "spawn"), ("gone.rs", "header")];
        let (fail, known, stale) = triage(vec![v("a.rs", "spawn"), v("a.rs", "header")], &baseline);
        assert_eq!(fail, [v("a.rs", "header")]);
        assert_eq!(known, [v("a.rs", "spawn")]);
        assert_eq!(stale, [&("gone.rs", "header")]);
    }

    #[test]
    fn every_rule_name_is_listed() {
        for rule in RULES {
            assert!(rule.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
        }
        assert!(KNOWN_VIOLATIONS.iter().all(|(_, r)| RULES.contains(r)));
    }
}
