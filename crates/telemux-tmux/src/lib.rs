//! The telemux tmux driver: one tmux server (`tmux -L <socket>`) driven through
//! its command line and control mode, never through a shell.
//!
//! * [`Tmux`] runs tmux commands: sessions, literal input, capture, status, and the
//!   exit records that the shell hooks leave in pane options.
//! * [`ControlHub`] is the server's one control-mode client (`tmux -C`);
//!   a [`ControlClient`] follows one session's output through it, with a
//!   bounded buffer that drops the oldest bytes rather than block or grow.
//! * [`Waker`] turns tmux `wait-for` signals (pane died, a shell prompt reported
//!   an exit code) into wake-ups, so the node rescans only when something changed.
//! * [`server`] sets up the tmux server (and tells whether it is still the
//!   same one, so the node notices when it died).
//! * [`pane`] names the `@telemux_*` pane options the node sets, their value
//!   formats, and the minimum tmux version.
//! * [`shell`] writes the rc files that install the exit-code hooks in bash, zsh
//!   and POSIX sh.
//!
//! Exit codes travel only through tmux pane options set by the shell's own hook,
//! never through pane output, so a program cannot forge one by printing.

pub mod attach;
pub mod command;
pub mod control;
pub mod error;
pub mod format;
pub mod hub;
mod input;
pub mod pane;
pub mod server;
mod setup;
pub mod shell;
pub mod waker;
pub mod wrapper;

pub use command::{tmux_version, NewSession, Tmux, WAKE_CHANNEL};
pub use control::{Batch, PENDING_CAP};
pub use error::{Result, TmuxError};
pub use format::{ExitRecord, PaneInfo};
pub use hub::{ControlClient, ControlHub, HUB_SESSION};
pub use pane::{version_ok, PaneOption, MIN_TMUX_VERSION};
pub use shell::{prepare, ShellLaunch};
pub use waker::Waker;
pub use wrapper::{wrap, wrap_agent, wrap_with_stdin, WrapperState};
