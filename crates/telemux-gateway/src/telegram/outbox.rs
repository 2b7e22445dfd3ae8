//! [`Outbox`]: every message the bot sends or edits goes through here, one
//! API call at a time, within Telegram's limits.
//!
//! Producers (session watchers, `/run`, command replies) only change the
//! desired state of a *slot* ([`Live`]); the single sender task turns the
//! difference into `sendMessage` / `editMessageText` calls. So output that
//! arrives while we wait — for the per-chat spacing (about one call per second),
//! the group budget (about 20 new messages per minute) or a 429's
//! `retry_after` — simply replaces what was pending: edits are coalesced and
//! memory stays bounded however fast a session prints. Telegram being slow or
//! unreachable only delays this task; nobody else waits for it.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use frankenstein::{
    methods::{EditMessageTextParams, SendMessageParams},
    types::{InlineKeyboardMarkup, LinkPreviewOptions, ReplyMarkup},
    AsyncTelegramApi, ParseMode,
};
use telemux_bus::Bus;
use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{
    api::{ApiError, BotClient},
    buttons::session_keyboard,
    live::{Action, Live},
};

/// Per-chat pacing (configurable for tests; defaults follow Telegram's guidance).
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Least time between two calls into one chat.
    pub per_chat: Duration,
    /// New messages allowed per minute into one group.
    pub group_per_minute: usize,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            per_chat: Duration::from_millis(1000),
            group_per_minute: 20,
        }
    }
}

/// Where a slot's messages go and what it persists.
struct Slot {
    chat: i64,
    thread: Option<i32>,
    live: Live,
    /// Session key under which delivered state is stored in Redis.
    persist: Option<String>,
    /// Drop the slot once everything is delivered.
    closing: bool,
    last_served: Instant,
}

#[derive(Default)]
struct Budget {
    next_at: Option<Instant>,
    blocked_until: Option<Instant>,
    sends: VecDeque<Instant>,
}

#[derive(Default)]
struct State {
    slots: HashMap<String, Slot>,
    budgets: HashMap<i64, Budget>,
    seq: u64,
}

/// Handle to the sender; clone freely.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    notify: Notify,
    pace: Pace,
}

/// What the sender decided to do next.
struct Plan {
    slot: String,
    chat: i64,
    thread: Option<i32>,
    action: Action,
    persist: Option<String>,
}

