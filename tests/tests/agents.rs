//! Agent sessions end to end (issue 9): real redis-server, real tmux, real
//! `telemux node` processes configured (TELEMUX_CONFIG) with the scripted
//! fake TUI agent of tests/agents/fake_agent.py, driven through the CLI, the
//! MCP server (`telemux mcp` over stdio, with rmcp's client) and the
//! Telegram bot (`telemux gateway` against the fake Bot API).
//!
//! The fake agent works ~1 s on any prompt and answers "You said: …"; on a
//! prompt containing the word "ask" it asks "Do you want to proceed?" and
//! waits for the key 1 or 2. The `claude` profile here runs the same script
//! with the built-in Claude patterns and `--settings` hooks, which the fake
//! runs like Claude Code does.

use std::process::Stdio;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};
use telemux_tests::agents::AgentConfig;
use telemux_tests::mesh::Mesh;
use telemux_tests::telegram::{FakeTelegram, GatewayProcess, StoredMessage};
use telemux_tests::wait_until;

/// Generous: the fake agent's turns take about a second, a loaded CI box more.
const LONG: Duration = Duration::from_secs(60);

/// The session's entry of `sessions --json`.
async fn session(m: &Mesh, addr: &str) -> Option<Value> {
    let (c, s) = addr.split_once('/').expect("computer/session");
    m.sessions(Some(c))
        .await
        .into_iter()
        .find(|v| v["name"] == s)
}

/// Waits until the agent in `addr` reads `state` in `sessions --json`.
async fn wait_state(m: &Mesh, addr: &str, state: &str) -> Value {
    wait_until(&format!("{addr} to be {state}"), LONG, || async {
        match session(m, addr).await {
            Some(v) if v["agent_state"] == state => Ok(v),
            other => Err(other),
        }
    })
    .await
}

