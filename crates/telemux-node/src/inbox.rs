//! The inbox: reads the computer's command stream and takes each request
//! through the checks a command must pass before it runs ([`admit`]:
//! decodes, signature, replay, taken-once), then runs it, replies and acks.
//!
//! Each command is taken at most once, executed, answered and then
//! acknowledged, so a crash mid-way re-delivers it to the restarted node,
//! which skips what it already took.

use std::sync::Arc;
use std::time::Duration;

use telemux_bus::{CommandReader, Incoming};
use telemux_proto::{now_ms, Envelope, ErrorCode, Reply, ReplyBody, Request};
use tokio_util::sync::CancellationToken;

use crate::error::NodeError;
use crate::ops;
use crate::replay_store::{AcceptedCommands, Admission};
use crate::state::Shared;

/// Reads requests until cancelled and handles each in turn.
pub(crate) async fn command_loop(
    shared: &Arc<Shared>,
    cancel: &CancellationToken,
) -> Result<(), NodeError> {
    let computer = &shared.cfg.computer;
    let mut reader = CommandReader::new(&shared.bus, computer);
    // Accepted command ids, on disk: replays are refused across restarts (replay_store.rs).
    let mut replays = AcceptedCommands::open(&shared.cfg.state_dir, shared.cfg.max_skew).await?;
    loop {
        let incoming = match reader.next(cancel).await {
            Ok(Some(i)) => i,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(computer = %computer, error = %e, "command stream read failed; retrying");
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
        };
        handle(shared, &reader, &mut replays, incoming).await;
    }
}

/// Runs one admitted command and answers it; see [`admit`] for the checks.
async fn handle(
    shared: &Arc<Shared>,
    reader: &CommandReader,
    replays: &mut AcceptedCommands,
    incoming: Incoming,
) {
    let computer = &shared.cfg.computer;
    let Some(Admitted { entry_id, env, req }) = admit(shared, reader, replays, incoming).await
    else {
        return;
    };
    let result = if req.deadline_ms != 0 && req.deadline_ms < now_ms() {
        ReplyBody::Error {
            code: ErrorCode::Internal,
            message: format!("request expired before {computer} could run it"),
        }
    } else {
        tracing::debug!(computer = %computer, op = ?req.op, "executing");
        match ops::execute(shared, req.op, &env.from).await {
            Ok(body) => body,
            Err(e) => e.into_reply(),
        }
    };
    if !req.reply_to.is_empty() {
        let reply = Reply {
            request_id: env.id,
            result,
        };
        match Envelope::seal(computer.as_str(), &reply) {
            Ok(renv) => {
                if let Err(e) = shared.bus.reply(&req.reply_to, &renv).await {
                    tracing::warn!(computer = %computer, error = %e, "could not send reply");
                }
            }
            Err(e) => tracing::error!(error = %e, "could not encode reply"),
        }
    }
    if let Err(e) = reader.ack(&entry_id).await {
        tracing::warn!(computer = %computer, error = %e, "ack failed; the command stays taken");
    }
}

/// The checks a command entry must pass before it runs: it decodes, its
/// signature and freshness verify and it is no replay (when the mesh has a
/// key), and this node has not taken it before. Refused entries are
/// dead-lettered (and the requester told, when it can be); `None` means
/// "do not run it" — everything about it is handled here.
async fn admit(
    shared: &Arc<Shared>,
    reader: &CommandReader,
    replays: &mut AcceptedCommands,
    incoming: Incoming,
) -> Option<Admitted> {
    let computer = &shared.cfg.computer;
    let stream = telemux_proto::keys::commands(computer);
    let entry = incoming.entry_id.clone();
    let raw = incoming.raw.clone();
    let refuse = |reason: String| async move {
        tracing::warn!(computer = %computer, entry = %entry, %reason, "refusing command entry; dead-lettered");
        if let Err(e) = reader
            .dead_letter(&stream, &entry, &reason, raw.as_deref())
            .await
        {
            tracing::warn!(computer = %computer, error = %e, "dead-letter failed");
        }
    };
    let env = match incoming.envelope {
        Ok(env) => env,
        Err(e) => {
            refuse(e.to_string()).await;
            return None;
        }
    };
    let req = match env.open::<Request>() {
        Ok(r) => r,
        Err(e) => {
            refuse(e.to_string()).await;
            return None;
        }
    };
    // Signature, target computer and the durable replay record (replay_store.rs).
    let key = shared.cfg.mesh_key.as_ref();
    let checked = match replays
        .admit(key, computer, &env, &req, &incoming.entry_id)
        .await
    {
        Admission::Run => Ok(()),
        Admission::Redelivered => {
            tracing::info!(computer = %computer, id = %env.id, "command accepted before a restart; not running it twice");
            let _ = reader.ack(&incoming.entry_id).await;
            return None;
        }
        Admission::Refused(e) => Err(e),
    };
    if let Err(e) = checked {
        tracing::warn!(computer = %computer, from = %env.from, id = %env.id, error = %e, "refused command");
        if !req.reply_to.is_empty() {
            let reply = Reply {
                request_id: env.id,
                result: ReplyBody::Error {
                    code: ErrorCode::BadInput,
                    message: format!("{computer} refused the command: {e}"),
                },
            };
            if let Ok(renv) = Envelope::seal(computer.as_str(), &reply) {
                let _ = shared.bus.reply(&req.reply_to, &renv).await;
            }
        }
        refuse(e.to_string()).await;
        return None;
    }
    match reader.try_take(&env.id).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(computer = %computer, id = %env.id, "command already taken before a restart; not running it twice");
            let _ = reader.ack(&incoming.entry_id).await;
            return None;
        }
        Err(e) => {
            // Leave it pending: it is re-read after Redis or the node comes back.
            tracing::warn!(computer = %computer, error = %e, "could not mark command taken");
            return None;
        }
    }
    Some(Admitted {
        entry_id: incoming.entry_id,
        env,
        req,
    })
}

/// A command entry that passed [`admit`].
struct Admitted {
    /// Its stream id, to ack once answered.
    entry_id: String,
    env: Envelope,
    req: Request,
}
