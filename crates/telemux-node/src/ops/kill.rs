//! `kill`: ends a session (its watcher publishes the closure).

use std::sync::Arc;

use telemux_proto::ReplyBody;

use super::target::targeted;
use crate::error::OpError;
use crate::state::Shared;

/// `Op::Kill` on session `session`.
pub(crate) async fn kill(shared: &Arc<Shared>, session: &str) -> Result<ReplyBody, OpError> {
    targeted(shared, session, move |t| async move {
        shared.tmux.kill_session(&t.session).await?;
        Ok(ReplyBody::Ok)
    })
    .await
}
