//! The agent-only tool `answer_prompt`, and the agent parts of the
//! `read_output` and `wait_for` results (the last turn's tools and tokens,
//! the question's choices). Apart from `tools.rs` so that file stays the list
//! of general tools; the server joins both routers.

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData as McpError};
use telemux_client::mesh::MeshError;
use telemux_proto::{ComputerName, ErrorCode, SessionName};

use super::output::bound_default;
use super::params::{AnswerPromptParams, AnsweredOut, PromptOut, ReadOut};
use super::result::{choices_line, encode, finish, usage_out};
use super::McpServer;

#[tool_router(router = answer_router, vis = "pub(crate)")]
impl McpServer {
    /// Answers an agent's question by one of its own choices.
    #[tool(
        name = "answer_prompt",
        description = "Answer the question an AI agent session waits on (agent_state waiting_for_input, e.g. a permission prompt \"Do you want to proceed?\") by selecting one of the prompt's own numbered choices, the way a user would on its screen. Flow: wait_for(session, until=\"waiting\") returns `prompt` with `prompt_id`, `question` and `choices` [{number, label}] -> answer_prompt(session, choice=<number or label>, prompt_id=<prompt_id>) -> wait_for(session, until=\"idle\") for the rest of the turn. With prompt_id, if the agent no longer shows that question (answered already, or another question replaced it), nothing is pressed and the call fails saying so. Returns the choice selected and the question it answered.",
        output_schema = schema_for_output::<AnsweredOut>(),
        annotations(read_only_hint = false, destructive_hint = true, open_world_hint = false)
    )]
    pub async fn answer_prompt(
        &self,
        Parameters(p): Parameters<AnswerPromptParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let (c, s) = self.mesh().resolve_session(&p.session).await?;
                let addr = format!("{c}/{s}");
                let prompt_id = p.prompt_id.as_deref().map(str::trim).filter(|i| !i.is_empty());
                // The keys go in as input: a later wait_for starts after them.
                let cursor = self.stream_end(&c, &s).await?;
                let a = self
                    .mesh()
                    .answer(&addr, &p.choice, prompt_id)
                    .await
                    .map_err(|e| stale_explained(&addr, e))?;
                self.marks().note(&c, &s, &cursor);
                let out = AnsweredOut {
                    session: addr.clone(),
                    number: a.number,
                    label: a.label,
                    question: a.question,
                };
                let text = format!(
                    "selected {}. {} in {addr} (question: {})\nwait_for(session, until=\"idle\") follows the rest of the agent's turn.",
                    out.number, out.label, out.question
                );
                encode(&out, text)
            }
            .await,
        )
    }
}

/// A stale answer's error, said so that a model knows what to do next.
fn stale_explained(addr: &str, e: MeshError) -> MeshError {
    match e {
        MeshError::Remote {
            code: Some(ErrorCode::Stale),
            message,
        } => MeshError::Remote {
            code: Some(ErrorCode::Stale),
            message: format!(
                "the question you answered is no longer shown in {addr} (answered already, or replaced by another question); nothing was pressed. {message}\nSee the question shown now with list_sessions (agent_prompt) or wait_for(until=\"waiting\"), then answer with its prompt_id."
            ),
        },
        other => other,
    }
}

/// `read_output last_turn=true`: the agent's answer text only, with the
/// tools it ran and the tokens it used beside it.
pub(super) async fn last_turn_read(
    server: &McpServer,
    c: &ComputerName,
    s: &SessionName,
) -> Result<ReadOut, MeshError> {
    let addr = format!("{c}/{s}");
    let cursor = server.stream_end(c, s).await?;
    let turn = server.mesh().last_turn(&addr).await?;
    let b = bound_default(&turn.text);
    Ok(ReadOut {
        session: addr,
        text: if b.text.trim().is_empty() {
            "(the agent has not answered anything yet)".into()
        } else {
            b.text
        },
        cursor,
        more: false,
        command_exit_code: None,
        session_exit_status: None,
        lines_omitted: b.omitted,
        tools: Some(turn.tools.iter().map(ToString::to_string).collect()),
        usage: turn.usage.map(usage_out),
        source: Some(turn.source).filter(|s| !s.is_empty()),
    })
}

