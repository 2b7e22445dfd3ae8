//! Signed commands (issue 6, security 1): with `mesh.key` set, nodes run only
//! commands signed with it — unsigned, mis-signed, stale and replayed commands
//! are refused and logged, and someone who can write to Redis but lacks the
//! key cannot run anything: not even by copying a legitimate signed command
//! into another computer's stream, or back into the same one after the node
//! restarted, with the `telemux:taken:<id>` markers deleted (issue 12, rows
//! 10 and 11).

use std::time::Duration;

use telemux_bus::Bus;
use telemux_proto::{keys, now_ms, ComputerName, Envelope, MeshKey, Op, Request};
use telemux_tests::{wait_until, Cli, Mesh, NodeOptions, NodeProcess, RedisServer, TmuxServer};

const KEY: &str = "correct-horse-battery-staple-0123456789";

fn request(op: Op) -> Envelope {
    let req = Request {
        to: Some(ComputerName::new("RasPi").unwrap()),
        reply_to: String::new(),
        deadline_ms: 0,
        op,
    };
    Envelope::seal("attacker", &req).unwrap()
}

fn new_session(name: &str) -> Op {
    Op::NewSession {
        name: Some(name.into()),
        cwd: None,
        command: Some(vec!["sleep".into(), "60".into()]),
        agent: None,
        resume: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_signed_commands_run() {
    let redis = RedisServer::start();
    let tmux = TmuxServer::new();
    let node = NodeProcess::start_with(
        NodeOptions::new("RasPi", &tmux, &redis).env("TELEMUX_MESH__KEY", KEY),
    );
    let good = Cli::new(redis.url()).env("TELEMUX_MESH__KEY", KEY);
    wait_until("RasPi online", Duration::from_secs(20), || async {
        good.run(&["computers", "--json"])
            .await
            .stdout
            .contains(r#""online":true"#)
    })
    .await;

    // The right key works end to end.
    good.run(&["new", "RasPi/ok"]).await.ok();

    // No key, or the wrong one: refused with a reason, nothing created.
    let out = Cli::new(redis.url()).run(&["new", "RasPi/nokey"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("RasPi refused the command: command is not signed"),
        "{out:?}"
    );
    let out = Cli::new(redis.url())
        .env("TELEMUX_MESH__KEY", "a-different-key-of-enough-length")
        .run(&["new", "RasPi/wrongkey"])
        .await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("signature does not match"), "{out:?}");

    // Direct writes to Redis by someone without the key.
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let raspi = ComputerName::new("RasPi").unwrap();
    bus.send_request(&raspi, &request(new_session("unsigned")))
        .await
        .unwrap();

    // A correctly signed but stale command, and a replay of a valid one.
    let key = MeshKey::new(KEY.as_bytes()).unwrap();
    let mut stale = request(new_session("stale"));
    stale.ts_ms = now_ms() - 10 * 60 * 1000;
    key.sign(&mut stale);
    bus.send_request(&raspi, &stale).await.unwrap();
    let mut once = request(new_session("once"));
    key.sign(&mut once);
    bus.send_request(&raspi, &once).await.unwrap();

    wait_until(
        "the signed command ran",
        Duration::from_secs(20),
        || async { tmux.sessions().contains(&"once".to_string()) },
    )
    .await;
    // Replay the captured command: it must be refused, not run again. (The
    // session is left alone: killing a session right after it started has
    // crashed tmux 3.3a itself here once, a tmux bug that is not under test.)
    bus.send_request(&raspi, &once).await.unwrap();
    // A marker command after it: once it has run, the replay was handled too.
    let mut marker = request(new_session("marker"));
    key.sign(&mut marker);
    bus.send_request(&raspi, &marker).await.unwrap();
    wait_until(
        "the marker command ran",
        Duration::from_secs(20),
        || async { tmux.sessions().contains(&"marker".to_string()) },
    )
    .await;
    let sessions = tmux.sessions();
    for refused in ["nokey", "wrongkey", "unsigned", "stale"] {
        assert!(
            !sessions.contains(&refused.to_string()),
            "{refused} ran: {sessions:?}"
        );
    }
    let log = node.log();
    for reason in ["not signed", "does not match", "off this computer's clock"] {
        assert!(
            log.contains(reason),
            "node log should record refusal '{reason}'"
        );
    }
    assert!(
        log.contains("already received: refused as a replay") || log.contains("already taken"),
        "replay must be refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_the_node_warns_loudly() {
    let redis = RedisServer::start();
    let tmux = TmuxServer::new();
    let node = NodeProcess::start("RasPi", &tmux, &redis);
    wait_until("the warning", Duration::from_secs(20), || async {
        node.log()
            .contains("ANYONE WHO CAN WRITE TO THIS REDIS CAN RUN COMMANDS")
    })
    .await;
}

/// As a Redis writer without the key: appends a byte-exact copy of every entry
/// of `from`'s command stream to `to`'s (a Lua script, so the MessagePack
/// bytes never pass through a shell), and deletes every "taken" marker.
/// Returns how many entries were copied.
fn replay_commands(redis: &RedisServer, from: &str, to: &str) -> usize {
    const COPY: &str = "local n = 0 \
        for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do \
          redis.call('XADD', KEYS[2], '*', unpack(e[2])) n = n + 1 \
        end return n";
    const DELETE: &str = "local k = redis.call('KEYS', ARGV[1]) \
        for _, x in ipairs(k) do redis.call('DEL', x) end return #k";
    let taken = format!("{}:taken:*", keys::PREFIX);
    let deleted = redis.cli(&["EVAL", DELETE, "0", &taken]);
    assert_ne!(deleted, "0", "the legitimate command left no taken marker");
    let from = keys::commands(&ComputerName::new(from).unwrap());
    let to = keys::commands(&ComputerName::new(to).unwrap());
    let copied: usize = redis
        .cli(&["EVAL", COPY, "2", &from, &to])
        .parse()
        .expect("a count of copied entries");
    assert!(copied > 0, "nothing in {from} to copy");
    copied
}

/// Reasons of the dead letters refused from `computer`'s command stream.
async fn refusals(bus: &Bus, computer: &str) -> Vec<String> {
    let stream = keys::commands(&ComputerName::new(computer).unwrap());
    bus.dead_letters(100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|d| d.letter.ok())
        .filter(|l| l.stream == stream)
        .map(|l| l.reason)
        .collect()
}

/// Lines in the side-effect file (one per time the command ran).
fn runs(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// A signed mesh of `names`, a CLI holding the key, and a side-effect file that
/// the legitimate `run A -- ...` appends to.
async fn signed_mesh(names: &[&str]) -> (Mesh, Cli, tempfile::TempDir) {
    let m = Mesh::start_with(RedisServer::start(), names, |o| {
        o.env("TELEMUX_MESH__KEY", KEY)
    })
    .await;
    let cli = Cli::new(m.redis.url()).env("TELEMUX_MESH__KEY", KEY);
    (m, cli, tempfile::tempdir().unwrap())
}

/// Issue 12 row 10: a signed command names its computer under the signature,
/// so a Redis writer who copies it into another computer's stream (deleting
/// the taken marker) gets it refused there, not run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_command_copied_to_another_computer_is_refused() {
    let (m, cli, dir) = signed_mesh(&["A", "B"]).await;
    let hits = dir.path().join("hits");
    let line = format!("echo ran >> '{}'", hits.display());
    cli.run(&["run", "A", "--", &line]).await.ok();
    assert_eq!(runs(&hits), 1, "the legitimate run");

    let copied = replay_commands(&m.redis, "A", "B");
    let bus = Bus::connect(&m.redis.url()).await.unwrap();
    let reasons = wait_until(
        "B to refuse (or run) the copies",
        Duration::from_secs(20),
        || async {
            let r = refusals(&bus, "B").await;
            (r.len() >= copied || runs(&hits) > 1).then_some(r)
        },
    )
    .await;
    assert_eq!(runs(&hits), 1, "the copied command ran on B: {reasons:?}");
    assert_eq!(reasons.len(), copied, "{reasons:?}");
    for r in &reasons {
        assert!(r.contains("signed for computer A, not B"), "{r}");
    }
    assert!(m.nodes[1].log().contains("signed for computer A, not B"));
    assert!(
        !m.tmux[1].sessions().iter().any(|s| s.starts_with("run-")),
        "B created a run session: {:?}",
        m.tmux[1].sessions()
    );
}

/// Issue 12 row 11: the ids a node accepted are kept on disk for the skew
/// window, so after a restart, with the taken markers deleted, a command
/// copied back into the same stream is refused as a replay, not run twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_command_replayed_after_a_restart_is_refused() {
    let (mut m, cli, dir) = signed_mesh(&["A"]).await;
    let hits = dir.path().join("hits");
    let line = format!("echo ran >> '{}'", hits.display());
    cli.run(&["run", "A", "--", &line]).await.ok();
    assert_eq!(runs(&hits), 1, "the legitimate run");

    m.nodes[0].stop();
    m.nodes[0].start_again();
    m.wait_online("A", true).await;
    let copied = replay_commands(&m.redis, "A", "A");
    let bus = Bus::connect(&m.redis.url()).await.unwrap();
    let reasons = wait_until(
        "A to refuse (or run) the replays",
        Duration::from_secs(20),
        || async {
            let r = refusals(&bus, "A").await;
            (r.len() >= copied || runs(&hits) > 1).then_some(r)
        },
    )
    .await;
    assert_eq!(
        runs(&hits),
        1,
        "the replayed command ran twice: {reasons:?}"
    );
    assert_eq!(reasons.len(), copied, "{reasons:?}");
    for r in &reasons {
        assert!(r.contains("refused as a replay"), "{r}");
    }
}
