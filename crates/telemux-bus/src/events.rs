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

/// One event as `telemux events` shows it: with its id (the cursor), the
/// time and the sender of its envelope.
#[derive(Debug, Clone)]
pub struct EventRecord {
    /// Stream id; reading on from it is `Cursor::After(id)`.
    pub id: String,
    /// The publishing node's clock, ms since the epoch.
    pub ts_ms: u64,
    /// The envelope's sender (the computer that published it).
    pub from: String,
    /// The event.
    pub event: MeshEvent,
}

/// One read of the event stream with envelope details ([`EventReader::next_records`]).
#[derive(Debug, Clone)]
pub struct RecordBatch {
    /// Events that decoded, in stream order.
    pub records: Vec<EventRecord>,
    /// Ids of entries that did not decode (a newer or foreign writer), with why.
    pub undecodable: Vec<(String, ProtoError)>,
    /// Set once when events after the cursor were trimmed before being read.
    pub gap: Option<StreamGap>,
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

    /// Like [`EventReader::next_batch`], keeping each envelope's time and sender.
    pub async fn next_records(
        &mut self,
        block: Option<Duration>,
        count: usize,
    ) -> Result<RecordBatch, BusError> {
        let (entries, gap) = self.inner.next_batch(block, count).await?;
        let mut out = RecordBatch {
            records: Vec::with_capacity(entries.len()),
            undecodable: Vec::new(),
            gap,
        };
        for e in entries {
            let opened = e
                .decode()
                .and_then(|env| env.open::<MeshEvent>().map(|ev| (env, ev)));
            match opened {
                Ok((env, event)) => out.records.push(EventRecord {
                    id: e.id,
                    ts_ms: env.ts_ms,
                    from: env.from,
                    event,
                }),
                Err(err) => out.undecodable.push((e.id, err)),
            }
        }
        Ok(out)
    }

    /// The current position, usable later as `Cursor::After`.
    pub fn cursor(&self) -> String {
        self.inner.cursor().to_string()
    }
}
