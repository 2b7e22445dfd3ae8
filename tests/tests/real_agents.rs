//! The real Claude Code, Codex and Gemini CLIs (pinned in
//! `telemux_tests::real_agents`) in telemux sessions, offline against the
//! fake model server, driven only through telemux: states in order, the
//! exact answer, permission prompts answered by their own choices.
//!
//! The scenarios run one at a time (each agent is a few hundred MB and a
//! busy process; two cores).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use telemux_tests::real_agents::{self, AgentCli, AgentHome, FakeModel, CLAUDE, CODEX, GEMINI};
use telemux_tests::{wait_until, Mesh, RedisServer};
use tokio::sync::Mutex;

/// Generous: a real agent's turn takes a few seconds, a loaded CI box more.
const LONG: Duration = Duration::from_secs(90);

/// One real agent at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// A mesh of one computer, `A`, whose node runs the agents of `home` against `model`.
async fn agent_mesh(home: &AgentHome, model: &FakeModel, extra: &[(&str, &str)]) -> Mesh {
    agent_mesh_with(home, model, extra, "").await
}

/// [`agent_mesh`] with `toml` added to the `[agents]` table of the config.
async fn agent_mesh_with(
    home: &AgentHome,
    model: &FakeModel,
    extra: &[(&str, &str)],
    toml: &str,
) -> Mesh {
    let cfg = home.path().join("telemux.toml");
    let cmd = |cli: &AgentCli| {
        real_agents::argv(cli)
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    std::fs::write(
        &cfg,
        format!(
            "[agents]\n{toml}\n\n[agents.claude]\ncommand = [{}]\n\n[agents.codex]\ncommand = [{}]\n\n[agents.gemini]\ncommand = [{}]\n\n[projects]\nproj = {:?}\n",
            cmd(&CLAUDE),
            cmd(&CODEX),
            cmd(&GEMINI),
            home.project().display().to_string()
        ),
    )
    .expect("node config");
    let mut env = home.env(model);
    env.push(("TELEMUX_CONFIG".into(), cfg.display().to_string()));
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push((k.to_string(), v.to_string()));
    }
    Mesh::start_with(RedisServer::start(), &["A"], move |o| o.envs(env.clone())).await
}

/// The agent-state records of `addr`'s stream (`tail --json`), in order.
async fn state_records(m: &Mesh, addr: &str) -> Vec<Value> {
    m.records(addr)
        .await
        .into_iter()
        .filter(|r| r["type"] == "agent_state")
        .collect()
}

