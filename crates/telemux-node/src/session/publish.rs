//! Publishing a session's records: sequence numbers, stream ids, the
//! bounded [`Outbox`] while Redis is away, pipelined appends, repair of
//! the stream ids when a foreign entry sits on top of the stream, the byte
//! bound of the stream ([`ByteAccount`]) and its expiry once the session ended.

use std::sync::Arc;

use telemux_bus::OutputIds;
use telemux_proto::{now_ms, Envelope, OutputEvent, OutputRecord, SessionName};

use super::account::{ByteAccount, ENTRY_OVERHEAD};
use super::outbox::{Outbox, Pending};
use crate::config::END_GRACE;
use crate::state::Shared;

/// Records sent to Redis in one pipelined round trip.
const FLUSH_BATCH: usize = 64;

/// One session's record publisher; also carries the session's identity for
/// the other parts of its watcher.
pub(super) struct Publisher {
    pub shared: Arc<Shared>,
    pub name: SessionName,
    /// Sequence number of the next record.
    pub seq: u64,
    ids: OutputIds,
    outbox: Outbox,
    /// Bytes of the stored entries, for the `output.max_bytes` trim.
    account: ByteAccount,
    /// Publishing is failing (logged once per outage).
    failing: bool,
}

impl Publisher {
    /// A publisher continuing after stream entry `last_id` with record
    /// `seq`; `stream_bytes` is what the stream holds already (if known).
    pub fn new(
        shared: Arc<Shared>,
        name: SessionName,
        seq: u64,
        last_id: Option<&str>,
        stream_bytes: Option<u64>,
        outbox: Outbox,
    ) -> Publisher {
        let mut account = ByteAccount::new(
            shared.cfg.output_max_bytes,
            shared.cfg.output_maxlen.max(100),
        );
        if let (Some(id), Some(bytes)) = (last_id, stream_bytes) {
            account.seed(id, bytes);
        }
        Publisher {
            account,
            shared,
            name,
            seq,
            ids: OutputIds::after(last_id),
            outbox,
            failing: false,
        }
    }

