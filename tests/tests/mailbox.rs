//! Queued delivery (`send --when`, `inbox`), end to end with real nodes,
//! Redis and tmux: a message for an agent mid-turn is typed only after the
//! turn, exactly once, and `--notify` returns the agent's answer; a message
//! waiting for a busy shell survives `kill -9` of its node and is typed once
//! after the restart; a target that never takes a message gets retries, then
//! a dead letter, each visible in `events`; a time-to-live runs out; retry and
//! drop; bad input refused; MCP `send_message` with notify through the
//! Python SDK (tests/mcp/mcp_mailbox_check.py).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use telemux_tests::agents::AgentConfig;
use telemux_tests::pymcp::{self, run_script};
use telemux_tests::{telemux_bin, wait_until, Mesh, RedisServer};

const LONG: Duration = Duration::from_secs(60);

/// A mesh of one computer, RasPi, with the fake agents plus `deaf` (shows an
/// idle prompt, never reacts to input) and a short accept window.
async fn mesh(cfg: &AgentConfig) -> Mesh {
    let mut toml = std::fs::read_to_string(cfg.path()).unwrap();
    toml.push_str(
        "\n[agents.deaf]\ncommand = [\"sh\", \"-c\", \"printf '│ > │\\\\n'; exec cat >/dev/null\"]\nidle = ['│ > ']\nworking = ['esc to interrupt']\n",
    );
    std::fs::write(cfg.path(), toml).unwrap();
    let path = cfg.path();
    Mesh::start_with(RedisServer::start(), &["RasPi"], |o| {
        o.env("TELEMUX_CONFIG", &path)
            .env("TELEMUX_NODE__ACCEPT_WITHIN_MS", "1500")
    })
    .await
}

async fn session(m: &Mesh, name: &str) -> Option<Value> {
    m.sessions(Some("RasPi"))
        .await
        .into_iter()
        .find(|v| v["name"] == name)
}

async fn wait_agent(m: &Mesh, name: &str, state: &str) {
    wait_until(&format!("{name} to be {state}"), LONG, || async {
        match session(m, name).await {
            Some(v) if v["agent_state"] == state => Ok(()),
            other => Err(other),
        }
    })
    .await
}

