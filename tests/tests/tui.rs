//! The terminal front ends as a person uses them (issue 15): `telemux tui`
//! and `telemux attach` run in a tmux pane of the test's own ("the user's
//! terminal"), typed into with send-keys and read with capture-pane, against
//! real nodes and a real redis-server.

use std::time::Duration;

use telemux_tests::{wait_until, Mesh, UserTerminal};

const SOON: Duration = Duration::from_secs(10);

/// Lines of a screen with trailing blanks removed, for comparing two screens.
fn lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(|l| l.trim_end().to_string()).collect();
    while v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

fn window_size(m: &Mesh, node: usize, session: &str) -> String {
    m.tmux[node]
        .run(&[
            "display",
            "-p",
            "-t",
            &format!("={session}:"),
            "#{window_width}x#{window_height}",
        ])
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_mesh_and_follows_it_without_polling() {
    let mut m = Mesh::start(&["MozBook", "RasPi"]).await;
    m.cli.run(&["new", "MozBook/web"]).await.ok();
    let t = UserTerminal::start(&m.cli, &["tui"], 150, 40);
    let s = t
        .wait_screen("both computers and MozBook's session", SOON, |s| {
            s.contains("MozBook") && s.contains("RasPi") && s.contains("  web  ")
        })
        .await;
    assert!(s.contains("online"), "{s}");

    // Made by the CLI on the other computer: on screen with no key pressed.
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    t.wait_for("  api  ", Duration::from_secs(3)).await;

    // Filter to it and select it: the preview follows it.
    t.type_text("/api");
    t.keys(&["Enter"]);
    t.keys(&["j"]);
    t.wait_for("RasPi/api —", SOON).await;

    // Typing into the preview's input line reaches the session.
    t.keys(&["Enter"]);
    t.wait_for("type>", SOON).await;
    t.type_text("echo typed-$((6*7))");
    t.keys(&["Enter"]);
    wait_until("the typed line ran in RasPi/api", SOON, || async {
        m.text("RasPi/api").await.contains("typed-42")
    })
    .await;
    // And its output shows in the live preview.
    t.wait_for("typed-42", SOON).await;
    t.keys(&["Escape"]);

    // `a` attaches in place of the dashboard; the detach key comes back to it.
    t.type_text("a");
    t.wait_screen("the attached session instead of the dashboard", SOON, |s| {
        s.contains("typed-42") && !s.contains("computers")
    })
    .await;
    t.type_text("echo attached-$((5*5))");
    t.keys(&["Enter"]);
    t.wait_for("attached-25", SOON).await;
    t.keys(&["C-\\", "d"]);
    t.wait_for("detached from RasPi/api", SOON).await;

    // Kill, after a confirmation.
    t.type_text("x");
    t.wait_for("kill RasPi/api? y/n", SOON).await;
    t.type_text("y");
    t.wait_for("killed RasPi/api", SOON).await;
    wait_until("api gone from RasPi", SOON, || async {
        m.sessions(Some("RasPi")).await.is_empty()
    })
    .await;

    // A node killed without a goodbye turns offline by its silence.
    t.type_text("/");
    t.keys(&["Escape"]);
    m.nodes[1].kill9();
    t.wait_for("RasPi  offline", SOON).await;

    t.type_text("q");
    t.wait_ended(SOON).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_dashboard_sends_redis_nothing_but_blocking_reads() {
    let mut m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    let t = UserTerminal::start(&m.cli, &["tui"], 120, 30);
    t.wait_for("  api  ", SOON).await;
    // With a session selected, its output stream is followed too.
    t.type_text("/api");
    t.keys(&["Enter"]);
    t.keys(&["j"]);
    t.wait_for("RasPi/api —", SOON).await;
    t.type_text("/");
    t.keys(&["Escape"]);
    // Stopped gracefully, the node says goodbye and then nothing else
    // talks to Redis: whatever Redis sees now comes from the dashboard.
    m.nodes[0].stop();
    t.wait_for("RasPi  offline", SOON).await;
    // The preview's reader of the session that went away closes its
    // connection (a QUIT) as the computer drops offline; let that pass.
    tokio::time::sleep(Duration::from_secs(3)).await;
    m.redis.cli(&["CONFIG", "RESETSTAT"]);
    tokio::time::sleep(Duration::from_secs(7)).await;
    let stats = m.redis.cli(&["INFO", "commandstats"]);
    let calls: Vec<&str> = stats
        .lines()
        .filter(|l| l.starts_with("cmdstat_"))
        .filter(|l| !l.starts_with("cmdstat_info:") && !l.starts_with("cmdstat_config|resetstat:"))
        .collect();
    assert!(
        calls.iter().all(|l| l.starts_with("cmdstat_xread:")),
        "only blocking stream reads while idle: {calls:?}"
    );
    assert!(
        calls.iter().any(|l| l.starts_with("cmdstat_xread:")),
        "the dashboard blocks on its streams: {stats}"
    );
    // Still alive and answering keys.
    t.type_text("?");
    t.wait_for("any key closes", SOON).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_says_when_redis_is_away_and_catches_up() {
    let mut m = Mesh::start(&["RasPi"]).await;
    let t = UserTerminal::start(&m.cli, &["tui"], 140, 30);
    t.wait_for("RasPi  online", SOON).await;
    m.redis.stop();
    t.wait_for("Redis unreachable", Duration::from_secs(20))
        .await;
    m.redis.start_again();
    m.wait_online("RasPi", true).await;
    m.cli.run(&["new", "RasPi/after"]).await.ok();
    t.wait_screen(
        "the session made after Redis came back, and no outage shown",
        Duration::from_secs(20),
        |s| s.contains("  after  ") && !s.contains("Redis unreachable"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_drives_a_remote_shell_and_vi_as_if_local() {
    let vi = ["vi", "vim"].into_iter().find(|p| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {p}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(vi) = vi else {
        assert!(
            std::env::var_os("CI").is_none(),
            "vi is needed (.ci/run installs vim-tiny)"
        );
        eprintln!("skipped: no vi on this machine");
        return;
    };
    let m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    let before = window_size(&m, 0, "api");
    let t = UserTerminal::start(&m.cli, &["attach", "RasPi/api"], 100, 30);
    wait_until("the remote window at the terminal's size", SOON, || async {
        window_size(&m, 0, "api") == "100x30"
    })
    .await;
    t.type_text("echo hi-$((1+1))");
    t.keys(&["Enter"]);
    t.wait_for("hi-2", SOON).await;

    // A full-screen program: what the person sees is the remote pane.
    t.type_text(&format!("{vi} -u NONE -N"));
    t.keys(&["Enter"]);
    t.type_text("ihello from attach");
    t.keys(&["Escape"]);
    let remote = || {
        m.tmux[0]
            .run(&["capture-pane", "-p", "-t", "=api:"])
            .unwrap_or_default()
    };
    wait_until(
        "the attached screen equal to the remote pane",
        SOON,
        || async {
            let (here, there) = (t.screen(), remote());
            (there.contains("hello from attach") && lines(&here) == lines(&there)).then_some(())
        },
    )
    .await;
    t.type_text(":q!");
    t.keys(&["Enter"]);
    wait_until("vi ended", SOON, || async {
        m.tmux[0]
            .run(&["display", "-p", "-t", "=api:", "#{pane_current_command}"])
            .is_ok_and(|c| c.trim() == "bash")
    })
    .await;
    t.wait_for("hi-2", SOON).await;

    // The remote window follows the terminal's size.
    t.resize(90, 25);
    wait_until("the remote window resized", SOON, || async {
        window_size(&m, 0, "api") == "90x25"
    })
    .await;

    // Detach: back to the shell, told how to return; the window's own size back.
    t.keys(&["C-\\", "d"]);
    let s = t.wait_ended(SOON).await;
    assert!(s.contains("detached from RasPi/api"), "{s}");
    assert!(s.contains("telemux attach RasPi/api"), "{s}");
    wait_until("the window's size restored", SOON, || async {
        window_size(&m, 0, "api") == before
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_attached_terminals_share_the_screen_follow_a_rename_and_a_reattach_restores_it() {
    let m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    let a = UserTerminal::start(&m.cli, &["attach", "RasPi/api"], 100, 30);
    let b = UserTerminal::start(&m.cli, &["attach", "RasPi/api"], 100, 30);
    for (t, n) in [(&a, 1), (&b, 2)] {
        t.type_text(&format!("echo ready-$(({n}*10))"));
        t.keys(&["Enter"]);
        t.wait_for(&format!("ready-{n}0"), SOON).await;
    }
    a.type_text("echo both-$((2+3))");
    a.keys(&["Enter"]);
    a.wait_for("both-5", SOON).await;
    b.wait_for("both-5", SOON).await;

    // Renamed from elsewhere: both stay attached and type into it under its
    // new name. (They learn the name from the rename record on the output
    // stream, a moment after the CLI returns.)
    let renamed = m.cli.run(&["rename", "RasPi/api", "web"]).await;
    assert_eq!(renamed.ok().trim(), "renamed RasPi/api to RasPi/web");
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.type_text("echo renamed-$((4+4))");
    b.keys(&["Enter"]);
    a.wait_for("renamed-8", SOON).await;
    b.wait_for("renamed-8", SOON).await;

    a.keys(&["C-\\", "d"]);
    a.wait_ended(SOON).await;
    b.type_text("echo still-$((3+4))");
    b.keys(&["Enter"]);
    b.wait_for("still-7", SOON).await;
    b.keys(&["C-\\", "d"]);
    b.wait_ended(SOON).await;

    // Attached again: the current screen comes first, before any new output.
    let c = UserTerminal::start(&m.cli, &["attach", "RasPi/web"], 100, 30);
    let s = c.wait_for("still-7", SOON).await;
    assert!(s.contains("both-5") && s.contains("renamed-8"), "{s}");
}
