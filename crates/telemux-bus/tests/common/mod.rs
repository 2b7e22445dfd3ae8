//! Test helper: a private redis-server per test (free port, unix socket, no
//! persistence), killed when dropped, and restartable on the same address.

#![allow(dead_code)]

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use telemux_proto::{ComputerInfo, ComputerName};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A running redis-server owned by one test.
pub struct Redis {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    /// Starts a fresh server and waits until it answers PING.
    pub async fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("telemux-bus-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = Redis {
            port,
            dir,
            child: None,
        };
        r.spawn().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--unixsocket", self.socket().to_str().unwrap()])
            .args(["--unixsocketperm", "700"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server in PATH");
        self.child = Some(child);
        for _ in 0..200 {
            if self.ping().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    async fn ping(&self) -> bool {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        if s.write_all(b"PING\r\n").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 16];
        matches!(s.read(&mut buf).await, Ok(n) if buf[..n].starts_with(b"+PONG"))
    }

    /// Kills the server (its data is gone: no persistence).
    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = tokio::task::spawn_blocking(move || c.wait()).await;
        }
    }

    /// Starts the server again on the same port and socket.
    pub async fn start_again(&mut self) {
        self.spawn().await;
    }

    /// Runs redis-cli against this server and returns its stdout.
    pub async fn cli(&self, args: &[&str]) -> String {
        let out = tokio::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .await
            .expect("redis-cli in PATH");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn name(s: &str) -> ComputerName {
    ComputerName::new(s).unwrap()
}

pub fn info(name: &str, heartbeat_ms: u64) -> ComputerInfo {
    let now = telemux_proto::now_ms();
    ComputerInfo {
        name: name.to_string(),
        version: "0.1.0".into(),
        proto: telemux_proto::PROTOCOL_VERSION,
        os: "linux-x86_64".into(),
        host: "test".into(),
        started_ms: now,
        last_seen_ms: now,
        heartbeat_ms,
        sessions: 0,
        pid: 0,
        stopped: false,
        projects: Vec::new(),
        agents: Vec::new(),
    }
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < end {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
