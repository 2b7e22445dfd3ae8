//! [`Node`]: startup, the command loop, adoption of sessions, and shutdown.
//!
//! Shared state lives in [`Shared`], owned by an `Arc` that every task holds.
//! "Reconcile" compares tmux's session list with our watchers: it adopts
//! sessions we do not watch yet (after a restart, or made by hand) and pokes
//! the others to look for exit codes and dead panes. It runs at start and on
//! every tmux wake-up, never on a timer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use telemux_bus::{Bus, CommandReader, Incoming};
use telemux_proto::{
    now_ms, AgentState, Envelope, ErrorCode, MeshEvent, Reply, ReplyBody, Request, SessionName,
};
use telemux_tmux::{ShellLaunch, Tmux, Waker};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::replay_store::{AcceptedCommands, Admission};
use crate::{heartbeat, ops, watcher, NodeConfig, NodeError};

/// A running node; create with [`Node::new`], drive with [`Node::run`].
pub struct Node {
    cfg: NodeConfig,
    bus: Bus,
}

/// What reconcile last saw of a pane; a watcher is poked only when it changes.
pub(crate) type Fingerprint = (Option<u64>, bool, Option<i32>, Option<i32>, bool, String);

fn fingerprint(p: &telemux_tmux::PaneInfo) -> Fingerprint {
    (
        p.last_exit,
        p.dead,
        p.exit_status(),
        p.wrapper_status,
        p.wrapper_reported,
        p.agent_signal.clone(),
    )
}

/// Handle on one session's watcher task.
pub(crate) struct WatcherHandle {
    /// The pane state last seen by reconcile.
    pub seen: Option<Fingerprint>,
    /// Poked when tmux signals that exit codes or pane deaths may be waiting.
    pub check: Arc<Notify>,
    /// Distinguishes a watcher from its successor under the same name.
    pub id: u64,
    /// The session's name as tmux spells it.
    pub name: SessionName,
    /// Agent profile the session runs (empty: none); fixed at creation.
    pub agent: String,
    /// The agent's state changes as the watcher publishes them (agent sessions).
    pub agent_changes: Option<tokio::sync::watch::Receiver<AgentState>>,
    /// Orders input into the session (see [`InputGate`]).
    pub input: Arc<InputGate>,
}

/// Orders the input typed into one session: the operations that type, and a
/// delayed second Enter that must never land after newer input.
#[derive(Debug, Default)]
pub(crate) struct InputGate {
    /// Held while input is being typed.
    pub lock: tokio::sync::Mutex<()>,
    /// Bumped by every input operation, so a pending retry sees it was overtaken.
    pub generation: std::sync::atomic::AtomicU64,
}

/// State shared by the node's tasks.
pub(crate) struct Shared {
    pub cfg: NodeConfig,
    pub bus: Bus,
    pub tmux: Tmux,
    pub host: String,
    pub started_ms: u64,
    pub shell: ShellLaunch,
    pub watchers: Mutex<HashMap<String, WatcherHandle>>,
    /// Poked when a session is watched or retired, so the registry's session
    /// count follows without waiting for the next heartbeat.
    pub sessions_changed: Notify,
    /// Serialises "create or adopt a session" so two paths never watch one twice.
    pub topology: tokio::sync::Mutex<()>,
    pub tracker: TaskTracker,
    pub cancel: CancellationToken,
}

impl Shared {
    /// Number of sessions currently watched.
    pub fn session_count(&self) -> u32 {
        self.watchers.lock().map(|w| w.len() as u32).unwrap_or(0)
    }

    /// Publishes a mesh event, logging (not failing) when Redis is away.
    pub async fn mesh_event(&self, ev: MeshEvent) {
        match Envelope::seal(self.cfg.computer.as_str(), &ev) {
            Ok(env) => {
                if let Err(e) = self.bus.publish_event(&env).await {
                    tracing::warn!(computer = %self.cfg.computer, error = %e, "could not publish mesh event");
                }
            }
            Err(e) => tracing::error!(error = %e, "could not encode mesh event"),
        }
    }
}

/// Whether a process with this id exists (signal 0 only checks).
fn pid_alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 sends nothing; it only reports existence.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// The user's login shell from the password database, for daemons started
/// without `$SHELL` (cron, some service managers, CI runners).
fn login_shell() -> Option<std::path::PathBuf> {
    use std::ffi::CStr;
    use std::os::unix::ffi::OsStrExt;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: zeroed passwd is a valid out-parameter; getpwuid_r writes only
    // into `pwd` and `buf` (whose length we pass) and sets `result`.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pwd.pw_shell.is_null() {
        return None;
    }
    // SAFETY: on success pw_shell points at a NUL-terminated string inside `buf`.
    let shell = unsafe { CStr::from_ptr(pwd.pw_shell) };
    let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(shell.to_bytes()));
    (path.is_absolute() && path.is_file()).then_some(path)
}

