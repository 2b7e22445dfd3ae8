//! The tmux server itself: the set-up telemux relies on ([`Tmux::ensure_server`],
//! also prepended to every `new-session`) and its identity ([`Tmux::server_pid`]),
//! by which the node tells a crashed-and-restarted server from the one it set up.

use crate::command::Tmux;
use crate::{Result, TmuxError, WAKE_CHANNEL};

/// Scrollback kept per pane (tmux's default of 2000 is short for agent sessions).
const HISTORY_LIMIT: &str = "10000";

/// The tmux commands (`;`-separated argv) that start the server if needed and
/// set the globals telemux relies on. Idempotent.
///
/// * `exit-empty off`: the server (and its hooks) survives with no sessions.
/// * `remain-on-exit on` globally: a pane whose command exits at once is kept,
///   so its status can be read (setting it per session after `new-session`
///   would race with such a command).
/// * `remain-on-exit-format ""`: otherwise tmux 3.3a scrolls the dead pane's
///   screen up one line to print "Pane is dead", pushing output off screen.
/// * `pane-died` hook signals [`WAKE_CHANNEL`], so the [`crate::Waker`] fires.
pub(crate) fn setup_args() -> Vec<String> {
    let hook = format!("wait-for -S {WAKE_CHANNEL}");
    [
        "start-server",
        ";",
        "set",
        "-g",
        "exit-empty",
        "off",
        ";",
        "set",
        "-g",
        "history-limit",
        HISTORY_LIMIT,
        ";",
        "set",
        "-wg",
        "remain-on-exit",
        "on",
        ";",
        "set",
        "-wg",
        "remain-on-exit-format",
        "",
        ";",
        "set-hook",
        "-g",
        "pane-died",
        &hook,
    ]
    .map(String::from)
    .to_vec()
}

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
