//! Harness for telemux's end-to-end tests (`tests/tests/*.rs`).
//!
//! Every scenario runs against real processes: a private `redis-server` on a free
//! loopback port ([`RedisServer`]), a private tmux server on a unique socket
//! ([`TmuxServer`]), and the real `telemux` binary ([`telemux_bin`], [`Cli`],
//! [`NodeProcess`]). Each of these is an RAII guard, so a failing test still cleans
//! up. Nothing here is mocked, and nothing touches the system Redis on 6379 or the
//! user's own tmux server.

pub mod agents;
pub mod bin;
pub mod cli;
pub mod mesh;
pub mod node;
pub mod proxy;
pub mod pymcp;
pub mod real_agents;
pub mod redis;
pub mod telegram;
pub mod terminal;
pub mod tls;
pub mod tmux;
pub mod wait;

pub use bin::telemux_bin;
pub use cli::{doctor_check, Cli, Output};
pub use mesh::Mesh;
pub use node::{NodeOptions, NodeProcess};
pub use proxy::StallProxy;
pub use redis::{RedisOptions, RedisServer};
pub use terminal::UserTerminal;
pub use tls::TlsFiles;
pub use tmux::TmuxServer;
pub use wait::{wait_until, wait_until_blocking, Probe};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Oldest tmux whose control mode and format variables the node relies on.
pub const MIN_TMUX: (u32, u32) = (3, 2);

/// Panics with install instructions unless `redis-server`, `redis-cli` and tmux ≥ 3.2
/// are on PATH.
///
/// The end-to-end tests must never pass by skipping: a machine without the tools
/// fails loudly. Checked once per test process; the guards call it themselves.
pub fn require_tools() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(problem) = CHECKED.get_or_init(check_tools) {
        let hint = if std::env::var_os("CI").is_some() {
            "CI must install them (see .ci/run)"
        } else {
            "install them, e.g. `sudo apt-get install -y tmux redis-server` \
             or `brew install tmux redis`"
        };
        panic!("telemux end-to-end tests need real tools: {problem}; {hint}");
    }
}

fn check_tools() -> Result<(), String> {
    let missing: Vec<&str> = ["redis-server", "redis-cli", "tmux"]
        .into_iter()
        .filter(|tool| find_in_path(tool).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!("not found on PATH: {}", missing.join(", ")));
    }
    let out = Command::new("tmux")
        .arg("-V")
        .output()
        .map_err(|e| format!("cannot run `tmux -V`: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match parse_tmux_version(&text) {
        Some(v) if v >= MIN_TMUX => Ok(()),
        Some(_) => Err(format!(
            "{text} is too old (need tmux {}.{} or newer)",
            MIN_TMUX.0, MIN_TMUX.1
        )),
        // "tmux next-3.5", "tmux master" and the like are development builds: accept.
        None => Ok(()),
    }
}

/// Parses `tmux 3.3a` into `(3, 3)`; `None` when the text has no `X.Y` version.
fn parse_tmux_version(text: &str) -> Option<(u32, u32)> {
    let version = text.split_whitespace().nth(1)?;
    let (major, rest) = version.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Finds an executable by name on PATH, like `which`.
pub(crate) fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Sends `signal` to `pid`; `false` when the process is gone (or was never ours).
pub(crate) fn send_signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; a stale pid only yields ESRCH.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// A short random-ish hex string, so names from concurrent test processes never collide
/// even when pids are reused.
pub(crate) fn random_suffix() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:06x}", hasher.finish() & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tmux_versions() {
        assert_eq!(parse_tmux_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(parse_tmux_version("tmux 3.2"), Some((3, 2)));
        assert_eq!(parse_tmux_version("tmux 3.10"), Some((3, 10)));
        assert_eq!(parse_tmux_version("tmux master"), None);
        assert!(parse_tmux_version("tmux 3.1c").unwrap() < MIN_TMUX);
    }

    #[test]
    fn finds_sh_on_path() {
        assert!(find_in_path("sh").is_some());
        assert!(find_in_path("surely-no-such-tool-here").is_none());
    }
}
