//! Bounded Redis state against a real redis-server: trimming a stream by id
//! (the node's byte bound), retiring an ended session (expiry of its stream,
//! its exit bookkeeping gone), keeping a re-created one, and the sweep of the
//! Telegram state of sessions whose stream is gone.

mod common;

use std::time::Duration;

use common::{name, Redis};
use telemux_bus::{Bus, Cursor, OutputReader};
use telemux_proto::{Envelope, OutputEvent, OutputRecord, SessionName};

fn record(seq: u64) -> Envelope {
    Envelope::seal(
        "RasPi",
        &OutputRecord {
            seq,
            ts_ms: telemux_proto::now_ms(),
            event: OutputEvent::Lines {
                lines: vec![format!("line {seq}")],
                partial: String::new(),
                raw: vec![],
            },
        },
    )
    .unwrap()
}

#[tokio::test]
async fn trim_before_drops_older_entries_and_readers_see_a_gap() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let (c, s) = (name("RasPi"), SessionName::new("api").unwrap());
    let entries: Vec<(String, Envelope)> =
        (1..=10).map(|i| (format!("{i}-0"), record(i))).collect();
    assert_eq!(bus.append_outputs(&c, &s, &entries, 1000).await.0, 10);
    let mut reader = OutputReader::new(&bus, &c, &s, Cursor::After("1-0".into()))
        .await
        .unwrap();
    assert_eq!(bus.trim_output_before(&c, &s, "7-0").await.unwrap(), 6);
    assert_eq!(redis.cli(&["XLEN", "telemux:out:raspi:api"]).await, "4");
    let batch = reader.next_batch(None, 100).await.unwrap();
    assert!(batch.gap.is_some(), "trimmed entries show as a gap");
    let first = batch.entries.first().unwrap().1.as_ref().unwrap().seq;
    assert_eq!(first, 7);
    assert!(bus.output_bytes(&c, &s).await.unwrap().unwrap() > 0);
    let gone = SessionName::new("nothing").unwrap();
    assert_eq!(bus.output_bytes(&c, &gone).await.unwrap(), None);
}

#[tokio::test]
async fn retire_expires_the_stream_and_forgets_exits_keep_undoes_it() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let (c, s) = (name("RasPi"), SessionName::new("api").unwrap());
    bus.append_output(&c, &s, &record(0), 100).await.unwrap();
    bus.set_exits_seen(&c, &s, 3).await.unwrap();

    bus.retire_session(&c, &s, Duration::from_secs(3600))
        .await
        .unwrap();
    let ttl: i64 = redis
        .cli(&["TTL", "telemux:out:raspi:api"])
        .await
        .parse()
        .unwrap();
    assert!((3500..=3600).contains(&ttl), "ttl {ttl}");
    assert_eq!(
        redis.cli(&["HEXISTS", "telemux:exits:raspi", "api"]).await,
        "0"
    );

    bus.keep_output(&c, &s).await.unwrap();
    assert_eq!(redis.cli(&["TTL", "telemux:out:raspi:api"]).await, "-1");

    bus.retire_session(&c, &s, Duration::from_millis(200))
        .await
        .unwrap();
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            redis.cli(&["EXISTS", "telemux:out:raspi:api"]).await == "0"
        })
        .await
    );
}

#[tokio::test]
async fn sweep_forgets_telegram_state_of_sessions_whose_stream_is_gone() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let c = name("RasPi");
    let kept = SessionName::new("kept").unwrap();
    bus.append_output(&c, &kept, &record(0), 100).await.unwrap();
    bus.tg_put_topic("raspi/kept", "RasPi/kept", 11)
        .await
        .unwrap();
    bus.tg_put_topic("raspi/gone", "RasPi/gone", 12)
        .await
        .unwrap();
    bus.tg_put_live("raspi/gone", "{}").await.unwrap();
    bus.tg_put_topic("raspi/idle", "RasPi/idle", 13)
        .await
        .unwrap();
    bus.tg_put_live("raspi/orphan", "{}").await.unwrap();

    // `idle` runs but printed nothing yet: no stream, but alive.
    let n = bus.tg_sweep(|k| k == "raspi/idle").await.unwrap();
    assert_eq!(n, 2, "gone and orphan are forgotten");
    assert_eq!(bus.tg_topic("raspi/kept").await.unwrap(), Some(11));
    assert_eq!(bus.tg_topic("raspi/idle").await.unwrap(), Some(13));
    assert_eq!(bus.tg_topic("raspi/gone").await.unwrap(), None);
    assert_eq!(bus.tg_thread_session(12).await.unwrap(), None);
    assert_eq!(
        bus.tg_thread_session(11).await.unwrap().as_deref(),
        Some("RasPi/kept")
    );
    assert_eq!(bus.tg_live("raspi/gone").await.unwrap(), None);
    assert_eq!(bus.tg_live("raspi/orphan").await.unwrap(), None);
}
