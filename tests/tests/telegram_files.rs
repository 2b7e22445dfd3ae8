//! Files and voice notes through Telegram end to end: real redis-server,
//! real nodes and tmux, the real `telemux gateway`, and the fake Bot API
//! (`getFile`, the file download, `sendDocument`) of `telemux_tests::telegram`.
//! The speech-to-text command is a stand-in shell script that prints a fixed
//! phrase and the byte count of the audio file it was given.

use std::path::PathBuf;
use std::time::Duration;

use telemux_tests::mesh::Mesh;
use telemux_tests::telegram::{FakeTelegram, GatewayProcess, StoredMessage};
use telemux_tests::wait_until;

const TOKEN: &str = "123456:TEST-token";
const OWNER: i64 = 42;
const GROUP: i64 = -100_777;

struct World {
    tg: FakeTelegram,
    _gw: GatewayProcess,
    mesh: Mesh,
    _stt: tempfile::TempDir,
}

/// A mesh of RasPi, the fake, and a gateway; with the stand-in
/// `telegram.stt_command` (given as one string, split like a shell) when `stt`.
async fn world(stt: bool) -> World {
    let mesh = Mesh::start(&["RasPi"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("stt.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf 'hello from the stand-in, %s bytes\\n' \"$(wc -c < \"$1\" | tr -d ' ')\"\n",
    )
    .expect("stt script");
    let mut env = tg.gateway_env(OWNER, GROUP);
    if stt {
        env.push((
            "TELEMUX_TELEGRAM__STT_COMMAND".into(),
            format!("sh {}", script.display()),
        ));
    }
    let gw = GatewayProcess::start(&mesh.redis.url(), env);
    wait_until("the gateway to poll", Duration::from_secs(30), || async {
        !tg.calls_of("getUpdates").is_empty()
    })
    .await;
    World {
        tg,
        _gw: gw,
        mesh,
        _stt: dir,
    }
}

async fn wait_msg(
    tg: &FakeTelegram,
    thread: Option<i64>,
    what: &str,
    f: impl Fn(&StoredMessage) -> bool,
) -> StoredMessage {
    wait_until(what, Duration::from_secs(30), || async {
        let msgs = tg.messages(GROUP, thread);
        msgs.iter().find(|m| f(m)).cloned().ok_or_else(|| {
            msgs.iter()
                .map(|m| m.text.chars().take(300).collect::<String>())
                .collect::<Vec<_>>()
        })
    })
    .await
}

/// `/new target [dir]` in the group; returns the topic's thread id.
async fn new_session(w: &World, target: &str, dir: &str) -> i64 {
    let before = w.tg.messages(GROUP, None).len();
    w.tg.inject_message(OWNER, GROUP, None, &format!("/new {target} {dir}"));
    let name = target.to_string();
    let thread = wait_until("the topic", Duration::from_secs(30), || async {
        w.tg.topics()
            .into_iter()
            .find(|t| t.2.eq_ignore_ascii_case(&name))
            .map(|t| t.1)
    })
    .await;
    wait_until("the /new reply", Duration::from_secs(30), || async {
        w.tg.messages(GROUP, None)
            .iter()
            .skip(before)
            .any(|m| m.text.contains("Started"))
    })
    .await;
    thread
}

/// The cwd `sessions --json` shows for RasPi/`name`.
async fn cwd(w: &World, name: &str) -> PathBuf {
    let s = w.mesh.sessions(Some("RasPi")).await;
    let s = s.iter().find(|s| s["name"] == name).expect("the session");
    PathBuf::from(s["cwd"].as_str().expect("a cwd"))
}

#[tokio::test(flavor = "multi_thread")]
async fn files_sent_into_a_topic_are_saved_never_overwritten_and_typed() {
    let w = world(false).await;
    let thread = new_session(&w, "RasPi/inbox", "").await;
    let inbox = cwd(&w, "inbox").await.join(".telemux/inbox");

    w.tg.inject_document(
        OWNER,
        GROUP,
        Some(thread),
        "report 2024.txt",
        b"first\n".to_vec(),
    );
    let m = wait_msg(&w.tg, Some(thread), "the saved reply", |m| {
        m.text.starts_with("saved ")
    })
    .await;
    let first = inbox.join("report_2024.txt");
    assert!(
        m.text.contains(&first.display().to_string()) && m.text.contains("(6 bytes)"),
        "{}",
        m.text
    );
    assert_eq!(std::fs::read(&first).unwrap(), b"first\n");
    // The path is typed into the shell (no Enter): it is on the prompt line.
    let want = first.display().to_string();
    wait_until(
        "the path on the screen",
        Duration::from_secs(20),
        || async {
            let out = w.mesh.cli.run(&["read", "RasPi/inbox"]).await;
            out.ok().contains(&want).then_some(()).ok_or(out)
        },
    )
    .await;
    assert!(!w.mesh.text("RasPi/inbox").await.contains("No such file"));

    // The same name again: a numbered name, the first file untouched.
    w.tg.inject_document(
        OWNER,
        GROUP,
        Some(thread),
        "report 2024.txt",
        b"second!\n".to_vec(),
    );
    let second = inbox.join("report_2024-1.txt");
    wait_msg(&w.tg, Some(thread), "the second saved reply", |m| {
        m.text.contains(&second.display().to_string())
    })
    .await;
    assert_eq!(std::fs::read(&first).unwrap(), b"first\n");
    assert_eq!(std::fs::read(&second).unwrap(), b"second!\n");

    // A photo: the biggest size, named photo-<unix time>.jpg.
    let jpeg: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    w.tg.inject_photo(OWNER, GROUP, Some(thread), jpeg.clone());
    let m = wait_msg(&w.tg, Some(thread), "the photo's saved reply", |m| {
        m.text.contains("/photo-")
    })
    .await;
    let name = m
        .text
        .split("/photo-")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(
        name.ends_with(".jpg") && name[..name.len() - 4].bytes().all(|b| b.is_ascii_digit()),
        "{name}"
    );
    assert_eq!(
        std::fs::read(inbox.join(format!("photo-{name}"))).unwrap(),
        jpeg
    );

    // Over Telegram's 20 MB download limit: refused before any download.
    let (_, _) = w.tg.inject_document(
        OWNER,
        GROUP,
        Some(thread),
        "huge.bin",
        vec![0; 21 * 1024 * 1024],
    );
    wait_msg(&w.tg, Some(thread), "the too-big answer", |m| {
        m.text.contains("20 MB limit for bots to download")
    })
    .await;
    assert!(!inbox.join("huge.bin").exists());
    assert_eq!(
        w.tg.calls_of("getFile").len(),
        3,
        "no getFile for the huge one"
    );
    assert_eq!(
        w.tg.calls_of("download").len(),
        3,
        "{:?}",
        w.tg.calls_of("download")
    );

    // /get: a relative path is relative to the session's cwd.
    w.tg.inject_message(
        OWNER,
        GROUP,
        Some(thread),
        "/get .telemux/inbox/report_2024-1.txt",
    );
    let doc = wait_until("the /get document", Duration::from_secs(30), || async {
        w.tg.documents()
            .into_iter()
            .find(|d| d.method == "sendDocument")
            .ok_or_else(|| {
                w.tg.messages(GROUP, Some(thread))
                    .iter()
                    .map(|m| m.text.clone())
                    .collect::<Vec<_>>()
            })
    })
    .await;
    assert_eq!(doc.thread, Some(thread));
    assert_eq!(doc.name, "report_2024-1.txt");
    assert_eq!(doc.bytes, b"second!\n");

    // Outside files.roots: the node's refusal, naming the roots, in the topic.
    w.tg.inject_message(OWNER, GROUP, Some(thread), "/get /etc/hostname");
    let m = wait_msg(&w.tg, Some(thread), "the refusal", |m| {
        m.text.contains("outside the directories")
    })
    .await;
    assert!(m.text.contains("files.roots"), "{}", m.text);
    assert_eq!(w.tg.documents().len(), 1, "nothing uploaded");
    assert!(w.tg.violations().is_empty(), "{:?}", w.tg.violations());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_for_a_session_outside_the_roots_is_refused_by_its_node() {
    let w = world(false).await;
    let outside = tempfile::tempdir().expect("a directory outside the node's HOME");
    let thread = new_session(&w, "RasPi/out", &outside.path().display().to_string()).await;
    w.tg.inject_document(OWNER, GROUP, Some(thread), "a.txt", b"x".to_vec());
    let m = wait_msg(&w.tg, Some(thread), "the node's refusal", |m| {
        m.text.starts_with("⚠️")
    })
    .await;
    assert!(
        m.text.contains("outside the directories RasPi shares") && m.text.contains("files.roots"),
        "{}",
        m.text
    );
    assert!(
        !outside.path().join(".telemux").exists(),
        "nothing created outside the roots"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voice_note_is_transcribed_and_typed_only_after_send() {
    let w = world(true).await;
    let thread = new_session(&w, "RasPi/talk", "").await;
    let audio = vec![7u8; 1234];
    let (_, voice) = w.tg.inject_voice(OWNER, GROUP, Some(thread), audio, 3);
    let m = wait_msg(&w.tg, Some(thread), "the transcript", |m| {
        m.text.starts_with("🎤")
    })
    .await;
    assert_eq!(
        m.text, "🎤 hello from the stand-in, 1234 bytes",
        "the audio arrived whole"
    );
    assert_eq!(
        m.buttons,
        vec![
            format!("v:{thread}:{voice}:s"),
            format!("v:{thread}:{voice}:e"),
            format!("v:{thread}:{voice}:c"),
        ]
    );
    assert!(
        !w.mesh
            .text("RasPi/talk")
            .await
            .contains("hello from the stand-in"),
        "nothing typed before Send"
    );
    w.tg.inject_callback(OWNER, GROUP, m.id, &m.buttons[0]);
    wait_until("the transcript typed", Duration::from_secs(20), || async {
        let out = w.mesh.cli.run(&["read", "RasPi/talk"]).await;
        out.ok()
            .contains("hello from the stand-in, 1234 bytes")
            .then_some(())
            .ok_or(out)
    })
    .await;
    wait_msg(&w.tg, Some(thread), "the sent mark", |x| {
        x.id == m.id && x.text.ends_with("✅ sent") && !x.has_buttons
    })
    .await;

    // Cancel: nothing typed; Edit: asks for the corrected text.
    let (_, v2) =
        w.tg.inject_voice(OWNER, GROUP, Some(thread), vec![1; 10], 1);
    let m2 = wait_msg(&w.tg, Some(thread), "the second transcript", |m| {
        m.buttons
            .first()
            .is_some_and(|b| b.contains(&format!(":{v2}:")))
    })
    .await;
    assert_eq!(m2.text, "🎤 hello from the stand-in, 10 bytes");
    w.tg.inject_callback(OWNER, GROUP, m2.id, &m2.buttons[2]);
    wait_msg(&w.tg, Some(thread), "the cancelled mark", |x| {
        x.id == m2.id && x.text.ends_with("cancelled") && !x.has_buttons
    })
    .await;
    let (_, v3) =
        w.tg.inject_voice(OWNER, GROUP, Some(thread), vec![1; 11], 1);
    let m3 = wait_msg(&w.tg, Some(thread), "the third transcript", |m| {
        m.buttons
            .first()
            .is_some_and(|b| b.contains(&format!(":{v3}:")))
    })
    .await;
    w.tg.inject_callback(OWNER, GROUP, m3.id, &m3.buttons[1]);
    wait_msg(&w.tg, Some(thread), "the edit request", |x| {
        x.id == m3.id && x.text.contains("send the corrected text as a message") && !x.has_buttons
    })
    .await;
    // A second press on a used transcript changes nothing.
    w.tg.inject_callback(OWNER, GROUP, m2.id, &m2.buttons[0]);
    wait_until(
        "the stale press answered",
        Duration::from_secs(20),
        || async {
            w.tg.calls_of("answerCallbackQuery").iter().any(|c| {
                c.params["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("transcript is gone")
            })
        },
    )
    .await;
    let out = w.mesh.cli.run(&["read", "RasPi/talk"]).await;
    assert!(
        !out.ok().contains("10 bytes") && !out.ok().contains("11 bytes"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voice_note_without_stt_command_says_how_to_set_it() {
    let w = world(false).await;
    let thread = new_session(&w, "RasPi/mute", "").await;
    w.tg.inject_voice(OWNER, GROUP, Some(thread), vec![1; 100], 1);
    let m = wait_msg(&w.tg, Some(thread), "the how-to", |m| {
        m.text.contains("stt_command")
    })
    .await;
    assert!(
        m.text.contains("TELEMUX_TELEGRAM__STT_COMMAND"),
        "{}",
        m.text
    );
    assert!(w.tg.calls_of("getFile").is_empty(), "nothing downloaded");
}
