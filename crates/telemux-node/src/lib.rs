//! The telemux node daemon: owns one tmux server and speaks for it on the bus.
//!
//! Data flow: tmux control mode (per session) → [`session`] (coalesce, render,
//! sequence, publish) → the session's Redis output stream. Requests arrive on
//! the computer's command stream → [`inbox`] (checks) → [`ops`] → tmux → a
//! reply on the requester's stream. [`Node::run`] ([`daemon`]) wires these
//! together with a heartbeat and the tmux waker that reports shell exit codes
//! and pane deaths without polling; [`reconcile`] adopts sessions; [`server`] notices a dead tmux server. Shared
//! state is in the leaf module [`state`].

pub mod agent;
pub mod config;
mod daemon;
pub mod error;
mod events;
mod heartbeat;
mod inbox;
mod mail_cmd;
mod mailbox;
mod ops;
mod reconcile;
pub mod render;
mod replay_store;
mod replies;
mod run_stdin;
mod server;
mod session;
mod sizes;
mod state;
mod watch_cmd;
mod watchdog;

pub use agent::{AgentProfile, AgentSpec};
pub use config::{FilesConfig, NodeConfig, DEFAULT_FILES_MAX_BYTES, END_GRACE, MIN_OUTBOX_RECORDS};
pub use daemon::{host_name, Node};
pub use error::NodeError;
