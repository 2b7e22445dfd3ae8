//! `telemux doctor` and the operator-facing checks (issue 8): doctor against a
//! real redis-server with tmux present, without tmux on PATH, against an
//! unreachable Redis, with a computer name taken by a node on another host and
//! with a Telegram token checked through getMe (fake Bot API); the config error
//! for a misspelled key; and version skew as shown by `computers`.

use telemux_bus::Bus;
use telemux_proto::{now_ms, ComputerInfo, PROTOCOL_VERSION};
use telemux_tests::telegram::FakeTelegram;
use telemux_tests::{doctor_check, Cli, Mesh, RedisServer};

/// A registry record as a node on another machine would write it.
fn foreign_node(name: &str, host: &str, proto: u16) -> ComputerInfo {
    ComputerInfo {
        name: name.into(),
        version: "9.9.9".into(),
        proto,
        os: "linux-aarch64".into(),
        host: host.into(),
        started_ms: now_ms() - 60_000,
        last_seen_ms: now_ms(),
        // Long enough that the record stays online for the whole test.
        heartbeat_ms: 60_000,
        sessions: 0,
        pid: 4242,
        stopped: false,
        projects: Vec::new(),
        agents: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_against_real_redis_with_tmux() {
    let redis = RedisServer::start();
    let cli = Cli::new(redis.url()).env("TELEMUX_COMPUTER", "DocOk");
    let (code, doc, raw) = cli.doctor_json().await;
    assert_eq!(code, Some(0), "{raw}");
    assert_eq!(doc["ok"], true, "{raw}");
    for name in ["tmux", "redis", "clock", "name in mesh", "mcp", "telegram"] {
        assert_eq!(doctor_check(&doc, name)["level"], "ok", "{name}: {raw}");
    }
    // An unset mesh key works but is insecure: a warning with its fix, not a failure.
    let key = doctor_check(&doc, "mesh key");
    assert_eq!(key["level"], "warn", "{raw}");
    assert!(
        key["fix"].as_str().unwrap().contains("openssl rand"),
        "{raw}"
    );

    // The text form says the same for people.
    let out = cli.run(&["doctor"]).await;
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(out.stdout.contains("ok    tmux"), "{out:?}");
    assert!(out.stdout.contains("WARN  mesh key"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_without_tmux_on_path_fails_with_the_install_command() {
    let redis = RedisServer::start();
    let cli = Cli::new(redis.url()).env("TELEMUX_COMPUTER", "DocNoTmux");
    let empty = cli.home().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let cli = cli.env("PATH", empty.to_string_lossy());
    let (code, doc, raw) = cli.doctor_json().await;
    assert_eq!(code, Some(1), "{raw}");
    let tmux = doctor_check(&doc, "tmux");
    assert_eq!(tmux["level"], "fail", "{raw}");
    assert!(
        tmux["fix"]
            .as_str()
            .unwrap()
            .contains("apt-get install -y tmux"),
        "{raw}"
    );
    // Redis itself is still fine: one failure does not hide the other checks.
    assert_eq!(doctor_check(&doc, "redis")["level"], "ok", "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_unreachable_redis_with_its_url() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let cli = Cli::new(&url).env("TELEMUX_COMPUTER", "DocNoRedis");
    let out = cli.run(&["doctor"]).await;
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains("FAIL  redis"), "{out:?}");
    assert!(out.stdout.contains(&url), "{out:?}");
    assert!(out.stdout.contains("fix:"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misspelled_config_key_is_an_error_naming_the_valid_key() {
    let redis = RedisServer::start();
    let cli = Cli::new(redis.url());
    let path = cli.home().join("bad.toml");
    std::fs::write(&path, "[redis]\nulr = \"x\"\n").unwrap();
    let cli = cli.env("TELEMUX_CONFIG", path.to_string_lossy());
    for args in [&["doctor"][..], &["computers"][..]] {
        let out = cli.run(args).await;
        assert_eq!(out.code(), Some(2), "{out:?}");
        assert!(
            out.stderr
                .contains("unknown key 'redis.ulr'; did you mean 'redis.url'?"),
            "{out:?}"
        );
        assert!(out.stderr.contains("bad.toml"), "{out:?}");
    }
    // The same typo through the environment names the variable.
    let cli = Cli::new(redis.url()).env("TELEMUX_NODE__HEARTBEAT", "5");
    let out = cli.run(&["doctor"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("TELEMUX_NODE__HEARTBEAT"), "{out:?}");
    assert!(out.stderr.contains("'node.heartbeat_ms'"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_the_computer_name_taken_by_a_node_on_another_host() {
    let redis = RedisServer::start();
    let bus = Bus::connect(&redis.url()).await.unwrap();
    bus.heartbeat(&foreign_node("Twin", "some-other-host", PROTOCOL_VERSION))
        .await
        .unwrap();
    let cli = Cli::new(redis.url()).env("TELEMUX_COMPUTER", "twin");
    let (code, doc, raw) = cli.doctor_json().await;
    assert_eq!(code, Some(1), "{raw}");
    let c = doctor_check(&doc, "name in mesh");
    assert_eq!(c["level"], "fail", "{raw}");
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.contains("host 'some-other-host'"), "{raw}");
    assert!(detail.contains("pid 4242"), "{raw}");
    assert!(
        c["fix"].as_str().unwrap().contains("TELEMUX_COMPUTER"),
        "{raw}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_telegram_token_with_get_me() {
    let redis = RedisServer::start();
    let tg = FakeTelegram::start("123:good").await;
    let base = Cli::new(redis.url())
        .env("TELEMUX_COMPUTER", "DocTg")
        .env("TELEMUX_TELEGRAM__API_URL", tg.url())
        .env("TELEMUX_TELEGRAM__ALLOWED_USERS", "[42]")
        .env("TELEMUX_TELEGRAM__CHAT_ID", "-1001");

    let good = base.clone().env("TELEMUX_TELEGRAM__TOKEN", "123:good");
    let (code, doc, raw) = good.doctor_json().await;
    assert_eq!(code, Some(0), "{raw}");
    let c = doctor_check(&doc, "telegram");
    assert_eq!(c["level"], "ok", "{raw}");
    assert!(
        c["detail"].as_str().unwrap().contains("@telemux_test_bot"),
        "{raw}"
    );

    let bad = base.env("TELEMUX_TELEGRAM__TOKEN", "123:wrong");
    let (code, doc, raw) = bad.doctor_json().await;
    assert_eq!(code, Some(1), "{raw}");
    let c = doctor_check(&doc, "telegram");
    assert_eq!(c["level"], "fail", "{raw}");
    assert!(c["fix"].as_str().unwrap().contains("@BotFather"), "{raw}");
    // The token never appears in what doctor prints.
    assert!(!raw.contains("123:wrong"), "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_an_open_mcp_listener_without_a_token() {
    let redis = RedisServer::start();
    let cli = Cli::new(redis.url())
        .env("TELEMUX_COMPUTER", "DocMcp")
        .env("TELEMUX_MCP__LISTEN", "0.0.0.0:0");
    let (code, doc, raw) = cli.doctor_json().await;
    assert_eq!(code, Some(1), "{raw}");
    assert_eq!(doctor_check(&doc, "mcp")["level"], "fail", "{raw}");
    let cli = cli.env("TELEMUX_MCP__TOKEN", "0123456789abcdef");
    let (code, doc, raw) = cli.doctor_json().await;
    assert_eq!(code, Some(0), "{raw}");
    assert_eq!(doctor_check(&doc, "mcp")["level"], "ok", "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn computers_shows_protocol_and_flags_incompatible_nodes() {
    let m = Mesh::start(&["SkewA"]).await;
    let c = m.computers().await;
    assert_eq!(c.len(), 1, "{c:?}");
    for key in [
        "name",
        "online",
        "last_seen_ms",
        "sessions",
        "os",
        "version",
        "proto",
        "compatible",
    ] {
        assert!(c[0].get(key).is_some(), "{key} missing: {c:?}");
    }
    assert_eq!(c[0]["proto"], PROTOCOL_VERSION, "{c:?}");
    assert_eq!(c[0]["compatible"], true, "{c:?}");

    // A node from a future release, as its heartbeat would look.
    let bus = Bus::connect(&m.redis.url()).await.unwrap();
    let future = PROTOCOL_VERSION + 1;
    bus.heartbeat(&foreign_node("SkewB", "pi4", future))
        .await
        .unwrap();
    let c = m.computers().await;
    let b = c
        .iter()
        .find(|c| c["name"] == "SkewB")
        .expect("SkewB listed");
    assert_eq!(b["proto"], future, "{c:?}");
    assert_eq!(b["compatible"], false, "{c:?}");

    let out = m.cli.run(&["computers"]).await;
    assert!(
        out.ok()
            .contains(&format!("online, incompatible protocol v{future}")),
        "{out:?}"
    );
    assert!(out.stderr.contains("upgrade"), "{out:?}");

    let (code, doc, raw) = m
        .cli
        .clone()
        .env("TELEMUX_COMPUTER", "DocSkew")
        .doctor_json()
        .await;
    assert_eq!(code, Some(0), "{raw}");
    let v = doctor_check(&doc, "versions");
    assert_eq!(v["level"], "warn", "{raw}");
    assert!(v["detail"].as_str().unwrap().contains("SkewB"), "{raw}");
}