impl Outbox {
    /// A new, empty outbox with `pace`.
    pub fn new(pace: Pace) -> Outbox {
        Outbox {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                notify: Notify::new(),
                pace,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens (or replaces) slot `id` delivering into `chat`/`thread`.
    pub fn open(
        &self,
        id: &str,
        chat: i64,
        thread: Option<i32>,
        live: Live,
        persist: Option<String>,
    ) {
        let mut st = self.lock();
        st.slots.insert(
            id.to_string(),
            Slot {
                chat,
                thread,
                live,
                persist,
                closing: false,
                last_served: Instant::now(),
            },
        );
        drop(st);
        self.inner.notify.notify_one();
    }

    /// Changes a slot's desired state; `false` when there is no such slot.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Live)) -> bool {
        let mut st = self.lock();
        let Some(slot) = st.slots.get_mut(id) else {
            return false;
        };
        f(&mut slot.live);
        drop(st);
        self.inner.notify.notify_one();
        true
    }

    /// Stores slot `id`'s delivered state under `persist` from now on (its
    /// session was renamed).
    pub fn set_persist(&self, id: &str, persist: Option<String>) {
        if let Some(s) = self.lock().slots.get_mut(id) {
            s.persist = persist;
        }
    }

    /// Whether slot `id` exists.
    pub fn has(&self, id: &str) -> bool {
        self.lock().slots.contains_key(id)
    }

    /// Lets slot `id` go once its messages are delivered.
    pub fn close(&self, id: &str) {
        if let Some(s) = self.lock().slots.get_mut(id) {
            s.closing = true;
        }
        self.inner.notify.notify_one();
    }

    /// Sends one HTML message (a command reply) into `chat`/`thread`.
    pub fn say(&self, chat: i64, thread: Option<i32>, html: String) {
        self.say_with(chat, thread, html, None);
    }

    /// [`Outbox::say`] with `keyboard` under the message.
    pub fn say_with(
        &self,
        chat: i64,
        thread: Option<i32>,
        html: String,
        keyboard: Option<InlineKeyboardMarkup>,
    ) {
        let id = {
            let mut st = self.lock();
            st.seq += 1;
            format!("say:{}", st.seq)
        };
        self.open(&id, chat, thread, Live::message_with(html, keyboard), None);
        self.close(&id);
    }

    /// Waits until `chat` may take another call now, then books it (for direct calls such as documents).
    pub async fn reserve(&self, chat: i64) {
        loop {
            let at = {
                let mut st = self.lock();
                let now = Instant::now();
                let at = ready_at(
                    st.budgets.entry(chat).or_default(),
                    chat,
                    true,
                    &self.inner.pace,
                    now,
                );
                if at <= now {
                    book(
                        st.budgets.entry(chat).or_default(),
                        chat,
                        true,
                        &self.inner.pace,
                    );
                    return;
                }
                at
            };
            tokio::time::sleep_until(at).await;
        }
    }

    /// Blocks `chat` for `d` (a 429 seen by a direct call).
    pub fn block(&self, chat: i64, d: Duration) {
        self.lock().budgets.entry(chat).or_default().blocked_until = Some(Instant::now() + d);
    }

    /// Whether `chat` is inside a 429's `retry_after` (or a pause after a
    /// network error) now: callers that may simply skip a call (the typing
    /// indicator) skip it.
    pub fn blocked(&self, chat: i64) -> bool {
        self.lock()
            .budgets
            .get(&chat)
            .and_then(|b| b.blocked_until)
            .is_some_and(|t| t > Instant::now())
    }

    /// Total segments held, for tests and bounds.
    pub fn held(&self) -> usize {
        self.lock().slots.values().map(|s| s.live.len()).sum()
    }

    fn plan(&self) -> (Option<Plan>, Option<Instant>) {
        let mut st = self.lock();
        let now = Instant::now();
        st.slots.retain(|_, s| !s.closing || s.live.dirty());
        let mut best: Option<(Instant, Instant, String)> = None;
        let State { slots, budgets, .. } = &mut *st;
        for (id, s) in slots.iter() {
            let Some(a) = s.live.next_action() else {
                continue;
            };
            let b = budgets.entry(s.chat).or_default();
            let at = ready_at(b, s.chat, a.message_id.is_none(), &self.inner.pace, now);
            let cand = (at, s.last_served, id.clone());
            if best.as_ref().is_none_or(|b| (cand.0, cand.1) < (b.0, b.1)) {
                best = Some(cand);
            }
        }
        let Some((at, _, id)) = best else {
            return (None, None);
        };
        if at > now {
            return (None, Some(at));
        }
        let s = st.slots.get_mut(&id).expect("chosen slot");
        s.last_served = now;
        let action = s.live.next_action().expect("dirty slot");
        let plan = Plan {
            slot: id,
            chat: s.chat,
            thread: s.thread,
            persist: s.persist.clone(),
            action,
        };
        let chat = plan.chat;
        let is_send = plan.action.message_id.is_none();
        book(
            st.budgets.entry(chat).or_default(),
            chat,
            is_send,
            &self.inner.pace,
        );
        (Some(plan), None)
    }

    /// The sender task: runs until `cancel`.
    pub async fn run(self, api: BotClient, bus: Bus, cancel: CancellationToken) {
        loop {
            let (plan, wait_until) = self.plan();
            let Some(plan) = plan else {
                let notified = self.inner.notify.notified();
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = notified => {}
                    _ = async {
                        match wait_until {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    } => {}
                }
                continue;
            };
            let result = tokio::select! {
                _ = cancel.cancelled() => return,
                r = self.execute(&api, &plan) => r,
            };
            self.settle(&bus, plan, result).await;
        }
    }

    async fn execute(&self, api: &BotClient, p: &Plan) -> Result<Option<i32>, ApiError> {
        tracing::debug!(chat = p.chat, edit = ?p.action.message_id, "delivering");
        let r = &p.action.rendered;
        let parse_mode = r.html.then_some(ParseMode::Html);
        let markup = match &r.keyboard {
            Some(k) => Some(k.clone()),
            None if r.buttons => session_keyboard(p.thread),
            None => None,
        };
        let no_preview = LinkPreviewOptions::builder().is_disabled(true).build();
        match p.action.message_id {
            None => {
                let params = SendMessageParams {
                    business_connection_id: None,
                    chat_id: p.chat.into(),
                    message_thread_id: p.thread,
                    direct_messages_topic_id: None,
                    ephemeral_message_parameters: None,
                    text: r.text.clone(),
                    parse_mode,
                    entities: None,
                    link_preview_options: Some(no_preview),
                    disable_notification: None,
                    protect_content: None,
                    allow_paid_broadcast: None,
                    message_effect_id: None,
                    suggested_post_parameters: None,
                    reply_parameters: None,
                    reply_markup: markup.map(ReplyMarkup::InlineKeyboardMarkup),
                };
                let m = api.send_message(&params).await?;
                Ok(Some(m.result.message_id))
            }
            Some(id) => {
                let params = EditMessageTextParams {
                    business_connection_id: None,
                    chat_id: Some(p.chat.into()),
                    message_id: Some(id),
                    inline_message_id: None,
                    text: Some(r.text.clone()),
                    parse_mode,
                    entities: None,
                    link_preview_options: Some(no_preview),
                    rich_message: None,
                    reply_markup: markup,
                };
                api.edit_message_text(&params).await?;
                Ok(None)
            }
        }
    }

    async fn settle(&self, bus: &Bus, p: Plan, result: Result<Option<i32>, ApiError>) {
        let seg = p.action.seg_id;
        let mut persist = None;
        {
            let mut st = self.lock();
            let chat = p.chat;
            match &result {
                Ok(_) => {}
                Err(e) if e.retry_after().is_some() => {
                    let d = e.retry_after().expect("checked");
                    tracing::warn!(
                        chat,
                        retry_after_s = d.as_secs(),
                        "Telegram rate limit (429); waiting as asked"
                    );
                    st.budgets.entry(chat).or_default().blocked_until = Some(Instant::now() + d);
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!(chat, error = %e, "Telegram unreachable; retrying in 2 s");
                    st.budgets.entry(chat).or_default().blocked_until =
                        Some(Instant::now() + Duration::from_secs(2));
                }
                Err(_) => {}
            }
            let Some(slot) = st.slots.get_mut(&p.slot) else {
                return;
            };
            // A closing slot's session is gone; its state must not come back.
            let keep = p.persist.clone().filter(|_| !slot.closing);
            let live = &mut slot.live;
            match result {
                Ok(msg) => persist = live.delivered(&p.action, msg).zip(keep),
                Err(e) if e.is_not_modified() => {
                    persist = live.delivered(&p.action, None).zip(keep)
                }
                Err(e) if e.retry_after().is_some() || e.is_transient() => {}
                Err(e) if e.is_message_gone() => {
                    tracing::info!(chat, "live message was deleted; sending a new one");
                    live.forget_message(seg);
                }
                Err(e) if e.is_unparsable() && p.action.rendered.html => {
                    tracing::warn!(chat, error = %e, "Telegram could not parse our HTML; resending as plain text");
                    live.make_plain(seg);
                }
                Err(e) => {
                    tracing::error!(chat, error = %e, "Telegram refused a message; dropping it");
                    live.give_up(&p.action);
                }
            }
        }
        if let Some((state, key)) = persist {
            if let Ok(json) = serde_json::to_string(&state) {
                if let Err(e) = bus.tg_put_live(&key, &json).await {
                    tracing::warn!(session = %key, error = %e, "could not store live-message state");
                }
            }
        }
    }
}

fn window_full(b: &mut Budget, pace: &Pace, now: Instant) -> Option<Instant> {
    while b
        .sends
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
    {
        b.sends.pop_front();
    }
    (b.sends.len() >= pace.group_per_minute.max(1))
        .then(|| b.sends.front().map(|t| *t + Duration::from_secs(60)))
        .flatten()
}

/// When the next call into `chat` may happen.
fn ready_at(b: &mut Budget, chat: i64, is_send: bool, pace: &Pace, now: Instant) -> Instant {
    let mut at = now;
    for t in [b.next_at, b.blocked_until].into_iter().flatten() {
        at = at.max(t);
    }
    // Negative ids are groups, where Telegram allows about 20 new messages a minute.
    if is_send && chat < 0 {
        if let Some(t) = window_full(b, pace, now) {
            at = at.max(t);
        }
    }
    at
}

fn book(b: &mut Budget, chat: i64, is_send: bool, pace: &Pace) {
    let now = Instant::now();
    b.next_at = Some(now + pace.per_chat);
    if is_send && chat < 0 {
        b.sends.push_back(now);
    }
}
