//! Renaming a watched session, done by its watcher so that it is ordered
//! with the records the watcher publishes: everything printed before the
//! rename is under the old key (which then moves), everything after under
//! the new one, and the rename record sits in between.

use telemux_proto::{ErrorCode, MeshEvent, SessionName};

use super::Watcher;
use crate::error::OpError;
use crate::mail_cmd::{ask, MailCmd};

impl Watcher {
    /// Renames the session to `to` for `by`: tmux's session, the output
    /// stream and exit bookkeeping in Redis, the table entry, the inbox.
    /// The caller checked that `to` is free.
    pub(super) async fn rename(
        &mut self,
        to: SessionName,
        over_pointer: bool,
        by: &str,
    ) -> Result<(), OpError> {
        let shared = self.publish.shared.clone();
        let computer = &shared.cfg.computer;
        let from = self.publish.name.clone();
        self.publish.flush().await;
        if self.publish.has_queued() {
            return Err(OpError::new(
                ErrorCode::Internal,
                format!("cannot rename {computer}/{from} while Redis is unreachable (its output could not follow); try again when Redis is back"),
            ));
        }
        // The mailbox leaves the session's messages alone meanwhile: a step
        // that looked the old name up mid-rename would find no such session
        // and dead-letter them, or type into a name tmux no longer has.
        let f = from.to_string();
        let mailbox = ask(&shared.mailbox, |reply| MailCmd::Hold { session: f, reply }).await;
        if mailbox.is_err() {
            tracing::warn!(computer = %computer, session = %from, "the mailbox is gone; queued messages keep the old name");
        }
        let moved = self.move_state(&from, &to, over_pointer).await;
        let f = from.to_string();
        let t = moved.is_ok().then(|| to.to_string());
        if mailbox.is_ok() {
            let _ = ask(&shared.mailbox, |reply| MailCmd::Renamed {
                from: f,
                to: t,
                reply,
            })
            .await;
        }
        moved?;
        if !shared.sessions.rename(&from.key(), self.id, &to) {
            tracing::warn!(computer = %computer, session = %to, %from, "the renamed session's table entry was replaced meanwhile");
        }
        shared
            .sizes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .rename(&from.key(), &to.key());
        self.publish.renamed(to.clone()).await;
        shared.mesh_event(MeshEvent::SessionRenamed {
            computer: computer.to_string(),
            session: to.to_string(),
            renamed_from: from.to_string(),
            by: by.to_string(),
        });
        shared.sessions_changed.notify_one();
        tracing::info!(computer = %computer, session = %to, %from, %by, "session renamed");
        Ok(())
    }

    /// tmux's session, then its Redis state; tmux is renamed back when the
    /// Redis part fails, so name and stream never disagree.
    async fn move_state(
        &self,
        from: &SessionName,
        to: &SessionName,
        over_pointer: bool,
    ) -> Result<(), OpError> {
        let shared = &self.publish.shared;
        let computer = &shared.cfg.computer;
        shared.tmux.rename_session(from, to).await?;
        if from.key() == to.key() {
            return Ok(());
        }
        if let Err(e) = shared
            .bus
            .rename_session_state(computer, from, to, over_pointer)
            .await
        {
            if let Err(undo) = shared.tmux.rename_session(to, from).await {
                tracing::error!(computer = %computer, session = %to, %from, error = %undo, "could not undo a tmux rename whose stream did not move");
            }
            return Err(e.into());
        }
        Ok(())
    }
}
