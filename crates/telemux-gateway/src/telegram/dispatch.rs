//! Updates handled concurrently, in order per *lane* (a chat, or one forum
//! topic in it), so one `/sessions` waiting up to 10 s on a hung node never
//! delays another chat's or topic's answer.
//!
//! Each lane with work has one worker task (owned by the bot's
//! [`TaskTracker`](tokio_util::task::TaskTracker), stopped by its cancel
//! token) that handles its updates one after the other; at most
//! [`MAX_IN_FLIGHT`] handlers run at once and at most [`MAX_WAITING`] updates
//! wait, after which the poller stops fetching.
//!
//! # Which offset is stored
//!
//! An update counts as handled once it *starts* (as before: a command typed
//! on the phone is better lost in a crash than run twice), and its start is
//! stored in Redis, fenced by the lease, before the handler runs. With lanes,
//! updates start out of order: 7 may wait behind a slow 6 of its topic while
//! 8, of another chat, has started. So [`Progress`] stores the lowest update
//! not started yet (the *watermark*, the `getUpdates` offset to resume from)
//! plus the ids above it that did start. A restarted gateway polls from the
//! watermark and skips those ids: nothing is lost, nothing runs twice.
//!
//! Telegram forgets every update below the offset of a `getUpdates` call, so
//! the poller only ever polls from the *stored* watermark; while updates wait
//! it polls without the long-poll wait (they come back at once, with any new
//! ones) and pauses between such polls.

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use frankenstein::{
    types::MaybeInaccessibleMessage,
    updates::{Update, UpdateContent},
};
use tokio::sync::{watch, Notify, Semaphore};

use super::{bot::Bot, buttons::Button, commands};

/// Handlers running at once, over all lanes.
pub const MAX_IN_FLIGHT: usize = 16;
/// Updates fetched but not started, over all lanes; the poller waits beyond.
pub const MAX_WAITING: usize = 64;

/// Where an update's answers go: updates of one lane are handled in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lane {
    /// The chat.
    pub chat: i64,
    /// The forum topic, if any.
    pub thread: Option<i32>,
}

/// The lane of update `u` (chat 0 for updates without a chat).
pub fn lane_of(u: &Update) -> Lane {
    match &u.content {
        UpdateContent::Message(m) | UpdateContent::EditedMessage(m) => Lane {
            chat: m.chat.id,
            thread: m
                .message_thread_id
                .filter(|_| m.is_topic_message == Some(true)),
        },
        UpdateContent::CallbackQuery(q) => Lane {
            chat: match &q.message {
                Some(MaybeInaccessibleMessage::Message(m)) => m.chat.id,
                Some(MaybeInaccessibleMessage::InaccessibleMessage(m)) => m.chat.id,
                None => 0,
            },
            // A button acts on its topic's session: in order with the topic's messages.
            thread: q
                .data
                .as_deref()
                .and_then(|d| Button::decode(d).ok())
                .map(|b| b.thread()),
        },
        _ => Lane {
            chat: 0,
            thread: None,
        },
    }
}

/// Which updates are started, as stored (see the module docs). Pure.
#[derive(Debug, Default, Clone)]
pub struct Progress {
    /// Every id below has started (and needs no bookkeeping).
    floor: i64,
    /// One past the highest id seen.
    next: i64,
    /// Seen, not started.
    waiting: BTreeSet<i64>,
    /// Started, at or above `floor`.
    started: BTreeSet<i64>,
    /// Bumped on every start: what the store task compares.
    version: u64,
}

impl Progress {
    /// Continues from a stored watermark and the ids above it that started.
    pub fn restore(offset: i64, started: &[i64]) -> Progress {
        let started: BTreeSet<i64> = started.iter().copied().filter(|&s| s >= offset).collect();
        let next = started.last().map_or(offset, |&m| (m + 1).max(offset));
        Progress {
            floor: offset,
            next,
            started,
            ..Progress::default()
        }
    }

    /// Takes update `id` in; `false` when it is known (started, or waiting).
    pub fn accept(&mut self, id: i64) -> bool {
        if id < self.floor || self.waiting.contains(&id) || self.started.contains(&id) {
            return false;
        }
        self.waiting.insert(id);
        self.next = self.next.max(id + 1);
        true
    }

    /// Marks `id` started; returns the version that must be stored before it runs.
    pub fn start(&mut self, id: i64) -> u64 {
        self.waiting.remove(&id);
        self.started.insert(id);
        self.floor = self.watermark();
        let floor = self.floor;
        self.started.retain(|&s| s >= floor);
        self.version += 1;
        self.version
    }

    /// The lowest id not started: where a restarted poller resumes.
    pub fn watermark(&self) -> i64 {
        self.waiting.first().copied().unwrap_or(self.next)
    }

    /// Updates waiting to start.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// What to store: `(version, watermark, started ids above it)`.
    pub fn saved(&self) -> (u64, i64, Vec<i64>) {
        let w = self.watermark();
        let ids = self.started.iter().copied().filter(|&s| s >= w).collect();
        (self.version, w, ids)
    }
}

struct Sched {
    progress: Progress,
    /// Lanes with a worker, and what waits in each.
    lanes: HashMap<Lane, VecDeque<(i64, Option<Update>)>>,
}

/// Runs updates in lanes and stores the progress; one per lease period.
pub struct Dispatcher {
    bot: Arc<Bot>,
    holder: String,
    sched: Mutex<Sched>,
    /// An update started or finished: the poller may poll again.
    changed: Notify,
    /// Progress has a version to store.
    to_store: Notify,
    /// Version stored last, and its watermark.
    stored: watch::Sender<(u64, i64)>,
    handlers: Arc<Semaphore>,
}

