//! The MCP server: lets an AI agent on one computer drive sessions on every
//! computer of the mesh, through the same [`Mesh`] client the CLI uses.
//!
//! * [`tools`] — the tools (the nine of DESIGN.md §9, plus `list_projects`) and their results.
//! * [`agent_tools`] — `answer_prompt`, and the agent parts of other results.
//! * [`shot_tool`] — `screenshot`: a session's screen as a PNG image.
//! * [`event_tool`] — `wait_for_event`: the mesh event bus as a long poll.
//! * [`mail_tool`] — `send_message`: queued delivery, optionally waiting for the answer.
//! * [`search_tool`] — `search_output`: a regex over retained output, mesh-wide.
//! * [`info_tool`] — `session_info`: one session in detail; `clean_sessions`;
//!   `rename_session`.
//! * [`file_tools`] — `read_file`, `write_file`: files within a computer's `files.roots`.
//! * [`params`] — their JSON-Schema inputs and structured outputs.
//! * [`output`] — bounding long output (head + tail) for a model.
//! * [`page`] — `since` cursors and exact paging through new output.
//! * [`wait`] — `wait_for` and progress notifications.
//! * [`agent`] — agent sessions: where a wait on an agent's state starts, projects.
//! * [`toolsets`] — which tools a server lists (`mcp.toolsets`).
//! * [`http`] — streamable HTTP with bearer-token auth; [`serve_stdio`] is stdio.
//!
//! Failures come back as MCP tool errors (`isError: true`) carrying exactly the
//! text the CLI prints, so an agent gets the same "did you mean" suggestions.

pub mod agent;
pub mod agent_tools;
pub mod event_tool;
pub mod file_tools;
pub mod http;
pub mod info_tool;
pub mod mail_tool;
pub mod output;
pub mod page;
pub mod params;
mod result;
pub mod search_tool;
pub mod shot_tool;
pub mod tools;
pub mod toolsets;
pub mod wait;

use std::collections::BTreeSet;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{tool_handler, ServerHandler, ServiceExt};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use telemux_client::Mesh;

use agent::InputMarks;

pub use http::{serve_http, HttpOptions};

/// Tunables of the MCP server (from the `[mcp]` config section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpSettings {
    /// `run_command` timeout when the caller gives none.
    pub default_run_timeout: Duration,
    /// `wait_for` timeout when the caller gives none.
    pub default_wait_timeout: Duration,
    /// Upper bound for any `timeout_s` a caller asks for.
    pub max_timeout: Duration,
    /// Quiet period after which `wait_for until=idle` says idle.
    pub idle: Duration,
    /// The tools listed and callable ([`toolsets::tools_of`]; the default
    /// sets when built with [`Default`]).
    pub tools: BTreeSet<&'static str>,
    /// Whether `tools/list` carries each tool's output schema. Off by
    /// default: half the listing's bytes, paid in every conversation, for a
    /// structure the text content already shows; typed clients turn it on.
    pub output_schemas: bool,
}

impl Default for McpSettings {
    fn default() -> Self {
        McpSettings {
            default_run_timeout: Duration::from_secs(60),
            default_wait_timeout: Duration::from_secs(30),
            max_timeout: Duration::from_secs(600),
            idle: Duration::from_millis(2000),
            tools: toolsets::tools_of("").unwrap_or_default(),
            output_schemas: false,
        }
    }
}

/// Why the MCP server could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum McpServeError {
    /// The configuration does not allow serving (e.g. no token off loopback).
    #[error("{0}")]
    Config(String),
    /// Binding or resolving the listen address failed.
    #[error("MCP over HTTP cannot listen on {addr}: {source}")]
    Listen {
        /// The configured `mcp.listen`.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The MCP session on stdio failed.
    #[error("MCP on stdio failed: {0}")]
    Stdio(String),
    /// The HTTP server failed while running.
    #[error("MCP over HTTP failed: {0}")]
    Http(std::io::Error),
}

/// What a model is told when it connects (the MCP `instructions` field).
pub const INSTRUCTIONS: &str = "\
telemux drives terminal sessions (tmux) on several computers joined in one mesh, without SSH.

