//! Redis over TLS with a private CA and client certificates (issue 6, and
//! issue 8's doctor TLS report), against a real TLS-only redis-server that
//! requires client certificates (`--tls-auth-clients yes`). Certificates are
//! made per test with rcgen ([`TlsFiles`]).
//!
//! Covered: a node and the CLI over `rediss://` with CA + client certificate
//! end to end; no client certificate, a wrong CA and unusable TLS files fail
//! fast with errors that name the setting to fix (and never print a key);
//! doctor names TLS, the CA file, the client certificate and the Redis
//! version, and gives the fix for a wrong CA.

use std::time::{Duration, Instant};

use telemux_tests::mesh::exit_codes;
use telemux_tests::mesh::wait_online;
use telemux_tests::{
    doctor_check, wait_until, Cli, NodeOptions, NodeProcess, RedisServer, TlsFiles, TmuxServer,
};

/// A failing connection must be reported long before this (it is not a hang).
const FAIL_FAST: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_cli_work_over_tls_with_ca_and_client_certificate() {
    let files = TlsFiles::generate();
    let redis = RedisServer::start_tls(&files);
    assert!(redis.url().starts_with("rediss://"), "{}", redis.url());
    let tmux = TmuxServer::new();
    let opts = NodeOptions::new("TlsPi", &tmux, &redis).envs(files.env());
    let node = NodeProcess::start_with(opts);
    let cli = Cli::new(redis.url()).envs(files.env());

    wait_online(&cli, "TlsPi").await;

    let created = cli.run(&["new", "TlsPi/sec"]).await;
    assert_eq!(created.ok().trim(), "TlsPi/sec", "{:?}", node.log());
    cli.run(&["send", "TlsPi/sec", "(exit 7)"]).await.ok();
    wait_until("exit code 7 over TLS", Duration::from_secs(30), || async {
        exit_codes(&cli, "TlsPi/sec").await.contains(&7)
    })
    .await;

    // Doctor over TLS passes and says which trust and identity it used.
    let doctor = cli.clone().env("TELEMUX_COMPUTER", "TlsDoctor");
    let (code, doc, raw) = doctor.doctor_json().await;
    assert_eq!(code, Some(0), "{raw}");
    let redis_check = doctor_check(&doc, "redis");
    assert_eq!(redis_check["level"], "ok", "{raw}");
    let detail = redis_check["detail"].as_str().unwrap();
    assert!(detail.contains("TLS"), "{raw}");
    assert!(
        detail.contains(&format!("CA file {}", files.ca().display())),
        "{raw}"
    );
    assert!(
        detail.contains(&format!(
            "client certificate {}",
            files.client_cert().display()
        )),
        "{raw}"
    );
    assert!(
        detail.contains("Redis 7") || detail.contains("Redis 8"),
        "{raw}"
    );
    // Local TLS: no plain-text warning.
    assert!(
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["check"] != "redis tls"),
        "{raw}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_certificate_the_cli_fails_fast_naming_the_settings() {
    let files = TlsFiles::generate();
    let redis = RedisServer::start_tls(&files);
    let cli = Cli::new(redis.url()).envs(files.env_ca_only());
    let start = Instant::now();
    let out = cli.run(&["computers"]).await;
    assert!(start.elapsed() < FAIL_FAST, "took {:?}", start.elapsed());
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("requires a client certificate"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("redis.tls_cert_file") && out.stderr.contains("redis.tls_key_file"),
        "{out:?}"
    );

    // Doctor says the same, with the fix on its own line.
    let (code, doc, raw) = cli.doctor_json().await;
    assert_eq!(code, Some(1), "{raw}");
    let c = doctor_check(&doc, "redis");
    assert_eq!(c["level"], "fail", "{raw}");
    assert!(
        c["fix"].as_str().unwrap().contains("redis.tls_cert_file"),
        "{raw}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_fails_fast_and_doctor_says_which_setting_to_fix() {
    let files = TlsFiles::generate();
    let other = TlsFiles::generate();
    let redis = RedisServer::start_tls(&files);
    let cli = Cli::new(redis.url())
        .env(
            "TELEMUX_REDIS__TLS_CA_FILE",
            other.ca().display().to_string(),
        )
        .env(
            "TELEMUX_REDIS__TLS_CERT_FILE",
            files.client_cert().display().to_string(),
        )
        .env(
            "TELEMUX_REDIS__TLS_KEY_FILE",
            files.client_key().display().to_string(),
        );
    let start = Instant::now();
    let out = cli.run(&["sessions"]).await;
    assert!(start.elapsed() < FAIL_FAST, "took {:?}", start.elapsed());
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("certificate is not signed by a CA this computer trusts"),
        "{out:?}"
    );

    let (code, doc, raw) = cli.doctor_json().await;
    assert_eq!(code, Some(1), "{raw}");
    let c = doctor_check(&doc, "redis");
    assert_eq!(c["level"], "fail", "{raw}");
    let fix = c["fix"].as_str().unwrap();
    assert!(
        fix.contains(
            "point redis.tls_ca_file at the CA that signed the Redis server's certificate"
        ),
        "{raw}"
    );
    // The text form carries the same fix.
    let out = cli.run(&["doctor"]).await;
    assert!(out.stdout.contains("FAIL  redis"), "{out:?}");
    assert!(
        out.stdout.contains("fix: point redis.tls_ca_file"),
        "{out:?}"
    );

    // Without any CA file the system store is used, which does not know this CA either.
    let cli = Cli::new(redis.url());
    let out = cli.run(&["computers"]).await;
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("set redis.tls_ca_file"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_tls_settings_are_configuration_errors_that_never_print_a_key() {
    let files = TlsFiles::generate();
    let redis = RedisServer::start_tls(&files);
    let base = Cli::new(redis.url());
    let path = |p: std::path::PathBuf| p.display().to_string();

    // A certificate without its key.
    let cli = base
        .clone()
        .env("TELEMUX_REDIS__TLS_CA_FILE", path(files.ca()))
        .env("TELEMUX_REDIS__TLS_CERT_FILE", path(files.client_cert()));
    let out = cli.run(&["computers"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("set both or neither"), "{out:?}");

    // A CA file that does not exist is named with the setting.
    let missing = base.home().join("no-such-ca.pem");
    let cli = base
        .clone()
        .env("TELEMUX_REDIS__TLS_CA_FILE", path(missing.clone()));
    let out = cli.run(&["computers"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "cannot use redis.tls_ca_file = {}: the file does not exist",
            missing.display()
        )),
        "{out:?}"
    );

    // A broken key file: the error names it, and none of its contents.
    let secret = "c2VjcmV0LWtleS1ieXRlcw";
    let broken = base.home().join("broken.key");
    std::fs::write(
        &broken,
        format!("-----BEGIN PRIVATE KEY-----\n{secret}!!\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let cli = base
        .clone()
        .envs(files.env_ca_only())
        .env("TELEMUX_REDIS__TLS_CERT_FILE", path(files.client_cert()))
        .env("TELEMUX_REDIS__TLS_KEY_FILE", path(broken.clone()));
    for args in [&["computers"][..], &["doctor"][..]] {
        let out = cli.run(args).await;
        assert_ne!(out.code(), Some(0), "{out:?}");
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains(&format!(
                "cannot use redis.tls_key_file = {}",
                broken.display()
            )),
            "{out:?}"
        );
        assert!(!all.contains(secret), "key contents printed: {out:?}");
    }
    // The real key's contents never appear either, e.g. in `config show`.
    let key_pem = std::fs::read_to_string(files.client_key()).unwrap();
    let key_body = key_pem.lines().nth(1).unwrap();
    let cli = base.clone().envs(files.env());
    let out = cli.run(&["config", "show"]).await;
    assert!(out.success(), "{out:?}");
    assert!(out.stdout.contains("tls_key_file"), "{out:?}");
    assert!(!out.stdout.contains(key_body), "{out:?}");

    // TLS files with a plain redis:// URL: refused rather than silently unencrypted.
    let cli = Cli::new(redis.url().replace("rediss://", "redis://")).envs(files.env());
    let out = cli.run(&["computers"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("use a rediss:// URL"), "{out:?}");

    // A misspelled TLS key gets the nearest valid one.
    let cli = base
        .clone()
        .env("TELEMUX_REDIS__TLS_CAFILE", path(files.ca()));
    let out = cli.run(&["computers"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("did you mean 'redis.tls_ca_file'?"),
        "{out:?}"
    );
}
