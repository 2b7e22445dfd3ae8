//! Files between a topic and its session's computer.
//!
//! A document or photo sent into a session's topic is downloaded with
//! `getFile` (at most [`MAX_DOWNLOAD_BYTES`], Telegram's limit for bots; a
//! larger one is refused before anything is fetched) and saved through the
//! mesh as a *new* file in `<session cwd>/.telemux/inbox/` ([`INBOX`]): the
//! name sanitised ([`sanitize`]), photos named `photo-<unix time>.jpg`, an
//! existing file never replaced (the node picks `NAME-1.EXT`, ... atomically,
//! [`telemux_client::Mesh::save_new_file`]). Its path is then typed into the
//! session: into a shell as text without Enter (quoted when it needs to be),
//! to an agent as the prompt `User sent file: PATH`. A cwd outside the node's
//! `files.roots` is refused by the node, and its refusal (naming the roots)
//! is the answer.
//!
//! `/get PATH` sends a file of the session's computer (relative paths are
//! relative to the session's cwd) as a document, at most
//! [`MAX_UPLOAD_BYTES`] (Telegram's limit for bots).

use std::path::PathBuf;
use std::sync::Arc;

use frankenstein::AsyncTelegramApi;
use frankenstein::{methods::GetFileParams, methods::SendDocumentParams, types::Message};
use telemux_client::files::Location;
use telemux_proto::{SessionAddr, SessionInfo};

use super::{
    bot::{Bot, Here},
    error::CommandError,
    html::escape,
    shot, topics,
};

/// Largest file a bot may download (`getFile`), in bytes.
pub const MAX_DOWNLOAD_BYTES: u64 = 20 * 1024 * 1024;
/// Largest file a bot may upload (`sendDocument`), in bytes.
pub const MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;
/// Where files sent into a topic go, relative to the session's cwd.
pub const INBOX: &str = ".telemux/inbox";
/// Longest saved file name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A file name safe on every computer: `[A-Za-z0-9._-]` only (anything
/// else becomes `_`), no leading dots, at most [`MAX_NAME_CHARS`] characters
/// (the extension kept when it is short); `file` when nothing is left.
pub fn sanitize(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.').to_string();
    if clean.is_empty() {
        return "file".into();
    }
    if clean.len() <= MAX_NAME_CHARS {
        return clean;
    }
    match clean.rfind('.') {
        Some(i) if clean.len() - i <= 16 && i > 0 => {
            let ext = &clean[i..];
            format!("{}{ext}", &clean[..MAX_NAME_CHARS - ext.len()])
        }
        _ => clean[..MAX_NAME_CHARS].to_string(),
    }
}

/// `text` as one shell word (quoted only when it has to be).
fn shell_word(text: &str) -> String {
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| text.to_string())
}

/// The session `addr` (`computer/session`) as its computer lists it.
pub async fn session_info(bot: &Bot, addr: &str) -> Result<SessionInfo, CommandError> {
    let (c, s) = bot.mesh.resolve_session(addr).await?;
    bot.mesh
        .sessions(Some(c.as_str()))
        .await?
        .into_iter()
        .find(|i| i.name.eq_ignore_ascii_case(s.as_str()))
        .ok_or(CommandError::TopicWithoutSession)
}

/// The file Telegram holds under `file_id`, downloaded (refused over
/// [`MAX_DOWNLOAD_BYTES`] before it is fetched when the size is known).
pub async fn download(
    bot: &Bot,
    file_id: &str,
    size: Option<u64>,
) -> Result<Vec<u8>, CommandError> {
    let too_big = |n: Option<u64>| CommandError::TooBig {
        what: "download".into(),
        size: n,
        limit: MAX_DOWNLOAD_BYTES,
    };
    if size.is_some_and(|n| n > MAX_DOWNLOAD_BYTES) {
        return Err(too_big(size));
    }
    let params = GetFileParams {
        file_id: file_id.to_string(),
    };
    let file = match bot.api.get_file(&params).await {
        Ok(f) => f.result,
        Err(e) if e.to_string().contains("file is too big") => return Err(too_big(size)),
        Err(e) => return Err(e.into()),
    };
    if file.file_size.is_some_and(|n| n > MAX_DOWNLOAD_BYTES) {
        return Err(too_big(file.file_size));
    }
    let path = file.file_path.ok_or_else(|| {
        CommandError::Usage("Telegram gave no path to download this file from".into())
    })?;
    Ok(bot.api.download(&path, MAX_DOWNLOAD_BYTES).await?)
}

/// Whether `m` carries a file this module saves (a document or a photo).
pub fn is_file(m: &Message) -> bool {
    m.document.is_some() || m.photo.as_ref().is_some_and(|p| !p.is_empty())
}

