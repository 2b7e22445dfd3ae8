//! Secrets never leak (issue 6, security 4): a bot token, a Redis password
//! (an ACL user on a real redis-server), an MCP token and a mesh key, given
//! directly and through the `*_file` keys, must not appear in `config show`,
//! `doctor` (passing and failing), `computers`, `status`, failed connects, or
//! the logs of a node and a gateway running with RUST_LOG=debug. Every secret
//! contains `S3CRET`, so one search finds any of them, even cut short. A
//! `*_file` that is missing or unreadable is an error naming the file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use telemux_tests::telegram::FakeTelegram;
use telemux_tests::{wait_until, Cli, NodeOptions, NodeProcess, RedisServer, TmuxServer};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MARK: &str = "S3CRET";
const REDIS_USER: &str = "telemux";
const REDIS_PW: &str = "S3CRET-redis-pw-Kd2w";
const TG_TOKEN: &str = "987654:S3CRET-bot-Qx9t7Lm2";
const MCP_TOKEN: &str = "S3CRET-mcp-token-Zp1r";
const MESH_KEY: &str = "S3CRET-mesh-key-Vn6e-0123456789";
const OWNER: i64 = 42;

/// One finished command: exit code and everything it printed.
struct Ran {
    code: Option<i32>,
    text: String,
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}:\n{}", self.code, self.text)
    }
}

/// Runs `telemux args` through `cli`; with `config`, Redis comes from that
/// file (the harness's `TELEMUX_REDIS__URL` is removed).
async fn run(cli: &Cli, config: Option<&Path>, args: &[&str]) -> Ran {
    let mut cmd = cli.command(args);
    if let Some(c) = config {
        cmd.env_remove("TELEMUX_REDIS__URL")
            .env("TELEMUX_CONFIG", c);
    }
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output(),
    )
    .await
    .unwrap_or_else(|_| panic!("telemux {args:?} hung"))
    .expect("running telemux");
    Ran {
        code: out.status.code(),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    if let Some(at) = text.find(MARK) {
        let from = text[..at]
            .char_indices()
            .rev()
            .nth(120)
            .map_or(0, |(i, _)| i);
        panic!(
            "a secret leaked into {what}: ...{}...",
            &text[from..(at + 40).min(text.len())]
        );
    }
}

/// A private redis-server whose only user is `telemux` with [`REDIS_PW`].
fn redis_with_password() -> RedisServer {
    let redis = RedisServer::start();
    let pw = format!(">{REDIS_PW}");
    redis.cli(&["ACL", "SETUSER", REDIS_USER, "on", &pw, "~*", "&*", "+@all"]);
    redis.cli(&["ACL", "SETUSER", "default", "off"]);
    redis
}

fn url(redis: &RedisServer, password: &str) -> String {
    format!("redis://{REDIS_USER}:{password}@127.0.0.1:{}", redis.port())
}

/// Files with every secret, and a config file that points at them.
fn secret_files(dir: &Path, redis_url: &str, api_url: &str) -> PathBuf {
    let put = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, format!("{text}\n")).expect("writing a secret file");
        p
    };
    let config = format!(
        "[redis]\nurl_file = {:?}\n\n[telegram]\ntoken_file = {:?}\napi_url = {api_url:?}\nallowed_users = [{OWNER}]\npoll_timeout_s = 1\n\n[mcp]\nlisten = \"127.0.0.1:0\"\ntoken_file = {:?}\n\n[mesh]\nkey_file = {:?}\n",
        put("redis-url", redis_url),
        put("bot-token", TG_TOKEN),
        put("mcp-token", MCP_TOKEN),
        put("mesh-key", MESH_KEY),
    );
    put("telemux.toml", &config)
}

