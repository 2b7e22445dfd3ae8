//! Command streams, node side: a [`CommandReader`] consumes this computer's
//! stream through the consumer group [`keys::COMMAND_GROUP`], plus the sending
//! half ([`Bus::send_request`], [`Bus::reply`]).
//!
//! Delivery is at-least-once (an entry stays pending until acknowledged, and a
//! restarted node gets its own pending entries again first); execution is made
//! at-most-once by [`CommandReader::try_take`], a marker per command id that
//! outlives node restarts. The group is created at id `0`, so commands sent
//! while the node was down are still delivered; the node skips those past
//! their deadline. Entries that do not decode come back as `Err` for the
//! caller to dead-letter — a stream never stalls on garbage.

use std::{
    collections::{HashSet, VecDeque},
    sync::Mutex,
    time::Duration,
};

use fred::{prelude::*, types::Expiration};
use telemux_proto::{keys, ComputerName, DeadLetter, Envelope, ProtoError};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    connect::{Dedicated, MAX_BLOCK},
    entries::{parse_read, RawEntry},
    error::is_transient,
    Bus, BusError, RedisKind,
};

/// Entries kept per command stream and per reply stream (`MAXLEN ~`).
const STREAM_MAXLEN: i64 = 1000;
/// Entries kept in the dead-letter stream.
const DEAD_LETTER_MAXLEN: i64 = 10_000;
/// Lifetime of a reply stream after its last reply, so abandoned ones disappear.
const REPLY_TTL_MS: i64 = 60_000;
/// How long a command id is remembered as taken.
const TAKEN_TTL_S: i64 = 86_400;
/// Field of a dead-letter entry holding the refused bytes, next to the envelope.
const RAW_FIELD: &str = "raw";
/// Entries fetched per read.
const BATCH: u64 = 16;

/// One entry of the command stream, decoded or not.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Stream id, for [`CommandReader::ack`] and [`CommandReader::dead_letter`].
    pub entry_id: String,
    /// The envelope, or why the entry is not one.
    pub envelope: Result<Envelope, ProtoError>,
    /// The stored bytes when decoding failed (for the dead letter); `None` on success.
    pub raw: Option<Vec<u8>>,
}

impl Incoming {
    fn from_raw(e: RawEntry) -> Incoming {
        let envelope = e.decode();
        let raw = envelope.is_err().then(|| e.raw());
        Incoming {
            entry_id: e.id,
            envelope,
            raw,
        }
    }
}

/// Reads one computer's command stream as the node of that computer.
pub struct CommandReader {
    bus: Bus,
    conn: Dedicated,
    computer: ComputerName,
    stream: String,
    consumer: String,
    group_ready: bool,
    /// `Some(id)` while replaying our own pending entries after `id`.
    pending_cursor: Option<String>,
    /// A read was started and not finished: its future was dropped, and what
    /// it delivered is pending but unseen, so the pending list is replayed.
    interrupted: bool,
    buf: VecDeque<RawEntry>,
    /// Ids handed out and not yet acknowledged, so a replay does not repeat them.
    unacked: Mutex<HashSet<String>>,
}

impl CommandReader {
    /// A reader of `computer`'s command stream; the consumer group is created on first use.
    pub fn new(bus: &Bus, computer: &ComputerName) -> CommandReader {
        CommandReader {
            bus: bus.clone(),
            conn: bus.dedicated(),
            computer: computer.clone(),
            stream: keys::commands(computer),
            consumer: computer.key(),
            group_ready: false,
            pending_cursor: Some("0".into()),
            interrupted: false,
            buf: VecDeque::new(),
            unacked: Mutex::new(HashSet::new()),
        }
    }

