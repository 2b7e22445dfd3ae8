//! Command streams against a real redis-server: garbage is dead-lettered and
//! never stalls the stream; unacknowledged entries come back after a restart.

mod common;

use std::time::Duration;

use common::{name, Redis};
use telemux_bus::{Bus, CommandReader};
use telemux_proto::{DeadLetter, Envelope, Op, ProtoError, Request};
use tokio_util::sync::CancellationToken;

fn request(op: Op) -> Envelope {
    Envelope::seal(
        "cli@test",
        &Request {
            to: None,
            reply_to: String::new(),
            deadline_ms: telemux_proto::now_ms() + 60_000,
            op,
        },
    )
    .unwrap()
}

async fn next(reader: &mut CommandReader) -> telemux_bus::Incoming {
    let cancel = CancellationToken::new();
    tokio::time::timeout(Duration::from_secs(5), reader.next(&cancel))
        .await
        .expect("an entry within 5 s")
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn garbage_is_dead_lettered_and_the_next_command_served() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let me = name("X");
    let mut reader = CommandReader::new(&bus, &me);

    redis
        .cli(&["XADD", "telemux:cmd:x", "*", "e", "garbage"])
        .await;
    redis
        .cli(&["XADD", "telemux:cmd:x", "*", "zz", "top"])
        .await;
    let good = request(Op::ListSessions);
    let good_id = bus.send_request(&me, &good).await.unwrap();

    for expect in ["garbage", "zz=top\n"] {
        let inc = next(&mut reader).await;
        assert!(
            matches!(inc.envelope, Err(ProtoError::Malformed(_))),
            "{inc:?}"
        );
        assert_eq!(inc.raw.as_deref(), Some(expect.as_bytes()));
        let reason = inc.envelope.unwrap_err().to_string();
        reader
            .dead_letter(reader.stream(), &inc.entry_id, &reason, inc.raw.as_deref())
            .await
            .unwrap();
    }
    let inc = next(&mut reader).await;
    assert_eq!(inc.entry_id, good_id);
    assert_eq!(inc.envelope.unwrap(), good);
    assert!(inc.raw.is_none());
    reader.ack(&inc.entry_id).await.unwrap();

    // Two dead letters, decodable, naming the stream; and nothing left pending.
    let letters = bus.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 2);
    let newest: &DeadLetter = letters[0].letter.as_ref().unwrap();
    assert_eq!(newest.stream, "telemux:cmd:x");
    assert!(newest.reason.contains("no 'e' field"), "{}", newest.reason);
    assert_eq!(letters[0].raw.as_deref(), Some(&b"zz=top\n"[..]));
    let oldest = letters[1].letter.as_ref().unwrap();
    assert!(
        oldest.reason.contains("not a telemux envelope"),
        "{}",
        oldest.reason
    );
    assert_eq!(letters[1].raw.as_deref(), Some(&b"garbage"[..]));
    let pending = redis.cli(&["XPENDING", "telemux:cmd:x", "node"]).await;
    assert!(pending.starts_with('0'), "{pending}");
}

#[tokio::test]
async fn unacked_entries_are_redelivered_to_a_new_reader() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let me = name("RasPi");
    let a = request(Op::ListSessions);
    let b = request(Op::Kill {
        session: "s".into(),
    });
    bus.send_request(&me, &a).await.unwrap();
    bus.send_request(&me, &b).await.unwrap();

    {
        // First node takes both, acks only the first, then dies.
        let mut reader = CommandReader::new(&bus, &me);
        let first = next(&mut reader).await;
        assert_eq!(first.envelope.as_ref().unwrap().id, a.id);
        reader.ack(&first.entry_id).await.unwrap();
        let second = next(&mut reader).await;
        assert_eq!(second.envelope.as_ref().unwrap().id, b.id);
        assert!(reader.try_take(&b.id).await.unwrap());
    }

    // The restarted node gets the unacknowledged one again, then new ones.
    let mut reader = CommandReader::new(&bus, &me);
    let again = next(&mut reader).await;
    assert_eq!(again.envelope.as_ref().unwrap().id, b.id);
    // ...and knows it was already taken, so it is not executed twice.
    assert!(!reader.try_take(&b.id).await.unwrap());
    reader.ack(&again.entry_id).await.unwrap();
    let c = request(Op::ListSessions);
    bus.send_request(&me, &c).await.unwrap();
    assert_eq!(next(&mut reader).await.envelope.unwrap().id, c.id);
}

#[tokio::test]
async fn a_dropped_read_does_not_lose_commands() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let me = name("RasPi");
    let mut reader = CommandReader::new(&bus, &me);
    let cancel = CancellationToken::new();
    // Get past the startup replay, then drop a read while it is blocked in Redis.
    let r = tokio::time::timeout(Duration::from_millis(300), reader.next(&cancel)).await;
    assert!(r.is_err());
    // The orphaned XREADGROUP is still blocked server-side and takes this entry.
    let a = request(Op::ListSessions);
    let sent = bus.send_request(&me, &a).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pending = redis.cli(&["XPENDING", "telemux:cmd:raspi", "node"]).await;
    assert!(
        pending.starts_with('1'),
        "delivered to the dropped read: {pending}"
    );
    // The next call replays the pending list and yields it anyway.
    let got = tokio::time::timeout(Duration::from_secs(5), reader.next(&cancel)).await;
    let got = match got {
        Ok(Ok(Some(inc))) => inc,
        other => panic!("{other:?}"),
    };
    assert_eq!(got.entry_id, sent);
    assert_eq!(got.envelope.unwrap().id, a.id);
}

#[tokio::test]
async fn cancel_stops_next_promptly() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let mut reader = CommandReader::new(&bus, &name("RasPi"));
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c2.cancel();
    });
    let t = std::time::Instant::now();
    assert!(reader.next(&cancel).await.unwrap().is_none());
    assert!(t.elapsed() < Duration::from_secs(1));
}
