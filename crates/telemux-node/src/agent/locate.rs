//! Finding an agent's program the way the user's own shell would.
//!
//! A node started by systemd or launchd has a minimal PATH, while `claude`,
//! `codex` and `gemini` are usually installed by npm, nvm or into
//! `~/.local/bin`, which only the user's login shell puts on PATH. So the
//! program is looked up on the node's PATH, then on the PATH the user's login
//! shell sets up (asked once, cached), then in the usual install places; the
//! session then runs with all of these on its PATH, so a `#!/usr/bin/env node`
//! script finds the `node` next to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::OnceCell;

/// How long the login shell may take to print its PATH.
const LOGIN_SHELL_TIMEOUT: Duration = Duration::from_secs(5);

/// Marks the PATH line in the login shell's output (profiles may print).
const MARK: &str = "__TELEMUX_LOGIN_PATH__=";

/// The login shell's PATH, asked once per node.
#[derive(Debug, Default)]
pub struct LoginPath {
    cell: OnceCell<Option<String>>,
}

impl LoginPath {
    /// The PATH the user's login shell sets up, or `None` if it could not
    /// be asked (no shell, a timeout, no output).
    pub async fn get(&self) -> Option<String> {
        self.cell.get_or_init(ask_login_shell).await.clone()
    }
}

fn user_shell() -> String {
    std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into())
}

async fn ask_login_shell() -> Option<String> {
    let shell = user_shell();
    let script = format!("printf '\\n{MARK}%s\\n' \"$PATH\"");
    for flags in ["-lic", "-lc"] {
        let child = tokio::process::Command::new(&shell)
            .arg(flags)
            .arg(&script)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let Ok(Ok(out)) = tokio::time::timeout(LOGIN_SHELL_TIMEOUT, child).await else {
            continue;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(p) = text.lines().rev().find_map(|l| l.strip_prefix(MARK)) {
            if !p.trim().is_empty() {
                return Some(p.trim().to_string());
            }
        }
    }
    None
}

/// A program found, and the PATH its session should run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Absolute path of the program.
    pub program: PathBuf,
    /// PATH for the session: the node's, the login shell's and the
    /// program's own directory.
    pub path: String,
}

/// The program was not found; says where it was looked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("program '{program}' not found; searched: {}", searched.join("; "))]
pub struct NotFound {
    /// The program as configured.
    pub program: String,
    /// Where it was looked for, in order.
    pub searched: Vec<String>,
}

/// Install places searched after the PATHs, relative to `$HOME`.
const HOME_DIRS: &[&str] = &[
    ".local/bin",
    ".npm-global/bin",
    ".bun/bin",
    ".volta/bin",
    ".cargo/bin",
    "bin",
];

/// Looks `program` up as described in the module docs.
pub async fn find(program: &str, login: &LoginPath) -> Result<Found, NotFound> {
    let node_path = std::env::var("PATH").unwrap_or_default();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let expanded = match (program.strip_prefix("~/"), &home) {
        (Some(rest), Some(h)) => h.join(rest).to_string_lossy().into_owned(),
        _ => program.to_string(),
    };
    let mut searched = Vec::new();
    let mut dirs: Vec<PathBuf> = Vec::new();
    if expanded.contains('/') {
        let p = PathBuf::from(&expanded);
        if is_executable(&p).await {
            let path = join_path(&[&node_path, &parent(&p)]);
            return Ok(Found { program: p, path });
        }
        return Err(NotFound {
            program: program.into(),
            searched: vec![expanded],
        });
    }
    searched.push(format!("the node's PATH ({node_path})"));
    dirs.extend(std::env::split_paths(&node_path));
    let login_path = login.get().await;
    match &login_path {
        Some(p) => {
            searched.push(format!(
                "the login shell's PATH ({} -lic: {p})",
                user_shell()
            ));
            dirs.extend(std::env::split_paths(p));
        }
        None => searched.push(format!(
            "the login shell ({} -lic gave no PATH)",
            user_shell()
        )),
    }
    if let Some(h) = &home {
        for d in HOME_DIRS {
            dirs.push(h.join(d));
        }
        dirs.extend(nvm_dirs(h).await);
        searched.push(format!(
            "{} and ~/.nvm/versions/node/*/bin",
            HOME_DIRS
                .iter()
                .map(|d| format!("~/{d}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for d in ["/usr/local/bin", "/opt/homebrew/bin"] {
        dirs.push(PathBuf::from(d));
    }
    searched.push("/usr/local/bin, /opt/homebrew/bin".into());
    for d in &dirs {
        let p = d.join(&expanded);
        if is_executable(&p).await {
            let path = join_path(&[&node_path, login_path.as_deref().unwrap_or(""), &parent(&p)]);
            return Ok(Found { program: p, path });
        }
    }
    Err(NotFound {
        program: program.into(),
        searched,
    })
}

fn parent(p: &Path) -> String {
    p.parent()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `a:b:c` without empty parts and repeats, in order.
fn join_path(parts: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in parts {
        for d in part.split(':') {
            if !d.is_empty() && !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out.join(":")
}

async fn nvm_dirs(home: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(mut rd) = tokio::fs::read_dir(home.join(".nvm/versions/node")).await else {
        return out;
    };
    while let Ok(Some(e)) = rd.next_entry().await {
        out.push(e.path().join("bin"));
    }
    // Newest version first (names are `v20.1.0`; a plain sort is close enough).
    out.sort();
    out.reverse();
    out
}

async fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    match tokio::fs::metadata(p).await {
        Ok(m) => m.is_file() && m.permissions().mode() & 0o111 != 0,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_joined_without_repeats() {
        assert_eq!(join_path(&["/a:/b", "", "/b:/c", "/a"]), "/a:/b:/c");
    }

    #[tokio::test]
    async fn absolute_programs_are_checked_and_missing_ones_say_where_looked() {
        let login = LoginPath::default();
        assert!(find("/bin/sh", &login).await.is_ok());
        let e = find("/nonexistent/claude", &login).await.unwrap_err();
        assert_eq!(e.searched, ["/nonexistent/claude"]);
        let e = find("telemux-no-such-program", &login).await.unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("the node's PATH"), "{msg}");
        assert!(msg.contains("login shell"), "{msg}");
        assert!(msg.contains("~/.local/bin"), "{msg}");
    }
}
