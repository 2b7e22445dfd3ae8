//! `telemux tui`: a live dashboard of every computer and session.
//!
//! Pushed, never polled: a [`MeshWatch`] feeds the [`model::Model`]; the
//! selected session's screen comes from its output stream ([`preview`]).
//! The only timer is the one-second clock that ages "last seen" and marks
//! computers whose heartbeats stopped. Frames are drawn at most every
//! [`FRAME`]; changes arriving faster are folded into the next frame.

pub mod keys;
pub mod model;
pub mod preview;
pub mod ui;

use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use telemux_client::{Mesh, MeshError, MeshWatch, Refresh, WatchUpdate};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::attach::{Attach, DetachKey, Ended};
use crate::term::TermGuard;
use crate::TuiError;
use keys::{Action, Mode};
use model::Model;

/// Shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(16);

/// Settings of the dashboard.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// Scrollback lines the preview keeps.
    pub scrollback: usize,
    /// The detach key for attaching from the dashboard.
    pub detach: DetachKey,
}

/// The dashboard; see the module docs.
pub struct Dashboard {
    mesh: Mesh,
    opts: DashboardOptions,
}

/// The preview task of the selected session.
struct Following {
    addr: String,
    stop: CancellationToken,
}

type Term = Terminal<CrosstermBackend<std::io::Stdout>>;

fn open_terminal() -> Result<(TermGuard, Term, EventStream), TuiError> {
    let guard = TermGuard::enter("tui")?;
    let term = Terminal::new(CrosstermBackend::new(std::io::stdout()))
        .map_err(|e| TuiError::terminal("drawing", e))?;
    Ok((guard, term, EventStream::new()))
}

impl Dashboard {
    /// A dashboard over `mesh`.
    pub fn new(mesh: Mesh, opts: DashboardOptions) -> Dashboard {
        Dashboard { mesh, opts }
    }

    /// Runs until `q` or `cancel`.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), TuiError> {
        let stop = cancel.child_token();
        let _stop_guard = stop.clone().drop_guard();
        let mut model = Model::new(self.mesh.bus().redacted_url());
        let (up_tx, mut updates) = mpsc::channel::<WatchUpdate>(256);
        let (refresh_tx, refresh_rx) = mpsc::channel::<Refresh>(16);
        let mut tasks = JoinSet::new();
        tasks.spawn(MeshWatch::new(self.mesh.clone()).run(up_tx, refresh_rx, stop.clone()));
        let (dirty_tx, mut dirty) = mpsc::channel::<()>(1);
        let preview_state = preview::Shared::default();
        let mut following: Option<Following> = None;
        let mut actions: JoinSet<String> = JoinSet::new();
        actions.spawn(figures(self.mesh.clone()));

