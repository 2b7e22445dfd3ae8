//! Redis ACL users (issue 6): the shipped deploy/redis/users.acl, loaded by a
//! real redis-server (`--aclfile`, over TLS with client certificates, so
//! `rediss://user:password@host:port` is exercised too), runs a node as its
//! per-computer node user and the CLI as the client user through the normal
//! flow without a single ACL denial, and refuses each user what it must not
//! do: a node cannot touch another computer's streams or the server, the
//! client cannot fake presence or wipe the database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use telemux_bus::{Bus, ConnectOptions, TlsOptions};
use telemux_tests::mesh::wait_online;
use telemux_tests::{
    wait_until, Cli, NodeOptions, NodeProcess, RedisOptions, RedisServer, TlsFiles, TmuxServer,
};

const NODE_PW: &str = "node-test-password-4b1d";
const CLIENT_PW: &str = "client-test-password-9c2e";
const ADMIN: (&str, &str) = ("admin", "admin-test-password-77aa");

/// deploy/redis/users.acl made usable as the docs say: one node line per
/// computer (COMPUTER → its case-folded name), users switched on with a
/// password, plus an admin for the harness.
fn acl_file(dir: &Path, computers: &[&str]) -> PathBuf {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/redis/users.acl");
    let template = std::fs::read_to_string(&template)
        .unwrap_or_else(|e| panic!("reading {}: {e}", template.display()));
    let mut lines = Vec::new();
    let mut seen = Vec::new();
    for line in template.lines().filter(|l| !l.trim().is_empty()) {
        let user = line.split_whitespace().nth(1).unwrap_or_default();
        seen.push(user.to_string());
        match user {
            "default" => lines.push(line.to_string()),
            "telemux-client" => {
                lines.push(line.replacen(" off ", &format!(" on >{CLIENT_PW} "), 1))
            }
            "telemux-node-COMPUTER" => {
                for c in computers {
                    lines.push(line.replace("COMPUTER", &c.to_ascii_lowercase()).replacen(
                        " off ",
                        &format!(" on >{NODE_PW} "),
                        1,
                    ));
                }
            }
            other => panic!("users.acl has a user this test does not know: {other}"),
        }
    }
    assert_eq!(
        seen,
        ["default", "telemux-client", "telemux-node-COMPUTER"],
        "users.acl changed; update this test and docs/security.md"
    );
    lines.push(format!("user {} on >{} ~* &* +@all", ADMIN.0, ADMIN.1));
    let path = dir.join("users.acl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// The server's ACL denial log (empty when nothing was refused).
fn acl_log(redis: &RedisServer) -> String {
    redis.cli(&["ACL", "LOG"])
}

/// Asserts that `user` gets NOPERM for `args`.
#[track_caller]
fn refused(redis: &RedisServer, user: &str, password: &str, args: &[&str]) {
    let (_, text) = redis.cli_as(user, password, args);
    assert!(
        text.contains("NOPERM"),
        "{user} was not refused {args:?}: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_client_users_run_the_mesh_and_are_refused_the_rest() {
    let files = TlsFiles::generate();
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start_with(RedisOptions {
        tls: Some(files.clone()),
        acl_file: Some(acl_file(dir.path(), &["AclPi"])),
        admin: Some((ADMIN.0.into(), ADMIN.1.into())),
        ..RedisOptions::default()
    });
    let node_url = redis.url_as("telemux-node-aclpi", NODE_PW);
    let client_url = redis.url_as("telemux-client", CLIENT_PW);
    assert!(
        client_url.starts_with("rediss://telemux-client:"),
        "{client_url}"
    );

    let tmux = TmuxServer::new();
    let mut opts = NodeOptions::new("AclPi", &tmux, &redis);
    opts.redis_url = node_url.clone();
    opts = opts.envs(files.env());
    let node = NodeProcess::start_with(opts);
    let cli = Cli::new(&client_url)
        .envs(files.env())
        .env("TELEMUX_COMPUTER", "AclDesk");

    wait_online(&cli, "AclPi").await;
    let created = cli.run(&["new", "AclPi/work"]).await;
    assert_eq!(created.ok().trim(), "AclPi/work", "{}", node.log());
    cli.run(&["send", "AclPi/work", "echo acl-$((40+2)); (exit 5)"])
        .await
        .ok();
    wait_until(
        "exit code 5 as ACL users",
        Duration::from_secs(30),
        || async {
            telemux_tests::mesh::exit_codes(&cli, "AclPi/work")
                .await
                .contains(&5)
        },
    )
    .await;
    let text = cli.run(&["tail", "AclPi/work"]).await;
    assert!(text.ok().contains("acl-42"), "{text:?}");
    // The node answers a search from its own streams (XRANGE) under its user.
    let found = cli.run(&["grep", "acl-4[2]", "--json"]).await;
    assert!(found.ok().contains("\"line\":\"acl-42\""), "{found:?}");
    // info (XLEN, MEMORY USAGE) and clean (SCAN, DEL) under the node's user too.
    let info = cli.run(&["info", "AclPi/work", "--json"]).await;
    assert!(info.ok().contains("\"stream_len\":"), "{info:?}");
    let clean = cli.run(&["clean", "AclPi", "--dry-run"]).await;
    assert!(clean.ok().contains("nothing to clean"), "{clean:?}");
    // rename (RENAMENX of its own stream, HSET/HDEL of its exit bookkeeping,
    // the pointer left under the old key) under the node's user, and back
    // (over that pointer, DEL).
    let renamed = cli.run(&["rename", "AclPi/work", "job"]).await;
    assert_eq!(
        renamed.ok().trim(),
        "renamed AclPi/work to AclPi/job",
        "{}",
        node.log()
    );
    let text = cli.run(&["tail", "AclPi/job"]).await;
    assert!(text.ok().contains("acl-42"), "{text:?}");
    let back = cli.run(&["rename", "AclPi/job", "work"]).await;
    assert_eq!(
        back.ok().trim(),
        "renamed AclPi/job to AclPi/work",
        "{}",
        node.log()
    );
    // The watchdog (HGETALL of the registry) has looked a few times by
    // now, under the node's user.
    assert!(
        !node.log().contains("cannot look for computers"),
        "{}",
        node.log()
    );
    cli.run(&["sessions", "AclPi"]).await.ok();
    cli.run(&["status", "AclPi"]).await.ok();
    let doctor = cli.run(&["doctor", "--json"]).await;
    assert_eq!(doctor.code(), Some(0), "{doctor:?}");

    // The gateway's Telegram state (lease scripts, offset, topic hashes) as the client user.
    let tls = ConnectOptions {
        tls: TlsOptions {
            ca_file: Some(files.ca()),
            cert_file: Some(files.client_cert()),
            key_file: Some(files.client_key()),
        },
    };
    let bus = Bus::connect_with(&client_url, &tls).await.unwrap();
    assert!(bus
        .tg_lease_acquire("gw-1", Duration::from_secs(5))
        .await
        .unwrap());
    assert!(bus.tg_store_offset("gw-1", 77).await.unwrap());
    assert_eq!(bus.tg_offset().await.unwrap(), Some(77));
    bus.tg_put_topic("aclpi/work", "AclPi/work", 12)
        .await
        .unwrap();
    assert_eq!(bus.tg_all_topics().await.unwrap().len(), 1);
    bus.tg_put_live("aclpi/work", "{}").await.unwrap();
    bus.tg_del_live("aclpi/work").await.unwrap();
    bus.tg_lease_release("gw-1").await.unwrap();
    bus.quit().await.unwrap();

    // A garbage command is dead-lettered by the node (XADD to the shared dead-letter stream).
    let (_, added) = redis.cli_as(
        "telemux-client",
        CLIENT_PW,
        &["XADD", "telemux:cmd:aclpi", "*", "e", "garbage"],
    );
    assert!(!added.contains("NOPERM"), "{added}");
    wait_until(
        "the garbage to be dead-lettered",
        Duration::from_secs(20),
        || async { redis.cli(&["XLEN", "telemux:deadletter"]) != "0" },
    )
    .await;
    // A graceful stop deregisters (DEL of its liveness key) under its ACL user too.
    let mut node = node;
    let status = node.stop().expect("node was running");
    assert!(
        status.success(),
        "node stopped with {status}: {}",
        node.log()
    );
    let computers = cli.run(&["computers", "--json"]).await;
    let list: Value = serde_json::from_str(computers.ok()).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "AclPi" && c["online"] == false),
        "{list}"
    );

    // Nothing in the normal flow was denied (heartbeats, commands, replies,
    // output, events, dead letters, deregistration, the client's reads).
    let log = acl_log(&redis);
    assert_eq!(log, "", "ACL denials in the normal flow:\n{log}");

    // Doctor works as the node user too (its check of other nodes' versions is
    // refused by Redis and left out, which is why this comes after the log check).
    let as_node = Cli::new(&node_url)
        .envs(files.env())
        .env("TELEMUX_COMPUTER", "AclPi");
    let doctor = as_node.run(&["doctor", "--json"]).await;
    assert_eq!(doctor.code(), Some(0), "{doctor:?}");

    // The node user: only its own computer's keys, write-only shared streams
    // (the event stream readable only by XREAD/XREVRANGE, for answers coming
    // home), no admin.
    let node_user = "telemux-node-aclpi";
    for args in [
        &["XADD", "telemux:cmd:otherpc", "*", "e", "x"][..],
        &["XRANGE", "telemux:out:otherpc:work", "-", "+"],
        &["SET", "telemux:alive:otherpc", "x"],
        // It may read the registry (its watchdog looks for computers that
        // went silent), never another computer's mailbox.
        &["HGETALL", "telemux:mailbox:otherpc"],
        &["DEL", "telemux:computers"],
        &["XRANGE", "telemux:events", "-", "+"],
        &["GET", "telemux:tg:lease"],
        &["FLUSHALL"],
        &["CONFIG", "GET", "maxmemory"],
        &["KEYS", "*"],
    ] {
        refused(&redis, node_user, NODE_PW, args);
    }
    // The client user: reads everything, writes command streams, but cannot fake
    // presence, forge output or administer the server.
    for args in [
        &["SET", "telemux:alive:aclpi", "x"][..],
        &["XADD", "telemux:out:aclpi:work", "*", "e", "x"],
        &["HSET", "telemux:computers", "aclpi", "x"],
        &["FLUSHALL"],
        &["CONFIG", "SET", "save", ""],
    ] {
        refused(&redis, "telemux-client", CLIENT_PW, args);
    }

    // A node that claims another computer's name with this computer's user is
    // stopped by Redis, with the reason in its log.
    let tmux2 = TmuxServer::new();
    let mut opts = NodeOptions::new("OtherPc", &tmux2, &redis);
    opts.redis_url = node_url;
    opts = opts.envs(files.env());
    let intruder = NodeProcess::start_with(opts);
    wait_until(
        "the intruding node to be refused",
        Duration::from_secs(30),
        || {
            let log = intruder.log();
            async move { log.contains("NOPERM") }
        },
    )
    .await;
    let computers = cli.run(&["computers", "--json"]).await;
    assert!(
        !computers.ok().contains("OtherPc"),
        "OtherPc registered: {computers:?}"
    );
    let log = intruder.log();
    assert!(log.contains("node stopped"), "{log}");
}
