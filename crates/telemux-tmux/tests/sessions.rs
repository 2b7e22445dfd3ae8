//! Sessions, literal input and capture against a real tmux server.

mod common;

use std::time::Duration;

use common::{eventually, name, TmuxGuard};
use telemux_proto::Key;
use telemux_tmux::{Tmux, TmuxError};

const T: Duration = Duration::from_secs(10);

#[tokio::test]
async fn create_list_kill() {
    let g = TmuxGuard::start().await;
    let t = &g.tmux;
    t.new_session(&g.spec("one", &["sleep", "100"]))
        .await
        .unwrap();
    t.new_session(&g.spec("two", &[])).await.unwrap();
    // ensure_server is idempotent with sessions present.
    t.ensure_server().await.unwrap();

    let list = t.list().await.unwrap();
    let names: Vec<&str> = list.iter().map(|p| p.session.as_str()).collect();
    assert_eq!(names, ["one", "two"]);
    let one = &list[0];
    assert!(!one.dead);
    assert!(one.pid.is_some());
    assert!(one.pane_id.starts_with('%'));
    assert_eq!((one.width, one.height), (80, 24));
    assert!(one.created_ms > 1_600_000_000_000);
    assert_eq!(one.command, "sleep");
    assert_eq!(std::path::Path::new(&one.cwd), g.dir.as_path());

    assert!(t.has_session(&name("one")).await.unwrap());
    assert!(!t.has_session(&name("nope")).await.unwrap());
    let st = t.pane_status(&name("one")).await.unwrap();
    assert_eq!(st.pane_id, one.pane_id);

    match t.new_session(&g.spec("one", &[])).await {
        Err(TmuxError::Exists(n)) => assert_eq!(n, "one"),
        other => panic!("expected Exists, got {other:?}"),
    }
    t.kill_session(&name("one")).await.unwrap();
    assert!(!t.has_session(&name("one")).await.unwrap());
    assert!(matches!(
        t.kill_session(&name("one")).await,
        Err(TmuxError::NoSession(_))
    ));
    assert!(matches!(
        t.send_text(&name("one"), "x").await,
        Err(TmuxError::NoSession(_))
    ));
    let names: Vec<String> = t
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.session.to_string())
        .collect();
    assert_eq!(names, ["two"]);
}

#[tokio::test]
async fn no_server_means_empty() {
    let t = Tmux::new(&format!("telemux-test-{}-absent", std::process::id()));
    assert!(t.list().await.unwrap().is_empty());
    assert!(!t.has_session(&name("x")).await.unwrap());
}

#[tokio::test]
async fn bad_cwd_is_named() {
    let g = TmuxGuard::start().await;
    let mut spec = g.spec("s", &[]);
    spec.cwd = Some(g.dir.join("does-not-exist"));
    let err = g.tmux.new_session(&spec).await.unwrap_err();
    assert!(matches!(err, TmuxError::BadCwd { .. }), "{err:?}");
    assert!(err.to_string().contains("does-not-exist"), "{err}");
    assert!(!g.tmux.has_session(&name("s")).await.unwrap());
}

#[tokio::test]
async fn hostile_argv_env_and_cwd_stay_literal() {
    let g = TmuxGuard::start().await;
    let dir = g.dir.join("we#{pid}ird; x;");
    tokio::fs::create_dir_all(&dir).await.unwrap();
    let mut spec = g.spec(
        "argv",
        &[
            "sh",
            "-c",
            "printf '%s|%s|%s|%s' \"$1\" \"$2\" \"$V\" \"$(pwd)\" > ../args.txt",
            "sh",
            "a;",
            "#{pid} \\;",
        ],
    );
    spec.cwd = Some(dir.clone());
    spec.env = vec![("V".into(), "v;".into())];
    g.tmux.new_session(&spec).await.unwrap();
    let out = g.dir.join("args.txt");
    let got = eventually(T, || async {
        tokio::fs::read_to_string(&out)
            .await
            .ok()
            .filter(|s| !s.is_empty())
    })
    .await
    .expect("args.txt written");
    assert_eq!(got, format!("a;|#{{pid}} \\;|v;|{}", dir.display()));
}

