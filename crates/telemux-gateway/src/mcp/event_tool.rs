//! The `wait_for_event` tool: the mesh event bus as a long poll. An agent
//! that handed work to another computer asks "tell me when anything of these
//! types happens there" and gets the events plus a cursor to ask again from,
//! so nothing between two calls is missed. Apart from `tools.rs` to keep that
//! file within its size; the server joins the routers.

use std::time::Duration;

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData as McpError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use telemux_bus::Cursor;
use telemux_client::{event_filter, event_json, event_line, parse_since};

use super::result::{encode, finish, timeout_of};
use super::McpServer;

/// Events returned per call, at most (the rest come with the next call).
const MAX_EVENTS: usize = 100;

/// Input of `wait_for_event`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct WaitForEventParams {
    /// Event types to wait for, e.g. `["command_finished", "agent_state"]`; empty or omitted: any.
    #[serde(default)]
    pub types: Vec<String>,
    /// Only events of this session (`COMPUTER/SESSION`, or a bare name on any computer).
    #[serde(default)]
    pub session: Option<String>,
    /// Only events of this computer.
    #[serde(default)]
    pub computer: Option<String>,
    /// The `cursor` of an earlier call (events after it), `start`, or a duration back like `10m`. Omitted: from now.
    #[serde(default)]
    pub since: Option<String>,
    /// Seconds to wait for a first event (default 30, capped by the server); 0 returns at once.
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

/// Result of `wait_for_event`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WaitForEventOut {
    /// Matching events, oldest first: each has `id`, `time_ms`, `type`, `computer`, `session` (when about one), `by` (the caller, when known) and its own fields.
    pub events: Vec<serde_json::Value>,
    /// Pass as `since` to continue after these events.
    pub cursor: String,
    /// True when the wait ended without an event.
    pub timed_out: bool,
}

#[tool_router(router = events_router, vis = "pub(crate)")]
impl McpServer {
    /// Long-polls the mesh event bus.
    #[tool(
        name = "wait_for_event",
        description = "Wait for mesh events: types session_created, session_killed, session_exited, session_closed, command_finished, agent_state, input_written, input_accepted, computer_online, computer_offline. Returns matching events and a cursor; pass it as `since` next time to miss nothing.",
        output_schema = schema_for_output::<WaitForEventOut>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn wait_for_event(
        &self,
        Parameters(p): Parameters<WaitForEventParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let filter = event_filter(&p.types, p.computer.as_deref(), p.session.as_deref())?;
                let from = match p.since.as_deref() {
                    Some(s) => parse_since(s)?,
                    None => Cursor::End,
                };
                let timeout = match p.timeout_s {
                    Some(0) => Duration::ZERO,
                    t => timeout_of(
                        t,
                        self.settings().default_wait_timeout,
                        self.settings().max_timeout,
                    ),
                };
                let mut feed = self.mesh().events(from, filter).await?;
                let mut got = feed.wait(timeout).await?;
                got.truncate(MAX_EVENTS);
                // The cursor must not skip events dropped by the truncation.
                let cursor = match got.last() {
                    Some(last) if got.len() == MAX_EVENTS => last.id.clone(),
                    _ => feed.cursor(),
                };
                let text = if got.is_empty() {
                    format!("no matching event within {} s", timeout.as_secs())
                } else {
                    got.iter().map(event_line).collect::<Vec<_>>().join("\n")
                };
                let out = WaitForEventOut {
                    timed_out: got.is_empty(),
                    events: got.iter().map(event_json).collect(),
                    cursor,
                };
                encode(&out, text)
            }
            .await,
        )
    }
}
