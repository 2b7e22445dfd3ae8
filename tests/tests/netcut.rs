//! Faults 4 (issue 6): a network cut between ONE node and Redis — the link
//! stalls without closing (StallProxy), the worst kind because no socket
//! error says so. The other computers must see the node go offline within
//! three heartbeats, the node must notice by itself, an exit code produced
//! during the cut must not be lost, and everything must recover when the
//! link returns, without restarting anything.

use std::time::Duration;

use serde_json::Value;
use telemux_tests::{
    mesh::exit_codes, wait_until, Cli, NodeOptions, NodeProcess, RedisServer, StallProxy,
    TmuxServer,
};

async fn online(cli: &Cli, name: &str) -> Option<bool> {
    let out = cli.run(&["computers", "--json"]).await;
    let list: Value = serde_json::from_str(&out.stdout).ok()?;
    list.as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["online"].as_bool())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_link_marks_the_node_offline_and_it_recovers() {
    let redis = RedisServer::start();
    let proxy = StallProxy::start(([127, 0, 0, 1], redis.port()).into());
    let (t_cut, t_ok) = (TmuxServer::new(), TmuxServer::new());
    let mut opts = NodeOptions::new("RasPi", &t_cut, &redis);
    opts.redis_url = proxy.url();
    let heartbeat = Duration::from_millis(opts.heartbeat_ms);
    let cut = NodeProcess::start_with(opts);
    let _ok = NodeProcess::start("MozBook", &t_ok, &redis);
    let cli = Cli::new(redis.url());
    for name in ["RasPi", "MozBook"] {
        wait_until(
            &format!("{name} online"),
            Duration::from_secs(20),
            || async { online(&cli, name).await == Some(true) },
        )
        .await;
    }
    cli.run(&["new", "RasPi/api"]).await.ok();
    cli.run(&["send", "RasPi/api", "true"]).await.ok();
    wait_until("first exit code", Duration::from_secs(20), || async {
        exit_codes(&cli, "RasPi/api").await == vec![0]
    })
    .await;

    proxy.pause();
    let cut_at = std::time::Instant::now();
    wait_until("RasPi shown offline", Duration::from_secs(20), || async {
        online(&cli, "RasPi").await == Some(false)
    })
    .await;
    let noticed = cut_at.elapsed();
    // Three heartbeats plus the registry's own rounding and a loaded machine.
    assert!(
        noticed <= heartbeat * 3 + Duration::from_secs(3),
        "offline only after {noticed:?} (heartbeat {heartbeat:?})"
    );
    assert_eq!(
        online(&cli, "MozBook").await,
        Some(true),
        "the cut concerns RasPi only"
    );

    // A command finishes on RasPi while its link is cut.
    t_cut
        .run(&["send-keys", "-t", "=api:", "-l", "(exit 6)"])
        .unwrap();
    t_cut.run(&["send-keys", "-t", "=api:", "Enter"]).unwrap();
    wait_until(
        "the node notices the stalled link",
        Duration::from_secs(30),
        || async { cut.log().contains("heartbeat failed") },
    )
    .await;
    assert_eq!(
        exit_codes(&cli, "RasPi/api").await,
        vec![0],
        "nothing can arrive through a cut link"
    );

    proxy.resume();
    wait_until("RasPi back online", Duration::from_secs(40), || async {
        online(&cli, "RasPi").await == Some(true)
    })
    .await;
    wait_until(
        "the exit code from the cut arrives",
        Duration::from_secs(40),
        || async { exit_codes(&cli, "RasPi/api").await == vec![0, 6] },
    )
    .await;
    // And it serves requests again.
    cli.run(&["send", "RasPi/api", "(exit 7)"]).await.ok();
    wait_until(
        "a new command after recovery",
        Duration::from_secs(20),
        || async { exit_codes(&cli, "RasPi/api").await == vec![0, 6, 7] },
    )
    .await;
}
