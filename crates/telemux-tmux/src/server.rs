//! The tmux server itself: the set-up telemux relies on ([`Tmux::ensure_server`],
//! also prepended to every `new-session`) and its identity ([`Tmux::server_pid`]),
//! by which the node tells a crashed-and-restarted server from the one it set up.

use crate::command::Tmux;
use crate::setup::setup_args;
use crate::{Result, TmuxError};

impl Tmux {
    /// Starts the server if needed and applies its set-up (see [`setup_args`]).
    /// Idempotent; the node runs it at start and after its server died.
    pub async fn ensure_server(&self) -> Result<()> {
        let args = setup_args();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&argv).await.map(drop)
    }

    /// The process id of the running server; `None` when none runs. A
    /// server that died and was started again has another pid.
    pub async fn server_pid(&self) -> Result<Option<u32>> {
        match self.run(&["display-message", "-p", "#{pid}"]).await {
            Ok(out) => out
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| TmuxError::Parse(format!("server pid {out:?}"))),
            Err(TmuxError::Command { stderr, .. }) if TmuxError::is_no_server(&stderr) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
