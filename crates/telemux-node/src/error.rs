//! Errors that stop a node, and errors of single operations (sent back as replies).

use telemux_proto::{ErrorCode, ProtoError, ReplyBody};
use thiserror::Error;

/// Why [`crate::Node::run`] could not start or had to stop.
#[derive(Debug, Error)]
pub enum NodeError {
    /// tmux is missing or refused to start the server.
    #[error("tmux: {0}")]
    Tmux(#[from] telemux_tmux::TmuxError),
    /// Redis could not be used.
    #[error("redis: {0}")]
    Bus(#[from] telemux_bus::BusError),
    /// Another live node already uses this computer name.
    #[error("computer name '{0}' is already used by a live node (started {1} ms ago on host '{2}'); pick another name with `computer = ...` or TELEMUX_COMPUTER")]
    NameTaken(String, u64, String),
    /// The record of accepted commands (replay protection) cannot be used.
    #[error("cannot use {}: {source} (the node records accepted command ids there so a restart cannot be used to replay them; check node.state_dir)", path.display())]
    StateFile {
        /// The file.
        path: std::path::PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
}

/// A failed operation, turned into a `ReplyBody::Error` for the requester.
#[derive(Debug, Error)]
#[error("{message}")]
pub struct OpError {
    /// Machine-readable class.
    pub code: ErrorCode,
    /// The sentence the user reads.
    pub message: String,
}

impl OpError {
    /// Builds an error of class `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        OpError {
            code,
            message: message.into(),
        }
    }
    /// Converts into the reply payload.
    pub fn into_reply(self) -> ReplyBody {
        ReplyBody::Error {
            code: self.code,
            message: self.message,
        }
    }
}

impl From<ProtoError> for OpError {
    fn from(e: ProtoError) -> Self {
        OpError::new(ErrorCode::BadInput, e.to_string())
    }
}

impl From<telemux_tmux::TmuxError> for OpError {
    fn from(e: telemux_tmux::TmuxError) -> Self {
        let code = match e {
            // The session went away between lookup and use.
            telemux_tmux::TmuxError::NoSession(_) => ErrorCode::NoSuchSession,
            _ => ErrorCode::Tmux,
        };
        OpError::new(code, e.to_string())
    }
}

impl From<telemux_bus::BusError> for OpError {
    fn from(e: telemux_bus::BusError) -> Self {
        OpError::new(ErrorCode::Internal, e.to_string())
    }
}
