//! Running `telemux <command>` the way a user types it, with a deadline.
//!
//! [`Cli`] is one "terminal" pointed at a Redis: each [`Cli::run`] is a fresh process
//! with the isolated environment from [`crate::bin`], stdin closed, and a timeout
//! after which it is killed and the test fails (a hung CLI must never hang CI).
//! [`Cli::command`] hands out the same preconfigured command for long-running uses
//! such as `tail --follow` or `mcp` over stdio.

use std::fmt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;

/// How long one CLI invocation may take before the test fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `telemux` commands against one Redis, isolated from the real HOME.
#[derive(Clone)]
pub struct Cli {
    redis_url: String,
    home: Arc<TempDir>,
    env: Vec<(String, String)>,
    timeout: Duration,
}

impl Cli {
    /// Runs `doctor --json`: (exit code, parsed document, raw output for messages).
    pub async fn doctor_json(&self) -> (Option<i32>, serde_json::Value, String) {
        let out = self.run(&["doctor", "--json"]).await;
        let v = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("doctor --json is not JSON ({e}): {out:?}"));
        (out.code(), v, format!("{out:?}"))
    }

    /// A CLI whose commands get `TELEMUX_REDIS__URL=redis_url` and a private HOME.
    pub fn new(redis_url: impl Into<String>) -> Cli {
        Cli {
            redis_url: redis_url.into(),
            home: Arc::new(crate::bin::temp_home("telemux-cli-")),
            env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Adds an environment variable (e.g. `TELEMUX_COMPUTER`) to every command.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Cli {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds every `(key, value)` of `env` (e.g. [`crate::TlsFiles::env`]).
    pub fn envs(mut self, env: impl IntoIterator<Item = (String, String)>) -> Cli {
        self.env.extend(env);
        self
    }

    /// Replaces the per-invocation deadline.
    pub fn timeout(mut self, timeout: Duration) -> Cli {
        self.timeout = timeout;
        self
    }

    /// The private HOME the commands run with (holds any config file a test writes).
    pub fn home(&self) -> &std::path::Path {
        self.home.path()
    }

    /// `telemux <args>` ready to spawn: isolated env, stdin null, killed on drop.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut std_cmd = crate::bin::isolated_command(self.home.path());
        std_cmd
            .env("TELEMUX_REDIS__URL", &self.redis_url)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::null());
        let mut cmd = tokio::process::Command::from(std_cmd);
        cmd.kill_on_drop(true);
        cmd
    }

    /// A shell command line that runs `telemux <args>` with this CLI's
    /// environment and nothing else from the test process (for a tmux pane,
    /// whose server would otherwise hand down its own environment).
    /// Colours stay on: terminal front ends are looked at as a person would.
    pub fn pane_command(&self, args: &[&str]) -> String {
        let home = self.home.path().to_string_lossy().into_owned();
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("TERM".into(), "xterm-256color".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("HOME".into(), home.clone()),
            ("XDG_CONFIG_HOME".into(), format!("{home}/.config")),
            ("XDG_STATE_HOME".into(), format!("{home}/.local/state")),
            ("XDG_RUNTIME_DIR".into(), home.clone()),
            ("TELEMUX_REDIS__URL".into(), self.redis_url.clone()),
        ];
        env.extend(self.env.iter().cloned());
        let mut line = format!("cd {} && env -i", quote(&home));
        for (k, v) in env {
            line.push_str(&format!(" {}", quote(&format!("{k}={v}"))));
        }
        line.push(' ');
        line.push_str(&quote(&crate::telemux_bin().to_string_lossy()));
        for a in args {
            line.push(' ');
            line.push_str(&quote(a));
        }
        line
    }

    /// `sh -c script` with the same environment as [`Cli::command`], for
    /// pipelines such as `"$TELEMUX" sessions | true`: `$TELEMUX` is the
    /// binary. stdin null, killed on drop.
    pub fn shell(&self, script: &str) -> tokio::process::Command {
        let mut std_cmd = crate::bin::isolated_program("sh", self.home.path());
        std_cmd
            .env("TELEMUX_REDIS__URL", &self.redis_url)
            .env("TELEMUX", crate::telemux_bin())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null());
        let mut cmd = tokio::process::Command::from(std_cmd);
        cmd.kill_on_drop(true);
        cmd
    }

    /// Runs `telemux <args>` to completion and returns its output; panics if it cannot
    /// start or runs past the timeout (the process is killed then).
    pub async fn run(&self, args: &[&str]) -> Output {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning telemux {args:?}: {e}"));
        // Dropping the child on timeout kills it (kill_on_drop).
        match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(out)) => Output {
                args: args.iter().map(|a| a.to_string()).collect(),
                status: out.status,
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            },
            Ok(Err(e)) => panic!("waiting for telemux {args:?}: {e}"),
            Err(_) => panic!(
                "telemux {args:?} did not finish within {:?} and was killed",
                self.timeout
            ),
        }
    }
}

impl fmt::Debug for Cli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cli")
            .field("redis_url", &self.redis_url)
            .field("env", &self.env)
            .finish()
    }
}

/// What one finished `telemux` invocation produced.
#[derive(Clone)]
pub struct Output {
    /// The arguments it ran with, for assertion messages.
    pub args: Vec<String>,
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it printed on stdout (lossy UTF-8).
    pub stdout: String,
    /// Everything it printed on stderr (lossy UTF-8).
    pub stderr: String,
}

impl Output {
    /// The exit code; `None` if it died from a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Returns stdout, panicking with the whole output unless it exited 0.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert!(self.success(), "expected success from {self:?}");
        &self.stdout
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "telemux {:?} exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args, self.status, self.stdout, self.stderr
        )
    }
}

/// The check called `name` in a `doctor --json` document.
pub fn doctor_check<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["check"] == name))
        .unwrap_or_else(|| panic!("no check {name:?} in {doc}"))
}

/// Exit status, `stdout` and `stderr` of a finished child, for assertion messages.
pub fn both(out: &std::process::Output) -> String {
    format!(
        "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Quotes `s` for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
