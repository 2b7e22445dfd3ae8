//! The global event stream: presence and session lifecycle ([`MeshEvent`]),
//! published by nodes and followed by gateways with a resumable cursor.

use std::time::Duration;

use fred::prelude::*;
use telemux_proto::{keys, limits, Envelope, MeshEvent, ProtoError};

use crate::{
    follow::{Cursor, Follower, StreamGap},
    Bus, BusError,
};

/// One read of the event stream.
#[derive(Debug, Clone)]
pub struct EventBatch {
    /// Events with their stream ids; an entry that does not decode is an `Err`.
    pub entries: Vec<(String, Result<MeshEvent, ProtoError>)>,
    /// Set once when events after the cursor were trimmed before being read.
    pub gap: Option<StreamGap>,
}

impl Bus {
    /// Appends a `MeshEvent` envelope to the global event stream; returns its id.
    pub async fn publish_event(&self, env: &Envelope) -> Result<String, BusError> {
        self.client()
            .xadd(
                keys::events(),
                false,
                ("MAXLEN", "~", limits::EVENTS_MAXLEN as i64),
                "*",
                (keys::FIELD, env.encode()),
            )
            .await
            .map_err(|e| BusError::redis("publishing an event", &e))
    }
}

/// A follower of the global event stream, on its own connection.
pub struct EventReader {
    inner: Follower,
}

impl EventReader {
    /// Opens a reader starting at `from`; `Cursor::End` is fixed at this call.
    pub async fn new(bus: &Bus, from: Cursor) -> Result<EventReader, BusError> {
        Ok(EventReader {
            inner: Follower::new(bus, keys::events(), from).await?,
        })
    }

    /// Up to `count` events after the cursor, waiting up to `block` (`None`: do not wait).
    pub async fn next_batch(
        &mut self,
        block: Option<Duration>,
        count: usize,
    ) -> Result<EventBatch, BusError> {
        let (entries, gap) = self.inner.next_batch(block, count).await?;
        if let Some(g) = &gap {
            tracing::warn!(%g, "event stream gap");
        }
        Ok(EventBatch {
            entries: entries
                .into_iter()
                .map(|e| {
                    let ev = e.decode().and_then(|env| env.open::<MeshEvent>());
                    (e.id, ev)
                })
                .collect(),
            gap,
        })
    }

    /// The current position, usable later as `Cursor::After`.
    pub fn cursor(&self) -> String {
        self.inner.cursor().to_string()
    }
}
