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
//! better lost (the user sees no answer and retries) than run twice. Updates
//! are handled concurrently per chat/topic by [`super::dispatch`], which
//! explains which offset is stored while handlers finish out of order.

use std::{sync::Arc, time::Duration};

use frankenstein::{
    methods::{GetUpdatesParams, SetMyCommandsParams},
    response::MethodResponse,
    types::BotCommand,
    updates::Update,
    AsyncTelegramApi,
};
use telemux_bus::Bus;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{
    api::BotClient,
    bot::Bot,
    config::TelegramConfig,
    dispatch::{Dispatcher, MAX_WAITING},
    topics,
};
use telemux_client::Mesh;

/// Pause between polls while updates wait behind a busy lane (each such poll
/// returns at once, since Telegram still holds the waiting updates).
const BUSY_POLL: Duration = Duration::from_millis(300);

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
        (
            "queue",
            "text — type it when the session is ready; its answer comes here",
        ),
        ("rename", "new — rename this topic's session"),
        ("output", "whole scrollback as a file"),
        ("screenshot", "a picture of this topic's session screen"),
        ("get", "path — a file from this topic's session computer"),
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
    let bot = Arc::new(Bot::new(
        cfg.clone(),
        api.clone(),
        mesh.clone(),
        active.clone(),
    ));
    bot.tracker.spawn(
        bot.outbox
            .clone()
            .run(api.clone(), mesh.bus().clone(), active.clone()),
    );
    bot.tracker.spawn(super::typing::run(
        bot.typing.clone(),
        api.clone(),
        bot.outbox.clone(),
        active.clone(),
    ));
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
    let (offset, started) = loop {
        match bus.tg_progress().await {
            Ok(p) => break p.unwrap_or((0, Vec::new())),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the Telegram offset");
                tokio::select! {
                    _ = bot.cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let lanes = Dispatcher::start(bot.clone(), holder, offset, &started);
    let long_poll = bot.cfg.poll_timeout.as_secs().max(1) as u32;
    loop {
        if lanes.waiting() >= MAX_WAITING {
            // Bounded: fetch more only when some of what waits has started.
            tokio::select! {
                _ = bot.cancel.cancelled() => return,
                _ = lanes.changed() => {}
            }
            continue;
        }
        let busy = lanes.waiting() > 0;
        let params = GetUpdatesParams {
            offset: Some(lanes.poll_offset()),
            limit: Some(100),
            timeout: Some(if busy { 0 } else { long_poll }),
            allowed_updates: None,
        };
        // Decoded one by one below, so one update we cannot read never blocks the rest.
        let res: Result<MethodResponse<Vec<serde_json::Value>>, _> = tokio::select! {
            _ = bot.cancel.cancelled() => return,
            r = bot.api.request("getUpdates", Some(params)) => r,
        };
        let pause = match res {
            Ok(r) => {
                let fetched = r.result.len();
                let mut new = 0;
                for v in r.result {
                    let Some(id) = v.get("update_id").and_then(|i| i.as_i64()) else {
                        continue;
                    };
                    let update = match serde_json::from_value::<Update>(v) {
                        Ok(u) => Some(u),
                        Err(e) => {
                            tracing::warn!(update_id = id, error = %e, "a Telegram update telemux cannot decode");
                            None
                        }
                    };
                    if lanes.offer(id, update) {
                        new += 1;
                    }
                }
                // Only updates we hold already (waiting, or started but not
                // yet stored): wait for progress instead of asking again at once.
                (new == 0 && (fetched > 0 || busy)).then_some(BUSY_POLL)
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
                _ = lanes.changed() => {}
                _ = tokio::time::sleep(d) => {}
            }
        }
    }
}
