//! `rename`: gives a session a new name. The checks are here (the new name
//! is valid and free on this computer); the rename itself is done by the
//! session's watcher (`crate::session`), ordered with its output.

use std::sync::Arc;

use telemux_proto::{ErrorCode, OutputEvent, ReplyBody, SessionName};
use tokio::sync::oneshot;

use super::target::resolve;
use crate::error::OpError;
use crate::state::Shared;
use crate::watch_cmd::WatchCmd;

/// `Op::Rename` of `session` to `to`, asked for by `by`.
pub(crate) async fn rename(
    shared: &Arc<Shared>,
    session: &str,
    to: &str,
    by: &str,
) -> Result<ReplyBody, OpError> {
    let c = &shared.cfg.computer;
    let to = SessionName::new(to).map_err(|e| {
        OpError::new(
            ErrorCode::BadInput,
            format!("cannot rename {c}/{session} to '{to}': {e}"),
        )
    })?;
    let t = resolve(shared, session).await?;
    let from = t.session.clone();
    if from.as_str() == to.as_str() {
        return Err(OpError::new(
            ErrorCode::BadInput,
            format!("{c}/{from} is called that already"),
        ));
    }
    if shared.tmux.run_deadline(&from).await?.is_some() {
        return Err(OpError::new(
            ErrorCode::BadInput,
            format!("{c}/{from} is a `run` session (it ends with its command); only sessions made with `new` can be renamed"),
        ));
    }
    let same_key = from.key() == to.key();
    // Held until the watcher has moved the entry, so no create takes the name meanwhile.
    let _claim = if same_key {
        None
    } else {
        Some(shared.sessions.claim(&to.key()).ok_or_else(|| {
            OpError::new(
                ErrorCode::Exists,
                format!("a session '{to}' is being created on {c} right now; pick another name"),
            )
        })?)
    };
    let over_pointer = if same_key {
        false
    } else {
        name_is_free(shared, &to).await?
    };
    let control = shared
        .sessions
        .with_handle(&from.key(), |h| h.control.clone())
        .ok_or_else(|| {
            OpError::new(
                ErrorCode::NoSuchSession,
                format!("{c}/{from} is not watched yet (made a moment ago by hand?); try again in a second"),
            )
        })?;
    let (reply, answer) = oneshot::channel();
    let gone = || {
        OpError::new(
            ErrorCode::NoSuchSession,
            format!("{c}/{from} ended before it could be renamed"),
        )
    };
    control
        .send(WatchCmd::Rename {
            to: to.clone(),
            over_pointer,
            by: by.to_string(),
            reply,
        })
        .await
        .map_err(|_| gone())?;
    answer.await.map_err(|_| gone())??;
    Ok(ReplyBody::Renamed {
        from: from.to_string(),
        to: to.to_string(),
    })
}

/// Refuses a name a session has on this computer, or whose output is kept
/// from an ended session; `Ok(true)` when its stream holds only the pointer
/// an earlier rename away from it left (then it is replaced).
async fn name_is_free(shared: &Arc<Shared>, to: &SessionName) -> Result<bool, OpError> {
    let c = &shared.cfg.computer;
    let taken = shared
        .sessions
        .with_handle(&to.key(), |h| h.name.to_string());
    let taken = match taken {
        Some(n) => Some(n),
        None => shared
            .tmux
            .list()
            .await?
            .into_iter()
            .find(|p| p.session.key() == to.key())
            .map(|p| p.session.to_string()),
    };
    if let Some(existing) = taken {
        return Err(OpError::new(
            ErrorCode::Exists,
            format!("a session '{existing}' exists on {c} already; pick another name (or kill {c}/{existing} first)"),
        ));
    }
    let len = shared.bus.output_len(c, to).await?;
    if len == 0 {
        return Ok(false);
    }
    let pointer = match shared.bus.last_output(c, to).await {
        Ok(Some((_, env))) => env
            .open::<telemux_proto::OutputRecord>()
            .is_ok_and(|r| matches!(r.event, OutputEvent::Renamed { pointer: true, .. })),
        _ => false,
    };
    if len == 1 && pointer {
        return Ok(true);
    }
    Err(OpError::new(
        ErrorCode::Exists,
        format!("{c}/{to} still has the output of an ended session of that name (kept for output.retention); `telemux clean {c}` removes it, or pick another name"),
    ))
}
