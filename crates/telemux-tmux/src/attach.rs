//! What `attach` asks of tmux: typing bytes exactly as a terminal sent them,
//! the screen with cursor and modes, and the window's size while a remote
//! terminal is attached.

use telemux_proto::{SessionName, Snapshot};

use crate::command::{literal_arg, target};
use crate::{Result, Tmux, TmuxError};

/// Bytes typed per tmux call: each ASCII byte is one `send-keys -H` argument,
/// and tmux refuses over-long command lines.
const BYTES_PER_CALL: usize = 1024;

/// The tmux commands that type `bytes`: ASCII (control characters and
/// escape sequences included) as `send-keys -H`, one hex key per byte, so
/// nothing is read as a key name; other characters as `send-keys -l`, since
/// `-H` takes one byte per key and would mangle UTF-8. Invalid UTF-8 is dropped.
pub fn send_bytes_args(s: &SessionName, bytes: &[u8]) -> Vec<String> {
    let t = target(s);
    let mut args: Vec<String> = Vec::new();
    let mut hex: Vec<String> = Vec::new();
    let flush_hex = |args: &mut Vec<String>, hex: &mut Vec<String>| {
        if hex.is_empty() {
            return;
        }
        if !args.is_empty() {
            args.push(";".into());
        }
        args.extend(["send-keys".into(), "-t".into(), t.clone(), "-H".into()]);
        args.append(hex);
    };
    for chunk in bytes.utf8_chunks() {
        let mut text = String::new();
        for ch in chunk.valid().chars() {
            if ch.is_ascii() {
                if !text.is_empty() {
                    push_literal(&mut args, &t, &std::mem::take(&mut text));
                }
                hex.push(format!("{:02x}", ch as u8));
            } else {
                flush_hex(&mut args, &mut hex);
                text.push(ch);
            }
        }
        if !text.is_empty() {
            push_literal(&mut args, &t, &text);
        }
    }
    flush_hex(&mut args, &mut hex);
    args
}

fn push_literal(args: &mut Vec<String>, t: &str, text: &str) {
    if !args.is_empty() {
        args.push(";".into());
    }
    args.extend(
        ["send-keys", "-t", t, "-l", "--"]
            .into_iter()
            .map(String::from)
            .chain([literal_arg(text)]),
    );
}

fn num(v: Option<&str>) -> Result<u16> {
    v.and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| TmuxError::Parse(format!("pane geometry: {v:?}")))
}

impl Tmux {
    /// The command that attaches this terminal to session `s` the plain tmux
    /// way (for a session on this very computer), as argv after `tmux`.
    pub fn attach_argv(&self, s: &SessionName) -> Vec<String> {
        ["-L", self.socket(), "attach-session", "-t", &target(s)]
            .map(String::from)
            .to_vec()
    }

    /// Types `bytes` into session `s` as a terminal would send them.
    pub async fn send_bytes(&self, s: &SessionName, bytes: &[u8]) -> Result<()> {
        for part in bytes.chunks(BYTES_PER_CALL) {
            let args = send_bytes_args(s, part);
            if args.is_empty() {
                continue;
            }
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            self.run_on(s, &argv).await?;
        }
        Ok(())
    }

    /// The pane's screen, cursor, size and modes; `cursor` (the output
    /// stream position, which tmux does not know) is left empty.
    pub async fn pane_screen(&self, s: &SessionName) -> Result<Snapshot> {
        let t = target(s);
        let fmt =
            "#{cursor_x} #{cursor_y} #{pane_width} #{pane_height} #{cursor_flag} #{alternate_on}";
        let out = self
            .run_on(
                s,
                &[
                    "display",
                    "-p",
                    "-t",
                    &t,
                    fmt,
                    ";",
                    "capture-pane",
                    "-p",
                    "-e",
                    "-t",
                    &t,
                ],
            )
            .await?;
        let (head, screen) = out.split_once('\n').unwrap_or((&out, ""));
        let mut f = head.split(' ');
        let (cursor_x, cursor_y, width, height) = (
            num(f.next())?,
            num(f.next())?,
            num(f.next())?,
            num(f.next())?,
        );
        let cursor_visible = f.next() == Some("1");
        let alternate = f.next() == Some("1");
        let saved = if alternate {
            let under = self
                .run_on(s, &["capture-pane", "-p", "-e", "-a", "-t", &t])
                .await;
            // The program may have left the alternate screen meanwhile.
            under.ok()
        } else {
            None
        };
        Ok(Snapshot {
            screen: screen.strip_suffix('\n').unwrap_or(screen).to_string(),
            saved: saved.map(|u| u.strip_suffix('\n').unwrap_or(&u).to_string()),
            width,
            height,
            cursor_x,
            cursor_y,
            cursor_visible,
            alternate,
            cursor: String::new(),
        })
    }

    /// The size of session `s`'s window (its one pane), in cells.
    pub async fn window_size(&self, s: &SessionName) -> Result<(u16, u16)> {
        let out = self
            .run_on(
                s,
                &[
                    "display",
                    "-p",
                    "-t",
                    &target(s),
                    "#{window_width} #{window_height}",
                ],
            )
            .await?;
        let mut f = out.trim().split(' ');
        Ok((num(f.next())?, num(f.next())?))
    }

    /// Gives session `s`'s window a fixed size (an attached terminal's).
    pub async fn resize_window(&self, s: &SessionName, width: u16, height: u16) -> Result<()> {
        let (w, h) = (width.max(1).to_string(), height.max(1).to_string());
        self.run_on(s, &["resize-window", "-t", &target(s), "-x", &w, "-y", &h])
            .await
            .map(drop)
    }

    /// Gives the window back the size it had and lets tmux size it again
    /// (`window-size` unset), once no remote terminal is attached.
    pub async fn release_window_size(
        &self,
        s: &SessionName,
        width: u16,
        height: u16,
    ) -> Result<()> {
        let t = target(s);
        let (w, h) = (width.max(1).to_string(), height.max(1).to_string());
        self.run_on(
            s,
            &[
                "resize-window",
                "-t",
                &t,
                "-x",
                &w,
                "-y",
                &h,
                ";",
                "set",
                "-w",
                "-u",
                "-t",
                &t,
                "window-size",
            ],
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_goes_as_hex_and_utf8_as_literal_text() {
        let s = SessionName::new("api").unwrap();
        let args = send_bytes_args(&s, "a\x1b[A\u{e9}t;".as_bytes());
        assert_eq!(
            args,
            [
                "send-keys",
                "-t",
                "=api:",
                "-H",
                "61",
                "1b",
                "5b",
                "41",
                ";",
                "send-keys",
                "-t",
                "=api:",
                "-l",
                "--",
                "\u{e9}",
                ";",
                "send-keys",
                "-t",
                "=api:",
                "-H",
                "74",
                "3b",
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_dropped_not_sent() {
        let s = SessionName::new("api").unwrap();
        let args = send_bytes_args(&s, b"\xffx");
        assert_eq!(args, ["send-keys", "-t", "=api:", "-H", "78"]);
    }
}
