//! A resumable reader of one stream that reports trimmed entries as a gap.
//!
//! Output and event streams are capped with `MAXLEN ~`, so a reader that falls
//! behind, or resumes from an old cursor, may find that entries after its
//! cursor are gone. Redis does not say so, so each read starts one id *before*
//! the cursor: if the cursor's own entry comes back, nothing after it can have
//! been trimmed (trimming removes from the head); if it is gone and other
//! entries follow, a [`StreamGap`] is reported. That costs one re-read entry
//! per batch and makes the check exact up to a cursor whose own entry was
//! trimmed while its successor survived — reported as a (possible) gap rather
//! than hidden.
//!
//! Waiting uses a blocking `XREAD` on a [`Dedicated`] connection, `COUNT 1`,
//! only as a wake-up; the data is then fetched by the checked read above.

use std::time::{Duration, Instant};

use fred::prelude::*;

use crate::{
    connect::{Dedicated, MAX_BLOCK},
    entries::{normalize_id, parse_range, parse_read, predecessor, RawEntry},
    Bus, BusError,
};

/// Where a stream reader starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// From the oldest entry still retained (no gap is reported for older, trimmed ones).
    Start,
    /// Only entries added after the reader was created.
    End,
    /// After the entry with this id (a cursor returned by an earlier read).
    After(String),
}

/// Entries between `after` and `resumed_at` were trimmed before this reader saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamGap {
    /// The reader's cursor when the loss was found.
    pub after: String,
    /// The oldest entry still available, where reading resumed.
    pub resumed_at: String,
}

impl std::fmt::Display for StreamGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "entries after {} were trimmed before they were read; resuming at {}",
            self.after, self.resumed_at
        )
    }
}

const START: &str = "0-0";

/// The shared machinery of [`crate::OutputReader`] and [`crate::EventReader`].
pub(crate) struct Follower {
    conn: Dedicated,
    key: String,
    cursor: String,
}

impl Follower {
    /// Opens a reader of `key`; `Cursor::End` is resolved now, so nothing added later is missed.
    pub async fn new(bus: &Bus, key: String, from: Cursor) -> Result<Follower, BusError> {
        let cursor = match from {
            Cursor::Start => START.to_string(),
            Cursor::After(id) => normalize_id(&id)?,
            Cursor::End => {
                let v: Value = bus
                    .client()
                    .xrevrange(&key, "+", "-", Some(1))
                    .await
                    .map_err(|e| BusError::redis(&format!("finding the end of {key}"), &e))?;
                parse_range(v)?
                    .pop()
                    .map(|e| e.id)
                    .unwrap_or_else(|| START.to_string())
            }
        };
        Ok(Follower {
            conn: bus.dedicated(),
            key,
            cursor,
        })
    }

    /// Follows `key` from now on, after `cursor` (a stream that moved,
    /// keeping its entry ids: a renamed session's).
    pub fn move_to(&mut self, key: String, cursor: String) {
        self.key = key;
        self.cursor = cursor;
    }

    /// The id of the last entry returned (or the starting point).
    pub fn cursor(&self) -> &str {
        &self.cursor
    }

    /// Up to `count` entries after the cursor, waiting up to `block` for the first one.
    pub async fn next_batch(
        &mut self,
        block: Option<Duration>,
        count: usize,
    ) -> Result<(Vec<RawEntry>, Option<StreamGap>), BusError> {
        let count = count.max(1);
        let deadline = block.map(|b| Instant::now() + b);
        loop {
            let (entries, gap) = self.read_checked(count).await?;
            if !entries.is_empty() || gap.is_some() {
                if let Some(last) = entries.last() {
                    self.cursor = last.id.clone();
                }
                return Ok((entries, gap));
            }
            let Some(deadline) = deadline else {
                return Ok((Vec::new(), None));
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok((Vec::new(), None));
            }
            self.wait(left.min(MAX_BLOCK)).await?;
        }
    }

    /// Non-blocking read from the cursor that also tells whether entries were lost.
    async fn read_checked(
        &self,
        count: usize,
    ) -> Result<(Vec<RawEntry>, Option<StreamGap>), BusError> {
        let at_start = self.cursor == START;
        let from = if at_start {
            START.to_string()
        } else {
            predecessor(&self.cursor)
        };
        let extra = usize::from(!at_start);
        let v: Value = self
            .conn
            .client()
            .xread(Some((count + extra) as u64), None, &self.key, from)
            .await
            .map_err(|e| BusError::redis(&format!("reading {}", self.key), &e))?;
        let mut entries = parse_read(v)?;
        if at_start {
            return Ok((entries, None));
        }
        match entries.first() {
            Some(first) if first.id == self.cursor => {
                entries.remove(0);
                Ok((entries, None))
            }
            Some(first) => {
                let gap = StreamGap {
                    after: self.cursor.clone(),
                    resumed_at: first.id.clone(),
                };
                // The caller decides whether this is a loss worth a warning.
                tracing::debug!(stream = %self.key, %gap, "stream gap");
                entries.truncate(count);
                Ok((entries, Some(gap)))
            }
            None => Ok((entries, None)),
        }
    }

    /// Blocks until something is added after the cursor, or `block` passes.
    async fn wait(&self, block: Duration) -> Result<(), BusError> {
        let opts = Dedicated::blocking_options(block);
        let r: Result<Value, _> = self
            .conn
            .client()
            .with_options(&opts)
            .xread(
                Some(1),
                Some(block.as_millis().max(1) as u64),
                &self.key,
                self.cursor.as_str(),
            )
            .await;
        r.map(|_| ())
            .map_err(|e| BusError::redis(&format!("waiting on {}", self.key), &e))
    }
}
