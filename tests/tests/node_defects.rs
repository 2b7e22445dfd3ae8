//! Node defects of issue 12 (rows 6, 13, 14, "also seen"; row 1 is in run_stdin.rs) and issue 13
//! (one INFO line per killed session; bounded Redis), end to end: a real
//! redis-server, tmux on a private socket and `telemux node` processes.
//!
//! Each test names the issue row it covers. They were written before the fixes
//! and seen failing on the old code.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use telemux_proto::{keys, ComputerName, SessionName};
use telemux_tests::cli::both;
use telemux_tests::{wait_until, Cli, Mesh};
use tokio::task::JoinSet;

/// The one computer of these scenarios.
const C: &str = "Box";

/// Issue 12 row 6: a node killed with SIGKILL while a `run` sleeps, then
/// restarted: the run's CLI still exits with the command's code and the
/// temporary `run-…` session is removed (from `sessions` and from tmux).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_session_removed_after_node_restart() {
    let mut m = Mesh::start(&[C]).await;
    let child = m
        .cli
        .command(&["run", C, "--", "sleep 4; exit 6"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning telemux run");
    let tmux = &m.tmux[0];
    wait_until(
        "the run- session in tmux",
        Duration::from_secs(20),
        || async { tmux.sessions().iter().any(|s| s.starts_with("run-")) },
    )
    .await;
    // The node replies `created` right after tmux makes the session; killing
    // it before that reply fails the CLI, which is not this row's defect.
    wait_until(
        "the run- session listed",
        Duration::from_secs(20),
        || async {
            m.sessions(Some(C))
                .await
                .iter()
                .any(|s| s["name"].as_str().is_some_and(|n| n.starts_with("run-")))
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    m.nodes[0].kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    m.nodes[0].start_again();

    let out = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .expect("run finished within 90 s")
        .expect("waiting for telemux run");
    assert_eq!(out.status.code(), Some(6), "run exit code: {}", both(&out));

    wait_until(
        "the run- session gone from `sessions` and tmux",
        Duration::from_secs(60),
        || async {
            let listed: Vec<String> = m
                .sessions(Some(C))
                .await
                .iter()
                .filter_map(|s| s["name"].as_str().map(str::to_string))
                .filter(|n| n.starts_with("run-"))
                .collect();
            let in_tmux: Vec<String> = m.tmux[0]
                .sessions()
                .into_iter()
                .filter(|n| n.starts_with("run-"))
                .collect();
            if listed.is_empty() && in_tmux.is_empty() {
                Ok(())
            } else {
                Err(format!("listed {listed:?}, in tmux {in_tmux:?}"))
            }
        },
    )
    .await;
}

/// `tmux show …` of the node's server, trimmed; the error text when it fails.
fn show(m: &Mesh, args: &[&str]) -> String {
    m.tmux[0]
        .run(args)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| e)
}

/// What is missing from the node's tmux server set-up (`exit-empty off`,
/// global `remain-on-exit on`, the `pane-died` hook); empty when complete.
fn setup_missing(m: &Mesh) -> Vec<String> {
    let mut missing = Vec::new();
    let exit_empty = show(m, &["show-options", "-g", "exit-empty"]);
    if exit_empty != "exit-empty off" {
        missing.push(format!("exit-empty: {exit_empty:?}"));
    }
    let remain = show(m, &["show-options", "-wg", "remain-on-exit"]);
    if remain != "remain-on-exit on" {
        missing.push(format!("remain-on-exit: {remain:?}"));
    }
    let hook = show(m, &["show-hooks", "-g", "pane-died"]);
    if !hook.contains("wait-for") {
        missing.push(format!("pane-died hook: {hook:?}"));
    }
    missing
}

/// Issue 12 row 13: the node's tmux server dies (SIGSEGV). The node logs an
/// ERROR naming the sessions lost, reports each as ended with reason "tmux
/// server died", re-creates its server set-up and serves `run` and `new`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmux_server_crash_is_reported_and_setup_restored() {
    let m = Mesh::start(&[C]).await;
    let lost = ["lost-a", "lost-b"];
    for s in lost {
        m.cli.run(&["new", &format!("{C}/{s}")]).await.ok();
    }
    let before = m.tmux[0].server_pid().expect("tmux server pid");
    assert!(setup_missing(&m).is_empty(), "set-up at start");
    // SAFETY: kill(2) of the private tmux server this test's node started.
    assert_eq!(
        unsafe { libc::kill(before as libc::pid_t, libc::SIGSEGV) },
        0,
        "kill -SEGV tmux"
    );

    let mut failures: Vec<String> = Vec::new();
    let node = &m.nodes[0];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = node.plain_log();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
        if lost.iter().all(|s| errors.iter().any(|l| l.contains(s))) {
            break;
        }
        if Instant::now() > deadline {
            failures.push(format!(
                "no ERROR line naming each lost session within 20 s; ERROR lines: {errors:?}"
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for s in lost {
        let target = format!("{C}/{s}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen = m.records(&target).await;
            if seen.iter().any(|r| {
                (r["type"] == "session_closed" || r["type"] == "session_exited")
                    && r.to_string().contains("tmux server died")
            }) {
                break;
            }
            if Instant::now() > deadline {
                let ends: Vec<&Value> = seen
                    .iter()
                    .filter(|r| r["type"] == "session_closed" || r["type"] == "session_exited")
                    .collect();
                failures.push(format!(
                    "{target}: no end record with reason \"tmux server died\"; end records: {ends:?}"
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let missing = setup_missing(&m);
        if missing.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            failures.push(format!(
                "server set-up not re-created within 20 s after the crash: {missing:?}"
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let out = m
        .cli
        .run(&["run", C, "--timeout", "30", "--", "true"])
        .await;
    if out.code() != Some(0) {
        failures.push(format!("run after the crash: {out:?}"));
    }
    let out = m.cli.run(&["new", &format!("{C}/after")]).await;
    if !out.success() {
        failures.push(format!("new after the crash: {out:?}"));
    }
    let missing = setup_missing(&m);
    if !missing.is_empty() {
        failures.push(format!("server set-up after run + new: {missing:?}"));
    }
    assert!(
        failures.is_empty(),
        "after the tmux server crashed:\n  {}",
        failures.join("\n  ")
    );
}

/// Seconds the churn test runs: `TELEMUX_CHURN_SECS`, default 180 (the soak run
/// that found row 14 ran 25 minutes; 3 minutes keeps CI time bounded).
fn churn_secs() -> u64 {
    std::env::var("TELEMUX_CHURN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180)
}

/// Lines of the node's log (ANSI stripped) at `level` that name `session`.
fn lines_about<'a>(log: &'a str, level: &str, session: &str) -> Vec<&'a str> {
    let field = format!("session={session}");
    log.lines()
        .filter(|l| l.contains(level))
        .filter(|l| l.split_whitespace().any(|w| w == field))
        .collect()
}

/// Issue 12 row 14 and issue 13 (new-user defect: one INFO line per killed
/// session): sessions created and killed every second, a `run` every 2 s,
/// three long-lived printing sessions and a 5 MB burst every 30 s, with the
/// node's control hub attached throughout. The tmux server survives (same
/// pid), every run gets its exit code, and a killed session's end logs no
/// WARN and exactly one INFO "session closed" line.
///
/// Before the control hub (one `tmux -C` client per session) the node's tmux
/// 3.3a server died under this churn within minutes: an ASAN build of 3.3a
/// showed a NULL `control_state` in `control_write` from
/// `control_notify_client_detached` — a notification reaching a control
/// client that was still identifying. `TELEMUX_CHURN_SECS` sets the length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_under_bursts_keeps_tmux_and_logs_quietly() {
    let m = Mesh::start(&[C]).await;
    let cli = m.cli.clone().timeout(Duration::from_secs(120));
    for i in 0..3 {
        cli.run(&[
            "new",
            &format!("{C}/long{i}"),
            "--",
            "while :; do date +%s.%N; sleep 0.1; done",
        ])
        .await
        .ok();
    }
    cli.run(&["new", &format!("{C}/burst")]).await.ok();
    let pid = m.tmux[0].server_pid().expect("tmux server pid");
    let end = Instant::now() + Duration::from_secs(churn_secs());

    let churn = async {
        let mut killed = Vec::new();
        let mut n = 0u32;
        while Instant::now() < end {
            let name = format!("churn{n}");
            n += 1;
            let target = format!("{C}/{name}");
            let out = cli.run(&["new", &target]).await;
            assert!(out.success(), "new during churn: {out:?}");
            cli.run(&["send", &target, "echo hello"]).await.ok();
            tokio::time::sleep(Duration::from_millis(500)).await;
            let out = cli.run(&["kill", &target]).await;
            assert!(out.success(), "kill during churn: {out:?}");
            killed.push(name);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        killed
    };
    let runs = async {
        let mut wrong = Vec::new();
        let mut n = 0;
        while Instant::now() < end {
            let code = n % 50;
            n += 1;
            let out = cli
                .run(&["run", C, "--timeout", "60", "--", &format!("exit {code}")])
                .await;
            if out.code() != Some(code) {
                wrong.push(format!("expected {code}: {out:?}"));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        (n, wrong)
    };
    let bursts = async {
        let target = format!("{C}/burst");
        while Instant::now() < end {
            cli.run(&["send", &target, "yes | head -c 5000000"])
                .await
                .ok();
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    };
    let (killed, (runs_done, wrong), ()) = tokio::join!(churn, runs, bursts);

    let after = m.tmux[0].server_pid();
    assert_eq!(
        after,
        Some(pid),
        "the tmux server survived the churn (same pid)"
    );
    assert!(
        wrong.is_empty(),
        "{} of {runs_done} runs did not get their exit code:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Give the last kills time to be noticed and logged.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = m.nodes[0].plain_log();
    let total_warn = log.lines().filter(|l| l.contains(" WARN ")).count();
    let mut noisy = Vec::new();
    let mut not_one_info = Vec::new();
    for name in &killed {
        let warns = lines_about(&log, " WARN ", name);
        if !warns.is_empty() {
            noisy.push(format!("{name}: {warns:?}"));
        }
        let closed: Vec<&str> = lines_about(&log, " INFO ", name)
            .into_iter()
            .filter(|l| l.contains("session closed"))
            .collect();
        if closed.len() != 1 {
            not_one_info.push(format!("{name}: {closed:?}"));
        }
    }
    assert!(
        noisy.is_empty() && not_one_info.is_empty(),
        "{} killed sessions; {total_warn} WARN lines in the node log; {} sessions logged WARN \
         on a normal end, {} did not log exactly one INFO `session closed`. First WARNs:\n{}\n\
         First INFO miscounts:\n{}",
        killed.len(),
        noisy.len(),
        not_one_info.len(),
        noisy.iter().take(5).cloned().collect::<Vec<_>>().join("\n"),
        not_one_info
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Issue 12 "also seen": `new C/TXT` when session `txt` exists reports the
/// real name `txt`, not the typed case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_reports_real_name_of_existing_session() {
    let m = Mesh::start(&[C]).await;
    m.cli.run(&["new", &format!("{C}/txt")]).await.ok();
    let out = m.cli.run(&["new", &format!("{C}/TXT")]).await;
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("txt") && !text.contains("TXT"),
        "the answer names the existing session `txt`, not the typed `TXT`: {out:?}"
    );
}

/// Every key (and, for hashes, every field) in Redis containing one of `needles`.
fn keys_mentioning(m: &Mesh, needles: &[&str]) -> Vec<String> {
    let hit = |s: &str| needles.iter().any(|n| s.contains(n));
    let mut found = Vec::new();
    for key in m.redis.cli(&["--scan"]).lines() {
        if hit(key) {
            found.push(format!("key {key}"));
        }
        if m.redis.cli(&["TYPE", key]) == "hash" {
            for field in m.redis.cli(&["HKEYS", key]).lines() {
                if hit(field) {
                    found.push(format!("field {field} of {key}"));
                }
            }
        }
    }
    found
}

/// Issue 13 item 6 (bounded Redis): with `output.retention = 0` (env
/// `TELEMUX_OUTPUT__RETENTION=0`, seconds), 200 sessions created and killed
/// (some printing, some whose process exited first) and 20 `run`s leave no
/// Redis key and no hash field (e.g. `exits_seen`) naming any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sessions_leave_no_redis_keys() {
    let m = Mesh::start_with_env(&[C], &[("TELEMUX_OUTPUT__RETENTION", "0")]).await;
    let cli: Cli = m.cli.clone().timeout(Duration::from_secs(120));
    let mut tasks = JoinSet::new();
    for worker in 0..4u32 {
        let cli = cli.clone();
        tasks.spawn(async move {
            for i in (worker..200).step_by(4) {
                let target = format!("{C}/gonesess{i}");
                let out = if i % 5 == 0 {
                    cli.run(&["new", &target, "--", "echo bye; exit 3"]).await
                } else {
                    cli.run(&["new", &target]).await
                };
                assert!(out.success(), "{out:?}");
                if i % 2 == 1 {
                    cli.run(&["send", &target, "echo hello"]).await.ok();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                cli.run(&["kill", &target]).await;
            }
            for _ in 0..5 {
                let out = cli
                    .run(&["run", C, "--timeout", "60", "--", "exit 2"])
                    .await;
                assert_eq!(out.code(), Some(2), "{out:?}");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("worker");
    }
    wait_until(
        "no Redis key or hash field naming a killed session",
        Duration::from_secs(60),
        || async {
            let left = keys_mentioning(&m, &["gonesess", "run-"]);
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} left, e.g. {:?}",
                    left.len(),
                    &left[..left.len().min(10)]
                ))
            }
        },
    )
    .await;
    let names: BTreeSet<String> = m
        .sessions(Some(C))
        .await
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with("gonesess")),
        "killed sessions are not listed: {names:?}"
    );
}

/// Issue 13 item 6 (bounded Redis): with `output.max_bytes = 2 MiB` (env
/// `TELEMUX_OUTPUT__MAX_BYTES=2097152`, bytes), a 30 MB `yes` flood leaves the
/// session's output stream under 3 MiB (`MEMORY USAGE … SAMPLES 0`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_stream_bounded_by_bytes() {
    let m = Mesh::start_with_env(&[C], &[("TELEMUX_OUTPUT__MAX_BYTES", "2097152")]).await;
    let target = format!("{C}/flood");
    m.cli.run(&["new", &target]).await.ok();
    m.cli
        .run(&["send", &target, "yes | head -c 30000000; echo flood-done"])
        .await
        .ok();
    wait_until("the flood finished", Duration::from_secs(180), || async {
        m.exit_codes(&target).await.contains(&0)
    })
    .await;
    let key = keys::output(
        &ComputerName::new(C).expect("computer name"),
        &SessionName::new("flood").expect("session name"),
    );
    let bytes: u64 = m
        .redis
        .cli(&["MEMORY", "USAGE", &key, "SAMPLES", "0"])
        .parse()
        .unwrap_or_else(|e| panic!("MEMORY USAGE {key}: {e}"));
    assert!(
        bytes < 3 * 1024 * 1024,
        "the output stream {key} holds {bytes} bytes after a 30 MB flood (max_bytes 2 MiB)"
    );
}
