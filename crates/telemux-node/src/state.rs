//! State shared by the node's tasks: [`Shared`] (config, bus, tmux, the task
//! tracker) and the [`SessionTable`] of watched sessions.
//!
//! A leaf: it imports no other module of this crate but `config`, so every
//! part of the node (daemon, ops, session watchers, heartbeat) can depend on
//! it without depending on each other.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use telemux_bus::Bus;
use telemux_proto::{AgentState, Envelope, MeshEvent, SessionName};
use telemux_tmux::{ControlHub, ShellLaunch, Tmux};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::NodeConfig;

/// What reconcile last saw of a pane; a watcher is poked only when it changes.
pub(crate) type Fingerprint = (Option<u64>, bool, Option<i32>, Option<i32>, bool, String);

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
    pub agent_changes: Option<watch::Receiver<AgentState>>,
    /// What the watcher knows about the agent (agent sessions).
    pub agent_info: Option<crate::agent::info::SharedInfo>,
    /// Orders input into the session (see [`InputGate`]).
    pub input: Arc<InputGate>,
    /// Pid of the tmux server the session lived on when it was watched.
    pub server_pid: Option<u32>,
    /// The last command the shell finished: its exit record number and
    /// code (the mailbox answers `notify` messages to shells with it).
    pub last_command: Option<(u64, i32)>,
    /// Requests for the watcher that must be ordered with its records (rename).
    pub control: tokio::sync::mpsc::Sender<crate::watch_cmd::WatchCmd>,
}

/// Orders the input typed into one session: the operations that type, and a
/// delayed second Enter that must never land after newer input.
#[derive(Debug, Default)]
pub(crate) struct InputGate {
    /// Held while input is being typed.
    pub lock: tokio::sync::Mutex<()>,
    /// Bumped by every input operation, so a pending retry sees it was overtaken.
    pub generation: AtomicU64,
}

/// The watched sessions, keyed by lower-cased name, and the names being
/// created or adopted right now ("claims").
///
/// The one locking policy for the table lives here: a std `Mutex`, taken
/// only inside these small synchronous methods, so it can never be held
/// across an await (on Redis, tmux or anything else).
///
/// Claims replace a node-wide "topology" lock that used to be held across
/// tmux and Redis calls (so a Redis outage stalled every `create` behind a
/// reconcile). A path that is about to start a watcher claims the name
/// first; the other path sees the claim and leaves the name alone. See
/// [`SessionTable::claim`] and [`SessionTable::claim_unwatched`].
#[derive(Default)]
pub(crate) struct SessionTable {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, WatcherHandle>,
    claims: HashSet<String>,
}

/// A name claimed in the [`SessionTable`]; released on drop.
pub(crate) struct Claim<'a> {
    table: &'a SessionTable,
    key: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.table.lock().claims.remove(&self.key);
    }
}

impl SessionTable {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding it leaves the table consistent (every method
        // is a single map operation), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of sessions currently watched.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Claims `key` for a session being created: fails only while another
    /// create or adoption holds it. A watched predecessor of the same name
    /// (killed, its watcher not yet retired) does not block it: the new
    /// watcher replaces its handle.
    pub fn claim(&self, key: &str) -> Option<Claim<'_>> {
        self.lock().claims.insert(key.to_string()).then(|| Claim {
            table: self,
            key: key.to_string(),
        })
    }