/// Text that must arrive byte for byte and never run as a command.
fn hostile_text(marker: &std::path::Path) -> String {
    let m = marker.display();
    let mut s = format!(
        "; rm -rf x\n$(touch {m}-1)\n`touch {m}-2`\n-t\nC-c\n;\n\\;\nend;\n#{{pid}}\n{{\n}}\n\"'\n"
    );
    // A long line that puts ';' exactly at the end of the first 4096-byte chunk.
    let head = 4096 - s.len() - 1;
    s.push_str(&"a".repeat(head));
    s.push_str(";\n");
    s.push_str(&"é;".repeat(700));
    s.push('\n');
    s
}

#[tokio::test]
async fn send_text_is_literal() {
    let g = TmuxGuard::start().await;
    let t = &g.tmux;
    let s = name("cat");
    t.new_session(&g.spec("cat", &["sh", "-c", "cat > out.txt"]))
        .await
        .unwrap();
    let marker = g.dir.join("pwned");
    let text = hostile_text(&marker);
    t.send_text(&s, "-t").await.unwrap();
    t.send_text(&s, "\n").await.unwrap();
    t.send_text(&s, &text).await.unwrap();
    // End of input for cat: Ctrl-D at the start of a line.
    t.send_keys(&s, &[Key::Ctrl('d')]).await.unwrap();
    let dead = eventually(T, || async {
        let p = t.pane_status(&s).await.ok()?;
        p.exit_status().map(|_| p)
    })
    .await
    .expect("cat exits");
    assert_eq!(dead.exit_status(), Some(0));
    let got = tokio::fs::read_to_string(g.dir.join("out.txt"))
        .await
        .unwrap();
    assert_eq!(got, format!("-t\n{text}"));
    assert!(!tokio::fs::try_exists(format!("{}-1", marker.display()))
        .await
        .unwrap());
    assert!(!tokio::fs::try_exists(format!("{}-2", marker.display()))
        .await
        .unwrap());
}

#[tokio::test]
async fn paste_text_arrives_whole() {
    let g = TmuxGuard::start().await;
    let t = &g.tmux;
    let s = name("paste");
    t.new_session(&g.spec("paste", &["sh", "-c", "cat > out.txt"]))
        .await
        .unwrap();
    let text = "line one;\n$(touch nope)\nC-c\n";
    t.paste_text(&s, text).await.unwrap();
    t.send_keys(&s, &[Key::Ctrl('d')]).await.unwrap();
    eventually(T, || async { t.pane_status(&s).await.ok()?.exit_status() })
        .await
        .expect("cat exits");
    let got = tokio::fs::read_to_string(g.dir.join("out.txt"))
        .await
        .unwrap();
    assert_eq!(got, text);
    assert!(!t.run(&["list-buffers"]).await.unwrap().contains("telemux"));
}

#[tokio::test]
async fn ctrl_c_key_interrupts_but_text_does_not() {
    let g = TmuxGuard::start().await;
    let t = &g.tmux;
    let s = name("sleeper");
    t.new_session(&g.spec("sleeper", &["sleep", "100"]))
        .await
        .unwrap();
    t.send_text(&s, "C-c").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!t.pane_status(&s).await.unwrap().dead);
    t.send_keys(&s, &[Key::Ctrl('c')]).await.unwrap();
    let p = eventually(T, || async {
        let p = t.pane_status(&s).await.ok()?;
        p.exit_status().map(|_| p)
    })
    .await
    .expect("sleep interrupted");
    assert_eq!(p.dead_signal, Some(2));
    assert_eq!(p.exit_status(), Some(130));
}

#[tokio::test]
async fn capture_plain_raw_history_and_screen() {
    let g = TmuxGuard::start().await;
    let t = &g.tmux;
    let s = name("cap");
    let script = "seq 1 200; printf '\\033[31mred\\033[0m plain   \\n'; sleep 100";
    t.new_session(&g.spec("cap", &["sh", "-c", script]))
        .await
        .unwrap();
    let plain = eventually(T, || async {
        let c = t.capture(&s, 1000, false).await.ok()?;
        c.contains("red plain").then_some(c)
    })
    .await
    .expect("output captured");
    assert!(plain.starts_with("1\n2\n3\n"), "{plain:?}");
    assert!(plain.ends_with("200\nred plain\n"), "{plain:?}");
    assert!(!plain.contains('\x1b'));

    let raw = t.capture(&s, 0, true).await.unwrap();
    assert!(raw.contains("\x1b[31mred"), "{raw:?}");
    assert!(!raw.contains("\n1\n"), "no history without lines: {raw:?}");

    let screen = t.capture_screen(&s).await.unwrap();
    assert_eq!(screen.len(), 24);
    assert_eq!(screen[22], "red plain");
    assert_eq!(screen[21], "200");
}
