//! Registry against a real redis-server: heartbeats, TTL expiry, graceful stop.

mod common;

use std::time::Duration;

use common::{eventually, info, name, Redis};
use telemux_bus::Bus;

#[tokio::test]
async fn heartbeat_marks_online_and_ttl_expires() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();

    assert!(bus.computers().await.unwrap().is_empty());
    assert!(bus.computer(&name("RasPi")).await.unwrap().is_none());

    bus.heartbeat(&info("RasPi", 200)).await.unwrap();
    bus.heartbeat(&info("mozBook", 200)).await.unwrap();
    let all = bus.computers().await.unwrap();
    let names: Vec<_> = all.iter().map(|c| c.info.name.as_str()).collect();
    assert_eq!(names, ["mozBook", "RasPi"], "sorted case-insensitively");
    assert!(all.iter().all(|c| c.online));

    // Lookup is case-insensitive.
    let st = bus.computer(&name("raspi")).await.unwrap().unwrap();
    assert!(st.online);
    assert_eq!(st.info.name, "RasPi");

    // TTL is 3 heartbeats = 600 ms: without heartbeats it goes offline, but stays known.
    let ttl: i64 = redis
        .cli(&["PTTL", "telemux:alive:raspi"])
        .await
        .parse()
        .unwrap();
    assert!((1..=600).contains(&ttl), "ttl {ttl}");
    assert!(
        eventually(Duration::from_secs(3), || async {
            !bus.computer(&name("RasPi")).await.unwrap().unwrap().online
        })
        .await
    );
    let st = bus.computer(&name("RasPi")).await.unwrap().unwrap();
    assert!(!st.online);
    assert!(!st.info.stopped);
}

#[tokio::test]
async fn deregister_is_immediate_and_recorded() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let me = info("MozBook", 10_000);
    bus.heartbeat(&me).await.unwrap();
    assert!(
        bus.computer(&name("MozBook"))
            .await
            .unwrap()
            .unwrap()
            .online
    );
    bus.deregister(&me).await.unwrap();
    let st = bus.computer(&name("MozBook")).await.unwrap().unwrap();
    assert!(!st.online);
    assert!(st.info.stopped);
    // A later heartbeat (node restarted) brings it back.
    bus.heartbeat(&me).await.unwrap();
    assert!(
        bus.computer(&name("MozBook"))
            .await
            .unwrap()
            .unwrap()
            .online
    );
}

#[tokio::test]
async fn garbage_registry_records_are_skipped() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    redis
        .cli(&["HSET", "telemux:computers", "junk", "not msgpack"])
        .await;
    bus.heartbeat(&info("RasPi", 10_000)).await.unwrap();
    let all = bus.computers().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].info.name, "RasPi");
}

#[tokio::test]
async fn exit_bookkeeping_round_trips() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let (c, s) = (
        name("RasPi"),
        telemux_proto::SessionName::new("api").unwrap(),
    );
    assert_eq!(bus.exits_seen(&c, &s).await.unwrap(), 0);
    bus.set_exits_seen(&c, &s, 7).await.unwrap();
    assert_eq!(bus.exits_seen(&c, &s).await.unwrap(), 7);
    bus.forget_exits_seen(&c, &s).await.unwrap();
    assert_eq!(bus.exits_seen(&c, &s).await.unwrap(), 0);
}
