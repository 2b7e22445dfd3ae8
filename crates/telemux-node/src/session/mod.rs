//! One session's watcher: tmux control-mode output → ordered output records.
//!
//! The watcher owns the session's control client, its renderer and its
//! sequence counter, so everything about one session is ordered by one task
//! and a flooding session only ever delays itself. One concern per file:
//!
//! * [`output`]: output is gathered for a few milliseconds, rendered into
//!   lines (or a captured frame for full-screen programs);
//! * [`lifecycle`]: exit codes arrive from tmux pane options written by the
//!   shell hook (never from the output), and pane deaths from `pane_dead`;
//!   both are published after the output that preceded them; `run` timeouts;
//! * [`agent`]: agent-state tracking of agent sessions;
//! * [`publish`]: appending to the session's stream; records wait in a
//!   bounded [`outbox`] while Redis is away; when it is full, the oldest
//!   output is folded into one gap record (exit events stay).
//!
//! This file starts a watcher ([`start`]) and runs its loop.

mod account;
mod agent;
mod lifecycle;
mod outbox;
mod output;
mod publish;
mod rename;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{now_ms, AgentState, MeshEvent, OutputEvent, OutputRecord, SessionName};
use telemux_tmux::ControlClient;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::agent::AgentWatch;
use self::lifecycle::Lifecycle;
use self::outbox::Outbox;
use self::output::{Output, AGENT_LOOK};
use self::publish::Publisher;
use crate::agent::hooks::EventReader;
use crate::config::MIN_OUTBOX_RECORDS;
use crate::error::OpError;
use crate::render::Renderer;
use crate::state::{Shared, WatcherHandle};
use crate::watch_cmd::{self, WatchCmd};

/// How a watched session came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Created by this node just now: start counting exit records from zero.
    Created,
    /// Found on the tmux socket (node restart, or made by hand).
    Adopted,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct Watcher {
    /// The watcher's id in the session table.
    id: u64,
    out: Output,
    publish: Publisher,
    life: Lifecycle,
    agent: Option<AgentWatch>,
    /// Requests from operations (rename); `None` once every sender is gone
    /// (a successor under the same name took the table entry).
    control: Option<mpsc::Receiver<WatchCmd>>,
}

