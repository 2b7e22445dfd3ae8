//! Mesh calls about AI agents in sessions: the last turn, and answering the
//! question an agent waits on by one of its own choices.

use telemux_proto::{AgentPrompt, ComputerName, Op, ReplyBody, SessionName, Turn};

use crate::mesh::{Mesh, MeshError};

/// What [`Mesh::answer`] selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// Computer of the session.
    pub computer: ComputerName,
    /// The session.
    pub session: SessionName,
    /// The choice's number on screen.
    pub number: u32,
    /// The choice's label.
    pub label: String,
    /// The question it answered.
    pub question: String,
}

impl Mesh {
    /// An agent session's last turn: the answer text, the tools it ran and
    /// the tokens it used.
    pub async fn last_turn(&self, addr: &str) -> Result<Turn, MeshError> {
        match self.read_reply(addr, 0, false, true).await? {
            ReplyBody::Turn(t) => Ok(t),
            // A node from before transcripts: the screen's text only.
            ReplyBody::Screen { text } => Ok(Turn {
                text,
                source: "screen".into(),
                ..Turn::default()
            }),
            other => Err(MeshError::unexpected(&other)),
        }
    }

    /// Selects `choice` (a number or a label) of the question the agent in
    /// `addr` waits on. With `prompt_id`, only if that question is still the
    /// one shown (otherwise a `Stale` error, and nothing is pressed).
    pub async fn answer(
        &self,
        addr: &str,
        choice: &str,
        prompt_id: Option<&str>,
    ) -> Result<Answered, MeshError> {
        if choice.trim().is_empty() {
            return Err(MeshError::BadInput(
                "no choice given: give its number (1) or its label (Yes)".into(),
            ));
        }
        let (c, s) = self.resolve_session(addr).await?;
        match self
            .call(
                &c,
                Op::Answer {
                    session: s.to_string(),
                    choice: choice.to_string(),
                    prompt_id: prompt_id.map(str::to_string),
                },
            )
            .await?
        {
            ReplyBody::Answered {
                number,
                label,
                question,
            } => Ok(Answered {
                computer: c,
                session: s,
                number,
                label,
                question,
            }),
            other => Err(MeshError::unexpected(&other)),
        }
    }

    /// The question the agent in `addr` waits on now, if any.
    pub async fn agent_prompt(&self, addr: &str) -> Result<Option<AgentPrompt>, MeshError> {
        let (c, s) = self.resolve_session(addr).await?;
        match self.call(&c, Op::ListSessions).await? {
            ReplyBody::Sessions(list) => Ok(list
                .into_iter()
                .find(|i| i.name == s.as_str())
                .and_then(|i| i.agent_prompt)),
            other => Err(MeshError::unexpected(&other)),
        }
    }
}
