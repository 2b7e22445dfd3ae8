//! `answer`: selects one of the choices of the question an agent waits on,
//! on the real TUI, by moving its selection marker and pressing Enter.
//!
//! The question is read off the screen at the moment of answering, never
//! from memory, so an answer can only land on the question it was meant
//! for: with a `prompt_id` (Telegram buttons, MCP after `wait_for`) a
//! different question, or none, is refused as stale.

use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{ErrorCode, Key, ReplyBody};

use super::target::{targeted, Target};
use crate::agent::{info, prompt};
use crate::error::OpError;
use crate::state::Shared;

/// Pause between the keys of an answer: the agents' input loops read a
/// burst of escape sequences as one unknown key.
const KEY_GAP: Duration = Duration::from_millis(60);

/// How long an answered question may stay on screen before a new answer
/// to it is taken as a retry rather than a duplicate.
const ANSWER_TAKES: Duration = Duration::from_secs(10);

/// `Op::Answer` on session `session`.
pub(crate) async fn answer_op(
    shared: &Arc<Shared>,
    session: &str,
    choice: String,
    prompt_id: Option<String>,
) -> Result<ReplyBody, OpError> {
    targeted(shared, session, |t| {
        answer(shared, t, choice.clone(), prompt_id.clone())
    })
    .await
}

async fn answer(
    shared: &Shared,
    t: Target,
    choice: String,
    prompt_id: Option<String>,
) -> Result<ReplyBody, OpError> {
    let computer = &shared.cfg.computer;
    let s = &t.session;
    let Some(profile) = shared.cfg.agents.get(&t.agent) else {
        return Err(OpError::new(
            ErrorCode::BadInput,
            format!("{computer}/{s} is not an agent session; answer a shell with send_text or send_keys"),
        ));
    };
    let _typing = t.begin_input().await;
    let rows = shared.tmux.capture_screen(s).await?;
    let hook = t
        .agent_info
        .as_ref()
        .and_then(|i| info::snapshot(i).hook_tool);
    let (tool, command) = hook.unzip();
    let Some(shown) = profile.prompt(&rows, tool, command.flatten()) else {
        return Err(OpError::new(
            ErrorCode::Stale,
            format!(
                "{computer}/{s} is not asking anything now (answered already, or it moved on); nothing was pressed. Read it with `telemux read {computer}/{s}`"
            ),
        ));
    };
    let answered = t
        .agent_info
        .as_ref()
        .and_then(|i| info::snapshot(i).answered);
    // Still shown well after the answer: the agent missed it; answering
    // again is then allowed.
    let just_answered =
        answered.is_some_and(|(id, at)| id == shown.prompt.id && at.elapsed() < ANSWER_TAKES);
    if just_answered {
        return Err(OpError::new(
            ErrorCode::Stale,
            format!(
                "that question on {computer}/{s} was answered already (the agent is still taking the answer); nothing was pressed"
            ),
        ));
    }
    if let Some(id) = prompt_id.as_deref() {
        if id != shown.prompt.id {
            return Err(OpError::new(
                ErrorCode::Stale,
                format!(
                    "that question is no longer shown on {computer}/{s}; nothing was pressed. It now asks: {} ({})",
                    shown.prompt.question,
                    listed(&shown.prompt)
                ),
            ));
        }
    }
    let chosen = shown
        .prompt
        .choose(&choice)
        .map_err(|e| OpError::new(ErrorCode::BadInput, format!("{computer}/{s}: {e}")))?
        .clone();
    let target = shown
        .prompt
        .choices
        .iter()
        .position(|c| c.number == chosen.number)
        .unwrap_or(0);
    let keys = prompt::keys_for(shown.selected, target);
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(KEY_GAP).await;
        }
        let key = Key::parse(k).map_err(|e| OpError::new(ErrorCode::Internal, e.to_string()))?;
        shared.tmux.send_keys(s, std::slice::from_ref(&key)).await?;
    }
    if let Some(i) = &t.agent_info {
        let id = shown.prompt.id.clone();
        info::update(i, |i| i.answered = Some((id, std::time::Instant::now())));
    }
    tracing::info!(computer = %computer, session = %s, choice = chosen.number, label = %chosen.label, "answered agent prompt");
    Ok(ReplyBody::Answered {
        number: chosen.number,
        label: chosen.label,
        question: shown.prompt.question,
    })
}

fn listed(p: &telemux_proto::AgentPrompt) -> String {
    p.choices
        .iter()
        .map(|c| format!("{}. {}", c.number, c.label))
        .collect::<Vec<_>>()
        .join("; ")
}
