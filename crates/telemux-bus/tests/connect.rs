//! Connecting and reconnecting against a real redis-server: unix sockets,
//! fast failure at startup, and recovery when Redis restarts under a Bus.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, info, name, Redis};
use telemux_bus::{Bus, BusError, CommandReader, Cursor, OutputReader, Requester};
use telemux_proto::{
    Envelope, Op, OutputEvent, OutputRecord, Reply, ReplyBody, Request, SessionName,
};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn unix_socket_urls_work() {
    let redis = Redis::start().await;
    let path = redis.socket();
    for url in [
        format!("redis+unix://{}", path.display()),
        format!("unix://{}", path.display()),
    ] {
        let bus = Bus::connect(&url).await.unwrap();
        assert!(bus.ping().await.unwrap() < Duration::from_secs(1));
        bus.heartbeat(&info("RasPi", 1000)).await.unwrap();
        assert_eq!(bus.computers().await.unwrap().len(), 1);
        bus.quit().await.unwrap();
    }
}

#[tokio::test]
async fn server_time_is_close_to_ours() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let t = bus.server_time_ms().await.unwrap();
    assert!(t.abs_diff(telemux_proto::now_ms()) < 5_000);
}

#[tokio::test]
async fn unreachable_fails_fast_without_leaking_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://user:hunter2@127.0.0.1:{port}/0");
    let t = Instant::now();
    let err = Bus::connect(&url).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    match &err {
        BusError::Unreachable { url, .. } => {
            assert_eq!(url, &format!("redis://user:***@127.0.0.1:{port}/0"))
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("cannot reach Redis"), "{text}");

    // A host that never answers (blackholed) also fails within the budget.
    let t = Instant::now();
    let err = Bus::connect("redis://10.255.255.1:6379").await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert!(matches!(err, BusError::Unreachable { .. }));

    // Nonsense URLs are refused before anything is sent, with the reason
    // (issue 12 row 9: a config error naming the accepted forms).
    let err = Bus::connect("http://x").await.unwrap_err();
    assert!(matches!(err, BusError::BadUrl { .. }), "{err:?}");
}

#[tokio::test]
async fn redis_restart_under_a_running_bus() {
    let mut redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let cancel = CancellationToken::new();
    let me = name("RasPi");
    let sess = SessionName::new("api").unwrap();

    // A node loop and a requester, both alive across the restart.
    let node = {
        let (bus, me, cancel) = (bus.clone(), me.clone(), cancel.clone());
        tokio::spawn(async move {
            let mut reader = CommandReader::new(&bus, &me);
            while let Some(inc) = reader.next(&cancel).await.unwrap() {
                let env = inc.envelope.unwrap();
                let req: Request = env.open().unwrap();
                let reply = Reply {
                    request_id: env.id,
                    result: ReplyBody::Ok,
                };
                let reply = Envelope::seal(me.as_str(), &reply).unwrap();
                // Errors here are fine while Redis is away; the requester retries.
                let _ = bus.reply(&req.reply_to, &reply).await;
                let _ = reader.ack(&inc.entry_id).await;
            }
        })
    };
    let req = Requester::start(bus.clone(), "cli@test".into(), cancel.clone());
    bus.heartbeat(&info("RasPi", 10_000)).await.unwrap();
    assert_eq!(
        req.request(&me, Op::ListSessions, Duration::from_secs(5))
            .await
            .unwrap(),
        ReplyBody::Ok
    );
    let rec = |seq| {
        Envelope::seal(
            "RasPi",
            &OutputRecord {
                seq,
                ts_ms: 0,
                event: OutputEvent::Lines {
                    lines: vec![],
                    partial: String::new(),
                    raw: vec![],
                },
            },
        )
        .unwrap()
    };
    bus.append_output(&me, &sess, &rec(1), 100).await.unwrap();
    let mut out = OutputReader::new(&bus, &me, &sess, Cursor::Start)
        .await
        .unwrap();
    assert_eq!(out.next_batch(None, 10).await.unwrap().entries.len(), 1);

    redis.stop().await;
    // While Redis is away, operations fail with a clear error instead of hanging.
    let t = Instant::now();
    let err = bus.ping().await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert!(err.to_string().contains("Redis"), "{err}");
    // A requester born during the outage: its listener's connection has to
    // keep trying past a failed first attempt.
    let late = Requester::start(bus.clone(), "cli@late".into(), cancel.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.start_again().await;

    // Everything works again after it comes back (data is gone: no persistence).
    assert!(
        eventually(Duration::from_secs(15), || async {
            bus.heartbeat(&info("RasPi", 10_000)).await.is_ok()
        })
        .await
    );
    assert!(bus.ping().await.is_ok());
    let mut answered = false;
    for _ in 0..20 {
        if let Ok(ReplyBody::Ok) = req
            .request(&me, Op::ListSessions, Duration::from_secs(2))
            .await
        {
            answered = true;
            break;
        }
    }
    assert!(answered, "request/reply recovers after the restart");
    let late_answer = late
        .request(&me, Op::ListSessions, Duration::from_secs(10))
        .await;
    assert!(
        matches!(late_answer, Ok(ReplyBody::Ok)),
        "a requester started while Redis was down answers once it is back: {late_answer:?}"
    );
    bus.append_output(&me, &sess, &rec(2), 100).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..20 {
        if let Ok(b) = out.next_batch(Some(Duration::from_millis(500)), 10).await {
            got.extend(b.entries.into_iter().map(|(_, r)| r.unwrap().seq));
            if !got.is_empty() {
                break;
            }
        }
    }
    assert_eq!(got, [2], "the output reader follows the new stream");

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), node)
        .await
        .unwrap()
        .unwrap();
}