Addressing:
- A computer is named like `MozBook` or `RasPi` (case-insensitive). Call list_computers to see them and whether they are online.
- A session is addressed `COMPUTER/SESSION`, e.g. `MozBook/api`. A bare session name (`api`) works only when it is unique across online computers; prefer the full address.
- Errors name what exists instead (\"no computer 'Mozbok'; did you mean MozBook?\"): retry with the suggestion.

Typical flows:
- One-off command with an exit code: run_command(computer, command). It waits for the exit and returns exit_code, output (long output keeps head and tail) and duration_ms.
- Long-lived or interactive work: start_session(computer) -> send_text(session, text) -> wait_for(session, until=\"exit\", since=<cursor from send_text>) -> read_output(session).
- Paging through output without re-reading: read_output returns a `cursor`; pass it back as `since` to get only newer output.
- Ctrl-C, arrows, Escape: send_keys(session, [\"C-c\"]). Text always goes through send_text.
- wait_for until: `exit` (the typed command finished, with its exit code), `idle` (no output for a quiet period), `text:<regex>` (a new output line matches). It reports which happened, or `timeout`.
- See a full-screen program (editor, TUI, progress bars) as the user does: screenshot(session) returns a PNG of the screen.
- Find where something was printed: search_output(pattern) returns matching lines with a cursor for read_output(session, since=cursor).
- Files: read_file(computer, path) and write_file(computer, path, content) reach files inside that computer's files.roots (default its home directory).
- Clean up sessions you started with kill_session when done.

AI coding agents (Claude Code, Codex, Gemini) and projects:
- list_projects shows each computer's named project directories and the agent profiles it can start.
- start_session(computer, agent=\"claude\", cwd=\"api\") starts an agent in a project (cwd may be a project name). list_sessions then shows agent_state: starting, working, waiting_for_input, idle, exited.
- start_session(..., agent=\"claude\", resume=true) continues the agent's last conversation in that directory instead of a new one.
- Give the agent a task: send_text(session, text) -> wait_for(session, until=\"idle\", since=<cursor from send_text>) -> read_output(session, last_turn=true) for its answer (text only; `tools` lists the tools it ran, `usage` its tokens). For an agent, `idle` means it finished its turn (it also returns when the agent stops to ask something: happened=\"waiting\"); until=\"waiting\" waits only for a question.
- When it asks (a permission prompt, a choice): wait_for(session, until=\"waiting\") (or \"idle\" returning happened=\"waiting\") returns `prompt` with `prompt_id`, `question`, `tool`, `command` and `choices` [{number, label}] -> pick one -> answer_prompt(session, choice=<number or label>, prompt_id=<prompt_id>) -> wait_for(session, until=\"idle\") for the rest of the turn. With prompt_id nothing is pressed if that question is gone or was replaced (the call fails saying so: look again and answer the new one). list_sessions also shows the question as agent_prompt. Escape (send_keys [\"Escape\"]) dismisses a question.";

/// The MCP service: one per connection (stdio) or per HTTP session.
#[derive(Clone)]
pub struct McpServer {
    mesh: Mesh,
    settings: McpSettings,
    marks: InputMarks,
    tool_router: ToolRouter<McpServer>,
    /// [`INSTRUCTIONS`] without the lines about tools it does not list.
    instructions: String,
}

impl McpServer {
    /// A server answering through `mesh`.
    pub fn new(mesh: Mesh, settings: McpSettings) -> McpServer {
        let mut router = Self::tool_router()
            + Self::answer_router()
            + Self::screenshot_router()
            + Self::files_router()
            + Self::events_router()
            + Self::mail_router()
            + Self::search_router()
            + Self::info_router()
            + Self::clean_router()
            + Self::rename_router();
        // Not merely hidden: a tool outside the chosen sets cannot be called.
        for t in router.list_all() {
            if !settings.tools.contains(t.name.as_ref()) {
                router.remove_route(&t.name);
            }
        }
        if !settings.output_schemas {
            for route in router.map.values_mut() {
                route.attr.output_schema = None;
            }
        }
        let instructions = toolsets::instructions_for(INSTRUCTIONS, &settings.tools);
        McpServer {
            mesh,
            settings,
            marks: InputMarks::default(),
            tool_router: router,
            instructions,
        }
    }

    /// The names of the tools, in listing order (for tests and docs).
    pub fn tool_names(&self) -> Vec<String> {
        self.tool_router
            .list_all()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect()
    }

    /// The mesh client it uses.
    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// Its settings.
    pub fn settings(&self) -> &McpSettings {
        &self.settings
    }

    /// Where the last input to each session began (for agent waits).
    pub fn marks(&self) -> &InputMarks {
        &self.marks
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("telemux", env!("CARGO_PKG_VERSION"))
                    .with_title("telemux: terminal sessions on all your computers"),
            )
            .with_instructions(self.instructions.clone())
    }
}

/// Serves MCP on this process's stdin/stdout until the client closes stdin or
/// `cancel` fires.
pub async fn serve_stdio(
    server: McpServer,
    cancel: CancellationToken,
) -> Result<(), McpServeError> {
    let transport = rmcp::transport::io::stdio_pipes();
    let running = server
        .serve_with_ct(transport, cancel.child_token())
        .await
        .map_err(|e| McpServeError::Stdio(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| McpServeError::Stdio(e.to_string()))?;
    Ok(())
}
