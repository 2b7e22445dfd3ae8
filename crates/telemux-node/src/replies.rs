//! Answers coming home: a message sent with `reply_to` one of this
//! computer's sessions is answered on the target's computer, whose node
//! publishes `message_answered`; this task reads those events and queues
//! each answer in this node's own mailbox for that session, typed when it is
//! idle (an agent's next prompt; a shell gets it as a `#` comment line).
//! Nodes never talk to each other: the event stream is the only way.
//!
//! The position in the event stream is kept in `state_dir/replies.cursor`,
//! so answers published while this node was down are queued when it is back
//! (within the stream's retention). A reply has the id `re-<message id>`: the
//! mailbox queues an id only once, so a replayed event is not a second reply.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use telemux_bus::{Cursor, EventReader};
use telemux_proto::mailbox::DEFAULT_TTL_MS;
use telemux_proto::{now_ms, Letter, MeshEvent, SessionAddr, When};
use tokio_util::sync::CancellationToken;

use crate::mail_cmd::{ask, MailCmd};
use crate::state::Shared;

/// Where the task's cursor is kept.
fn cursor_file(shared: &Shared) -> PathBuf {
    shared.cfg.state_dir.join("replies.cursor")
}

/// Follows the event stream until `cancel`.
pub(crate) async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    let saved = tokio::fs::read_to_string(cursor_file(&shared))
        .await
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let mut from = match saved {
        Some(id) => Cursor::After(id),
        None => Cursor::End,
    };
    loop {
        let reader = tokio::select! {
            _ = cancel.cancelled() => return,
            r = EventReader::new(&shared.bus, from.clone()) => r,
        };
        let mut reader = match reader {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(computer = %shared.cfg.computer, error = %e, "replies: cannot open the event stream yet");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            let batch = tokio::select! {
                _ = cancel.cancelled() => return,
                b = reader.next_records(Some(Duration::from_secs(5)), 100) => b,
            };
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::debug!(computer = %shared.cfg.computer, error = %e, "replies: reading events failed; reopening");
                    from = Cursor::After(reader.cursor());
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    break;
                }
            };
            if batch.records.is_empty() {
                continue;
            }
            for r in &batch.records {
                if let Some(letter) = reply_for(&shared, &r.event) {
                    queue(&shared, letter).await;
                }
            }
            let cursor = reader.cursor();
            if let Err(e) = tokio::fs::write(cursor_file(&shared), &cursor).await {
                tracing::warn!(computer = %shared.cfg.computer, error = %e, "replies: cannot store the event cursor; a restart may miss answers");
            }
        }
    }
}

/// The letter that brings `ev`'s answer home, when it is one for a
/// session of this computer.
fn reply_for(shared: &Shared, ev: &MeshEvent) -> Option<Letter> {
    let MeshEvent::MessageAnswered {
        computer,
        session,
        message_id,
        answer,
        reply_to: Some(reply_to),
        ..
    } = ev
    else {
        return None;
    };
    let addr = SessionAddr::parse(reply_to).ok()?;
    if addr.computer?.key() != shared.cfg.computer.key() {
        return None;
    }
    let now = now_ms();
    // Typed literally: a newline would be Enter and cut the answer short.
    let one_line = answer.lines().collect::<Vec<_>>().join(" ↵ ");
    Some(Letter {
        id: format!("re-{message_id}"),
        session: addr.session.to_string(),
        text: format!("[answer from {computer}/{session} to message {message_id}] {one_line}"),
        when: When::Idle,
        expires_ms: now + DEFAULT_TTL_MS,
        from: format!("{computer}/{session}"),
        notify: false,
        reply_to: None,
        queued_ms: now,
    })
}

async fn queue(shared: &Arc<Shared>, mut letter: Letter) {
    // A shell is told as a comment, never as a command to run.
    let target = crate::ops::resolve(shared, &letter.session).await;
    if target.is_ok_and(|t| t.agent.is_empty()) {
        letter.text = format!("# {}", letter.text);
    }
    let id = letter.id.clone();
    let by = letter.from.clone();
    let r = ask(&shared.mailbox, |reply| MailCmd::Enqueue {
        letter,
        by,
        reply,
    })
    .await;
    match r {
        Ok(Ok(_)) => {
            tracing::info!(computer = %shared.cfg.computer, message_id = %id, "answer queued for its sender")
        }
        Ok(Err(e)) => {
            tracing::warn!(computer = %shared.cfg.computer, message_id = %id, error = %e.message, "the answer could not be queued for its sender")
        }
        Err(e) => tracing::debug!(error = %e.message, "mailbox gone"),
    }
}
