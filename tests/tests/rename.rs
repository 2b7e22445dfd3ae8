//! `telemux rename` end to end: real redis-server, real nodes and tmux. A
//! reader following the old name with a cursor continues under the new one
//! (no gap, consecutive records); `tail --cursor` from before the rename
//! reads on; a message queued for the old name is delivered to the renamed
//! session; exit codes keep coming; the rename is an event; names in use,
//! bad names and other computers are refused with what to do; renaming back
//! works. With the Telegram gateway (fake Bot API), the topic is retitled and
//! keeps serving the session, `/rename` works from the topic, and `/queue`
//! posts the queued command's answer there.

use std::time::Duration;

use serde_json::Value;
use telemux_bus::{Bus, Cursor, OutputReader};
use telemux_proto::{ComputerName, OutputEvent, SessionName};
use telemux_tests::mesh::Mesh;
use telemux_tests::telegram::{FakeTelegram, GatewayProcess};
use telemux_tests::wait_until;

const LONG: Duration = Duration::from_secs(45);

/// The text of every `lines` record a reader returns until `want` shows up,
/// with each record's seq and whether a gap or a rename record was seen.
struct Read {
    lines: Vec<String>,
    seqs: Vec<u64>,
    gap: bool,
    renamed: Option<(String, String)>,
}

async fn read_until(r: &mut OutputReader, want: &str) -> Read {
    let mut got = Read {
        lines: Vec::new(),
        seqs: Vec::new(),
        gap: false,
        renamed: None,
    };
    let deadline = tokio::time::Instant::now() + LONG;
    while !got.lines.iter().any(|l| l == want) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {want:?} within {LONG:?}; read {:?}",
            got.lines
        );
        let b = r
            .next_batch(Some(Duration::from_secs(2)), 100)
            .await
            .unwrap();
        got.gap |= b.gap.is_some();
        for (_, rec) in b.entries {
            let rec = rec.unwrap();
            got.seqs.push(rec.seq);
            match rec.event {
                OutputEvent::Lines { lines, .. } => got.lines.extend(lines),
                OutputEvent::Renamed { from, to, pointer } => {
                    assert!(!pointer, "the pointer under the old key is never returned");
                    got.renamed = Some((from, to));
                }
                _ => {}
            }
        }
    }
    got
}

fn err_of(out: &telemux_tests::cli::Output) -> String {
    assert!(!out.success(), "expected a refusal: {out:?}");
    out.stderr.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_session_keeps_its_stream_inbox_and_exit_codes() {
    let m = Mesh::start(&["MozBook", "RasPi"]).await;
    m.cli.run(&["new", "MozBook/api"]).await.ok();
    m.cli.run(&["new", "MozBook/other"]).await.ok();
    m.cli
        .run(&["send", "MozBook/api", "echo before-$((1+1))"])
        .await
        .ok();

    let bus = Bus::connect(&m.redis.url()).await.unwrap();
    let c = ComputerName::new("MozBook").unwrap();
    let old = SessionName::new("api").unwrap();
    let mut reader = OutputReader::new(&bus, &c, &old, Cursor::Start)
        .await
        .unwrap();
    let first = read_until(&mut reader, "before-2").await;
    let cursor = reader.cursor();

    // A shell busy with a command: a message for "when ready" waits for it.
    m.cli.run(&["send", "MozBook/api", "sleep 4"]).await.ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    m.cli
        .run(&[
            "send",
            "MozBook/api",
            "echo queued-$((3+3))",
            "--when",
            "ready",
        ])
        .await
        .ok();

    let out = m.cli.run(&["rename", "MozBook/api", "web"]).await;
    assert_eq!(out.ok().trim(), "renamed MozBook/api to MozBook/web");

    // Refusals say what was wrong and what to do; nothing changes.
    let e = err_of(&m.cli.run(&["rename", "MozBook/web", "other"]).await);
    assert!(
        e.contains("a session 'other' exists on MozBook already"),
        "{e}"
    );
    let e = err_of(&m.cli.run(&["rename", "MozBook/web", "no good"]).await);
    assert!(e.contains("cannot rename MozBook/web to 'no good'"), "{e}");
    let e = err_of(&m.cli.run(&["rename", "MozBook/web", "RasPi/web"]).await);
    assert!(e.contains("keeps its computer"), "{e}");
    let e = err_of(&m.cli.run(&["rename", "MozBook/api", "x"]).await);
    assert!(e.contains("web"), "the nearest name is offered: {e}");
    let e = err_of(&m.cli.run(&["rename", "MozBook/web", "web"]).await);
    assert!(e.contains("called that already"), "{e}");

    let names: Vec<String> = m
        .sessions(Some("MozBook"))
        .await
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"web".to_string()), "{names:?}");
    assert!(!names.contains(&"api".to_string()), "{names:?}");

    // The message queued for the old name waits for the prompt, then
    // reaches the session under its new name.
    let inbox = wait_until("the queued message to be delivered", LONG, || async {
        let out = m.cli.run(&["--json", "inbox", "MozBook/web"]).await;
        let v: Value = serde_json::from_str(out.ok()).unwrap();
        (v[0]["status"] == "delivered").then_some(v)
    })
    .await;
    assert_eq!(inbox[0]["session"], "web", "{inbox}");
    m.cli
        .run(&["send", "MozBook/web", "echo after-$((2+1)); (exit 7)"])
        .await
        .ok();
    // The reader that followed the old name continues under the new one.
    let second = read_until(&mut reader, "after-3").await;
    assert_eq!(reader.session().as_str(), "web");
    assert!(!second.gap, "no gap across the rename");
    assert_eq!(second.renamed, Some(("api".to_string(), "web".to_string())));
    let mut seqs = first.seqs.clone();
    seqs.extend(&second.seqs);
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive records: {seqs:?}"
    );
    assert!(
        second.lines.iter().any(|l| l == "queued-6"),
        "the queued message was typed into the renamed session: {:?}",
        second.lines
    );

    // A cursor from before the rename is still valid under the new name.
    let tail = m
        .cli
        .run(&["tail", "MozBook/web", "--cursor", &cursor])
        .await;
    let text = tail.ok();
    assert!(
        text.contains("after-3") && !text.contains("before-2"),
        "{text}"
    );
    wait_until("exit code 7 under the new name", LONG, || async {
        m.exit_codes("MozBook/web").await.contains(&7).then_some(())
    })
    .await;

    let evs = m
        .cli
        .run(&["--json", "events", "--type", "session_renamed"])
        .await;
    let ev: Value = serde_json::from_str(evs.ok().lines().next().unwrap()).unwrap();
    assert_eq!(
        (
            &ev["computer"],
            &ev["session"],
            &ev["renamed_from"],
            &ev["from"]
        ),
        (
            &Value::from("MozBook"),
            &Value::from("web"),
            &Value::from("api"),
            &Value::from("MozBook")
        ),
        "{ev}"
    );

    // Back to the old name: over the pointer the first rename left.
    let back = m.cli.run(&["rename", "MozBook/web", "api"]).await;
    assert_eq!(back.ok().trim(), "renamed MozBook/web to MozBook/api");
    m.cli
        .run(&["send", "MozBook/api", "echo again-$((4+4))"])
        .await
        .ok();
    let third = read_until(&mut reader, "again-8").await;
    assert_eq!(reader.session().as_str(), "api");
    assert!(!third.gap);
    let all = m.text("MozBook/api").await;
    assert!(
        all.contains("before-2") && all.contains("after-3") && all.contains("again-8"),
        "{all}"
    );
}

