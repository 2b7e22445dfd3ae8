//! Hostile input through all three front doors (issue 6, security 3): the CLI,
//! MCP (the official Python SDK over stdio, plus raw bytes on `telemux mcp`'s
//! stdin) and Telegram (the fake Bot API), against real nodes, tmux and Redis.
//!
//! Names with shell or tmux syntax are refused with what was wrong, what is
//! allowed and the nearest valid name; key names outside the list are refused
//! with the list; texts typed without Enter arrive on the screen literally.
//! Shell syntax in all of them points at files in a marker directory, and the
//! tests assert that none of those files exists afterwards — nothing the
//! hostile input said was run. Undecodable bytes written straight into a
//! node's command stream are dead-lettered with a reason. After each barrage
//! the node (and the MCP server, and the bot) still serve a valid request.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use telemux_bus::Bus;
use telemux_proto::{Envelope, Op, Request};
use telemux_tests::pymcp;
use telemux_tests::telegram::{FakeTelegram, GatewayProcess};
use telemux_tests::{telemux_bin, wait_until, Cli, Mesh};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const VICTIM: &str = "RasPi/victim";

/// Names that must never reach tmux or a shell; `{m}` is a marker file.
fn hostile_names(m: &Path) -> Vec<String> {
    let m = m.display();
    vec![
        format!("a;touch {m}"),
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        "a:b.c".into(),
        "-t".into(),
        "--help".into(),
        "a b".into(),
        "a\nb".into(),
        "x".repeat(200),
        "ünïcödé".into(),
        String::new(),
    ]
}

/// Texts that must be typed literally (and, without Enter, run nothing).
fn hostile_texts(m: &Path) -> Vec<String> {
    let m = m.display();
    vec![
        format!("; touch {m}"),
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        "C-c".into(),
        "-l".into(),
        ";".into(),
        "-x a text starting with a dash".into(),
        "#{pane_id} #{session_name}".into(),
        "\\;".into(),
        "end;".into(),
        format!("x \\; run-shell 'touch {m}'"),
        "{ a }".into(),
    ]
}

/// A fresh directory that must stay empty: every hostile string points into it.
fn marker_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("telemux-hostile-")
        .tempdir()
        .expect("marker dir")
}

