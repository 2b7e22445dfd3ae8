//! One forum topic per session, and the watcher that keeps its live messages.
//!
//! The session ↔ topic map lives in Redis (two hashes, unbounded — no LRU that
//! forgets a topic and sends a session's text to the wrong place). A session
//! gets its topic when it is created with `/new`, or the first time it is
//! listed or addressed. Each topic has one watcher task following the
//! session's output stream; it changes the session's slot in the
//! [`super::Outbox`], which persists the delivered state (cursor, message id,
//! text) so a restarted gateway resumes editing the same message. For an
//! agent session it also posts the notifications of [`super::notify::Notifier`].

use std::{sync::Arc, time::Duration};

use frankenstein::{
    methods::{CreateForumTopicParams, EditForumTopicParams},
    AsyncTelegramApi,
};
use telemux_bus::{Cursor, OutputReader};
use telemux_proto::{now_ms, AgentState, ComputerName, OutputEvent, SessionAddr, SessionName};

use super::{
    bot::{Bot, Here},
    buttons::answer_keyboard,
    error::TopicError,
    html::escape,
    live::{Live, LiveState},
    notify::{finished_html, Notice, Notifier},
};

/// The case-folded `computer/session` used as a Redis field.
pub fn session_key(c: &ComputerName, s: &SessionName) -> String {
    format!("{}/{}", c.key(), s.key())
}

/// The outbox slot of a session.
pub fn slot_id(key: &str) -> String {
    format!("s:{key}")
}

/// The topic of `c/s`, creating it (and its watcher) when missing.
///
/// `start` is where a new watcher starts reading (a fresh session's creation
/// cursor); `None` means "from now". `Ok(None)` when no `telegram.chat_id` is set.
pub async fn ensure_topic(
    bot: &Arc<Bot>,
    c: &ComputerName,
    s: &SessionName,
    start: Option<String>,
) -> Result<Option<i32>, TopicError> {
    let Some(chat) = bot.cfg.chat_id else {
        return Ok(None);
    };
    let key = session_key(c, s);
    let thread = {
        let _guard = bot.topic_lock.lock().await;
        match bot.bus().tg_topic(&key).await? {
            Some(t) => t as i32,
            None => {
                let name = format!("{c}/{s}");
                let params = CreateForumTopicParams {
                    chat_id: chat.into(),
                    name: name.clone(),
                    icon_color: None,
                    icon_custom_emoji_id: None,
                };
                bot.outbox.reserve(chat).await;
                let topic = match bot.api.create_forum_topic(&params).await {
                    Ok(t) => t.result,
                    Err(e) => {
                        if let Some(d) = e.retry_after() {
                            bot.outbox.block(chat, d);
                        }
                        return Err(TopicError::Create { name, source: e });
                    }
                };
                let t = topic.message_thread_id;
                bot.bus().tg_put_topic(&key, &name, t as i64).await?;
                tracing::info!(computer = %c, session = %s, thread = t, "created forum topic");
                t
            }
        }
    };
    ensure_watch(bot, c, s, thread, start);
    Ok(Some(thread))
}

/// Gives a new session its topic and says so: "Started {what}addr — its topic is …".
pub async fn announce(bot: &Arc<Bot>, here: Here, created: telemux_client::Created, what: &str) {
    let addr = format!("{}/{}", created.computer, created.session);
    let topic = ensure_topic(
        bot,
        &created.computer,
        &created.session,
        Some(created.cursor),
    )
    .await;
    let note = match topic {
        Ok(Some(_)) => format!(" — its topic is <b>{}</b>", escape(&addr)),
        Ok(None) => {
            " (set telegram.chat_id to a forum supergroup to get a topic per session)".into()
        }
        Err(e) => format!(" (no topic: {})", escape(&e.to_string())),
    };
    bot.reply(
        here,
        format!("Started {}<b>{}</b>{note}.", escape(what), escape(&addr)),
    );
}

/// The session a topic belongs to.
pub async fn session_of_thread(bot: &Bot, thread: i32) -> Option<String> {
    bot.bus()
        .tg_thread_session(thread as i64)
        .await
        .ok()
        .flatten()
}