    /// Claims `key` for adoption: fails when the session is watched already
    /// or claimed by another path (a create that has not inserted its
    /// watcher yet). Checked and taken under one lock, so two paths never
    /// watch one session twice.
    pub fn claim_unwatched(&self, key: &str) -> Option<Claim<'_>> {
        let mut inner = self.lock();
        if inner.map.contains_key(key) || !inner.claims.insert(key.to_string()) {
            return None;
        }
        Some(Claim {
            table: self,
            key: key.to_string(),
        })
    }

    /// The lower-cased names claimed right now.
    pub fn claimed(&self) -> Vec<String> {
        self.lock().claims.iter().cloned().collect()
    }

    /// Watches `handle` under `key`, replacing a predecessor of the same name.
    pub fn insert(&self, key: String, handle: WatcherHandle) {
        self.lock().map.insert(key, handle);
    }

    /// Removes the watcher under `key` if it is still the one with `id`
    /// (not a successor started meanwhile); true if it was removed.
    pub fn remove_if_id(&self, key: &str, id: u64) -> bool {
        let mut inner = self.lock();
        if inner.map.get(key).map(|h| h.id) == Some(id) {
            inner.map.remove(key);
            true
        } else {
            false
        }
    }

    /// Moves the watcher with `id` from `from_key` to `to`'s key (a rename);
    /// false when that watcher is no longer under `from_key`.
    pub fn rename(&self, from_key: &str, id: u64, to: &SessionName) -> bool {
        let mut inner = self.lock();
        if inner.map.get(from_key).map(|h| h.id) != Some(id) {
            return false;
        }
        let Some(mut h) = inner.map.remove(from_key) else {
            return false;
        };
        h.name = to.clone();
        inner.map.insert(to.key(), h);
        true
    }

    /// Runs `f` on the handle under `key` (under the lock, so `f` must be
    /// quick and synchronous); `None` when the session is not watched.
    pub fn with_handle<R>(&self, key: &str, f: impl FnOnce(&mut WatcherHandle) -> R) -> Option<R> {
        self.lock().map.get_mut(key).map(f)
    }

    /// Names of the watched sessions that live on the server with `pid`.
    pub fn names_on_server(&self, pid: Option<u32>) -> Vec<String> {
        let inner = self.lock();
        inner
            .map
            .values()
            .filter(|h| h.server_pid == pid)
            .map(|h| h.name.to_string())
            .collect()
    }

    /// Pokes every watcher (after the tmux server died, so each notices now).
    pub fn poke_all(&self) {
        for h in self.lock().map.values() {
            h.check.notify_one();
        }
    }

    /// Pokes the watchers of every session whose key is not in `present`.
    pub fn poke_absent(&self, present: &HashSet<String>) {
        let inner = self.lock();
        for (_, h) in inner.map.iter().filter(|(k, _)| !present.contains(*k)) {
            h.check.notify_one();
        }
    }
}

/// State shared by the node's tasks.
pub(crate) struct Shared {
    pub cfg: NodeConfig,
    pub bus: Bus,
    pub tmux: Tmux,
    /// The server's one control-mode client; every watcher subscribes to it.
    pub hub: ControlHub,
    pub host: String,
    pub started_ms: u64,
    pub shell: ShellLaunch,
    /// The watched sessions.
    pub sessions: SessionTable,
    /// Poked when a session is watched or retired, so the registry's session
    /// count follows without waiting for the next heartbeat.
    pub sessions_changed: Notify,
    pub tracker: TaskTracker,
    pub cancel: CancellationToken,
    /// Pid of the tmux server the node set up; `None` until known.
    pub server_pid: Mutex<Option<u32>>,
    /// Sessions whose watchers found them lost with their server (that
    /// server's pid, name), for the node's one ERROR line about it.
    pub lost: Mutex<Vec<(Option<u32>, String)>>,
    /// Poked by a watcher that found its tmux server gone.
    pub server_lost: Notify,
    /// The user's login-shell PATH, for finding agent programs (asked once).
    pub login_path: crate::agent::locate::LoginPath,
    /// Window sizes claimed by attached terminals (`Op::Resize`).
    pub sizes: Mutex<crate::sizes::SizeClaims>,
    /// Mesh events for the publisher task ([`crate::events`]).
    pub events: tokio::sync::mpsc::Sender<MeshEvent>,
    /// Requests for the mailbox task (`crate::mailbox`).
    pub mailbox: tokio::sync::mpsc::Sender<crate::mail_cmd::MailCmd>,
}

impl Shared {
    /// Number of sessions currently watched.
    pub fn session_count(&self) -> u32 {
        self.sessions.len() as u32
    }

    /// Records that session `name` was lost with the server `pid` and tells
    /// the node (quick, synchronous: the lock is held for one push).
    pub fn session_lost(&self, pid: Option<u32>, name: &SessionName) {
        self.lost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((pid, name.to_string()));
        self.server_lost.notify_one();
    }

    /// Queues a mesh event for the node's publisher ([`crate::events`])
    /// without waiting; a full queue drops it (logged).
    pub fn mesh_event(&self, ev: MeshEvent) {
        if let Err(e) = self.events.try_send(ev) {
            tracing::warn!(computer = %self.cfg.computer, error = %e, "mesh event dropped: the queue for Redis is full");
        }
    }

    /// Publishes a mesh event now, logging (not failing) when Redis is away.
    pub async fn publish_event_now(&self, ev: MeshEvent) {
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
