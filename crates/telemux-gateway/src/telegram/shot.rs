//! `/screenshot` (and the 📷 button): the session's screen as a photo in
//! the chat or topic that asked, and the upload path it shares with `/output`.
//!
//! Telegram takes a photo up to [`MAX_PHOTO_BYTES`] whose sides add up to at
//! most [`MAX_PHOTO_SIDES`] and are at most [`MAX_PHOTO_RATIO`] to one;
//! anything else (a huge or oddly shaped pane) goes as a PNG document
//! instead, which has none of these limits and is not recompressed.

use std::future::Future;
use std::path::PathBuf;

use frankenstein::methods::{SendDocumentParams, SendPhotoParams};
use frankenstein::AsyncTelegramApi;
use telemux_client::Screenshot;

use super::api::ApiError;
use super::bot::{Bot, Here};
use super::error::CommandError;

/// Largest photo `sendPhoto` accepts, in bytes.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// Largest width + height of a photo, in pixels.
pub const MAX_PHOTO_SIDES: u32 = 10_000;
/// Largest ratio of a photo's long side to its short side.
pub const MAX_PHOTO_RATIO: u32 = 20;
/// How often an upload is tried while Telegram answers 429.
const UPLOAD_TRIES: usize = 3;

/// Whether Telegram takes `shot` as a photo (else it is sent as a document).
pub fn fits_as_photo(shot: &Screenshot) -> bool {
    let (w, h) = (shot.width.max(1), shot.height.max(1));
    shot.png.len() <= MAX_PHOTO_BYTES
        && w + h <= MAX_PHOTO_SIDES
        && w.max(h) <= MAX_PHOTO_RATIO * w.min(h)
}

/// Takes a screenshot of `addr` and sends it to `here`.
pub async fn screenshot(bot: &Bot, here: Here, addr: &str) -> Result<(), CommandError> {
    let shot = bot.mesh.screenshot(addr).await?;
    let caption = format!("{}: {}x{} screen", shot.addr(), shot.cols, shot.rows);
    let file = format!("{}_{}.png", shot.computer, shot.session);
    let photo = fits_as_photo(&shot);
    with_file(&file, &shot.png, |path| async move {
        if photo {
            let params = SendPhotoParams::builder()
                .chat_id(here.chat)
                .photo(path)
                .caption(caption)
                .build();
            let params = SendPhotoParams {
                message_thread_id: here.thread,
                ..params
            };
            upload(bot, here, || bot.api.send_photo(&params)).await
        } else {
            let params = SendDocumentParams::builder()
                .chat_id(here.chat)
                .document(path)
                .caption(format!("{caption} (too large for a photo)"))
                .build();
            let params = SendDocumentParams {
                message_thread_id: here.thread,
                ..params
            };
            upload(bot, here, || bot.api.send_document(&params)).await
        }
    })
    .await
}

/// Writes `bytes` as `name` in a fresh temporary directory (the Bot API
/// client uploads files from paths), runs `send` with its path, and removes
/// the directory whatever happened.
pub async fn with_file<F, Fut>(name: &str, bytes: &[u8], send: F) -> Result<(), CommandError>
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: Future<Output = Result<(), CommandError>>,
{
    let dir = std::env::temp_dir().join(format!("telemux-tg-{}", uuid::Uuid::now_v7()));
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(CommandError::File)?;
    let path = dir.join(name);
    let result = match tokio::fs::write(&path, bytes).await {
        Ok(()) => send(path).await,
        Err(e) => Err(CommandError::File(e)),
    };
    let _ = tokio::fs::remove_dir_all(&dir).await;
    result
}

/// One upload through the chat's send budget: waits for its turn, and obeys
/// a 429 by blocking the chat for the time Telegram asked (then tries again).
pub async fn upload<T, F, Fut>(bot: &Bot, here: Here, mut call: F) -> Result<(), CommandError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    for _ in 0..UPLOAD_TRIES {
        bot.outbox.reserve(here.chat).await;
        match call().await {
            Ok(_) => return Ok(()),
            Err(e) => match e.retry_after() {
                Some(d) => bot.outbox.block(here.chat, d),
                None => return Err(CommandError::Api(e)),
            },
        }
    }
    Err(CommandError::RateLimited)
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemux_proto::{ComputerName, SessionName};

    fn shot(bytes: usize, cols: u16, rows: u16) -> Screenshot {
        Screenshot {
            computer: ComputerName::new("RasPi").unwrap(),
            session: SessionName::new("work").unwrap(),
            png: vec![0; bytes],
            width: u32::from(cols) * 9,
            height: u32::from(rows) * 18,
            cols,
            rows,
        }
    }

    #[test]
    fn ordinary_panes_go_as_photos_and_odd_ones_as_documents() {
        assert!(fits_as_photo(&shot(50_000, 80, 24)));
        assert!(fits_as_photo(&shot(900_000, 500, 300)));
        assert!(!fits_as_photo(&shot(MAX_PHOTO_BYTES + 1, 80, 24)));
        // 500 × 1 cells is 4500 × 18 px: 250 to one.
        assert!(!fits_as_photo(&shot(1_000, 500, 1)));
    }
}