fn names(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["state"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// Waits until the states recorded after the first `from` are exactly `want`,
/// and returns those records.
async fn wait_states(m: &Mesh, addr: &str, from: usize, want: &[&str]) -> Vec<Value> {
    wait_until(
        &format!("{addr} states {want:?} after #{from}"),
        LONG,
        || async {
            let recs = state_records(m, addr).await;
            let got = names(recs.get(from..).unwrap_or(&[]));
            if got == want {
                Ok(recs[from..].to_vec())
            } else {
                Err((got, m.cli.run(&["read", addr]).await.stdout))
            }
        },
    )
    .await
}

async fn ok(m: &Mesh, args: &[&str]) -> String {
    m.cli.run(args).await.ok().to_string()
}

async fn last_turn(m: &Mesh, addr: &str) -> Value {
    serde_json::from_str(&ok(m, &["read", addr, "--last-turn", "--json"]).await)
        .expect("read --last-turn --json is JSON")
}

/// What differs between the three agents in the scenario.
struct Agent {
    name: &'static str,
    /// The labels of its permission prompt, as it shows them.
    choices: &'static [&'static str],
    /// The label that denies.
    deny: &'static str,
    /// The key that interrupts a turn.
    interrupt: &'static str,
    /// The command that quits it.
    quit: &'static str,
    /// The shell tool's name in its transcript.
    tool: &'static str,
    /// Whether its transcript has the turn's token usage by the turn's end.
    usage: bool,
}

/// The whole scenario for one agent, through the CLI.
async fn scenario(a: Agent) {
    let _one = ONE_AT_A_TIME.lock().await;
    let began = Instant::now();
    let home = AgentHome::new();
    let model = FakeModel::start(
        &json!({"text": "Hello from the fake model!", "tool_cmd": "touch hi.txt && echo hi", "delay_s": 1.0}),
    );
    let m = agent_mesh(&home, &model, &[]).await;
    let addr = format!("A/{}", a.name);
    ok(&m, &["new", &addr, "--agent", a.name, "--cwd", "proj"]).await;
    let mut seen = wait_states(&m, &addr, 0, &["starting", "idle"]).await.len();

    // A text answer: working, then idle, and exactly the model's text.
    ok(&m, &["send", &addr, "Say hello"]).await;
    seen += wait_states(&m, &addr, seen, &["working", "idle"])
        .await
        .len();
    let turn = last_turn(&m, &addr).await;

    assert_eq!(turn["text"], "Hello from the fake model!", "{turn}");
    // From the agent's own record (hooks or transcript), never the screen.
    assert!(
        turn["source"] == "hook" || turn["source"] == "transcript",
        "{turn}"
    );
    assert_eq!(
        ok(&m, &["read", &addr, "--last-turn"]).await.trim_end(),
        "Hello from the fake model!"
    );
    if a.usage {
        // Per-turn tokens from the transcript, in `sessions`.
        let listed: Value =
            serde_json::from_str(&ok(&m, &["sessions", "--json"]).await).expect("sessions --json");
        let me = listed
            .as_array()
            .and_then(|l| l.iter().find(|s| s["name"] == a.name))
            .cloned();
        assert_eq!(
            me.as_ref().map(|s| s["agent_usage"].clone()),
            Some(json!({"input_tokens": 100, "output_tokens": 20})),
            "{me:?}"
        );
    }

    // A tool call: the permission prompt with its own choices, approved by number.
    ok(&m, &["send", &addr, "Please run the TOOL now"]).await;
    let recs = wait_states(&m, &addr, seen, &["working", "waiting_for_input"]).await;
    seen += recs.len();
    let prompt = &recs[1]["prompt"];
    let labels: Vec<&str> = prompt["choices"]
        .as_array()
        .unwrap_or_else(|| panic!("no choices in {}", recs[1]))
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    // Labels that name the directory are compared up to it.
    assert_eq!(labels.len(), a.choices.len(), "{}", recs[1]);
    for (got, want) in labels.iter().zip(a.choices) {
        assert!(
            got.starts_with(want),
            "choice {got:?} is not {want:?}: {}",
            recs[1]
        );
    }
    assert!(
        prompt["command"]
            .as_str()
            .unwrap_or("")
            .contains("touch hi.txt"),
        "{prompt}"
    );
    let listed = ok(&m, &["answer", &addr]).await;
    assert!(listed.contains(&format!("1. {}", a.choices[0])), "{listed}");
    let chosen = ok(&m, &["answer", &addr, "1"]).await;
    assert!(
        chosen.contains(&format!("chose 1. {}", a.choices[0])),
        "{chosen}"
    );
    seen += wait_states(&m, &addr, seen, &["working", "idle"])
        .await
        .len();
    let turn = last_turn(&m, &addr).await;
    assert_eq!(turn["text"], "Tool said: hi. Done.", "{turn}");
    assert_eq!(turn["tools"][0]["name"], a.tool, "{turn}");
    assert_eq!(turn["tools"][0]["outcome"], "exit 0", "{turn}");
    assert!(
        home.project().join("hi.txt").exists(),
        "the approved command ran"
    );
    let stale = m.cli.run(&["answer", &addr, "1"]).await;
    assert!(
        !stale.success() && stale.stderr.contains("not asking anything"),
        "{stale:?}"
    );

    // Denied by label: the command does not run.
    model.set_script(&json!({"text": "Hello from the fake model!", "tool_cmd": "touch denied.txt && echo no", "delay_s": 1.0}));
    ok(&m, &["send", &addr, "Please run the TOOL again"]).await;
    seen += wait_states(&m, &addr, seen, &["working", "waiting_for_input"])
        .await
        .len();
    ok(&m, &["answer", &addr, a.deny]).await;
    let after = wait_until("the agent to leave the prompt", LONG, || async {
        let recs = state_records(&m, &addr).await;
        match recs.last() {
            Some(r) if r["state"] == "idle" => Ok(names(&recs[seen..])),
            _ => Err(names(&recs[seen..])),
        }
    })
    .await;
    seen += after.len();
    assert!(
        !home.project().join("denied.txt").exists(),
        "the denied command did not run"
    );

    // Claude Code, just after a refusal, drops an Enter typed at once (it
    // is still closing the dialog); a person pauses too.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Interrupted mid-turn.
    model.set_script(&json!({"text": "Too late.", "delay_s": 20.0}));
    ok(&m, &["send", &addr, "Say something slowly"]).await;
    seen += wait_states(&m, &addr, seen, &["working"]).await.len();
    ok(&m, &["keys", &addr, a.interrupt]).await;
    seen += wait_states(&m, &addr, seen, &["idle"]).await.len();
    // An interrupted prompt is put back into the input box; clear it.
    ok(&m, &["keys", &addr, "C-u"]).await;

    // Quit.
    model.set_script(&json!({"text": "Hello from the fake model!", "delay_s": 0.0}));
    ok(&m, &["send", &addr, a.quit]).await;
    wait_states(&m, &addr, seen, &["exited"]).await;
    let states = names(&state_records(&m, &addr).await);

    // Resumed: the next request carries the earlier conversation.
    let again = format!("A/{}-again", a.name);
    ok(
        &m,
        &[
            "new", &again, "--agent", a.name, "--cwd", "proj", "--resume",
        ],
    )
    .await;
    wait_states(&m, &again, 0, &["starting", "idle"]).await;
    model.set_script(&json!({"text": "Welcome back!", "delay_s": 0.0}));
    ok(&m, &["send", &again, "Say hello again"]).await;
    wait_states(&m, &again, 2, &["working", "idle"]).await;
    assert_eq!(last_turn(&m, &again).await["text"], "Welcome back!");
    let last_main = model
        .requests()
        .into_iter()
        .rev()
        .find(|r| r["kind"] == "main")
        .expect("a main request");
    let body = last_main["body"].to_string();
    assert!(
        body.contains("Say hello again") && body.contains("Please run the TOOL now"),
        "the resumed conversation was not sent: {body:.2000}"
    );
    eprintln!(
        "real agent {}: scenario took {:.1} s; states {states:?}; deny gave {after:?}",
        a.name,
        began.elapsed().as_secs_f64(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_states_answer_and_prompt_choices() {
    scenario(Agent {
        name: "claude",
        choices: &[
            "Yes",
            "Yes, and always allow access to ",
            "Yes, and switch to auto mode",
            "No",
        ],
        deny: "No",
        interrupt: "Escape",
        quit: "/exit",
        tool: "Bash",
        // Claude Code 2.1.332 writes the answer (and its usage) to the
        // transcript only later than its Stop hook.
        usage: false,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_states_answer_and_prompt_choices() {
    scenario(Agent {
        name: "codex",
        choices: &[
            "Yes, proceed",
            "Yes, and don't ask again for commands that start with `touch hi.txt`",
            "No, and tell Codex what to do differently",
        ],
        deny: "No",
        interrupt: "Escape",
        quit: "/exit",
        tool: "exec_command",
        usage: true,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_states_answer_and_prompt_choices() {
    scenario(Agent {
        name: "gemini",
        choices: &[
            "Allow once",
            "Allow for this session",
            "No, suggest changes",
        ],
        deny: "No",
        interrupt: "Escape",
        quit: "/quit",
        tool: "run_shell_command",
        usage: true,
    })
    .await;
}

/// A node started with a minimal PATH (as systemd starts it) still finds
/// `claude` the way the user's login shell does; a program found nowhere gets
/// an error naming where it was looked for and the config fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minimal_path_node_finds_the_agent_through_the_login_shell() {
    let _one = ONE_AT_A_TIME.lock().await;
    let home = AgentHome::new();
    let model = FakeModel::start(&json!({"text": "Hello from the fake model!"}));
    let bin_dir = real_agents::install(&CLAUDE)
        .parent()
        .expect("bin dir")
        .display()
        .to_string();
    // Only the login shell knows where npm put it.
    std::fs::write(
        home.path().join(".bash_profile"),
        format!("export PATH=\"{bin_dir}:$PATH\"\n"),
    )
    .expect("profile");
    let cfg = home.path().join("telemux.toml");
    std::fs::write(
        &cfg,
        "[agents.claude]\ncommand = [\"claude\", \"--permission-mode\", \"default\"]\n\n[agents.ghost]\ncommand = [\"telemux-no-such-agent\"]\nidle = ['x']\n",
    )
    .expect("config");
    let mut env = home.env(&model);
    env.retain(|(k, _)| k != "PATH");
    env.push(("PATH".into(), "/usr/bin:/bin".into()));
    env.push(("SHELL".into(), "/bin/bash".into()));
    env.push(("TELEMUX_CONFIG".into(), cfg.display().to_string()));
    let m = Mesh::start_with(RedisServer::start(), &["A"], move |o| o.envs(env.clone())).await;
    ok(
        &m,
        &[
            "new",
            "A/c",
            "--agent",
            "claude",
            "--cwd",
            &home.project().display().to_string(),
        ],
    )
    .await;
    wait_states(&m, "A/c", 0, &["starting", "idle"]).await;
    ok(&m, &["send", "A/c", "Say hello"]).await;
    wait_states(&m, "A/c", 2, &["working", "idle"]).await;
    assert_eq!(
        last_turn(&m, "A/c").await["text"],
        "Hello from the fake model!"
    );

    let e = m.cli.run(&["new", "A/g", "--agent", "ghost"]).await;
    assert!(!e.success(), "{e:?}");
    for part in [
        "telemux-no-such-agent",
        "the node's PATH (/usr/bin:/bin)",
        "login shell",
        "~/.local/bin",
        "[agents.ghost] command",
    ] {
        assert!(
            e.stderr.contains(part),
            "{part:?} missing from: {}",
            e.stderr
        );
    }
}

/// Each agent's permission prompt answered over MCP by the official Python
/// SDK: wait_for(until="waiting") gives the choices and the prompt id,
/// answer_prompt selects one, a second answer is refused as stale, and
/// read_output(last_turn) is the exact answer (tests/mcp/mcp_agent_prompt_check.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_answers_each_agents_prompt() {
    let Some(python) =
        telemux_tests::pymcp::python(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
    else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let home = AgentHome::new();
    let model = FakeModel::start(
        &json!({"text": "Hello from the fake model!", "tool_cmd": "touch hi.txt && echo hi", "delay_s": 0.5}),
    );
    let m = agent_mesh(&home, &model, &[]).await;
    let script = telemux_tests::pymcp::script("mcp_agent_prompt_check.py");
    let bin = telemux_tests::telemux_bin().display().to_string();
    for (agent, first) in [
        ("claude", "Yes"),
        ("codex", "Yes, proceed"),
        ("gemini", "Allow once"),
    ] {
        let _ = std::fs::remove_file(home.project().join("hi.txt"));
        let args = [
            "--telemux",
            &bin,
            "--computer",
            "A",
            "--agent",
            agent,
            "--cwd",
            "proj",
            "--first",
            first,
        ];
        let out =
            telemux_tests::pymcp::run_script(&m.cli, &m.redis.url(), &python, &script, &args).await;
        assert!(
            out.success
                && out
                    .stdout
                    .contains("mcp agent prompt check: all steps passed"),
            "{agent} over MCP:\n{}\n{}",
            out.stdout,
            out.stderr
        );
        assert!(
            home.project().join("hi.txt").exists(),
            "{agent}: the approved command ran"
        );
    }
}

/// Each agent's permission prompt answered from the phone: the notification in
/// the session's topic carries one inline button per choice with the real
/// labels; pressing one selects exactly that choice on the real TUI and the
/// message says who chose what; pressing it again says the question is gone
/// (and presses nothing); "finished its turn" brings the exact answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_buttons_answer_each_agents_prompt() {
    use telemux_tests::telegram::{FakeTelegram, GatewayProcess};
    const OWNER: i64 = 42;
    const GROUP: i64 = -100_777;
    let _one = ONE_AT_A_TIME.lock().await;
    let home = AgentHome::new();
    let model = FakeModel::start(
        &json!({"text": "Hello from the fake model!", "tool_cmd": "touch hi.txt && echo hi", "delay_s": 0.5}),
    );
    let m = agent_mesh(&home, &model, &[]).await;
    let tg = FakeTelegram::start("123456:TEST-token").await;
    let _gw = GatewayProcess::start(&m.redis.url(), tg.gateway_env(OWNER, GROUP));
    for (agent, first) in [
        ("claude", "Yes"),
        ("codex", "Yes, proceed"),
        ("gemini", "Allow once"),
    ] {
        let _ = std::fs::remove_file(home.project().join("hi.txt"));
        let addr = format!("A/{agent}-tg");
        tg.inject_message(OWNER, GROUP, None, &format!("/{agent} {addr} proj"));
        let thread = wait_until(&format!("a topic for {addr}"), LONG, || async {
            tg.topics().into_iter().find(|t| t.2 == addr).map(|t| t.1)
        })
        .await;
        wait_states(&m, &addr, 0, &["starting", "idle"]).await;
        tg.inject_message(OWNER, GROUP, Some(thread), "Please run the TOOL now");
        // The notification with the prompt's own choices as buttons.
        let (msg_id, buttons) = wait_until(
            &format!("{agent}'s question with buttons"),
            LONG,
            || async {
                tg.calls_of("sendMessage")
                    .into_iter()
                    .filter(|c| c.error.is_none() && c.params["message_thread_id"] == thread)
                    .filter_map(|c| {
                        let kb = c.params["reply_markup"]["inline_keyboard"]
                            .as_array()?
                            .clone();
                        let buttons: Vec<(String, String)> = kb
                            .iter()
                            .flat_map(|row| row.as_array().cloned().unwrap_or_default())
                            .map(|b| {
                                (
                                    b["text"].as_str().unwrap_or("").to_string(),
                                    b["callback_data"].as_str().unwrap_or("").to_string(),
                                )
                            })
                            .collect();
                        buttons
                            .iter()
                            .any(|(t, _)| t.starts_with("1."))
                            .then_some(buttons)
                    })
                    .next()
                    .and_then(|buttons| {
                        let msgs = tg.messages(GROUP, Some(thread));
                        msgs.iter()
                            .rev()
                            .find(|m| m.has_buttons)
                            .map(|m| (m.id, buttons))
                    })
                    .ok_or_else(|| {
                        tg.messages(GROUP, Some(thread))
                            .iter()
                            .map(|m| m.text.clone())
                            .collect::<Vec<_>>()
                    })
            },
        )
        .await;
        let (label, data) = buttons
            .iter()
            .find(|(t, _)| t.starts_with("1."))
            .cloned()
            .expect("button 1");
        assert!(
            label.contains(first),
            "{agent}: button 1 is {label:?}; all: {buttons:?}"
        );
        assert!(buttons.len() >= 3, "{agent}: {buttons:?}");
        assert!(data.len() <= 64, "callback_data over 64 bytes: {data}");
        let (_, qid) = tg.inject_callback(OWNER, GROUP, msg_id, &data);
        wait_until(
            &format!("{agent}: the message says who chose what"),
            LONG,
            || async {
                let t = tg
                    .messages(GROUP, Some(thread))
                    .into_iter()
                    .find(|m| m.id == msg_id)
                    .map(|m| m.text);
                match t {
                    Some(t) if t.contains("chose") && t.contains(first) => Ok(()),
                    other => Err(other),
                }
            },
        )
        .await;
        assert!(
            tg.calls_of("answerCallbackQuery")
                .iter()
                .any(|c| c.params["callback_query_id"] == qid.as_str()),
            "the press is answered"
        );
        wait_until(
            &format!("{agent}: the finished notification"),
            LONG,
            || async {
                tg.messages(GROUP, Some(thread))
                    .iter()
                    .any(|m| {
                        m.text.contains("finished its turn")
                            && m.text.contains("Tool said: hi. Done.")
                    })
                    .then_some(())
                    .ok_or_else(|| {
                        tg.messages(GROUP, Some(thread))
                            .iter()
                            .map(|m| m.text.clone())
                            .collect::<Vec<_>>()
                    })
            },
        )
        .await;
        assert!(
            home.project().join("hi.txt").exists(),
            "{agent}: the chosen Yes ran the command"
        );
        // Pressed again: the question is gone; nothing is pressed.
        let before = m.cli.run(&["read", &addr]).await.stdout;
        let (_, qid2) = tg.inject_callback(OWNER, GROUP, msg_id, &data);
        wait_until(
            &format!("{agent}: a stale press is refused"),
            LONG,
            || async {
                // (The fake reuses a query id for the same user and message.)
                let toasts: Vec<String> = tg
                    .calls_of("answerCallbackQuery")
                    .into_iter()
                    .filter(|c| c.params["callback_query_id"] == qid2.as_str())
                    .map(|c| c.params["text"].as_str().unwrap_or("").to_string())
                    .collect();
                toasts
                    .iter()
                    .any(|t| t.contains("no longer"))
                    .then_some(())
                    .ok_or(toasts)
            },
        )
        .await;
        let after = m.cli.run(&["read", &addr]).await.stdout;
        assert_eq!(before, after, "{agent}: a stale press typed nothing");
        ok(&m, &["kill", &addr]).await;
    }
}

/// With `agents.suspend_after`, an idle agent is stopped (its process gone,
/// the session `suspended`), and the next input resumes the conversation
/// first and then delivers the input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_agent_is_suspended_and_the_next_input_resumes_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    let home = AgentHome::new();
    let model = FakeModel::start(&json!({"text": "Hello from the fake model!"}));
    let m = agent_mesh_with(&home, &model, &[], "suspend_after = 3").await;
    // Codex is not suspended (its profile has no `quit`; see docs/agents.md).
    for agent in ["claude", "gemini"] {
        let addr = format!("A/{agent}-zz");
        model.set_script(&json!({"text": "Hello from the fake model!"}));
        ok(&m, &["new", &addr, "--agent", agent, "--cwd", "proj"]).await;
        wait_states(&m, &addr, 0, &["starting", "idle"]).await;
        ok(&m, &["send", &addr, "Say hello, pelican"]).await;
        wait_states(&m, &addr, 2, &["working", "idle", "suspended"]).await;
        let listed = ok(&m, &["sessions"]).await;
        assert!(listed.contains(&format!("{agent}: suspended")), "{listed}");
        // The agent's process is gone: the pane runs only its wrapper.
        let pane = wait_until(&format!("{agent} to quit"), LONG, || async {
            let v: Value = serde_json::from_str(&ok(&m, &["sessions", "--json"]).await).unwrap();
            let me = v
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == format!("{agent}-zz"))
                .cloned()
                .unwrap();
            // Its wrapper waits in `tmux wait-for`.
            (me["command"] == "tmux" || me["command"] == "sh")
                .then_some(me.clone())
                .ok_or(me)
        })
        .await;
        assert_eq!(pane["agent_state"], "suspended");
        model.set_script(&json!({"text": "Welcome back!"}));
        let sent = m.cli.run(&["send", &addr, "Say hello again"]).await;
        if !sent.success() {
            let screen = m.cli.run(&["read", &addr]).await.stdout;
            let listed = m.cli.run(&["sessions", "--json"]).await.stdout;
            panic!("{agent}: {sent:?}\n--- screen ---\n{screen}\n--- sessions ---\n{listed}");
        }
        wait_states(&m, &addr, 5, &["starting", "idle", "working", "idle"]).await;
        assert_eq!(
            last_turn(&m, &addr).await["text"],
            "Welcome back!",
            "{agent}"
        );
        let body = model
            .requests()
            .into_iter()
            .rev()
            .find(|r| r["kind"] == "main")
            .expect("a main request")["body"]
            .to_string();
        assert!(
            body.contains("Say hello again") && body.contains("pelican"),
            "{agent}: the resumed conversation was not sent: {body:.1500}"
        );
        ok(&m, &["kill", &addr]).await;
    }
}
