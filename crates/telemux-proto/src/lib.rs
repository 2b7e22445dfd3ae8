//! The telemux contract: what travels between nodes, gateways and CLIs.
//!
//! This crate does no I/O. It defines the versioned MessagePack [`Envelope`],
//! the message bodies ([`Request`], [`Reply`], [`OutputRecord`], [`MeshEvent`]),
//! the Redis key names ([`keys`]), name rules ([`names`]), key names for input
//! ([`Key`]) and the size limits ([`limits`]). Everything that crosses a process
//! boundary is defined here and nowhere else, so that a node and a gateway of
//! adjacent versions agree on the bytes.

pub mod agent;
pub mod auth;
pub mod detail;
pub mod envelope;
pub mod error;
pub mod event;
pub mod files;
pub mod input;
pub mod keys;
pub mod limits;
pub mod mailbox;
pub mod messages;
pub mod names;
pub mod screen;
pub mod search;

pub use agent::{AgentPrompt, ChoiceError, PromptChoice, ToolCall, Turn, Usage};
pub use auth::{AuthError, MeshKey, ReplayGuard};
pub use detail::SessionDetail;
pub use envelope::{now_ms, Envelope, Message, PROTOCOL_VERSION};
pub use error::ProtoError;
pub use event::{EventFilter, MeshEvent, UnknownEventType, EVENT_TYPES};
pub use files::{FileChunk, FileStat, FileWritten, WriteChunk};
pub use input::Key;
pub use mailbox::{Delivery, Letter, When};
pub use messages::*;
pub use names::{ComputerName, SessionAddr, SessionName};
pub use screen::Snapshot;
pub use search::{Found, Hit, PatternError};
