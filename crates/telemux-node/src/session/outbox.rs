//! A session's outbox: its records between being made and being stored in
//! Redis, in sequence order.
//!
//! While Redis is reachable the outbox holds a handful of records for a few
//! milliseconds. During an outage it fills up to `node.outbox_records`
//! records (and [`MAX_BYTES`]); beyond that the oldest plain output is folded
//! into one gap record that names the sequence numbers it replaced and how
//! many bytes they held, so the stream keeps consecutive sequence numbers and
//! says exactly what was lost. Exit events are never dropped, and neither is
//! a record already sent once: Redis may hold it under its id, so it must go
//! out again unchanged.

use std::collections::VecDeque;

use telemux_proto::{OutputEvent, OutputRecord};

/// Most bytes of records one session keeps, whatever `node.outbox_records`
/// says: a flood of full records (up to 16 KiB of text plus 16 KiB of raw
/// bytes each) would otherwise take 4096 × 32 KiB = 128 MiB.
pub(crate) const MAX_BYTES: usize = 16 * 1024 * 1024;

/// A record waiting to be stored, with what must happen once it is.
pub(crate) struct Pending {
    pub record: OutputRecord,
    /// Its stream id, fixed before the first attempt so a retry cannot store it twice.
    pub id: String,
    /// Shell exit record number to mark as published once this is stored.
    pub exit_n: Option<u64>,
    /// Kill the session after this is stored (end of a `run`).
    pub then_kill: bool,
    /// Pane whose wrapper may exit once this is stored.
    pub release: Option<String>,
    /// Set on a gap record that stands for output dropped from a full outbox.
    lost: Option<Lost>,
    /// Sent to Redis at least once without a confirmation, so it may be
    /// stored already: it must go out again unchanged under its id.
    sent: bool,
}

impl Pending {
    /// A record with no bookkeeping attached yet.
    pub fn new(record: OutputRecord, exit_n: Option<u64>) -> Pending {
        Pending {
            record,
            id: String::new(),
            exit_n,
            then_kill: false,
            release: None,
            lost: None,
            sent: false,
        }
    }

    /// Plain output never sent yet, which a full outbox may drop.
    fn droppable(&self) -> bool {
        !self.sent
            && matches!(
                self.record.event,
                OutputEvent::Lines { .. } | OutputEvent::Frame { .. } | OutputEvent::Raw { .. }
            )
    }

    /// Whether later dropped output may be folded into this record.
    fn absorbs(&self) -> bool {
        self.droppable() || (self.lost.is_some() && !self.sent)
    }
}

/// How much output one overflow gap record stands for.
#[derive(Debug, Clone, Copy)]
struct Lost {
    records: u64,
    bytes: u64,
}

/// Memory a queued record takes, roughly (text, raw bytes, reason).
fn weight(event: &OutputEvent) -> usize {
    let text = |v: &[String]| v.iter().map(|l| l.len() + 1).sum::<usize>();
    64 + match event {
        OutputEvent::Lines {
            lines,
            partial,
            raw,
        } => text(lines) + partial.len() + raw.len(),
        OutputEvent::Frame { rows, raw } => text(rows) + raw.len(),
        OutputEvent::Raw { raw } => raw.len(),
        OutputEvent::Gap { reason, .. } | OutputEvent::SessionClosed { reason } => reason.len(),
        OutputEvent::AgentState { detail, .. } => detail.len(),
        OutputEvent::Renamed { from, to, .. } => from.len() + to.len(),
        OutputEvent::CommandFinished { .. } | OutputEvent::SessionExited { .. } => 0,
    }
}

/// Terminal bytes an output record carries (raw is split across the records
/// of a burst, so summing it never counts a byte twice).
fn output_bytes(event: &OutputEvent) -> u64 {
    match event {
        OutputEvent::Lines { raw, .. }
        | OutputEvent::Frame { raw, .. }
        | OutputEvent::Raw { raw } => raw.len() as u64,
        _ => 0,
    }
}

/// The queue of one session's unstored records, bounded as described above.
pub(crate) struct Outbox {
    queue: VecDeque<Pending>,
    /// [`weight`] of everything queued.
    bytes: usize,
    cap: usize,
    max_bytes: usize,
}

impl Outbox {
    /// An empty outbox keeping about `cap` records and [`MAX_BYTES`].
    pub fn new(cap: usize) -> Outbox {
        Outbox::with_limits(cap, MAX_BYTES)
    }

    fn with_limits(cap: usize, max_bytes: usize) -> Outbox {
        Outbox {
            queue: VecDeque::new(),
            bytes: 0,
            cap: cap.max(2),
            max_bytes,
        }
    }

    /// The record bound it was made with.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Number of queued records.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues `p` last, first making room when full; returns whether that
    /// started a new gap (worth one log line).
    pub fn push(&mut self, p: Pending) -> bool {
        let w = weight(&p.record.event);
        let mut started = false;
        while self.queue.len() >= self.cap || self.bytes + w > self.max_bytes {
            match self.make_room() {
                Some(new_gap) => started |= new_gap,
                None => break,
            }
        }
        self.bytes += w;
        self.queue.push_back(p);
        started
    }

    /// The oldest `n` records, in order.
    pub fn front(&self, n: usize) -> impl Iterator<Item = &Pending> {
        self.queue.iter().take(n)
    }

