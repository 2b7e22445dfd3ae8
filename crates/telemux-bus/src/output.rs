//! Per-session output streams: the node appends [`OutputRecord`] envelopes,
//! readers (CLI `tail`, MCP `read_output`, Telegram) follow them with a
//! resumable cursor and are told about trimmed entries as a [`StreamGap`].

use std::time::Duration;

use fred::prelude::*;
use telemux_proto::{keys, ComputerName, Envelope, OutputRecord, ProtoError, SessionName};

use crate::{
    entries::{normalize_id, parse_range, RawEntry},
    follow::{Cursor, Follower, StreamGap},
    Bus, BusError,
};

/// Decoded output entries with their stream ids, in order.
pub type OutputEntries = Vec<(String, Result<OutputRecord, ProtoError>)>;

/// One read of an output stream.
#[derive(Debug, Clone)]
pub struct OutputBatch {
    /// Entries in stream order; an entry that does not decode is an `Err`, not a failed read.
    pub entries: OutputEntries,
    /// Set once when entries after the cursor were trimmed before being read.
    pub gap: Option<StreamGap>,
}

fn decode_output(e: &RawEntry) -> Result<OutputRecord, ProtoError> {
    e.decode()?.open::<OutputRecord>()
}

fn decode_all(entries: Vec<RawEntry>) -> OutputEntries {
    entries
        .into_iter()
        .map(|e| {
            let rec = decode_output(&e);
            (e.id, rec)
        })
        .collect()
}

impl Bus {
    /// Appends an output envelope to a session's stream, keeping about `maxlen` entries; returns its id.
    pub async fn append_output(
        &self,
        c: &ComputerName,
        s: &SessionName,
        env: &Envelope,
        maxlen: usize,
    ) -> Result<String, BusError> {
        let key = keys::output(c, s);
        self.client()
            .xadd(&key, false, trim(maxlen), "*", (keys::FIELD, env.encode()))
            .await
            .map_err(|e| BusError::redis(&format!("appending output of {c}/{s}"), &e))
    }

    /// Appends several records in one pipelined round trip, in order.
    ///
    /// Returns how many were stored (a prefix of `envs`) and the first error,
    /// if any, so a caller can keep the rest for a retry without reordering.
    pub async fn append_outputs(
        &self,
        c: &ComputerName,
        s: &SessionName,
        envs: &[Envelope],
        maxlen: usize,
    ) -> (usize, Option<BusError>) {
        if envs.is_empty() {
            return (0, None);
        }
        let key = keys::output(c, s);
        let pipe = self.client().pipeline();
        for env in envs {
            let queued: Result<(), _> = pipe
                .xadd(&key, false, trim(maxlen), "*", (keys::FIELD, env.encode()))
                .await;
            if let Err(e) = queued {
                return (
                    0,
                    Some(BusError::redis(&format!("appending output of {c}/{s}"), &e)),
                );
            }
        }
        let results = pipe.try_all::<Value>().await;
        let mut stored = 0;
        for r in results {
            match r {
                Ok(_) => stored += 1,
                Err(e) => {
                    return (
                        stored,
                        Some(BusError::redis(&format!("appending output of {c}/{s}"), &e)),
                    )
                }
            }
        }
        (stored, None)
    }

    /// The newest entry of a session's stream, so a restarted node continues its sequence numbers.
    pub async fn last_output(
        &self,
        c: &ComputerName,
        s: &SessionName,
    ) -> Result<Option<(String, Envelope)>, BusError> {
        let key = keys::output(c, s);
        let v: Value = self
            .client()
            .xrevrange(&key, "+", "-", Some(1))
            .await
            .map_err(|e| BusError::redis(&format!("reading last output of {c}/{s}"), &e))?;
        match parse_range(v)?.pop() {
            None => Ok(None),
            Some(e) => Ok(Some((e.id.clone(), e.decode()?))),
        }
    }

    /// Up to `count` entries after `after` (from the oldest retained when `None`), without waiting.
    pub async fn read_output_range(
        &self,
        c: &ComputerName,
        s: &SessionName,
        after: Option<&str>,
        count: usize,
    ) -> Result<OutputEntries, BusError> {
        let key = keys::output(c, s);
        let start = match after {
            Some(id) => format!("({}", normalize_id(id)?),
            None => "-".to_string(),
        };
        let v: Value = self
            .client()
            .xrange(&key, start, "+", Some(count.max(1) as u64))
            .await
            .map_err(|e| BusError::redis(&format!("reading output of {c}/{s}"), &e))?;
        Ok(decode_all(parse_range(v)?))
    }
}

/// A follower of one session's output stream, on its own connection.
pub struct OutputReader {
    inner: Follower,
}

impl OutputReader {
    /// Opens a reader of `c/s` starting at `from`; `Cursor::End` is fixed at this call.
    pub async fn new(
        bus: &Bus,
        c: &ComputerName,
        s: &SessionName,
        from: Cursor,
    ) -> Result<OutputReader, BusError> {
        Ok(OutputReader {
            inner: Follower::new(bus, keys::output(c, s), from).await?,
        })
    }

    /// Up to `count` entries after the cursor, waiting up to `block` (`None`: do not wait).
    pub async fn next_batch(
        &mut self,
        block: Option<Duration>,
        count: usize,
    ) -> Result<OutputBatch, BusError> {
        let (entries, gap) = self.inner.next_batch(block, count).await?;
        Ok(OutputBatch {
            entries: decode_all(entries),
            gap,
        })
    }

    /// The current position, usable later as `Cursor::After`.
    pub fn cursor(&self) -> String {
        self.inner.cursor().to_string()
    }
}

/// The approximate trim every output append uses (`MAXLEN ~ n`).
fn trim(maxlen: usize) -> (&'static str, &'static str, i64) {
    ("MAXLEN", "~", maxlen.max(1) as i64)
}
