//! `run`: a command in a fresh `run-…` session that is killed once it
//! exits (or times out).

use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{ErrorCode, ReplyBody};

use super::create::create;
use crate::error::OpError;
use crate::state::Shared;

/// `Op::Run`: starts `command` in a new run session.
pub(crate) async fn run(
    shared: &Arc<Shared>,
    cwd: Option<String>,
    command: Vec<String>,
    timeout_ms: u64,
) -> Result<ReplyBody, OpError> {
    if command.is_empty() {
        return Err(OpError::new(
            ErrorCode::BadInput,
            "run needs a command: `telemux run COMPUTER -- COMMAND...`",
        ));
    }
    let name = format!("run-{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
    let timeout = Duration::from_millis(timeout_ms.max(1));
    let (session, cursor) =
        create(shared, Some(name), cwd, Some(command), None, Some(timeout)).await?;
    Ok(ReplyBody::Created { session, cursor })
}
