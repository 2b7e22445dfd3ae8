//! [`GatewayProcess`]: a `telemux gateway` process guard for the fake.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A `telemux gateway` process serving the Telegram bot; SIGKILLed on drop.
pub struct GatewayProcess {
    home: TempDir,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl GatewayProcess {
    /// Starts a gateway on `redis_url` against `api_url` with `env` (`TELEMUX_TELEGRAM__*`...).
    pub fn start(redis_url: &str, env: Vec<(String, String)>) -> GatewayProcess {
        let mut env = env;
        env.push(("TELEMUX_REDIS__URL".into(), redis_url.into()));
        let mut g = GatewayProcess {
            home: crate::bin::temp_home("telemux-gateway-"),
            env,
            child: None,
        };
        g.spawn();
        g
    }

    fn spawn(&mut self) {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("gateway log");
        let _ = writeln!(log, "=== harness: starting telemux gateway ===");
        let err = log.try_clone().expect("log handle");
        let child = crate::bin::isolated_command(self.home.path())
            .arg("gateway")
            .env("RUST_LOG", "info,telemux_gateway=debug")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawning telemux gateway");
        self.child = Some(child);
    }

    /// Path of its log (kept across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.home.path().join("gateway.log")
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Its pid while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Crashes it (SIGKILL).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops it with SIGTERM and waits (SIGKILL after 10 s).
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        crate::send_signal(c.id(), libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    /// Starts it again with the same settings and log.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "gateway still running");
        self.spawn();
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(150)..];
            eprintln!("--- last lines of gateway log ---\n{}", tail.join("\n"));
        }
    }
}
