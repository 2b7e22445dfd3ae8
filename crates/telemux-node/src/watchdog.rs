//! Notices other computers whose heartbeats stopped without a goodbye (a
//! crash, `kill -9`, a lost network) and publishes their `computer_offline`
//! event, which a node that stops gracefully publishes itself. Every node
//! looks; a `SET NX` marker per computer run lets exactly one announce it.
//! With no other node online nobody is left to notice: `computers` still
//! shows the computer offline.
//!
//! Only the registry is read (a node's Redis user may not read other nodes'
//! liveness keys), and by this node's own clock: a record whose
//! `last_seen_ms` has not changed for three of its heartbeat periods (what
//! its liveness key's TTL is) stopped beating. No clock is compared with
//! another computer's, except to skip computers silent for longer than
//! [`RECENT`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{now_ms, ComputerInfo, ComputerName, MeshEvent};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::state::Shared;

/// A computer silent for longer than this is old news, not announced (a
/// node starting next to computers that died last month).
const RECENT: Duration = Duration::from_secs(600);

/// What the watchdog saw of each computer: its record's `last_seen_ms` and
/// when (on this node's clock) that value was first seen.
type Seen = HashMap<String, (u64, Instant)>;

/// Looks every two heartbeat periods until `cancel`.
pub(crate) async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(shared.cfg.heartbeat * 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let mut seen = Seen::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => match look(&shared, &mut seen).await {
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

/// Whether `i`'s heartbeats stopped: not stopped gracefully, and its
/// record unchanged for three of its periods since this node saw it change.
fn silent(i: &ComputerInfo, seen: &mut Seen, now: Instant) -> bool {
    let entry = seen
        .entry(i.name.to_ascii_lowercase())
        .or_insert((i.last_seen_ms, now));
    if entry.0 != i.last_seen_ms {
        *entry = (i.last_seen_ms, now);
    }
    let ttl = Duration::from_millis(3 * i.heartbeat_ms.max(1));
    !i.stopped && now.duration_since(entry.1) > ttl
}

async fn look(shared: &Shared, seen: &mut Seen) -> Result<(), telemux_bus::BusError> {
    let me = shared.cfg.computer.key();
    let records = shared.bus.registry().await?;
    let (now, wall) = (Instant::now(), now_ms());
    for i in &records {
        let Ok(c) = ComputerName::new(&i.name) else {
            continue;
        };
        let ago = wall.saturating_sub(i.last_seen_ms);
        if c.key() == me || !silent(i, seen, now) || ago > RECENT.as_millis() as u64 {
            continue;
        }
        if shared
            .bus
            .claim_offline_notice(&c, i.started_ms, RECENT * 2)
            .await?
        {
            let reason = format!(
                "heartbeats stopped (last seen {} s ago)",
                ago.div_ceil(1000)
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
