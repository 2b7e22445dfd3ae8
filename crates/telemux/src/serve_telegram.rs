//! Wiring of the Telegram bot (telemux-gateway) into the binary: configuration
//! checks first (token, allow-list), then one task running the bot.

use std::time::Duration;

use anyhow::{Context, Result};
use telemux_client::Mesh;
use telemux_gateway::telegram::{self, Pace, TelegramConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, SttCommand};

/// Starts the Telegram bot when `telegram.token` is set; `None` otherwise.
pub async fn start(
    cfg: &Config,
    mesh: Mesh,
    cancel: CancellationToken,
) -> Result<Option<JoinHandle<Result<()>>>> {
    let t = &cfg.telegram;
    let token = match (&t.token, &t.token_file) {
        (Some(tok), _) => tok.trim().to_string(),
        (None, Some(f)) => tokio::fs::read_to_string(f)
            .await
            .with_context(|| format!("reading telegram.token_file {}", f.display()))?
            .trim()
            .to_string(),
        (None, None) => return Ok(None),
    };
    let stt_command = match &t.stt_command {
        None => None,
        Some(SttCommand::Argv(v)) => Some(v.clone()).filter(|v| !v.is_empty()),
        Some(SttCommand::Line(s)) if s.trim().is_empty() => None,
        Some(SttCommand::Line(s)) => {
            Some(telegram::voice::split_command(s).with_context(|| {
                format!("telegram.stt_command {s:?} does not split into words (an unclosed quote?)")
            })?)
        }
    };
    let tcfg = TelegramConfig {
        token,
        api_url: t.api_url.clone(),
        allowed_users: t.allowed_users.clone(),
        chat_id: t.chat_id,
        lease_ttl: Duration::from_millis(t.lease_ms.max(500)),
        poll_timeout: Duration::from_secs(t.poll_timeout_s.clamp(1, 50)),
        pace: Pace {
            per_chat: Duration::from_millis(t.edit_interval_ms),
            group_per_minute: t.group_messages_per_minute.max(1),
        },
        stt_command,
    };
    // Authorization first: refuse before anything runs.
    telegram::validate(&tcfg)?;
    if tcfg.chat_id.is_none() {
        tracing::warn!("telegram.chat_id is not set: commands work, but sessions get no topics and no live output");
    }
    tracing::info!(api_url = %tcfg.api_url, users = tcfg.allowed_users.len(), "starting the Telegram bot");
    Ok(Some(tokio::spawn(async move {
        telegram::run(tcfg, mesh, cancel).await?;
        Ok(())
    })))
}
