//! The Telegram gateway end to end (issue 5, DESIGN.md §10 scenario 8): real
//! redis-server, real nodes and tmux, the real `telemux gateway`, and the fake
//! Bot API server of `telemux_tests::telegram` standing in for Telegram.

use std::time::{Duration, Instant};

use telemux_tests::mesh::Mesh;
use telemux_tests::telegram::{FakeTelegram, GatewayProcess, StoredMessage, LIMIT};
use telemux_tests::wait_until;

const TOKEN: &str = "123456:TEST-token";
const OWNER: i64 = 42;
const STRANGER: i64 = 666;
const GROUP: i64 = -100_777;

struct World {
    tg: FakeTelegram,
    gw: GatewayProcess,
    mesh: Mesh,
}

async fn world() -> World {
    let mesh = Mesh::start(&["MozBook", "RasPi"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    let gw = GatewayProcess::start(&mesh.redis.url(), tg.gateway_env(OWNER, GROUP));
    wait_until("the gateway to poll", Duration::from_secs(30), || async {
        !tg.calls_of("getUpdates").is_empty()
    })
    .await;
    World { tg, gw, mesh }
}

/// Waits for a message in `chat`/`thread` whose visible text satisfies `f`.
async fn wait_msg(
    tg: &FakeTelegram,
    chat: i64,
    thread: Option<i64>,
    what: &str,
    f: impl Fn(&str) -> bool,
) -> StoredMessage {
    wait_until(what, Duration::from_secs(30), || async {
        let msgs = tg.messages(chat, thread);
        msgs.iter().find(|m| f(&m.text)).cloned().ok_or_else(|| {
            let calls: Vec<String> = tg
                .calls()
                .iter()
                .rev()
                .take(12)
                .map(|c| {
                    format!(
                        "{} {:?} {}",
                        c.method,
                        c.error,
                        c.params.to_string().chars().take(200).collect::<String>()
                    )
                })
                .collect();
            let texts: Vec<String> = msgs
                .iter()
                .map(|m| m.text.chars().take(300).collect::<String>())
                .collect();
            (texts, calls)
        })
    })
    .await
}

/// `/new computer/name` in the group; returns the topic's thread id.
async fn new_session(w: &World, target: &str) -> i64 {
    w.tg.inject_message(OWNER, GROUP, None, &format!("/new {target}"));
    let name = target.to_string();
    let thread = wait_until("the topic", Duration::from_secs(30), || async {
        w.tg.topics()
            .into_iter()
            .find(|t| t.2.eq_ignore_ascii_case(&name))
            .map(|t| t.1)
    })
    .await;
    wait_msg(&w.tg, GROUP, None, "the /new reply", |t| {
        t.contains("Started")
    })
    .await;
    thread
}

fn assert_no_message_over_limit(tg: &FakeTelegram) {
    for c in tg.calls() {
        assert_ne!(
            c.error.as_deref().map(|e| e.contains("400")),
            Some(true),
            "a call was refused with 400: {} {:?}",
            c.method,
            c.params
        );
    }
    for m in tg.messages(GROUP, None) {
        let n: usize = m.text.chars().map(char::len_utf16).sum();
        assert!(n <= LIMIT, "message of {n} UTF-16 units");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unlisted_user_gets_nothing_and_nothing_runs() {
    let w = world().await;
    w.tg.inject_message(STRANGER, STRANGER, None, "/new MozBook/evil");
    w.tg.inject_message(STRANGER, GROUP, None, "/computers");
    w.tg.inject_callback(STRANGER, GROUP, 1, "k:C-c:1001");
    // A message from the owner afterwards shows the stranger's were processed.
    w.tg.inject_message(OWNER, OWNER, None, "/help");
    wait_msg(&w.tg, OWNER, None, "the /help reply", |t| {
        t.contains("/computers")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(w.tg.messages(STRANGER, None).is_empty());
    assert!(
        w.tg.messages(GROUP, None).is_empty(),
        "nothing posted in the group"
    );
    assert!(w.tg.calls_of("answerCallbackQuery").is_empty());
    assert!(w.tg.topics().is_empty());
    let sessions = w.mesh.sessions(None).await;
    assert!(sessions.iter().all(|s| s["name"] != "evil"), "{sessions:?}");
    assert!(
        w.gw.log().contains("666"),
        "refusal logged with the user id"
    );
    assert!(!w.tg.calls_of("setMyCommands").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn computers_lists_both_nodes() {
    let w = world().await;
    w.tg.inject_message(OWNER, OWNER, None, "/computers");
    let m = wait_msg(&w.tg, OWNER, None, "the /computers reply", |t| {
        t.contains("MozBook") && t.contains("RasPi")
    })
    .await;
    assert_eq!(m.text.matches("online").count(), 2, "{}", m.text);
    // Names resolve like the CLI: unknown names get suggestions.
    w.tg.inject_message(OWNER, OWNER, None, "/sessions mozbok");
    wait_msg(&w.tg, OWNER, None, "the suggestion", |t| {
        t.contains("did you mean MozBook")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn text_in_a_topic_reaches_the_session_and_output_arrives_as_edits() {
    let w = world().await;
    let thread = new_session(&w, "RasPi/work").await;
    assert!(w
        .mesh
        .sessions(Some("RasPi"))
        .await
        .iter()
        .any(|s| s["name"] == "work"));
    w.tg.inject_message(
        OWNER,
        GROUP,
        Some(thread),
        "echo 'a<b>&c' 😀; printf '\\033[31mred\\033[0m\\n'",
    );
    let m = wait_msg(
        &w.tg,
        GROUP,
        Some(thread),
        "the output with exit code",
        |t| t.contains("a<b>&c 😀") && t.contains("\nred") && t.contains("✅ 0"),
    )
    .await;
    // The colour codes are gone from the output line (the typed command shows them literally).
    assert!(
        !m.text.contains('\u{1b}') && m.text.contains("\nred\n"),
        "{}",
        m.text
    );
    assert!(m.has_buttons, "session messages carry the buttons");
    // The typed text reached the session itself.
    let screen = w.mesh.cli.run(&["read", "RasPi/work"]).await;
    assert!(screen.ok().contains("a<b>&c"), "{screen:?}");

    // /cancel interrupts a long command; the footer shows its failure.
    w.tg.inject_message(OWNER, GROUP, Some(thread), "sleep 100");
    wait_msg(&w.tg, GROUP, Some(thread), "sleep to start", |t| {
        t.contains("sleep 100")
    })
    .await;
    w.tg.inject_message(OWNER, GROUP, Some(thread), "/cancel");
    wait_msg(&w.tg, GROUP, Some(thread), "the interrupted footer", |t| {
        t.contains("sleep 100") && t.contains("❌ 130")
    })
    .await;

    // A button press is a key in the session, and is answered.
    let msg = w.tg.messages(GROUP, Some(thread)).last().unwrap().id;
    w.tg.inject_callback(OWNER, GROUP, msg, &format!("k:C-c:{thread}"));
    wait_until("the callback answer", Duration::from_secs(20), || async {
        !w.tg.calls_of("answerCallbackQuery").is_empty()
    })
    .await;

    // /output sends the scrollback as a document.
    w.tg.inject_message(OWNER, GROUP, Some(thread), "/output");
    let doc = wait_until("the document", Duration::from_secs(20), || async {
        w.tg.documents().into_iter().next()
    })
    .await;
    assert_eq!(doc.thread, Some(thread));
    assert!(String::from_utf8_lossy(&doc.bytes).contains("a<b>&c"));
    assert_no_message_over_limit(&w.tg);
}

#[tokio::test(flavor = "multi_thread")]
async fn screenshot_in_a_topic_uploads_a_photo_into_that_topic() {
    let w = world().await;
    let thread = new_session(&w, "RasPi/pic").await;
    w.tg.inject_message(
        OWNER,
        GROUP,
        Some(thread),
        "printf '\\033[41m RED \\033[0m \\033[42m GREEN \\033[0m \\033[1;34mbold blue\\033[0m\\n'",
    );
    wait_msg(&w.tg, GROUP, Some(thread), "the red line", |t| {
        t.contains("\n RED")
    })
    .await;
    w.tg.inject_message(OWNER, GROUP, Some(thread), "/screenshot");
    let photo = wait_until("the photo", Duration::from_secs(30), || async {
        w.tg.documents()
            .into_iter()
            .find(|d| d.method == "sendPhoto")
            .ok_or_else(|| w.tg.messages(GROUP, Some(thread)))
    })
    .await;
    assert_eq!(photo.thread, Some(thread), "into the session's topic");
    assert_eq!(photo.chat, GROUP);
    assert!(photo.name.ends_with(".png"), "{}", photo.name);
    assert!(
        photo.bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "a PNG upload, not {} bytes",
        photo.bytes.len()
    );
    assert!(photo.caption.contains("RasPi/pic"), "{}", photo.caption);
    // `TELEMUX_WRITE_DOC_SHOT=1`: the picture docs/telegram.md shows is this one.
    if std::env::var_os("TELEMUX_WRITE_DOC_SHOT").is_some_and(|v| v == "1") {
        let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/telegram-screenshot.png");
        std::fs::write(&doc, &photo.bytes).expect("writing docs/telegram-screenshot.png");
    }
    let decoder = png::Decoder::new(std::io::Cursor::new(&photo.bytes[..]));
    let info = decoder.read_info().expect("a PNG that decodes");
    let (width, height) = (info.info().width, info.info().height);
    assert!(
        width % telemux_screenshot::CELL_W == 0 && height % telemux_screenshot::CELL_H == 0,
        "{width}x{height}"
    );

    // The 📷 button under the live message does the same.
    let live = w.tg.messages(GROUP, Some(thread));
    let live = live
        .iter()
        .rev()
        .find(|m| m.has_buttons)
        .expect("a live message with buttons");
    w.tg.inject_callback(OWNER, GROUP, live.id, &format!("s:{thread}"));
    wait_until("the button's photo", Duration::from_secs(30), || async {
        let photos: Vec<_> =
            w.tg.documents()
                .into_iter()
                .filter(|d| d.method == "sendPhoto")
                .collect();
        (photos.len() == 2 && photos[1].thread == Some(thread))
            .then_some(())
            .ok_or(photos.len())
    })
    .await;

    // Outside a topic it needs the session, and says so.
    w.tg.inject_message(OWNER, GROUP, None, "/screenshot");
    wait_msg(&w.tg, GROUP, None, "the usage answer", |t| {
        t.contains("/screenshot session")
    })
    .await;
    assert_no_message_over_limit(&w.tg);
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_lines_make_a_bounded_number_of_calls() {
    let w = world().await;
    let thread = new_session(&w, "MozBook/flood").await;
    let before = w.tg.calls().len();
    w.tg.inject_message(OWNER, GROUP, Some(thread), "seq 1 10000");
    let m = wait_msg(&w.tg, GROUP, Some(thread), "the end of the flood", |t| {
        t.contains("\n10000\n") || t.contains("\n10000") && t.contains("✅ 0")
    })
    .await;
    wait_msg(&w.tg, GROUP, Some(thread), "the footer", |t| {
        t.contains("10000") && t.contains("✅ 0")
    })
    .await;
    let calls: Vec<_> = w.tg.calls()[before..]
        .iter()
        .filter(|c| c.method == "sendMessage" || c.method == "editMessageText")
        .cloned()
        .collect();
    assert!(
        calls.len() <= 40,
        "{} message calls for 10 000 lines",
        calls.len()
    );
    let msgs = w.tg.messages(GROUP, Some(thread));
    eprintln!(
        "10 000 lines: {} sendMessage/editMessageText calls, {} messages",
        calls.len(),
        msgs.len()
    );
    assert!(msgs.len() <= 8, "{} messages", msgs.len());
    assert!(m.text.contains("lines not shown") || msgs.len() > 1);
    assert_no_message_over_limit(&w.tg);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_429s_is_obeyed_and_nothing_is_lost() {
    let w = world().await;
    w.tg.fail_next_with_429(3, 2);
    w.tg.inject_message(OWNER, OWNER, None, "/run MozBook echo first; echo second");
    let m = wait_msg(&w.tg, OWNER, None, "the run result", |t| {
        t.contains("first\nsecond") && t.contains("✅ 0")
    })
    .await;
    assert!(m.text.contains("MozBook$ echo first"), "{}", m.text);
    let throttled: Vec<_> =
        w.tg.calls()
            .into_iter()
            .filter(|c| c.code == Some(429))
            .collect();
    assert!(!throttled.is_empty());
    assert!(w.tg.violations().is_empty(), "{:?}", w.tg.violations());
    // A steady rate limit as well: more calls than allowed never break the rules.
    w.tg.set_rate_limit(2, Duration::from_secs(3), 2);
    w.tg.inject_message(
        OWNER,
        OWNER,
        None,
        "/run RasPi for i in 1 2 3 4 5 6; do echo tick$i; sleep 0.3; done",
    );
    wait_msg(&w.tg, OWNER, None, "the ticks", |t| {
        t.contains("tick6") && t.contains("✅ 0")
    })
    .await;
    assert!(w.tg.violations().is_empty(), "{:?}", w.tg.violations());
}

#[tokio::test(flavor = "multi_thread")]
async fn offsets_survive_a_gateway_restart() {
    let mut w = world().await;
    w.tg.inject_message(OWNER, OWNER, None, "/help");
    wait_msg(&w.tg, OWNER, None, "the first reply", |t| {
        t.contains("/computers")
    })
    .await;
    w.gw.stop();
    w.tg.inject_message(OWNER, OWNER, None, "/computers");
    w.gw.start_again();
    wait_msg(&w.tg, OWNER, None, "the reply after restart", |t| {
        t.contains("🟢")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let msgs = w.tg.messages(OWNER, None);
    assert_eq!(
        msgs.iter()
            .filter(|m| m.text.contains("what the bot can do") || m.text.contains("/kill —"))
            .count(),
        1,
        "help answered once"
    );
    assert_eq!(
        msgs.iter().filter(|m| m.text.contains("🟢")).count(),
        1,
        "computers answered once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_gateway_takes_over_the_lease() {
    let mut w = world().await;
    let mut second = GatewayProcess::start(&w.mesh.redis.url(), w.tg.gateway_env(OWNER, GROUP));
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.tg.inject_message(OWNER, OWNER, None, "/help");
    wait_msg(&w.tg, OWNER, None, "the reply", |t| {
        t.contains("/computers")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        w.tg.messages(OWNER, None).len(),
        1,
        "exactly one gateway answered"
    );
    assert!(second.log().contains("standing by"), "{}", second.log());
    let conflicts = w.tg.calls().iter().filter(|c| c.code == Some(409)).count();
    assert_eq!(
        conflicts, 0,
        "the lease keeps the second gateway from polling"
    );
    w.gw.kill9();
    let t0 = std::time::Instant::now();
    w.tg.inject_message(OWNER, OWNER, None, "/computers");
    wait_msg(
        &w.tg,
        OWNER,
        None,
        "the reply from the second gateway",
        |t| t.contains("RasPi"),
    )
    .await;
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "took {:?}",
        t0.elapsed()
    );
    second.kill9();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_gateway_resumes_editing_the_same_message() {
    let mut w = world().await;
    let thread = new_session(&w, "MozBook/slow").await;
    w.tg.inject_message(
        OWNER,
        GROUP,
        Some(thread),
        "for i in $(seq 1 12); do echo step$i; sleep 0.5; done",
    );
    wait_msg(&w.tg, GROUP, Some(thread), "the first steps", |t| {
        t.contains("step3")
    })
    .await;
    w.gw.kill9();
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.gw.start_again();
    let m = wait_msg(&w.tg, GROUP, Some(thread), "the last step", |t| {
        t.contains("step12") && t.contains("✅ 0")
    })
    .await;
    for i in 1..=12 {
        assert!(
            m.text.contains(&format!("step{i}\n")),
            "step{i} lost: {}",
            m.text
        );
    }
    let with_steps =
        w.tg.messages(GROUP, Some(thread))
            .into_iter()
            .filter(|m| m.text.contains("step1\n"))
            .count();
    assert_eq!(with_steps, 1, "output continued in the same message");
}

/// Issue 13: a command waiting on a hung node (up to the 10 s request
/// timeout) holds up only its own chat: another chat, and another topic of
/// the same group, are answered at once; the hung chat's next command is
/// answered after its first.
#[tokio::test(flavor = "multi_thread")]
async fn a_hung_node_delays_only_its_own_chat() {
    // RasPi's slow heartbeat keeps it "online" for ~12 s after it hangs.
    let mesh = Mesh::start_with(
        telemux_tests::RedisServer::start(),
        &["MozBook", "RasPi"],
        |o| {
            if o.computer == "RasPi" {
                o.heartbeat_ms(4000)
            } else {
                o
            }
        },
    )
    .await;
    let tg = FakeTelegram::start(TOKEN).await;
    let _gw = GatewayProcess::start(&mesh.redis.url(), tg.gateway_env(OWNER, GROUP));
    wait_until("the gateway to poll", Duration::from_secs(30), || async {
        !tg.calls_of("getUpdates").is_empty()
    })
    .await;
    mesh.nodes[1].stall();
    let t0 = Instant::now();
    tg.inject_message(OWNER, OWNER, None, "/sessions RasPi");
    tg.inject_message(OWNER, OWNER, None, "/help");
    tg.inject_message(OWNER, GROUP, None, "/help");
    tg.inject_message(OWNER, GROUP, Some(4242), "/computers");
    wait_msg(&tg, GROUP, None, "the other chat's /help", |t| {
        t.contains("your terminals")
    })
    .await;
    let other_chat = t0.elapsed();
    wait_msg(
        &tg,
        GROUP,
        Some(4242),
        "the other topic's /computers",
        |t| t.contains("MozBook"),
    )
    .await;
    let other_topic = t0.elapsed();
    let hung = wait_msg(&tg, OWNER, None, "the hung /sessions error", |t| {
        t.contains("⚠️")
    })
    .await;
    let hung_at = t0.elapsed();
    let next = wait_msg(&tg, OWNER, None, "the hung chat's /help", |t| {
        t.contains("your terminals")
    })
    .await;
    mesh.nodes[1].resume();
    eprintln!("other chat {other_chat:?}, other topic {other_topic:?}, hung chat {hung_at:?}");
    assert!(
        hung_at >= Duration::from_secs(9),
        "the node was not hung: {hung_at:?}"
    );
    assert!(
        other_chat < Duration::from_secs(5),
        "other chat waited {other_chat:?}"
    );
    assert!(
        other_topic < Duration::from_secs(5),
        "other topic waited {other_topic:?}"
    );
    assert!(
        next.id > hung.id,
        "one chat's commands answered out of order: {:?} before {:?}",
        next.text,
        hung.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_refuses_to_start_without_allowed_users() {
    let redis = telemux_tests::RedisServer::start();
    let tg = FakeTelegram::start(TOKEN).await;
    let out = telemux_tests::Cli::new(redis.url())
        .env("TELEMUX_TELEGRAM__TOKEN", TOKEN)
        .env("TELEMUX_TELEGRAM__API_URL", tg.url())
        .run(&["gateway"])
        .await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        format!("{out:?}").contains("allowed_users is empty"),
        "{out:?}"
    );
    assert!(tg.calls().is_empty(), "not a single API call");
}