/// This machine's host name as nodes record it (`ComputerInfo::host`); a tiny
/// blocking read, so async callers use `spawn_blocking`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

impl Node {
    /// A node for `cfg` talking to the mesh through `bus`.
    pub fn new(cfg: NodeConfig, bus: Bus) -> Node {
        Node { cfg, bus }
    }

    /// Runs until `shutdown` is cancelled, then deregisters (so others see it
    /// offline at once) and waits for its tasks. Sessions keep running in tmux.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), NodeError> {
        let computer = self.cfg.computer.clone();
        let tmux = Tmux::new(&self.cfg.tmux_socket);
        tmux.ensure_server().await?;
        let host = tokio::task::spawn_blocking(host_name)
            .await
            .unwrap_or_default();

        if let Some(existing) = self.bus.computer(&computer).await? {
            // A record left by a crashed predecessor on this host is fine; a
            // live twin (another host, or a running process here) is not.
            let twin_here = existing.info.host == host
                && existing.info.pid != 0
                && existing.info.pid != std::process::id()
                && pid_alive(existing.info.pid);
            let elsewhere = !existing.info.host.is_empty() && existing.info.host != host;
            if existing.online && (twin_here || elsewhere) {
                return Err(NodeError::NameTaken(
                    existing.info.name,
                    now_ms().saturating_sub(existing.info.started_ms),
                    existing.info.host,
                ));
            }
        }

        let shell_path = self
            .cfg
            .shell
            .clone()
            .or_else(|| std::env::var_os("SHELL").map(Into::into))
            .or_else(login_shell)
            .unwrap_or_else(|| "/bin/sh".into());
        let shell =
            telemux_tmux::shell::prepare(&self.cfg.state_dir.join("shell"), &shell_path).await?;

        let cancel = shutdown.child_token();
        let shared = Arc::new(Shared {
            cfg: self.cfg,
            bus: self.bus,
            tmux: tmux.clone(),
            host,
            started_ms: now_ms(),
            shell,
            watchers: Mutex::new(HashMap::new()),
            sessions_changed: Notify::new(),
            topology: tokio::sync::Mutex::new(()),
            tracker: TaskTracker::new(),
            cancel: cancel.clone(),
        });
        tracing::info!(computer = %computer, socket = %shared.cfg.tmux_socket, "node starting");

        reconcile(&shared).await;
        if let Err(e) = shared.bus.heartbeat(&heartbeat::info(&shared, false)).await {
            tracing::warn!(computer = %computer, error = %e, "first heartbeat failed; will retry");
        }
        shared
            .mesh_event(MeshEvent::ComputerOnline {
                computer: computer.to_string(),
            })
            .await;

        shared
            .tracker
            .spawn(heartbeat::run(shared.clone(), cancel.clone()));
        let mut wakes = Waker::spawn(tmux.clone(), cancel.clone());
        {
            let shared = shared.clone();
            let cancel = cancel.clone();
            shared.clone().tracker.spawn(async move {
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        w = wakes.recv() => if w.is_none() { return },
                    }
                    reconcile(&shared).await;
                }
            });
        }

        let result = command_loop(&shared, &cancel).await;

        cancel.cancel();
        shared.tracker.close();
        shared.tracker.wait().await;
        if let Err(e) = shared.bus.deregister(&heartbeat::info(&shared, true)).await {
            tracing::warn!(computer = %computer, error = %e, "could not deregister");
        }
        shared
            .mesh_event(MeshEvent::ComputerOffline {
                computer: computer.to_string(),
            })
            .await;
        tracing::info!(computer = %computer, "node stopped");
        result
    }
}

/// Reads requests until cancelled; each is taken at most once, executed,
/// answered and then acknowledged, so a crash mid-way re-delivers it to the
/// restarted node, which skips what it already took.
async fn command_loop(shared: &Arc<Shared>, cancel: &CancellationToken) -> Result<(), NodeError> {
    let computer = &shared.cfg.computer;
    let mut reader = CommandReader::new(&shared.bus, computer);
    // Accepted command ids, on disk: replays are refused across restarts (replay_store.rs).
    let mut replays = AcceptedCommands::open(&shared.cfg.state_dir, shared.cfg.max_skew).await?;
    loop {
        let incoming = match reader.next(cancel).await {
            Ok(Some(i)) => i,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(computer = %computer, error = %e, "command stream read failed; retrying");
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
        };
        handle(shared, &reader, &mut replays, incoming).await;
    }
}

