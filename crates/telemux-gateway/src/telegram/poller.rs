//! Who polls, and polling: the Redis lease and the `getUpdates` loop.
//!
//! Two programs polling one bot token make Telegram answer 409 and both lose
//! updates, so only the holder of the Redis lease (`keys::tg_lease`, a key
//! with a TTL, renewed every third of it) polls and sends; other gateways
//! stand by and take over within about one TTL when the holder dies.
//!
//! The offset lives in Redis and is stored (fenced by the lease) *before* an
//! update is handled: after a restart, or on the next gateway, no update is
//! handled twice. The price is that an update being handled at the very
//! moment of a crash is not retried — a command typed from the phone is
//! better lost (the user sees no answer and retries) than run twice.

use std::{collections::HashMap, sync::Arc, time::Duration};

use frankenstein::{
    methods::{GetUpdatesParams, SetMyCommandsParams},
    response::MethodResponse,
    types::BotCommand,
    updates::{Update, UpdateContent},
    AsyncTelegramApi,
};
use telemux_bus::Bus;
use tokio::time::Instant;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{api::BotClient, auth, commands, outbox::Outbox, topics, TelegramConfig};
use crate::Mesh;

/// Everything a lease holder's tasks share.
pub struct Bot {
    /// The configuration.
    pub cfg: TelegramConfig,
    /// The Bot API.
    pub api: BotClient,
    /// The mesh.
    pub mesh: Mesh,
    /// The one sender.
    pub outbox: Outbox,
    /// Session key → its watcher's token.
    pub(crate) watchers: std::sync::Mutex<HashMap<String, CancellationToken>>,
    /// Serializes topic creation, so one session never gets two topics.
    pub(crate) topic_lock: tokio::sync::Mutex<()>,
    /// Cancelled when the lease is lost or the gateway stops.
    pub cancel: CancellationToken,
    /// Tasks of this lease period.
    pub tracker: TaskTracker,
}

impl Bot {
    /// The Redis bus.
    pub fn bus(&self) -> &Bus {
        self.mesh.bus()
    }
}

/// The commands shown in Telegram's menu (`setMyCommands`).
pub fn command_list() -> Vec<BotCommand> {
    [
        (
            "computers",
            "computers: online/offline, last seen, sessions",
        ),
        ("sessions", "[computer] — sessions, each with its topic"),
        (
            "new",
            "computer[/name] [dir] [-- command] — start a session",
        ),
        (
            "claude",
            "computer[/name] [dir] — start Claude Code (dir may be a project)",
        ),
        ("codex", "computer[/name] [dir] — start Codex"),
        ("gemini", "computer[/name] [dir] — start Gemini CLI"),
        (
            "agent",
            "name computer[/name] [dir] — start any agent profile",
        ),
        (
            "projects",
            "[computer] — project directories and agent profiles",
        ),
        ("run", "computer command — run and show output + exit code"),
        ("keys", "key... — press keys (C-c Enter Escape Up Down ...)"),
        ("cancel", "Ctrl-C in this topic's session"),
        ("kill", "kill this topic's session"),
        ("output", "whole scrollback as a file"),
        ("help", "what the bot can do"),
    ]
    .into_iter()
    .map(|(c, d)| BotCommand {
        command: c.into(),
        description: d.into(),
        is_ephemeral: None,
    })
    .collect()
}

