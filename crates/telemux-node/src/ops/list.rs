//! `list_sessions`: this node's sessions as tmux reports them (and the
//! [`SessionInfo`] of one, which `info` shares).

use std::sync::Arc;

use telemux_proto::{SessionInfo, SessionState};
use telemux_tmux::pane::parse_agent_state as agent_state;
use telemux_tmux::PaneInfo;

use crate::agent::info;
use crate::error::OpError;
use crate::state::Shared;

/// This node's sessions, in name order.
pub(crate) async fn list(shared: &Arc<Shared>) -> Result<Vec<SessionInfo>, OpError> {
    let mut out: Vec<SessionInfo> = shared
        .tmux
        .list()
        .await?
        .iter()
        .map(|p| session_info(shared, p))
        .collect();
    out.sort_by_key(|s| s.name.to_ascii_lowercase());
    Ok(out)
}

/// One session as `list_sessions` (and `info`) shows it.
pub(crate) fn session_info(shared: &Shared, p: &PaneInfo) -> SessionInfo {
    let info = shared
        .sessions
        .with_handle(&p.session.key(), |h| h.agent_info.clone())
        .flatten()
        .map(|i| info::snapshot(&i));
    SessionInfo {
        computer: shared.cfg.computer.to_string(),
        name: p.session.to_string(),
        command: p.command.clone(),
        cwd: p.cwd.clone(),
        created_ms: p.created_ms,
        state: if p.dead {
            SessionState::Exited
        } else {
            SessionState::Running
        },
        last_activity_ms: p.activity_ms,
        exit_status: if p.dead { p.exit_status() } else { None },
        agent: (!p.agent.is_empty()).then(|| p.agent.clone()),
        agent_state: agent_state(&p.agent_state).map(|(s, _)| s),
        agent_since_ms: agent_state(&p.agent_state).map(|(_, t)| t),
        agent_prompt: info
            .as_ref()
            .and_then(|i| i.prompt.as_ref().map(|s| s.prompt.clone())),
        agent_usage: info.and_then(|i| i.usage),
    }
}