    /// Marks the oldest `n` records as sent: from now on they are kept verbatim.
    pub fn mark_sent(&mut self, n: usize) {
        for p in self.queue.iter_mut().take(n) {
            p.sent = true;
        }
    }

    /// Gives every queued record a new stream id from `next` (in order),
    /// after a foreign entry turned up above the ids given so far.
    pub fn reassign_ids(&mut self, mut next: impl FnMut(&OutputRecord) -> String) {
        for p in self.queue.iter_mut() {
            p.id = next(&p.record);
        }
    }

    /// Takes the oldest record out.
    pub fn pop(&mut self) -> Option<Pending> {
        let p = self.queue.pop_front()?;
        self.bytes = self.bytes.saturating_sub(weight(&p.record.event));
        Some(p)
    }

    /// Folds the oldest droppable output record into the record before it
    /// (which becomes, or already is, a gap record). Returns `None` when
    /// nothing can be dropped, else whether a new gap record was started.
    fn make_room(&mut self) -> Option<bool> {
        let i = (0..self.queue.len().saturating_sub(1))
            .find(|&i| self.queue[i].absorbs() && self.queue[i + 1].droppable())?;
        let next = self.queue.remove(i + 1).expect("index checked");
        let head = &mut self.queue[i];
        let before = weight(&head.record.event) + weight(&next.record.event);
        let started = head.lost.is_none();
        let mut lost = head.lost.unwrap_or(Lost {
            records: 1,
            bytes: output_bytes(&head.record.event),
        });
        lost.records += 1;
        lost.bytes += output_bytes(&next.record.event);
        head.record.event = OutputEvent::Gap {
            from_seq: head.record.seq,
            to_seq: next.record.seq,
            reason: format!(
                "{} output records ({} bytes) were dropped while Redis was unreachable: a session keeps at most {} records (node.outbox_records) or {} MiB meanwhile",
                lost.records,
                lost.bytes,
                self.cap,
                self.max_bytes / (1024 * 1024)
            ),
        };
        head.lost = Some(lost);
        let after = weight(&head.record.event);
        self.bytes = (self.bytes + after).saturating_sub(before);
        Some(started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(seq: u64, raw: usize) -> Pending {
        Pending::new(
            OutputRecord {
                seq,
                ts_ms: 0,
                event: OutputEvent::Lines {
                    lines: vec!["x".repeat(raw)],
                    partial: String::new(),
                    raw: vec![b'x'; raw],
                },
            },
            None,
        )
    }

    fn exit(seq: u64) -> Pending {
        Pending::new(
            OutputRecord {
                seq,
                ts_ms: 0,
                event: OutputEvent::CommandFinished {
                    exit_code: seq as i32,
                    started_ms: 0,
                    finished_ms: 0,
                },
            },
            Some(seq),
        )
    }

    /// `(seq, what)` of everything queued: `L` output, `E` exit, `G from..=to`.
    fn shape(o: &Outbox) -> Vec<String> {
        o.front(usize::MAX)
            .map(|p| match &p.record.event {
                OutputEvent::Gap {
                    from_seq, to_seq, ..
                } => format!("{}G{from_seq}..={to_seq}", p.record.seq),
                OutputEvent::CommandFinished { .. } => format!("{}E", p.record.seq),
                _ => format!("{}L", p.record.seq),
            })
            .collect()
    }

    #[test]
    fn oldest_output_becomes_one_gap_and_exits_stay() {
        let mut o = Outbox::with_limits(4, usize::MAX);
        assert!(!o.push(lines(0, 10)));
        o.push(exit(1));
        o.push(lines(2, 10));
        o.push(lines(3, 10));
        assert!(o.push(lines(4, 10)), "a new gap is reported once");
        assert_eq!(shape(&o), ["0L", "1E", "2G2..=3", "4L"]);
        assert!(!o.push(lines(5, 10)));
        assert_eq!(shape(&o), ["0L", "1E", "2G2..=4", "5L"]);
        let OutputEvent::Gap { reason, .. } = &o.front(3).nth(2).unwrap().record.event else {
            panic!("not a gap");
        };
        assert!(
            reason.starts_with("3 output records (30 bytes) were dropped"),
            "{reason}"
        );
        // Exits are never dropped: the outbox grows past its cap instead.
        for seq in 6..10 {
            o.push(exit(seq));
        }
        assert_eq!(shape(&o), ["0L", "1E", "2G2..=5", "6E", "7E", "8E", "9E"]);
    }

    #[test]
    fn records_sent_once_are_kept_verbatim() {
        let mut o = Outbox::with_limits(3, usize::MAX);
        o.push(lines(0, 10));
        o.push(lines(1, 10));
        o.mark_sent(2);
        o.push(lines(2, 10));
        o.push(lines(3, 10));
        o.push(lines(4, 10));
        assert_eq!(shape(&o), ["0L", "1L", "2G2..=3", "4L"]);
    }

    #[test]
    fn bytes_are_bounded_too() {
        let mut o = Outbox::with_limits(1000, 10 * 1024);
        for seq in 0..100 {
            o.push(lines(seq, 1024));
        }
        assert!(o.bytes <= 10 * 1024, "{} bytes queued", o.bytes);
        let total: usize = o.front(usize::MAX).map(|p| weight(&p.record.event)).sum();
        assert_eq!(total, o.bytes, "the running total is exact");
        while o.pop().is_some() {}
        assert_eq!(o.bytes, 0);
    }
}
