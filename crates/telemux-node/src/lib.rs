//! The telemux node daemon: owns one tmux server and speaks for it on the bus.
//!
//! Data flow: tmux control mode (per session) → [`watcher`] (coalesce, render,
//! sequence) → the session's Redis output stream. Requests arrive on the
//! computer's command stream → [`ops`] → tmux → a reply on the requester's
//! stream. [`Node::run`] wires these together with a heartbeat and the tmux
//! waker that reports shell exit codes and pane deaths without polling.

pub mod agent;
pub mod config;
pub mod error;
mod heartbeat;
mod node;
mod ops;
mod outbox;
pub mod render;
mod replay_store;
mod watcher;

pub use agent::{AgentProfile, AgentSpec};
pub use config::{NodeConfig, MIN_OUTBOX_RECORDS};
pub use error::NodeError;
pub use node::{host_name, Node};