/// Starts watching `name`; returns the output-stream cursor to read from so
/// that nothing the session prints from now on is missed.
pub(crate) async fn start(
    shared: &Arc<Shared>,
    name: SessionName,
    origin: Origin,
    run_timeout: Option<Duration>,
    by: &str,
) -> Result<String, OpError> {
    let computer = &shared.cfg.computer;
    let cancel = shared.cancel.child_token();
    let ctl = ControlClient::attach(&shared.hub, &name, cancel.clone()).await?;
    let last = shared.bus.last_output(computer, &name).await?;
    let stream_bytes = match &last {
        // Seeds the byte account; without it the bound only counts new records.
        Some(_) => shared.bus.output_bytes(computer, &name).await.unwrap_or_else(|e| {
            tracing::debug!(computer = %computer, session = %name, error = %e, "cannot measure the output stream");
            None
        }),
        None => None,
    };
    let (seq, cursor, last_ts) = match &last {
        Some((id, env)) => match env.open::<OutputRecord>() {
            Ok(r) => (r.seq + 1, id.clone(), r.ts_ms),
            Err(_) => (0, id.clone(), 0),
        },
        None => (0, "0-0".to_string(), 0),
    };
    let exits_seen = match origin {
        Origin::Created => {
            shared.bus.set_exits_seen(computer, &name, 0).await?;
            0
        }
        Origin::Adopted => shared.bus.exits_seen(computer, &name).await?,
    };
    let pane = shared.tmux.pane_status(&name).await?;
    // So that its end can tell "killed" from "lost with the server".
    let server_pid = shared.tmux.server_pid().await.ok().flatten();
    let run_timeout = match origin {
        Origin::Created => run_timeout,
        // A `run` session outlives a node restart: its deadline (hence
        // "kill it once its exit is published") is kept in a pane option.
        Origin::Adopted => shared
            .tmux
            .run_deadline(&name)
            .await?
            .map(|ms| Duration::from_millis(ms.saturating_sub(now_ms()))),
    };
    let mut renderer = Renderer::new();
    renderer.set_alternate_screen(pane.alternate_on);
    let mut agent = shared.cfg.agents.get(&pane.agent).map(|profile| {
        let resumed = telemux_tmux::pane::parse_agent_state(&pane.agent_state).map(|(s, _)| s);
        let state = resumed.unwrap_or(AgentState::Starting);
        AgentWatch::new(
            profile.clone(),
            state,
            // An adopted agent may have changed state while nobody watched.
            Instant::now() + AGENT_LOOK,
            pane.agent_signal.clone(),
            EventReader::new(&shared.cfg.state_dir, &pane.pane_id),
        )
    });
    if let Some(a) = &mut agent {
        match origin {
            Origin::Created => a.start_fresh().await,
            Origin::Adopted => a.catch_up().await,
        }
    }

    let check = Arc::new(Notify::new());
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let (control, control_rx) = mpsc::channel(watch_cmd::QUEUE);
    shared.sessions.insert(
        name.key(),
        WatcherHandle {
            seen: None,
            check: check.clone(),
            id,
            name: name.clone(),
            agent: pane.agent.clone(),
            agent_changes: agent.as_ref().map(|a| a.subscribe()),
            agent_info: agent.as_ref().map(|a| a.info.clone()),
            input: Arc::default(),
            server_pid,
            last_command: None,
            control,
        },
    );
    shared.sessions_changed.notify_one();
    let mut w = Watcher {
        id,
        control: Some(control_rx),
        out: Output::new(ctl, renderer),
        publish: Publisher::new(
            shared.clone(),
            name.clone(),
            seq,
            last.as_ref().map(|(id, _)| id.as_str()),
            stream_bytes,
            Outbox::new(shared.cfg.outbox_records.max(MIN_OUTBOX_RECORDS)),
        ),
        life: Lifecycle::new(exits_seen, run_timeout, server_pid),
        agent,
    };
    if origin == Origin::Adopted && last.is_some() && pane.activity_ms > last_ts {
        // We were not listening while the node was down: say so, never hide it.
        w.publish.emit(
            OutputEvent::Gap {
                from_seq: seq,
                to_seq: seq,
                reason: "output printed while the node was down was not streamed; `read` shows the screen and scrollback".into(),
            },
            None,
        );
    }
    if let (Origin::Created, Some(a)) = (origin, &w.agent) {
        let detail = format!("{} started", a.profile.name);
        w.publish.emit(
            OutputEvent::AgentState {
                state: AgentState::Starting,
                detail,
                prompt: None,
                source: String::new(),
            },
            None,
        );
    }
    if origin == Origin::Created || last.is_none() {
        shared.mesh_event(MeshEvent::SessionCreated {
            computer: computer.to_string(),
            session: name.to_string(),
            by: by.to_string(),
        });
    }
    tracing::info!(computer = %computer, session = %name, ?origin, seq, "watching session");
    // After the handle is in the table: a predecessor of this name that is
    // retiring right now either sees it and undoes its expiry (below) or set
    // that expiry before this, so the stream never expires under a live
    // session. Even with no stream yet: the predecessor may be writing its
    // closing record this moment.
    w.publish.keep().await;
    let shared2 = shared.clone();
    shared.tracker.spawn(async move {
        let stopping = cancel.clone();
        w.run(cancel, check).await;
        // Renamed meanwhile, perhaps: the name is the publisher's now.
        let name = w.publish.name.clone();
        // Closed: the closure is published. A watcher that gave up on a
        // session tmux no longer has (its control client lost) ended too;
        // one stopped by the node's shutdown did not.
        let ended = w.life.closed() || (!stopping.is_cancelled() && w.session_gone().await);
        if !stopping.is_cancelled() {
            // The watcher ends with its session (closed, or its control
            // client lost with it): so does any stdin file of its run. When
            // the node merely stops, the session lives on and keeps it.
            crate::run_stdin::remove(&shared2, &name).await;
        }
        if ended {
            w.publish.retire().await;
        }
        if shared2.sessions.remove_if_id(&name.key(), id) {
            shared2.sessions_changed.notify_one();
        } else if ended {
            // A session of the same name started while this one retired.
            w.publish.keep().await;
        }
    });
    Ok(cursor)
}

