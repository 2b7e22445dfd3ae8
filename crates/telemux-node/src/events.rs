//! Mesh events on their way to Redis. Session tasks hand them over without
//! waiting: a watcher that awaited `XADD` while Redis is away would stop
//! reading its session's output for the whole command timeout, and lose it.
//! One task owned by the node publishes them in order; when the bounded queue
//! is full (Redis away for long), further events are dropped and logged —
//! events are best-effort, watchers re-read the mesh after an outage.

use std::sync::Arc;

use telemux_proto::MeshEvent;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::state::Shared;

/// Events waiting for Redis, at most.
pub(crate) const QUEUE: usize = 1024;

/// Publishes queued events until `cancel`, then whatever is still queued
/// (once, without waiting for more).
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<MeshEvent>,
    cancel: CancellationToken,
) {
    loop {
        let ev = tokio::select! {
            _ = cancel.cancelled() => break,
            ev = rx.recv() => match ev { Some(ev) => ev, None => return },
        };
        shared.publish_event_now(ev).await;
    }
    while let Ok(ev) = rx.try_recv() {
        shared.publish_event_now(ev).await;
    }
}
