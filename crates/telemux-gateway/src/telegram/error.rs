//! The errors of bot commands, as the user reads them in the chat (`⚠️ …`).
//!
//! Each kind keeps its source; the texts are the CLI's where the CLI has one
//! (a [`MeshError`] is shown as is).

use telemux_bus::BusError;
use thiserror::Error;

use super::{api::ApiError, buttons::UnknownButton};
use telemux_client::MeshError;

/// Why a command or a button press did not do what was asked.
#[derive(Debug, Error)]
pub enum CommandError {
    /// The command was used wrongly; the text says how to use it.
    #[error("{0}")]
    Usage(String),
    /// Plain text outside a session's topic.
    #[error("Type into a session inside its topic, or use /help.")]
    NotInTopic,
    /// A button this bot did not make.
    #[error(transparent)]
    Button(#[from] UnknownButton),
    /// The topic's session was forgotten.
    #[error("this topic has no session any more")]
    TopicWithoutSession,
    /// Name resolution or the node refused or failed.
    #[error(transparent)]
    Mesh(#[from] MeshError),
    /// The file to upload (`/output`'s scrollback, a screenshot) could not be written.
    #[error("cannot write the file to upload: {0}")]
    File(#[source] std::io::Error),
    /// Telegram refused a direct call (an upload).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A file over one of Telegram's limits for bots.
    #[error("{} is over Telegram's {} MB limit for bots to {what}", size.map_or("this file".to_string(), |n| format!("this file ({n} bytes)")), limit / (1024 * 1024))]
    TooBig {
        /// `download` (`getFile`, 20 MB) or `upload` (`sendDocument`, 50 MB).
        what: String,
        /// The file's size, when known.
        size: Option<u64>,
        /// The limit in bytes.
        limit: u64,
    },
    /// The speech-to-text command is not configured, failed, or heard nothing.
    #[error("{0}")]
    Stt(String),
    /// Telegram kept answering 429.
    #[error("Telegram kept asking us to wait; try again later")]
    RateLimited,
}

/// Why a session has no forum topic.
#[derive(Debug, Error)]
pub enum TopicError {
    /// The session ↔ topic map in Redis could not be read or written.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// Telegram refused to create the topic.
    #[error("could not create the topic {name}: {source}")]
    Create {
        /// The topic's name (`computer/session`).
        name: String,
        /// Telegram's answer.
        source: ApiError,
    },
}