const TOKEN: &str = "123456:TEST-token";
const OWNER: i64 = 42;
const GROUP: i64 = -100_778;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_session_keeps_its_telegram_topic() {
    let m = Mesh::start(&["RasPi"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    let _gw = GatewayProcess::start(&m.redis.url(), tg.gateway_env(OWNER, GROUP));
    wait_until("the gateway to poll", LONG, || async {
        !tg.calls_of("getUpdates").is_empty()
    })
    .await;
    tg.inject_message(OWNER, GROUP, None, "/new RasPi/work");
    let thread = wait_until("the topic", LONG, || async {
        tg.topics()
            .into_iter()
            .find(|t| t.2 == "RasPi/work")
            .map(|t| t.1)
    })
    .await;
    tg.inject_message(OWNER, GROUP, Some(thread), "echo one-$((0+1))");
    wait_until("one-1 in the topic", LONG, || async {
        tg.messages(GROUP, Some(thread))
            .iter()
            .any(|m| m.text.contains("\none-1"))
            .then_some(())
    })
    .await;

    m.cli.run(&["rename", "RasPi/work", "job"]).await.ok();
    wait_until("the topic retitled", LONG, || async {
        tg.topics()
            .iter()
            .any(|t| t.1 == thread && t.2 == "RasPi/job")
            .then_some(())
    })
    .await;
    // The topic still types into the session, now called job, and shows its output.
    tg.inject_message(OWNER, GROUP, Some(thread), "echo two-$((1+1))");
    wait_until("two-2 in the same topic", LONG, || async {
        tg.messages(GROUP, Some(thread))
            .iter()
            .any(|m| m.text.contains("\ntwo-2"))
            .then_some(())
    })
    .await;
    let screen = m.cli.run(&["read", "RasPi/job"]).await;
    assert!(screen.ok().contains("two-2"), "{screen:?}");

    // /rename from the topic itself; /queue waits for the prompt and posts
    // the answer (a shell's: its exit code) into the topic.
    tg.inject_message(OWNER, GROUP, Some(thread), "/rename job2");
    wait_until("the topic retitled again", LONG, || async {
        tg.topics()
            .iter()
            .any(|t| t.1 == thread && t.2 == "RasPi/job2")
            .then_some(())
    })
    .await;
    tg.inject_message(OWNER, GROUP, Some(thread), "sleep 2");
    tg.inject_message(
        OWNER,
        GROUP,
        Some(thread),
        "/queue echo queued-$((5+5)); (exit 4)",
    );
    wait_until("the queued message's answer in the topic", LONG, || async {
        let msgs = tg.messages(GROUP, Some(thread));
        let queued = msgs
            .iter()
            .any(|m| m.text.contains("Queued for RasPi/job2"));
        let answered = msgs.iter().any(|m| {
            m.text.contains("RasPi/job2 answered your queued message")
                && m.text.contains("exit code 4")
        });
        (queued && answered)
            .then_some(())
            .ok_or_else(|| msgs.iter().map(|m| m.text.clone()).collect::<Vec<_>>())
    })
    .await;
    let screen = m.cli.run(&["read", "RasPi/job2"]).await;
    assert_eq!(
        screen.ok().matches("\nqueued-10").count(),
        1,
        "typed once: {screen:?}"
    );
    assert_eq!(tg.topics().len(), 1, "no second topic: {:?}", tg.topics());
}
