//! [`Tmux`]: one tmux server (`tmux -L <socket>`) driven by running tmux commands.
//!
//! Every tmux invocation is a `tokio::process` child with its arguments as separate
//! argv entries — never a shell string — so session names and user text cannot
//! turn into commands. Panes are targeted as `=NAME:` (exact session match; a
//! bare `=NAME` does not resolve for pane targets in tmux 3.3a).
//!
//! tmux still parses its argv in two ways that matter for untrusted values:
//! an argument ending in `;` ends the tmux command (the rest would run as
//! further tmux commands), and `new-session -c` expands `#{...}` formats. Every
//! user-supplied value therefore goes through [`literal_arg`] (and `-c` through
//! [`literal_format`]); both were checked against tmux 3.3a in the tests.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use telemux_proto::SessionName;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::format::{self, ExitRecord, PaneInfo, PANE_FORMAT};
use crate::{Result, TmuxError};

/// The tmux `wait-for` channel that pane deaths and shell hooks signal.
pub const WAKE_CHANNEL: &str = "telemux-wake";

/// Most options unset by one tmux invocation in [`Tmux::clear_exit_records`].
const UNSET_BATCH: usize = 64;

/// Attempts of [`Tmux::pane_status`] at a session that exists but answers
/// with empty fields (it is being killed), and the pause between them.
const STATUS_TRIES: u32 = 3;
const STATUS_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

