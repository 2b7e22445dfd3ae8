//! The mesh event bus, end to end: `telemux events --follow --json` watching
//! two computers while the CLI creates sessions, types into a shell and an
//! agent (the scripted fake), and kills one; the same events afterwards
//! without --follow through filters; a bad `--type` refused with the nearest
//! names; and MCP `wait_for_event` with the official Python SDK
//! (tests/mcp/mcp_events_check.py).

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use telemux_tests::agents::AgentConfig;
use telemux_tests::pymcp::{self, run_script};
use telemux_tests::{telemux_bin, wait_until};
use tokio::io::{AsyncBufReadExt, BufReader};

const LONG: Duration = Duration::from_secs(60);

/// Events of `types` in `got`, as (type, computer/session).
fn of(got: &[Value], types: &[&str]) -> Vec<(String, String)> {
    got.iter()
        .filter(|e| types.contains(&e["type"].as_str().unwrap_or("")))
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                format!(
                    "{}/{}",
                    e["computer"].as_str().unwrap_or(""),
                    e["session"].as_str().unwrap_or("")
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_show_sessions_input_agents_and_kills_across_computers() {
    let cfg = AgentConfig::new();
    let m = cfg.mesh(&["RasPi", "MozBook"]).await;

    let mut follower = m
        .cli
        .command(&["--json", "events", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let lines = BufReader::new(follower.stdout.take().unwrap());
    let sink = seen.clone();
    let reader = tokio::spawn(async move {
        let mut lines = lines.lines();
        while let Ok(Some(l)) = lines.next_line().await {
            let v: Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"));
            sink.lock().unwrap().push(v);
        }
    });
    // The follower starts at "now": let it connect before anything happens.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    m.cli.run(&["new", "RasPi/api"]).await.ok();
    m.cli
        .run(&["send", "RasPi/api", "sh -c 'exit 3'"])
        .await
        .ok();
    m.cli
        .run(&["new", "MozBook/bot", "--agent", "fake", "--cwd", "proj"])
        .await
        .ok();
    wait_until("the agent to be idle", LONG, || async {
        let v = m.sessions(Some("MozBook")).await;
        v.iter()
            .any(|s| s["name"] == "bot" && s["agent_state"] == "idle")
            .then_some(())
    })
    .await;
    m.cli.run(&["send", "MozBook/bot", "hello"]).await.ok();
    m.cli.run(&["kill", "RasPi/api"]).await.ok();

    let want = [
        ("session_created", "RasPi/api"),
        ("input_written", "RasPi/api"),
        ("command_finished", "RasPi/api"),
        ("session_created", "MozBook/bot"),
        ("input_written", "MozBook/bot"),
        ("input_accepted", "MozBook/bot"),
        ("session_killed", "RasPi/api"),
        ("session_closed", "RasPi/api"),
    ];
    let types: Vec<&str> = want.iter().map(|(t, _)| *t).collect();
    let got = wait_until("the follower to see every step", LONG, || async {
        let got = seen.lock().unwrap().clone();
        let mine = of(&got, &types);
        // Each computer's events are in order; across computers they interleave.
        let ordered = |c: &str| {
            let w: Vec<(String, String)> = want
                .iter()
                .filter(|(_, a)| a.starts_with(c))
                .map(|(t, a)| (t.to_string(), a.to_string()))
                .collect();
            let g: Vec<(String, String)> = mine
                .iter()
                .filter(|(_, a)| a.starts_with(c))
                .cloned()
                .collect();
            g == w
        };
        if ordered("RasPi/") && ordered("MozBook/") {
            Ok(got)
        } else {
            Err(mine)
        }
    })
    .await;
    let find = |ty: &str, addr: &str| -> Value {
        got.iter()
            .find(|e| {
                e["type"] == ty
                    && format!(
                        "{}/{}",
                        e["computer"].as_str().unwrap(),
                        e["session"].as_str().unwrap_or("")
                    ) == addr
            })
            .cloned()
            .unwrap()
    };
    let finished = find("command_finished", "RasPi/api");
    assert_eq!(finished["exit_code"], 3, "{finished}");
    let typed = find("input_written", "RasPi/api");
    assert_eq!(typed["chars"], "sh -c 'exit 3'".chars().count(), "{typed}");
    assert_eq!(typed["keys"], serde_json::json!(["Enter"]), "{typed}");
    for e in [
        &typed,
        &find("session_killed", "RasPi/api"),
        &find("session_created", "MozBook/bot"),
    ] {
        let by = e["by"].as_str().unwrap_or("");
        assert!(by.starts_with("cli@"), "the caller is named: {e}");
        assert!(e["time_ms"].as_u64().unwrap() > 1_700_000_000_000, "{e}");
        assert!(e["id"].as_str().unwrap().contains('-'), "{e}");
    }
    assert_eq!(find("session_created", "RasPi/api")["from"], "RasPi");
    assert!(
        got.iter().any(|e| e["type"] == "agent_state"
            && e["session"] == "bot"
            && e["state"] == "working"),
        "agent states are events too"
    );
    follower.kill().await.ok();
    reader.abort();

    // Afterwards, without --follow: the retained events, filtered, then exit.
    let out = m
        .cli
        .run(&[
            "--json",
            "events",
            "--type",
            "session_killed,input_accepted",
        ])
        .await;
    let lines: Vec<Value> = out
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut filtered = of(&lines, &["session_killed", "input_accepted"]);
    // Two computers: their events interleave in any order.
    filtered.sort();
    assert_eq!(
        filtered,
        [
            ("input_accepted".to_string(), "MozBook/bot".to_string()),
            ("session_killed".to_string(), "RasPi/api".to_string())
        ]
    );
    let out = m.cli.run(&["events", "--session", "RasPi/api"]).await;
    let text = out.ok();
    assert!(
        text.lines().all(|l| l.contains("RasPi/api")) && text.contains("command_finished"),
        "{text}"
    );
    assert!(
        text.contains("exit 3") && text.contains("by cli@"),
        "{text}"
    );
    let only_moz = m.cli.run(&["events", "--computer", "mozbook"]).await;
    assert!(
        only_moz.ok().lines().all(|l| l.contains("MozBook")),
        "{only_moz:?}"
    );

    // A wrong type is refused with the nearest names, nothing printed.
    let bad = m.cli.run(&["events", "--type", "sesion_killed"]).await;
    assert_eq!(bad.code(), Some(2), "{bad:?}");
    assert!(
        bad.stderr.contains("did you mean session_killed")
            && bad.stderr.contains("command_finished"),
        "{bad:?}"
    );
    let bad = m.cli.run(&["events", "--since", "yesterday"]).await;
    assert_eq!(bad.code(), Some(2), "{bad:?}");
    assert!(bad.stderr.contains("10m"), "{bad:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_wait_for_event_long_polls_with_a_cursor() {
    let m = telemux_tests::Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    let Some(py) = pymcp::python(Path::new(env!("CARGO_TARGET_TMPDIR"))) else {
        return;
    };
    let bin = telemux_bin();
    let args = ["--telemux", bin.to_str().unwrap(), "--session", "RasPi/api"];
    let out = run_script(
        &m.cli,
        &m.redis.url(),
        &py,
        &pymcp::script("mcp_events_check.py"),
        &args,
    )
    .await;
    assert!(
        out.success && out.stdout.contains("mcp events check: all steps passed"),
        "Python MCP client failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_computer_is_announced_offline_once_and_a_stopped_one_by_itself() {
    let mut m = telemux_tests::Mesh::start(&["RasPi", "MozBook", "Desk"]).await;
    let offline = |out: &telemux_tests::cli::Output, who: &str| -> Vec<Value> {
        out.ok()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["type"] == "computer_offline" && e["computer"] == who)
            .collect()
    };
    // kill -9: no goodbye; the two other nodes notice, one announces it.
    m.nodes[2].kill9();
    let ev = wait_until("Desk announced offline", LONG, || async {
        let out = m
            .cli
            .run(&["--json", "events", "--type", "computer_offline"])
            .await;
        offline(&out, "Desk").into_iter().next()
    })
    .await;
    assert!(
        ev["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("heartbeats stopped (last seen"),
        "{ev}"
    );
    assert!(
        ev["from"] == "RasPi" || ev["from"] == "MozBook",
        "published by a node that noticed: {ev}"
    );
    // A few more looks by both watchdogs (every 2 heartbeats): still one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = m
        .cli
        .run(&["--json", "events", "--type", "computer_offline"])
        .await;
    assert_eq!(offline(&out, "Desk").len(), 1, "{}", out.ok());

    // A graceful stop says so itself, and nobody announces it again.
    m.nodes[1].stop();
    let out = wait_until("MozBook offline", LONG, || async {
        let out = m
            .cli
            .run(&["--json", "events", "--type", "computer_offline"])
            .await;
        (!offline(&out, "MozBook").is_empty()).then_some(out)
    })
    .await;
    let ev = &offline(&out, "MozBook")[0];
    assert_eq!(
        (&ev["reason"], &ev["from"]),
        (&Value::from("stopped"), &Value::from("MozBook")),
        "{ev}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = m
        .cli
        .run(&["--json", "events", "--type", "computer_offline"])
        .await;
    assert_eq!(offline(&out, "MozBook").len(), 1, "{}", out.ok());
}
