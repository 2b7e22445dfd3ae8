//! Control-mode plumbing shared by the [`crate::ControlHub`]: parsing its
//! lines and the bounded buffer each subscriber reads from.
//!
//! `tmux -C` prints `%output %<pane> <bytes>` for every write to a pane of its
//! session, with bytes below 32 and `\\` octal-escaped. The hub unescapes them
//! into the [`Sink`] of the session the pane belongs to; a sink is capped at
//! [`PENDING_CAP`]: when its consumer is slower than the program, the OLDEST
//! bytes are dropped and counted, so a flooding session costs bounded memory
//! and never slows tmux or other sessions down. The consumer takes everything
//! pending at once ([`Sink::next_batch`]), which naturally coalesces.
//!
//! Deliberately not done: `refresh-client -f pause-after` (tmux would stop
//! sending output we then have to resume, for no gain over dropping here) and
//! running commands through the control connection: a `%begin`..`%end` reply
//! block carries raw pane text (e.g. a capture), and a pane that prints a line
//! looking like `%end ...` followed by `%exit` could confuse such a parser, so
//! commands go through separate tmux processes instead.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::io::AsyncBufReadExt;
use tokio::sync::Notify;

/// Most output bytes held for a slow consumer before the oldest are dropped (1 MiB).
pub const PENDING_CAP: usize = 1024 * 1024;

/// Longest control-mode line kept; longer lines are cut (tmux's are far shorter).
pub(crate) const MAX_LINE: usize = 4 * 1024 * 1024;

/// Output gathered since the previous [`crate::ControlClient::next_batch`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Raw pane bytes, in order (escape sequences included).
    pub bytes: Vec<u8>,
    /// Bytes dropped before `bytes` because the consumer fell behind.
    pub dropped: u64,
    /// The subscription ended: the session's window is gone, or the hub's
    /// client lost its tmux server (the session may be gone with it).
    pub exited: bool,
}

/// State shared by the hub's reader and one consumer.
#[derive(Debug, Default)]
struct Pending {
    bytes: VecDeque<u8>,
    dropped: u64,
    exited: bool,
}

/// One subscriber's pending output and the wake-up of its consumer.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pending: Mutex<Pending>,
    notify: Notify,
}

impl Sink {
    /// Appends pane bytes (dropping the oldest beyond the cap) and wakes the consumer.
    pub(crate) fn push(&self, data: &[u8]) {
        push(&self.pending, data);
        self.notify.notify_one();
    }

    /// Marks the subscription ended; every later batch says `exited`.
    pub(crate) fn end(&self) {
        lock(&self.pending).exited = true;
        self.notify.notify_one();
    }

    /// Waits until output is pending (or the subscription ended) and takes all of it.
    pub(crate) async fn next_batch(&self) -> Batch {
        loop {
            let notified = self.notify.notified();
            if let Some(b) = self.try_batch() {
                return b;
            }
            notified.await;
        }
    }

    /// Takes pending output without waiting; `None` when there is nothing new.
    pub(crate) fn try_batch(&self) -> Option<Batch> {
        let mut p = lock(&self.pending);
        if p.bytes.is_empty() && p.dropped == 0 && !p.exited {
            return None;
        }
        let bytes: Vec<u8> = p.bytes.drain(..).collect();
        let dropped = std::mem::take(&mut p.dropped);
        Some(Batch {
            bytes,
            dropped,
            exited: p.exited,
        })
    }
}

/// Locks the shared state; a poisoned lock only means a panicking reader, keep going.
fn lock(m: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Appends to the pending buffer, dropping the oldest bytes beyond [`PENDING_CAP`].
fn push(pending: &Mutex<Pending>, data: &[u8]) {
    let mut p = lock(pending);
    let data = if data.len() > PENDING_CAP {
        p.dropped += (data.len() - PENDING_CAP) as u64;
        &data[data.len() - PENDING_CAP..]
    } else {
        data
    };
    let over = (p.bytes.len() + data.len()).saturating_sub(PENDING_CAP);
    if over > 0 {
        p.bytes.drain(..over);
        p.dropped += over as u64;
    }
    p.bytes.extend(data);
}

/// Reads one `\n`-terminated line (without it) into `buf`, keeping at most [`MAX_LINE`] bytes.
pub(crate) async fn read_line_capped<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let avail = r.fill_buf().await?;
        if avail.is_empty() {
            return Ok(total);
        }
        let (take, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        let content = if done { take - 1 } else { take };
        buf.extend_from_slice(&avail[..content.min(room)]);
        r.consume(take);
        total += take;
        if done {
            return Ok(total);
        }
    }
}

/// Undoes control mode's escaping: `\ooo` (three octal digits) is one byte.
pub fn unescape_into(data: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if b == b'\\' && i + 4 <= data.len() {
            let oct = &data[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u16, |acc, c| acc * 8 + u16::from(c - b'0'));
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_octal() {
        let mut out = Vec::new();
        unescape_into(b"a\\015\\012\\134b\\033]133;D;7\\007\\", &mut out);
        assert_eq!(out, b"a\r\n\\b\x1b]133;D;7\x07\\");
    }

    #[test]
    fn push_drops_oldest() {
        let p = Mutex::new(Pending::default());
        push(&p, &vec![1u8; PENDING_CAP - 10]);
        push(&p, &[2u8; 20]);
        let g = lock(&p);
        assert_eq!(g.bytes.len(), PENDING_CAP);
        assert_eq!(g.dropped, 10);
        assert_eq!(*g.bytes.back().unwrap(), 2);
        drop(g);
        push(&p, &vec![3u8; PENDING_CAP + 5]);
        let g = lock(&p);
        assert_eq!(g.bytes.len(), PENDING_CAP);
        assert_eq!(g.dropped, 10 + PENDING_CAP as u64 + 5);
        assert!(g.bytes.iter().all(|&b| b == 3));
    }
}
