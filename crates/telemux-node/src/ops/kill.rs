//! `kill`: ends a session (its watcher publishes the closure).

use std::sync::Arc;

use telemux_proto::{MeshEvent, ReplyBody};

use super::target::targeted;
use crate::error::OpError;
use crate::state::Shared;

/// `Op::Kill` on session `session`, asked for by `by`.
pub(crate) async fn kill(
    shared: &Arc<Shared>,
    session: &str,
    by: &str,
) -> Result<ReplyBody, OpError> {
    targeted(shared, session, move |t| async move {
        shared.tmux.kill_session(&t.session).await?;
        shared.mesh_event(MeshEvent::SessionKilled {
            computer: shared.cfg.computer.to_string(),
            session: t.session.to_string(),
            by: by.to_string(),
        });
        Ok(ReplyBody::Ok)
    })
    .await
}
