//! [`TelegramConfig`]: everything the bot takes from the configuration file.

use std::time::Duration;

use super::outbox::Pace;

/// Everything the bot needs from the configuration.
#[derive(Clone)]
pub struct TelegramConfig {
    /// Bot token (secret; never logged).
    pub token: String,
    /// Bot API base URL, e.g. `https://api.telegram.org`.
    pub api_url: String,
    /// Telegram user ids allowed to do anything.
    pub allowed_users: Vec<i64>,
    /// The forum supergroup where session topics live.
    pub chat_id: Option<i64>,
    /// Lease TTL: how long a dead gateway blocks takeover.
    pub lease_ttl: Duration,
    /// `getUpdates` long-poll timeout.
    pub poll_timeout: Duration,
    /// Call pacing per chat.
    pub pace: Pace,
    /// The speech-to-text program and its arguments for voice notes (the
    /// audio file's path is added last; the text is its stdout); `None`:
    /// voice notes are answered with how to set `telegram.stt_command`.
    pub stt_command: Option<Vec<String>>,
}

impl std::fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("token", &"***")
            .field("api_url", &self.api_url)
            .field("allowed_users", &self.allowed_users)
            .field("chat_id", &self.chat_id)
            .field("stt_command", &self.stt_command)
            .finish()
    }
}

impl TelegramConfig {
    /// Defaults for everything but the token and the users.
    pub fn new(token: String, allowed_users: Vec<i64>) -> TelegramConfig {
        TelegramConfig {
            token,
            api_url: "https://api.telegram.org".into(),
            allowed_users,
            chat_id: None,
            lease_ttl: Duration::from_secs(5),
            poll_timeout: Duration::from_secs(25),
            pace: Pace::default(),
            stt_command: None,
        }
    }
}
