//! `clean`: removes this node's exited sessions (dead panes kept by
//! `remain-on-exit`; each killed as `kill` does, with its event) and the
//! output streams of sessions that no longer exist here (not listed by
//! tmux, not being created). With `dry_run` it only says what would go.
//! Each session removed is a `session_cleaned` event.

use std::collections::HashSet;
use std::sync::Arc;

use telemux_proto::{MeshEvent, ReplyBody, SessionName};

use crate::error::OpError;
use crate::state::Shared;

/// `Op::Clean`, asked for by `by`.
pub(crate) async fn clean(
    shared: &Arc<Shared>,
    dry_run: bool,
    by: &str,
) -> Result<ReplyBody, OpError> {
    let c = &shared.cfg.computer;
    let panes = shared.tmux.list().await?;
    let present: HashSet<String> = panes
        .iter()
        .map(|p| p.session.key())
        .chain(shared.sessions.claimed())
        .collect();
    let mut exited: Vec<SessionName> = panes
        .iter()
        .filter(|p| p.dead)
        .map(|p| p.session.clone())
        .collect();
    exited.sort_by_key(|s| s.key());
    let leftover: Vec<SessionName> = shared
        .bus
        .output_sessions(c)
        .await?
        .into_iter()
        .filter(|s| !present.contains(s))
        .filter_map(|s| SessionName::new(&s).ok())
        .collect();
    if !dry_run {
        for s in &exited {
            match shared.tmux.kill_session(s).await {
                Ok(()) => {
                    shared.mesh_event(MeshEvent::SessionKilled {
                        computer: c.to_string(),
                        session: s.to_string(),
                        by: by.to_string(),
                    });
                    shared.mesh_event(MeshEvent::SessionCleaned {
                        computer: c.to_string(),
                        session: s.to_string(),
                        by: by.to_string(),
                    });
                }
                // Gone meanwhile: nothing left to remove.
                Err(telemux_tmux::TmuxError::NoSession(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        for s in &leftover {
            shared.bus.delete_output(c, s).await?;
            shared.mesh_event(MeshEvent::SessionCleaned {
                computer: c.to_string(),
                session: s.to_string(),
                by: by.to_string(),
            });
        }
    }
    Ok(ReplyBody::Cleaned {
        sessions: exited.iter().map(|s| s.to_string()).collect(),
        streams: leftover.iter().map(|s| s.to_string()).collect(),
        dry_run,
    })
}
