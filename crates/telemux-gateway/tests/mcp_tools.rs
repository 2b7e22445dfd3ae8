//! Every MCP tool against a real mesh: redis-server, two nodes ("MozBook",
//! "RasPi") on private tmux servers, and an rmcp client speaking the protocol.

mod mcp_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use mcp_support::{call, err, ok, text, TestMesh};
use serde_json::json;

const TOOLS: &[&str] = &[
    "list_computers",
    "list_sessions",
    "list_projects",
    "start_session",
    "send_text",
    "send_keys",
    "read_output",
    "run_command",
    "wait_for",
    "kill_session",
    "answer_prompt",
    "screenshot",
    "read_file",
    "write_file",
    "wait_for_event",
    "send_message",
    "search_output",
    "session_info",
    "clean_sessions",
    "rename_session",
];

/// Issue 20: the default listing (`core` + `agents`) is what an agent pays in
/// context every conversation; it stays within 16 KB of JSON, and a tool
/// outside it is neither listed, nor callable, nor in the instructions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_toolsets_list_core_and_agents_within_16_kb() {
    use telemux_gateway::mcp::{McpServer, McpSettings};
    let m = TestMesh::start(&["MozBook"]).await;
    let (client, _) = m
        .client_of(McpServer::new(m.mesh.clone(), McpSettings::default()))
        .await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    let mut want: Vec<String> = TOOLS[..11].iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want);
    let bytes = serde_json::to_vec(&json!({ "tools": tools }))
        .unwrap()
        .len();
    eprintln!("default tools/list: {} tools, {bytes} bytes", tools.len());
    assert!(
        tools.iter().all(|t| t.output_schema.is_none()),
        "output schemas are opt-in (mcp.output_schemas)"
    );
    assert!(bytes <= 16 * 1024, "default tools/list is {bytes} bytes");

    let r = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("screenshot".to_string())
                .with_arguments(json!({"session": "MozBook/x"}).as_object().unwrap().clone()),
        )
        .await;
    let refused = match r {
        Err(_) => true,
        Ok(res) => res.is_error == Some(true),
    };
    assert!(refused, "a tool outside the toolsets cannot be called");
    let info = client.peer_info().expect("server info");
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(!instructions.contains("screenshot("), "{instructions}");
    assert!(instructions.contains("run_command("), "{instructions}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_instructions_and_listings() {
    let m = TestMesh::start(&["MozBook", "RasPi"]).await;
    let (client, _) = m.client().await;

    let info = client.peer_info().expect("server info");
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(instructions.contains("COMPUTER/SESSION"), "{instructions}");
    assert!(instructions.contains("MozBook/api"), "{instructions}");

    let tools = client.list_all_tools().await.expect("tools/list");
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    let mut want: Vec<String> = TOOLS.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want);
    for t in &tools {
        let schema = serde_json::Value::Object((*t.input_schema).clone());
        assert_eq!(schema["type"], "object", "{}: {schema}", t.name);
        for (field, spec) in schema["properties"].as_object().into_iter().flatten() {
            assert!(
                spec.get("description").is_some(),
                "{}.{field} has no description",
                t.name
            );
        }
        assert!(t.output_schema.is_some(), "{} has no output schema", t.name);
        assert!(
            t.description.as_deref().unwrap_or("").len() > 40,
            "{}",
            t.name
        );
    }

    let v = ok(&client, "list_computers", json!({})).await;
    let names: Vec<&str> = v["computers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["MozBook", "RasPi"]);
    assert!(v["computers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["online"] == true));

    let v = ok(&client, "list_sessions", json!({})).await;
    assert_eq!(v["sessions"], json!([]));
    ok(
        &client,
        "start_session",
        json!({"computer": "raspi/api", "cwd": "/tmp"}),
    )
    .await;
    let v = ok(&client, "list_sessions", json!({"computer": "RASPI"})).await;
    assert_eq!(v["sessions"][0]["session"], "RasPi/api");
    assert_eq!(v["sessions"][0]["state"], "running");
    let v = ok(&client, "list_sessions", json!({"computer": "MozBook"})).await;
    assert_eq!(v["sessions"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_lifecycle_on_another_computer() {
    let m = TestMesh::start(&["MozBook", "RasPi"]).await;
    let (client, _) = m.client().await;

    let v = ok(
        &client,
        "start_session",
        json!({"computer": "RasPi", "name": "work"}),
    )
    .await;
    assert_eq!(v["session"], "RasPi/work");
    assert!(v["cursor"].is_string());

    let v = ok(
        &client,
        "send_text",
        json!({"session": "RasPi/work", "text": "echo out-$((40+2)); (exit 5)"}),
    )
    .await;
    let cursor = v["cursor"].as_str().unwrap().to_string();
    let v = ok(
        &client,
        "wait_for",
        json!({"session": "RasPi/work", "until": "exit", "since": cursor, "timeout_s": 30}),
    )
    .await;
    assert_eq!(v["happened"], "command_finished", "{v}");
    assert_eq!(v["exit_code"], 5, "{v}");
    assert!(v["output"].as_str().unwrap().contains("out-42"), "{v}");

    let v = ok(
        &client,
        "read_output",
        json!({"session": "work", "since": cursor}),
    )
    .await;
    assert!(v["text"].as_str().unwrap().contains("out-42\n"), "{v}");
    assert_eq!(v["command_exit_code"], 5, "{v}");
    assert_eq!(v["more"], false);
    let after = v["cursor"].as_str().unwrap().to_string();
    // Nothing new after the cursor: an empty page, same cursor.
    let v = ok(
        &client,
        "read_output",
        json!({"session": "RasPi/work", "since": after}),
    )
    .await;
    assert_eq!(v["text"], "", "{v}");
    assert_eq!(v["cursor"], after.as_str());

    let v = ok(
        &client,
        "read_output",
        json!({"session": "RasPi/work", "lines": 10}),
    )
    .await;
    assert!(v["text"].as_str().unwrap().contains("out-42"), "{v}");
    let raw = ok(
        &client,
        "read_output",
        json!({"session": "RasPi/work", "since": cursor, "raw": true}),
    )
    .await;
    let raw_text = raw["text"].as_str().unwrap();
    assert!(
        raw_text.contains("out-42") && raw_text.contains('\u{1b}'),
        "{raw}"
    );

    // Ctrl-C interrupts a running command: the shell reports 130.
    let v = ok(
        &client,
        "send_text",
        json!({"session": "RasPi/work", "text": "sleep 300"}),
    )
    .await;
    let before = v["cursor"].as_str().unwrap().to_string();
    ok(
        &client,
        "wait_for",
        json!({"session": "RasPi/work", "until": "text:sleep 300", "since": before, "timeout_s": 20}),
    )
    .await;
    ok(
        &client,
        "send_keys",
        json!({"session": "RasPi/work", "keys": ["C-c"]}),
    )
    .await;
    let v = ok(
        &client,
        "wait_for",
        json!({"session": "RasPi/work", "until": "exit", "since": before, "timeout_s": 30}),
    )
    .await;
    assert_eq!(v["happened"], "command_finished", "{v}");
    assert_eq!(v["exit_code"], 130, "{v}");

    let v = ok(&client, "kill_session", json!({"session": "RasPi/work"})).await;
    assert_eq!(v["session"], "RasPi/work");
    let e = err(&client, "read_output", json!({"session": "RasPi/work"})).await;
    assert!(e.contains("no session 'work' on RasPi"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_command_exit_codes_timeouts_and_bounded_output() {
    let m = TestMesh::start(&["MozBook", "RasPi"]).await;
    let (client, _) = m.client().await;

    let v = ok(
        &client,
        "run_command",
        json!({"computer": "RasPi", "command": "echo on-$TELEMUX_COMPUTER; exit 7"}),
    )
    .await;
    assert_eq!(v["exit_code"], 7, "{v}");
    assert_eq!(v["timed_out"], false);
    assert!(v["output"].as_str().unwrap().contains("on-RasPi"), "{v}");
    assert!(v["duration_ms"].as_u64().unwrap() > 0);
    assert!(v["session"].as_str().unwrap().starts_with("RasPi/run-"));

    let v = ok(
        &client,
        "run_command",
        json!({"computer": "mozbook", "command": "pwd", "cwd": "/tmp"}),
    )
    .await;
    assert_eq!(v["exit_code"], 0);
    assert!(v["output"].as_str().unwrap().contains("/tmp"), "{v}");

    let r = call(
        &client,
        "run_command",
        json!({"computer": "RasPi", "command": "seq 1 1000"}),
    )
    .await;
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["lines_omitted"], 800, "{v}");
    let out = v["output"].as_str().unwrap();
    assert!(out.starts_with("1\n2\n"), "{out}");
    assert!(out.contains("\n60\n[... 800 lines omitted"), "{out}");
    assert!(out.ends_with("\n1000\n"), "{out}");
    assert!(text(&r).contains("exit code 0"), "{}", text(&r));

    let v = ok(
        &client,
        "run_command",
        json!({"computer": "RasPi", "command": "sleep 60", "timeout_s": 1}),
    )
    .await;
    assert_eq!(v["exit_code"], 124, "{v}");
    assert_eq!(v["timed_out"], true, "{v}");

    let e = err(
        &client,
        "run_command",
        json!({"computer": "RasPi", "command": "  "}),
    )
    .await;
    assert!(e.contains("command is empty"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_tool_errors_with_cli_texts() {
    let m = TestMesh::start(&["MozBook", "RasPi"]).await;
    let (client, _) = m.client().await;

    let e = err(
        &client,
        "run_command",
        json!({"computer": "RasPj", "command": "true"}),
    )
    .await;
    assert_eq!(e, "no computer 'RasPj'; did you mean RasPi?");
    let e = err(&client, "start_session", json!({"computer": "Mozbok"})).await;
    assert_eq!(e, "no computer 'Mozbok'; did you mean MozBook?");
    let e = err(&client, "list_sessions", json!({"computer": "Nope"})).await;
    assert!(e.starts_with("no computer 'Nope'"), "{e}");

    ok(
        &client,
        "start_session",
        json!({"computer": "MozBook", "name": "api"}),
    )
    .await;
    let e = err(&client, "send_text", json!({"session": "apj", "text": "x"})).await;
    assert!(
        e.contains("no session 'apj'") && e.contains("MozBook/api"),
        "{e}"
    );
    let e = err(
        &client,
        "start_session",
        json!({"computer": "MozBook", "name": "api"}),
    )
    .await;
    assert!(e.contains("exists already"), "{e}");
    let e = err(
        &client,
        "send_keys",
        json!({"session": "MozBook/api", "keys": ["Ctrl-Alt-Delete"]}),
    )
    .await;
    assert!(e.contains("Enter"), "{e}");
    let e = err(
        &client,
        "wait_for",
        json!({"session": "MozBook/api", "until": "done"}),
    )
    .await;
    assert!(e.contains("exit, idle, waiting, text:<regex>"), "{e}");
    let e = err(
        &client,
        "wait_for",
        json!({"session": "MozBook/api", "until": "text:("}),
    )
    .await;
    assert!(e.contains("not a valid regex"), "{e}");
    let e = err(
        &client,
        "read_output",
        json!({"session": "MozBook/api", "since": "yesterday"}),
    )
    .await;
    assert!(e.contains("not a cursor"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_text_idle_timeout_and_progress() {
    let m = TestMesh::start(&["MozBook", "RasPi"]).await;
    let (client, handler) = m.client().await;
    ok(
        &client,
        "start_session",
        json!({"computer": "RasPi", "name": "srv"}),
    )
    .await;
    let v = ok(
        &client,
        "send_text",
        json!({"session": "RasPi/srv", "text": "echo starting; sleep 1; echo READY on port 8$((1+1))80; sleep 300"}),
    )
    .await;
    let cursor = v["cursor"].as_str().unwrap().to_string();

    let v = ok(
        &client,
        "wait_for",
        json!({"session": "RasPi/srv", "until": r"text:^READY on port \d+$", "since": cursor, "timeout_s": 30}),
    )
    .await;
    assert_eq!(v["happened"], "text", "{v}");
    assert_eq!(v["matched"], "READY on port 8280", "{v}");

    let v = ok(
        &client,
        "wait_for",
        json!({"session": "RasPi/srv", "until": "idle", "quiet_ms": 500, "timeout_s": 30}),
    )
    .await;
    assert_eq!(v["happened"], "idle", "{v}");
    assert!(v["waited_s"].as_f64().unwrap() >= 0.4, "{v}");

    let before = handler.progress.load(Ordering::SeqCst);
    let started = std::time::Instant::now();
    let r = call(
        &client,
        "wait_for",
        json!({"session": "RasPi/srv", "until": "exit", "timeout_s": 3}),
    )
    .await;
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["happened"], "timeout", "{v}");
    assert!(text(&r).starts_with("timeout:"), "{}", text(&r));
    assert!(started.elapsed() >= Duration::from_secs(3));
    let seen = handler.progress.load(Ordering::SeqCst) - before;
    assert!(
        seen >= 2,
        "expected progress notifications during a 3 s wait, got {seen}"
    );

    // The program ending counts as "exit" too.
    ok(
        &client,
        "send_keys",
        json!({"session": "RasPi/srv", "keys": ["C-c"]}),
    )
    .await;
    ok(
        &client,
        "send_text",
        json!({"session": "RasPi/srv", "text": "exit 3"}),
    )
    .await;
    let v = ok(
        &client,
        "wait_for",
        json!({"session": "RasPi/srv", "until": "text:never-printed", "timeout_s": 30}),
    )
    .await;
    assert_eq!(v["happened"], "session_exited", "{v}");
    assert_eq!(v["exit_code"], 3, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_output_pages_through_new_output_without_rereading() {
    let m = TestMesh::start(&["MozBook", "RasPi"]).await;
    let (client, _) = m.client().await;
    ok(
        &client,
        "start_session",
        json!({"computer": "MozBook", "name": "pager"}),
    )
    .await;
    let v = ok(
        &client,
        "send_text",
        json!({"session": "MozBook/pager", "text": "for i in $(seq 1 300); do echo n$i; done"}),
    )
    .await;
    let mut cursor = v["cursor"].as_str().unwrap().to_string();
    ok(
        &client,
        "wait_for",
        json!({"session": "MozBook/pager", "until": "exit", "since": cursor, "timeout_s": 30}),
    )
    .await;

    let mut numbers = Vec::new();
    let mut pages = 0;
    loop {
        let v = ok(
            &client,
            "read_output",
            json!({"session": "MozBook/pager", "since": cursor, "lines": 40}),
        )
        .await;
        pages += 1;
        for line in v["text"].as_str().unwrap().lines() {
            if let Some(n) = line.strip_prefix('n').and_then(|n| n.parse::<u32>().ok()) {
                numbers.push(n);
            }
        }
        cursor = v["cursor"].as_str().unwrap().to_string();
        if v["more"] == false {
            break;
        }
        assert!(pages < 100, "paging does not end");
    }
    assert!(pages >= 2, "300 lines in pages of 40 took {pages} page(s)");
    assert_eq!(numbers, (1..=300).collect::<Vec<_>>());
}
