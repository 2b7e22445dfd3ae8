//! Voice notes: transcribed on the gateway's computer by
//! `telegram.stt_command` (e.g. whisper.cpp's CLI), shown back as
//! `🎤 TEXT` with Send / Edit / Cancel, and typed into the topic's session
//! only when Send is pressed.
//!
//! The note is downloaded (at most Telegram's 20 MB for bots) into a fresh
//! directory only this user may read; the command runs with the audio file's
//! path as its last argument, no stdin, for at most [`STT_TIMEOUT`] (then it
//! is killed); its stdout, trimmed, is the text. A non-zero exit or an empty
//! text is answered with the end of its stderr. Transcripts wait in
//! [`super::transcripts::Transcripts`] (bounded) until a button is pressed.

use std::{process::Stdio, sync::Arc, time::Duration};

use frankenstein::types::{CallbackQuery, MaybeInaccessibleMessage, Message};

use super::{
    agents,
    bot::{Bot, Here},
    buttons::{voice_keyboard, VoiceAction},
    error::CommandError,
    files,
    html::escape,
    topics,
    transcripts::Pending,
};

/// Longest a speech-to-text run may take.
pub const STT_TIMEOUT: Duration = Duration::from_secs(120);
/// Characters of stderr quoted when the command fails.
const STDERR_TAIL: usize = 500;

/// The answer to a voice note while `telegram.stt_command` is not set.
pub fn no_stt_help() -> String {
    "🎤 Voice notes need a speech-to-text command on the gateway's computer: set <code>telegram.stt_command</code> \
     (or <code>TELEMUX_TELEGRAM__STT_COMMAND</code>), e.g. <code>stt_command = [\"whisper-cli\", \"-m\", \"/models/ggml-base.en.bin\", \"-nt\", \"-f\"]</code>. \
     The audio file's path is added as the last argument; the text is read from its stdout."
        .into()
}

/// Runs `command` on `audio`: the trimmed stdout, or why there is none.
pub async fn transcribe(
    command: &[String],
    audio: &std::path::Path,
) -> Result<String, CommandError> {
    let Some((program, args)) = command.split_first() else {
        return Err(CommandError::Stt(no_stt_help()));
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        .arg(audio)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            CommandError::Stt(format!(
                "cannot run the speech-to-text command {program}: {e}"
            ))
        })?;
    let out = match tokio::time::timeout(STT_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            return Err(CommandError::Stt(format!(
                "the speech-to-text command {program} failed: {e}"
            )))
        }
        Err(_) => {
            return Err(CommandError::Stt(format!(
                "the speech-to-text command {program} took longer than {} s and was stopped",
                STT_TIMEOUT.as_secs()
            )))
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = {
        let t = stderr.trim_end();
        let skip = t.chars().count().saturating_sub(STDERR_TAIL);
        t.chars().skip(skip).collect()
    };
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        let code = out
            .status
            .code()
            .map_or("a signal".to_string(), |c| format!("exit {c}"));
        return Err(CommandError::Stt(format!(
            "the speech-to-text command {program} failed ({code}): {tail}"
        )));
    }
    if text.is_empty() {
        return Err(CommandError::Stt(format!(
            "the speech-to-text command {program} heard nothing (empty output){}",
            if tail.is_empty() {
                String::new()
            } else {
                format!(": {tail}")
            }
        )));
    }
    Ok(text)
}