impl Watcher {
    async fn run(&mut self, cancel: CancellationToken, check: Arc<Notify>) {
        // A pane may have died or finished commands before we attached.
        self.check().await;
        while !self.life.closed() {
            let deadline = self.life.run_deadline;
            let retry = self.publish.has_queued();
            let look = self.agent.as_ref().and_then(|a| a.next_wake());
            tokio::select! {
                _ = cancel.cancelled() => break,
                batch = self.out.ctl.next_batch() => {
                    let batch = self.out.coalesce(&self.publish, batch).await;
                    let exited = batch.exited;
                    let look = self.agent.as_mut().map(|a| &mut a.look_at);
                    self.out.on_output(&mut self.publish, look, batch).await;
                    self.publish.flush().await;
                    if exited && cancel.is_cancelled() {
                        // The node is stopping (the hub went with it): not a loss.
                        break;
                    }
                    if exited {
                        self.check().await;
                        if !self.life.closed() {
                            // The control client died but the session lives: re-attach.
                            let p = &self.publish;
                            match ControlClient::attach(&p.shared.hub, &p.name, cancel.child_token()).await {
                                Ok(c) => self.out.ctl = c,
                                Err(e) => {
                                    // Usually the session went away meanwhile:
                                    // check again so its closure is published.
                                    self.check().await;
                                    if !self.life.closed() {
                                        self.lost_client(e).await;
                                        if !self.life.closed() {
                                            break;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                _ = check.notified() => self.check().await,
                cmd = recv_opt(&mut self.control), if self.control.is_some() => match cmd {
                    Some(cmd) => self.on_cmd(cmd).await,
                    None => self.control = None,
                },
                _ = sleep_until_opt(look), if look.is_some() => {
                    if let Some(a) = &mut self.agent {
                        a.wake(&mut self.out, &mut self.publish).await;
                    }
                }
                _ = sleep_until_opt(deadline) => {
                    self.life.on_timeout(&mut self.out, &mut self.publish, self.agent.as_mut()).await;
                }
                _ = tokio::time::sleep(Duration::from_millis(500)), if retry => self.publish.flush().await,
            }
        }
        self.publish.flush().await;
    }

    /// The control client could not be re-attached and the check did not
    /// see the session go. If tmux says it is gone, its closure is published
    /// the normal way (never an end without a record); if it is still there,
    /// the watcher ends with a warning and the next reconcile adopts it again.
    async fn lost_client(&mut self, e: telemux_tmux::TmuxError) {
        let p = &self.publish;
        match p.shared.tmux.has_session(&p.name).await {
            Ok(false) => {
                self.life
                    .close(&mut self.out, &mut self.publish, self.agent.as_mut())
                    .await
            }
            _ => {
                tracing::warn!(computer = %p.shared.cfg.computer, session = %p.name, error = %e, "lost control client");
            }
        }
    }

    /// Whether tmux says the session no longer exists.
    async fn session_gone(&self) -> bool {
        let p = &self.publish;
        matches!(p.shared.tmux.has_session(&p.name).await, Ok(false))
    }

    async fn on_cmd(&mut self, cmd: WatchCmd) {
        match cmd {
            WatchCmd::Rename {
                to,
                over_pointer,
                by,
                reply,
            } => {
                let r = self.rename(to, over_pointer, &by).await;
                let _ = reply.send(r);
            }
        }
    }

    async fn check(&mut self) {
        self.life
            .check(&mut self.out, &mut self.publish, self.agent.as_mut())
            .await;
    }
}

async fn recv_opt(rx: &mut Option<mpsc::Receiver<WatchCmd>>) -> Option<WatchCmd> {
    match rx {
        Some(rx) => rx.recv().await,
        None => None,
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
