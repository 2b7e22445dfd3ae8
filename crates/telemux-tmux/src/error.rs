//! Errors of the tmux driver, worded so that a CLI user can act on them.

use std::path::PathBuf;

use thiserror::Error;

/// Result alias used across this crate.
pub type Result<T, E = TmuxError> = std::result::Result<T, E>;

/// Everything that can go wrong while driving tmux.
#[derive(Debug, Error)]
pub enum TmuxError {
    /// The tmux binary could not be started at all (not installed, not on PATH).
    #[error("cannot run tmux: {0}")]
    Spawn(#[source] std::io::Error),
    /// A tmux command exited non-zero; `stderr` is tmux's own message.
    #[error("tmux {subcommand} failed: {stderr}")]
    Command {
        /// The tmux subcommand, e.g. `send-keys`.
        subcommand: String,
        /// tmux's stderr, trimmed.
        stderr: String,
    },
    /// A session with this name already exists.
    #[error("session '{0}' already exists")]
    Exists(String),
    /// No session with this name (or no tmux server at all).
    #[error("no session '{0}'")]
    NoSession(String),
    /// The working directory for a new session is unusable.
    #[error("working directory '{}' {reason}", dir.display())]
    BadCwd {
        /// The directory asked for.
        dir: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// tmux printed something this driver does not understand.
    #[error("unexpected tmux output: {0}")]
    Parse(String),
    /// Writing shell integration files or talking to a child failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl TmuxError {
    /// True when tmux said the target (or the whole server) does not exist.
    pub fn is_missing_target(stderr: &str) -> bool {
        stderr.contains("can't find session")
            || stderr.contains("can't find pane")
            || stderr.contains("can't find window")
            // tmux 3.3a says this for a `=NAME:` target on a server with no sessions.
            || stderr.contains("no current target")
            || stderr.starts_with("no server running")
            || stderr.starts_with("error connecting to")
    }

    /// True when tmux said no server is running on the socket.
    pub fn is_no_server(stderr: &str) -> bool {
        stderr.starts_with("no server running") || stderr.starts_with("error connecting to")
    }
}
