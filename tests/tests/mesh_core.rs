//! Mesh core scenarios (issue 2, DESIGN.md §10 scenario 1 and 10): presence,
//! adoption after a crash, session control from one computer's CLI to
//! another's sessions, and bad input that is refused clearly while everything
//! keeps running.

use std::time::{Duration, Instant};

use telemux_tests::node::TEST_HEARTBEAT_MS;
use telemux_tests::{wait_until, Mesh, NodeOptions, NodeProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_online_kill9_offline_restart_keeps_sessions() {
    let mut m = Mesh::start(&["MozBook", "RasPi"]).await;
    let c = m.computers().await;
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(c
        .iter()
        .all(|c| c["online"] == true && c["version"].is_string() && c["os"].is_string()));

    let created = m.cli.run(&["new", "RasPi/work"]).await;
    assert_eq!(created.ok().trim(), "RasPi/work");
    // A session made by hand on the node's tmux socket shows up too.
    m.tmux[1]
        .run(&["new-session", "-d", "-s", "byhand"])
        .unwrap();

    m.nodes[1].kill9();
    let killed = Instant::now();
    m.wait_online("RasPi", false).await;
    // TTL is 3 heartbeats; allow generous slack for a loaded CI machine.
    let took = killed.elapsed();
    assert!(
        took < Duration::from_millis(3 * TEST_HEARTBEAT_MS + 3000),
        "offline detection took {took:?}"
    );
    // Offline computers are refused at once with when they were last seen.
    let out = m.cli.run(&["sessions", "RasPi"]).await;
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("RasPi is offline (last seen"),
        "{out:?}"
    );

    m.nodes[1].start_again();
    m.wait_online("RasPi", true).await;
    let names: Vec<String> = m
        .sessions(Some("raspi"))
        .await
        .iter()
        .map(|s| s["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(names.contains(&"work".to_string()), "{names:?}");
    assert!(names.contains(&"byhand".to_string()), "{names:?}");

    // A graceful stop deregisters at once.
    m.nodes[0].stop();
    let c = m.computers().await;
    assert!(
        c.iter()
            .any(|c| c["name"] == "MozBook" && c["online"] == false),
        "{c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_control_from_one_computer_to_another() {
    let m = Mesh::start(&["MozBook", "RasPi"]).await;
    // The CLI "on MozBook" drives RasPi.
    let cli = m.cli.clone().env("TELEMUX_COMPUTER", "MozBook");
    let out = cli.run(&["new", "RasPi/api", "--cwd", "/tmp"]).await;
    assert_eq!(out.ok().trim(), "RasPi/api");
    let s = m.sessions(Some("RasPi")).await;
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0]["computer"], "RasPi");
    assert_eq!(s[0]["cwd"], "/tmp");
    assert_eq!(s[0]["state"], "running");
    for key in ["created_ms", "last_activity_ms", "command"] {
        assert!(!s[0][key].is_null(), "missing {key}: {s:?}");
    }

    // Text goes in literally: "C-c" is three characters, `$(...)` is not run by us.
    cli.run(&["send", "raspi/API", "echo marker-$((6*7))"])
        .await
        .ok();
    wait_until(
        "the command's output on the screen",
        Duration::from_secs(10),
        || async {
            cli.run(&["read", "RasPi/api"])
                .await
                .stdout
                .contains("marker-42")
        },
    )
    .await;
    // A bare session name resolves when it is unique in the mesh.
    cli.run(&["send", "api", "C-c", "--no-enter"]).await.ok();
    wait_until(
        "literal C-c typed at the prompt",
        Duration::from_secs(10),
        || async {
            cli.run(&["read", "api", "--lines", "0"])
                .await
                .stdout
                .contains("C-c")
        },
    )
    .await;
    // The key C-c interrupts what was typed.
    cli.run(&["keys", "RasPi/api", "C-c"]).await.ok();
    cli.run(&["send", "RasPi/api", "sleep 100"]).await.ok();
    tokio::time::sleep(Duration::from_millis(300)).await;
    cli.run(&["keys", "RasPi/api", "C-c"]).await.ok();
    wait_until(
        "sleep interrupted (exit 130)",
        Duration::from_secs(10),
        || async { m.exit_codes("RasPi/api").await.contains(&130) },
    )
    .await;
    let raw = cli.run(&["read", "RasPi/api", "--raw"]).await;
    assert!(
        raw.ok().contains('\u{1b}') || raw.ok().contains("marker-42"),
        "{raw:?}"
    );

    cli.run(&["kill", "RasPi/api"]).await.ok();
    wait_until("session gone", Duration::from_secs(10), || async {
        m.sessions(Some("RasPi")).await.is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_specific_errors() {
    let m = Mesh::start(&["MozBook", "RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["sessions", "mousebook"],
            "no computer 'mousebook'; did you mean MozBook?",
        ),
        (
            vec!["send", "RasPi/apy", "x"],
            "no session 'apy' on RasPi; did you mean api?",
        ),
        (
            vec!["send", "RasPi/a:b.c", "x"],
            "invalid session name 'a:b.c'",
        ),
        (vec!["new", "RasPi/-t"], "invalid session name '-t'"),
        (vec!["new", "RasPi/a;b"], "allowed:"),
        (vec!["new", "Ras Pi"], "invalid computer name"),
        (
            vec!["keys", "RasPi/api", "M-x"],
            "unknown key 'M-x'; allowed:",
        ),
        (vec!["new", "RasPi/api"], "exists already"),
        (
            vec!["new", "RasPi", "--cwd", "/no/such/dir"],
            "no directory '/no/such/dir' on RasPi",
        ),
    ];
    for (args, want) in cases {
        let out = m.cli.run(&args).await;
        assert_eq!(out.code(), Some(2), "{args:?}: {out:?}");
        assert!(
            out.stderr.contains(want),
            "{args:?} should say {want:?}: {out:?}"
        );
    }
    let big = "x".repeat(70 * 1024);
    let out = m.cli.run(&["send", "RasPi/api", &big]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("the limit is"), "{out:?}");

    // Garbage pushed straight into a command stream: dead-lettered, node keeps serving.
    m.redis
        .cli(&["XADD", "telemux:cmd:raspi", "*", "e", "garbage"]);
    m.redis
        .cli(&["XADD", "telemux:cmd:raspi", "*", "junk", "\u{1}\u{2}"]);
    let s = m.sessions(Some("RasPi")).await;
    assert_eq!(s.len(), 1, "{s:?}");
    wait_until("two dead letters", Duration::from_secs(10), || async {
        m.redis.cli(&["XLEN", "telemux:deadletter"]).trim() == "2"
    })
    .await;
    assert!(
        m.nodes[1].log().contains("dead-letter"),
        "node should log the refusal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_sent_while_a_node_is_down_run_when_it_returns() {
    let mut m = Mesh::start(&["RasPi"]).await;
    m.nodes[0].kill9();
    // While it is still within its TTL the request is queued; it times out for
    // this client, but the node executes it when it comes back.
    let cli = m.cli.clone();
    let pending = tokio::spawn(async move { cli.run(&["new", "RasPi/late"]).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    m.nodes[0].start_again();
    let _ = pending.await;
    wait_until(
        "queued session created after restart",
        Duration::from_secs(20),
        || async {
            m.sessions(Some("RasPi"))
                .await
                .iter()
                .any(|s| s["name"] == "late")
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_live_node_with_the_same_name_is_refused() {
    let m = Mesh::start(&["MozBook"]).await;
    let t = telemux_tests::TmuxServer::new();
    let mut second = NodeProcess::start_with(NodeOptions::new("mozbook", &t, &m.redis));
    let deadline = Instant::now() + Duration::from_secs(20);
    while second.is_running() {
        assert!(
            Instant::now() < deadline,
            "second node with a taken name kept running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        second.log().contains("already used by a live node"),
        "{}",
        second.log()
    );
    // The first one is untouched.
    let c = m.computers().await;
    assert!(
        c.iter()
            .any(|c| c["name"] == "MozBook" && c["online"] == true),
        "{c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_renamed_or_killed_by_hand_resolve_from_tmux() {
    // The node resolves names from its watcher table without asking tmux;
    // changes made behind its back must still give the right answer at once.
    let m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    m.cli.run(&["new", "RasPi/db"]).await.ok();
    m.tmux[0]
        .run(&["rename-session", "-t", "=api:", "web"])
        .unwrap();
    m.tmux[0].run(&["kill-session", "-t", "=db:"]).unwrap();

    for (session, want) in [
        ("RasPi/api", "no session 'api' on RasPi"),
        ("RasPi/db", "no session 'db' on RasPi"),
    ] {
        let out = m.cli.run(&["send", session, "x"]).await;
        assert_eq!(out.code(), Some(2), "{session}: {out:?}");
        assert!(out.stderr.contains(want), "{session}: {out:?}");
        assert!(out.stderr.contains("web"), "lists what exists: {out:?}");
    }
    // The renamed session is reachable under its new name straight away.
    m.cli
        .run(&["send", "RasPi/web", "echo renamed-$((6*7))"])
        .await
        .ok();
    wait_until(
        "output of the renamed session",
        Duration::from_secs(10),
        || async {
            m.cli
                .run(&["read", "RasPi/web"])
                .await
                .stdout
                .contains("renamed-42")
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_count_follows_without_waiting_for_a_heartbeat() {
    // A heartbeat far longer than the waits below: only the early beat on a
    // session change can update the count in time.
    let m = Mesh::start_with(telemux_tests::RedisServer::start(), &["RasPi"], |o| {
        NodeOptions {
            heartbeat_ms: 20_000,
            ..o
        }
    })
    .await;
    let count = || async {
        m.computers()
            .await
            .iter()
            .find(|c| c["name"] == "RasPi")
            .and_then(|c| c["sessions"].as_u64())
    };
    assert_eq!(count().await, Some(0));
    m.cli.run(&["new", "RasPi/a"]).await.ok();
    m.cli.run(&["new", "RasPi/b"]).await.ok();
    wait_until("2 sessions counted", Duration::from_secs(5), || async {
        count().await == Some(2)
    })
    .await;
    m.cli.run(&["kill", "RasPi/a"]).await.ok();
    wait_until("1 session counted", Duration::from_secs(5), || async {
        count().await == Some(1)
    })
    .await;
}