/// The lines after a last turn's text in read_output's text rendering.
pub(super) fn last_turn_notes(out: &ReadOut) -> String {
    let mut notes = String::new();
    if let Some(tools) = out.tools.as_ref().filter(|t| !t.is_empty()) {
        notes.push_str(&format!("[telemux: tools run: {}]\n", tools.join("; ")));
    }
    if let Some(u) = &out.usage {
        notes.push_str(&format!(
            "[telemux: {} input / {} output tokens]\n",
            u.input_tokens, u.output_tokens
        ));
    }
    notes
}

/// wait_for's headline when an agent waits for input.
pub(super) fn waiting_headline(
    addr: &str,
    secs: &str,
    detail: &str,
    prompt: Option<&PromptOut>,
) -> String {
    match prompt {
        Some(p) => {
            let what = match (&p.tool, &p.command) {
                (Some(t), Some(c)) => format!(" [{t}: {c}]"),
                (Some(t), None) => format!(" [{t}]"),
                (None, Some(c)) => format!(" [{c}]"),
                (None, None) => String::new(),
            };
            format!(
                "the agent in {addr} is waiting for your input ({secs}): {}{what}\nchoices: {}\nAnswer with answer_prompt(session=\"{addr}\", choice=<number or label>, prompt_id=\"{}\").",
                p.question,
                choices_line(p),
                p.prompt_id
            )
        }
        None => format!(
            "the agent in {addr} is waiting for your input ({secs}): {detail}\nIts choices could not be read; read_output shows the screen. Answer with answer_prompt(session, choice), send_text or send_keys."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::params::ChoiceOut;

    fn prompt() -> PromptOut {
        PromptOut {
            prompt_id: "0123456789ab".into(),
            question: "Do you want to proceed?".into(),
            tool: Some("Bash".into()),
            command: Some("touch hi.txt".into()),
            choices: vec![
                ChoiceOut {
                    number: 1,
                    label: "Yes".into(),
                },
                ChoiceOut {
                    number: 2,
                    label: "No".into(),
                },
            ],
        }
    }

    #[test]
    fn the_waiting_headline_lists_choices_and_how_to_answer() {
        let h = waiting_headline(
            "Moz/c1",
            "1.0 s",
            "Do you want to proceed?",
            Some(&prompt()),
        );
        assert!(
            h.contains("Do you want to proceed? [Bash: touch hi.txt]"),
            "{h}"
        );
        assert!(h.contains("choices: 1. Yes; 2. No"), "{h}");
        assert!(h.contains("prompt_id=\"0123456789ab\""), "{h}");
        let h = waiting_headline("Moz/c1", "1.0 s", "Proceed?", None);
        assert!(
            h.contains("Proceed?") && h.contains("could not be read"),
            "{h}"
        );
    }

    #[test]
    fn choices_are_numbers_or_text_with_a_described_schema() {
        let schema = serde_json::to_value(schemars::schema_for!(AnswerPromptParams)).unwrap();
        for field in ["session", "choice", "prompt_id"] {
            let spec = &schema["properties"][field];
            assert!(spec.get("description").is_some(), "{field}: {schema}");
        }
        assert_eq!(schema["required"], serde_json::json!(["session", "choice"]));
        let p: AnswerPromptParams =
            serde_json::from_value(serde_json::json!({"session": "a/b", "choice": 2})).unwrap();
        assert_eq!((p.choice.as_str(), p.prompt_id), ("2", None));
        let p: AnswerPromptParams = serde_json::from_value(
            serde_json::json!({"session": "a/b", "choice": "Yes", "prompt_id": "x"}),
        )
        .unwrap();
        assert_eq!(
            (p.choice.as_str(), p.prompt_id.as_deref()),
            ("Yes", Some("x"))
        );
        assert!(serde_json::from_value::<AnswerPromptParams>(
            serde_json::json!({"session": "a/b", "choice": [1]})
        )
        .is_err());
    }

    #[test]
    fn stale_errors_say_nothing_was_pressed() {
        let e = stale_explained(
            "Moz/c1",
            MeshError::Remote {
                code: Some(ErrorCode::Stale),
                message: "that question is no longer shown".into(),
            },
        )
        .to_string();
        assert!(e.contains("no longer shown in Moz/c1"), "{e}");
        assert!(e.contains("nothing was pressed"), "{e}");
        let other = stale_explained("Moz/c1", MeshError::BadInput("x".into()));
        assert_eq!(other.to_string(), "x");
    }
}
