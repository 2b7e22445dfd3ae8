//! The `search_output` tool: a regex over the retained output of sessions on
//! every online computer ([`telemux_client::Mesh::search`]); each hit carries
//! a cursor to pass to `read_output` as `since`. Apart from `tools.rs` to
//! keep that file within its size; the server joins the routers.

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData as McpError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use telemux_client::{hit_json, hit_line, parse_duration, MeshError, SearchQuery};

use super::result::{encode, finish};
use super::McpServer;

/// Input of `search_output`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchOutputParams {
    /// Regex (Rust syntax, at most 1000 characters).
    pub pattern: String,
    /// Only these computers; omitted: every online one.
    #[serde(default)]
    pub computers: Vec<String>,
    /// Only these sessions (`COMPUTER/SESSION` or a bare name).
    #[serde(default)]
    pub sessions: Vec<String>,
    /// Only output of the last `30s`, `10m`, `2h`, `1d`.
    #[serde(default)]
    pub since: Option<String>,
    /// Most hits (default 100, at most 1000).
    #[serde(default)]
    pub max_results: Option<u32>,
}

/// Result of `search_output`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchOutputOut {
    /// Hits by computer and session, oldest first within a session: `session`, `line`, `ts_ms`, `cursor` (give it to read_output as `since` to read from the hit on).
    pub hits: Vec<serde_json::Value>,
    /// A bound stopped the search or more hits exist; `notes` says which.
    pub truncated: bool,
    /// Bounds hit, computers that did not answer.
    pub notes: Vec<String>,
}

#[tool_router(router = search_router, vis = "pub(crate)")]
impl McpServer {
    /// Greps retained output across the mesh.
    #[tool(
        name = "search_output",
        description = "Search the retained output of sessions on every online computer for lines matching a regex. Each hit has a cursor: read_output(session, since=cursor) shows the output from the hit on.",
        output_schema = schema_for_output::<SearchOutputOut>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn search_output(
        &self,
        Parameters(p): Parameters<SearchOutputParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let since = p
                    .since
                    .as_deref()
                    .map(|s| {
                        parse_duration(s).ok_or_else(|| {
                            MeshError::BadInput(format!(
                                "bad since {s:?}: give a number and a unit, such as 30s, 10m, 2h or 1d"
                            ))
                        })
                    })
                    .transpose()?;
                // One search per computer and session asked for (none: all).
                let computers: Vec<Option<String>> = if p.computers.is_empty() {
                    vec![None]
                } else {
                    p.computers.iter().cloned().map(Some).collect()
                };
                let sessions: Vec<Option<String>> = if p.sessions.is_empty() {
                    vec![None]
                } else {
                    p.sessions.iter().cloned().map(Some).collect()
                };
                let max = p.max_results;
                let mut hits = Vec::new();
                let mut truncated = false;
                let mut notes = Vec::new();
                for c in &computers {
                    for s in &sessions {
                        // A session named with its computer is searched once, there.
                        if let (Some(c), Some((sc, _))) = (c, s.as_deref().and_then(|s| s.split_once('/'))) {
                            if !sc.eq_ignore_ascii_case(c) {
                                continue;
                            }
                        }
                        let q = SearchQuery {
                            pattern: p.pattern.clone(),
                            computer: c.clone(),
                            session: s.clone(),
                            since,
                            max_results: max,
                        };
                        let found = self.mesh().search(&q).await?;
                        truncated |= found.truncated;
                        notes.extend(found.notes);
                        hits.extend(found.hits);
                    }
                }
                let limit = max
                    .unwrap_or(telemux_proto::search::DEFAULT_MAX_RESULTS)
                    .clamp(1, telemux_proto::search::MAX_RESULTS) as usize;
                if hits.len() > limit {
                    notes.push(format!("showing the first {limit} of {} hits", hits.len()));
                    hits.truncate(limit);
                    truncated = true;
                }
                let mut text = if hits.is_empty() {
                    "no matching line".to_string()
                } else {
                    hits.iter().map(hit_line).collect::<Vec<_>>().join("\n")
                };
                for n in &notes {
                    text.push_str(&format!("\n({n})"));
                }
                let out = SearchOutputOut {
                    hits: hits.iter().map(hit_json).collect(),
                    truncated,
                    notes,
                };
                encode(&out, text)
            }
            .await,
        )
    }
}