        let (mut guard, mut term, mut events) = open_terminal()?;
        let mut mode = Mode::Normal;
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        let mut last_draw: Option<Instant> = None;
        let mut want_draw = true;
        loop {
            // Follow the selected session (and only it).
            let addr = model.selected_addr();
            if following.as_ref().map(|f| &f.addr) != addr.as_ref() {
                if let Some(f) = following.take() {
                    f.stop.cancel();
                }
                *preview_state.lock().unwrap_or_else(|p| p.into_inner()) = Default::default();
                if let Some(addr) = addr {
                    if let Some((c, s)) = addr.split_once('/') {
                        if let (Ok(c), Ok(s)) = (
                            telemux_proto::ComputerName::new(c),
                            telemux_proto::SessionName::new(s),
                        ) {
                            let f = Following {
                                addr: addr.clone(),
                                stop: stop.child_token(),
                            };
                            tasks.spawn(preview::follow(
                                self.mesh.clone(),
                                c,
                                s,
                                self.opts.scrollback,
                                preview_state.clone(),
                                dirty_tx.clone(),
                                f.stop.clone(),
                            ));
                            following = Some(f);
                        }
                    }
                }
                want_draw = true;
            }
            if want_draw {
                let due = last_draw.map(|t| t + FRAME).filter(|d| *d > Instant::now());
                if due.is_none() {
                    term.draw(|f| ui::draw(f, &model, &mode, &preview_state))
                        .map_err(|e| TuiError::terminal("drawing", e))?;
                    last_draw = Some(Instant::now());
                    want_draw = false;
                }
            }
            let next_frame = last_draw.unwrap_or_else(Instant::now) + FRAME;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep_until(next_frame.into()), if want_draw => {}
                _ = clock.tick() => {
                    model.tick(Instant::now());
                    want_draw = true;
                }
                _ = dirty.recv() => want_draw = true,
                u = updates.recv() => {
                    let Some(u) = u else { break };
                    let now = Instant::now();
                    let mut want = model.apply(u, now);
                    // Fold a burst of updates into one frame.
                    while let Ok(u) = updates.try_recv() {
                        want.extend(model.apply(u, now));
                    }
                    for r in want {
                        let _ = refresh_tx.try_send(r);
                    }
                    want_draw = true;
                }
                done = actions.join_next(), if !actions.is_empty() => {
                    if let Some(Ok(msg)) = done {
                        if let Some(rest) = msg.strip_prefix(FIGURES) {
                            apply_figures(&mut model, rest);
                        } else {
                            model.flash = Some(msg);
                        }
                    }
                    want_draw = true;
                }
                ev = events.next() => {
                    let Some(Ok(ev)) = ev else { break };
                    want_draw = true;
                    let Event::Key(key) = ev else { continue };
                    if key.kind != KeyEventKind::Press {
                        continue;
                    }
                    match keys::on_key(&mut model, &mut mode, key) {
                        Action::None => {}
                        Action::Quit => break,
                        Action::Refresh => {
                            let _ = refresh_tx.try_send(Refresh::All);
                            if let Some(f) = following.take() {
                                // Re-read the screen too (its size may have changed).
                                f.stop.cancel();
                            }
                            actions.spawn(figures(self.mesh.clone()));
                            model.flash = Some("refreshing…".into());
                        }
                        Action::Attach(addr) => {
                            drop(events);
                            drop(term);
                            drop(guard);
                            let msg = self.attach(&addr, &stop).await;
                            (guard, term, events) = open_terminal()?;
                            term.clear().map_err(|e| TuiError::terminal("drawing", e))?;
                            model.flash = Some(msg);
                        }
                        other => {
                            actions.spawn(perform(self.mesh.clone(), other));
                        }
                    }
                }
            }
        }
        drop(guard);
        stop.cancel();
        actions.shutdown().await;
        tasks.shutdown().await;
        Ok(())
    }

    async fn attach(&self, addr: &str, stop: &CancellationToken) -> String {
        let (c, s) = match self.mesh.resolve_session(addr).await {
            Ok(cs) => cs,
            Err(e) => return format!("attach {addr}: {e}"),
        };
        let a = Attach::new(self.mesh.clone(), c, s, self.opts.detach);
        match a.run(stop.child_token()).await {
            Ok(Ended::Detached) => format!("detached from {addr}"),
            Ok(Ended::SessionEnded(why)) => format!("{addr}: {why}"),
            Err(e) => format!("attach {addr}: {e}"),
        }
    }
}

/// Marks a task result that carries status figures, not a message.
const FIGURES: &str = "\u{0}figures:";

/// Redis latency and the dead-letter count, read once (at start, on `r`).
async fn figures(mesh: Mesh) -> String {
    let ping = mesh.bus().ping().await.map(|d| d.as_micros()).unwrap_or(0);
    let dead = mesh.bus().dead_letter_count().await.unwrap_or(0);
    format!("{FIGURES}{ping} {dead}")
}

fn apply_figures(model: &mut Model, s: &str) {
    let mut it = s.split(' ');
    if let (Some(Ok(us)), Some(Ok(dead))) = (
        it.next().map(str::parse::<u64>),
        it.next().map(str::parse::<u64>),
    ) {
        if us > 0 {
            model.latency = Some(Duration::from_micros(us));
        }
        model.dead_letters = Some(dead);
    }
}

/// Runs one action against the mesh; returns what to tell the user.
async fn perform(mesh: Mesh, action: Action) -> String {
    let said = |r: Result<String, MeshError>| r.unwrap_or_else(|e| e.to_string());
    match action {
        Action::Send { addr, text } => said(
            mesh.send_text(&addr, &text, true)
                .await
                .map(|_| format!("sent to {addr}")),
        ),
        Action::Keys { addr, keys } => said(
            mesh.send_keys(&addr, &keys)
                .await
                .map(|_| format!("pressed {} in {addr}", keys.join(" "))),
        ),
        Action::New { target, dir, agent } => said(
            mesh.new_session(&target, dir, None, agent, false)
                .await
                .map(|c| format!("created {}/{}", c.computer, c.session)),
        ),
        Action::Kill(addr) => said(
            mesh.kill(&addr)
                .await
                .map(|(c, s)| format!("killed {c}/{s}")),
        ),
        Action::Answer {
            addr,
            choice,
            prompt_id,
        } => said(
            mesh.answer(&addr, &choice, prompt_id.as_deref())
                .await
                .map(|a| format!("answered {}. {}", a.number, a.label)),
        ),
        Action::None | Action::Quit | Action::Refresh | Action::Attach(_) => String::new(),
    }
}
