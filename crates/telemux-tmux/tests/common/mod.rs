//! Shared test helpers: a private tmux server per test that is killed on drop.

#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use telemux_proto::SessionName;
use telemux_tmux::{NewSession, Tmux};

/// A tmux server on a unique socket; `kill-server` runs when it is dropped.
pub struct TmuxGuard {
    pub tmux: Tmux,
    pub socket: String,
    pub dir: PathBuf,
}

impl TmuxGuard {
    /// Starts a fresh server with telemux's globals and a scratch directory.
    pub async fn start() -> TmuxGuard {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let socket = format!("telemux-test-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&socket);
        tokio::fs::create_dir_all(&dir).await.unwrap();
        let tmux = Tmux::new(&socket);
        tmux.ensure_server().await.unwrap();
        TmuxGuard { tmux, socket, dir }
    }

    /// A session spec of 80x24 running `argv` in the scratch directory.
    pub fn spec(&self, name: &str, argv: &[&str]) -> NewSession {
        NewSession {
            name: SessionName::new(name).unwrap(),
            cwd: Some(self.dir.clone()),
            command: if argv.is_empty() {
                None
            } else {
                Some(argv.iter().map(|s| s.to_string()).collect())
            },
            env: Vec::new(),
            width: 80,
            height: 24,
        }
    }
}

impl Drop for TmuxGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .env_remove("TMUX")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
        // tmux 3.3a leaves its socket file behind after kill-server.
        if let Some(path) = socket_path(&self.socket) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where tmux puts socket `name` (`$TMUX_TMPDIR` or /tmp, then `tmux-UID`), on Linux.
fn socket_path(name: &str) -> Option<PathBuf> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let base = std::env::var_os("TMUX_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    Some(base.join(format!("tmux-{uid}")).join(name))
}

/// A session name.
pub fn name(s: &str) -> SessionName {
    SessionName::new(s).unwrap()
}

/// Retries `f` until it yields `Some` or `timeout` passes (tests only).
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
