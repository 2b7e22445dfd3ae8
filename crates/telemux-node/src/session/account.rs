//! The byte account of one session's output stream: which entries the
//! publisher stored and how many bytes each took, so the stream can be kept
//! under `output.max_bytes` with `XTRIM MINID` (Redis bounds streams by
//! entry count or id, never by bytes).
//!
//! Pure bookkeeping; [`super::publish`] does the Redis calls. The account
//! lives in the node's memory: after a node restart it is seeded with
//! Redis's estimate of the stream's size as one stand-in entry (see
//! [`ByteAccount::seed`]), so the stream's older part is trimmed as a whole
//! once the new records need its room.

use std::collections::VecDeque;

/// Bytes counted per stream entry on top of its encoded envelope: the
/// entry id, the field name and Redis's per-entry bookkeeping (measured
/// with `MEMORY USAGE`: ~20–40 bytes; rounded up so the bound holds).
pub(super) const ENTRY_OVERHEAD: u64 = 64;

/// The stored entries of one stream with their sizes, oldest first.
#[derive(Debug)]
pub(super) struct ByteAccount {
    entries: VecDeque<(String, u64)>,
    total: u64,
    max_bytes: u64,
    max_entries: usize,
}

impl ByteAccount {
    /// An empty account of a stream bounded to `max_bytes` and to about
    /// `max_entries` entries (the `MAXLEN ~` Redis applies itself).
    pub fn new(max_bytes: u64, max_entries: usize) -> ByteAccount {
        ByteAccount {
            entries: VecDeque::new(),
            total: 0,
            max_bytes: max_bytes.max(1),
            max_entries: max_entries.max(1),
        }
    }

    /// Counts what the stream held before this account started (a node
    /// restart, or a session re-created under an ended one's name) as one
    /// entry of `bytes` at `newest_id`, the stream's newest entry then.
    pub fn seed(&mut self, newest_id: &str, bytes: u64) {
        self.entries.push_front((newest_id.to_string(), bytes));
        self.total += bytes;
    }

    /// Bytes of the entries counted now.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Counts entry `id` of `bytes`, just stored. When the stream is over
    /// its byte bound, returns the id of the oldest entry to keep: trimming
    /// to it brings the stream to 7/8 of the bound (so a flood trims once
    /// per eighth of the bound, not once per record). The newest entry is
    /// always kept.
    pub fn add(&mut self, id: String, bytes: u64) -> Option<String> {
        self.entries.push_back((id, bytes));
        self.total += bytes;
        // Entries beyond the record count are dropped by Redis's own MAXLEN.
        while self.entries.len() > self.max_entries {
            self.pop();
        }
        if self.total <= self.max_bytes {
            return None;
        }
        let low = self.max_bytes - self.max_bytes / 8;
        while self.total > low && self.entries.len() > 1 {
            self.pop();
        }
        self.entries.front().map(|(id, _)| id.clone())
    }

    fn pop(&mut self) {
        if let Some((_, b)) = self.entries.pop_front() {
            self.total -= b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteAccount;

    #[test]
    fn under_the_bound_nothing_is_trimmed() {
        let mut a = ByteAccount::new(1000, 100);
        for i in 0..10 {
            assert_eq!(a.add(format!("{i}-0"), 100), None);
        }
        assert_eq!(a.total(), 1000);
    }

    #[test]
    fn over_the_bound_trims_to_seven_eighths() {
        let mut a = ByteAccount::new(800, 100);
        for i in 0..8 {
            assert_eq!(a.add(format!("{i}-0"), 100), None);
        }
        // 900 > 800: drop the oldest until ≤ 700 — entries 0 and 1 go.
        assert_eq!(a.add("8-0".into(), 100).as_deref(), Some("2-0"));
        assert_eq!(a.total(), 700);
        // Room again until the bound is passed once more.
        assert_eq!(a.add("9-0".into(), 100), None);
        assert_eq!(a.total(), 800);
        assert_eq!(a.add("10-0".into(), 50).as_deref(), Some("4-0"));
        assert_eq!(a.total(), 650);
    }

    #[test]
    fn the_newest_entry_is_kept_even_when_alone_over_the_bound() {
        let mut a = ByteAccount::new(100, 100);
        assert_eq!(a.add("1-0".into(), 50), None);
        assert_eq!(a.add("2-0".into(), 500).as_deref(), Some("2-0"));
        assert_eq!(a.total(), 500);
        assert_eq!(a.add("3-0".into(), 10).as_deref(), Some("3-0"));
        assert_eq!(a.total(), 10);
    }

    #[test]
    fn entries_past_the_record_count_leave_the_account_without_a_trim() {
        let mut a = ByteAccount::new(1000, 3);
        for i in 0..10 {
            assert_eq!(a.add(format!("{i}-0"), 300), None);
        }
        assert_eq!(a.total(), 900);
    }

    #[test]
    fn a_seed_is_trimmed_as_a_whole() {
        let mut a = ByteAccount::new(1000, 100);
        a.seed("5-0", 900);
        assert_eq!(a.add("6-0".into(), 50), None);
        // 1050 > 1000: the seed goes; keep from our first own entry.
        assert_eq!(a.add("7-0".into(), 100).as_deref(), Some("6-0"));
        assert_eq!(a.total(), 150);
    }
}
