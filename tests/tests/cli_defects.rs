//! CLI defects of issue 12: a closed stdout ends the CLI quietly (rows 3, 4),
//! `--help` is true to the binary (row 5), a node waits for a Redis that is
//! not up yet (row 7), unusable Redis URLs are config errors (row 9), a second
//! `telemux up` in one HOME refuses and leaves the first intact (row 12), no
//! colour codes in logs written to a pipe, `telemux forget`, and no false
//! "gap" after a Redis restart that lost its data.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use telemux_tests::{wait_until, Cli, Mesh, NodeOptions, NodeProcess, RedisServer, TmuxServer};
use tokio::io::AsyncBufReadExt;

/// `telemux ARGS` with stdout a pipe whose read end is already closed.
async fn run_into_closed_pipe(cli: &Cli, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let child = cli
        .command(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning telemux");
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("telemux into a closed pipe hung")
        .expect("waiting for telemux")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_the_cli_quietly() {
    let m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    for args in [
        &["sessions"][..],
        &["computers"],
        &["status", "RasPi", "--json"],
        &["tail", "RasPi/api"],
    ] {
        let out = run_into_closed_pipe(&m.cli, args).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(
            out.stderr.is_empty(),
            "{args:?}: nothing on stderr, got {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follow_into_head_ends_at_the_next_write() {
    let m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    m.cli.run(&["send", "RasPi/api", "echo first"]).await.ok();
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let err = dir.path().join("err");
    let script = format!(
        "{{ \"$TELEMUX\" tail RasPi/api --follow 2>'{}'; echo $? > '{}'; }} | head -1",
        err.display(),
        status.display()
    );
    let mut sh = m.cli.shell(&script).spawn().expect("spawning sh");
    // head exits after the first line; the next record the follower writes must end it.
    let code = wait_until(
        "tail --follow to notice the closed pipe",
        Duration::from_secs(30),
        || async {
            m.cli.run(&["send", "RasPi/api", "echo more"]).await.ok();
            tokio::time::sleep(Duration::from_millis(300)).await;
            std::fs::read_to_string(&status)
                .ok()
                .filter(|s| !s.trim().is_empty())
        },
    )
    .await;
    assert_eq!(code.trim(), "0", "tail's exit status");
    let err = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(err.is_empty(), "nothing on stderr, got {err}");
    let _ = sh.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_only_commands_the_binary_has() {
    let cli = Cli::new("redis://127.0.0.1:1");
    let help = cli.run(&["--help"]).await;
    let text = help.ok();
    assert!(!text.contains("not built"), "{text}");
    let commands: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    for wanted in ["gateway", "mcp", "forget", "node", "up"] {
        assert!(commands.contains(&wanted), "{wanted} in {commands:?}");
    }
    for c in commands {
        let out = cli.run(&[c, "--help"]).await;
        assert!(out.success(), "{c} --help: {out:?}");
        assert!(!out.stdout.contains("not built"), "{out:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_redis_urls_are_config_errors_in_plain_words() {
    // A live Redis, so an http:// URL to it would otherwise get as far as a decode error.
    let redis = RedisServer::start();
    let http = format!("http://127.0.0.1:{}", redis.port());
    for url in ["garbage", "redis://256.1.1.1:5", http.as_str()] {
        let out = Cli::new(url).run(&["computers"]).await;
        assert_eq!(out.code(), Some(2), "{url}: {out:?}");
        for form in ["redis://", "rediss://", "redis+unix://"] {
            assert!(out.stderr.contains(form), "{url}: names {form}: {out:?}");
        }
        for internal in ["RelativeUrlWithoutBase", "Custom {", "frame_type", "kind:"] {
            assert!(!out.stderr.contains(internal), "{url}: {out:?}");
        }
    }
}

#[test]
fn a_second_up_in_one_home_refuses_and_leaves_the_first_working() {
    let home = tempfile::tempdir().unwrap();
    let bin = telemux_tests::telemux_bin();
    let tmux = TmuxServer::new();
    let up = |log: &str| {
        std::process::Command::new(&bin)
            .arg("up")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", home.path())
            .env("TELEMUX_COMPUTER", "Solo")
            .env("TELEMUX_TMUX__SOCKET", tmux.name())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(home.path().join(log)).unwrap())
            .spawn()
            .unwrap()
    };
    let computers = || {
        std::process::Command::new(&bin)
            .args(["computers", "--json"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", home.path())
            .output()
            .unwrap()
    };
    let online = || String::from_utf8_lossy(&computers().stdout).contains(r#""online":true"#);
    let mut first = up("first.log");
    let mut out = BufReader::new(first.stdout.take().unwrap());
    std::thread::spawn(move || {
        let mut line = String::new();
        while out.read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !online() {
        assert!(
            Instant::now() < deadline,
            "the first up never came online: {}",
            std::fs::read_to_string(home.path().join("first.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let second = up("second.log")
        .wait_with_output()
        .expect("waiting for the second up");
    let err = std::fs::read_to_string(home.path().join("second.log")).unwrap();
    assert!(!second.status.success(), "second up must refuse: {err}");
    assert!(
        err.contains(&format!("pid {}", first.id())),
        "names the running one's pid {}: {err}",
        first.id()
    );
    assert!(
        home.path().join(".local/state/telemux/redis.sock").exists(),
        "the first's redis.sock is intact"
    );
    assert!(online(), "the first up still serves the CLI");
    let o = computers();
    assert!(o.status.success(), "{o:?}");
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(first.id() as libc::pid_t, libc::SIGINT);
    }
    let status = first.wait().unwrap();
    assert!(status.success(), "first up stops cleanly: {status:?}");
}

/// A free loopback port with nothing listening (a Redis that is not up yet).
fn dead_redis() -> RedisServer {
    let mut redis = RedisServer::start();
    redis.stop();
    redis
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_before_redis_joins_when_redis_comes_up() {
    let mut redis = dead_redis();
    let tmux = TmuxServer::new();
    let mut node = NodeProcess::start_with(NodeOptions::new("Early", &tmux, &redis));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(node.is_running(), "the node waits: {}", node.log());
    redis.start_again();
    let cli = Cli::new(redis.url());
    telemux_tests::mesh::wait_online(&cli, "Early").await;
    let log = node.log();
    let waits = log.matches("not reachable yet").count();
    assert!(
        (1..=2).contains(&waits),
        "logged once per interval, not per attempt ({waits}): {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_waiting_for_redis_stops_promptly_on_sigterm() {
    let redis = dead_redis();
    let tmux = TmuxServer::new();
    let mut node = NodeProcess::start_with(NodeOptions::new("Early", &tmux, &redis));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(node.is_running(), "the node waits: {}", node.log());
    let start = Instant::now();
    let status = node.stop().expect("node was running");
    assert!(status.success(), "{status:?}: {}", node.log());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_to_a_pipe_carry_no_colour_codes() {
    let redis = RedisServer::start();
    let tmux = TmuxServer::new();
    // No mesh.key: the node warns about unsigned commands.
    let cli = Cli::new(redis.url())
        .env("TELEMUX_COMPUTER", "Plain")
        .env("TELEMUX_TMUX__SOCKET", tmux.name());
    let mut node = cli.command(&["node"]);
    // The harness sets NO_COLOR for every child; a user's pipe does not.
    node.env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = node.spawn().expect("spawning the node");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let warn = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(l)) = lines.next_line().await {
            if l.contains("mesh.key") {
                return l;
            }
        }
        panic!("the node ended without its mesh.key warning");
    })
    .await
    .expect("no mesh.key warning within 30 s");
    assert!(!warn.contains('\x1b'), "{warn:?}");
    let _ = child.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_removes_a_stopped_computer_and_refuses_an_online_one() {
    let mut m = Mesh::start(&["Gone", "Keep"]).await;
    let out = m.cli.run(&["forget", "Gone"]).await;
    assert_ne!(out.code(), Some(0), "{out:?}");
    assert!(out.stderr.contains("online"), "{out:?}");
    m.nodes[0].stop();
    m.wait_online("Gone", false).await;
    let out = m.cli.run(&["forget", "gone"]).await;
    assert!(out.ok().contains("Gone"), "{out:?}");
    let names: Vec<Value> = m
        .computers()
        .await
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, vec![Value::from("Keep")]);
    let out = m.cli.run(&["forget", "Kep"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("did you mean Keep?"), "{out:?}");
}

/// Reads `tail --json` lines into `seen` until one contains `what` (30 s at most).
async fn read_until(
    stdout: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    what: &str,
    seen: &mut Vec<Value>,
) {
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(l)) = stdout.next_line().await {
            let hit = l.contains(what);
            seen.push(serde_json::from_str(&l).unwrap());
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    assert!(matches!(found, Ok(true)), "no {what} in {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_reports_no_gap_after_a_redis_restart_that_lost_nothing_unread() {
    // No persistence: the restart empties Redis, including the follower's
    // cursor entry, but the node re-sends everything after it.
    let mut m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    m.cli.run(&["send", "RasPi/api", "echo before"]).await.ok();
    let mut child = m
        .cli
        .command(&["tail", "RasPi/api", "--follow", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let stderr = child.stderr.take().unwrap();
    let errs = tokio::spawn(async move {
        let mut all = String::new();
        let mut l = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = l.next_line().await {
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut seen: Vec<Value> = Vec::new();
    read_until(&mut stdout, "before", &mut seen).await;
    // Let the follower read everything stored so far (the echoed output, the
    // next prompt): records stored but unread when Redis loses them are a
    // real gap, and reported as one.
    while let Ok(Ok(Some(l))) =
        tokio::time::timeout(Duration::from_millis(1500), stdout.next_line()).await
    {
        seen.push(serde_json::from_str(&l).unwrap());
    }
    m.redis.stop();
    m.redis.start_again();
    m.wait_online("RasPi", true).await;
    m.cli.run(&["send", "RasPi/api", "echo after"]).await.ok();
    read_until(&mut stdout, "after", &mut seen).await;
    let _ = child.kill().await;
    let errs = errs.await.unwrap();
    assert!(!seen.iter().any(|r| r["type"] == "gap"), "{seen:?}");
    assert!(!errs.contains("gap"), "{errs}");
}