/// The agent states recorded in `addr`'s output stream (`tail --json`), in order.
async fn states(m: &Mesh, addr: &str) -> Vec<String> {
    m.records(addr)
        .await
        .iter()
        .filter(|r| r["type"] == "agent_state")
        .map(|r| r["state"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// Waits until the recorded states of `addr` are exactly `want`.
async fn wait_states(m: &Mesh, addr: &str, want: &[&str]) {
    wait_until(&format!("{addr} states {want:?}"), LONG, || async {
        let got = states(m, addr).await;
        if got == want {
            Ok(())
        } else {
            Err(got)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enter_taken_as_a_newline_is_pressed_again() {
    // DESIGN §8a: Enter after a paste can land as a newline in an agent's
    // input box (Codex does this within ~100 ms). `pasty` always does it for
    // the first Enter; the node sees the idle agent not take the prompt and
    // presses Enter once more. A plain agent gets exactly one Enter.
    let cfg = AgentConfig::new();
    let m = cfg.mesh(&["Ag"]).await;
    for (addr, agent) in [("Ag/pasty", "pasty"), ("Ag/plain", "fake")] {
        let name = addr.split('/').nth(1).unwrap();
        let out = m
            .cli
            .run(&["new", &format!("Ag/{name}"), "--agent", agent])
            .await;
        assert!(out.success(), "{out:?}");
        wait_state(&m, addr, "idle").await;
    }

    let out = m.cli.run(&["send", "Ag/pasty", "hello"]).await;
    assert!(out.success(), "{out:?}");
    wait_states(&m, "Ag/pasty", &["starting", "idle", "working", "idle"]).await;
    let answer = m.cli.run(&["read", "Ag/pasty", "--last-turn"]).await;
    assert!(
        answer.ok().contains("You said: hello"),
        "the prompt was submitted by the second Enter: {answer:?}"
    );

    m.cli.run(&["send", "Ag/plain", "hi"]).await.ok();
    wait_states(&m, "Ag/plain", &["starting", "idle", "working", "idle"]).await;
    let log = m.nodes[0].log();
    let retries: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("pressed Enter again"))
        .collect();
    assert_eq!(retries.len(), 1, "one second Enter, for pasty only:\n{log}");
    assert!(retries[0].contains("session=pasty"), "{retries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_states_in_order_listing_and_last_turn() {
    let cfg = AgentConfig::new();
    let m = cfg.mesh(&["Ag"]).await;
    let out = m
        .cli
        .run(&["new", "Ag/bot", "--agent", "fake", "--cwd", "proj"])
        .await;
    assert!(out.success(), "{out:?}");

    let v = wait_state(&m, "Ag/bot", "idle").await;
    assert_eq!(v["agent"], "fake", "{v}");
    assert_eq!(
        v["cwd"].as_str().unwrap(),
        cfg.project().to_str().unwrap(),
        "the project name resolved to its directory: {v}"
    );
    assert!(v["agent_since_ms"].as_u64().unwrap() > 0, "{v}");
    wait_states(&m, "Ag/bot", &["starting", "idle"]).await;

    m.cli.run(&["send", "Ag/bot", "hello"]).await.ok();
    wait_states(&m, "Ag/bot", &["starting", "idle", "working", "idle"]).await;
    let answer = m.cli.run(&["read", "Ag/bot", "--last-turn"]).await;
    assert_eq!(
        answer.ok().trim_end(),
        "You said: hello\nSecond line of the answer."
    );

    m.cli.run(&["send", "Ag/bot", "please ask"]).await.ok();
    wait_state(&m, "Ag/bot", "waiting_for_input").await;
    // The key `1` answers the question.
    m.cli.run(&["send", "Ag/bot", "1", "--no-enter"]).await.ok();
    wait_states(
        &m,
        "Ag/bot",
        &[
            "starting",
            "idle",
            "working",
            "idle",
            "working",
            "waiting_for_input",
            "working",
            "idle",
        ],
    )
    .await;
    let answer = m.cli.run(&["read", "Ag/bot", "--last-turn"]).await;
    assert_eq!(answer.ok().trim_end(), "You said yes.");

    // The question's record quotes it.
    let recs = m.records("Ag/bot").await;
    let asked = recs
        .iter()
        .find(|r| r["type"] == "agent_state" && r["state"] == "waiting_for_input")
        .unwrap();
    assert!(
        asked["detail"]
            .as_str()
            .unwrap()
            .contains("Do you want to proceed"),
        "{asked}"
    );

    m.cli.run(&["send", "Ag/bot", "exit"]).await.ok();
    wait_states(
        &m,
        "Ag/bot",
        &[
            "starting",
            "idle",
            "working",
            "idle",
            "working",
            "waiting_for_input",
            "working",
            "idle",
            "exited",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_agent_gets_a_suggestion() {
    let cfg = AgentConfig::new();
    let m = cfg.mesh(&["Ag"]).await;
    let out = m.cli.run(&["new", "Ag", "--agent", "claud"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("did you mean claude"), "{out:?}");
    // Nothing was started.
    assert!(m.sessions(Some("Ag")).await.is_empty());
}

// --- MCP -----------------------------------------------------------------

type Client = RunningService<RoleClient, ()>;

/// An MCP client on a fresh `telemux mcp` process (stdio), as a model's host runs it.
async fn mcp(m: &Mesh) -> (Client, tokio::process::Child) {
    let mut child = m
        .cli
        .command(&["mcp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning telemux mcp");
    let stdout = child.stdout.take().expect("stdout");
    let stdin = child.stdin.take().expect("stdin");
    let client = ().serve((stdout, stdin)).await.expect("MCP handshake");
    (client, child)
}

async fn call(c: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args.clone() else {
        panic!("arguments must be an object")
    };
    let params = CallToolRequestParams::new(tool.to_string()).with_arguments(map);
    c.call_tool(params)
        .await
        .unwrap_or_else(|e| panic!("{tool} {args}: protocol error {e}"))
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Calls a tool that must succeed; returns its structured content.
async fn ok(c: &Client, tool: &str, args: Value) -> Value {
    let r = call(c, tool, args.clone()).await;
    assert_eq!(r.is_error, Some(false), "{tool} {args}: {}", text(&r));
    r.structured_content.clone().expect("structured content")
}

/// Calls a tool that must fail; returns its error text.
async fn err(c: &Client, tool: &str, args: Value) -> String {
    let r = call(c, tool, args.clone()).await;
    assert_eq!(r.is_error, Some(true), "{tool} {args} should fail");
    text(&r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_agent_session_send_then_wait_is_race_free() {
    let cfg = AgentConfig::new();
    let m = cfg.mesh(&["Ag"]).await;
    let (c, _child) = mcp(&m).await;

    let tools = c.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "list_projects"));
    let info = c.peer_info().expect("server info");
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(
        instructions.contains("list_projects") && instructions.contains("last_turn"),
        "{instructions}"
    );

    let v = ok(&c, "list_projects", json!({})).await;
    let ag = &v["computers"][0];
    assert_eq!(ag["computer"], "Ag", "{v}");
    assert_eq!(ag["online"], true, "{v}");
    assert_eq!(ag["projects"][0]["name"], "proj", "{v}");
    assert_eq!(
        ag["projects"][0]["dir"].as_str().unwrap(),
        cfg.project().to_str().unwrap()
    );
    let agents: Vec<&str> = ag["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        agents.contains(&"fake") && agents.contains(&"claude"),
        "{v}"
    );
    let e = err(&c, "list_projects", json!({"computer": "Agg"})).await;
    assert!(e.contains("did you mean Ag"), "{e}");

    let e = err(
        &c,
        "start_session",
        json!({"computer": "Ag", "agent": "claud"}),
    )
    .await;
    assert!(e.contains("did you mean claude"), "{e}");

    let v = ok(
        &c,
        "start_session",
        json!({"computer": "Ag", "name": "m1", "agent": "fake", "cwd": "proj"}),
    )
    .await;
    assert_eq!(v["session"], "Ag/m1");
    // Ready: the first idle after the start.
    let v = ok(
        &c,
        "wait_for",
        json!({"session": "Ag/m1", "until": "idle", "since": v["cursor"], "timeout_s": 60}),
    )
    .await;
    assert_eq!(v["happened"], "idle", "{v}");
    assert_eq!(v["agent_state"], "idle", "{v}");
    let v = ok(&c, "list_sessions", json!({"computer": "Ag"})).await;
    let s = &v["sessions"][0];
    assert_eq!(s["agent"], "fake", "{v}");
    assert_eq!(s["agent_state"], "idle", "{v}");
    assert!(s["agent_since_ms"].as_u64().is_some(), "{v}");
    assert_eq!(s["cwd"].as_str().unwrap(), cfg.project().to_str().unwrap());

    // The race: right after send_text the agent still reads idle (from
    // before the prompt). wait_for without `since` must wait for the turn
    // this input started, not return on that stale idle.
    ok(
        &c,
        "send_text",
        json!({"session": "Ag/m1", "text": "hello there"}),
    )
    .await;
    let v = ok(
        &c,
        "wait_for",
        json!({"session": "Ag/m1", "until": "idle", "timeout_s": 60}),
    )
    .await;
    assert_eq!(v["happened"], "idle", "{v}");
    assert_eq!(v["already"], false, "{v}");
    assert!(
        v["waited_s"].as_f64().unwrap() >= 0.5,
        "the fake agent works ~1 s: {v}"
    );
    let v = ok(
        &c,
        "read_output",
        json!({"session": "Ag/m1", "last_turn": true}),
    )
    .await;
    assert_eq!(
        v["text"].as_str().unwrap().trim_end(),
        "You said: hello there\nSecond line of the answer."
    );

    // With the cursor send_text returned, the same holds.
    let sent = ok(
        &c,
        "send_text",
        json!({"session": "Ag/m1", "text": "work 1500"}),
    )
    .await;
    let v = ok(
        &c,
        "wait_for",
        json!({"session": "Ag/m1", "until": "idle", "since": sent["cursor"], "timeout_s": 60}),
    )
    .await;
    assert_eq!(v["happened"], "idle", "{v}");
    assert!(v["waited_s"].as_f64().unwrap() >= 1.0, "{v}");
    let v = ok(
        &c,
        "read_output",
        json!({"session": "Ag/m1", "last_turn": true}),
    )
    .await;
    assert_eq!(v["text"].as_str().unwrap().trim_end(), "Done working.");

    // A question ends an `idle` wait too (the turn cannot end without an
    // answer), and `waiting` waits for exactly that.
    let sent = ok(
        &c,
        "send_text",
        json!({"session": "Ag/m1", "text": "please ask"}),
    )
    .await;
    let v = ok(
        &c,
        "wait_for",
        json!({"session": "Ag/m1", "until": "waiting", "since": sent["cursor"], "timeout_s": 60}),
    )
    .await;
    assert_eq!(v["happened"], "waiting", "{v}");
    assert_eq!(v["agent_state"], "waiting_for_input", "{v}");
    assert!(
        v["agent_detail"]
            .as_str()
            .unwrap()
            .contains("Do you want to proceed"),
        "{v}"
    );
    let v = ok(
        &c,
        "wait_for",
        json!({"session": "Ag/m1", "until": "idle", "timeout_s": 60}),
    )
    .await;
    assert_eq!(v["happened"], "waiting", "{v}");
    ok(
        &c,
        "send_text",
        json!({"session": "Ag/m1", "text": "2", "enter": false}),
    )
    .await;
    let v = ok(
        &c,
        "wait_for",
        json!({"session": "Ag/m1", "until": "idle", "timeout_s": 60}),
    )
    .await;
    assert_eq!(v["happened"], "idle", "{v}");
    let v = ok(
        &c,
        "read_output",
        json!({"session": "Ag/m1", "last_turn": true}),
    )
    .await;
    assert_eq!(v["text"].as_str().unwrap().trim_end(), "You said no.");

    // Another connection sent nothing: an agent already idle returns at once.
    let (c2, _child2) = mcp(&m).await;
    let v = ok(
        &c2,
        "wait_for",
        json!({"session": "Ag/m1", "until": "idle", "timeout_s": 60}),
    )
    .await;
    assert_eq!(v["happened"], "idle", "{v}");
    assert_eq!(v["already"], true, "{v}");
    assert!(v["waited_s"].as_f64().unwrap() < 1.0, "{v}");
    // `waiting` on a plain shell is a clear error; last_turn too.
    ok(
        &c2,
        "start_session",
        json!({"computer": "Ag", "name": "sh"}),
    )
    .await;
    let e = err(
        &c2,
        "wait_for",
        json!({"session": "Ag/sh", "until": "waiting"}),
    )
    .await;
    assert!(e.contains("needs an agent session"), "{e}");
    let e = err(
        &c2,
        "read_output",
        json!({"session": "Ag/sh", "last_turn": true}),
    )
    .await;
    assert!(e.contains("not an agent session"), "{e}");
    c2.cancel().await.ok();
    c.cancel().await.ok();
}

// --- Telegram --------------------------------------------------------------

const TOKEN: &str = "123456:TEST-token";
const OWNER: i64 = 42;
const GROUP: i64 = -100_777;

/// Waits for a message in `chat`/`thread` whose visible text satisfies `f`.
async fn wait_msg(
    tg: &FakeTelegram,
    thread: Option<i64>,
    what: &str,
    f: impl Fn(&str) -> bool,
) -> StoredMessage {
    wait_until(what, LONG, || async {
        let msgs = tg.messages(GROUP, thread);
        msgs.iter().find(|m| f(&m.text)).cloned().ok_or_else(|| {
            msgs.iter()
                .map(|m| m.text.chars().take(400).collect::<String>())
                .collect::<Vec<_>>()
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_claude_topic_status_and_notifications() {
    let cfg = AgentConfig::new();
    let m = cfg.mesh(&["Ag"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    let _gw = GatewayProcess::start(&m.redis.url(), tg.gateway_env(OWNER, GROUP));
    wait_until("the gateway to poll", LONG, || async {
        !tg.calls_of("getUpdates").is_empty()
    })
    .await;
    let menu = tg.calls_of("setMyCommands");
    let menu = menu[0].params.to_string();
    for c in [
        "\"claude\"",
        "\"codex\"",
        "\"gemini\"",
        "\"agent\"",
        "\"projects\"",
    ] {
        assert!(menu.contains(c), "{c} missing from the menu: {menu}");
    }

    tg.inject_message(OWNER, GROUP, None, "/projects");
    let p = wait_msg(&tg, None, "the /projects reply", |t| t.contains("proj")).await;
    assert!(
        p.text.contains(cfg.project().to_str().unwrap()),
        "{}",
        p.text
    );
    assert!(p.text.contains("claude"), "{}", p.text);

    tg.inject_message(OWNER, GROUP, None, "/agent claud Ag");
    wait_msg(&tg, None, "the unknown-agent error", |t| {
        t.contains("did you mean claude")
    })
    .await;

    tg.inject_message(OWNER, GROUP, None, "/claude Ag/cc proj");
    wait_msg(&tg, None, "the /claude reply", |t| {
        t.contains("Started claude in Ag/cc")
    })
    .await;
    let thread = tg
        .topics()
        .into_iter()
        .find(|t| t.2 == "Ag/cc")
        .map(|t| t.1)
        .expect("a topic for the agent session");
    let v = wait_state(&m, "Ag/cc", "idle").await;
    assert_eq!(v["agent"], "claude", "{v}");
    assert_eq!(v["cwd"].as_str().unwrap(), cfg.project().to_str().unwrap());
    // The live message shows the state under the screen.
    wait_msg(&tg, Some(thread), "the idle status line", |t| {
        t.contains("FakeAgent v1") && t.contains("agent idle")
    })
    .await;

    // A question: a new message (so the phone buzzes) quoting it.
    tg.inject_message(OWNER, GROUP, Some(thread), "please ask");
    let n = wait_msg(&tg, Some(thread), "the question notification", |t| {
        t.contains("the agent is waiting for you:") && t.contains("Do you want to proceed?")
    })
    .await;
    assert_eq!(n.edits, 0, "a notification is a new message, not an edit");
    assert!(!n.text.contains("FakeAgent v1"), "{}", n.text);
    assert!(
        tg.calls_of("sendMessage").iter().any(|c| c.params["text"]
            .as_str()
            .unwrap_or("")
            .contains("<blockquote>")),
        "the question is quoted"
    );
    wait_msg(&tg, Some(thread), "the waiting status line", |t| {
        t.contains("FakeAgent v1") && t.contains("agent waiting for you")
    })
    .await;

    // The answer (typed into the topic) ends the turn: another notification.
    tg.inject_message(OWNER, GROUP, Some(thread), "1");
    let done = wait_msg(&tg, Some(thread), "the finished notification", |t| {
        t.contains("finished its turn")
    })
    .await;
    assert_eq!(done.edits, 0);
    assert!(done.text.contains("Ag/cc"), "{}", done.text);
    let out = m.cli.run(&["read", "Ag/cc", "--last-turn"]).await;
    assert_eq!(out.ok().trim_end(), "You said yes.");
    // The hooks (--settings) reported the turn: their records say so.
    let recs = m.records("Ag/cc").await;
    assert!(
        recs.iter()
            .any(|r| r["type"] == "agent_state" && r["source"] == "hook"),
        "{recs:?}"
    );

    tg.inject_message(OWNER, GROUP, None, "/sessions");
    wait_msg(&tg, None, "the agent in /sessions", |t| {
        t.contains("Ag/cc") && t.contains("claude: idle")
    })
    .await;
    assert!(tg.violations().is_empty(), "{:?}", tg.violations());
}
