//! `telemux grep` and MCP `search_output` (issue 16): a regex over the
//! retained output of sessions on two computers, each node searching its own
//! streams. A line printed on each is found on each (the typed command line
//! does not contain the match text); `--session`, `--computer`, `--since` and
//! `--max` narrow it; a hit's cursor given to `tail --cursor` starts at the
//! hit; bad, huge and catastrophic patterns are refused or bounded; and the
//! MCP tool through the official Python SDK (tests/mcp/mcp_search_check.py).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use telemux_tests::pymcp::{self, run_script};
use telemux_tests::{telemux_bin, wait_until, Mesh};

const LONG: Duration = Duration::from_secs(30);

/// `grep ARGS --json`, parsed, with the exit code.
async fn grep(m: &Mesh, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["grep"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = m.cli.run(&all).await;
    let v = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("grep --json is not JSON ({e}): {out:?}"));
    (out.code(), v)
}

/// The `session` of each hit, in order.
fn sessions_of(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["session"].as_str().unwrap().to_string())
        .collect()
}

/// A mesh of RasPi and MozBook where RasPi/api and MozBook/web printed
/// `needle-42` and RasPi/quiet printed nothing like it.
async fn mesh_with_needles() -> Mesh {
    let m = Mesh::start(&["RasPi", "MozBook"]).await;
    for s in ["RasPi/api", "MozBook/web", "RasPi/quiet"] {
        m.cli.run(&["new", s]).await.ok();
    }
    for s in ["RasPi/api", "MozBook/web"] {
        m.cli.run(&["send", s, "echo needle-$((6*7))"]).await.ok();
    }
    m.cli.run(&["send", "RasPi/quiet", "echo hay"]).await.ok();
    wait_until("needle-42 in both sessions", LONG, || async {
        let (_, v) = grep(&m, &["^needle-42$"]).await;
        (sessions_of(&v).len() == 2).then_some(())
    })
    .await;
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grep_finds_a_line_on_each_computer_and_narrows() {
    let m = mesh_with_needles().await;

    let (code, v) = grep(&m, &["needle-42"]).await;
    assert_eq!(code, Some(0), "{v}");
    // Computers, then sessions, in name order; only the printed lines match
    // (the typed `echo needle-$((6*7))` does not).
    assert_eq!(sessions_of(&v), ["MozBook/web", "RasPi/api"], "{v}");
    for h in v["hits"].as_array().unwrap() {
        assert_eq!(h["line"], "needle-42", "{h}");
        assert!(h["ts_ms"].as_u64().unwrap() > 0, "{h}");
    }
    assert_eq!(v["truncated"], false, "{v}");
    assert_eq!(v["sessions"], 3, "three sessions searched: {v}");

    // Narrowing.
    let (_, v) = grep(&m, &["needle-42", "--session", "RasPi/api"]).await;
    assert_eq!(sessions_of(&v), ["RasPi/api"], "{v}");
    let (_, v) = grep(&m, &["needle-42", "--session", "web"]).await;
    assert_eq!(sessions_of(&v), ["MozBook/web"], "{v}");
    let (_, v) = grep(&m, &["needle-42", "--computer", "raspi"]).await;
    assert_eq!(sessions_of(&v), ["RasPi/api"], "{v}");
    let (code, v) = grep(&m, &["needle-42", "--session", "RasPi/quiet"]).await;
    assert_eq!(
        (code, sessions_of(&v).len()),
        (Some(1), 0),
        "no hit: exit 1; {v}"
    );
    let (code, v) = grep(&m, &["needle-42", "--max", "1"]).await;
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(sessions_of(&v), ["MozBook/web"], "{v}");
    assert_eq!(v["truncated"], true, "{v}");
    assert!(v["notes"].to_string().contains("first 1"), "{v}");
    let out = m
        .cli
        .run(&["grep", "needle-42", "--session", "RasPi/nope"])
        .await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("no session 'nope'"), "{out:?}");

    // --since: a line printed after a pause is the only one of the last few seconds.
    tokio::time::sleep(Duration::from_secs(6)).await;
    m.cli
        .run(&["send", "MozBook/web", "echo late-needle-$((6*7))"])
        .await
        .ok();
    wait_until("the late line", LONG, || async {
        let (_, v) = grep(&m, &["late-needle-42"]).await;
        (sessions_of(&v).len() == 1).then_some(())
    })
    .await;
    let (_, v) = grep(&m, &["needle-42", "--since", "4s"]).await;
    let lines: Vec<&str> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["line"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["late-needle-42"], "{v}");
    let (_, v) = grep(&m, &["needle-42", "--since", "1h"]).await;
    assert_eq!(sessions_of(&v).len(), 3, "{v}");

    // Text output: one line per hit, with its cursor.
    let out = m.cli.run(&["grep", "^needle-42$"]).await;
    let text = out.ok();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines().next().unwrap().starts_with("MozBook/web ") && text.contains("(cursor "),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hits_cursor_given_to_tail_starts_at_the_hit() {
    let m = mesh_with_needles().await;
    // More output after the hit, so the cursor is not simply the stream's start.
    m.cli.run(&["send", "RasPi/api", "echo after"]).await.ok();
    let (_, v) = grep(&m, &["^needle-42$", "--session", "RasPi/api"]).await;
    let cursor = v["hits"][0]["cursor"].as_str().unwrap().to_string();
    assert_ne!(cursor, "0-0", "a shell prints its prompt first: {v}");
    let out = m
        .cli
        .run(&["tail", "RasPi/api", "--cursor", &cursor, "--json"])
        .await;
    let first: Value = serde_json::from_str(out.ok().lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "lines", "{out:?}");
    assert!(
        first["lines"].to_string().contains("needle-42")
            || first["partial"].to_string().contains("needle-42"),
        "the first record after the cursor holds the hit: {first}"
    );
    let text = m.cli.run(&["tail", "RasPi/api", "--cursor", &cursor]).await;
    assert!(text.ok().contains("needle-42"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_patterns_are_refused_or_bounded() {
    let m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/long"]).await.ok();
    // One 20000-character line of `a`s (the typed command is short).
    m.cli
        .run(&[
            "send",
            "RasPi/long",
            "head -c 20000 /dev/zero | tr '\\0' a; echo",
        ])
        .await
        .ok();
    wait_until("the long line", LONG, || async {
        let (_, v) = grep(&m, &["^a{400}"]).await;
        (!sessions_of(&v).is_empty()).then_some(())
    })
    .await;
    let (_, v) = grep(&m, &["^a{400}"]).await;
    let line = v["hits"][0]["line"].as_str().unwrap();
    assert_eq!(
        line.chars().count(),
        501,
        "lines are cut at 500 characters: {line}"
    );

    // Catastrophic for a backtracking engine; linear here.
    let t0 = Instant::now();
    let out = m.cli.run(&["grep", "(a+)+b$"]).await;
    assert_eq!(out.code(), Some(1), "no hit: {out:?}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let t0 = Instant::now();
    let out = m.cli.run(&["grep", "(a+)+$"]).await;
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());

    // Refused before any node is asked, with the reason.
    let out = m.cli.run(&["grep", "(unclosed"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("unclosed group"), "{out:?}");
    let long = "a".repeat(2000);
    let out = m.cli.run(&["grep", &long]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("2000 characters long; the limit is 1000"),
        "{out:?}"
    );
    let out = m.cli.run(&["grep", r"\w{1000}\w{1000}"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("size limit"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_search_output_finds_lines_with_a_cursor() {
    let m = mesh_with_needles().await;
    let Some(py) = pymcp::python(Path::new(env!("CARGO_TARGET_TMPDIR"))) else {
        return;
    };
    let bin = telemux_bin();
    let args = [
        "--telemux",
        bin.to_str().unwrap(),
        "--sessions",
        "MozBook/web,RasPi/api",
    ];
    let out = run_script(
        &m.cli,
        &m.redis.url(),
        &py,
        &pymcp::script("mcp_search_check.py"),
        &args,
    )
    .await;
    assert!(
        out.success && out.stdout.contains("mcp search check: all steps passed"),
        "Python MCP client failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}
