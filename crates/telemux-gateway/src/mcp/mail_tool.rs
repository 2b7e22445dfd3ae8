//! The `send_message` tool: a message queued in a session's mailbox, typed
//! when the target is ready, optionally waiting for the answer of the turn
//! it starts — how an agent hands work to an agent on another computer and
//! hears back. Apart from `tools.rs` to keep that file within its size.

use std::time::Duration;

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData as McpError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use telemux_client::{MeshError, Message};
use telemux_proto::When;

use super::result::{encode, finish, timeout_of};
use super::McpServer;

/// Input of `send_message`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SendMessageParams {
    /// Target session `COMPUTER/SESSION`, e.g. `RasPi/claude`.
    pub session: String,
    /// Text typed into the session, then Enter.
    pub text: String,
    /// `ready` (default: an agent idle, a shell at its prompt), `idle` (ready and its screen still) or `now`.
    #[serde(default)]
    pub when: Option<String>,
    /// Give up if not delivered within this many seconds (default 3600).
    #[serde(default)]
    pub ttl_s: Option<u64>,
    /// Wait for the turn (or command) the message starts and return its answer.
    #[serde(default)]
    pub notify: bool,
    /// Your own session (`COMPUTER/SESSION`): the answer is queued for it
    /// and typed into it when it is idle, so you need not wait (implies notify
    /// on the target's side; this call returns once queued unless notify is set).
    #[serde(default)]
    pub reply_to: Option<String>,
    /// With notify: seconds to wait for the answer (default 30, capped by the server).
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

/// Result of `send_message`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SendMessageOut {
    /// Message id (`telemux inbox SESSION` lists it).
    pub id: String,
    /// Canonical address of the target.
    pub session: String,
    /// `pending` when queued; `answered` when notify got the answer.
    pub status: String,
    /// With notify: the agent's last answer (or `exit code N` for a shell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// With notify and a shell target: the command's exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// With notify but no answer in time: pass to wait_for_event as `since`
    /// with types ["message_answered"] to keep waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[tool_router(router = mail_router, vis = "pub(crate)")]
impl McpServer {
    /// Queues a message for a session.
    #[tool(
        name = "send_message",
        description = "Queue text for a session (e.g. an agent on another computer); it is typed when the target is ready, retried if not taken, and survives restarts. notify=true waits for the turn it starts and returns the answer. Use send_text to type at once.",
        output_schema = schema_for_output::<SendMessageOut>(),
        annotations(destructive_hint = false, open_world_hint = false)
    )]
    pub async fn send_message(
        &self,
        Parameters(p): Parameters<SendMessageParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let when = match p.when.as_deref() {
                    Some(w) => When::parse(w).map_err(|e| MeshError::BadInput(e.to_string()))?,
                    None => When::Ready,
                };
                let mut sent = self
                    .mesh()
                    .send_message(Message {
                        session: p.session.clone(),
                        text: p.text,
                        when,
                        ttl: p.ttl_s.map(Duration::from_secs),
                        from: None,
                        notify: p.notify,
                        reply_to: p.reply_to.clone(),
                    })
                    .await?;
                let session = format!("{}/{}", sent.computer, sent.delivery.letter.session);
                let mut out = SendMessageOut {
                    id: sent.delivery.letter.id.clone(),
                    session,
                    status: "pending".into(),
                    answer: None,
                    exit_code: None,
                    cursor: None,
                };
                if p.notify {
                    let timeout = timeout_of(
                        p.timeout_s,
                        self.settings().default_wait_timeout,
                        self.settings().max_timeout,
                    );
                    match sent.answer(timeout).await {
                        Ok(a) => {
                            out.status = "answered".into();
                            out.answer = Some(a.text);
                            out.exit_code = a.exit_code;
                        }
                        Err(MeshError::Timeout(_)) => out.cursor = sent.cursor(),
                        Err(e) => return Err(e),
                    }
                }
                let text = match &out.answer {
                    Some(a) => format!("{} answered:\n{a}", out.session),
                    None if p.notify => format!(
                        "queued {} for {}; no answer yet: wait_for_event types=[\"message_answered\"] since={}",
                        out.id,
                        out.session,
                        out.cursor.as_deref().unwrap_or("")
                    ),
                    None => format!("queued {} for {}", out.id, out.session),
                };
                encode(&out, text)
            }
            .await,
        )
    }
}
