//! Typing into a session: literal text in chunks, bracketed pastes through
//! a tmux buffer, and named keys. Every value goes to tmux as one argv
//! entry, so nothing typed can become a tmux command.

use telemux_proto::{Key, SessionName};

use crate::command::{literal_arg, target, Tmux};
use crate::Result;

/// Largest piece of text handed to one `send-keys` (tmux messages are limited to ~16 KiB).
const SEND_CHUNK_BYTES: usize = 4096;

impl Tmux {
    /// Types `text` literally (`send-keys -l`): nothing in it is a key name.
    ///
    /// A `\n` in the text arrives as a newline keypress, which a shell or a
    /// line-mode program treats as Enter; use [`Tmux::paste_text`] when the
    /// text should arrive as one bracketed paste instead. Large texts are sent
    /// in chunks of a few KiB, split on character boundaries.
    pub async fn send_text(&self, s: &SessionName, text: &str) -> Result<()> {
        let t = target(s);
        for chunk in chunks(text, SEND_CHUNK_BYTES) {
            let chunk = literal_arg(chunk);
            self.run_on(s, &["send-keys", "-l", "-t", &t, "--", &chunk])
                .await?;
        }
        Ok(())
    }

    /// Types `text` literally and then presses Enter, in one tmux call for
    /// a text of one chunk (for a plain shell, which never loses an Enter
    /// that follows typed text closely; see [`Tmux::send_text`]).
    pub async fn send_text_enter(&self, s: &SessionName, text: &str) -> Result<()> {
        let t = target(s);
        let parts = chunks(text, SEND_CHUNK_BYTES);
        let (last, head) = match parts.split_last() {
            Some((last, head)) => (*last, head),
            None => return self.send_enter(s).await,
        };
        for chunk in head {
            let chunk = literal_arg(chunk);
            self.run_on(s, &["send-keys", "-l", "-t", &t, "--", &chunk])
                .await?;
        }
        let last = literal_arg(last);
        let enter = Key::Enter.tmux_name();
        self.run_on(
            s,
            &[
                "send-keys",
                "-l",
                "-t",
                &t,
                "--",
                &last,
                ";",
                "send-keys",
                "-t",
                &t,
                "--",
                &enter,
            ],
        )
        .await
        .map(drop)
    }

    /// Pastes `text` as one bracketed paste (`load-buffer -` + `paste-buffer -p -d`).
    ///
    /// Programs that enable bracketed paste (shells, editors, agent TUIs) see the
    /// whole text at once and do not treat its newlines as Enter; others just
    /// receive the bytes. As with a terminal paste, newlines arrive as `\r`. The
    /// buffer has a per-call name and is deleted after use.
    pub async fn paste_text(&self, s: &SessionName, text: &str) -> Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let buffer = format!("telemux-{}-{}", std::process::id(), next_id());
        self.run_with_input(&["load-buffer", "-b", &buffer, "-"], Some(text.as_bytes()))
            .await?;
        let res = self
            .run_on(
                s,
                &["paste-buffer", "-p", "-d", "-b", &buffer, "-t", &target(s)],
            )
            .await;
        if res.is_err() {
            // The paste failed, so the buffer was not consumed; do not leak it.
            let _ = self.run(&["delete-buffer", "-b", &buffer]).await;
        }
        res.map(|_| ())
    }

    /// Presses Enter once.
    pub async fn send_enter(&self, s: &SessionName) -> Result<()> {
        self.send_keys(s, &[Key::Enter]).await
    }

    /// Presses named keys in order (`C-c` here is an interrupt, unlike in text).
    pub async fn send_keys(&self, s: &SessionName, keys: &[Key]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = keys.iter().map(Key::tmux_name).collect();
        let t = target(s);
        let mut args = vec!["send-keys", "-t", &t, "--"];
        args.extend(names.iter().map(String::as_str));
        self.run_on(s, &args).await?;
        Ok(())
    }
}

/// Splits `text` into pieces of at most `max` bytes on char boundaries.
fn chunks(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (a, b) = rest.split_at(end);
        out.push(a);
        rest = b;
    }
    out
}

/// A process-wide counter for unique buffer names.
fn next_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_char_boundaries() {
        let s = "aé".repeat(3000);
        let parts = chunks(&s, 4096);
        assert!(parts.iter().all(|p| p.len() <= 4096));
        assert_eq!(parts.concat(), s);
        assert!(chunks("", 10).is_empty());
    }
}