impl Dispatcher {
    /// A dispatcher resuming from `offset`/`started` (as read from Redis); starts its store task.
    pub fn start(bot: Arc<Bot>, holder: &str, offset: i64, started: &[i64]) -> Arc<Dispatcher> {
        let d = Arc::new(Dispatcher {
            bot: bot.clone(),
            holder: holder.to_string(),
            sched: Mutex::new(Sched {
                progress: Progress::restore(offset, started),
                lanes: HashMap::new(),
            }),
            changed: Notify::new(),
            to_store: Notify::new(),
            stored: watch::channel((0, offset)).0,
            handlers: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        });
        bot.tracker.spawn(d.clone().store_loop());
        d
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sched> {
        self.sched.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The offset to poll from: the stored watermark, never more (Telegram
    /// forgets what lies below it).
    pub fn poll_offset(&self) -> i64 {
        self.stored.borrow().1
    }

    /// Updates fetched but not started.
    pub fn waiting(&self) -> usize {
        self.lock().progress.waiting()
    }

    /// Waits until an update started or finished.
    pub async fn changed(&self) {
        self.changed.notified().await
    }

    /// Queues update `id` (`None`: it did not decode, and only counts as
    /// handled); `false` when it was known already.
    pub fn offer(self: &Arc<Self>, id: i64, update: Option<Update>) -> bool {
        let lane = update.as_ref().map_or(
            Lane {
                chat: 0,
                thread: None,
            },
            lane_of,
        );
        let mut st = self.lock();
        if !st.progress.accept(id) {
            return false;
        }
        let spawn = !st.lanes.contains_key(&lane);
        st.lanes.entry(lane).or_default().push_back((id, update));
        drop(st);
        if spawn {
            self.bot.tracker.spawn(self.clone().lane(lane));
        }
        true
    }

    /// A lane's worker: its updates in order, until none is left or the lease ends.
    async fn lane(self: Arc<Self>, lane: Lane) {
        let cancel = self.bot.cancel.clone();
        loop {
            let (id, update) = {
                let mut st = self.lock();
                let job = st.lanes.get_mut(&lane).and_then(VecDeque::pop_front);
                match job {
                    Some(j) => j,
                    None => {
                        st.lanes.remove(&lane);
                        return;
                    }
                }
            };
            let permit = tokio::select! {
                _ = cancel.cancelled() => return,
                p = self.handlers.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
            };
            let version = self.lock().progress.start(id);
            self.to_store.notify_one();
            let mut stored = self.stored.subscribe();
            // Stored before handled; cancelled before that, it is not stored
            // as started, so the next lease holder gets it again.
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = stored.wait_for(|(v, _)| *v >= version) => if r.is_err() { return },
            }
            self.changed.notify_one();
            match update {
                Some(u) => commands::on_update(&self.bot, u).await,
                None => {
                    tracing::warn!(
                        update_id = id,
                        "skipped a Telegram update telemux cannot decode"
                    )
                }
            }
            drop(permit);
            self.changed.notify_one();
        }
    }

    /// Stores the newest progress whenever it changes, in order (one task, so
    /// an older state never overwrites a newer one).
    async fn store_loop(self: Arc<Self>) {
        let cancel = self.bot.cancel.clone();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.to_store.notified() => {}
            }
            loop {
                let (version, offset, started) = self.lock().progress.saved();
                if version <= self.stored.borrow().0 {
                    break;
                }
                match self
                    .bot
                    .bus()
                    .tg_store_progress(&self.holder, offset, &started)
                    .await
                {
                    Ok(true) => {
                        self.stored.send_replace((version, offset));
                    }
                    Ok(false) => {
                        tracing::warn!("lost the Telegram lease while polling");
                        self.bot.cancel.cancel();
                        return;
                    }
                    Err(e) => {
                        // Not stored, so not handled yet: the handlers wait.
                        tracing::warn!(error = %e, "cannot store the Telegram offset; retrying");
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_waits_for_the_lowest_update_not_started() {
        let mut p = Progress::restore(10, &[]);
        for id in 10..14 {
            assert!(p.accept(id));
        }
        assert!(!p.accept(11), "known");
        assert_eq!(p.watermark(), 10);
        // 10 runs long in its topic; 11 waits behind it; 12 and 13 start in other chats.
        p.start(10);
        p.start(12);
        let v = p.start(13);
        assert_eq!(p.saved(), (v, 11, vec![12, 13]));
        p.start(11);
        assert_eq!(p.saved().1..=p.saved().1, 14..=14);
        assert!(p.saved().2.is_empty());
        assert!(!p.accept(9) && !p.accept(12), "below the floor");
    }

    #[test]
    fn a_restart_skips_what_started_above_the_watermark() {
        let mut p = Progress::restore(11, &[12, 13]);
        assert!(p.accept(11));
        assert!(!p.accept(12) && !p.accept(13), "started before the restart");
        assert!(p.accept(14));
        assert_eq!(p.watermark(), 11);
        p.start(11);
        assert_eq!(p.watermark(), 14);
        p.start(14);
        assert_eq!(p.saved().1, 15);
        assert!(p.saved().2.is_empty());
        // A stored plain offset (no ids) resumes as before.
        let mut p = Progress::restore(5, &[]);
        assert!(!p.accept(4) && p.accept(5));
    }
}
