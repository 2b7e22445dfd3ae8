//! The presence stream: every heartbeat appended as a `ComputerInfo`, so a
//! watcher learns that computers are alive from one blocking read instead of
//! polling the registry, and tells a dead one by its beats stopping.

use std::time::Duration;

use fred::prelude::*;
use telemux_proto::{keys, limits, ComputerInfo, Envelope, ProtoError};

use crate::{
    follow::{Cursor, Follower, StreamGap},
    Bus, BusError,
};

impl Bus {
    /// Appends one beat (or a goodbye: `info.stopped`) to the presence stream.
    pub(crate) async fn publish_presence(&self, info: &ComputerInfo) -> Result<(), BusError> {
        let env = Envelope::seal(&info.name, info)?;
        self.client()
            .xadd::<(), _, _, _, _>(
                keys::presence(),
                false,
                ("MAXLEN", "~", limits::PRESENCE_MAXLEN as i64),
                "*",
                (keys::FIELD, env.encode()),
            )
            .await
            .map_err(|e| BusError::redis("publishing presence", &e))
    }
}

/// One read of the presence stream.
#[derive(Debug, Clone)]
pub struct PresenceBatch {
    /// Beats in order; an entry that does not decode is an `Err`.
    pub beats: Vec<Result<ComputerInfo, ProtoError>>,
    /// Set when beats after the cursor were trimmed before being read
    /// (re-read the registry then).
    pub gap: Option<StreamGap>,
}

/// A follower of the presence stream, on its own connection.
pub struct PresenceReader {
    inner: Follower,
}

impl PresenceReader {
    /// Opens a reader starting at `from`; `Cursor::End` is fixed at this call.
    pub async fn new(bus: &Bus, from: Cursor) -> Result<PresenceReader, BusError> {
        Ok(PresenceReader {
            inner: Follower::new(bus, keys::presence(), from).await?,
        })
    }

    /// Up to `count` beats after the cursor, waiting up to `block` (`None`: do not wait).
    pub async fn next_batch(
        &mut self,
        block: Option<Duration>,
        count: usize,
    ) -> Result<PresenceBatch, BusError> {
        let (entries, gap) = self.inner.next_batch(block, count).await?;
        Ok(PresenceBatch {
            beats: entries
                .into_iter()
                .map(|e| e.decode().and_then(|env| env.open::<ComputerInfo>()))
                .collect(),
            gap,
        })
    }
}
