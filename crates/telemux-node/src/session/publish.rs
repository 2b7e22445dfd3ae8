//! Publishing a session's records: sequence numbers, stream ids, the
//! bounded [`Outbox`] while Redis is away, pipelined appends, and repair of
//! the stream ids when a foreign entry sits on top of the stream.

use std::sync::Arc;

use telemux_bus::OutputIds;
use telemux_proto::{now_ms, Envelope, OutputEvent, OutputRecord, SessionName};

use super::outbox::{Outbox, Pending};
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
    /// Publishing is failing (logged once per outage).
    failing: bool,
}

impl Publisher {
    /// A publisher continuing after stream entry `last_id` with record `seq`.
    pub fn new(
        shared: Arc<Shared>,
        name: SessionName,
        seq: u64,
        last_id: Option<&str>,
        outbox: Outbox,
    ) -> Publisher {
        Publisher {
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
            for p in self.outbox.front(FLUSH_BATCH) {
                match Envelope::seal(computer.as_str(), &p.record) {
                    Ok(e) => envs.push((p.id.clone(), e)),
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
            for _ in 0..stored {
                let p = self.outbox.pop().expect("stored records are queued");
                self.after_stored(p).await;
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
