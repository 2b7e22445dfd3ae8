//! `/queue TEXT` and `/rename NEW` in a session's topic (or with the session
//! as first argument elsewhere). `/queue` puts the text in the session's
//! mailbox (typed when it is ready: an agent idle, a shell at its prompt)
//! with `notify`, and posts the answer of the turn it started — or that it
//! expired or was given up — into the chat it came from. The wait is a task
//! of the bot, bounded by the message's time-to-live; a gateway restart ends
//! it (the message itself is in the node's mailbox and is still delivered).

use std::sync::Arc;
use std::time::Duration;

use telemux_client::{MeshError, Message};
use telemux_proto::When;

use super::{bot::Bot, bot::Here, error::CommandError, html::escape};

/// Longest answer posted, in characters (the message limit is 4096 UTF-16 units).
const MAX_POSTED: usize = 3000;
/// How long a queued message may wait for its target (the mailbox default).
const TTL: Duration = Duration::from_secs(3600);

/// Queues `text` for `addr` and answers in `here` when it is done.
pub async fn queue(bot: &Arc<Bot>, here: Here, addr: &str, text: &str) -> Result<(), CommandError> {
    if text.trim().is_empty() {
        return Err(CommandError::Usage(
            "usage: /queue TEXT — typed into the session when it is ready; its answer is posted here".into(),
        ));
    }
    let mut sent = bot
        .mesh
        .send_message(Message {
            session: addr.to_string(),
            text: text.to_string(),
            when: When::Ready,
            ttl: Some(TTL),
            from: Some("telegram".into()),
            notify: true,
            reply_to: None,
        })
        .await?;
    let target = format!("{}/{}", sent.computer, sent.delivery.letter.session);
    let id = sent.delivery.letter.id.clone();
    bot.reply(
        here,
        format!(
            "📬 Queued for <b>{}</b> (message <code>{}</code>): typed when it is ready; its answer comes here.",
            escape(&target),
            escape(&id)
        ),
    );
    let bot2 = bot.clone();
    bot.tracker.spawn(async move {
        let answer = tokio::select! {
            _ = bot2.cancel.cancelled() => return,
            a = sent.answer(TTL + Duration::from_secs(60)) => a,
        };
        let html = match answer {
            Ok(a) => {
                let text: String = a.text.trim().chars().take(MAX_POSTED).collect();
                format!(
                    "💬 <b>{}</b> answered your queued message:\n<blockquote expandable>{}</blockquote>",
                    escape(&target),
                    escape(&text)
                )
            }
            Err(MeshError::Timeout(why)) => format!("⏰ {}", escape(&why)),
            Err(e) => format!("⚠️ {}", escape(&e.to_string())),
        };
        bot2.reply(here, html);
    });
    Ok(())
}

/// Renames `addr` to `new_name`; its topic follows (retitled by the watcher).
pub async fn rename(bot: &Bot, here: Here, addr: &str, new_name: &str) -> Result<(), CommandError> {
    if new_name.trim().is_empty() {
        return Err(CommandError::Usage("usage: /rename NEW_NAME".into()));
    }
    let r = bot.mesh.rename(addr, new_name.trim()).await?;
    bot.reply(
        here,
        format!(
            "Renamed <b>{}</b> to <b>{}</b>.",
            escape(&format!("{}/{}", r.computer, r.from)),
            escape(&format!("{}/{}", r.computer, r.to))
        ),
    );
    Ok(())
}
