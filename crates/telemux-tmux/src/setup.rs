//! The server set-up telemux relies on, as tmux argv: a leaf shared by
//! `command.rs` (prepended to every `new-session`) and `server.rs`
//! (`ensure_server`), so neither imports the other.

use crate::WAKE_CHANNEL;

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
