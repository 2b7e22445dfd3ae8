//! Noticing that the node's tmux server died, and recovering from it.
//!
//! The earliest signals are the waker's `wait-for` child failing (it waits
//! inside the server) and a watcher whose session vanished together with its
//! server ([`Shared::session_lost`]); either makes the daemon run [`check`].
//! A dead server takes every session with it: each watcher publishes its
//! session's end with reason "tmux server died", and [`check`] logs one ERROR
//! naming them all, then re-creates the server set-up (exit-empty off, global
//! remain-on-exit, the pane-died hook) so the next session runs normally.

use std::collections::BTreeSet;
use std::sync::{Arc, MutexGuard};

use crate::state::Shared;

fn lock<T>(m: &std::sync::Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records the pid of the server the node just set up.
pub(crate) async fn remember(shared: &Shared) {
    let pid = shared.tmux.server_pid().await.ok().flatten();
    *lock(&shared.server_pid) = pid;
}

/// Compares the running tmux server with the one the node set up; when it
/// is gone (none runs, or another one), reports the sessions lost with it
/// and sets up a server again.
pub(crate) async fn check(shared: &Arc<Shared>) {
    let computer = &shared.cfg.computer;
    let now = match shared.tmux.server_pid().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(computer = %computer, error = %e, "cannot ask tmux for its server");
            return;
        }
    };
    let known = *lock(&shared.server_pid);
    if known.is_none() || (now.is_some() && now == known) {
        if known.is_none() {
            *lock(&shared.server_pid) = now;
        }
        return;
    }
    // The table first, then the watchers' reports: a watcher reports before
    // it leaves the table, so every lost session is in one or the other.
    let mut lost: BTreeSet<String> = shared.sessions.names_on_server(known).into_iter().collect();
    lost.extend(
        std::mem::take(&mut *lock(&shared.lost))
            .into_iter()
            .filter(|(pid, _)| *pid == known)
            .map(|(_, name)| name),
    );
    let lost: Vec<String> = lost.into_iter().collect();
    tracing::error!(
        computer = %computer,
        old_pid = ?known,
        sessions = %lost.join(", "),
        "the tmux server died; {} session(s) lost with it: {}",
        lost.len(),
        lost.join(", ")
    );
    // Watchers that have not noticed yet notice now.
    shared.sessions.poke_all();
    match shared.tmux.ensure_server().await {
        Ok(()) => {
            remember(shared).await;
            let pid = *lock(&shared.server_pid);
            tracing::info!(computer = %computer, pid = ?pid, "tmux server set up again");
        }
        Err(e) => {
            // Sessions created meanwhile set the server up themselves; the
            // next wake-up retries this.
            *lock(&shared.server_pid) = None;
            tracing::error!(computer = %computer, error = %e, "cannot set up the tmux server again");
        }
    }
}
