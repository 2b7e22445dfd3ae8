//! `info`: one session in detail — what `list_sessions` says about it plus
//! what only its node knows cheaply (pane pid and size, the last exit code,
//! its output stream's length and size).

use serde::{Deserialize, Serialize};

use crate::SessionInfo;

/// A node's answer to `Op::Info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDetail {
    /// What `list_sessions` shows (command, cwd, times, state, agent).
    pub info: SessionInfo,
    /// Pid of the pane's first process, if tmux knows it.
    pub pid: Option<u32>,
    /// Pane width in cells.
    pub width: u16,
    /// Pane height in cells.
    pub height: u16,
    /// Exit code of the last command line that finished in the shell (the
    /// newest `command_finished` among the stream's last
    /// [`LAST_EXIT_SCAN`] records), else the session's exit status.
    pub last_exit_code: Option<i32>,
    /// Entries of its output stream (`XLEN`).
    pub stream_len: u64,
    /// Redis's estimate of the stream's memory (`MEMORY USAGE`), if it exists.
    pub stream_bytes: Option<u64>,
}

/// Records `info` looks back through for the last exit code.
pub const LAST_EXIT_SCAN: usize = 256;
