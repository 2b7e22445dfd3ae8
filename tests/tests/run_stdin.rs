//! Issue 12 row 1, end to end: `telemux run` forwards its stdin (a pipe or a
//! file) to the remote command, and a stdin at EOF (here /dev/null) gives the
//! command EOF at once instead of a hang until the timeout. A real
//! redis-server, tmux on a private socket and a `telemux node` process.
//!
//! The test was written before the fix and seen failing on the old code (exit
//! 124, the timeout). It is a copy of the same test on branch h-ntests
//! (tests/tests/node_defects.rs), kept in the same form so a merge is trivial.

use std::process::Stdio;
use std::time::{Duration, Instant};

use telemux_proto::limits;
use telemux_tests::cli::both;
use telemux_tests::{wait_until, Mesh};
use tokio::io::AsyncWriteExt;

/// The one computer of these scenarios.
const C: &str = "Box";

/// Issue 12 row 1: `run` forwards its stdin to the remote command until EOF;
/// with stdin at EOF at once (here /dev/null) the command gets EOF at once
/// instead of hanging until the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_forwards_stdin_and_eof() {
    let m = Mesh::start(&[C]).await;

    // A pipe with data: the command reads it.
    let mut child = m
        .cli
        .command(&["run", C, "--timeout", "20", "--", "read x; echo got:$x"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning telemux run");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(b"in\n").await.expect("writing stdin");
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("run with piped stdin finished within 60 s")
        .expect("waiting for telemux run");
    let text = both(&out);
    assert_eq!(out.status.code(), Some(0), "piped stdin: {text}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("got:in"),
        "the remote command read the piped line: {text}"
    );

    // stdin from /dev/null (the harness default): EOF at once, not after the timeout.
    let start = Instant::now();
    let out = m
        .cli
        .run(&["run", C, "--timeout", "20", "--", "read x; echo got:[$x]"])
        .await;
    let took = start.elapsed();
    assert_eq!(out.code(), Some(0), "stdin at EOF: {out:?}");
    assert!(
        out.stdout.contains("got:[]"),
        "the remote read saw EOF and an empty line: {out:?}"
    );
    assert!(
        took < Duration::from_secs(12),
        "EOF reached the remote command at once, not at the 20 s timeout (took {took:?}): {out:?}"
    );
}

/// The node side of issue 12 row 1: a stdin from a file reaches the command
/// through a private (0600) file under the node's state dir, which is gone once
/// the run ended; a stdin over the limit is refused by the CLI, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_stdin_file_is_private_and_removed_and_bounded() {
    let state = tempfile::tempdir().expect("state dir");
    let state_dir = state.path().to_str().expect("utf-8 temp path");
    let m = Mesh::start_with_env(&[C], &[("TELEMUX_NODE__STATE_DIR", state_dir)]).await;

    // stdin from a file; the command shows the mode of what it reads, then it.
    let input = state.path().join("input.txt");
    std::fs::write(&input, "secret line\n").expect("writing the input file");
    let out = m
        .cli
        .command(&[
            "run",
            C,
            "--timeout",
            "20",
            "--",
            "stat -L -c mode:%a /dev/stdin; cat",
        ])
        .stdin(std::fs::File::open(&input).expect("opening the input file"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("running telemux run");
    let text = both(&out);
    assert_eq!(out.status.code(), Some(0), "stdin from a file: {text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("mode:600"),
        "the stdin file is private: {text}"
    );
    assert!(
        stdout.contains("secret line"),
        "the command read the file: {text}"
    );
    let dir = state.path().join("run-stdin");
    assert!(dir.is_dir(), "the node kept the stdin under its state dir");
    wait_until(
        "the run's stdin file is removed after the run ended",
        Duration::from_secs(20),
        || async {
            std::fs::read_dir(&dir)
                .map(|d| d.count() == 0)
                .unwrap_or(false)
        },
    )
    .await;

    // Over the limit: refused before anything is sent, naming the limit.
    let mut child = m
        .cli
        .command(&["run", C, "--timeout", "20", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning telemux run");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // The CLI may stop reading once it has seen too much: a broken pipe is fine.
    let _ = stdin
        .write_all(&vec![b'x'; limits::MAX_STDIN_BYTES + 1])
        .await;
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("run with oversized stdin finished within 60 s")
        .expect("waiting for telemux run");
    let text = both(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "oversized stdin is bad input: {text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&limits::MAX_STDIN_BYTES.to_string()),
        "the error names the limit: {text}"
    );
}
