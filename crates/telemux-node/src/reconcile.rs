//! Reconcile: compares tmux's session list with the watched sessions. It
//! adopts sessions nobody watches yet (after a restart, or made by hand) and
//! pokes the others to look for exit codes and dead panes. It runs at start
//! and on every tmux wake-up, never on a timer.

use std::collections::HashSet;
use std::sync::Arc;

use crate::session::{self, Origin};
use crate::state::{Fingerprint, Shared};

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

/// Adopts unwatched sessions, pokes watched ones, and retires watchers of
/// sessions that are gone.
///
/// No lock is held across the tmux listing or the Redis calls of starting a
/// watcher: tmux is listed first, then each session is looked up in the
/// table (a quick synchronous lock). An unwatched session is adopted only
/// after claiming its name in the table ([`crate::state::SessionTable::claim_unwatched`],
/// which checks "watched or being created" and takes the claim under one
/// lock), so a `create` that has made the session but not yet inserted its
/// watcher is left alone, and two reconciles never adopt one session twice.
pub(crate) async fn reconcile(shared: &Arc<Shared>) {
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
        let key = name.key();
        present.insert(key.clone());
        let poked = shared
            .sessions
            .with_handle(&key, |h| {
                let fp = fingerprint(&pane);
                if h.seen.as_ref() != Some(&fp) {
                    h.seen = Some(fp);
                    h.check.notify_one();
                }
            })
            .is_some();
        if poked {
            continue;
        }
        let Some(_claim) = shared.sessions.claim_unwatched(&key) else {
            // Watched meanwhile, or being created or adopted by another path.
            continue;
        };
        if let Err(e) = session::start(shared, name.clone(), Origin::Adopted, None, "").await {
            tracing::warn!(computer = %shared.cfg.computer, session = %name, error = %e, "cannot watch session");
        }
    }
    // Watchers of vanished sessions notice on their check, publish the
    // closure and remove themselves.
    shared.sessions.poke_absent(&present);
}
