//! Sections 7 and 8: the terminal front ends of issue 15, timed as a person
//! would see them. `telemux tui` and `telemux attach` run in a
//! [`UserTerminal`] (a private tmux pane of the bench's own); the stop point of
//! every figure is the first `capture-pane` of that pane that shows the
//! expected text, so the figures include what the person's terminal adds
//! (rendering, tmux parsing) as well as the polling itself.
//!
//! The screen is polled from the thread that drives the bench future, not a
//! runtime worker, so the blocking `capture-pane` calls never starve the
//! in-process client's tasks.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use telemux_tests::{TmuxServer, UserTerminal};

use super::fixture::{tail, Fixture};
use super::report::{ms, Report, Verdict};
use super::stats::summarize;
use super::Config;

const S_TUI: &str = "7 tui";
const S_ATTACH: &str = "8 attach";

/// Pause between two captures of the user's terminal.
const POLL: Duration = Duration::from_millis(2);

/// What the measurements need from a terminal: typing and reading it.
trait Pane {
    fn screen(&self) -> String;
    fn type_text(&self, text: &str);
    fn keys(&self, keys: &[&str]);
}

impl Pane for UserTerminal {
    fn screen(&self) -> String {
        UserTerminal::screen(self)
    }
    fn type_text(&self, text: &str) {
        UserTerminal::type_text(self, text)
    }
    fn keys(&self, keys: &[&str]) {
        UserTerminal::keys(self, keys)
    }
}

/// A plain bash in a pane of a private tmux server, with no telemux in
/// between: the same send-keys/capture-pane costs as through `attach`, so it
/// shows how much of the echo figure is the measuring itself.
struct LocalShell(TmuxServer);

impl LocalShell {
    fn start(cols: u16, rows: u16) -> Result<LocalShell> {
        let tmux = TmuxServer::new();
        let line = format!(
            "exec env -i PATH={:?} TERM=xterm-256color LANG=C.UTF-8 HOME=/tmp /bin/bash --norc --noprofile",
            std::env::var("PATH").unwrap_or_default()
        );
        let (w, h) = (cols.to_string(), rows.to_string());
        tmux.run(&["new-session", "-d", "-s", "term", "-x", &w, "-y", &h, &line])
            .map_err(|e| anyhow!("starting the local shell: {e}"))?;
        Ok(LocalShell(tmux))
    }
}

impl Pane for LocalShell {
    fn screen(&self) -> String {
        self.0
            .run(&["capture-pane", "-p", "-t", "=term:"])
            .unwrap_or_default()
    }
    fn type_text(&self, text: &str) {
        let _ = self.0.run(&["send-keys", "-t", "=term:", "-l", "--", text]);
    }
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "=term:"];
        args.extend_from_slice(keys);
        let _ = self.0.run(&args);
    }
}

