//! A fake Telegram Bot API server, and a `telemux gateway` process guard.
//!
//! Telegram cannot be reached from CI, so [`FakeTelegram`] serves the parts of
//! the Bot API the gateway uses on `127.0.0.1:0`, with the real JSON shapes
//! (`ok`/`result`, `ok:false` + `error_code` + `description` +
//! `parameters.retry_after`) and the real failure modes: `getUpdates` long
//! polling with offsets (a second overlapping poller makes the older one get
//! 409 Conflict), 400 "message is not modified" for identical edits, 400
//! "message is too long" above 4096 UTF-16 units after entity parsing, 400
//! "can't parse entities" for broken HTML, and 429 with `retry_after` when a
//! test-configured rate is exceeded. Uploads (`sendDocument`, `sendPhoto`,
//! multipart) are kept with their bytes. Every call is recorded; a call made
//! while a 429's `retry_after` is still running is recorded as a violation.
//! Tests inject updates: messages from any user, in a forum topic
//! (`message_thread_id`), and callback queries.

mod control;
mod fake;
mod gateway;
mod wire;

pub use fake::{Call, Document, FakeTelegram, StoredMessage, BOT_ID, LIMIT};
pub use gateway::GatewayProcess;
pub use wire::parse_html;
