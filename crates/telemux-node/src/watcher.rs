//! One session's watcher: tmux control-mode output → ordered output records.
//!
//! The watcher owns the session's control client, its [`Renderer`] and its
//! sequence counter, so everything about one session is ordered by one task
//! and a flooding session only ever delays itself. Output is gathered for a
//! few milliseconds, rendered into lines (or a captured frame for full-screen
//! programs) and appended to the session's stream. Exit codes arrive from tmux
//! pane options written by the shell hook (never from the output), and pane
//! deaths from `pane_dead`; both are published after the output that preceded
//! them. Records wait in a bounded outbox while Redis is away; when it is
//! full, the oldest output is folded into one gap record (exit events stay).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use telemux_bus::OutputIds;
use telemux_proto::{
    now_ms, AgentState, Envelope, Key, MeshEvent, OutputEvent, OutputRecord, SessionName,
};
use telemux_tmux::{Batch, ControlClient, TmuxError, WrapperState};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::agent::{parse_signal, AgentProfile, Tracker};
use crate::config::MIN_OUTBOX_RECORDS;
use crate::error::OpError;
use crate::node::{Shared, WatcherHandle};
use crate::outbox::{Outbox, Pending};
use crate::render::{Rendered, Renderer};

/// How a watched session came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Created by this node just now: start counting exit records from zero.
    Created,
    /// Found on the tmux socket (node restart, or made by hand).
    Adopted,
}

/// Largest text (and, separately, raw) payload put into one record; bigger
/// bursts are split. With `node.output_maxlen` records kept per stream this
/// bounds Redis memory per session (2000 × 2 × 16 KiB ≈ 64 MiB worst case).
const RECORD_BYTES: usize = 16 * 1024;
/// Records sent to Redis in one pipelined round trip.
const FLUSH_BATCH: usize = 64;
/// Time given to tmux to deliver a command's last output before its exit
/// record is published, so the exit follows the output it belongs to.
const SETTLE: Duration = Duration::from_millis(25);
/// Least time between two captured frames of a full-screen program.
const FRAME_INTERVAL: Duration = Duration::from_millis(50);
/// Output an agent's screen is given to settle before it is classified again;
/// also the most often a busy agent's screen is captured.
const AGENT_LOOK: Duration = Duration::from_millis(120);
/// Grace after Ctrl-C before a timed-out run session is killed.
const KILL_GRACE: Duration = Duration::from_secs(2);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct Watcher {
    shared: Arc<Shared>,
    name: SessionName,
    ctl: ControlClient,
    renderer: Renderer,
    seq: u64,
    ids: OutputIds,
    outbox: Outbox,
    exits_seen: u64,
    exit_reported: bool,
    last_frame: Vec<String>,
    last_frame_at: Option<Instant>,
    run_deadline: Option<Instant>,
    timed_out: bool,
    closed: bool,
    failing: bool,
    agent: Option<AgentWatch>,
}

/// State tracking of an agent session (see [`crate::agent`]).
struct AgentWatch {
    profile: Arc<AgentProfile>,
    tracker: Tracker,
    /// When to capture and classify the screen next.
    look_at: Option<Instant>,
    /// The hook signal value already applied.
    signal_seen: String,
    /// The last published state; every change notifies ops waiting on one.
    changes: watch::Sender<AgentState>,
}