/// Returns the version line of the tmux on PATH, e.g. `tmux 3.3a`.
pub async fn tmux_version() -> Result<String> {
    let out = Command::new("tmux")
        .arg("-V")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(TmuxError::Spawn)?;
    if !out.status.success() {
        return Err(TmuxError::Command {
            subcommand: "-V".into(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// What [`Tmux::new_session`] should start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Session name (already validated, so it is safe as a tmux target).
    pub name: SessionName,
    /// Working directory; `None` uses tmux's default (the server's cwd).
    pub cwd: Option<PathBuf>,
    /// Program and arguments; `None` starts the default shell. As in tmux (and
    /// ssh), a single element is run by `sh -c`, several are exec'd directly.
    pub command: Option<Vec<String>>,
    /// Extra environment for the pane's process.
    pub env: Vec<(String, String)>,
    /// Window width in cells.
    pub width: u16,
    /// Window height in cells.
    pub height: u16,
}

/// Handle on one tmux server; cheap to clone and share between tasks.
#[derive(Debug, Clone)]
pub struct Tmux {
    socket: Arc<str>,
}

impl Tmux {
    /// A driver for the server on socket name `socket` (`tmux -L socket`).
    pub fn new(socket: &str) -> Tmux {
        Tmux {
            socket: socket.into(),
        }
    }

    /// The socket name this driver talks to.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// A `tmux -L socket` command, detached from any tmux the node itself runs in.
    pub(crate) fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-L")
            .arg(&*self.socket)
            // Inherited $TMUX would make tmux refuse or pick the wrong server.
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .kill_on_drop(true);
        cmd
    }

    /// Runs `tmux -L socket ARGS...` and returns stdout.
    pub async fn run(&self, args: &[&str]) -> Result<String> {
        self.run_with_input(args, None).await
    }

    /// Like [`Tmux::run`], feeding `input` on stdin (for `load-buffer -`).
    pub(crate) async fn run_with_input(
        &self,
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Result<String> {
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(TmuxError::Spawn)?;
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(data).await.map_err(|e| TmuxError::Io {
                what: "writing to tmux".into(),
                source: e,
            })?;
        }
        let out = child.wait_with_output().await.map_err(TmuxError::Spawn)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(TmuxError::Command {
                subcommand: args.first().copied().unwrap_or("").to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    /// Runs a command aimed at session `s`, mapping "can't find" to [`TmuxError::NoSession`].
    pub(crate) async fn run_on(&self, s: &SessionName, args: &[&str]) -> Result<String> {
        self.run(args)
            .await
            .map_err(|e| missing_as_no_session(e, s))
    }

    /// Creates a detached session; [`TmuxError::Exists`] if the name is taken.
    pub async fn new_session(&self, spec: &NewSession) -> Result<()> {
        let name = spec.name.as_str();
        if let Some(dir) = &spec.cwd {
            // tmux 3.3a silently falls back to another directory for a bad -c.
            check_dir(dir).await?;
        }
        let (w, h) = (
            spec.width.max(1).to_string(),
            spec.height.max(1).to_string(),
        );
        // The server set-up goes first in the same tmux call, so a session
        // is never made on a bare server (one that tmux started after the
        // node's server died) without exit-empty, remain-on-exit and the hook.
        let mut args: Vec<String> = crate::setup::setup_args();
        args.push(";".into());
        args.extend([
            "new-session".into(),
            "-d".into(),
            "-s".into(),
            name.into(),
            "-x".into(),
            w,
            "-y".into(),
            h,
        ]);
        if let Some(dir) = &spec.cwd {
            args.push("-c".into());
            args.push(literal_arg(&literal_format(&dir.to_string_lossy())));
        }
        for (k, v) in &spec.env {
            args.push("-e".into());
            args.push(literal_arg(&format!("{k}={v}")));
        }
        if let Some(argv) = spec.command.as_ref().filter(|a| !a.is_empty()) {
            args.push("--".into());
            args.extend(argv.iter().map(|a| literal_arg(a)));
        }
        let target = target(&spec.name);
        args.extend([";", "set", "-w", "-t", &target, "remain-on-exit", "on"].map(String::from));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        match self.run(&argv).await {
            Ok(_) => Ok(()),
            Err(TmuxError::Command { stderr, .. }) if stderr.contains("duplicate session") => {
                Err(TmuxError::Exists(name.to_string()))
            }
            Err(e) => Err(e),
        }
    }

    /// Replaces the process in session `s`'s pane (`respawn-pane -k`), killing the old one.
    ///
    /// Lets a caller create a session running a placeholder, attach a
    /// [`crate::ControlClient`], and only then start the real command, so none
    /// of its output is missed. `argv` follows [`NewSession::command`] rules.
    pub async fn respawn(
        &self,
        s: &SessionName,
        cwd: Option<&Path>,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<()> {
        let mut args: Vec<String> = vec!["respawn-pane".into(), "-k".into()];
        args.extend(["-t".into(), target(s)]);
        if let Some(dir) = cwd {
            check_dir(dir).await?;
            args.push("-c".into());
            args.push(literal_arg(&literal_format(&dir.to_string_lossy())));
        }
        for (k, v) in env {
            args.push("-e".into());
            args.push(literal_arg(&format!("{k}={v}")));
        }
        if !argv.is_empty() {
            args.push("--".into());
            args.extend(argv.iter().map(|a| literal_arg(a)));
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run_on(s, &argv).await.map(|_| ())
    }

    /// One entry per session (its active pane); no server running → empty list.
    pub async fn list(&self) -> Result<Vec<PaneInfo>> {
        let mut panes = self.list_once().await?;
        if panes.iter().any(unreaped) {
            self.reap().await?;
            panes = self.list_once().await?;
        }
        Ok(panes)
    }

    /// [`Tmux::list`] without the reaping retry.
    async fn list_once(&self) -> Result<Vec<PaneInfo>> {
        match self.run(&["list-panes", "-a", "-F", PANE_FORMAT]).await {
            Ok(out) => Ok(format::first_per_session(format::parse_panes(&out)?)),
            // A server kept alive by `exit-empty off` with no sessions left
            // answers "no current target".
            Err(TmuxError::Command { stderr, .. })
                if TmuxError::is_no_server(&stderr) || stderr.contains("no current target") =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// Status of one session's active pane.
    pub async fn pane_status(&self, s: &SessionName) -> Result<PaneInfo> {
        let p = self.pane_status_once(s).await?;
        if unreaped(&p) {
            self.reap().await?;
            return self.pane_status_once(s).await;
        }
        Ok(p)
    }

    /// [`Tmux::pane_status`] without the reaping retry.
    ///
    /// While a session is being killed, `display-message` may still resolve
    /// it and print every field empty instead of failing. Such an answer is
    /// checked with `has-session`: a session that is gone is
    /// [`TmuxError::NoSession`] (its normal end, not a parse failure); one
    /// still there is asked again a few times before the answer counts as
    /// unparseable.
    async fn pane_status_once(&self, s: &SessionName) -> Result<PaneInfo> {
        let mut tries = 0;
        loop {
            let out = self
                .run_on(s, &["display-message", "-p", "-t", &target(s), PANE_FORMAT])
                .await?;
            let err = match format::parse_panes(&out) {
                Ok(panes) => match panes.into_iter().next() {
                    Some(p) => return Ok(p),
                    None => TmuxError::Parse(format!("no pane status for {s}: {out:?}")),
                },
                Err(e) => e,
            };
            if !self.has_session(s).await? {
                return Err(TmuxError::NoSession(s.to_string()));
            }
            tries += 1;
            if tries >= STATUS_TRIES {
                return Err(err);
            }
            tokio::time::sleep(STATUS_RETRY).await;
        }
    }

    /// Makes the server reap exited pane processes now.
    ///
    /// tmux 3.3a sometimes misses the SIGCHLD of a pane process that exits a
    /// while after it started: the pane shows as dead (its pty closed) but has
    /// no exit status, and the `pane-died` hook (hence the [`crate::Waker`])
    /// does not fire until some other child of the server exits. Running a
    /// trivial `run-shell` job is such a child; once it exits tmux reaps every
    /// exited process, records the status and fires `pane-died`.
    pub async fn reap(&self) -> Result<()> {
        self.run(&["run-shell", "true"]).await.map(|_| ())
    }

    /// Whether session `s` exists (false also when no server runs).
    pub async fn has_session(&self, s: &SessionName) -> Result<bool> {
        match self.run(&["has-session", "-t", &target(s)]).await {
            Ok(_) => Ok(true),
            Err(TmuxError::Command { stderr, .. }) if TmuxError::is_missing_target(&stderr) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Kills session `s` and its processes.
    ///
    /// Kills the session's windows, not just the session: each is also linked
    /// into the control hub's session (`hub.rs`), where it would live on.
    pub async fn kill_session(&self, s: &SessionName) -> Result<()> {
        let t = target(s);
        let out = self
            .run_on(s, &["list-windows", "-t", &t, "-F", "#{window_id}"])
            .await?;
        let mut args: Vec<&str> = Vec::new();
        for w in out.split_whitespace() {
            args.extend(["kill-window", "-t", w, ";"]);
        }
        // For a window made between the listing and now.
        args.extend(["kill-session", "-t", &t]);
        match self.run_on(s, &args).await {
            // The last window took the session with it.
            Err(TmuxError::NoSession(_)) if !out.trim().is_empty() => Ok(()),
            r => r.map(drop),
        }
    }

    /// Renames session `s` to `to`. Its panes, their options and every
    /// attached client (control-mode ones included) stay with it.
    pub async fn rename_session(&self, s: &SessionName, to: &SessionName) -> Result<()> {
        self.run_on(s, &["rename-session", "-t", &target(s), to.as_str()])
            .await?;
        Ok(())
    }

    /// The visible screen plus `lines` of scrollback, wrapped lines joined.
    ///
    /// `raw` keeps colours and attributes as escape sequences; otherwise plain
    /// text with trailing spaces removed. Trailing blank lines are trimmed.
    pub async fn capture(&self, s: &SessionName, lines: u32, raw: bool) -> Result<String> {
        let start = format!("-{lines}");
        let t = target(s);
        let mut args = vec!["capture-pane", "-p", "-J", "-t", &t, "-S", &start];
        if raw {
            args.push("-e");
        }
        let out = self.run_on(s, &args).await?;
        let mut text = if raw {
            out
        } else {
            let mut t = String::with_capacity(out.len());
            for line in out.lines() {
                t.push_str(line.trim_end());
                t.push('\n');
            }
            t
        };
        let keep = text.trim_end().len();
        text.truncate(keep);
        if !text.is_empty() {
            text.push('\n');
        }
        Ok(text)
    }

    /// Sets a user option (`@name`) on session `s`'s pane.
    pub async fn set_pane_option(&self, s: &SessionName, name: &str, value: &str) -> Result<()> {
        debug_assert!(name.starts_with('@'));
        let t = target(s);
        self.run_on(s, &["set", "-p", "-t", &t, name, &literal_arg(value)])
            .await
            .map(drop)
    }

    /// The visible screen, one string per row (for whole-screen frames).
    pub async fn capture_screen(&self, s: &SessionName) -> Result<Vec<String>> {
        let out = self
            .run_on(s, &["capture-pane", "-p", "-t", &target(s)])
            .await?;
        Ok(out.lines().map(|l| l.trim_end().to_string()).collect())
    }

    /// Exit records written by the shell hook with number greater than `after`, by n.
    pub async fn exit_records(&self, s: &SessionName, after: u64) -> Result<Vec<ExitRecord>> {
        let out = self
            .run_on(s, &["show-options", "-p", "-t", &target(s)])
            .await?;
        Ok(format::parse_exit_records(&out, after))
    }

    /// Removes exit records numbered `<= upto` (the node has published them).
    pub async fn clear_exit_records(&self, s: &SessionName, upto: u64) -> Result<()> {
        let t = target(s);
        let out = self.run_on(s, &["show-options", "-p", "-t", &t]).await?;
        let names: Vec<String> = format::exit_record_numbers(&out)
            .into_iter()
            .filter(|&n| n <= upto)
            .map(|n| format!("@telemux_exit_{n}"))
            .collect();
        for batch in names.chunks(UNSET_BATCH) {
            let mut args: Vec<&str> = Vec::new();
            for name in batch {
                if !args.is_empty() {
                    args.push(";");
                }
                args.extend(["set", "-pu", "-t", &t, name]);
            }
            self.run_on(s, &args).await?;
        }
        Ok(())
    }
}

/// A pane whose pty closed but whose exit status tmux has not collected yet.
fn unreaped(p: &PaneInfo) -> bool {
    p.dead && p.dead_status.is_none() && p.dead_signal.is_none()
}

/// The exact-match pane target of session `s`.
pub(crate) fn target(s: &SessionName) -> String {
    format!("={}:", s.as_str())
}

/// Protects an argv value from tmux's command splitting: a trailing `;` would
/// end the tmux command, while a trailing `\;` is read back as a plain `;`.
pub(crate) fn literal_arg(s: &str) -> String {
    match s.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => s.to_string(),
    }
}

/// Escapes `#` for arguments that tmux expands as formats (`new-session -c`).
pub(crate) fn literal_format(s: &str) -> String {
    s.replace('#', "##")
}

/// Turns tmux's "can't find session" into [`TmuxError::NoSession`].
fn missing_as_no_session(e: TmuxError, s: &SessionName) -> TmuxError {
    match e {
        TmuxError::Command { ref stderr, .. } if TmuxError::is_missing_target(stderr) => {
            TmuxError::NoSession(s.to_string())
        }
        e => e,
    }
}

/// Fails with [`TmuxError::BadCwd`] unless `dir` is an existing directory.
async fn check_dir(dir: &Path) -> Result<()> {
    match tokio::fs::metadata(dir).await {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(TmuxError::BadCwd {
            dir: dir.into(),
            reason: "is not a directory".into(),
        }),
        Err(e) => Err(TmuxError::BadCwd {
            dir: dir.into(),
            reason: format!("cannot be used: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_args() {
        assert_eq!(literal_arg("a;"), "a\\;");
        assert_eq!(literal_arg(";"), "\\;");
        assert_eq!(literal_arg("a\\;"), "a\\\\;");
        assert_eq!(literal_arg("a;b"), "a;b");
        assert_eq!(literal_format("x#{pid}"), "x##{pid}");
    }
}