/// A voice note in topic `here`: transcribed, then shown with its buttons.
pub async fn received(bot: &Arc<Bot>, here: Here, m: &Message) -> Result<(), CommandError> {
    let Some(voice) = &m.voice else { return Ok(()) };
    let addr = files::topic_session(bot, here).await?;
    let thread = here.thread.ok_or(CommandError::TopicWithoutSession)?;
    let Some(command) = bot.cfg.stt_command.clone().filter(|c| !c.is_empty()) else {
        bot.reply(here, no_stt_help());
        return Ok(());
    };
    let bytes = files::download(bot, &voice.file_id, voice.file_size).await?;
    let dir = files::private_dir().await?;
    let audio = dir.join(format!("voice-{}.ogg", m.message_id));
    let result = async {
        tokio::fs::write(&audio, &bytes)
            .await
            .map_err(CommandError::File)?;
        let started = std::time::Instant::now();
        let text = transcribe(&command, &audio).await;
        tracing::info!(session = %addr, bytes = bytes.len(), ms = started.elapsed().as_millis() as u64, ok = text.is_ok(), "transcribed a voice note");
        text
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    let text = result?;
    bot.transcripts.put(Pending {
        chat: here.chat,
        message: m.message_id,
        thread,
        text: text.clone(),
    });
    bot.outbox.say_with(
        here.chat,
        here.thread,
        format!("🎤 {}", escape(&text)),
        Some(voice_keyboard(thread, m.message_id)),
    );
    Ok(())
}

/// A press on a transcript's button; returns the toast.
pub async fn pressed(
    bot: &Arc<Bot>,
    q: &CallbackQuery,
    thread: i32,
    message: i32,
    action: VoiceAction,
) -> Result<String, CommandError> {
    let Some(MaybeInaccessibleMessage::Message(shown)) = &q.message else {
        return Err(CommandError::TopicWithoutSession);
    };
    let chat = shown.chat.id;
    let Some(p) = bot.transcripts.take(chat, message) else {
        return Ok("This transcript is gone (sent, cancelled, or the gateway restarted); send the voice note again.".into());
    };
    let heard = format!("🎤 {}", escape(&p.text));
    let (toast, html) = match action {
        VoiceAction::Send => {
            let addr = topics::session_of_thread(bot, thread)
                .await
                .ok_or(CommandError::TopicWithoutSession)?;
            if let Err(e) = bot.mesh.send_text(&addr, &p.text, true).await {
                // Not sent: keep it, so Send can be pressed again.
                bot.transcripts.put(p);
                return Err(e.into());
            }
            topics::watch_addressed(
                bot,
                Here {
                    chat,
                    thread: Some(thread),
                },
                &addr,
            );
            (format!("sent → {addr}"), format!("{heard}\n✅ sent"))
        }
        VoiceAction::Edit => (
            "send the corrected text as a message".to_string(),
            format!("{heard}\n✏️ <i>send the corrected text as a message</i>"),
        ),
        VoiceAction::Cancel => ("cancelled".to_string(), format!("{heard}\n✖️ cancelled")),
    };
    agents::edit_pressed(bot, q, html).await;
    Ok(toast)
}

/// `telegram.stt_command` as configured: a TOML array as is, one string
/// split like a shell would (`None` when it does not split, e.g. an open quote).
pub fn split_command(s: &str) -> Option<Vec<String>> {
    shlex::split(s).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            split_command("whisper-cli -m '/m/ggml base.bin' -nt -f"),
            Some(vec![
                "whisper-cli".into(),
                "-m".into(),
                "/m/ggml base.bin".into(),
                "-nt".into(),
                "-f".into()
            ])
        );
        assert_eq!(split_command("  "), None);
        assert_eq!(split_command("a 'b"), None);
    }

    #[tokio::test]
    async fn stdout_is_the_text_and_failures_quote_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("a.ogg");
        std::fs::write(&audio, b"1234").unwrap();
        let sh = |script: &str| vec!["sh".to_string(), "-c".into(), script.into(), "stt".into()];
        let t = transcribe(&sh("echo \"  heard $(wc -c < \"$1\")  \""), &audio)
            .await
            .unwrap();
        assert_eq!(t, "heard 4");
        let e = transcribe(&sh("echo model missing >&2; exit 3"), &audio)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("exit 3") && e.contains("model missing"), "{e}");
        let e = transcribe(&sh("true"), &audio)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("heard nothing"), "{e}");
        let e = transcribe(&["/no/such/stt".to_string()], &audio)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot run"), "{e}");
    }
}
