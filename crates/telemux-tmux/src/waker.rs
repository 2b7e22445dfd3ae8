//! [`Waker`]: tells the node "something changed in tmux, rescan" without polling.
//!
//! The `pane-died` hook and every shell prompt hook run `wait-for -S
//! telemux-wake`. This task keeps one `tmux wait-for telemux-wake` child
//! running; when it returns, a wake-up is sent and the child is respawned.
//! tmux remembers a signal sent while nobody waits, so nothing is lost in the
//! gap between two waiters (verified on tmux 3.3a).
//!
//! One tmux quirk shapes the start: a `wait-for` client that was killed (a
//! previous node that crashed) stays registered as a waiter and swallows the
//! next signal. So the task first signals the channel itself, which flushes any
//! such stale waiter (if there is none, the first wait returns at once, which
//! costs one spurious wake-up). On shutdown it signals again so its own waiter
//! leaves cleanly instead of going stale.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::{Tmux, WAKE_CHANNEL};

/// Delay before retrying when tmux is not running or `wait-for` fails.
const RETRY_MIN: Duration = Duration::from_millis(200);
/// Longest retry delay while the tmux server is away.
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The wait-for loop; see the module docs.
///
/// The task is owned by this value: dropping it cancels the task (which then
/// releases its tmux waiter and ends), and [`Waker::stop`] does the same and
/// waits for it, so a node can shut down knowing no waiter is left behind.
pub struct Waker {
    rx: mpsc::Receiver<()>,
    server_failed: Arc<AtomicBool>,
    task: Option<JoinHandle<()>>,
    stop: Option<DropGuard>,
}

impl Waker {
    /// Starts the loop; [`Waker::recv`] yields `()` per (coalesced) change.
    ///
    /// The channel has capacity 1 and wake-ups are sent with `try_send`, so a
    /// burst of changes while the node is busy becomes a single wake-up. A
    /// wake-up is sent right after start (the initial rescan), possibly followed
    /// by one spurious one, and again when the tmux server comes back after an
    /// outage. The task ends on `cancel`, on [`Waker::stop`], or when this
    /// value is dropped.
    pub fn spawn(tmux: Tmux, cancel: CancellationToken) -> Waker {
        let (tx, rx) = mpsc::channel(1);
        let own = cancel.child_token();
        let server_failed = Arc::new(AtomicBool::new(false));
        // The one spawn here; its owner is the returned Waker (see above).
        let task = tokio::spawn(run(tmux, own.clone(), tx, server_failed.clone()));
        Waker {
            rx,
            server_failed,
            task: Some(task),
            stop: Some(own.drop_guard()),
        }
    }

    /// The next wake-up; `None` once the loop ended.
    pub async fn recv(&mut self) -> Option<()> {
        self.rx.recv().await
    }

    /// Whether the `wait-for` child failed since the last call: the server
    /// it waited in went away (it may have died). Kept apart from the
    /// coalesced wake-ups so that a pending ordinary wake-up cannot hide it.
    /// The loop itself re-arms against whatever server runs next.
    pub fn take_server_failed(&self) -> bool {
        self.server_failed.swap(false, Ordering::SeqCst)
    }

    /// A wake-up already waiting, without waiting for one.
    pub fn try_recv(&mut self) -> Result<(), mpsc::error::TryRecvError> {
        self.rx.try_recv()
    }

    /// Stops the loop and waits until it has released its tmux waiter.
    pub async fn stop(mut self) {
        drop(self.stop.take());
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// The loop behind [`Waker::spawn`]; ends on `cancel` or when the receiver is dropped.
async fn run(
    tmux: Tmux,
    cancel: CancellationToken,
    tx: mpsc::Sender<()>,
    server_failed: Arc<AtomicBool>,
) {
    let socket = tmux.socket().to_string();
    let mut delay = RETRY_MIN;
    let mut flushed = false;
    let mut server_up = true;
    loop {
        if !flushed {
            flushed = signal(&tmux).await;
            // The initial (or after-outage) rescan; the flush itself may add one more.
            let _ = tx.try_send(());
        }
        let child = tmux
            .command()
            .args(["wait-for", WAKE_CHANNEL])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(socket, error = %e, "cannot start tmux wait-for");
                if sleep_or_cancel(&cancel, &mut delay).await {
                    break;
                }
                continue;
            }
        };
        let status = tokio::select! {
            _ = cancel.cancelled() => {
                // Release our waiter in the server so it does not go stale.
                signal(&tmux).await;
                let _ = child.kill().await;
                break;
            }
            _ = tx.closed() => {
                signal(&tmux).await;
                let _ = child.kill().await;
                break;
            }
            s = child.wait() => s,
        };
        match status {
            Ok(s) if s.success() => {
                delay = RETRY_MIN;
                server_up = true;
                let _ = tx.try_send(());
            }
            other => {
                // No server (yet, or any more): wake once so the node notices, then back off.
                tracing::debug!(socket, status = ?other, "tmux wait-for failed; retrying");
                flushed = false;
                if std::mem::replace(&mut server_up, false) {
                    server_failed.store(true, Ordering::SeqCst);
                    let _ = tx.try_send(());
                }
                if sleep_or_cancel(&cancel, &mut delay).await {
                    break;
                }
            }
        }
    }
    tracing::debug!(socket, "waker stopped");
}

/// Signals [`WAKE_CHANNEL`]; true if tmux accepted it.
async fn signal(tmux: &Tmux) -> bool {
    tmux.run(&["wait-for", "-S", WAKE_CHANNEL]).await.is_ok()
}

/// Sleeps for `delay` (doubling it up to [`RETRY_MAX`]); true if cancelled meanwhile.
async fn sleep_or_cancel(cancel: &CancellationToken, delay: &mut Duration) -> bool {
    let d = *delay;
    *delay = (*delay * 2).min(RETRY_MAX);
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}
