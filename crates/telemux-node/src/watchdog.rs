//! Notices other computers whose heartbeats stopped without a goodbye (a
//! crash, `kill -9`, a lost network) and publishes their `computer_offline`
//! event, which a node that stops gracefully publishes itself. Every node
//! looks; a `SET NX` marker per computer run lets exactly one announce it.
//! With no other node online nobody is left to notice: `computers` still
//! shows the computer offline.

use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{now_ms, ComputerName, MeshEvent};
use tokio_util::sync::CancellationToken;

use crate::state::Shared;

/// A computer silent for longer than this is old news, not announced (a
/// node starting next to computers that died last month).
const RECENT: Duration = Duration::from_secs(600);

/// Looks every two heartbeat periods until `cancel`.
pub(crate) async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(shared.cfg.heartbeat * 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => match look(&shared).await {
                Ok(()) => failing = false,
                Err(e) => {
                    // Once per outage (or a Redis user without the rights).
                    if !failing {
                        tracing::warn!(computer = %shared.cfg.computer, error = %e, "cannot look for computers that went offline");
                    }
                    failing = true;
                }
            },
        }
    }
}

async fn look(shared: &Shared) -> Result<(), telemux_bus::BusError> {
    let me = shared.cfg.computer.key();
    let all = shared.bus.computers().await?;
    let now = now_ms();
    for st in all {
        let i = &st.info;
        let Ok(c) = ComputerName::new(&i.name) else {
            continue;
        };
        let silent = now.saturating_sub(i.last_seen_ms);
        if st.online || i.stopped || c.key() == me || silent > RECENT.as_millis() as u64 {
            continue;
        }
        if shared
            .bus
            .claim_offline_notice(&c, i.started_ms, RECENT * 2)
            .await?
        {
            let reason = format!(
                "heartbeats stopped (last seen {} s ago)",
                silent.div_ceil(1000)
            );
            tracing::info!(computer = %shared.cfg.computer, offline = %c, %reason, "a computer went offline without a goodbye");
            shared.mesh_event(MeshEvent::ComputerOffline {
                computer: i.name.clone(),
                reason,
            });
        }
    }
    Ok(())
}
