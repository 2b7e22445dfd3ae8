//! Request/reply against a real redis-server, with a tiny node loop built on
//! `CommandReader` answering on the requester's reply stream.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, info, name, Redis};
use telemux_bus::{Bus, CommandReader, RequestError, Requester};
use telemux_proto::{Envelope, ErrorCode, Op, Reply, ReplyBody, Request};
use tokio_util::sync::CancellationToken;

/// Answers ListSessions with Ok, anything else with an Error, until cancelled.
fn fake_node(bus: Bus, computer: &str, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
    let me = name(computer);
    tokio::spawn(async move {
        let mut reader = CommandReader::new(&bus, &me);
        while let Some(inc) = reader.next(&cancel).await.unwrap() {
            let env = match inc.envelope {
                Ok(env) => env,
                Err(e) => {
                    let stream = reader.stream().to_string();
                    reader
                        .dead_letter(&stream, &inc.entry_id, &e.to_string(), inc.raw.as_deref())
                        .await
                        .unwrap();
                    continue;
                }
            };
            let req: Request = env.open().unwrap();
            assert!(reader.try_take(&env.id).await.unwrap());
            let result = match req.op {
                Op::ListSessions => ReplyBody::Sessions(vec![]),
                _ => ReplyBody::Error {
                    code: ErrorCode::BadInput,
                    message: "nope".into(),
                },
            };
            let reply = Envelope::seal(
                me.as_str(),
                &Reply {
                    request_id: env.id,
                    result,
                },
            )
            .unwrap();
            bus.reply(&req.reply_to, &reply).await.unwrap();
            reader.ack(&inc.entry_id).await.unwrap();
        }
    })
}

#[tokio::test]
async fn round_trip_and_node_errors() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let cancel = CancellationToken::new();
    bus.heartbeat(&info("RasPi", 10_000)).await.unwrap();
    let node = fake_node(bus.clone(), "RasPi", cancel.clone());
    let req = Requester::start(bus.clone(), "cli@test".into(), cancel.clone());
    assert_eq!(req.from(), "cli@test");

    let t = Instant::now();
    let body = req
        .request(&name("raspi"), Op::ListSessions, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(body, ReplyBody::Sessions(vec![]));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    // Concurrent requests are matched to their own replies.
    let raspi = name("RasPi");
    let (a, b) = tokio::join!(
        req.request(&raspi, Op::ListSessions, Duration::from_secs(5)),
        req.request(
            &raspi,
            Op::Kill {
                session: "x".into()
            },
            Duration::from_secs(5)
        ),
    );
    assert_eq!(a.unwrap(), ReplyBody::Sessions(vec![]));
    assert!(matches!(
        b.unwrap(),
        ReplyBody::Error {
            code: ErrorCode::BadInput,
            ..
        }
    ));

    // Nothing is left behind: every processed command is acknowledged. The node
    // replies before it acknowledges, so the last ack may land just after the reply.
    let acked = eventually(Duration::from_secs(5), || async {
        redis
            .cli(&["XPENDING", "telemux:cmd:raspi", "node"])
            .await
            .starts_with('0')
    })
    .await;
    let pending = redis.cli(&["XPENDING", "telemux:cmd:raspi", "node"]).await;
    assert!(acked, "commands left unacknowledged: {pending}");
    let ttl: i64 = redis
        .cli(&["PTTL", req.reply_stream()])
        .await
        .parse()
        .unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "reply stream expires: {ttl}");

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), node)
        .await
        .expect("node loop stops promptly on cancel")
        .unwrap();
}

#[tokio::test]
async fn offline_unknown_and_timeout() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let cancel = CancellationToken::new();
    let req = Requester::start(bus.clone(), "cli@test".into(), cancel.clone());

    // Known but stopped: immediate Offline with a last-seen time.
    let mut raspi = info("RasPi", 10_000);
    raspi.last_seen_ms -= 42_000;
    bus.heartbeat(&raspi).await.unwrap();
    bus.deregister(&raspi).await.unwrap();
    bus.heartbeat(&info("MozBook", 10_000)).await.unwrap();
    let t = Instant::now();
    let err = req
        .request(&name("RasPi"), Op::ListSessions, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(matches!(
        err,
        RequestError::Offline {
            last_seen_ms: Some(_),
            ..
        }
    ));
    assert_eq!(err.to_string(), "RasPi is offline (last seen 42 s ago)");

    // Never seen: suggestions.
    let err = req
        .request(
            &name("mousebook"),
            Op::ListSessions,
            Duration::from_secs(30),
        )
        .await
        .unwrap_err();
    match &err {
        RequestError::UnknownComputer { name, suggestions } => {
            assert_eq!(name, "mousebook");
            assert_eq!(suggestions.first().map(String::as_str), Some("MozBook"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "no computer 'mousebook'; did you mean MozBook?"
    );

    // Online but nobody reads its commands: Timeout after the deadline, nothing leaks.
    let t = Instant::now();
    let err = req
        .request(
            &name("MozBook"),
            Op::ListSessions,
            Duration::from_millis(400),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RequestError::Timeout { .. }), "{err:?}");
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(
        err.to_string()
            .starts_with("MozBook did not answer within 400 ms"),
        "{err}"
    );

    // The timed-out command is still in the stream, with its deadline for the node to check.
    let out = redis.cli(&["XLEN", "telemux:cmd:mozbook"]).await;
    assert_eq!(out, "1");
    cancel.cancel();
}

#[tokio::test]
async fn late_node_executes_commands_sent_while_it_was_down() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let cancel = CancellationToken::new();
    let req = Requester::start(bus.clone(), "cli@test".into(), cancel.clone());
    bus.heartbeat(&info("RasPi", 10_000)).await.unwrap();
    // The request is sent before any node created the consumer group.
    let pending = {
        let req = req.clone();
        tokio::spawn(async move {
            req.request(&name("RasPi"), Op::ListSessions, Duration::from_secs(10))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let node = fake_node(bus.clone(), "RasPi", cancel.clone());
    assert_eq!(pending.await.unwrap().unwrap(), ReplyBody::Sessions(vec![]));
    cancel.cancel();
    node.await.unwrap();
}

#[tokio::test]
async fn reply_refuses_foreign_streams() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let env = Envelope::seal(
        "x",
        &Reply {
            request_id: uuid::Uuid::now_v7(),
            result: ReplyBody::Ok,
        },
    )
    .unwrap();
    assert!(bus.reply("telemux:computers", &env).await.is_err());
    assert!(bus.reply("telemux:reply:../x", &env).await.is_err());
    assert_eq!(redis.cli(&["TYPE", "telemux:computers"]).await, "none");
}
