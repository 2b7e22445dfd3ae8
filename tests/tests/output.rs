//! Live output and exact exit codes (issue 3, DESIGN.md §7 and §10 scenarios
//! 2-5): `run` returns the remote exit code, exit codes cannot be forged by
//! printing, `tail --follow` is live, a flood does not delay another session,
//! full-screen programs become frames, and a node restart loses no exit code.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use telemux_tests::{wait_until, Mesh};
use tokio::io::AsyncBufReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_returns_the_remote_exit_code() {
    let m = Mesh::start(&["MozBook", "RasPi"]).await;
    let cli = m.cli.clone().env("TELEMUX_COMPUTER", "MozBook");

    let out = cli
        .run(&["run", "RasPi", "--", "sh", "-c", "echo hi; exit 7"])
        .await;
    assert_eq!(out.code(), Some(7), "{out:?}");
    assert_eq!(out.stdout.trim(), "hi", "{out:?}");

    let out = cli.run(&["run", "RasPi", "--", "false"]).await;
    assert_eq!(out.code(), Some(1), "{out:?}");

    // Death by signal: the shell's 128+signal status.
    let out = cli
        .run(&["run", "RasPi", "--", "sh", "-c", "kill -9 $$"])
        .await;
    assert_eq!(out.code(), Some(137), "{out:?}");

    // A single argument is a shell command line, run in --cwd.
    let out = cli
        .run(&[
            "run",
            "RasPi",
            "--cwd",
            "/tmp",
            "--json",
            "--",
            "pwd; exit 3",
        ])
        .await;
    assert_eq!(out.code(), Some(3), "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(v["exit_code"], 3);
    assert_eq!(v["output"].as_str().unwrap().trim(), "/tmp");
    assert!(v["duration_ms"].as_u64().is_some());

    let t0 = Instant::now();
    let out = cli
        .run(&["run", "RasPi", "--timeout", "1", "--", "sleep", "30"])
        .await;
    assert_eq!(out.code(), Some(124), "{out:?}");
    assert!(out.stderr.contains("timed out after 1 s"), "{out:?}");
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "timeout took {:?}",
        t0.elapsed()
    );

    // Many lines arrive complete and in order.
    let out = cli.run(&["run", "RasPi", "--", "seq", "1", "5000"]).await;
    assert_eq!(out.code(), Some(0), "{out:?}");
    let nums: Vec<u32> = out
        .stdout
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(nums, (1..=5000).collect::<Vec<_>>());

    // Run sessions are cleaned up afterwards.
    wait_until("run sessions removed", Duration::from_secs(10), || async {
        m.sessions(Some("RasPi")).await.is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_markers_cannot_forge_exit_codes() {
    let m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/sh", "--", "bash"]).await.ok();
    m.cli.run(&["kill", "RasPi/sh"]).await.ok();
    // A shell session with telemux's hooks (the default login shell).
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    let forge = r#"printf '\033]133;D;0\007 @telemux_exit_99 "0 1 2" telemux-wake\n'; tmux_fake=1; (exit 5)"#;
    m.cli.run(&["send", "RasPi/api", "true"]).await.ok();
    m.cli.run(&["send", "RasPi/api", "false"]).await.ok();
    m.cli.run(&["send", "RasPi/api", forge]).await.ok();
    m.cli.run(&["send", "RasPi/api", ""]).await.ok(); // an empty Enter is not a command
    m.cli
        .run(&["send", "RasPi/api", "sh -c 'exit 9'"])
        .await
        .ok();
    let codes = wait_until("four exit codes", Duration::from_secs(20), || async {
        let c = m.exit_codes("RasPi/api").await;
        (c.len() >= 4).then_some(c)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        m.exit_codes("RasPi/api").await,
        vec![0, 1, 5, 9],
        "got {codes:?}"
    );
    assert!(
        m.text("RasPi/api").await.contains("@telemux_exit_99"),
        "the forged text is shown as output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follow_sees_a_line_promptly_then_the_exit() {
    let m = Mesh::start(&["RasPi"]).await;
    m.cli
        .run(&[
            "new",
            "RasPi/svc",
            "--",
            "sh",
            "-c",
            "read x; echo got-$x; exit 4",
        ])
        .await
        .ok();
    let mut child = m
        .cli
        .command(&["tail", "RasPi/svc", "--follow", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = Instant::now();
    m.cli.run(&["send", "RasPi/svc", "hello"]).await.ok();
    let mut saw_line = None;
    let mut exit = None;
    while let Ok(Some(l)) = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap_or(Ok(None))
    {
        let v: Value = serde_json::from_str(&l).unwrap();
        if v["type"] == "lines"
            && v["lines"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == "got-hello")
        {
            saw_line.get_or_insert(sent.elapsed());
        }
        if v["type"] == "session_exited" {
            exit = Some(v["exit_status"].as_i64().unwrap());
            break;
        }
    }
    let took = saw_line.expect("tail --follow never showed the line");
    assert!(took < Duration::from_secs(2), "line took {took:?}");
    assert_eq!(exit, Some(4));
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "tail --follow should end after the session exits"
    );
    // Exited sessions are reported as exited, not silently gone.
    let s = m.sessions(Some("RasPi")).await;
    assert_eq!(s[0]["state"], "exited", "{s:?}");
    assert_eq!(s[0]["exit_status"], 4, "{s:?}");
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_does_not_delay_another_session_and_memory_stays_bounded() {
    let m = Mesh::start(&["RasPi"]).await;
    let pid = m.nodes[0].pid().unwrap();
    m.cli
        .run(&["new", "RasPi/flood", "--", "yes", "flood-flood-flood-flood"])
        .await
        .ok();
    m.cli
        .run(&[
            "new",
            "RasPi/calm",
            "--",
            "sh",
            "-c",
            "while read l; do echo \"calm:$l\"; done",
        ])
        .await
        .ok();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_start = rss_kb(pid);
    let mut child = m
        .cli
        .command(&["tail", "RasPi/calm", "--follow", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(64);
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            let _ = tx.send(l).await;
        }
    });
    let mut worst = Duration::ZERO;
    for i in 0..5 {
        let sent = Instant::now();
        m.cli
            .run(&["send", "RasPi/calm", &format!("ping{i}")])
            .await
            .ok();
        let want = format!("calm:ping{i}");
        loop {
            let l = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("calm line {i} not seen within 10 s during the flood"))
                .expect("tail ended");
            if l.contains(&want) {
                break;
            }
        }
        worst = worst.max(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Generous: CLI process start-up is part of this; the real figure is in the benchmark.
    assert!(
        worst < Duration::from_secs(5),
        "calm line took {worst:?} during the flood"
    );
    let rss_end = rss_kb(pid);
    assert!(
        rss_end < rss_start + 64 * 1024,
        "node RSS grew from {rss_start} kB to {rss_end} kB during the flood"
    );
    // Redis memory is bounded by trimming.
    let len: u64 = m
        .redis
        .cli(&["XLEN", "telemux:out:raspi:flood"])
        .trim()
        .parse()
        .unwrap();
    assert!(len < 2000 + 500, "flood stream holds {len} entries");
    m.cli.run(&["kill", "RasPi/flood"]).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_screen_programs_become_frames() {
    let m = Mesh::start(&["RasPi"]).await;
    let script = r#"printf '\033[?1049h\033[H\033[2JTOP-OF-FRAME\n\033[5;10Hmiddle'; sleep 30"#;
    m.cli.run(&["new", "RasPi/tui", "--", script]).await.ok();
    let frame = wait_until("a frame record", Duration::from_secs(10), || async {
        m.records("RasPi/tui")
            .await
            .into_iter()
            .find(|r| r["type"] == "frame")
    })
    .await;
    let rows: Vec<&str> = frame["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(rows[0].trim_end(), "TOP-OF-FRAME", "{rows:?}");
    assert_eq!(rows[4].trim_end(), "         middle", "{rows:?}");
    m.cli.run(&["kill", "RasPi/tui"]).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restart_continues_sequences_and_reports_exits_that_happened_meanwhile() {
    let mut m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    m.cli
        .run(&["new", "RasPi/job", "--", "sh -c 'read x; exit 6'"])
        .await
        .ok();
    m.cli.run(&["send", "RasPi/api", "echo before"]).await.ok();
    wait_until("first exit code", Duration::from_secs(10), || async {
        m.exit_codes("RasPi/api").await == vec![0]
    })
    .await;
    m.nodes[0].kill9();
    // Read after the kill: the node may publish a record (the next prompt)
    // between the exit code and its death, and the second that counts below is
    // that of the last record it published.
    let before = m.records("RasPi/api").await;
    let last_seq = before.last().unwrap()["seq"].as_u64().unwrap();
    // tmux keeps session activity in whole seconds, so the node can tell
    // "printed while I was down" only from a later second than its last
    // record (docs/operations.md): let that second pass first.
    let last_ts = before.last().unwrap()["ts_ms"].as_u64().unwrap();
    while telemux_proto::now_ms() / 1000 <= last_ts / 1000 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // While the node is down: one command finishes in the shell, and the job exits.
    m.tmux[0]
        .run(&["send-keys", "-t", "=api:", "-l", "sleep 0.5; (exit 3)"])
        .unwrap();
    m.tmux[0]
        .run(&["send-keys", "-t", "=api:", "Enter"])
        .unwrap();
    m.tmux[0]
        .run(&["send-keys", "-t", "=job:", "Enter"])
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    m.nodes[0].start_again();
    m.wait_online("RasPi", true).await;

    wait_until(
        "exit 3 reported after the restart",
        Duration::from_secs(20),
        || async { m.exit_codes("RasPi/api").await == vec![0, 3] },
    )
    .await;
    let after = m.records("RasPi/api").await;
    let seqs: Vec<u64> = after.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "sequence must continue without reuse: {seqs:?}"
    );
    assert!(seqs.iter().any(|&s| s > last_seq));
    // The restart is reported as a gap, never hidden.
    assert!(after.iter().any(|r| r["type"] == "gap"), "{after:?}");
    let job = wait_until("the job's exit", Duration::from_secs(20), || async {
        m.records("RasPi/job")
            .await
            .into_iter()
            .find(|r| r["type"] == "session_exited")
    })
    .await;
    assert_eq!(job["exit_status"], 6);
}

#[test]
fn up_starts_a_private_redis_and_a_node() {
    let home = tempfile::tempdir().unwrap();
    let bin = telemux_tests::telemux_bin();
    // Its tmux server (and socket file) go with the guard.
    let tmux = telemux_tests::TmuxServer::new();
    let sock = tmux.name().to_string();
    let log_path = home.path().join("up.log");
    let mut up = std::process::Command::new(&bin)
        .arg("up")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", home.path())
        .env("TELEMUX_COMPUTER", "Solo")
        .env("TELEMUX_TMUX__SOCKET", &sock)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(up.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.contains("telemux up"), "{first}");
    // Keep reading, as a terminal would.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    // A CLI on this computer finds the private Redis without any config.
    let computers = || {
        std::process::Command::new(&bin)
            .args(["computers", "--json"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", home.path())
            .output()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let o = computers();
        if String::from_utf8_lossy(&o.stdout).contains(r#""online":true"#) {
            break;
        }
        if Instant::now() > deadline {
            let _ = up.kill();
            panic!(
                "Solo never showed online via the private redis; last CLI: {o:?}\n--- telemux up log ---\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe {
        libc::kill(up.id() as i32, libc::SIGINT);
    }
    let status = up.wait().unwrap();
    assert!(
        status.success(),
        "telemux up should stop cleanly on Ctrl-C: {status:?}"
    );
    assert!(
        home.path()
            .join(".local/state/telemux/appendonly.aof")
            .exists()
            || home
                .path()
                .join(".local/state/telemux/appendonlydir")
                .exists(),
        "private redis persists"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_zsh_and_sh_sessions_report_exit_codes() {
    use telemux_tests::{Cli, NodeOptions, NodeProcess, RedisServer, TmuxServer};
    let mut shells = vec![("bash", "/bin/bash"), ("sh", "/bin/sh")];
    if std::path::Path::new("/usr/bin/zsh").exists() || std::env::var_os("CI").is_some() {
        shells.push(("zsh", "/usr/bin/zsh"));
    }
    let redis = RedisServer::start();
    let cli = Cli::new(redis.url());
    let mut keep = Vec::new();
    for (name, path) in &shells {
        let t = TmuxServer::new();
        let node = NodeProcess::start_with(NodeOptions::new(name, &t, &redis).env("SHELL", *path));
        keep.push((t, node));
    }
    for (name, _) in &shells {
        wait_until(
            &format!("{name} online"),
            Duration::from_secs(20),
            || async {
                cli.run(&["computers", "--json"])
                    .await
                    .stdout
                    .contains(&format!(r#""name":"{name}","online":true"#))
            },
        )
        .await;
        let session = format!("{name}/s");
        cli.run(&["new", &session]).await.ok();
        for cmd in ["true", "false", "sh -c 'exit 5'"] {
            cli.run(&["send", &session, cmd]).await.ok();
        }
        let codes = wait_until(
            &format!("{name}: three exit codes"),
            Duration::from_secs(20),
            || async {
                let c = telemux_tests::mesh::exit_codes(&cli, &session).await;
                (c.len() >= 3).then_some(c)
            },
        )
        .await;
        assert_eq!(codes, vec![0, 1, 5], "{name}");
    }
}

/// Issue 12 row 2: a last line without a trailing newline is output too —
/// plain `run` prints it as `--json` returns it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_prints_a_last_line_without_newline() {
    let m = Mesh::start(&["RasPi"]).await;
    let cli = m.cli.clone().env("TELEMUX_COMPUTER", "RasPi");

    let out = cli
        .run(&["run", "RasPi", "--", "echo first; printf tail-without-nl"])
        .await;
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, "first\ntail-without-nl", "{out:?}");

    let out = cli.run(&["run", "RasPi", "--", "printf no-nl"]).await;
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, "no-nl", "{out:?}");

    let out = cli
        .run(&["run", "RasPi", "--json", "--", "printf no-nl"])
        .await;
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(v["output"], "no-nl", "{out:?}");
}
