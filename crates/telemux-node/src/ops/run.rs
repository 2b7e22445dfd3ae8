//! `run`: a command in a fresh `run-…` session that is killed once it
//! exits (or times out). Its stdin is the bytes sent with the request, or
//! `/dev/null`; never the pane's terminal (see [`crate::run_stdin`]).

use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{limits, ErrorCode, ReplyBody};

use super::create::{create, Launch};
use crate::error::OpError;
use crate::run_stdin::Stdin;
use crate::state::Shared;

/// `Op::Run`: starts `command` in a new run session reading `stdin` (or
/// `/dev/null` when none was sent).
pub(crate) async fn run(
    shared: &Arc<Shared>,
    cwd: Option<String>,
    command: Vec<String>,
    timeout_ms: u64,
    stdin: Option<Vec<u8>>,
    by: &str,
) -> Result<ReplyBody, OpError> {
    if command.is_empty() {
        return Err(OpError::new(
            ErrorCode::BadInput,
            "run needs a command: `telemux run COMPUTER -- COMMAND...`",
        ));
    }
    let stdin = match stdin {
        Some(bytes) => {
            limits::check("run stdin", bytes.len(), limits::MAX_STDIN_BYTES)?;
            Stdin::Bytes(bytes)
        }
        None => Stdin::Null,
    };
    let name = format!("run-{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
    let timeout = Duration::from_millis(timeout_ms.max(1));
    let launch = Launch {
        stdin,
        run_timeout: Some(timeout),
        resume: false,
        by: by.to_string(),
    };
    let (session, cursor) = create(shared, Some(name), cwd, Some(command), None, launch).await?;
    Ok(ReplyBody::Created { session, cursor })
}
