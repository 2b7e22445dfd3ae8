//! The Telegram bot: the mesh from a phone (DESIGN.md §8, docs/telegram.md).
//!
//! * [`api`] — the Bot API client (frankenstein types, reqwest on rustls/ring).
//! * [`poller`] — the Redis lease (one gateway polls) and `getUpdates` with
//!   the offset persisted in Redis.
//! * [`auth`] — only `telegram.allowed_users`; everything else is dropped first.
//! * [`commands`] — `/computers`, `/sessions`, `/new`, `/run`, `/keys`, ...
//! * [`agents`] — `/claude` and the other agent commands, `/projects`, and
//!   the notifications when an agent asks something or finishes its turn.
//! * [`topics`] — one forum topic per session, map persisted in Redis, and the
//!   watcher that turns a session's output stream into live messages.
//! * [`live`] + [`outbox`] — what the messages should say, and the one sender
//!   that says it within Telegram's limits; [`html`] — escaping and lengths.

pub mod agents;
pub mod api;
pub mod auth;
pub mod commands;
pub mod html;
pub mod live;
pub mod outbox;
pub mod poller;
pub mod sweep;
pub mod topics;

use std::time::Duration;

use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::Mesh;

pub use api::{ApiError, BotClient};
pub use outbox::{Outbox, Pace};

/// Everything the bot needs from the configuration.
#[derive(Clone)]
pub struct TelegramConfig {
    /// Bot token (secret; never logged).
    pub token: String,
    /// Bot API base URL, e.g. `https://api.telegram.org`.
    pub api_url: String,
    /// Telegram user ids allowed to do anything.
    pub allowed_users: Vec<i64>,
    /// The forum supergroup where session topics live.
    pub chat_id: Option<i64>,
    /// Lease TTL: how long a dead gateway blocks takeover.
    pub lease_ttl: Duration,
    /// `getUpdates` long-poll timeout.
    pub poll_timeout: Duration,
    /// Call pacing per chat.
    pub pace: Pace,
}

impl std::fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("token", &"***")
            .field("api_url", &self.api_url)
            .field("allowed_users", &self.allowed_users)
            .field("chat_id", &self.chat_id)
            .finish()
    }
}

impl TelegramConfig {
    /// Defaults for everything but the token and the users.
    pub fn new(token: String, allowed_users: Vec<i64>) -> TelegramConfig {
        TelegramConfig {
            token,
            api_url: "https://api.telegram.org".into(),
            allowed_users,
            chat_id: None,
            lease_ttl: Duration::from_secs(5),
            poll_timeout: Duration::from_secs(25),
            pace: Pace::default(),
        }
    }
}

/// Why the bot will not start or stopped.
#[derive(Debug, Error)]
pub enum TelegramError {
    /// Authorization first: an empty allow-list would let nobody in, or (worse) everyone.
    #[error("telegram.allowed_users is empty: refusing to start the bot; add your Telegram user id (see docs/telegram.md)")]
    NoAllowedUsers,
    /// The token is empty.
    #[error("telegram.token is empty")]
    NoToken,
    /// The HTTP client could not be built.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Checks the configuration; called before anything runs so mistakes surface at startup.
pub fn validate(cfg: &TelegramConfig) -> Result<(), TelegramError> {
    if cfg.token.trim().is_empty() {
        return Err(TelegramError::NoToken);
    }
    if cfg.allowed_users.is_empty() {
        return Err(TelegramError::NoAllowedUsers);
    }
    Ok(())
}

/// Runs the bot until `cancel`: waits for the lease, then polls and delivers.
pub async fn run(
    cfg: TelegramConfig,
    mesh: Mesh,
    cancel: CancellationToken,
) -> Result<(), TelegramError> {
    validate(&cfg)?;
    let api = BotClient::new(&cfg.api_url, cfg.token.trim(), cfg.poll_timeout)?;
    poller::run(cfg, api, mesh, cancel).await;
    Ok(())
}