    /// Whether records wait for a retry.
    pub fn has_queued(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Makes the next record for `event`.
    pub fn record(&mut self, event: OutputEvent) -> OutputRecord {
        let r = OutputRecord {
            seq: self.seq,
            ts_ms: now_ms(),
            event,
        };
        self.seq += 1;
        r
    }

    /// Queues `event` as the next record; `exit_n` marks a command-finished
    /// record whose exit bookkeeping follows its storing.
    pub fn emit(&mut self, event: OutputEvent, exit_n: Option<u64>) {
        let record = self.record(event);
        self.push(Pending::new(record, exit_n));
    }

    /// Queues a record for publishing under its stream id.
    pub fn push(&mut self, mut p: Pending) {
        p.id = self.ids.next(p.record.seq, p.record.ts_ms);
        self.push_with_id(p);
    }

    /// Queues a record whose stream id is assigned already.
    fn push_with_id(&mut self, p: Pending) {
        if self.outbox.push(p) {
            tracing::warn!(computer = %self.shared.cfg.computer, session = %self.name, cap = self.outbox.cap(), "outbox full; dropping the oldest output");
        }
    }

    /// Publishes the outbox in order, pipelined; stops at the first failure
    /// and keeps the rest for the next attempt. Bookkeeping that must follow
    /// a stored record (exit marked published, wrapper released, run session
    /// killed) runs only after that record is stored.
    pub async fn flush(&mut self) {
        let computer = self.shared.cfg.computer.clone();
        if !self.outbox.is_empty() && !self.shared.bus.is_connected() {
            // Redis is away: an attempt would only wait out the command
            // timeout while this session's output piles up in tmux. Keep
            // reading it into the outbox; the retry timer tries again.
            if !self.failing {
                tracing::warn!(computer = %computer, session = %self.name, queued = self.outbox.len(), "Redis is unreachable; keeping output until it is back");
                self.failing = true;
            }
            return;
        }
        // Bounded, so a writer racing us with ever higher ids cannot keep
        // this task busy; the retry timer comes back later.
        let mut skips_left = 3;
        while !self.outbox.is_empty() {
            let mut envs = Vec::new();
            let mut sizes = Vec::new();
            for p in self.outbox.front(FLUSH_BATCH) {
                match Envelope::seal(computer.as_str(), &p.record) {
                    Ok(e) => {
                        sizes.push(e.encode().len() as u64 + ENTRY_OVERHEAD);
                        envs.push((p.id.clone(), e));
                    }
                    Err(e) => {
                        // Cannot happen for our own record types; never block the queue on it.
                        tracing::error!(session = %self.name, error = %e, "record does not encode");
                        break;
                    }
                }
            }
            if envs.is_empty() {
                self.outbox.pop();
                continue;
            }
            self.outbox.mark_sent(envs.len());
            let maxlen = self.shared.cfg.output_maxlen.max(100);
            let (stored, err) = self
                .shared
                .bus
                .append_outputs(&computer, &self.name, &envs, maxlen)
                .await;
            let mut trim_to = None;
            for size in sizes.iter().take(stored) {
                let p = self.outbox.pop().expect("stored records are queued");
                trim_to = self.account.add(p.id.clone(), *size).or(trim_to);
                self.after_stored(p).await;
            }
            if let Some(min_id) = trim_to {
                self.trim(&min_id).await;
            }
            if let (Some(telemux_bus::BusError::StreamAhead { newest, .. }), true) =
                (&err, skips_left > 0)
            {
                skips_left -= 1;
                // Someone wrote above our ids (Redis is not a trust
                // boundary): continue after their entry rather than have
                // every later record refused as "already stored".
                tracing::warn!(computer = %computer, session = %self.name, %newest, "a foreign entry is on top of the output stream; continuing after it");
                self.ids = OutputIds::after(Some(newest));
                let ids = &mut self.ids;
                self.outbox.reassign_ids(|r| ids.next(r.seq, r.ts_ms));
                continue;
            }
            if let Some(e) = err {
                if !self.failing {
                    tracing::warn!(computer = %computer, session = %self.name, error = %e, queued = self.outbox.len(), "cannot publish output; keeping it until Redis is back");
                    self.failing = true;
                }
                return;
            }
            self.failing = false;
        }
    }

    /// Drops the stream's entries before `min_id`, keeping it under `output.max_bytes`.
    async fn trim(&self, min_id: &str) {
        let computer = &self.shared.cfg.computer;
        match self
            .shared
            .bus
            .trim_output_before(computer, &self.name, min_id)
            .await
        {
            Ok(n) => {
                tracing::debug!(computer = %computer, session = %self.name, trimmed = n, kept_bytes = self.account.total(), "output stream trimmed to its byte bound")
            }
            // The next trim catches up; the stream is only over its bound meanwhile.
            Err(e) => {
                tracing::debug!(computer = %computer, session = %self.name, error = %e, "could not trim the output stream")
            }
        }
    }

    /// The session ended and its last records are stored (or given up):
    /// its stream expires after `output.retention` (at least [`END_GRACE`],
    /// so a `run` or `tail` still reading gets the final records) and its
    /// exit bookkeeping goes.
    pub async fn retire(&self) {
        let computer = &self.shared.cfg.computer;
        if self.has_queued() {
            tracing::warn!(computer = %computer, session = %self.name, queued = self.outbox.len(), "session ended with output not yet stored; it is dropped");
        }
        let keep = self.shared.cfg.retention.max(END_GRACE);
        if let Err(e) = self
            .shared
            .bus
            .retire_session(computer, &self.name, keep)
            .await
        {
            tracing::warn!(computer = %computer, session = %self.name, error = %e, "could not set the ended session's output to expire");
        }
    }

    /// The session is called `to` now (tmux renamed it, its stream moved):
    /// records go under the new name, starting with the rename record, and
    /// a copy of that record marked as the pointer is left under the old
    /// key. Everything queued must have been stored before (the caller
    /// flushed), so no record lands under the old key after the pointer.
    pub async fn renamed(&mut self, to: SessionName) {
        let from = std::mem::replace(&mut self.name, to.clone());
        let computer = self.shared.cfg.computer.clone();
        let event = |pointer| OutputEvent::Renamed {
            from: from.to_string(),
            to: to.to_string(),
            pointer,
        };
        let record = self.record(event(false));
        let mut pointer = record.clone();
        pointer.event = event(true);
        let mut p = Pending::new(record, None);
        p.id = self.ids.next(p.record.seq, p.record.ts_ms);
        let id = p.id.clone();
        self.push_with_id(p);
        self.flush().await;
        if from.key() == to.key() {
            return;
        }
        let keep = self.shared.cfg.retention.max(END_GRACE);
        let left = match Envelope::seal(computer.as_str(), &pointer) {
            Ok(env) => {
                self.shared
                    .bus
                    .leave_rename_pointer(&computer, &from, &id, &env, keep)
                    .await
            }
            Err(e) => Err(e.into()),
        };
        if let Err(e) = left {
            // Readers of the old name then wait on a key nobody writes;
            // they find the session under its new name when they resolve it again.
            tracing::warn!(computer = %computer, session = %to, %from, error = %e, "could not leave the rename pointer under the old name");
        }
    }

    /// A session of this name runs (again): its stream must not expire.
    pub async fn keep(&self) {
        let computer = &self.shared.cfg.computer;
        if let Err(e) = self.shared.bus.keep_output(computer, &self.name).await {
            tracing::warn!(computer = %computer, session = %self.name, error = %e, "could not clear the output stream's expiry");
        }
    }

    async fn after_stored(&mut self, p: Pending) {
        let computer = &self.shared.cfg.computer;
        if let Some(n) = p.exit_n {
            if let Err(e) = self
                .shared
                .bus
                .set_exits_seen(computer, &self.name, n)
                .await
            {
                tracing::warn!(session = %self.name, error = %e, "could not record exit as published");
            }
            if let Err(e) = self.shared.tmux.clear_exit_records(&self.name, n).await {
                tracing::debug!(session = %self.name, error = %e, "could not clear exit record");
            }
        }
        if let (Some(pane), false) = (&p.release, p.then_kill) {
            if let Err(e) = self.shared.tmux.release_exit(&self.name, pane).await {
                tracing::debug!(session = %self.name, error = %e, "could not release wrapper");
            }
        }
        if p.then_kill {
            if let Err(e) = self.shared.tmux.kill_session(&self.name).await {
                tracing::debug!(session = %self.name, error = %e, "kill after run failed");
            }
        }
    }
}