/// Polls `t` until `pred` holds for its screen; milliseconds since `start`,
/// taken when the matching capture returned.
fn until_screen(
    t: &impl Pane,
    start: Instant,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> Result<f64> {
    loop {
        let s = t.screen();
        if pred(&s) {
            return Ok(start.elapsed().as_secs_f64() * 1000.0);
        }
        if start.elapsed() > timeout {
            bail!(
                "timed out after {timeout:?} waiting for {what}; the screen:\n{}",
                tail(&s, 60)
            );
        }
        std::thread::sleep(POLL);
    }
}

/// Section 7: the dashboard's first full frame and its change latency.
pub async fn tui(cfg: &Config, report: &mut Report) -> Result<()> {
    let (n, m) = (cfg.tui_nodes, cfg.tui_sessions);
    let names: Vec<String> = (1..=n).map(|i| format!("T{i:02}")).collect();
    let f = Fixture::start(&names).await?;
    let t = Instant::now();
    f.populate(&names, m).await?;
    let create_s = t.elapsed().as_secs_f64();
    let listed = f.mesh.sessions(None).await.map_err(|e| anyhow!("{e}"))?;
    if listed.len() != n * m {
        bail!("sessions lists {}, expected {}", listed.len(), n * m);
    }
    tokio::time::sleep(cfg.settle).await;

    // (a) A terminal tall enough for the whole tree, so "full" can be checked
    // on one screen: every computer with its complete session count, and the
    // last computer's last session drawn.
    let cols = 160u16;
    let rows = (n * (m + 1) + 6) as u16;
    let heads: Vec<String> = names
        .iter()
        .map(|c| format!("{c}  online · {m} sessions"))
        .collect();
    let last = format!("  s{:02}  ", m - 1);
    let full = |s: &str| {
        heads.iter().all(|h| s.contains(h.as_str()))
            && s.find(heads[n - 1].as_str())
                .is_some_and(|at| s[at..].contains(last.as_str()))
    };
    let (mut frames, mut spawns) = (Vec::new(), Vec::new());
    for _ in 0..cfg.tui_frames {
        let start = Instant::now();
        let term = UserTerminal::start(&f.cli, &["tui"], cols, rows);
        spawns.push(start.elapsed().as_secs_f64() * 1000.0);
        frames.push(until_screen(
            &term,
            start,
            Duration::from_secs(30),
            "the whole mesh on the dashboard",
            full,
        )?);
        drop(term);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // (b) A 160x50 terminal filtered to names that do not exist yet, so each
    // new session is on screen however large the mesh.
    let term = UserTerminal::start(&f.cli, &["tui"], 160, 50);
    until_screen(
        &term,
        Instant::now(),
        Duration::from_secs(30),
        "the dashboard up",
        |s| s.contains(heads[0].as_str()),
    )?;
    term.type_text("/new");
    term.keys(&["Enter"]);
    until_screen(
        &term,
        Instant::now(),
        Duration::from_secs(10),
        "the filter applied",
        |s| s.contains("(filter: new)") && s.contains("nothing matches the filter"),
    )?;
    let on = &names[0];
    let (mut acked, mut sent) = (Vec::new(), Vec::new());
    for k in 0..cfg.tui_changes {
        let name = format!("new{k:02}");
        let row = format!("  {name}  ");
        let t0 = Instant::now();
        f.new_session(on, &name, None).await?;
        let t1 = Instant::now();
        until_screen(&term, t1, Duration::from_secs(10), &name, |s| {
            s.contains(row.as_str())
        })?;
        let seen = t1.elapsed().as_secs_f64() * 1000.0;
        acked.push(seen);
        sent.push((t1 - t0).as_secs_f64() * 1000.0 + seen);
        // Irregular gaps, so the creations do not fall into step with the
        // dashboard's frame clock.
        tokio::time::sleep(Duration::from_millis(100 + (k as u64 * 37) % 200)).await;
    }
    let screen = term.screen();
    let visible = (0..cfg.tui_changes)
        .filter(|k| screen.contains(&format!("  new{k:02}  ")))
        .count();
    drop(term);

    report.summary(
        S_TUI,
        &format!("first full frame, {n} computers × {m} sessions, spawn → capture (p99 = max)"),
        summarize(&frames),
        ms,
        "≤ 200 ms",
        |s| Verdict::of(s.max <= 200.0),
    );
    report.summary(
        S_TUI,
        "new session on screen, `Mesh::new_session` returned → capture",
        summarize(&acked),
        ms,
        "p99 ≤ 100 ms",
        |s| Verdict::of(s.p99 <= 100.0),
    );
    report.summary(
        S_TUI,
        "new session on screen, request sent → capture",
        summarize(&sent),
        ms,
        "",
        |_| Verdict::Info,
    );
    let spawn = summarize(&spawns).map(|s| s.median).unwrap_or(0.0);
    report.note(
        S_TUI,
        format!(
            "mesh: {n} real nodes × {m} shell sessions (created in {create_s:.1} s, nodes in \
             parallel); `telemux tui` in a private tmux pane {cols}x{rows} (tall enough for the \
             whole tree, so one capture can show every computer with \"online · {m} sessions\" \
             and the last session row); start = just before `tmux new-session` of that pane \
             (median {spawn:.1} ms of the figure is the pane's own tmux server starting); stop = \
             the first `capture-pane` showing the whole tree; polled every {} ms plus the \
             capture's own run time; frames (ms): {:?}",
            POLL.as_millis(),
            frames.iter().map(|v| v.round()).collect::<Vec<_>>()
        ),
    );
    report.note(
        S_TUI,
        format!(
            "change latency: dashboard 160x50 with filter `/new`, {} sessions `new00`.. created \
             one at a time on {on} by the in-process library client (`Mesh::new_session`, which \
             returns once the node acknowledged the creation), 100–300 ms apart; stop = the \
             first capture (polled every {} ms) showing the name as a tree row; \
             {visible} of {} still visible on the last capture",
            cfg.tui_changes,
            POLL.as_millis(),
            cfg.tui_changes
        ),
    );
    Ok(())
}

/// Letters of one `echo` line; short enough never to wrap at 100 columns
/// whatever the prompt.
const PER_LINE: usize = 30;

/// Types `keys` letters into the shell in `t` one at a time; the echo time of
/// each in ms.
fn echo(t: &impl Pane, keys: usize) -> Result<Vec<f64>> {
    t.type_text("echo ready-$((6*7))");
    t.keys(&["Enter"]);
    until_screen(
        t,
        Instant::now(),
        Duration::from_secs(20),
        "the shell answering",
        |s| s.lines().any(|l| l.trim_end() == "ready-42"),
    )?;

    // Each line has its own tag, so a prefix is only ever on the screen once
    // its last letter has echoed.
    let letters: Vec<char> = ('a'..='z').collect();
    let mut lat = Vec::new();
    let mut batch = 0usize;
    while lat.len() < keys {
        let mut typed = format!("echo b{batch}_");
        t.type_text(&typed);
        until_screen(t, Instant::now(), Duration::from_secs(10), &typed, |s| {
            s.contains(typed.as_str())
        })?;
        std::thread::sleep(Duration::from_millis(50));
        for i in 0..PER_LINE.min(keys - lat.len()) {
            let c = letters[(i * 7 + batch) % letters.len()];
            typed.push(c);
            let start = Instant::now();
            t.type_text(&c.to_string());
            lat.push(until_screen(
                t,
                start,
                Duration::from_secs(5),
                &format!("the echo of {c:?} ({typed})"),
                |s| s.contains(typed.as_str()),
            )?);
            // Typing pace with some jitter, like a person's.
            std::thread::sleep(Duration::from_millis(15 + (i as u64 * 13) % 40));
        }
        t.keys(&["Enter"]);
        let out = typed["echo ".len()..].to_string();
        until_screen(
            t,
            Instant::now(),
            Duration::from_secs(10),
            "the command's output",
            |s| s.lines().any(|l| l.trim_end() == out),
        )?;
        batch += 1;
    }
    Ok(lat)
}

/// Section 8: keystroke echo through `telemux attach`.
pub async fn attach(cfg: &Config, report: &mut Report) -> Result<()> {
    let f = Fixture::start(&["Echo".to_string()]).await?;
    f.new_session("Echo", "sh", None).await?;
    let term = UserTerminal::start(&f.cli, &["attach", "Echo/sh"], 100, 30);
    let lat = echo(&term, cfg.echo_keys)?;
    drop(term);
    let local = LocalShell::start(100, 30)?;
    let base = echo(&local, cfg.echo_keys)?;
    drop(local);

    report.summary(
        S_ATTACH,
        "keystroke echo, `send-keys -l` → capture (loopback)",
        summarize(&lat),
        ms,
        "p50 ≤ 15 ms, p99 ≤ 40 ms",
        |s| Verdict::of(s.median <= 15.0 && s.p99 <= 40.0),
    );
    report.summary(
        S_ATTACH,
        "baseline: same typing into a local bash pane (no telemux)",
        summarize(&base),
        ms,
        "",
        |_| Verdict::Info,
    );
    let max = summarize(&lat).map(|s| s.max).unwrap_or(0.0);
    report.note(
        S_ATTACH,
        format!(
            "one node, one bash session; `telemux attach Echo/sh` in a private tmux pane 100x30; \
             {} single letters typed at 15–55 ms intervals in lines of {PER_LINE} (`echo bN_…`); \
             start = just before spawning `tmux send-keys -l` (its process start is in the \
             figure), stop = the first `capture-pane` showing the line with that letter, polled \
             every {} ms plus the capture's own run time; max {max:.1} ms; the baseline row is \
             the same typing into `bash --norc` in a local 100x30 tmux pane, i.e. what the \
             measuring method (send-keys spawn, bash echo, capture-pane polling) costs alone",
            lat.len(),
            POLL.as_millis()
        ),
    );
    Ok(())
}
