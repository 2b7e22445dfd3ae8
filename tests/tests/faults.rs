//! Faults (issue 6, DESIGN.md §10 scenario 6): Redis restarted under running
//! nodes — they reconnect and re-register by themselves, and an exit code
//! produced while Redis was down is published once it is back.

use std::time::Duration;

use telemux_tests::{wait_until, Mesh};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_loses_no_exit_code() {
    let mut m = Mesh::start(&["MozBook", "RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    m.cli
        .run(&["new", "MozBook/job", "--", "sh -c 'read x; exit 5'"])
        .await
        .ok();
    m.cli.run(&["send", "RasPi/api", "true"]).await.ok();
    wait_until("first exit code", Duration::from_secs(20), || async {
        m.exit_codes("RasPi/api").await == vec![0]
    })
    .await;

    m.redis.stop();
    // While Redis is down: a command finishes in one session, a job exits in another.
    m.tmux[1]
        .run(&["send-keys", "-t", "=api:", "-l", "(exit 4)"])
        .unwrap();
    m.tmux[1]
        .run(&["send-keys", "-t", "=api:", "Enter"])
        .unwrap();
    m.tmux[0]
        .run(&["send-keys", "-t", "=job:", "Enter"])
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = m.cli.run(&["computers"]).await;
    assert_eq!(
        out.code(),
        Some(1),
        "with Redis down the CLI fails clearly: {out:?}"
    );
    assert!(
        out.stderr.contains("127.0.0.1"),
        "the error names the Redis it tried: {out:?}"
    );

    m.redis.start_again();
    m.wait_online("RasPi", true).await;
    m.wait_online("MozBook", true).await;
    // This Redis keeps nothing on disk, so the stream starts afresh: the exit
    // code produced during the outage must be in it.
    wait_until(
        "exit 4 published after the outage",
        Duration::from_secs(30),
        || async { m.exit_codes("RasPi/api").await.contains(&4) },
    )
    .await;
    let job = wait_until(
        "job exit published after the outage",
        Duration::from_secs(30),
        || async {
            m.records("MozBook/job")
                .await
                .into_iter()
                .find(|r| r["type"] == "session_exited")
        },
    )
    .await;
    assert_eq!(job["exit_status"], 5);
    // And the mesh works again end to end.
    m.cli.run(&["send", "RasPi/api", "(exit 6)"]).await.ok();
    wait_until(
        "new commands work after the outage",
        Duration::from_secs(20),
        || async { m.exit_codes("RasPi/api").await.contains(&6) },
    )
    .await;
}