/// A `telemux` daemon (`node` or `gateway`) configured by `config`, logging to `log`.
fn daemon(cli: &Cli, config: &Path, args: &[&str], log: &Path) -> tokio::process::Child {
    let file = std::fs::File::create(log).expect("daemon log");
    cli.command(args)
        .env_remove("TELEMUX_REDIS__URL")
        .env("TELEMUX_CONFIG", config)
        .env("RUST_LOG", "debug")
        .stdout(file.try_clone().expect("log"))
        .stderr(file)
        .spawn()
        .expect("spawning telemux")
}

/// Sends one HTTP POST to the MCP endpoint and returns what came back (raw TCP:
/// the test crate has no HTTP client, and the gateway must see the header).
async fn mcp_post(addr: &str, token: &str) -> String {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"secrets","version":"0"}}}"#;
    let req = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connecting to MCP");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&got);
            if text.contains("serverInfo") || text.contains("401") && text.contains("bearer") {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), read).await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_output_errors_and_debug_logs() {
    let redis = redis_with_password();
    let good = url(&redis, REDIS_PW);
    let tg = FakeTelegram::start(TG_TOKEN).await;
    let dir = TempDir::new().unwrap();
    let config = secret_files(dir.path(), &good, &tg.url());

    // A node given the secrets directly, one given them as files, and a
    // gateway (Telegram + MCP over HTTP) given them as files; all at debug.
    let tmux_a = TmuxServer::new();
    let mut opts = NodeOptions::new("EnvNode", &tmux_a, &redis)
        .env("TELEMUX_MESH__KEY", MESH_KEY)
        .env("RUST_LOG", "debug");
    opts.redis_url = good.clone();
    let env_node = NodeProcess::start_with(opts);
    let cli = Cli::new(good.clone())
        .env("TELEMUX_MESH__KEY", MESH_KEY)
        .env("TELEMUX_COMPUTER", "EnvNode");
    let tmux_b = TmuxServer::new();
    let node_log = dir.path().join("file-node.log");
    let file_cli = cli
        .clone()
        .env("TELEMUX_COMPUTER", "FileNode")
        .env("TELEMUX_TMUX__SOCKET", tmux_b.name())
        .env("TELEMUX_NODE__HEARTBEAT_MS", "300")
        .env("SHELL", "/bin/bash");
    let mut file_node = daemon(&file_cli, &config, &["node"], &node_log);
    let gw_log = dir.path().join("gateway.log");
    let mut gateway = daemon(&cli, &config, &["gateway"], &gw_log);
    wait_until("both nodes online", Duration::from_secs(30), || async {
        let out = run(&cli, None, &["computers", "--json"]).await;
        (out.text.matches(r#""online":true"#).count() == 2)
            .then_some(())
            .ok_or(out)
    })
    .await;

    // The gateway at work: MCP with the right and a wrong token, Telegram polling.
    let mcp_addr = wait_until("the MCP URL", Duration::from_secs(30), || async {
        let log = std::fs::read_to_string(&gw_log).unwrap_or_default();
        log.lines()
            .find_map(|l| l.strip_prefix("telemux: MCP over HTTP at http://"))
            .and_then(|u| u.trim().strip_suffix("/mcp"))
            .map(str::to_string)
            .ok_or(log)
    })
    .await;
    let answer = mcp_post(&mcp_addr, MCP_TOKEN).await;
    assert!(answer.contains("serverInfo"), "{answer}");
    let refused = mcp_post(&mcp_addr, "S3CRET-wrong-mcp-Ju8k").await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    tg.inject_message(OWNER, OWNER, None, "/computers");
    wait_until("the bot's answer", Duration::from_secs(30), || async {
        tg.messages(OWNER, None)
            .iter()
            .any(|m| m.text.contains("FileNode"))
    })
    .await;

    // Everything a user prints, with the secrets given directly...
    let direct = cli
        .clone()
        .env("TELEMUX_TELEGRAM__TOKEN", TG_TOKEN)
        .env("TELEMUX_TELEGRAM__API_URL", tg.url())
        .env("TELEMUX_TELEGRAM__ALLOWED_USERS", format!("[{OWNER}]"))
        .env("TELEMUX_MCP__LISTEN", "127.0.0.1:0")
        .env("TELEMUX_MCP__TOKEN", MCP_TOKEN);
    // ...and as files.
    let views: [&[&str]; 9] = [
        &["config", "show"],
        &["config", "show", "--json"],
        &["doctor"],
        &["doctor", "--json"],
        &["computers"],
        &["computers", "--json"],
        &["status", "EnvNode"],
        &["status", "FileNode", "--json"],
        &["sessions", "--json"],
    ];
    for (who, config) in [(&direct, None), (&cli, Some(config.as_path()))] {
        for args in views {
            let out = run(who, config, args).await;
            assert_clean(
                &format!("telemux {args:?} (files: {})", config.is_some()),
                &out.text,
            );
            assert_eq!(out.code, Some(0), "{args:?}: {out:?}");
        }
        // The secrets were used, not just hidden: Redis, Telegram and the key work.
        let doc = run(who, config, &["doctor", "--json"]).await.text;
        assert!(
            doc.contains("reachable") && doc.contains("token valid: bot"),
            "{doc}"
        );
        assert!(doc.contains("commands are signed"), "{doc}");
        let out = run(who, config, &["config", "show"]).await.text;
        let shown = match config {
            None => format!("redis://{REDIS_USER}:***@"),
            Some(_) => "\"url_file\": ".to_string(),
        };
        assert!(out.contains(&shown), "{out}");
        let out = run(who, config, &["run", "FileNode", "--", "echo", "signed-ok"]).await;
        assert!(
            out.text.contains("signed-ok") && out.code == Some(0),
            "{out:?}"
        );
    }

    failed_connects_do_not_echo_passwords(&cli, &redis, &tg).await;

    // The daemons' debug logs.
    let _ = gateway.kill().await;
    let _ = file_node.kill().await;
    assert!(
        env_node.log().contains("DEBUG"),
        "the node really logged at debug"
    );
    assert_clean("the node log (direct secrets)", &env_node.log());
    let node_text = std::fs::read_to_string(&node_log).unwrap();
    assert!(node_text.contains("DEBUG"), "{node_text}");
    assert_clean("the node log (secret files)", &node_text);
    let gw_text = std::fs::read_to_string(&gw_log).unwrap();
    assert!(gw_text.contains("DEBUG"), "{gw_text}");
    assert_clean("the gateway log", &gw_text);
}

/// Wrong passwords and tokens: the failure is explained, the secret is not shown.
async fn failed_connects_do_not_echo_passwords(cli: &Cli, redis: &RedisServer, tg: &FakeTelegram) {
    let wrong = Cli::new(url(redis, "S3CRET-wrong-pw-Hh3j"));
    for args in [
        &["computers"][..],
        &["status", "EnvNode"],
        &["doctor"],
        &["doctor", "--json"],
    ] {
        let out = run(&wrong, None, args).await;
        assert_clean(&format!("{args:?} with a wrong Redis password"), &out.text);
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(out.text.contains("WRONGPASS"), "{out:?}");
    }
    // A password with unencoded `/ ? #` makes the URL invalid: still masked.
    let odd = Cli::new(url(redis, "S3CRET/sl?as#h"));
    for args in [&["computers"][..], &["doctor"], &["config", "show"]] {
        let out = run(&odd, None, args).await;
        assert_clean(&format!("{args:?} with an invalid URL"), &out.text);
    }
    // The Bot API refusing the token, and not answering at all.
    for (token, api) in [
        ("111:S3CRET-wrong-bot-Rt5y", tg.url()),
        (TG_TOKEN, "http://127.0.0.1:9".to_string()),
    ] {
        let out = run(
            &cli.clone()
                .env("TELEMUX_TELEGRAM__TOKEN", token)
                .env("TELEMUX_TELEGRAM__API_URL", api),
            None,
            &["doctor", "--json"],
        )
        .await;
        assert_clean("doctor with a failing Telegram", &out.text);
        assert!(
            out.text.contains(r#""check":"telegram","detail":"#),
            "{out:?}"
        );
        assert_eq!(out.code, Some(1), "{out:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_of_the_wrong_shape_are_refused_without_quoting_them() {
    let redis = RedisServer::start();
    let cli = Cli::new(redis.url());
    // An all-digit key in the environment is read as a number: refused, not quoted.
    let digits = "1234567890123456789";
    let out = run(
        &cli.clone().env("TELEMUX_MESH__KEY", digits),
        None,
        &["config", "show"],
    )
    .await;
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(!out.text.contains(digits), "{out:?}");
    assert!(
        out.text.contains("mesh.key must be a string") && out.text.contains("mesh.key_file"),
        "{out:?}"
    );
    let quoted = format!("\"{digits}\"");
    let out = run(
        &cli.clone().env("TELEMUX_MESH__KEY", &quoted),
        None,
        &["config", "show"],
    )
    .await;
    assert_eq!(
        out.code,
        Some(0),
        "quoting is the documented way out: {out:?}"
    );

    // A TOML syntax error on a line holding a secret: the line is not shown.
    let dir = TempDir::new().unwrap();
    let cfg = dir.path().join("telemux.toml");
    std::fs::write(&cfg, "[telegram]\ntoken = \"S3CRET-unterminated\n").unwrap();
    let out = run(&cli, Some(&cfg), &["config", "show"]).await;
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_clean("a TOML syntax error", &out.text);
    assert!(out.text.contains("line 2"), "{out:?}");

    // A key file holding a key that is too short: the length, not the key.
    let key = dir.path().join("short-key");
    std::fs::write(&key, "S3CRET-short\n").unwrap();
    let out = run(
        &cli.clone()
            .env("TELEMUX_MESH__KEY_FILE", key.to_str().unwrap()),
        None,
        &["computers"],
    )
    .await;
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_clean("a weak key from a file", &out.text);
    assert!(out.text.contains("mesh.key is 12 bytes"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_unreadable_secret_file_is_named() {
    let redis = RedisServer::start();
    let cli = Cli::new(redis.url()).env("TELEMUX_COMPUTER", "FileCheck");
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("no-such-file");
    // A directory cannot be read as a file (and tests may run as root, for whom
    // file modes do not stop a read).
    let unreadable = dir.path().join("a-directory");
    std::fs::create_dir(&unreadable).unwrap();
    for path in [&missing, &unreadable] {
        let p = path.to_str().unwrap();
        let cases: [(&str, &[&str], &str); 6] = [
            ("TELEMUX_REDIS__URL_FILE", &["computers"], "redis.url_file"),
            ("TELEMUX_MESH__KEY_FILE", &["computers"], "mesh.key_file"),
            ("TELEMUX_MESH__KEY_FILE", &["doctor"], "mesh.key_file"),
            (
                "TELEMUX_TELEGRAM__TOKEN_FILE",
                &["doctor"],
                "telegram.token_file",
            ),
            (
                "TELEMUX_TELEGRAM__TOKEN_FILE",
                &["gateway"],
                "telegram.token_file",
            ),
            ("TELEMUX_MCP__TOKEN_FILE", &["gateway"], "mcp.token_file"),
        ];
        for (var, args, key) in cases {
            let mut who = cli
                .clone()
                .env(var, p)
                .env("TELEMUX_TELEGRAM__ALLOWED_USERS", "[1]");
            if var == "TELEMUX_MCP__TOKEN_FILE" {
                who = who.env("TELEMUX_MCP__LISTEN", "127.0.0.1:0");
            }
            let mut cmd = who.command(args);
            if var == "TELEMUX_REDIS__URL_FILE" {
                cmd.env_remove("TELEMUX_REDIS__URL");
            }
            let out = cmd
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .output()
                .await
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_ne!(out.status.code(), Some(0), "{var} {args:?}: {text}");
            assert!(
                text.contains(&format!("{key} {p}")),
                "{var}={p} {args:?} should name the key and the file: {text}"
            );
        }
    }
}
