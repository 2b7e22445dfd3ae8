//! `info`: one session in detail ([`telemux_proto::SessionDetail`]): its
//! listing, pane pid and size from tmux, the last exit code and the size of
//! its output stream from Redis.

use std::sync::Arc;

use telemux_proto::detail::LAST_EXIT_SCAN;
use telemux_proto::{ErrorCode, OutputEvent, ReplyBody, SessionDetail};

use super::list::session_info;
use super::target::targeted;
use crate::error::OpError;
use crate::state::Shared;

/// `Op::Info` on session `session`.
pub(crate) async fn info(shared: &Arc<Shared>, session: &str) -> Result<ReplyBody, OpError> {
    targeted(shared, session, move |t| async move {
        let panes = shared.tmux.list().await?;
        let Some(p) = panes.iter().find(|p| p.session == t.session) else {
            return Err(OpError::new(
                ErrorCode::NoSuchSession,
                format!("no session '{}' on {}", t.session, shared.cfg.computer),
            ));
        };
        let c = &shared.cfg.computer;
        let info = session_info(shared, p);
        let (len, bytes, newest) = tokio::try_join!(
            shared.bus.output_len(c, &t.session),
            shared.bus.output_bytes(c, &t.session),
            shared.bus.output_newest(c, &t.session, LAST_EXIT_SCAN),
        )?;
        let last_command = newest
            .iter()
            .find_map(|(_, r)| match r.as_ref().ok()?.event {
                OutputEvent::CommandFinished { exit_code, .. } => Some(exit_code),
                _ => None,
            });
        Ok(ReplyBody::Info(SessionDetail {
            last_exit_code: last_command.or(info.exit_status),
            info,
            pid: p.pid,
            width: p.width,
            height: p.height,
            stream_len: len,
            stream_bytes: bytes,
        }))
    })
    .await
}