/// Makes sure an addressed session in its topic has a running watcher.
pub fn watch_addressed(bot: &Arc<Bot>, here: Here, addr: &str) {
    if let (Some(t), Ok(a)) = (here.thread, SessionAddr::parse(addr)) {
        if let Some(c) = a.computer {
            ensure_watch(bot, &c, &a.session, t, None);
        }
    }
}

/// Starts the watcher of `c/s` unless one runs.
pub fn ensure_watch(
    bot: &Arc<Bot>,
    c: &ComputerName,
    s: &SessionName,
    thread: i32,
    start: Option<String>,
) {
    let Some(chat) = bot.cfg.chat_id else { return };
    let key = session_key(c, s);
    let token = {
        let mut w = bot.watchers.lock().unwrap_or_else(|p| p.into_inner());
        if w.get(&key).is_some_and(|t| !t.is_cancelled()) {
            return;
        }
        let t = bot.cancel.child_token();
        w.insert(key.clone(), t.clone());
        t
    };
    let bot2 = bot.clone();
    let (c, s) = (c.clone(), s.clone());
    bot.tracker.spawn(async move {
        watch(&bot2, &c, &s, chat, thread, start, &token).await;
        token.cancel();
        let mut w = bot2.watchers.lock().unwrap_or_else(|p| p.into_inner());
        if w.get(&key).is_some_and(|t| t.is_cancelled()) {
            w.remove(&key);
        }
    });
}

/// After taking the lease: resumes a watcher for every topic whose session still exists.
pub async fn resume_all(bot: &Arc<Bot>) {
    if bot.cfg.chat_id.is_none() {
        return;
    }
    let topics = match bot.bus().tg_all_topics().await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list Telegram topics; live output resumes when sessions are addressed");
            return;
        }
    };
    let existing: Option<Vec<String>> = bot.mesh.sessions(None).await.ok().map(|v| {
        v.iter()
            .map(|s| format!("{}/{}", s.computer, s.name).to_ascii_lowercase())
            .collect()
    });
    for (display, thread) in topics {
        let Ok(addr) = SessionAddr::parse(&display) else {
            continue;
        };
        let Some(c) = addr.computer else { continue };
        let key = session_key(&c, &addr.session);
        if existing.as_ref().is_some_and(|e| !e.contains(&key)) {
            continue;
        }
        ensure_watch(bot, &c, &addr.session, thread as i32, None);
    }
}