/// Starts watching `name`; returns the output-stream cursor to read from so
/// that nothing the session prints from now on is missed.
pub(crate) async fn start(
    shared: &Arc<Shared>,
    name: SessionName,
    origin: Origin,
    run_timeout: Option<Duration>,
) -> Result<String, OpError> {
    let computer = &shared.cfg.computer;
    let cancel = shared.cancel.child_token();
    let ctl = ControlClient::attach(&shared.tmux, &name, cancel.clone()).await?;
    let last = shared.bus.last_output(computer, &name).await?;
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
    let mut renderer = Renderer::new();
    renderer.set_alternate_screen(pane.alternate_on);
    let agent = shared.cfg.agents.get(&pane.agent).map(|profile| {
        let resumed = crate::ops::agent_state(&pane.agent_state).map(|(s, _)| s);
        let state = resumed.unwrap_or(AgentState::Starting);
        AgentWatch {
            profile: profile.clone(),
            tracker: Tracker::new(state),
            // An adopted agent may have changed state while nobody watched.
            look_at: Some(Instant::now() + AGENT_LOOK),
            signal_seen: pane.agent_signal.clone(),
            changes: watch::Sender::new(state),
        }
    });

    let check = Arc::new(Notify::new());
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    shared.watchers.lock().expect("watchers lock").insert(
        name.key(),
        WatcherHandle {
            seen: None,
            check: check.clone(),
            id,
            name: name.clone(),
            agent: pane.agent.clone(),
            agent_changes: agent.as_ref().map(|a| a.changes.subscribe()),
            input: Arc::default(),
        },
    );
    shared.sessions_changed.notify_one();
    let mut w = Watcher {
        shared: shared.clone(),
        name: name.clone(),
        ctl,
        renderer,
        seq,
        ids: OutputIds::after(last.as_ref().map(|(id, _)| id.as_str())),
        outbox: Outbox::new(shared.cfg.outbox_records.max(MIN_OUTBOX_RECORDS)),
        exits_seen,
        exit_reported: false,
        last_frame: Vec::new(),
        last_frame_at: None,
        run_deadline: run_timeout.map(|t| Instant::now() + t),
        timed_out: false,
        closed: false,
        failing: false,
        agent,
    };
    if origin == Origin::Adopted && last.is_some() && pane.activity_ms > last_ts {
        // We were not listening while the node was down: say so, never hide it.
        w.emit(
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
        w.emit(
            OutputEvent::AgentState {
                state: AgentState::Starting,
                detail,
            },
            None,
        );
    }
    if origin == Origin::Created || last.is_none() {
        shared
            .mesh_event(MeshEvent::SessionCreated {
                computer: computer.to_string(),
                session: name.to_string(),
            })
            .await;
    }
    tracing::info!(computer = %computer, session = %name, ?origin, seq, "watching session");
    let shared2 = shared.clone();
    shared.tracker.spawn(async move {
        w.run(cancel, check).await;
        let mut map = shared2.watchers.lock().expect("watchers lock");
        if map.get(&name.key()).map(|h| h.id) == Some(id) {
            map.remove(&name.key());
            shared2.sessions_changed.notify_one();
        }
    });
    Ok(cursor)
}

impl Watcher {
    async fn run(&mut self, cancel: CancellationToken, check: Arc<Notify>) {
        // A pane may have died or finished commands before we attached.
        self.check().await;
        while !self.closed {
            let deadline = self.run_deadline;
            let retry = !self.outbox.is_empty();
            let look = self.agent.as_ref().and_then(|a| a.look_at);
            tokio::select! {
                _ = cancel.cancelled() => break,
                batch = self.ctl.next_batch() => {
                    let batch = self.coalesce(batch).await;
                    let exited = batch.exited;
                    self.on_output(batch).await;
                    self.flush().await;
                    if exited {
                        self.check().await;
                        if !self.closed {
                            // The control client died but the session lives: re-attach.
                            match ControlClient::attach(&self.shared.tmux, &self.name, cancel.child_token()).await {
                                Ok(c) => self.ctl = c,
                                Err(e) => {
                                    // Usually the session went away meanwhile:
                                    // check again so its closure is published.
                                    self.check().await;
                                    if !self.closed {
                                        tracing::warn!(computer = %self.shared.cfg.computer, session = %self.name, error = %e, "lost control client");
                                        break;
                                    }
                                }
                            }
                        }
                    }
                }
                _ = check.notified() => self.check().await,
                _ = sleep_until_opt(look), if look.is_some() => self.look_at_agent().await,
                _ = sleep_until_opt(deadline) => self.on_timeout().await,
                _ = tokio::time::sleep(Duration::from_millis(500)), if retry => self.flush().await,
            }
        }
        self.flush().await;
    }

    /// Waits the coalescing window and merges whatever else arrived.
    async fn coalesce(&mut self, mut batch: Batch) -> Batch {
        if batch.exited {
            return batch;
        }
        tokio::time::sleep(self.shared.cfg.coalesce).await;
        if let Ok(more) = tokio::time::timeout(Duration::ZERO, self.ctl.next_batch()).await {
            batch.bytes.extend_from_slice(&more.bytes);
            batch.dropped += more.dropped;
            batch.exited |= more.exited;
        }
        batch
    }

    /// Takes output that is already waiting, without blocking.
    async fn drain(&mut self) {
        if let Ok(batch) = tokio::time::timeout(Duration::ZERO, self.ctl.next_batch()).await {
            self.on_output(batch).await;
        }
    }

    async fn on_output(&mut self, batch: Batch) {
        if batch.dropped > 0 {
            self.emit(
                OutputEvent::Gap {
                    from_seq: self.seq,
                    to_seq: self.seq,
                    reason: format!(
                        "{} bytes of output were dropped: the session printed faster than they could be published",
                        batch.dropped
                    ),
                },
                None,
            );
        }
        if batch.bytes.is_empty() {
            return;
        }
        if let Some(a) = &mut self.agent {
            // Not pushed back by later output, so a busy agent is still
            // looked at every AGENT_LOOK.
            a.look_at.get_or_insert(Instant::now() + AGENT_LOOK);
        }
        match self.renderer.feed(&batch.bytes) {
            Rendered::Nothing => {}
            Rendered::Lines { lines, partial, .. } => {
                self.emit_lines(lines, partial, batch.bytes);
            }
            Rendered::FullScreen { lines } => {
                if !lines.is_empty() {
                    // Lines printed before the program switched screens.
                    self.emit_lines(lines, String::new(), Vec::new());
                }
                self.capture_frame(batch.bytes).await
            }
        }
    }

    /// Splits a large burst into records of bounded size, raw bytes alongside.
    fn emit_lines(&mut self, lines: Vec<String>, partial: String, raw: Vec<u8>) {
        let mut chunks: Vec<Vec<String>> = vec![Vec::new()];
        let mut size = 0;
        for line in lines {
            if size + line.len() > RECORD_BYTES && !chunks.last().unwrap().is_empty() {
                chunks.push(Vec::new());
                size = 0;
            }
            size += line.len() + 1;
            chunks.last_mut().unwrap().push(line);
        }
        let raw_chunks: Vec<Vec<u8>> = raw.chunks(RECORD_BYTES).map(|c| c.to_vec()).collect();
        let n = chunks.len().max(raw_chunks.len());
        let mut chunks = chunks.into_iter();
        let mut raw_chunks = raw_chunks.into_iter();
        for i in 0..n {
            let last = i + 1 == n;
            self.emit(
                OutputEvent::Lines {
                    lines: chunks.next().unwrap_or_default(),
                    partial: if last { partial.clone() } else { String::new() },
                    raw: raw_chunks.next().unwrap_or_default(),
                },
                None,
            );
        }
    }

    async fn capture_frame(&mut self, raw: Vec<u8>) {
        if let Some(at) = self.last_frame_at {
            let next = at + FRAME_INTERVAL;
            if Instant::now() < next {
                // Let intermediate frames collapse into the latest one.
                tokio::time::sleep_until(next).await;
            }
        }
        self.last_frame_at = Some(Instant::now());
        match self.shared.tmux.capture_screen(&self.name).await {
            Ok(rows) => {
                if rows != self.last_frame {
                    self.last_frame = rows.clone();
                    let start = raw.len().saturating_sub(RECORD_BYTES);
                    self.emit(
                        OutputEvent::Frame {
                            rows,
                            raw: raw[start..].to_vec(),
                        },
                        None,
                    );
                }
            }
            Err(e) => tracing::debug!(session = %self.name, error = %e, "frame capture failed"),
        }
    }

    /// Looks for finished commands, a dead pane, or a vanished session.
    ///
    /// One tmux call (`display-message` with every field the decision needs);
    /// the node only pokes a watcher whose pane changed, so an Enter in one
    /// session does not make every other session query tmux.
    async fn check(&mut self) {
        let computer = self.shared.cfg.computer.clone();
        let pane = match self.shared.tmux.pane_status(&self.name).await {
            Ok(p) => p,
            Err(TmuxError::NoSession(_)) => {
                self.drain().await;
                self.emit(
                    OutputEvent::SessionClosed {
                        reason: if self.exit_reported {
                            "closed after its process exited".into()
                        } else {
                            "killed".into()
                        },
                    },
                    None,
                );
                self.flush().await;
                self.shared
                    .mesh_event(MeshEvent::SessionClosed {
                        computer: computer.to_string(),
                        session: self.name.to_string(),
                    })
                    .await;
                tracing::info!(computer = %computer, session = %self.name, "session closed");
                self.closed = true;
                return;
            }
            Err(e) => {
                tracing::warn!(computer = %computer, session = %self.name, error = %e, "tmux check failed");
                return;
            }
        };
        if let Some(a) = &mut self.agent {
            if pane.agent_signal != a.signal_seen {
                a.signal_seen = pane.agent_signal.clone();
                if let Some((state, _)) = parse_signal(&pane.agent_signal) {
                    if a.tracker.signal(state).is_some() {
                        let detail = self.hook_detail(state).await;
                        self.agent_changed(state, detail).await;
                    }
                }
            }
        }
        let wrapper = WrapperState {
            status: pane.wrapper_status,
            reported: pane.wrapper_reported,
        };
        if wrapper.reported {
            self.exit_reported = true;
        }
        let last_exit = pane.last_exit.unwrap_or(0);
        let wrapper_exit = wrapper.status.filter(|_| !self.exit_reported);
        let dead_exit = pane.dead && !self.exit_reported && wrapper.status.is_none();
        if last_exit > self.exits_seen || wrapper_exit.is_some() || dead_exit {
            // The exit was signalled; give tmux a moment to hand over the
            // output that came before it, then publish that output first.
            tokio::time::sleep(SETTLE).await;
            self.drain().await;
        }
        if last_exit > self.exits_seen {
            match self
                .shared
                .tmux
                .exit_records(&self.name, self.exits_seen)
                .await
            {
                Ok(records) => {
                    for r in records {
                        self.exits_seen = self.exits_seen.max(r.n);
                        tracing::debug!(computer = %computer, session = %self.name, n = r.n, code = r.exit_code, "command finished");
                        self.emit(
                            OutputEvent::CommandFinished {
                                exit_code: r.exit_code,
                                started_ms: r.started_ms,
                                finished_ms: r.finished_ms,
                            },
                            Some(r.n),
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(session = %self.name, error = %e, "reading exit records failed")
                }
            }
        }
        let exit = match (wrapper_exit, dead_exit) {
            (Some(st), _) => Some((st, None, Some(pane.pane_id.clone()))),
            (None, true) => Some((pane.exit_status().unwrap_or(-1), pane.dead_signal, None)),
            _ => None,
        };
        if let Some((status, signal, release)) = exit {
            self.exit_reported = true;
            let agent_ended = self
                .agent
                .as_mut()
                .is_some_and(|a| a.tracker.signal(AgentState::Exited).is_some());
            if agent_ended {
                self.agent_changed(AgentState::Exited, format!("exit status {status}"))
                    .await;
            }
            tracing::info!(computer = %computer, session = %self.name, status, "session exited");
            let then_kill = self.run_deadline.is_some() || self.timed_out;
            self.emit_exit(status, signal, then_kill, release);
            self.shared
                .mesh_event(MeshEvent::SessionExited {
                    computer: computer.to_string(),
                    session: self.name.to_string(),
                    exit_status: status,
                })
                .await;
        }
        self.flush().await;
    }

    /// Captures an agent's screen and publishes a state change it shows.
    async fn look_at_agent(&mut self) {
        let Some(a) = &mut self.agent else { return };
        a.look_at = None;
        if a.tracker.state() == AgentState::Exited {
            return;
        }
        let rows = match self.shared.tmux.capture_screen(&self.name).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(session = %self.name, error = %e, "agent screen capture failed");
                return;
            }
        };
        let Some(a) = &mut self.agent else { return };
        let (change, again) = a.tracker.observe(&a.profile, &rows, Instant::now());
        a.look_at = again;
        if let Some((state, line)) = change {
            self.agent_changed(state, line).await;
        }
    }

    /// The `detail` of a state an agent's hook reported: for a question, the
    /// line on screen that asks it (what a notification should quote), since
    /// the hook itself does not say; otherwise where the state came from.
    async fn hook_detail(&self, state: AgentState) -> String {
        let from_hook = "reported by the agent's hook".to_string();
        let Some(a) = &self.agent else {
            return from_hook;
        };
        if state != AgentState::WaitingForInput {
            return from_hook;
        }
        match self.shared.tmux.capture_screen(&self.name).await {
            Ok(rows) => match a.profile.classify(&rows) {
                Some((AgentState::WaitingForInput, line)) => line,
                _ => from_hook,
            },
            Err(_) => from_hook,
        }
    }

    /// Publishes an agent state change and remembers it in tmux, so `sessions`
    /// shows it and a restarted node resumes from it.
    async fn agent_changed(&mut self, state: AgentState, detail: String) {
        tracing::info!(computer = %self.shared.cfg.computer, session = %self.name, %state, %detail, "agent state");
        // Output shown before the change belongs before it in the stream.
        self.drain().await;
        let value = format!("{state} {}", now_ms());
        if let Err(e) = self
            .shared
            .tmux
            .set_pane_option(&self.name, "@telemux_agent_state", &value)
            .await
        {
            tracing::debug!(session = %self.name, error = %e, "could not store agent state");
        }
        self.emit(OutputEvent::AgentState { state, detail }, None);
        if let Some(a) = &self.agent {
            a.changes.send_replace(state);
        }
        self.flush().await;
    }

    fn emit_exit(
        &mut self,
        status: i32,
        signal: Option<i32>,
        then_kill: bool,
        release: Option<String>,
    ) {
        let record = self.record(OutputEvent::SessionExited {
            exit_status: status,
            signal,
            timed_out: self.timed_out,
        });
        self.run_deadline = None;
        let mut p = Pending::new(record, None);
        p.then_kill = then_kill;
        p.release = release;
        self.push(p);
    }

    /// A `run` passed its timeout: interrupt, then kill if it lingers.
    async fn on_timeout(&mut self) {
        if !self.timed_out {
            tracing::info!(session = %self.name, "run timed out; sending Ctrl-C");
            self.timed_out = true;
            self.run_deadline = Some(Instant::now() + KILL_GRACE);
            if let Err(e) = self
                .shared
                .tmux
                .send_keys(&self.name, &[Key::Ctrl('c')])
                .await
            {
                tracing::debug!(session = %self.name, error = %e, "Ctrl-C failed");
            }
        } else if !self.exit_reported {
            tracing::info!(session = %self.name, "run ignored Ctrl-C; killing it");
            self.exit_reported = true;
            self.drain().await;
            self.emit_exit(124, None, true, None);
            self.flush().await;
        } else {
            self.run_deadline = None;
        }
    }

    fn record(&mut self, event: OutputEvent) -> OutputRecord {
        let r = OutputRecord {
            seq: self.seq,
            ts_ms: now_ms(),
            event,
        };
        self.seq += 1;
        r
    }

    fn emit(&mut self, event: OutputEvent, exit_n: Option<u64>) {
        let record = self.record(event);
        self.push(Pending::new(record, exit_n));
    }

    /// Queues a record for publishing under its stream id.
    fn push(&mut self, mut p: Pending) {
        p.id = self.ids.next(p.record.seq, p.record.ts_ms);
        if self.outbox.push(p) {
            tracing::warn!(computer = %self.shared.cfg.computer, session = %self.name, cap = self.outbox.cap(), "outbox full; dropping the oldest output");
        }
    }

    /// Publishes the outbox in order, pipelined; stops at the first failure
    /// and keeps the rest for the next attempt. Bookkeeping that must follow
    /// a stored record (exit marked published, wrapper released, run session
    /// killed) runs only after that record is stored.
    async fn flush(&mut self) {
        let computer = self.shared.cfg.computer.clone();
        if !self.outbox.is_empty() && !self.shared.bus.is_connected() {
            // Redis is away: an attempt would only wait out the command
            // timeout while this session's output piles up in tmux. Keep
            // reading it into the outbox; the retry timer tries again.
            if !self.failing {
                tracing::warn!(computer = %computer, session = %self.name, queued = self.outbox.len(), "Redis is unreachable; keeping output until it is back");
                self.failing = true;
            }
            return;
        }
        // Bounded, so a writer racing us with ever higher ids cannot keep
        // this task busy; the retry timer comes back later.
        let mut skips_left = 3;
        while !self.outbox.is_empty() {
            let mut envs = Vec::new();
            for p in self.outbox.front(FLUSH_BATCH) {
                match Envelope::seal(computer.as_str(), &p.record) {
                    Ok(e) => envs.push((p.id.clone(), e)),
                    Err(e) => {
                        // Cannot happen for our own record types; never block the queue on it.
                        tracing::error!(session = %self.name, error = %e, "record does not encode");
                        break;
                    }
                }
            }
            if envs.is_empty() {
                self.outbox.pop();
                continue;
            }
            self.outbox.mark_sent(envs.len());
            let maxlen = self.shared.cfg.output_maxlen.max(100);
            let (stored, err) = self
                .shared
                .bus
                .append_outputs(&computer, &self.name, &envs, maxlen)
                .await;
            for _ in 0..stored {
                let p = self.outbox.pop().expect("stored records are queued");
                self.after_stored(p).await;
            }
            if let (Some(telemux_bus::BusError::StreamAhead { newest, .. }), true) =
                (&err, skips_left > 0)
            {
                skips_left -= 1;
                // Someone wrote above our ids (Redis is not a trust
                // boundary): continue after their entry rather than have
                // every later record refused as "already stored".
                tracing::warn!(computer = %computer, session = %self.name, %newest, "a foreign entry is on top of the output stream; continuing after it");
                self.ids = OutputIds::after(Some(newest));
                let ids = &mut self.ids;
                self.outbox.reassign_ids(|r| ids.next(r.seq, r.ts_ms));
                continue;
            }
            if let Some(e) = err {
                if !self.failing {
                    tracing::warn!(computer = %computer, session = %self.name, error = %e, queued = self.outbox.len(), "cannot publish output; keeping it until Redis is back");
                    self.failing = true;
                }
                return;
            }
            self.failing = false;
        }
    }

    async fn after_stored(&mut self, p: Pending) {
        let computer = &self.shared.cfg.computer;
        if let Some(n) = p.exit_n {
            if let Err(e) = self
                .shared
                .bus
                .set_exits_seen(computer, &self.name, n)
                .await
            {
                tracing::warn!(session = %self.name, error = %e, "could not record exit as published");
            }
            if let Err(e) = self.shared.tmux.clear_exit_records(&self.name, n).await {
                tracing::debug!(session = %self.name, error = %e, "could not clear exit record");
            }
        }
        if let (Some(pane), false) = (&p.release, p.then_kill) {
            if let Err(e) = self.shared.tmux.release_exit(&self.name, pane).await {
                tracing::debug!(session = %self.name, error = %e, "could not release wrapper");
            }
        }
        if p.then_kill {
            if let Err(e) = self.shared.tmux.kill_session(&self.name).await {
                tracing::debug!(session = %self.name, error = %e, "kill after run failed");
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