    /// The stream this reader consumes.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The next entry: first this consumer's pending ones, then new ones; `None` once `cancel` fires.
    ///
    /// Transient Redis failures are logged and retried here; only persistent
    /// ones (such as the key holding something that is not a stream) are returned.
    pub async fn next(&mut self, cancel: &CancellationToken) -> Result<Option<Incoming>, BusError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            if let Some(e) = self.buf.pop_front() {
                self.lock_unacked().insert(e.id.clone());
                return Ok(Some(Incoming::from_raw(e)));
            }
            if cancel.is_cancelled() {
                return Ok(None);
            }
            let r = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(None),
                r = self.fill() => r,
            };
            match r {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) if RedisKind::of(&e) == RedisKind::NoGroup => {
                    // Redis lost the group (restarted without persistence): start over.
                    tracing::info!(computer = %self.computer, "command group missing; recreating it");
                    self.group_ready = false;
                    self.pending_cursor = Some("0".into());
                }
                Err(e) if is_transient(&e) => {
                    tracing::warn!(computer = %self.computer, error = %e, "reading commands failed; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(None),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(BusError::redis(&format!("reading {}", self.stream), &e)),
            }
        }
    }

    /// One read into the buffer; may return with nothing buffered (a `BLOCK` that timed out).
    async fn fill(&mut self) -> Result<(), fred::error::Error> {
        if !self.group_ready {
            self.create_group().await?;
            self.group_ready = true;
        }
        if self.interrupted && self.pending_cursor.is_none() {
            self.pending_cursor = Some("0".into());
        }
        self.interrupted = true;
        let client = self.conn.client();
        let entries = match self.pending_cursor.clone() {
            Some(after) => {
                let v: Value = client
                    .xreadgroup(
                        keys::COMMAND_GROUP,
                        self.consumer.as_str(),
                        Some(BATCH),
                        None,
                        false,
                        self.stream.as_str(),
                        after,
                    )
                    .await?;
                let entries = parse_read(v).map_err(to_fred)?;
                self.pending_cursor = entries.last().map(|e| e.id.clone());
                if self.pending_cursor.is_none() {
                    tracing::debug!(computer = %self.computer, "pending commands replayed");
                }
                let unacked = self.lock_unacked();
                entries
                    .into_iter()
                    .filter(|e| !unacked.contains(&e.id))
                    .collect()
            }
            None => {
                let v: Value = client
                    .with_options(&Dedicated::blocking_options(MAX_BLOCK))
                    .xreadgroup(
                        keys::COMMAND_GROUP,
                        self.consumer.as_str(),
                        Some(BATCH),
                        Some(MAX_BLOCK.as_millis() as u64),
                        false,
                        self.stream.as_str(),
                        ">",
                    )
                    .await?;
                parse_read(v).map_err(to_fred)?
            }
        };
        self.interrupted = false;
        self.buf.extend(entries);
        Ok(())
    }

    async fn create_group(&self) -> Result<(), fred::error::Error> {
        let r: Result<Value, _> = self
            .bus
            .client()
            .xgroup_create(self.stream.as_str(), keys::COMMAND_GROUP, "0", true)
            .await;
        match r {
            Err(e) if RedisKind::of(&e) != RedisKind::GroupExists => Err(e),
            _ => Ok(()),
        }
    }

    fn lock_unacked(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // The set is only ever inserted into or removed from; a poisoned lock holds valid data.
        self.unacked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Acknowledges an entry once it has been executed (or skipped on purpose).
    pub async fn ack(&self, entry_id: &str) -> Result<(), BusError> {
        self.bus
            .client()
            .xack::<(), _, _, _>(self.stream.as_str(), keys::COMMAND_GROUP, entry_id)
            .await
            .map_err(|e| {
                BusError::redis(&format!("acknowledging {entry_id} on {}", self.stream), &e)
            })?;
        self.lock_unacked().remove(entry_id);
        Ok(())
    }

    /// Records a refused entry in the dead-letter stream, then acknowledges it.
    pub async fn dead_letter(
        &self,
        stream: &str,
        entry_id: &str,
        reason: &str,
        raw: Option<&[u8]>,
    ) -> Result<(), BusError> {
        tracing::warn!(computer = %self.computer, %stream, %entry_id, %reason, "dead-lettering entry");
        let letter = DeadLetter {
            stream: stream.to_string(),
            entry_id: entry_id.to_string(),
            reason: reason.to_string(),
        };
        let env = Envelope::seal(self.computer.as_str(), &letter)?;
        let mut fields: Vec<(&str, Vec<u8>)> = vec![(keys::FIELD, env.encode())];
        if let Some(raw) = raw {
            let keep = raw.len().min(telemux_proto::limits::MAX_ENVELOPE_BYTES);
            fields.push((RAW_FIELD, raw[..keep].to_vec()));
        }
        self.bus
            .client()
            .xadd::<(), _, _, _, _>(
                keys::dead_letters(),
                false,
                ("MAXLEN", "~", DEAD_LETTER_MAXLEN),
                "*",
                fields,
            )
            .await
            .map_err(|e| BusError::redis("writing a dead letter", &e))?;
        self.bus
            .client()
            .xack::<(), _, _, _>(stream, keys::COMMAND_GROUP, entry_id)
            .await
            .map_err(|e| BusError::redis(&format!("acknowledging {entry_id} on {stream}"), &e))?;
        self.lock_unacked().remove(entry_id);
        Ok(())
    }

    /// Claims command `id` for execution; `false` if it was already taken (at-most-once across restarts).
    pub async fn try_take(&self, id: &Uuid) -> Result<bool, BusError> {
        let v: Value = self
            .bus
            .client()
            .set(
                keys::command_taken(id),
                "1",
                Some(Expiration::EX(TAKEN_TTL_S)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(|e| BusError::redis(&format!("marking command {id} as taken"), &e))?;
        Ok(!v.is_null())
    }
}

fn to_fred(e: BusError) -> fred::error::Error {
    fred::error::Error::new(fred::error::ErrorKind::Protocol, e.to_string())
}

/// One entry of the dead-letter stream, for inspection (`telemux doctor`, tests).
#[derive(Debug, Clone)]
pub struct DeadLetterEntry {
    /// Stream id of the dead letter.
    pub id: String,
    /// Who refused what and why.
    pub letter: Result<DeadLetter, ProtoError>,
    /// The refused bytes, when they were kept.
    pub raw: Option<Vec<u8>>,
}

impl Bus {
    /// The newest `count` dead letters, newest first.
    pub async fn dead_letters(&self, count: usize) -> Result<Vec<DeadLetterEntry>, BusError> {
        let v: Value = self
            .client()
            .xrevrange(keys::dead_letters(), "+", "-", Some(count.max(1) as u64))
            .await
            .map_err(|e| BusError::redis("reading dead letters", &e))?;
        Ok(crate::entries::parse_range(v)?
            .into_iter()
            .map(|e| DeadLetterEntry {
                letter: e.decode().and_then(|env| env.open::<DeadLetter>()),
                raw: e.field(RAW_FIELD).map(<[u8]>::to_vec),
                id: e.id,
            })
            .collect())
    }

    /// Appends a request envelope to `to`'s command stream; returns the entry id.
    pub async fn send_request(
        &self,
        to: &ComputerName,
        env: &Envelope,
    ) -> Result<String, BusError> {
        self.client()
            .xadd(
                keys::commands(to),
                false,
                ("MAXLEN", "~", STREAM_MAXLEN),
                "*",
                (keys::FIELD, env.encode()),
            )
            .await
            .map_err(|e| BusError::redis(&format!("sending a request to {to}"), &e))
    }

    /// Writes a reply envelope to the requester's reply stream (which then expires after 60 s).
    ///
    /// `reply_to` comes from a remote request, so only telemux reply streams are accepted:
    /// a request must not be able to make a node write to an arbitrary key.
    pub async fn reply(&self, reply_to: &str, env: &Envelope) -> Result<(), BusError> {
        let valid = reply_to
            .rsplit(':')
            .next()
            .and_then(|s| Uuid::parse_str(s).ok())
            .is_some_and(|u| keys::replies(&u) == reply_to);
        if !valid {
            return Err(BusError::Refused(format!(
                "refusing to reply to '{}': not a telemux reply stream",
                reply_to.chars().take(80).collect::<String>()
            )));
        }
        let c = self.client();
        c.xadd::<(), _, _, _, _>(
            reply_to,
            false,
            ("MAXLEN", "~", STREAM_MAXLEN),
            "*",
            (keys::FIELD, env.encode()),
        )
        .await
        .map_err(|e| BusError::redis("writing a reply", &e))?;
        c.pexpire::<(), _>(reply_to, REPLY_TTL_MS, None)
            .await
            .map_err(|e| BusError::redis("setting the reply stream's expiry", &e))
    }
}
