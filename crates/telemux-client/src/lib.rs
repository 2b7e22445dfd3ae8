//! The client of the mesh, shared by every front end (the CLI, and the MCP
//! server and Telegram bot in `telemux-gateway`): [`Mesh`] resolves the names
//! users type and routes requests to the node that owns a session, [`run`]
//! runs a command to its exit, [`events`] follows the mesh event bus,
//! [`mailbox`] queues messages for sessions, [`search`] greps retained output, [`info`] shows one session in detail, [`clean`] removes what is left of ended sessions, [`files`] copies files, [`screenshot`] draws a session's screen as a
//! PNG, and [`view`] is the one way output records
//! become text and JSON.

pub mod agent;
pub mod attach;
pub mod clean;
pub mod events;
pub mod files;
pub mod info;
pub mod mailbox;
pub mod mesh;
pub mod rename;
pub mod run;
pub mod screenshot;
pub mod search;
pub mod view;
pub mod watch;

pub use agent::Answered;
pub use clean::{cleaned_json, cleaned_lines, Cleaned};
pub use events::{event_filter, event_json, event_line, parse_duration, parse_since, EventFeed};
pub use files::{Copied, Location, Progress};
pub use info::{detail_json, detail_text, Detail, MailboxCounts};
pub use mailbox::{Answer, Message, Sent};
pub use mesh::{Created, Mesh, MeshError};
pub use run::{RunOutcome, RunRequest};
pub use screenshot::Screenshot;
pub use search::{hit_json, hit_line, outcome_json, SearchOutcome, SearchQuery};
pub use watch::{MeshWatch, Refresh, WatchUpdate};
