//! "typing…" in an agent's topic while it works: a real node running the
//! scripted fake agent (tests/agents/fake_agent.py), real redis-server, the
//! real `telemux gateway` and the fake Bot API recording `sendChatAction`.

use std::time::{Duration, Instant};

use serde_json::Value;
use telemux_tests::agents::AgentConfig;
use telemux_tests::telegram::{Call, FakeTelegram, GatewayProcess};
use telemux_tests::{wait_until, Mesh};

const TOKEN: &str = "123456:TEST-token";
const OWNER: i64 = 42;
const GROUP: i64 = -100_777;
const LONG: Duration = Duration::from_secs(60);

async fn agent_state(m: &Mesh, name: &str) -> Option<String> {
    m.sessions(Some("Ag"))
        .await
        .into_iter()
        .find(|v| v["name"] == name)
        .and_then(|v: Value| v["agent_state"].as_str().map(String::from))
}

fn typing(tg: &FakeTelegram, thread: i64) -> Vec<Call> {
    tg.calls_of("sendChatAction")
        .into_iter()
        .filter(|c| c.params["message_thread_id"].as_i64() == Some(thread))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_is_shown_while_the_agent_works_and_stops_at_idle() {
    let cfg = AgentConfig::new();
    let m = cfg.mesh(&["Ag"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    let _gw = GatewayProcess::start(&m.redis.url(), tg.gateway_env(OWNER, GROUP));
    wait_until("the gateway to poll", LONG, || async {
        !tg.calls_of("getUpdates").is_empty()
    })
    .await;
    tg.inject_message(OWNER, GROUP, None, "/agent fake Ag/ty");
    let thread = wait_until("the agent's topic", LONG, || async {
        tg.topics()
            .into_iter()
            .find(|t| t.2 == "Ag/ty")
            .map(|t| t.1)
    })
    .await;
    wait_until("the agent idle", LONG, || async {
        agent_state(&m, "ty").await.filter(|s| s == "idle")
    })
    .await;
    assert!(typing(&tg, thread).is_empty(), "no typing while idle");

    tg.inject_message(OWNER, GROUP, Some(thread), "work 9000");
    wait_until("the agent working", LONG, || async {
        agent_state(&m, "ty").await.filter(|s| s == "working")
    })
    .await;
    let working_seen = Instant::now();
    let first = wait_until(
        "the first typing action",
        Duration::from_secs(10),
        || async { typing(&tg, thread).into_iter().next() },
    )
    .await;
    assert!(
        first.at.duration_since(working_seen) < Duration::from_secs(4),
        "sent at once, not after a whole interval"
    );
    assert_eq!(first.params["action"], "typing");
    assert_eq!(first.params["chat_id"].as_i64(), Some(GROUP));
    assert!(first.error.is_none(), "{first:?}");
    // Renewed while it works (every ~4 s).
    let calls = wait_until(
        "the typing action renewed",
        Duration::from_secs(10),
        || async {
            let c = typing(&tg, thread);
            (c.len() >= 2).then_some(c)
        },
    )
    .await;
    let gap = calls[1].at.duration_since(calls[0].at);
    assert!(
        gap >= Duration::from_millis(3500) && gap <= Duration::from_millis(6000),
        "renewed every ~4 s, not {gap:?}"
    );

    wait_until("the agent idle again", LONG, || async {
        agent_state(&m, "ty").await.filter(|s| s == "idle")
    })
    .await;
    // The gateway reads the state record within a batch (~1.5 s); then nothing more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled = typing(&tg, thread).len();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        typing(&tg, thread).len(),
        settled,
        "no typing action after idle: {:?}",
        typing(&tg, thread)
    );
    assert!(tg.violations().is_empty(), "{:?}", tg.violations());
    assert!(
        tg.calls_of("sendChatAction")
            .iter()
            .all(|c| c.error.is_none()),
        "every action accepted"
    );
}
