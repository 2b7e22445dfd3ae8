//! `telemux info SESSION` and MCP `session_info` (issue 16): a shell session
//! in detail (pid, size, stream length and bytes, the last command's exit
//! code, mailbox counts, the Telegram topic the gateway keeps for it), an
//! exited session (state and exit code), and an unknown one refused.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use telemux_tests::pymcp::{self, run_script};
use telemux_tests::{telemux_bin, wait_until, Mesh};

const LONG: Duration = Duration::from_secs(30);

async fn info(m: &Mesh, session: &str) -> Value {
    let out = m.cli.run(&["info", session, "--json"]).await;
    serde_json::from_str(out.ok()).unwrap_or_else(|e| panic!("info --json ({e}): {out:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_on_a_shell_session_and_on_an_exited_one() {
    let m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/sh"]).await.ok();
    m.cli
        .run(&["send", "RasPi/sh", "sh -c 'exit 3'"])
        .await
        .ok();
    let v = wait_until("the last exit code", LONG, || async {
        let v = info(&m, "RasPi/sh").await;
        (v["last_exit_code"] == 3).then_some(v)
    })
    .await;
    assert_eq!(v["session"], "RasPi/sh", "{v}");
    assert_eq!(v["state"], "running", "{v}");
    assert!(v["pid"].as_u64().unwrap() > 1, "{v}");
    assert!(
        v["width"].as_u64().unwrap() > 0 && v["height"].as_u64().unwrap() > 0,
        "{v}"
    );
    assert!(!v["command"].as_str().unwrap().is_empty(), "{v}");
    assert!(!v["cwd"].as_str().unwrap().is_empty(), "{v}");
    assert!(v["created_ms"].as_u64().unwrap() > 0, "{v}");
    assert!(v["stream_len"].as_u64().unwrap() > 0, "{v}");
    assert!(v["stream_bytes"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["telegram_topic"], Value::Null, "{v}");
    assert_eq!(
        v["mailbox"],
        serde_json::json!({"pending": 0, "delivered": 0, "dead": 0}),
        "{v}"
    );
    // The gateway's topic map, as it stores it (case-folded key).
    m.redis
        .cli(&["HSET", "telemux:tg:topics", "raspi/sh", "4242"]);
    assert_eq!(info(&m, "sh").await["telegram_topic"], 4242);
    let text = m.cli.run(&["info", "RasPi/sh"]).await;
    let text = text.ok();
    assert!(text.contains("last exit code  3"), "{text}");
    assert!(text.contains("telegram topic  4242"), "{text}");
    assert!(text.contains("state           running"), "{text}");

    // A session whose command ended is kept, exited, with its status.
    m.cli
        .run(&["new", "RasPi/done", "--", "sh", "-c", "echo bye; exit 7"])
        .await
        .ok();
    let v = wait_until("the session to exit", LONG, || async {
        let v = info(&m, "RasPi/done").await;
        (v["state"] == "exited").then_some(v)
    })
    .await;
    assert_eq!(v["exit_status"], 7, "{v}");
    assert_eq!(v["last_exit_code"], 7, "{v}");

    let out = m.cli.run(&["info", "RasPi/nope"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("no session 'nope'"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_session_info_through_the_python_sdk() {
    let m = Mesh::start(&["RasPi", "MozBook"]).await;
    for s in ["RasPi/api", "MozBook/web"] {
        m.cli.run(&["new", s]).await.ok();
        m.cli.run(&["send", s, "echo needle-$((6*7))"]).await.ok();
    }
    wait_until("needle-42 in both sessions", LONG, || async {
        let out = m.cli.run(&["grep", "^needle-42$"]).await;
        (out.stdout.lines().count() == 2).then_some(())
    })
    .await;
    let Some(py) = pymcp::python(Path::new(env!("CARGO_TARGET_TMPDIR"))) else {
        return;
    };
    let bin = telemux_bin();
    let args = [
        "--telemux",
        bin.to_str().unwrap(),
        "--sessions",
        "MozBook/web,RasPi/api",
        "--info",
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
        out.success && out.stdout.contains("mcp session_info check: passed"),
        "Python MCP client failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}
