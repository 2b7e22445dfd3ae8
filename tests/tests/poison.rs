//! Faults 5 (issue 6): poison in every stream a node or client reads —
//! garbage bytes, an envelope of an unknown protocol version, a body over the
//! size limit, an entry without the envelope field, a body of the wrong kind.
//! Each is dead-lettered (command stream) or skipped with a message (output
//! stream, registry); nothing crashes, no consumer group gets stuck, and the
//! next good command is served.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use telemux_proto::{Envelope, MeshEvent, PROTOCOL_VERSION};
use telemux_tests::{wait_until, Mesh};

/// `XADD key * FIELD <bytes>` with binary-safe bytes (`redis-cli -x`).
fn xadd_raw(port: u16, key: &str, field: &str, bytes: &[u8]) {
    xadd_raw_id(port, key, "*", field, bytes)
}

/// `XADD key ID FIELD <bytes>`.
fn xadd_raw_id(port: u16, key: &str, id: &str, field: &str, bytes: &[u8]) {
    let mut child = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "-x", "XADD", key, id, field])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-cli");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    assert!(child.wait().unwrap().success(), "XADD {key}");
}

/// The poisons, by name: what a confused or hostile writer could put there.
fn poisons() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let event = MeshEvent::ComputerOnline {
        computer: "x".into(),
    };
    let mut future = Envelope::seal("evil", &event).unwrap();
    future.v = PROTOCOL_VERSION + 7;
    let mut huge = Envelope::seal("evil", &event).unwrap();
    huge.body = vec![0x90; 3 * 1024 * 1024];
    vec![
        ("garbage", "e", b"\xff\x00not msgpack at all\xc1".to_vec()),
        ("future version", "e", future.encode()),
        ("oversized", "e", huge.encode()),
        ("no envelope field", "other", b"x".to_vec()),
        // Well-formed, but a mesh event where a request/output record belongs.
        (
            "wrong kind",
            "e",
            Envelope::seal("evil", &event).unwrap().encode(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_in_every_stream_is_refused_and_everything_keeps_working() {
    let mut m = Mesh::start(&["RasPi"]).await;
    let port = m.redis.port();
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    m.cli.run(&["send", "RasPi/api", "true"]).await.ok();
    wait_until("first exit code", Duration::from_secs(20), || async {
        m.exit_codes("RasPi/api").await == vec![0]
    })
    .await;
    let dead_before = dead_letters(&m).await;

    let all = poisons();
    for (_, field, bytes) in &all {
        xadd_raw(port, "telemux:cmd:raspi", field, bytes);
        xadd_raw(port, "telemux:out:raspi:api", field, bytes);
    }
    // An entry far above the node's stream ids: its next records must not be
    // refused as "already stored" (they would be lost silently).
    xadd_raw_id(
        port,
        "telemux:out:raspi:api",
        "99999999999999-0",
        "e",
        b"from the year 5138",
    );
    // Registry: a record that is not an envelope, and one of the wrong kind.
    m.redis
        .cli(&["HSET", "telemux:computers", "ghost", "\u{1}garbage"]);

    // The node dead-letters every poisoned command and serves the next one.
    wait_until(
        "every poisoned command dead-lettered",
        Duration::from_secs(20),
        || async { dead_letters(&m).await >= dead_before + all.len() as u64 },
    )
    .await;
    m.cli.run(&["send", "RasPi/api", "(exit 3)"]).await.ok();
    wait_until(
        "a good command after the poison",
        Duration::from_secs(20),
        || async { m.exit_codes("RasPi/api").await == vec![0, 3] },
    )
    .await;
    let status = m.cli.run(&["status", "RasPi", "--json"]).await;
    let status: serde_json::Value = serde_json::from_str(status.ok()).unwrap();
    assert_eq!(status["online"], true);
    assert_eq!(
        status["pending_commands"], 0,
        "no command stuck in the consumer group: {status}"
    );

    // Readers of the output stream skip the poison with a message per entry
    // and still see every good record.
    let tail = m.cli.run(&["tail", "RasPi/api", "--json"]).await;
    let skipped = tail.stderr.matches("skipping undecodable record").count();
    assert_eq!(
        skipped,
        all.len() + 1,
        "one message per poisoned entry: {tail:?}"
    );

    // A restarted node finds its own newest record under the poison and
    // continues the sequence.
    let seqs_before = seqs(&m).await;
    m.nodes[0].stop();
    m.nodes[0].start_again();
    m.wait_online("RasPi", true).await;
    m.cli.run(&["send", "RasPi/api", "(exit 4)"]).await.ok();
    wait_until(
        "a command after the restart",
        Duration::from_secs(20),
        || async { m.exit_codes("RasPi/api").await == vec![0, 3, 4] },
    )
    .await;
    let seqs_after = seqs(&m).await;
    assert!(
        seqs_after.starts_with(&seqs_before) && seqs_after.len() > seqs_before.len(),
        "{seqs_before:?} then {seqs_after:?}"
    );
    assert!(
        seqs_after.windows(2).all(|w| w[1] > w[0]),
        "sequence continues after the restart: {seqs_after:?}"
    );

    // The registry poison is ignored, the real computer still listed.
    let computers = m.computers().await;
    assert!(
        computers
            .iter()
            .any(|c| c["name"] == "RasPi" && c["online"] == true),
        "{computers:?}"
    );
    assert!(
        !computers.iter().any(|c| c["name"] == "ghost"),
        "{computers:?}"
    );
}

async fn seqs(m: &Mesh) -> Vec<u64> {
    m.records("RasPi/api")
        .await
        .iter()
        .filter_map(|r| r["seq"].as_u64())
        .collect()
}

async fn dead_letters(m: &Mesh) -> u64 {
    let out = m.cli.run(&["status", "RasPi", "--json"]).await;
    serde_json::from_str::<serde_json::Value>(out.ok()).unwrap()["dead_letters"]
        .as_u64()
        .unwrap()
}
