//! Input for a suspended agent (`agents.suspend_after`) resumes it first:
//! the wrapper is told to start the agent's resume command line, and the
//! input waits (holding the session's input gate, so nothing overtakes it)
//! until the resumed agent is idle again.

use std::time::Duration;

use telemux_proto::{AgentState, ErrorCode};

use super::target::Target;
use crate::agent::info;
use crate::error::OpError;
use crate::state::Shared;

/// How long the input waits for the resumed agent's prompt: within the
/// clients' 10 s request timeout, so a slow resume is an answer, not a
/// timeout.
const RESUME_TIMEOUT: Duration = Duration::from_secs(8);

/// Resumes the agent of `t` if it is suspended; returns once it is idle.
/// The caller holds the session's input gate.
pub(crate) async fn if_suspended(shared: &Shared, t: &Target) -> Result<(), OpError> {
    let Some(mut rx) = t.agent_changes.clone() else {
        return Ok(());
    };
    if *rx.borrow_and_update() != AgentState::Suspended {
        return Ok(());
    }
    let computer = &shared.cfg.computer;
    let s = &t.session;
    if let Some(i) = &t.agent_info {
        info::update(i, |i| i.resume_requested = true);
    }
    let pane = shared.tmux.pane_status(s).await?;
    shared.tmux.resume_agent(&pane.pane_id).await?;
    tracing::info!(computer = %computer, session = %s, "resuming a suspended agent for new input");
    let woke = tokio::time::timeout(RESUME_TIMEOUT, async {
        loop {
            if *rx.borrow_and_update() == AgentState::Idle {
                return true;
            }
            if rx.changed().await.is_err() {
                return false;
            }
        }
    })
    .await;
    match woke {
        Ok(true) => Ok(()),
        _ => Err(OpError::new(
            ErrorCode::Internal,
            format!(
                "{computer}/{s}: the suspended agent is resuming but showed no prompt within {} s; nothing was typed. Send it again in a moment, or read it with `telemux read {computer}/{s}`",
                RESUME_TIMEOUT.as_secs()
            ),
        )),
    }
}
