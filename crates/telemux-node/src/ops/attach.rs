//! What `attach` asks of a node: the screen with cursor and modes and the
//! output cursor it belongs to (`Op::Snapshot`), typing bytes as a terminal
//! sent them (`Op::SendBytes`), and the window's size while attached
//! (`Op::Resize`).

use std::sync::Arc;

use telemux_proto::{keys, limits, screen::MAX_ATTACH_CELLS, ErrorCode, ReplyBody};

use super::target::targeted;
use crate::error::OpError;
use crate::sizes::SizeAction;
use crate::state::Shared;

/// `Op::Snapshot`: the stream position first, then the screen, so live
/// output after the position may repeat a little of the screen but never
/// misses any of it.
pub(crate) async fn snapshot(shared: &Arc<Shared>, session: &str) -> Result<ReplyBody, OpError> {
    targeted(shared, session, move |t| async move {
        let key = keys::output(&shared.cfg.computer, &t.session);
        let cursor = shared
            .bus
            .newest_id(&key)
            .await
            .map_err(OpError::from)?
            .unwrap_or_else(|| "0-0".into());
        let mut snap = shared.tmux.pane_screen(&t.session).await?;
        snap.cursor = cursor;
        Ok(ReplyBody::Snapshot(snap))
    })
    .await
}

/// `Op::SendBytes`: types the bytes, in order with other input.
pub(crate) async fn send_bytes(
    shared: &Arc<Shared>,
    session: &str,
    bytes: Vec<u8>,
) -> Result<ReplyBody, OpError> {
    limits::check("input", bytes.len(), limits::MAX_TEXT_BYTES)?;
    let bytes = &bytes;
    targeted(shared, session, move |t| async move {
        let _typing = t.begin_input().await;
        shared.tmux.send_bytes(&t.session, bytes).await?;
        Ok(ReplyBody::Ok)
    })
    .await
}

/// `Op::Resize`: records `client`'s claim (or its release) and sizes the window.
pub(crate) async fn resize(
    shared: &Arc<Shared>,
    session: &str,
    client: &str,
    size: Option<(u16, u16)>,
) -> Result<ReplyBody, OpError> {
    if let Some((w, h)) = size {
        let (max_w, max_h) = MAX_ATTACH_CELLS;
        if w == 0 || h == 0 || w > max_w || h > max_h {
            return Err(OpError::new(
                ErrorCode::BadInput,
                format!("size {w}x{h} refused; allowed: 1x1 to {max_w}x{max_h} cells"),
            ));
        }
    }
    targeted(shared, session, move |t| async move {
        let key = t.session.key();
        let action = match size {
            Some(size) => {
                let current = shared.tmux.window_size(&t.session).await?;
                lock(shared).claim(&key, client, size, current)
            }
            None => lock(shared).release(&key, client),
        };
        match action {
            SizeAction::Resize(w, h) => shared.tmux.resize_window(&t.session, w, h).await?,
            SizeAction::Restore(w, h) => shared.tmux.release_window_size(&t.session, w, h).await?,
            SizeAction::Nothing => {}
        }
        Ok(ReplyBody::Ok)
    })
    .await
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, crate::sizes::SizeClaims> {
    shared.sizes.lock().unwrap_or_else(|p| p.into_inner())
}
