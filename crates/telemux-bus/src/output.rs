//! Per-session output streams: the node appends [`OutputRecord`] envelopes,
//! readers (CLI `tail`, MCP `read_output`, Telegram) follow them with a
//! resumable cursor and are told about trimmed entries as a [`StreamGap`].

use std::time::Duration;

use fred::{
    prelude::*,
    types::{ClusterHash, CustomCommand},
};
use telemux_proto::{keys, ComputerName, Envelope, OutputRecord, ProtoError, SessionName};

use crate::{
    entries::{normalize_id, parse_id, parse_range, RawEntry},
    follow::{Cursor, Follower, StreamGap},
    Bus, BusError, RedisKind,
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

    /// Appends several records in one pipelined round trip, in order, each
    /// under its explicit stream id (from [`OutputIds`]).
    ///
    /// Appends are idempotent: Redis refuses an id not above the stream's
    /// newest, so a record that is already stored — because an earlier
    /// attempt timed out after Redis had taken it, or because the Redis
    /// client replayed a timed-out command after reconnecting — counts as
    /// stored instead of being stored twice. Returns how many were stored (a
    /// prefix of `entries`) and the first error, if any, so a caller can keep
    /// the rest for a retry without reordering.
    pub async fn append_outputs(
        &self,
        c: &ComputerName,
        s: &SessionName,
        entries: &[(String, Envelope)],
        maxlen: usize,
    ) -> (usize, Option<BusError>) {
        if entries.is_empty() {
            return (0, None);
        }
        let key = keys::output(c, s);
        let pipe = self.client().pipeline();
        for (id, env) in entries {
            let queued: Result<(), _> = pipe
                .xadd(
                    &key,
                    false,
                    trim(maxlen),
                    id.as_str(),
                    (keys::FIELD, env.encode()),
                )
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
        for (r, (id, _)) in results.into_iter().zip(entries) {
            match r {
                Ok(_) => stored += 1,
                Err(e) if RedisKind::of(&e) == RedisKind::IdNotAbove => {
                    // Stored by an earlier attempt — or refused because
                    // someone else wrote a higher id: only the entry itself
                    // tells which, and the second must not pass as stored.
                    match self.entry_exists(&key, id).await {
                        Ok(true) => {
                            tracing::debug!(stream = %key, %id, "output record was already stored");
                            stored += 1;
                        }
                        Ok(false) => {
                            let newest = self.newest_id(&key).await.unwrap_or_default();
                            return (
                                stored,
                                Some(BusError::StreamAhead {
                                    stream: key.clone(),
                                    newest: newest.unwrap_or_default(),
                                }),
                            );
                        }
                        Err(e) => return (stored, Some(e)),
                    }
                }
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

    /// Whether stream `key` holds an entry with exactly `id`.
    async fn entry_exists(&self, key: &str, id: &str) -> Result<bool, BusError> {
        let v: Value = self
            .client()
            .xrange(key, id, id, Some(1))
            .await
            .map_err(|e| BusError::redis(&format!("checking entry {id} of {key}"), &e))?;
        Ok(!parse_range(v)?.is_empty())
    }

    /// Drops the entries of a session's stream older than `min_id` (exact
    /// `XTRIM MINID`); returns how many went. The node calls this to keep
    /// each stream under `output.max_bytes`.
    pub async fn trim_output_before(
        &self,
        c: &ComputerName,
        s: &SessionName,
        min_id: &str,
    ) -> Result<u64, BusError> {
        self.client()
            .xtrim(keys::output(c, s), ("MINID", "=", min_id))
            .await
            .map_err(|e| BusError::redis(&format!("trimming output of {c}/{s}"), &e))
    }

    /// Redis's estimate of the memory a session's stream takes (`MEMORY
    /// USAGE`, sampled, so cheap on a large stream); `None` when it does not exist.
    pub async fn output_bytes(
        &self,
        c: &ComputerName,
        s: &SessionName,
    ) -> Result<Option<u64>, BusError> {
        let cmd = CustomCommand::new_static("MEMORY", ClusterHash::Offset(2), false);
        let v: Value = self
            .client()
            .custom(cmd, vec![Value::from("USAGE"), keys::output(c, s).into()])
            .await
            .map_err(|e| BusError::redis(&format!("measuring output of {c}/{s}"), &e))?;
        Ok(v.as_u64())
    }

    /// Forgets a session that ended: its output stream expires after `keep`
    /// (readers may still want its last output) and its exit bookkeeping goes
    /// at once (only a live session, adopted after a node restart, needs it).
    pub async fn retire_session(
        &self,
        c: &ComputerName,
        s: &SessionName,
        keep: Duration,
    ) -> Result<(), BusError> {
        let ms = keep.as_millis().clamp(1, i64::MAX as u128) as i64;
        let client = self.client();
        let expire = client.pexpire::<(), _>(keys::output(c, s), ms, None);
        let forget = client.hdel::<(), _, _>(keys::exits_seen(c), s.key());
        tokio::try_join!(expire, forget)
            .map_err(|e| BusError::redis(&format!("retiring {c}/{s}"), &e))?;
        Ok(())
    }

    /// Removes an expiry from a session's stream (`PERSIST`): a session
    /// re-created under the name of one that ended continues its stream,
    /// which must not go away under the live session.
    pub async fn keep_output(&self, c: &ComputerName, s: &SessionName) -> Result<(), BusError> {
        self.client()
            .persist::<(), _>(keys::output(c, s))
            .await
            .map_err(|e| BusError::redis(&format!("keeping output of {c}/{s}"), &e))
    }

    /// The id of the newest entry of stream `key`, if any.
    pub async fn newest_id(&self, key: &str) -> Result<Option<String>, BusError> {
        let v: Value = self
            .client()
            .xrevrange(key, "+", "-", Some(1))
            .await
            .map_err(|e| BusError::redis(&format!("reading the newest id of {key}"), &e))?;
        Ok(parse_range(v)?.pop().map(|e| e.id))
    }

    /// The newest record of a session's stream that is a telemux output
    /// record, so a restarted node continues its sequence numbers. Entries
    /// someone else wrote on top (garbage, other kinds) are skipped, up to
    /// [`LAST_OUTPUT_SCAN`] of them. Returns the record's envelope and the
    /// stream's newest id (where appending continues).
    pub async fn last_output(
        &self,
        c: &ComputerName,
        s: &SessionName,
    ) -> Result<Option<(String, Envelope)>, BusError> {
        let key = keys::output(c, s);
        let v: Value = self
            .client()
            .xrevrange(&key, "+", "-", Some(LAST_OUTPUT_SCAN))
            .await
            .map_err(|e| BusError::redis(&format!("reading last output of {c}/{s}"), &e))?;
        let entries = parse_range(v)?;
        let Some(newest) = entries.first().map(|e| e.id.clone()) else {
            return Ok(None);
        };
        let ours = entries.iter().find_map(|e| {
            let env = e.decode().ok()?;
            env.open::<telemux_proto::OutputRecord>().ok()?;
            Some(env)
        });
        match ours {
            Some(env) => Ok(Some((newest, env))),
            None => Err(BusError::Refused(format!(
                "the newest {LAST_OUTPUT_SCAN} entries of {key} are not telemux output records; the stream was overwritten by something else (delete it to start afresh)"
            ))),
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

impl Bus {
    /// Up to `count` entries of a session's stream from `start` on (an id,
    /// inclusive), without waiting (`XRANGE`); `search` pages with it.
    pub async fn output_from(
        &self,
        c: &ComputerName,
        s: &SessionName,
        start: &str,
        count: usize,
    ) -> Result<OutputEntries, BusError> {
        let key = keys::output(c, s);
        let v: Value = self
            .client()
            .xrange(&key, normalize_id(start)?, "+", Some(count.max(1) as u64))
            .await
            .map_err(|e| BusError::redis(&format!("reading output of {c}/{s}"), &e))?;
        Ok(decode_all(parse_range(v)?))
    }

    /// The id of the entry just before `id` in a session's stream
    /// (`XREVRANGE`), `None` when `id` is the oldest retained.
    pub async fn output_before(
        &self,
        c: &ComputerName,
        s: &SessionName,
        id: &str,
    ) -> Result<Option<String>, BusError> {
        let key = keys::output(c, s);
        let v: Value = self
            .client()
            .xrevrange(&key, format!("({}", normalize_id(id)?), "-", Some(1))
            .await
            .map_err(|e| BusError::redis(&format!("reading output of {c}/{s}"), &e))?;
        Ok(parse_range(v)?.pop().map(|e| e.id))
    }

    /// The newest `count` entries of a session's stream, newest first (`XREVRANGE`).
    pub async fn output_newest(
        &self,
        c: &ComputerName,
        s: &SessionName,
        count: usize,
    ) -> Result<OutputEntries, BusError> {
        let v: Value = self
            .client()
            .xrevrange(keys::output(c, s), "+", "-", Some(count.max(1) as u64))
            .await
            .map_err(|e| BusError::redis(&format!("reading output of {c}/{s}"), &e))?;
        Ok(decode_all(parse_range(v)?))
    }

    /// How many entries a session's stream holds (`XLEN`; 0 when it does not exist).
    pub async fn output_len(&self, c: &ComputerName, s: &SessionName) -> Result<u64, BusError> {
        self.client()
            .xlen(keys::output(c, s))
            .await
            .map_err(|e| BusError::redis(&format!("counting output of {c}/{s}"), &e))
    }
}

/// A follower of one session's output stream, on its own connection.
pub struct OutputReader {
    inner: Follower,
    computer: ComputerName,
    /// The session followed: its name changes when a rename record says so.
    session: SessionName,
    /// Sequence number of the last record returned, to tell a real gap from
    /// a cursor entry that vanished with nothing lost (see [`Self::next_batch`]).
    last_seq: Option<u64>,
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
            computer: c.clone(),
            session: s.clone(),
            last_seq: None,
        })
    }

    /// Up to `count` entries after the cursor, waiting up to `block` (`None`: do not wait).
    ///
    /// The stream layer reports a gap whenever the cursor's own entry is
    /// gone. After a Redis restart that lost its data (no persistence, or
    /// the last second of an append-only file) that entry is gone although
    /// this reader already has it and the node re-sent everything after it:
    /// records carry consecutive sequence numbers, so when the first record
    /// after the cursor is the successor of the last one returned, nothing
    /// was lost and no gap is reported.
    ///
    /// A renamed session's stream moves to its new key with its entry ids;
    /// the old key keeps only the rename record. Reading that record from
    /// the old key moves the reader to the new one, from the same cursor,
    /// so it continues where it was (and reads the rename record there).
    pub async fn next_batch(
        &mut self,
        block: Option<Duration>,
        count: usize,
    ) -> Result<OutputBatch, BusError> {
        let (entries, gap) = loop {
            let before = self.inner.cursor().to_string();
            let (entries, gap) = self.inner.next_batch(block, count).await?;
            let entries = decode_all(entries);
            match moved_to(&entries, &self.session) {
                Some(to) => {
                    tracing::debug!(computer = %self.computer, from = %self.session, %to, "session renamed; following its new name");
                    self.session = to;
                    let key = keys::output(&self.computer, &self.session);
                    self.inner.move_to(key, before);
                }
                None => break (entries, gap),
            }
        };
        let first_seq = entries
            .iter()
            .find_map(|(_, r)| r.as_ref().ok().map(|r| r.seq));
        let gap = match (gap, self.last_seq, first_seq) {
            (Some(g), Some(last), Some(first)) if first == last + 1 => {
                tracing::debug!(gap = %g, "cursor entry vanished but no record is missing");
                None
            }
            (gap, ..) => gap,
        };
        if let Some(g) = &gap {
            tracing::warn!(%g, "output stream gap");
        }
        if let Some(last) = entries.iter().rev().find_map(|(_, r)| r.as_ref().ok()) {
            // A gap record stands for the records it names.
            self.last_seq = Some(match last.event {
                telemux_proto::OutputEvent::Gap { to_seq, .. } => last.seq.max(to_seq),
                _ => last.seq,
            });
        }
        Ok(OutputBatch { entries, gap })
    }

    /// The current position, usable later as `Cursor::After`.
    pub fn cursor(&self) -> String {
        self.inner.cursor().to_string()
    }

    /// The session followed now (its new name after a rename).
    pub fn session(&self) -> &SessionName {
        &self.session
    }
}

/// The new name in the pointer a rename leaves under the old key.
fn moved_to(entries: &OutputEntries, current: &SessionName) -> Option<SessionName> {
    entries.iter().find_map(|(_, r)| match r {
        Ok(OutputRecord {
            event:
                telemux_proto::OutputEvent::Renamed {
                    to, pointer: true, ..
                },
            ..
        }) => SessionName::new(to)
            .ok()
            .filter(|to| to.key() != current.key()),
        _ => None,
    })
}

/// Entries `last_output` looks through for the node's own newest record.
const LAST_OUTPUT_SCAN: u64 = 64;

/// Explicit stream ids `<ms>-<seq>` for one session's output records.
///
/// The node picks each record's id once and reuses it on every retry, which
/// is what makes [`Bus::append_outputs`] idempotent. Ids only grow: the time
/// part never goes below the previous id's (clocks may step back), and when
/// it equals it the record's sequence number must be above the previous one,
/// else the time part is bumped by one.
#[derive(Debug, Clone, Default)]
pub struct OutputIds {
    last: (u64, u64),
}

impl OutputIds {
    /// Ids that continue after `last_id`, the stream's newest entry (`None`: empty stream).
    pub fn after(last_id: Option<&str>) -> OutputIds {
        OutputIds {
            last: last_id.and_then(parse_id).unwrap_or((0, 0)),
        }
    }

    /// The id of record `seq`, appended at `now_ms`: above every id given before.
    pub fn next(&mut self, seq: u64, now_ms: u64) -> String {
        let (last_ms, last_seq) = self.last;
        let mut ms = now_ms.max(last_ms);
        if ms == last_ms && seq <= last_seq {
            // Saturating: a hostile id at the top of the range makes appends
            // fail (and be reported), never overflow.
            ms = ms.saturating_add(1);
        }
        self.last = (ms, seq);
        format!("{ms}-{seq}")
    }
}

/// The approximate trim every output append uses (`MAXLEN ~ n`).
fn trim(maxlen: usize) -> (&'static str, &'static str, i64) {
    ("MAXLEN", "~", maxlen.max(1) as i64)
}

#[cfg(test)]
mod tests {
    use super::OutputIds;

    #[test]
    fn output_ids_only_grow() {
        let mut ids = OutputIds::after(None);
        assert_eq!(ids.next(0, 1000), "1000-0");
        assert_eq!(ids.next(1, 1000), "1000-1");
        // The clock stepped back: the time part stays.
        assert_eq!(ids.next(2, 900), "1000-2");
        // After a restart whose sequence could not be recovered (starts at 0).
        let mut ids = OutputIds::after(Some("1000-7"));
        assert_eq!(ids.next(0, 1000), "1001-0");
        let mut ids = OutputIds::after(Some("1000-7"));
        assert_eq!(ids.next(8, 1000), "1000-8");
        assert_eq!(ids.next(9, 2000), "2000-9");
    }
}