/// Waits for the lease, serves while holding it, repeats until `cancel`.
pub async fn run(cfg: TelegramConfig, api: BotClient, mesh: Mesh, cancel: CancellationToken) {
    let holder = uuid::Uuid::now_v7().to_string();
    let bus = mesh.bus().clone();
    let retry = (cfg.lease_ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut standing_by = false;
    while !cancel.is_cancelled() {
        match bus.tg_lease_acquire(&holder, cfg.lease_ttl).await {
            Ok(true) => {
                tracing::info!("took the Telegram lease; this gateway polls the bot");
                standing_by = false;
                serve(&cfg, &api, &mesh, &holder, &cancel).await;
                if !cancel.is_cancelled() {
                    tracing::warn!("lost the Telegram lease; standing by");
                }
            }
            Ok(false) => {
                if !standing_by {
                    tracing::info!(
                        "another gateway polls the Telegram bot; standing by to take over"
                    );
                    standing_by = true;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot check the Telegram lease"),
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(retry) => {}
        }
    }
    if let Err(e) = bus.tg_lease_release(&holder).await {
        tracing::warn!(error = %e, "could not release the Telegram lease; it expires by itself");
    }
}

/// One lease period: sender, watchers, renewal and polling.
async fn serve(
    cfg: &TelegramConfig,
    api: &BotClient,
    mesh: &Mesh,
    holder: &str,
    cancel: &CancellationToken,
) {
    let active = cancel.child_token();
    let bot = Arc::new(Bot {
        cfg: cfg.clone(),
        api: api.clone(),
        mesh: mesh.clone(),
        outbox: Outbox::new(cfg.pace),
        watchers: Default::default(),
        topic_lock: Default::default(),
        cancel: active.clone(),
        tracker: TaskTracker::new(),
    });
    bot.tracker.spawn(
        bot.outbox
            .clone()
            .run(api.clone(), mesh.bus().clone(), active.clone()),
    );
    bot.tracker.spawn(renew(
        mesh.bus().clone(),
        holder.to_string(),
        cfg.lease_ttl,
        active.clone(),
    ));
    let params = SetMyCommandsParams {
        commands: command_list(),
        scope: None,
        language_code: None,
    };
    if let Err(e) = api.set_my_commands(&params).await {
        tracing::warn!(error = %e, "setMyCommands failed; commands still work, the menu may be stale");
    }
    topics::resume_all(&bot).await;
    bot.tracker
        .spawn(super::sweep::run(mesh.clone(), active.clone()));
    poll(&bot, holder).await;
    active.cancel();
    bot.tracker.close();
    if tokio::time::timeout(Duration::from_secs(5), bot.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("Telegram tasks did not stop within 5 s");
    }
}

/// Renews the lease every third of its TTL; cancels `active` when it is lost.
async fn renew(bus: Bus, holder: String, ttl: Duration, active: CancellationToken) {
    let mut last_ok = Instant::now();
    loop {
        tokio::select! {
            _ = active.cancelled() => return,
            _ = tokio::time::sleep(ttl / 3) => {}
        }
        match bus.tg_lease_acquire(&holder, ttl).await {
            Ok(true) => last_ok = Instant::now(),
            Ok(false) => {
                tracing::warn!("another gateway took the Telegram lease");
                active.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew the Telegram lease");
                if last_ok.elapsed() >= ttl {
                    active.cancel();
                    return;
                }
            }
        }
    }
}

async fn poll(bot: &Arc<Bot>, holder: &str) {
    let bus = bot.bus().clone();
    let mut offset = loop {
        match bus.tg_offset().await {
            Ok(o) => break o.unwrap_or(0),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the Telegram offset");
                tokio::select! {
                    _ = bot.cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let timeout = bot.cfg.poll_timeout.as_secs().max(1) as u32;
    loop {
        let params = GetUpdatesParams {
            offset: Some(offset),
            limit: Some(100),
            timeout: Some(timeout),
            allowed_updates: None,
        };
        // Decoded one by one below, so one update we cannot read never blocks the rest.
        let res: Result<MethodResponse<Vec<serde_json::Value>>, _> = tokio::select! {
            _ = bot.cancel.cancelled() => return,
            r = bot.api.request("getUpdates", Some(params)) => r,
        };
        let pause = match res {
            Ok(r) => {
                for v in r.result {
                    let Some(id) = v.get("update_id").and_then(|i| i.as_i64()) else {
                        continue;
                    };
                    if id < offset {
                        continue;
                    }
                    match bus.tg_store_offset(holder, id + 1).await {
                        Ok(true) => offset = id + 1,
                        Ok(false) => {
                            tracing::warn!("lost the Telegram lease while polling");
                            bot.cancel.cancel();
                            return;
                        }
                        Err(e) => {
                            // Not stored, so not handled: it comes again with the next poll.
                            tracing::warn!(error = %e, "cannot store the Telegram offset");
                            break;
                        }
                    }
                    match serde_json::from_value::<Update>(v) {
                        Ok(u) => handle(bot, u).await,
                        Err(e) => {
                            tracing::warn!(update_id = id, error = %e, "skipping a Telegram update telemux cannot decode")
                        }
                    }
                }
                None
            }
            Err(e) if e.is_conflict() => {
                tracing::error!("Telegram answered 409 Conflict: another program is polling this bot token (a second gateway on a different Redis, or a webhook); updates are lost until only one polls");
                Some(Duration::from_secs(3))
            }
            Err(e) => match e.retry_after() {
                Some(d) => Some(d),
                None => {
                    tracing::warn!(error = %e, "getUpdates failed; retrying");
                    Some(Duration::from_secs(2))
                }
            },
        };
        if let Some(d) = pause {
            tokio::select! {
                _ = bot.cancel.cancelled() => return,
                _ = tokio::time::sleep(d) => {}
            }
        }
    }
}

async fn handle(bot: &Arc<Bot>, u: Update) {
    tracing::debug!(update_id = u.update_id, "handling a Telegram update");
    if !auth::allowed(&bot.cfg.allowed_users, &u) {
        return;
    }
    match u.content {
        UpdateContent::Message(m) => commands::on_message(bot, *m).await,
        UpdateContent::CallbackQuery(q) => commands::on_callback(bot, *q).await,
        _ => {}
    }
}
