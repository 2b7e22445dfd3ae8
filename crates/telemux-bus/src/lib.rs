//! telemux-bus: the Redis transport every telemux process uses, built on fred.
//!
//! * [`Bus`] — one multiplexed connection (reconnecting forever) plus
//!   dedicated connections for blocking stream reads ([`connect`]); TLS with a
//!   private CA and client certificates ([`tls`]).
//! * Registry — heartbeats, graceful stop, who is online ([`registry`]).
//! * Commands — a node's [`CommandReader`] on its consumer group, at-most-once
//!   execution, dead letters ([`commands`]).
//! * [`Requester`] — request/reply for CLIs and gateways ([`requester`]).
//! * Output and event streams with resumable cursors and explicit gaps
//!   ([`output`], [`events`]), per-node bookkeeping ([`mesh`]) and each
//!   computer's queue of messages for its sessions ([`mailbox`]).
//!
//! Every Redis key name comes from [`telemux_proto::keys`]; every stream entry
//! holds one [`telemux_proto::Envelope`] in field [`telemux_proto::keys::FIELD`].

#![warn(missing_docs)]

pub mod commands;
pub mod connect;
mod entries;
pub mod error;
pub mod events;
mod follow;
pub mod mailbox;
pub mod mesh;
pub mod output;
pub mod presence;
pub mod registry;
pub mod rename;
pub mod requester;
pub mod status;
pub mod streams;
pub mod telegram;
pub mod tls;

pub use commands::{CommandReader, DeadLetterEntry, Incoming};
pub use connect::{redact_url, Bus, ConnectOptions};
pub use error::{human_duration, BusError, RedisKind, RequestError};
pub use events::{EventBatch, EventReader, EventRecord, RecordBatch};
pub use follow::{Cursor, StreamGap};
pub use output::{OutputBatch, OutputEntries, OutputIds, OutputReader};
pub use presence::{PresenceBatch, PresenceReader};
pub use registry::{ComputerStatus, Forget};
pub use requester::Requester;
pub use status::Backlog;
pub use tls::TlsOptions;
