//! The lease holder's periodic sweep of Telegram state in Redis: the topic
//! map and live-message state of sessions that ended longer than
//! `output.retention` ago (their output stream expired) are forgotten, so
//! the hashes do not grow with every session ever made. Redis 7.0 cannot
//! expire hash fields; the decision lives in [`telemux_bus::Bus::tg_sweep`].

use std::collections::HashSet;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use telemux_client::Mesh;

/// How often the sweep runs (first right after taking the lease).
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Sweeps every [`SWEEP_EVERY`] until `cancel` (the lease period ends).
pub async fn run(mesh: Mesh, cancel: CancellationToken) {
    loop {
        sweep(&mesh).await;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

async fn sweep(mesh: &Mesh) {
    // Running sessions are kept even without a stream (nothing printed
    // yet). A computer that is offline or does not answer lists nothing:
    // its sessions are kept only by their streams, which live sessions
    // never let expire, so at worst an idle session that never printed
    // gets a new topic when it is next addressed.
    let alive: HashSet<String> = match mesh.sessions(None).await {
        Ok(list) => list
            .iter()
            .map(|s| format!("{}/{}", s.computer, s.name).to_ascii_lowercase())
            .collect(),
        Err(e) => {
            tracing::debug!(error = %e, "cannot list sessions; Telegram sweep skipped");
            return;
        }
    };
    match mesh.bus().tg_sweep(|key| alive.contains(key)).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            sessions = n,
            "forgot the Telegram state of sessions that ended"
        ),
        Err(e) => tracing::warn!(error = %e, "Telegram sweep failed"),
    }
}
