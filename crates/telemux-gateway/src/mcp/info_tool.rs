//! The session lifecycle tools apart from start and kill: `session_info`,
//! one session in detail ([`telemux_client::Mesh::info`]); `clean_sessions`
//! ([`telemux_client::Mesh::clean`]); `rename_session`
//! ([`telemux_client::Mesh::rename`]). Apart from `tools.rs` to keep that
//! file within its size; the server joins the routers.

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData as McpError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use telemux_client::{detail_json, detail_text};

use super::result::{encode, finish};
use super::McpServer;

/// Input of `session_info`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SessionInfoParams {
    /// `COMPUTER/SESSION` (or a bare name unique in the mesh).
    pub session: String,
}

/// Result of `session_info`: the fields docs/mcp.md lists (`session`,
/// `command`, `cwd`, `pid`, `width`, `height`, `state`, `agent_state`,
/// `last_exit_code`, `stream_len`, `stream_bytes`, `mailbox`, `telegram_topic`, ...).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionInfoOut {
    /// The session's details by name.
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Result of `clean_sessions`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CleanOut {
    /// Per computer: `{computer, sessions, streams, dry_run}`.
    pub computers: Vec<serde_json::Value>,
}

#[tool_router(router = info_router, vis = "pub(crate)")]
impl McpServer {
    /// One session in detail.
    #[tool(
        name = "session_info",
        description = "One session in detail: command, cwd, pid, size, created, last activity, state, agent state, last exit code, output stream size, mailbox counts, Telegram topic.",
        output_schema = schema_for_output::<SessionInfoOut>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn session_info(
        &self,
        Parameters(p): Parameters<SessionInfoParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let d = self.mesh().info(&p.session).await?;
                let fields = match detail_json(&d) {
                    serde_json::Value::Object(m) => m,
                    _ => serde_json::Map::new(),
                };
                encode(&SessionInfoOut { fields }, detail_text(&d))
            }
            .await,
        )
    }
}

/// Input of `clean_sessions`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CleanParams {
    /// Only this computer; omitted: every online one.
    #[serde(default)]
    pub computer: Option<String>,
    /// Only say what would be removed.
    pub dry_run: bool,
}

#[tool_router(router = clean_router, vis = "pub(crate)")]
impl McpServer {
    /// Removes what is left of ended sessions.
    #[tool(
        name = "clean_sessions",
        description = "Remove exited sessions and the output streams of sessions that are gone; dry_run=true only lists them.",
        output_schema = schema_for_output::<CleanOut>(),
        annotations(destructive_hint = true, open_world_hint = false)
    )]
    pub async fn clean_sessions(
        &self,
        Parameters(p): Parameters<CleanParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let done = self.mesh().clean(p.computer.as_deref(), p.dry_run).await?;
                let text = done
                    .iter()
                    .flat_map(telemux_client::cleaned_lines)
                    .collect::<Vec<_>>()
                    .join("\n");
                let computers = done.iter().map(telemux_client::cleaned_json).collect();
                encode(&CleanOut { computers }, text)
            }
            .await,
        )
    }
}

/// Input of `rename_session`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RenameParams {
    /// `COMPUTER/SESSION` (or a bare name unique in the mesh).
    pub session: String,
    /// The new name, on the same computer (letters, digits, `-`, `_`).
    pub new_name: String,
}

/// Result of `rename_session`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RenameOut {
    /// The session's new address, `COMPUTER/NEW_NAME`.
    pub session: String,
    /// Its old name.
    pub from: String,
}

#[tool_router(router = rename_router, vis = "pub(crate)")]
impl McpServer {
    /// Renames a session.
    #[tool(
        name = "rename_session",
        description = "Rename a session on its computer, e.g. `MozBook/api` to `web`. Its output (cursors stay valid), queued messages and Telegram topic follow; a name in use is refused.",
        output_schema = schema_for_output::<RenameOut>(),
        annotations(destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    pub async fn rename_session(
        &self,
        Parameters(p): Parameters<RenameParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let r = self.mesh().rename(&p.session, &p.new_name).await?;
                let out = RenameOut {
                    session: format!("{}/{}", r.computer, r.to),
                    from: format!("{}/{}", r.computer, r.from),
                };
                let text = format!("renamed {} to {}", out.from, out.session);
                encode(&out, text)
            }
            .await,
        )
    }
}
