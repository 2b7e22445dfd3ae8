//! What a tool call returns: structured content plus readable text on
//! success, a tool error (`isError: true`) carrying the CLI's text on a
//! [`MeshError`], and the result shapes of computers and sessions. Kept apart
//! from `tools.rs` so the handlers read as one list of tools.

use std::time::Duration;

use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::ErrorData as McpError;
use serde::Serialize;
use telemux_bus::{ComputerStatus, Cursor, OutputReader};
use telemux_client::mesh::{ago, MeshError};
use telemux_proto::{AgentPrompt, ComputerName, SessionInfo, SessionName, SessionState, Usage};

use super::params::{ChoiceOut, ComputerOut, PromptOut, SessionOut, SessionsOut, UsageOut};
use super::McpServer;

/// A successful result: `value` as structured content, `text` for people and models.
pub(super) fn success<T: Serialize>(value: &T, text: String) -> Result<CallToolResult, McpError> {
    let json = serde_json::to_value(value)
        .map_err(|e| McpError::internal_error(format!("encoding the result failed: {e}"), None))?;
    let mut r = CallToolResult::structured(json);
    r.content = vec![ContentBlock::text(text)];
    Ok(r)
}

/// A tool error with the CLI's text.
pub(super) fn failure(e: &MeshError) -> Result<CallToolResult, McpError> {
    Ok(CallToolResult::error(vec![ContentBlock::text(
        e.to_string(),
    )]))
}

/// Runs a handler body; a [`MeshError`] becomes a tool error.
pub(super) fn finish(r: Result<CallToolResult, MeshError>) -> Result<CallToolResult, McpError> {
    match r {
        Ok(v) => Ok(v),
        Err(e) => {
            tracing::info!(error = %e, "MCP tool call failed");
            failure(&e)
        }
    }
}

/// [`success`] for handler bodies that return [`MeshError`]s.
pub(super) fn encode<T: Serialize>(value: &T, text: String) -> Result<CallToolResult, MeshError> {
    success(value, text).map_err(|e| MeshError::Remote {
        code: None,
        message: e.message.to_string(),
    })
}

/// A computer as `list_computers` returns it.
pub(super) fn computer_out(c: &ComputerStatus) -> ComputerOut {
    ComputerOut {
        name: c.info.name.clone(),
        online: c.online,
        last_seen_ms: c.info.last_seen_ms,
        last_seen: if c.online {
            "now".into()
        } else {
            ago(c.info.last_seen_ms)
        },
        sessions: c.info.sessions,
        os: c.info.os.clone(),
        version: c.info.version.clone(),
        agents: c.info.agents.clone(),
    }
}

/// A session as `list_sessions` returns it.
pub(super) fn session_out(s: &SessionInfo) -> SessionOut {
    SessionOut {
        session: format!("{}/{}", s.computer, s.name),
        computer: s.computer.clone(),
        name: s.name.clone(),
        command: s.command.clone(),
        cwd: s.cwd.clone(),
        state: match s.state {
            SessionState::Running => "running".into(),
            SessionState::Exited => "exited".into(),
        },
        exit_status: s.exit_status,
        created_ms: s.created_ms,
        last_activity_ms: s.last_activity_ms,
        agent: s.agent.clone(),
        agent_state: s.agent_state.map(|a| a.as_str().to_string()),
        agent_since_ms: s.agent_since_ms,
        agent_prompt: s.agent_prompt.as_ref().map(prompt_out),
        agent_usage: s.agent_usage.map(usage_out),
    }
}

/// The readable rendering of `list_sessions`.
pub(super) fn sessions_text(out: &SessionsOut) -> String {
    if out.sessions.is_empty() {
        return "no sessions; start one with start_session".to_string();
    }
    out.sessions
        .iter()
        .map(|s| {
            let state = match s.exit_status {
                Some(c) if s.state == "exited" => format!("exited {c}"),
                _ => s.state.clone(),
            };
            let mut agent = match (&s.agent, &s.agent_state) {
                (Some(a), Some(st)) => format!("  agent {a}: {st}"),
                (Some(a), None) => format!("  agent {a}"),
                _ => String::new(),
            };
            if let Some(p) = &s.agent_prompt {
                agent.push_str(&format!(
                    " — asks: {} ({}; prompt_id {})",
                    p.question,
                    choices_line(p),
                    p.prompt_id
                ));
            }
            if let Some(u) = &s.agent_usage {
                agent.push_str(&format!(
                    "  last turn {} in / {} out tokens",
                    u.input_tokens, u.output_tokens
                ));
            }
            format!("{}  {}  {}  {}{agent}", s.session, state, s.command, s.cwd)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An agent's question as the tools return it.
pub(super) fn prompt_out(p: &AgentPrompt) -> PromptOut {
    PromptOut {
        prompt_id: p.id.clone(),
        question: p.question.clone(),
        tool: p.tool.clone(),
        command: p.command.clone(),
        choices: p
            .choices
            .iter()
            .map(|c| ChoiceOut {
                number: c.number,
                label: c.label.clone(),
            })
            .collect(),
    }
}

/// Token counts as the tools return them.
pub(super) fn usage_out(u: Usage) -> UsageOut {
    UsageOut {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
    }
}

/// `1. Yes; 2. No` — a question's choices on one line.
pub(super) fn choices_line(p: &PromptOut) -> String {
    p.choices
        .iter()
        .map(|c| format!("{}. {}", c.number, c.label))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Caps a caller's `timeout_s` at the configured maximum.
pub(super) fn timeout_of(asked: Option<u64>, default: Duration, max: Duration) -> Duration {
    asked
        .map(|s| Duration::from_secs(s.max(1)))
        .unwrap_or(default)
        .min(max)
}

impl McpServer {
    /// The output stream's newest id now (`0-0` when empty): a cursor from
    /// which everything that happens next can be read.
    pub(crate) async fn stream_end(
        &self,
        c: &ComputerName,
        s: &SessionName,
    ) -> Result<String, MeshError> {
        match self.mesh.bus().last_output(c, s).await {
            Ok(Some((id, _))) => Ok(id),
            Ok(None) => Ok("0-0".into()),
            // The newest entry did not decode; its id is still a valid cursor.
            Err(_) => Ok(OutputReader::new(self.mesh.bus(), c, s, Cursor::End)
                .await?
                .cursor()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_default_and_cap() {
        let d = Duration::from_secs(60);
        let max = Duration::from_secs(600);
        assert_eq!(timeout_of(None, d, max), d);
        assert_eq!(timeout_of(Some(5), d, max), Duration::from_secs(5));
        assert_eq!(timeout_of(Some(0), d, max), Duration::from_secs(1));
        assert_eq!(timeout_of(Some(100_000), d, max), max);
    }
}
