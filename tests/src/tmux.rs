//! A private tmux server per test, killed when the guard drops.
//!
//! [`TmuxServer`] only owns a unique socket name (`tmux -L telemux-t-<pid>-<n>-<rand>`);
//! the server itself starts with the first session, usually created by a telemux node
//! given that name. Dropping the guard runs `kill-server` and removes the
//! socket file, so no test leaves tmux servers (and the shells inside them) or
//! sockets behind, and the user's own tmux is never touched.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Distinguishes guards made by one test process.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique tmux socket name; its server is killed on drop.
#[derive(Debug)]
pub struct TmuxServer {
    name: String,
}

impl TmuxServer {
    /// Picks a fresh socket name. No server runs until something creates a session.
    pub fn new() -> TmuxServer {
        crate::require_tools();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "telemux-t-{}-{n}-{}",
            std::process::id(),
            crate::random_suffix()
        );
        TmuxServer { name }
    }

    /// The socket name, as given to `tmux -L` and to `TELEMUX_TMUX__SOCKET`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `tmux -L <name> <args>` and returns stdout; `Err` carries stderr and status.
    ///
    /// The user's `~/.tmux.conf` is ignored (`-f /dev/null`) in case this call is the
    /// one that starts the server.
    pub fn run(&self, args: &[&str]) -> Result<String, String> {
        let out = tmux_command(&self.name)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running tmux: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "tmux -L {} {args:?} failed ({}): {}",
                self.name,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end()
            ))
        }
    }

    /// Whether a server is running on this socket.
    pub fn is_running(&self) -> bool {
        // `list-sessions` fails when there is no server, and never starts one.
        self.run(&["list-sessions"]).is_ok()
    }

    /// Names of the sessions on this server (empty when no server runs).
    pub fn sessions(&self) -> Vec<String> {
        self.run(&["list-sessions", "-F", "#{session_name}"])
            .map(|out| {
                out.lines()
                    // The node's control hub (`telemux_tmux::HUB_SESSION`), not a user's session.
                    .filter(|n| *n != "_telemux")
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The pid of the tmux server process (`#{pid}`); `None` when no server runs.
    pub fn server_pid(&self) -> Option<u32> {
        self.run(&["display-message", "-p", "#{pid}"])
            .ok()
            .and_then(|out| out.trim().parse().ok())
    }

    /// Kills the server, if any; idempotent.
    pub fn kill_server(&self) {
        let _ = tmux_command(&self.name)
            .arg("kill-server")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Default for TmuxServer {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        self.kill_server();
        // tmux 3.3a leaves its socket file behind after kill-server; hundreds
        // pile up in /tmp over a CI run otherwise.
        let _ = std::fs::remove_file(socket_path(&self.name));
    }
}

/// Where `tmux -L name` puts its socket: `$TMUX_TMPDIR` (or /tmp)/tmux-UID/name.
fn socket_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("TMUX_TMPDIR")
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/tmp".into());
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    std::path::Path::new(&dir)
        .join(format!("tmux-{uid}"))
        .join(name)
}

/// `tmux -L name -f /dev/null`, isolated from any tmux the tests run inside.
fn tmux_command(name: &str) -> Command {
    let mut cmd = Command::new("tmux");
    cmd.env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .args(["-L", name, "-f", "/dev/null"]);
    cmd
}