/// The mailbox of `RasPi/NAME`, as `inbox --json` prints it.
async fn inbox(m: &Mesh, name: &str) -> Vec<Value> {
    let out = m
        .cli
        .run(&["--json", "inbox", &format!("RasPi/{name}")])
        .await;
    serde_json::from_str::<Value>(out.ok())
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Event types about message `id`, in order, from `events --json`.
async fn delivery_events(m: &Mesh, id: &str) -> Vec<String> {
    let out = m.cli.run(&["--json", "events"]).await;
    out.ok()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["message_id"] == id)
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

fn queued_id(out: &telemux_tests::cli::Output) -> String {
    let v: Value = serde_json::from_str(out.ok()).unwrap();
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_for_a_working_agent_waits_for_the_turn_and_notify_brings_the_answer() {
    let cfg = AgentConfig::new();
    let m = mesh(&cfg).await;
    m.cli
        .run(&["new", "RasPi/bot", "--agent", "fake", "--cwd", "proj"])
        .await
        .ok();
    wait_agent(&m, "bot", "idle").await;
    m.cli.run(&["send", "RasPi/bot", "first"]).await.ok();
    wait_agent(&m, "bot", "working").await;
    let out = m
        .cli
        .run(&["--json", "send", "RasPi/bot", "second", "--when", "idle"])
        .await;
    let id = queued_id(&out);
    // Mid-turn: still queued.
    let now = inbox(&m, "bot").await;
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(now[0]["status"], "pending", "{now:?}");
    assert_eq!(
        now[0]["from"].as_str().unwrap().split('@').next(),
        Some("cli")
    );

    wait_until("the queued message to be delivered", LONG, || async {
        let i = inbox(&m, "bot").await;
        (i[0]["status"] == "delivered").then_some(()).ok_or(i)
    })
    .await;
    wait_agent(&m, "bot", "idle").await;
    let screen = m.cli.run(&["read", "RasPi/bot", "--lines", "200"]).await;
    assert_eq!(
        screen.ok().matches("You said: second").count(),
        1,
        "typed once, after the first turn:\n{}",
        screen.ok()
    );
    assert!(
        screen.ok().find("You said: first").unwrap()
            < screen.ok().find("You said: second").unwrap()
    );
    assert_eq!(
        delivery_events(&m, &id).await,
        ["delivery_queued", "delivery_delivered"]
    );

    // notify: the answer of the turn the message started comes back.
    let out = m
        .cli
        .run(&[
            "send",
            "RasPi/bot",
            "third",
            "--when",
            "ready",
            "--notify",
            "--wait",
            "60s",
        ])
        .await;
    assert!(
        out.ok().contains("You said: third"),
        "the agent's answer is printed: {out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_message_survives_kill_9_of_its_node_and_is_typed_once() {
    let cfg = AgentConfig::new();
    let mut m = mesh(&cfg).await;
    m.cli.run(&["new", "RasPi/sh"]).await.ok();
    m.cli.run(&["send", "RasPi/sh", "sleep 6"]).await.ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = m
        .cli
        .run(&[
            "--json",
            "send",
            "RasPi/sh",
            "echo delivered-$((40+2))",
            "--when",
            "ready",
        ])
        .await;
    let id = queued_id(&out);
    assert_eq!(inbox(&m, "sh").await[0]["status"], "pending");
    m.nodes[0].kill9();
    m.nodes[0].start_again();
    m.wait_online("RasPi", true).await;
    let screen = wait_until(
        "the message to be typed after the restart",
        LONG,
        || async {
            let s = m.cli.run(&["read", "RasPi/sh"]).await;
            let text = s.ok().to_string();
            text.contains("delivered-42").then_some(text)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = m.cli.run(&["read", "RasPi/sh"]).await;
    assert_eq!(
        again.ok().matches("delivered-42").count(),
        1,
        "typed exactly once:\n{screen}"
    );
    let i = inbox(&m, "sh").await;
    assert_eq!(i[0]["status"], "delivered", "{i:?}");
    let evs = delivery_events(&m, &id).await;
    assert_eq!(
        evs.iter().filter(|e| *e == "delivery_delivered").count(),
        1,
        "{evs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_never_taken_is_retried_then_dead_lettered_and_ttls_expire() {
    let cfg = AgentConfig::new();
    let m = mesh(&cfg).await;
    m.cli
        .run(&["new", "RasPi/deaf", "--agent", "deaf"])
        .await
        .ok();
    wait_agent(&m, "deaf", "idle").await;
    let out = m
        .cli
        .run(&[
            "--json",
            "send",
            "RasPi/deaf",
            "anyone there",
            "--when",
            "ready",
        ])
        .await;
    let id = queued_id(&out);
    wait_until("the message to be dead-lettered", LONG, || async {
        let i = inbox(&m, "deaf").await;
        (i[0]["status"] == "dead").then_some(()).ok_or(i)
    })
    .await;
    let i = inbox(&m, "deaf").await;
    assert_eq!(i[0]["attempts"], 3, "{i:?}");
    assert!(
        i[0]["detail"].as_str().unwrap().contains("3 attempts"),
        "{i:?}"
    );
    assert_eq!(
        delivery_events(&m, &id).await,
        [
            "delivery_queued",
            "delivery_retrying",
            "delivery_retrying",
            "delivery_dead_lettered"
        ]
    );
    // A dead message can be tried again; a pending one dropped.
    let r = m.cli.run(&["inbox", "RasPi/deaf", "--retry", &id]).await;
    assert!(r.ok().contains("pending"), "{r:?}");
    let d = m.cli.run(&["inbox", "RasPi/deaf", "--drop", &id]).await;
    assert!(d.ok().contains("dropped"), "{d:?}");

    // A shell busy for longer than the message may wait: it expires.
    m.cli.run(&["new", "RasPi/busy"]).await.ok();
    m.cli.run(&["send", "RasPi/busy", "sleep 30"]).await.ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = m
        .cli
        .run(&[
            "--json",
            "send",
            "RasPi/busy",
            "echo late",
            "--when",
            "ready",
            "--ttl",
            "2s",
        ])
        .await;
    let late = queued_id(&out);
    wait_until("the message to expire", LONG, || async {
        let i = inbox(&m, "busy").await;
        (i[0]["status"] == "expired").then_some(()).ok_or(i)
    })
    .await;
    assert_eq!(
        delivery_events(&m, &late).await,
        ["delivery_queued", "delivery_expired"]
    );

    // Bad input: a clear error, nothing queued.
    let bad = m
        .cli
        .run(&["send", "RasPi/busy", "x", "--when", "soon"])
        .await;
    assert_eq!(bad.code(), Some(2), "{bad:?}");
    assert!(bad.stderr.contains("now, ready, idle"), "{bad:?}");
    let bad = m
        .cli
        .run(&["send", "RasPi/nope", "x", "--when", "now"])
        .await;
    assert_ne!(bad.code(), Some(0), "{bad:?}");
    assert!(bad.stderr.contains("no session"), "{bad:?}");
    let bad = m
        .cli
        .run(&[
            "send",
            "RasPi/busy",
            "x",
            "--when",
            "now",
            "--ttl",
            "forever",
        ])
        .await;
    assert_eq!(bad.code(), Some(2), "{bad:?}");
    assert_eq!(inbox(&m, "busy").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_send_message_with_notify_brings_the_answer() {
    let cfg = AgentConfig::new();
    let m = mesh(&cfg).await;
    m.cli
        .run(&["new", "RasPi/bot", "--agent", "fake", "--cwd", "proj"])
        .await
        .ok();
    m.cli.run(&["new", "RasPi/sh"]).await.ok();
    wait_agent(&m, "bot", "idle").await;
    m.cli.run(&["send", "RasPi/sh", "sleep 4"]).await.ok();
    let Some(py) = pymcp::python(Path::new(env!("CARGO_TARGET_TMPDIR"))) else {
        return;
    };
    let bin = telemux_bin();
    let args = [
        "--telemux",
        bin.to_str().unwrap(),
        "--agent",
        "RasPi/bot",
        "--shell",
        "RasPi/sh",
    ];
    let out = run_script(
        &m.cli,
        &m.redis.url(),
        &py,
        &pymcp::script("mcp_mailbox_check.py"),
        &args,
    )
    .await;
    assert!(
        out.success && out.stdout.contains("mcp mailbox check: all steps passed"),
        "Python MCP client failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_messages_across_a_redis_restart_and_a_node_kill_arrive_once_each() {
    let mut m = Mesh::start_with(RedisServer::start_persistent(), &["RasPi"], |o| o).await;
    m.cli.run(&["new", "RasPi/sh"]).await.ok();
    m.cli.run(&["send", "RasPi/sh", "sleep 5"]).await.ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids = Vec::new();
    for n in 1..=10 {
        // The typed line says `$((100+n))`; only its output says `m-10n`.
        let text = format!("echo m-$((100+{n}))");
        let out = m
            .cli
            .run(&["--json", "send", "RasPi/sh", &text, "--when", "ready"])
            .await;
        ids.push(queued_id(&out));
    }
    m.redis.stop();
    m.redis.start_again();
    m.nodes[0].kill9();
    m.nodes[0].start_again();
    m.wait_online("RasPi", true).await;
    let all: Vec<String> = (101..=110).map(|n| format!("m-{n}")).collect();
    wait_until("all ten to be typed", LONG, || async {
        let s = m.cli.run(&["read", "RasPi/sh", "--lines", "300"]).await;
        let text = s.ok().to_string();
        let missing: Vec<&String> = all.iter().filter(|w| !text.contains(w.as_str())).collect();
        missing.is_empty().then_some(()).ok_or(missing.len())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let screen = m.cli.run(&["read", "RasPi/sh", "--lines", "300"]).await;
    for w in &all {
        assert_eq!(
            screen.ok().matches(&format!("{w}\n")).count(),
            1,
            "{w} printed once:\n{}",
            screen.ok()
        );
    }
    let inbox = inbox(&m, "sh").await;
    assert_eq!(inbox.len(), 10, "{inbox:?}");
    assert!(
        inbox
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1),
        "{inbox:?}"
    );
    let listed: Vec<&str> = inbox.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(
        listed,
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "oldest first"
    );
}