#[track_caller]
fn assert_nothing_ran(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .expect("marker dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "hostile input ran something: {left:?}");
}

/// The last non-empty line of a session's screen (the prompt line).
async fn screen_line(cli: &Cli, addr: &str) -> String {
    let out = cli.run(&["read", addr, "--lines", "0"]).await;
    out.ok()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string()
}

/// Waits until the prompt line of `addr` ends with `text` (the shell echoes
/// typed input a moment after tmux has written it).
async fn wait_typed(cli: &Cli, addr: &str, text: &str) {
    wait_until(
        &format!("{text:?} on the screen, literally"),
        Duration::from_secs(20),
        || async {
            let line = screen_line(cli, addr).await;
            line.ends_with(text).then_some(()).ok_or(line)
        },
    )
    .await;
}

/// Starts `RasPi/victim` (a bash) and waits for its prompt.
async fn victim(m: &Mesh) {
    m.cli.run(&["new", VICTIM]).await.ok();
    wait_until("the victim's prompt", Duration::from_secs(20), || async {
        let l = screen_line(&m.cli, VICTIM).await;
        (l.ends_with('$') || l.ends_with('#'))
            .then_some(())
            .ok_or(l)
    })
    .await;
}

/// The CLI invocations that take a name, with `n` in the name's place.
fn name_commands(n: &str) -> Vec<(Vec<String>, &'static str)> {
    let s = format!("RasPi/{n}");
    let v = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        (v(&["new", &s]), "invalid session name"),
        (v(&["send", "--no-enter", &s, "x"]), "invalid session name"),
        (v(&["keys", &s, "Enter"]), "invalid session name"),
        (v(&["read", &s]), "invalid session name"),
        (v(&["tail", &s]), "invalid session name"),
        (v(&["kill", &s]), "invalid session name"),
        // `--` so that `--help` is a value; the name parsers see it as typed.
        (v(&["sessions", "--", n]), "invalid computer name"),
        (v(&["status", "--", n]), "invalid computer name"),
        (v(&["new", "--cwd", "/tmp", n]), "invalid computer name"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_refuses_hostile_names_and_keys_and_keeps_working() {
    let m = Mesh::start(&["RasPi"]).await;
    let dir = marker_dir();
    victim(&m).await;
    for name in hostile_names(&dir.path().join("PWNED-cli-name")) {
        for (args, want) in name_commands(&name) {
            // `new --cwd /tmp --help` is clap's help (a flag, not a name): nothing runs either.
            if name == "--help" && args[0] == "new" && args[1] == "--cwd" {
                continue;
            }
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = m.cli.run(&argv).await;
            assert_eq!(out.code(), Some(2), "{out:?}");
            let err = out.stderr.trim_end();
            assert!(
                err.starts_with(&format!("telemux: {want} '")) && err.contains("; allowed: 1-64"),
                "{out:?}"
            );
            assert_eq!(
                err.lines().count(),
                1,
                "one line, even for a newline: {out:?}"
            );
        }
        let out = m
            .cli
            .run(&[
                "run",
                &name,
                "--",
                "touch",
                &dir.path().join("PWNED-run").display().to_string(),
            ])
            .await;
        if name != "--help" {
            assert_eq!(out.code(), Some(2), "{out:?}");
            assert!(out.stderr.contains("invalid computer name"), "{out:?}");
        }
    }
    // The nearest valid name is offered where there is one.
    let out = m.cli.run(&["new", "RasPi/a b"]).await;
    assert!(out.stderr.contains("nearest valid name: 'a-b'"), "{out:?}");
    let out = m.cli.run(&["new", "RasPi/--help"]).await;
    assert!(out.stderr.contains("nearest valid name: 'help'"), "{out:?}");

    // Key names outside the list: refused with the list (and the meant key).
    for (key, hint) in [
        ("C-c;kill-server", "did you mean C-c?"),
        ("Enter Enter", "as separate keys"),
        ("-X", "unknown key '-X'"),
        ("Escape;kill-session", "did you mean Escape?"),
    ] {
        // `--`: a bare `-X` is refused by clap as an unknown option (exit 2 too).
        let out = m.cli.run(&["keys", VICTIM, "--", key]).await;
        assert_eq!(out.code(), Some(2), "{out:?}");
        assert!(out.stderr.contains(hint), "{out:?}");
        assert!(
            out.stderr.contains("allowed: Enter, Escape (Esc), Tab")
                && out.stderr.contains("C-a..C-z"),
            "{out:?}"
        );
    }

    let out = m.cli.run(&["keys", VICTIM, "-X"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("use '-- -X'"), "{out:?}");

    // Nothing was created, nothing ran, and the node still serves.
    assert_nothing_ran(dir.path());
    assert_eq!(m.tmux[0].sessions(), ["victim"]);
    assert_eq!(
        m.cli.run(&["new", "RasPi/after"]).await.ok().trim(),
        "RasPi/after"
    );
    m.wait_online("RasPi", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_types_hostile_texts_literally_and_runs_nothing() {
    let m = Mesh::start(&["RasPi"]).await;
    let dir = marker_dir();
    victim(&m).await;
    for text in hostile_texts(&dir.path().join("PWNED-cli-text")) {
        m.cli
            .run(&["send", "--no-enter", VICTIM, "--", &text])
            .await
            .ok();
        wait_typed(&m.cli, VICTIM, &text).await;
        m.cli.run(&["keys", VICTIM, "C-u"]).await.ok();
        wait_until(
            "the line to be cleared",
            Duration::from_secs(20),
            || async { !screen_line(&m.cli, VICTIM).await.ends_with(&text) },
        )
        .await;
    }
    // A text starting with `-` needs `--` on the command line; clap says so.
    let out = m.cli.run(&["send", VICTIM, "-l"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("to pass '-l' as a value, use '-- -l'"),
        "{out:?}"
    );

    // Over the documented limit: refused with the limit. At the limit: delivered whole.
    let big = "y".repeat(100 * 1024);
    let out = m.cli.run(&["send", "--no-enter", VICTIM, &big]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("text is 102400 bytes; the limit is 65536 bytes"),
        "{out:?}"
    );
    let sink_dir = marker_dir();
    let sink = sink_dir.path().join("sink");
    let script = format!("stty raw -echo; exec cat > {}", sink.display());
    m.cli
        .run(&["new", "RasPi/sink", "--", "sh", "-c", &script])
        .await
        .ok();
    let full = "z".repeat(64 * 1024);
    wait_until("the sink to start", Duration::from_secs(20), || async {
        sink.exists()
    })
    .await;
    m.cli
        .run(&["send", "--no-enter", "RasPi/sink", &full])
        .await
        .ok();
    wait_until("64 KiB to arrive", Duration::from_secs(30), || async {
        let got = std::fs::read(&sink).unwrap_or_default();
        (got.len() == full.len() && got.iter().all(|b| *b == b'z'))
            .then_some(())
            .ok_or(got.len())
    })
    .await;

    // Arguments that are not UTF-8: a clear error naming the argument, exit 2.
    for args in [
        vec![
            OsStr::new("send"),
            OsStr::new(VICTIM),
            OsStr::from_bytes(b"a\xffb"),
        ],
        vec![OsStr::new("new"), OsStr::from_bytes(b"RasPi/\xfe")],
    ] {
        let out = m
            .cli
            .command(&[])
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .expect("running telemux");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("is not valid UTF-8") && err.contains("\\x"),
            "{err}"
        );
    }

    assert_nothing_ran(dir.path());
    assert!(!screen_line(&m.cli, VICTIM).await.contains("yyyy"));
    assert_eq!(
        m.cli.run(&["new", "RasPi/after"]).await.ok().trim(),
        "RasPi/after"
    );
}

/// Writes `bytes` as the envelope field of a new entry in RasPi's command stream.
fn xadd_raw(m: &Mesh, bytes: &[u8]) {
    let mut child = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &m.redis.port().to_string()])
        .args(["-x", "XADD", "telemux:cmd:raspi", "*", "e"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-cli");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("writing to redis-cli");
    assert!(child.wait().expect("redis-cli").success());
}

/// `env` encoded, with the bytes of `marker` replaced by invalid UTF-8.
fn poisoned(env: &Envelope, marker: &str) -> Vec<u8> {
    let mut bytes = env.encode();
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .expect("marker in the encoding");
    bytes[at..at + 4].copy_from_slice(b"\xff\xfe\xfd\xfc");
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_bytes_in_the_command_stream_are_dead_lettered() {
    let mut m = Mesh::start(&["RasPi"]).await;
    victim(&m).await;
    let bus = Bus::connect(&m.redis.url()).await.unwrap();
    let before = bus.dead_letter_count().await.unwrap();
    let request = |text: &str| Request {
        to: None,
        reply_to: String::new(),
        deadline_ms: 0,
        op: Op::SendText {
            session: "victim".into(),
            text: text.into(),
            enter: false,
        },
    };
    // Not MessagePack at all; a sender that is not UTF-8; a text that is not UTF-8.
    xadd_raw(&m, b"\xff\xfe\x00 not an envelope \xc1");
    xadd_raw(
        &m,
        &poisoned(
            &Envelope::seal("SNDRsndr", &request("ok")).unwrap(),
            "SNDRsndr",
        ),
    );
    xadd_raw(
        &m,
        &poisoned(
            &Envelope::seal("tester", &request("QZQZqzqz")).unwrap(),
            "QZQZqzqz",
        ),
    );
    let letters = wait_until("three dead letters", Duration::from_secs(20), || async {
        let all = bus.dead_letters(10).await.unwrap();
        let n = all.len();
        (n as u64 >= before + 3).then_some(all).ok_or(n)
    })
    .await;
    for entry in &letters[..3] {
        let letter = entry.letter.as_ref().expect("a decodable dead letter");
        assert_eq!(letter.stream, "telemux:cmd:raspi");
        assert!(!letter.reason.is_empty(), "{letter:?}");
        eprintln!("dead letter: {}", letter.reason);
    }
    // Bytes that are no envelope at all are kept for inspection.
    assert!(letters.iter().any(|e| e
        .raw
        .as_deref()
        .is_some_and(|r| r.starts_with(b"\xff\xfe\x00 not an envelope"))));
    let reasons: Vec<&str> = letters[..3]
        .iter()
        .map(|e| e.letter.as_ref().unwrap().reason.as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("does not decode")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("not a telemux envelope")),
        "{reasons:?}"
    );
    // The node survived, typed nothing, and serves the next command.
    assert!(m.nodes[0].is_running());
    assert!(m.nodes[0].log().contains("dead-lettered"));
    assert!(!screen_line(&m.cli, VICTIM).await.contains("qzqz"));
    m.cli
        .run(&["send", "--no-enter", VICTIM, "still-here"])
        .await
        .ok();
    wait_typed(&m.cli, VICTIM, "still-here").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_python_client_gets_tool_errors_and_nothing_runs() {
    let Some(py) = pymcp::python(Path::new(env!("CARGO_TARGET_TMPDIR"))) else {
        return;
    };
    let m = Mesh::start(&["RasPi"]).await;
    let dir = marker_dir();
    victim(&m).await;
    let bin = telemux_bin();
    let out = pymcp::run_script(
        &m.cli,
        &m.redis.url(),
        &py,
        &pymcp::script("mcp_hostile_check.py"),
        &[
            "--telemux",
            bin.to_str().unwrap(),
            "--computer",
            "RasPi",
            "--session",
            VICTIM,
            "--marker-dir",
            dir.path().to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        out.success && out.stdout.contains("mcp hostile check: all steps passed"),
        "the Python MCP client failed:\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout,
        out.stderr
    );
    assert_nothing_ran(dir.path());
    let mut sessions = m.tmux[0].sessions();
    sessions.sort();
    assert_eq!(sessions, ["after-mcp", "victim"]);
}

/// Reads JSON-RPC lines from `telemux mcp` until the response with `id`.
async fn response(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    id: u64,
) -> serde_json::Value {
    let read = async {
        while let Some(line) = lines.next_line().await.expect("reading stdout") {
            let v: serde_json::Value = serde_json::from_str(&line).expect("server wrote JSON");
            if v["id"] == id {
                return v;
            }
        }
        panic!("telemux mcp closed stdout before answering request {id}");
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .unwrap_or_else(|_| panic!("no answer to request {id} within 30 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_stdio_survives_bytes_that_are_not_json_or_not_utf8() {
    let m = Mesh::start(&["RasPi"]).await;
    let mut child = m
        .cli
        .command(&["mcp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("telemux mcp");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
    stdin
        .write_all(format!("{init}\n").as_bytes())
        .await
        .unwrap();
    response(&mut lines, 1).await;
    let garbage: [&[u8]; 4] = [
        b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n",
        b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"send_text\",\"arguments\":{\"session\":\"RasPi/x\",\"text\":\"a\xff\xfeb\"}}}\n",
        b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"send_text\",\"arguments\":{\"session\":\"RasPi/x\",\"text\":\"\\ud800\"}}}\n",
        b"\xc1\xff not json at all\n",
    ];
    for g in garbage {
        stdin.write_all(g).await.unwrap();
    }
    let call = r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"list_computers","arguments":{}}}"#;
    stdin
        .write_all(format!("{call}\n").as_bytes())
        .await
        .unwrap();
    let v = response(&mut lines, 9).await;
    assert_eq!(
        v["result"]["structuredContent"]["computers"][0]["name"], "RasPi",
        "{v}"
    );
    drop(stdin);
    let _ = child.kill().await;
}

const TG_TOKEN: &str = "123456:hostile-test-token";
const OWNER: i64 = 42;
const GROUP: i64 = -100_777;

/// A message from the bot in `chat` beyond the first `after` that contains every `want`.
async fn tg_reply(tg: &FakeTelegram, chat: i64, after: usize, want: &[&str]) -> String {
    wait_until("the bot's answer", Duration::from_secs(30), || async {
        let msgs = tg.messages(chat, None);
        let texts: Vec<String> = msgs.iter().skip(after).map(|m| m.text.clone()).collect();
        texts
            .iter()
            .find(|t| want.iter().all(|w| t.contains(w)))
            .cloned()
            .ok_or(texts)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn telegram_answers_hostile_names_and_keys_with_errors() {
    let m = Mesh::start(&["RasPi"]).await;
    let dir = marker_dir();
    let mk = dir.path().join("PWNED-tg").display().to_string();
    let tg = FakeTelegram::start(TG_TOKEN).await;
    let env = [
        ("TELEMUX_TELEGRAM__TOKEN", TG_TOKEN.to_string()),
        ("TELEMUX_TELEGRAM__API_URL", tg.url()),
        ("TELEMUX_TELEGRAM__ALLOWED_USERS", format!("[{OWNER}]")),
        ("TELEMUX_TELEGRAM__CHAT_ID", GROUP.to_string()),
        ("TELEMUX_TELEGRAM__POLL_TIMEOUT_S", "1".to_string()),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .to_vec();
    let _gw = GatewayProcess::start(&m.redis.url(), env);

    let long = "x".repeat(200);
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("/new RasPi/a;touch {mk}"),
            vec!["invalid session name", "allowed:"],
        ),
        (
            format!("/new RasPi/$(touch {mk})"),
            vec!["invalid session name", "allowed:"],
        ),
        (
            format!("/new RasPi/`touch {mk}`"),
            vec!["invalid session name"],
        ),
        (
            "/new RasPi/-t".into(),
            vec!["invalid session name '-t'", "nearest valid name: 't'"],
        ),
        (
            "/new RasPi/--help".into(),
            vec!["invalid session name '--help'"],
        ),
        (
            "/new RasPi/a:b.c".into(),
            vec!["invalid session name 'a:b.c'", "'a-b-c'"],
        ),
        ("/new RasPi/ünïcödé".into(), vec!["invalid session name"]),
        (
            format!("/new RasPi/{long}"),
            vec!["200 bytes long", "allowed:"],
        ),
        (
            "/new a;b".into(),
            vec!["invalid computer name 'a;b'", "allowed:"],
        ),
        (
            format!("/sessions $(touch {mk})"),
            vec!["invalid computer name"],
        ),
        ("/kill RasPi/a:b".into(), vec!["invalid session name"]),
        (
            format!("/output RasPi/`touch {mk}`"),
            vec!["invalid session name"],
        ),
        ("/cancel RasPi/-t".into(), vec!["invalid session name"]),
        (format!("/run a;touch {mk}"), vec!["invalid computer name"]),
        ("/keys RasPi/a;b C-c".into(), vec!["invalid session name"]),
    ];
    for (text, want) in &cases {
        let after = tg.messages(OWNER, None).len();
        tg.inject_message(OWNER, OWNER, None, text);
        let reply = tg_reply(&tg, OWNER, after, want).await;
        assert!(reply.contains("⚠️"), "{text}: {reply}");
    }

    // A session with a topic: hostile keys by command and by button.
    tg.inject_message(OWNER, GROUP, None, "/new RasPi/victim");
    let thread = wait_until("the topic", Duration::from_secs(30), || async {
        tg.topics().into_iter().find(|t| t.2 == VICTIM).map(|t| t.1)
    })
    .await;
    for key in ["C-c;kill-server", "-X", "Enter;kill-server"] {
        let after = tg.messages(GROUP, None).len();
        tg.inject_message(OWNER, GROUP, Some(thread), &format!("/keys {key}"));
        let reply = tg_reply(&tg, GROUP, after, &["unknown key", "allowed: Enter"]).await;
        assert!(reply.contains(key), "{reply}");
    }
    let msg = tg.messages(GROUP, None).last().unwrap().id;
    tg.inject_callback(OWNER, GROUP, msg, &format!("k:C-c;kill-server:{thread}"));
    let answer = wait_until("the button answer", Duration::from_secs(30), || async {
        tg.calls_of("answerCallbackQuery").into_iter().next()
    })
    .await;
    let shown = answer.params["text"].as_str().unwrap_or("").to_string();
    assert!(shown.contains("unknown key"), "{shown}");

    // Text typed into the topic arrives literally (with Enter: the shell runs
    // `echo`, whose output proves tmux did not read `#{...}`, `\;` or `C-c`).
    tg.inject_message(OWNER, GROUP, Some(thread), "echo '#{pane_id} \\; C-c'");
    wait_until("the literal echo", Duration::from_secs(30), || async {
        tg.messages(GROUP, Some(thread))
            .iter()
            .any(|m| m.text.lines().any(|l| l == "#{pane_id} \\; C-c"))
    })
    .await;

    // Nothing ran, nothing but the victim was created, and the bot still answers.
    assert_nothing_ran(dir.path());
    assert_eq!(m.tmux[0].sessions(), ["victim"]);
    let after = tg.messages(OWNER, None).len();
    tg.inject_message(OWNER, OWNER, None, "/computers");
    tg_reply(&tg, OWNER, after, &["RasPi", "online"]).await;
}