async fn handle(
    shared: &Arc<Shared>,
    reader: &CommandReader,
    replays: &mut AcceptedCommands,
    incoming: Incoming,
) {
    let computer = &shared.cfg.computer;
    let stream = telemux_proto::keys::commands(computer);
    let entry = incoming.entry_id.clone();
    let raw = incoming.raw.clone();
    let refuse = |reason: String| async move {
        tracing::warn!(computer = %computer, entry = %entry, %reason, "refusing command entry; dead-lettered");
        if let Err(e) = reader
            .dead_letter(&stream, &entry, &reason, raw.as_deref())
            .await
        {
            tracing::warn!(computer = %computer, error = %e, "dead-letter failed");
        }
    };
    let env = match incoming.envelope {
        Ok(env) => env,
        Err(e) => return refuse(e.to_string()).await,
    };
    let req = match env.open::<Request>() {
        Ok(r) => r,
        Err(e) => return refuse(e.to_string()).await,
    };
    // --- admission (replay_store.rs): signature, target computer, durable replay record ---
    let key = shared.cfg.mesh_key.as_ref();
    let admission = replays
        .admit(key, computer, &env, &req, &incoming.entry_id)
        .await;
    let checked = match admission {
        Admission::Run => Ok(()),
        Admission::Redelivered => {
            tracing::info!(computer = %computer, id = %env.id, "command accepted before a restart; not running it twice");
            let _ = reader.ack(&incoming.entry_id).await;
            return;
        }
        Admission::Refused(e) => Err(e),
    };
    // --- end admission ---
    if let Err(e) = checked {
        tracing::warn!(computer = %computer, from = %env.from, id = %env.id, error = %e, "refused command");
        if !req.reply_to.is_empty() {
            let reply = Reply {
                request_id: env.id,
                result: ReplyBody::Error {
                    code: ErrorCode::BadInput,
                    message: format!("{computer} refused the command: {e}"),
                },
            };
            if let Ok(renv) = Envelope::seal(computer.as_str(), &reply) {
                let _ = shared.bus.reply(&req.reply_to, &renv).await;
            }
        }
        return refuse(e.to_string()).await;
    }
    match reader.try_take(&env.id).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(computer = %computer, id = %env.id, "command already taken before a restart; not running it twice");
            let _ = reader.ack(&incoming.entry_id).await;
            return;
        }
        Err(e) => {
            // Leave it pending: it is re-read after Redis or the node comes back.
            tracing::warn!(computer = %computer, error = %e, "could not mark command taken");
            return;
        }
    }
    let result = if req.deadline_ms != 0 && req.deadline_ms < now_ms() {
        ReplyBody::Error {
            code: ErrorCode::Internal,
            message: format!("request expired before {computer} could run it"),
        }
    } else {
        tracing::debug!(computer = %computer, op = ?req.op, "executing");
        match ops::execute(shared, req.op).await {
            Ok(body) => body,
            Err(e) => e.into_reply(),
        }
    };
    if !req.reply_to.is_empty() {
        let reply = Reply {
            request_id: env.id,
            result,
        };
        match Envelope::seal(computer.as_str(), &reply) {
            Ok(renv) => {
                if let Err(e) = shared.bus.reply(&req.reply_to, &renv).await {
                    tracing::warn!(computer = %computer, error = %e, "could not send reply");
                }
            }
            Err(e) => tracing::error!(error = %e, "could not encode reply"),
        }
    }
    if let Err(e) = reader.ack(&incoming.entry_id).await {
        tracing::warn!(computer = %computer, error = %e, "ack failed; the command stays taken");
    }
}

/// Adopts unwatched sessions, pokes watched ones, and retires watchers of
/// sessions that are gone.
pub(crate) async fn reconcile(shared: &Arc<Shared>) {
    let _topology = shared.topology.lock().await;
    let panes = match shared.tmux.list().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(computer = %shared.cfg.computer, error = %e, "cannot list tmux sessions");
            return;
        }
    };
    let mut present = HashSet::new();
    for pane in panes {
        let name = pane.session.clone();
        present.insert(name.key());
        let poked = {
            let mut w = shared.watchers.lock().expect("watchers lock");
            match w.get_mut(&name.key()) {
                Some(h) => {
                    let fp = fingerprint(&pane);
                    if h.seen.as_ref() != Some(&fp) {
                        h.seen = Some(fp);
                        h.check.notify_one();
                    }
                    true
                }
                None => false,
            }
        };
        if !poked {
            if let Err(e) =
                watcher::start(shared, name.clone(), watcher::Origin::Adopted, None).await
            {
                tracing::warn!(computer = %shared.cfg.computer, session = %name, error = %e, "cannot watch session");
            }
        }
    }
    // Watchers of vanished sessions notice on their check, publish the
    // closure and remove themselves.
    let w = shared.watchers.lock().expect("watchers lock");
    for (_, h) in w.iter().filter(|(k, _)| !present.contains(*k)) {
        h.check.notify_one();
    }
}
