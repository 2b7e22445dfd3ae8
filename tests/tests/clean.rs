//! `telemux clean [--dry-run] [COMPUTER]` and MCP `clean_sessions` (issue
//! 16): an exited session and the output stream of a killed one are listed
//! by `--dry-run` and left alone, then removed by `clean`; a running
//! session and its stream stay.

use std::time::Duration;

use serde_json::{json, Value};
use telemux_tests::{wait_until, Mesh};

const LONG: Duration = Duration::from_secs(30);

fn exists(m: &Mesh, key: &str) -> bool {
    m.redis.cli(&["EXISTS", key]).trim() == "1"
}

async fn names(m: &Mesh) -> Vec<String> {
    m.sessions(Some("RasPi"))
        .await
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_dry_run_changes_nothing_then_clean_removes() {
    let m = Mesh::start(&["RasPi", "MozBook"]).await;
    m.cli.run(&["new", "RasPi/live"]).await.ok();
    m.cli.run(&["send", "RasPi/live", "echo hi"]).await.ok();
    m.cli
        .run(&["new", "RasPi/done", "--", "sh", "-c", "echo bye; exit 4"])
        .await
        .ok();
    m.cli.run(&["new", "RasPi/gone"]).await.ok();
    m.cli.run(&["send", "RasPi/gone", "echo left"]).await.ok();
    wait_until("gone's output", LONG, || async {
        m.text("RasPi/gone").await.contains("left").then_some(())
    })
    .await;
    m.cli.run(&["kill", "RasPi/gone"]).await.ok();
    wait_until("done to exit and gone to go", LONG, || async {
        let v = m.sessions(Some("RasPi")).await;
        let done = v
            .iter()
            .any(|s| s["name"] == "done" && s["state"] == "exited");
        let gone = v.iter().all(|s| s["name"] != "gone");
        (done && gone).then_some(())
    })
    .await;
    assert!(
        exists(&m, "telemux:out:raspi:gone"),
        "the killed session's stream is kept for a while"
    );
    assert!(exists(&m, "telemux:out:raspi:live"));

    let out = m.cli.run(&["clean", "--dry-run", "--json"]).await;
    let v: Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(
        v,
        json!([
            {"computer": "MozBook", "sessions": [], "streams": [], "dry_run": true},
            {"computer": "RasPi", "sessions": ["done"], "streams": ["gone"], "dry_run": true},
        ]),
        "{v}"
    );
    let text = m.cli.run(&["clean", "RasPi", "--dry-run"]).await;
    assert!(
        text.ok().contains("would remove exited session RasPi/done"),
        "{text:?}"
    );
    // Nothing changed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(names(&m).await, ["done", "live"]);
    assert!(exists(&m, "telemux:out:raspi:gone"));

    let text = m.cli.run(&["clean", "raspi"]).await;
    let text = text.ok();
    assert!(text.contains("removed exited session RasPi/done"), "{text}");
    assert!(
        text.contains("removed the output stream of RasPi/gone"),
        "{text}"
    );
    assert!(!exists(&m, "telemux:out:raspi:gone"));
    wait_until("done to be removed", LONG, || async {
        (names(&m).await == ["live"]).then_some(())
    })
    .await;
    assert!(
        exists(&m, "telemux:out:raspi:live"),
        "a running session's stream stays"
    );
    let out = m.cli.run(&["clean", "NoSuch"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
}
