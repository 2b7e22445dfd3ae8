//! The Telegram bot: the mesh from a phone (DESIGN.md §8, docs/telegram.md).
//!
//! Modules, leaves first (each imports only the ones above it):
//!
//! * [`html`], [`buttons`], [`live`], [`notify`] — pure: escaping and
//!   UTF-16 lengths, the typed inline buttons and their `callback_data`,
//!   what live messages should say, which agent states notify.
//! * [`api`] — the Bot API client (frankenstein types, reqwest on rustls/ring).
//! * [`outbox`] — the one sender that says it within Telegram's limits.
//! * [`config`], [`error`], [`bot`] — the configuration, the errors users
//!   read, and [`bot::Bot`], what every task of a lease period shares.
//! * [`topics`] — one forum topic per session, map persisted in Redis, and the
//!   watcher that turns a session's output stream into live messages.
//! * [`typing`], [`transcripts`] — leaves: "typing…" while a topic's agent
//!   works (one task), and voice transcripts waiting for their buttons.
//! * [`agents`] — `/claude` and the other agent commands, `/projects`.
//! * [`shot`] — `/screenshot`: the screen as a photo; uploads with 429 retries.
//! * [`files`] — documents and photos sent into a topic saved on the
//!   session's computer, and `/get PATH` back as a document.
//! * [`voice`] — voice notes through `telegram.stt_command`, with Send / Edit / Cancel.
//! * [`commands`] — `/computers`, `/sessions`, `/new`, `/run`, `/keys`, ...
//! * [`auth`] — only `telegram.allowed_users`; everything else is dropped first.
//! * [`dispatch`] — updates handled concurrently, in order per chat/topic,
//!   and the offset that may be stored while handlers finish out of order.
//! * [`poller`] — the Redis lease (one gateway polls) and `getUpdates`.

pub mod agents;
pub mod api;
pub mod auth;
pub mod bot;
pub mod buttons;
pub mod commands;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod files;
pub mod html;
pub mod live;
pub mod notify;
pub mod outbox;
pub mod poller;
pub mod queue;
pub mod shot;
pub mod sweep;
pub mod topics;
pub mod transcripts;
pub mod typing;
pub mod voice;

use thiserror::Error;
use tokio_util::sync::CancellationToken;

use telemux_client::Mesh;

pub use api::{ApiError, BotClient};
pub use config::TelegramConfig;
pub use outbox::{Outbox, Pace};

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
