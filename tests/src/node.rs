//! A `telemux node` daemon as a child process, for multi-computer scenarios.
//!
//! Several [`NodeProcess`]es with different `TELEMUX_COMPUTER` names and tmux sockets
//! on one Redis stand in for several machines. The guard can crash the node
//! (`kill9`), stop it gracefully (SIGTERM), and start it again with the same options,
//! HOME and tmux socket — what the adoption and presence scenarios need. Its
//! stdout/stderr go to a log file that survives restarts; when a test panics while a
//! node guard is alive, the tail of that log is printed with the failure.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{RedisServer, TmuxServer};

/// Heartbeat period the harness gives nodes: fast, so offline detection (3 missed
/// heartbeats) happens within about a second.
pub const TEST_HEARTBEAT_MS: u64 = 300;

/// How long a graceful stop may take before the node is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Lines of node log printed when a test fails with the node still alive.
const LOG_TAIL_ON_PANIC: usize = 200;

/// How to run one node: the environment contract of DESIGN.md §4.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// `TELEMUX_COMPUTER`: the name the node registers under.
    pub computer: String,
    /// `TELEMUX_TMUX__SOCKET`: the tmux server (`-L`) the node owns.
    pub tmux_socket: String,
    /// `TELEMUX_REDIS__URL`.
    pub redis_url: String,
    /// `TELEMUX_NODE__HEARTBEAT_MS`.
    pub heartbeat_ms: u64,
    /// Extra environment, e.g. `TELEMUX_MESH__KEY` or `SHELL`.
    pub env: Vec<(String, String)>,
}

impl NodeOptions {
    /// Options for `computer` owning `tmux`, on `redis`, with [`TEST_HEARTBEAT_MS`].
    pub fn new(computer: &str, tmux: &TmuxServer, redis: &RedisServer) -> NodeOptions {
        NodeOptions {
            computer: computer.to_string(),
            tmux_socket: tmux.name().to_string(),
            redis_url: redis.url(),
            heartbeat_ms: TEST_HEARTBEAT_MS,
            env: Vec::new(),
        }
    }

    /// Replaces the heartbeat period.
    pub fn heartbeat_ms(mut self, ms: u64) -> NodeOptions {
        self.heartbeat_ms = ms;
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> NodeOptions {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds every `(key, value)` of `env`.
    pub fn envs(mut self, env: impl IntoIterator<Item = (String, String)>) -> NodeOptions {
        self.env.extend(env);
        self
    }
}

/// A running `telemux node`; SIGKILLed on drop.
pub struct NodeProcess {
    options: NodeOptions,
    home: TempDir,
    child: Option<Child>,
    /// Process groups of every incarnation (the node's pid), ended on drop.
    groups: Vec<u32>,
}

impl NodeProcess {
    /// Starts node `computer` owning `tmux`, on `redis`, with default test options.
    pub fn start(computer: &str, tmux: &TmuxServer, redis: &RedisServer) -> NodeProcess {
        Self::start_with(NodeOptions::new(computer, tmux, redis))
    }

    /// Starts a node with explicit options.
    ///
    /// Returns once the process is spawned, not once it is registered: wait for it to
    /// appear in `telemux computers` with [`crate::wait_until`].
    pub fn start_with(options: NodeOptions) -> NodeProcess {
        let home = crate::bin::temp_home(&format!("telemux-node-{}-", options.computer));
        let mut node = NodeProcess {
            options,
            home,
            child: None,
            groups: Vec::new(),
        };
        node.spawn();
        node
    }

    /// The computer name this node registers under.
    pub fn computer(&self) -> &str {
        &self.options.computer
    }

    /// The node's HOME (its default `files.roots`), kept across restarts.
    pub fn home(&self) -> &std::path::Path {
        self.home.path()
    }

    /// The options it runs with.
    pub fn options(&self) -> &NodeOptions {
        &self.options
    }

    /// The node's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still alive (reaps it if it exited on its own).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// Everything the node has printed so far, across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// [`log`](Self::log) without ANSI colour codes, so tests can match
    /// `WARN`/`session=NAME` whether or not the node colours its log file.
    pub fn plain_log(&self) -> String {
        strip_ansi(&self.log())
    }

    /// Path of the log file.
    pub fn log_path(&self) -> PathBuf {
        self.home.path().join("node.log")
    }

    /// Freezes the node with SIGSTOP: it stays registered online (until its
    /// heartbeat expires) but answers nothing — a hung computer. SIGKILL on
    /// drop still ends it.
    pub fn stall(&self) {
        let pid = self.pid().expect("stall: node is not running");
        assert!(crate::send_signal(pid, libc::SIGSTOP), "SIGSTOP node {pid}");
    }

    /// Undoes [`stall`](Self::stall) with SIGCONT.
    pub fn resume(&self) {
        let pid = self.pid().expect("resume: node is not running");
        assert!(crate::send_signal(pid, libc::SIGCONT), "SIGCONT node {pid}");
    }

    /// Crashes the node with SIGKILL (no cleanup runs) and reaps it; idempotent.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the node with SIGTERM and waits for it to exit, SIGKILLing it after 10 s;
    /// returns its exit status, `None` if it was not running.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        crate::send_signal(child.id(), libc::SIGTERM);
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if start.elapsed() < STOP_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    panic!(
                        "node {} ignored SIGTERM for {STOP_TIMEOUT:?} and was killed ({status:?}); log:\n{}",
                        self.options.computer,
                        self.log()
                    );
                }
            }
        }
    }

    /// Starts the node again (same options, HOME and log) after `kill9` or `stop`.
    pub fn start_again(&mut self) {
        assert!(
            !self.is_running(),
            "start_again: node {} is still running",
            self.options.computer
        );
        self.spawn();
    }

    fn spawn(&mut self) {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening node log");
        let _ = writeln!(
            log,
            "=== harness: starting telemux node {} ===",
            self.options.computer
        );
        let stderr = log.try_clone().expect("cloning node log handle");
        let o = &self.options;
        let child = crate::bin::isolated_command(self.home.path())
            .arg("node")
            .env("TELEMUX_COMPUTER", &o.computer)
            .env("TELEMUX_TMUX__SOCKET", &o.tmux_socket)
            .env("TELEMUX_REDIS__URL", &o.redis_url)
            .env("TELEMUX_NODE__HEARTBEAT_MS", o.heartbeat_ms.to_string())
            // Scenarios count exit codes the bash way (an empty Enter runs
            // nothing); CI runners may have no SHELL or /bin/sh. Tests of
            // other shells override this through `o.env`.
            .env("SHELL", "/bin/bash")
            .envs(o.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            // Its own process group, so dropping the guard can also end the
            // node's helpers (control-mode clients, waker) that a SIGKILL orphans.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning telemux node {}: {e}", o.computer));
        self.groups.push(child.id());
        self.child = Some(child);
    }
}

/// Removes ANSI escape sequences (`ESC [ … letter`) from `text`.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        // CSI: ESC '[' parameters, ending with a byte in '@'..='~'.
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill9();
        // Every incarnation's helpers, including those a kill9() orphaned.
        for pgid in self.groups.drain(..) {
            // SAFETY: signals our own process group (created by `process_group(0)`).
            unsafe {
                libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
            }
        }
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_ON_PANIC)..];
            eprintln!(
                "--- last {} lines of node {} log ---\n{}",
                tail.len(),
                self.options.computer,
                tail.join("\n")
            );
        }
    }
}

impl std::fmt::Debug for NodeProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeProcess")
            .field("computer", &self.options.computer)
            .field("pid", &self.pid())
            .finish()
    }
}
