//! Answers coming home (`send --reply-to`): an agent on MozBook sends work
//! to an agent on RasPi and does not wait; when RasPi's turn is over its
//! answer is queued in MozBook's mailbox and typed into the sender when it
//! is idle. A shell as `reply_to` gets the answer as a `#` comment, never as
//! a command. Real nodes, Redis and tmux; the scripted fake agent.

use std::time::Duration;

use serde_json::Value;
use telemux_tests::agents::AgentConfig;
use telemux_tests::{wait_until, Mesh};

const LONG: Duration = Duration::from_secs(60);

async fn wait_agent(m: &Mesh, computer: &str, name: &str, state: &str) {
    wait_until(&format!("{name} to be {state}"), LONG, || async {
        let v = m.sessions(Some(computer)).await;
        match v.into_iter().find(|s| s["name"] == name) {
            Some(s) if s["agent_state"] == state => Ok(()),
            other => Err(other),
        }
    })
    .await
}

async fn screen(m: &Mesh, addr: &str) -> String {
    let s = m.cli.run(&["read", addr, "--lines", "200"]).await;
    s.ok().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_is_queued_for_the_sender_session_on_another_computer() {
    let cfg = AgentConfig::new();
    let m = cfg.mesh(&["RasPi", "MozBook"]).await;
    for (addr, agent) in [
        ("RasPi/bot", true),
        ("MozBook/boss", true),
        ("MozBook/sh", false),
    ] {
        let mut args = vec!["new", addr];
        if agent {
            args.extend(["--agent", "fake", "--cwd", "proj"]);
        }
        m.cli.run(&args).await.ok();
    }
    wait_agent(&m, "RasPi", "bot", "idle").await;
    wait_agent(&m, "MozBook", "boss", "idle").await;

    let out = m
        .cli
        .run(&[
            "--json",
            "send",
            "RasPi/bot",
            "build it",
            "--when",
            "ready",
            "--reply-to",
            "MozBook/boss",
        ])
        .await;
    let v: Value = serde_json::from_str(out.ok()).unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["reply_to"], "MozBook/boss", "{v}");
    assert_eq!(v["notify"], true, "reply_to implies notify: {v}");

    let want = format!("[answer from RasPi/bot to message {id}] You said: build it");
    let boss = wait_until("the answer typed into MozBook/boss", LONG, || async {
        let s = screen(&m, "MozBook/boss").await;
        s.contains(&format!("You said: {want}")).then_some(s)
    })
    .await;
    assert_eq!(
        boss.matches(&want).count(),
        2,
        "typed once (and echoed once by the fake):\n{boss}"
    );
    let inbox = m.cli.run(&["--json", "inbox", "MozBook/boss"]).await;
    let v: Value = serde_json::from_str(inbox.ok()).unwrap();
    assert_eq!(v[0]["id"], format!("re-{id}"), "{v}");
    assert_eq!(v[0]["status"], "delivered", "{v}");
    assert_eq!(v[0]["from"], "RasPi/bot", "{v}");

    // A shell as reply_to: the answer arrives as a comment line.
    let out = m
        .cli
        .run(&[
            "--json",
            "send",
            "RasPi/bot",
            "again",
            "--when",
            "ready",
            "--reply-to",
            "MozBook/sh",
        ])
        .await;
    let v: Value = serde_json::from_str(out.ok()).unwrap();
    let id2 = v["id"].as_str().unwrap().to_string();
    let sh = wait_until("the answer as a comment in MozBook/sh", LONG, || async {
        let s = screen(&m, "MozBook/sh").await;
        s.contains(&format!(
            "# [answer from RasPi/bot to message {id2}] You said: again"
        ))
        .then_some(s)
    })
    .await;
    assert!(!sh.contains("not found"), "never run as a command:\n{sh}");

    // A reply_to that names no session is refused before anything is queued.
    let bad = m
        .cli
        .run(&[
            "send",
            "RasPi/bot",
            "x",
            "--when",
            "ready",
            "--reply-to",
            "MozBook/nobody",
        ])
        .await;
    assert!(!bad.success(), "{bad:?}");
    assert!(bad.stderr.contains("nobody"), "{bad:?}");
    let evs = m
        .cli
        .run(&["--json", "events", "--type", "message_answered"])
        .await;
    let answered: Vec<Value> = evs
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answered.len(), 2, "{answered:?}");
    assert_eq!(answered[0]["reply_to"], "MozBook/boss");
}