async fn watch(
    bot: &Arc<Bot>,
    c: &ComputerName,
    s: &SessionName,
    chat: i64,
    thread: i32,
    start: Option<String>,
    cancel: &tokio_util::sync::CancellationToken,
) {
    // The session's name changes when it is renamed; the slot's id does not.
    let mut s = s.clone();
    let s = &mut s;
    let mut key = session_key(c, s);
    let slot = slot_id(&key);
    let bus = bot.bus().clone();
    let saved: Option<LiveState> = bus
        .tg_live(&key)
        .await
        .ok()
        .flatten()
        .and_then(|j| serde_json::from_str(&j).ok());
    let (live, cursor) = match saved {
        Some(st) => {
            let cursor = st.cursor.clone();
            tracing::info!(computer = %c, session = %s, ?cursor, "resuming live output");
            (Live::restore(true, st), cursor.or(start))
        }
        None => (Live::new(true), start),
    };
    let from = match cursor {
        Some(id) => Cursor::After(id),
        None => Cursor::End,
    };
    bot.outbox
        .open(&slot, chat, Some(thread), live, Some(key.clone()));
    let mut addr = format!("{c}/{s}");
    let mut notifier = Notifier::new();
    let mut reader = loop {
        match OutputReader::new(&bus, c, s, from.clone()).await {
            Ok(r) => break r,
            Err(e) => {
                tracing::warn!(computer = %c, session = %s, error = %e, "cannot follow output");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    loop {
        let batch = tokio::select! {
            _ = cancel.cancelled() => return,
            b = reader.next_batch(Some(Duration::from_millis(1500)), 200) => b,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(computer = %c, session = %s, error = %e, "reading output failed");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
        };
        let mut closed = false;
        bot.outbox.update(&slot, |l| {
            if let Some(g) = &batch.gap {
                l.note(&format!(
                    "[telemux: output was trimmed before it was read: {g}]"
                ));
            }
            for (id, rec) in &batch.entries {
                if let Ok(r) = rec {
                    l.apply(&r.event);
                    closed |= matches!(r.event, OutputEvent::SessionClosed { .. });
                }
                l.cursor = Some(id.clone());
            }
        });
        for (_, rec) in &batch.entries {
            if let Ok(r) = rec {
                if let OutputEvent::AgentState {
                    state,
                    detail,
                    prompt,
                    ..
                } = &r.event
                {
                    bot.typing.set(chat, thread, *state == AgentState::Working);
                    let now = tokio::time::Instant::now().into_std();
                    if let Some(n) = notifier.on_record(
                        &addr,
                        *state,
                        detail,
                        prompt.as_ref(),
                        r.ts_ms,
                        now_ms(),
                        now,
                    ) {
                        post(bot, chat, thread, &addr, n);
                    }
                }
            }
        }
        let renamed = batch.entries.iter().any(|(_, r)| {
            r.as_ref()
                .is_ok_and(|r| matches!(r.event, OutputEvent::Renamed { .. }))
        });
        if renamed {
            // Also when the name is the reader's already: a gateway that
            // was down during the rename still retitles the topic.
            *s = reader.session().clone();
            key = follow_rename(bot, &key, c, s, chat, thread, &slot).await;
            addr = format!("{c}/{s}");
        }
        if closed {
            bot.typing.set(chat, thread, false);
            tracing::info!(computer = %c, session = %s, "session closed; its topic stays");
            bot.outbox.close(&slot);
            if let Err(e) = bus.tg_del_live(&key).await {
                tracing::warn!(error = %e, "could not forget live state");
            }
            return;
        }
    }
}

/// The session of topic `thread` is called `s` now (it was `old_key`):
/// moves its topic entry and live state, stores the live state under the
/// new name, and retitles the topic. Returns the new session key.
async fn follow_rename(
    bot: &Arc<Bot>,
    old_key: &str,
    c: &ComputerName,
    s: &SessionName,
    chat: i64,
    thread: i32,
    slot: &str,
) -> String {
    let key = session_key(c, s);
    let display = format!("{c}/{s}");
    if let Err(e) = bot.bus().tg_rename(old_key, &key, &display).await {
        tracing::warn!(computer = %c, session = %s, error = %e, "could not move the renamed session's topic entry");
    }
    bot.outbox.set_persist(slot, Some(key.clone()));
    {
        let mut w = bot.watchers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = w.remove(old_key) {
            w.insert(key.clone(), t);
        }
    }
    let params = EditForumTopicParams {
        chat_id: chat.into(),
        message_thread_id: thread,
        name: Some(display.clone()),
        icon_custom_emoji_id: None,
    };
    bot.outbox.reserve(chat).await;
    match bot.api.edit_forum_topic(&params).await {
        Ok(_) => {
            tracing::info!(computer = %c, session = %s, thread, "retitled the renamed session's topic")
        }
        Err(e) => {
            if let Some(d) = e.retry_after() {
                bot.outbox.block(chat, d);
            }
            // TOPIC_NOT_MODIFIED: a restarted gateway replaying the rename.
            tracing::info!(computer = %c, session = %s, thread, error = %e, "topic not retitled");
        }
    }
    key
}

/// Posts a notification as a new message, after the live message's update,
/// so the phone buzzes: a question with its choices as buttons, a finished
/// turn with the answer read from the agent's transcript (in its own task,
/// so reading it never holds up the live output).
fn post(bot: &Arc<Bot>, chat: i64, thread: i32, addr: &str, n: Notice) {
    match n {
        Notice::Question { html, prompt } => {
            let keyboard = prompt
                .as_ref()
                .and_then(|p| answer_keyboard(Some(thread), p));
            bot.outbox.say_with(chat, Some(thread), html, keyboard);
        }
        Notice::Finished => {
            let (bot2, addr) = (bot.clone(), addr.to_string());
            bot.tracker.spawn(async move {
                let turn = tokio::select! {
                    _ = bot2.cancel.cancelled() => return,
                    t = bot2.mesh.last_turn(&addr) => t,
                };
                let turn = match turn {
                    Ok(t) => Some(t),
                    Err(e) => {
                        tracing::info!(session = %addr, error = %e, "no last turn for the notification");
                        None
                    }
                };
                bot2.outbox
                    .say(chat, Some(thread), finished_html(&addr, turn.as_ref()));
            });
        }
    }
}