/// A document or photo sent into topic `addr`'s session: saved on its
/// computer and its path typed into the session.
pub async fn received(
    bot: &Arc<Bot>,
    here: Here,
    addr: &str,
    m: &Message,
) -> Result<(), CommandError> {
    let (file_id, size, name) = if let Some(d) = &m.document {
        let name = sanitize(d.file_name.as_deref().unwrap_or("file"));
        (d.file_id.clone(), d.file_size, name)
    } else if let Some(best) = m.photo.as_ref().and_then(|p| p.last()) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        (
            best.file_id.clone(),
            best.file_size,
            format!("photo-{now}.jpg"),
        )
    } else {
        return Ok(());
    };
    let info = session_info(bot, addr).await?;
    let bytes = download(bot, &file_id, size).await?;
    let n = bytes.len();
    let target = format!("{}/{INBOX}/{name}", info.cwd.trim_end_matches('/'));
    let copied = bot
        .mesh
        .save_new_file(&info.computer, &target, bytes)
        .await?;
    let path = copied
        .dst
        .split_once(':')
        .map(|(_, p)| p.to_string())
        .unwrap_or(copied.dst.clone());
    tracing::info!(session = %addr, path = %path, bytes = n, "saved a file sent into the topic");
    if info.agent.is_some() {
        bot.mesh
            .send_text(addr, &format!("User sent file: {path}"), true)
            .await?;
    } else {
        bot.mesh.send_text(addr, &shell_word(&path), false).await?;
    }
    topics::watch_addressed(bot, here, addr);
    bot.reply(
        here,
        format!("saved <code>{}</code> ({n} bytes)", escape(&path)),
    );
    Ok(())
}

/// `/get PATH`: the file `path` of session `addr`'s computer as a document.
pub async fn get(bot: &Bot, here: Here, addr: &str, path: &str) -> Result<(), CommandError> {
    if path.is_empty() {
        return Err(CommandError::Usage(
            "usage: /get PATH — relative paths are relative to the session's directory".into(),
        ));
    }
    let info = session_info(bot, addr).await?;
    let path = if path.starts_with('/') || path.starts_with('~') {
        path.to_string()
    } else {
        format!("{}/{path}", info.cwd.trim_end_matches('/'))
    };
    let c = bot.mesh.resolve_computer(&info.computer).await?;
    let stat = bot.mesh.stat_file(&c, &path, false).await?;
    if stat.is_dir {
        return Err(CommandError::Usage(format!(
            "{c}:{} is a directory; /get sends one file",
            stat.path
        )));
    }
    if stat.size > MAX_UPLOAD_BYTES {
        return Err(CommandError::TooBig {
            what: "upload".into(),
            size: Some(stat.size),
            limit: MAX_UPLOAD_BYTES,
        });
    }
    let name = sanitize(stat.path.rsplit('/').next().unwrap_or("file"));
    let dir = private_dir().await?;
    let local = dir.join(&name);
    let src = Location::Remote {
        computer: c.to_string(),
        path: stat.path.clone(),
    };
    let result = async {
        let copied = bot
            .mesh
            .copy(&src, &Location::Local(local.clone()), |_| {})
            .await?;
        let params = SendDocumentParams::builder()
            .chat_id(here.chat)
            .document(local.clone())
            .caption(format!("{c}:{} ({} bytes)", stat.path, copied.bytes))
            .build();
        let params = SendDocumentParams {
            message_thread_id: here.thread,
            ..params
        };
        shot::upload(bot, here, || bot.api.send_document(&params)).await
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    result
}

/// A fresh directory only this user may read, in the temporary directory.
pub async fn private_dir() -> Result<PathBuf, CommandError> {
    let dir = std::env::temp_dir().join(format!("telemux-tg-{}", uuid::Uuid::now_v7()));
    let mut b = tokio::fs::DirBuilder::new();
    b.mode(0o700);
    b.create(&dir).await.map_err(CommandError::File)?;
    Ok(dir)
}

/// The session a topic message addresses, or the answer why there is none.
pub async fn topic_session(bot: &Bot, here: Here) -> Result<String, CommandError> {
    match here.thread {
        Some(t) => topics::session_of_thread(bot, t)
            .await
            .filter(|a| SessionAddr::parse(a).is_ok())
            .ok_or(CommandError::TopicWithoutSession),
        None => Err(CommandError::Usage(
            "Send files and voice notes into a session's topic.".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(
            sanitize("report 2024 (final).pdf"),
            "report_2024__final_.pdf"
        );
        assert_eq!(sanitize("../../etc/passwd"), "passwd");
        assert_eq!(sanitize("...hidden"), "hidden");
        assert_eq!(sanitize("..."), "file");
        assert_eq!(sanitize("résumé.txt"), "r_sum_.txt");
        let long = format!("{}.tar.gz", "a".repeat(300));
        let s = sanitize(&long);
        assert_eq!(s.len(), MAX_NAME_CHARS);
        assert!(s.ends_with(".gz"), "{s}");
        assert_eq!(sanitize(&"b".repeat(150)).len(), MAX_NAME_CHARS);
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            shell_word("/home/u/.telemux/inbox/a.txt"),
            "/home/u/.telemux/inbox/a.txt"
        );
        assert_eq!(shell_word("/home/u/my dir/a.txt"), "'/home/u/my dir/a.txt'");
    }
}
