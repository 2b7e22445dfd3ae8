//! The heartbeat: refreshes this computer's registry entry every period, so
//! others see it online; three missed periods and the entry expires. A
//! session appearing or going away beats early, so `computers` and `status`
//! count sessions right.

use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{now_ms, ComputerInfo, PROTOCOL_VERSION};
use tokio_util::sync::CancellationToken;

use crate::state::Shared;

/// Builds this node's registry record as of now.
pub(crate) fn info(shared: &Shared, stopped: bool) -> ComputerInfo {
    ComputerInfo {
        name: shared.cfg.computer.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        proto: PROTOCOL_VERSION,
        os: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        host: shared.host.clone(),
        started_ms: shared.started_ms,
        last_seen_ms: now_ms(),
        heartbeat_ms: shared.cfg.heartbeat.as_millis() as u64,
        sessions: shared.session_count(),
        pid: std::process::id(),
        stopped,
        projects: shared.cfg.projects.clone(),
        agents: shared.cfg.agents.keys().cloned().collect(),
    }
}

/// How long an early beat waits for more session changes to join it.
const SETTLE: Duration = Duration::from_millis(100);

/// Beats until `cancel`; Redis outages are logged once and retried next period.
pub(crate) async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(shared.cfg.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
            _ = shared.sessions_changed.notified() => {
                // Sessions come in bursts (adoption at start, scripts): one
                // beat for the burst.
                tokio::time::sleep(SETTLE).await;
                tick.reset();
            }
        }
        match shared.bus.heartbeat(&info(&shared, false)).await {
            Ok(()) => {
                if failing {
                    tracing::info!(computer = %shared.cfg.computer, "heartbeat restored");
                    failing = false;
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(computer = %shared.cfg.computer, error = %e, "heartbeat failed; retrying every period");
                    failing = true;
                }
            }
        }
    }
}
