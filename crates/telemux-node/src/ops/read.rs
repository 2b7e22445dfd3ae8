//! `read`: a session's screen and scrollback, or an agent's last answer
//! (from its transcript where it keeps one, else from the screen).

use std::sync::Arc;

use telemux_proto::{limits, ErrorCode, ReplyBody, Turn};

use super::target::{targeted, Target};
use crate::agent::{info, transcript};
use crate::error::OpError;
use crate::state::Shared;

/// `Op::Read` on session `session`.
pub(crate) async fn read_op(
    shared: &Arc<Shared>,
    session: &str,
    lines: u32,
    raw: bool,
    last_turn: bool,
) -> Result<ReplyBody, OpError> {
    targeted(shared, session, move |t| {
        read(shared, t, lines, raw, last_turn)
    })
    .await
}

/// The screen and scrollback of a session, or an agent's last answer.
async fn read(
    shared: &Shared,
    t: Target,
    lines: u32,
    raw: bool,
    last_turn: bool,
) -> Result<ReplyBody, OpError> {
    let s = t.session;
    if last_turn {
        let Some(profile) = shared.cfg.agents.get(&t.agent) else {
            return Err(OpError::new(
                ErrorCode::BadInput,
                format!(
                    "{}/{s} is not an agent session (start one with --agent); last_turn needs an agent's transcript",
                    shared.cfg.computer
                ),
            ));
        };
        // The agent's own record first: its transcript, where the turn's
        // answer is in it already (Claude Code writes it only later); then
        // what its hooks reported of the turn; then the screen.
        let known = t.agent_info.as_ref().map(info::snapshot);
        let hooked = known
            .as_ref()
            .filter(|i| i.turn_done)
            .and_then(|i| i.turn.clone())
            .filter(|t| !t.text.is_empty());
        if let (Some(format), Some(path)) = (
            profile.transcript,
            known.as_ref().and_then(|i| i.transcript.clone()),
        ) {
            if let Some(mut turn) = transcript::last_turn(format, &path).await {
                if !turn.text.is_empty() {
                    if turn.tools.is_empty() {
                        turn.tools = hooked.map(|h| h.tools).unwrap_or_default();
                    }
                    return Ok(ReplyBody::Turn(turn));
                }
            }
        }
        if let Some(turn) = hooked {
            return Ok(ReplyBody::Turn(turn));
        }
        // A turn may be long: look further back than the screen.
        let text = shared
            .tmux
            .capture(
                &s,
                lines.clamp(LAST_TURN_LINES, limits::MAX_READ_LINES),
                false,
            )
            .await?;
        return Ok(ReplyBody::Turn(Turn {
            text: profile.last_turn(&text),
            tools: Vec::new(),
            usage: None,
            source: "screen".into(),
        }));
    }
    let text = shared
        .tmux
        .capture(&s, lines.min(limits::MAX_READ_LINES), raw)
        .await?;
    Ok(ReplyBody::Screen { text })
}

/// Lines of scrollback searched for an agent's last answer.
const LAST_TURN_LINES: u32 = 3000;
