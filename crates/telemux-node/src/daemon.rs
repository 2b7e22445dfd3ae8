//! [`Node`]: startup, the task wiring, and shutdown.
//!
//! Shared state lives in [`Shared`], owned by an `Arc` that every task holds.
//! The node runs the [`inbox`](crate::inbox) command loop, the heartbeat, and
//! a task that [`reconcile`]s on every tmux wake-up.

use std::sync::Arc;

use telemux_bus::Bus;
use telemux_proto::{now_ms, MeshEvent};
use telemux_tmux::{ControlHub, Tmux, Waker};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::heartbeat;
use crate::inbox;
use crate::reconcile::reconcile;
use crate::server;
use crate::state::{SessionTable, Shared};

/// A running node; create with [`Node::new`], drive with [`Node::run`].
pub struct Node {
    cfg: NodeConfig,
    bus: Bus,
}

/// Whether a process with this id exists (signal 0 only checks).
fn pid_alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 sends nothing; it only reports existence.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// The user's login shell from the password database, for daemons started
/// without `$SHELL` (cron, some service managers, CI runners). Blocking (it
/// may read NSS sources): call it through `spawn_blocking`.
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

        let shell_path = match self
            .cfg
            .shell
            .clone()
            .or_else(|| std::env::var_os("SHELL").map(Into::into))
        {
            Some(p) => Some(p),
            // The password database may be NSS-backed (LDAP...): off the runtime.
            None => tokio::task::spawn_blocking(login_shell)
                .await
                .ok()
                .flatten(),
        }
        .unwrap_or_else(|| "/bin/sh".into());
        let shell =
            telemux_tmux::shell::prepare(&self.cfg.state_dir.join("shell"), &shell_path).await?;

        let cancel = shutdown.child_token();
        let (events_tx, events_rx) = tokio::sync::mpsc::channel(crate::events::QUEUE);
        let (mail_tx, mail_rx) = tokio::sync::mpsc::channel(crate::mail_cmd::QUEUE);
        let shared = Arc::new(Shared {
            cfg: self.cfg,
            bus: self.bus,
            tmux: tmux.clone(),
            hub: ControlHub::new(tmux.clone()),
            host,
            started_ms: now_ms(),
            shell,
            sessions: SessionTable::default(),
            sessions_changed: Notify::new(),
            tracker: TaskTracker::new(),
            cancel: cancel.clone(),
            server_pid: Default::default(),
            lost: Default::default(),
            server_lost: Notify::new(),
            login_path: Default::default(),
            sizes: Default::default(),
            events: events_tx,
            mailbox: mail_tx,
        });
        server::remember(&shared).await;
        // Before the first reconcile: every watcher subscribes through it.
        shared.tracker.spawn(shared.hub.clone().run(cancel.clone()));
        tracing::info!(computer = %computer, socket = %shared.cfg.tmux_socket, "node starting");

        reconcile(&shared).await;
        crate::run_stdin::sweep(&shared).await;
        if let Err(e) = shared.bus.heartbeat(&heartbeat::info(&shared, false)).await {
            tracing::warn!(computer = %computer, error = %e, "first heartbeat failed; will retry");
        }
        shared
            .publish_event_now(MeshEvent::ComputerOnline {
                computer: computer.to_string(),
            })
            .await;

        shared
            .tracker
            .spawn(heartbeat::run(shared.clone(), cancel.clone()));
        shared
            .tracker
            .spawn(crate::watchdog::run(shared.clone(), cancel.clone()));
        shared
            .tracker
            .spawn(crate::replies::run(shared.clone(), cancel.clone()));
        shared.tracker.spawn(crate::events::run(
            shared.clone(),
            events_rx,
            cancel.clone(),
        ));
        shared
            .tracker
            .spawn(crate::mailbox::run(shared.clone(), mail_rx, cancel.clone()));
        shared.tracker.spawn(crate::ops::files::upload::sweeper(
            shared.clone(),
            cancel.clone(),
        ));
        let mut wakes = Waker::spawn(tmux.clone(), cancel.clone());
        {
            let shared = shared.clone();
            let cancel = cancel.clone();
            shared.clone().tracker.spawn(async move {
                loop {
                    let mut lost = false;
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        w = wakes.recv() => if w.is_none() { break },
                        _ = shared.server_lost.notified() => lost = true,
                    }
                    if lost || wakes.take_server_failed() {
                        server::check(&shared).await;
                    }
                    reconcile(&shared).await;
                }
                // Let the waker release its tmux waiter before the node is done.
                wakes.stop().await;
            });
        }

        let result = inbox::command_loop(&shared, &cancel).await;

        cancel.cancel();
        shared.tracker.close();
        shared.tracker.wait().await;
        if let Err(e) = shared.bus.deregister(&heartbeat::info(&shared, true)).await {
            tracing::warn!(computer = %computer, error = %e, "could not deregister");
        }
        shared
            .publish_event_now(MeshEvent::ComputerOffline {
                computer: computer.to_string(),
                reason: "stopped".into(),
            })
            .await;
        tracing::info!(computer = %computer, "node stopped");
        result
    }
}
