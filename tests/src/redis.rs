//! A private `redis-server` per test, killed when the guard drops.
//!
//! Each [`RedisServer`] listens on a free loopback port (or a unix socket) with its
//! own temporary working directory and log, so tests run in parallel and never touch
//! the system Redis on 6379. It can be stopped and started again on the same address
//! (restart scenarios) and stalled with SIGSTOP (a Redis that accepts connections but
//! never answers — the nastiest failure a client meets).
//!
//! Readiness is a raw `PING` → `+PONG` over the socket, so the harness needs no Redis
//! client crate. The API is synchronous: starting takes milliseconds and tests call it
//! before any async work begins.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a fresh redis-server may take to answer PING before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server listens.
#[derive(Debug, Clone)]
enum Listen {
    Tcp(u16),
    Unix(PathBuf),
}

/// A running private `redis-server`; killed (SIGKILL) on drop.
pub struct RedisServer {
    dir: TempDir,
    listen: Listen,
    persistent: bool,
    child: Option<Child>,
    stalled: bool,
}

impl RedisServer {
    /// Starts a server on a free `127.0.0.1` port that keeps nothing on disk.
    pub fn start() -> RedisServer {
        Self::start_tcp(false)
    }

    /// Starts a server on a free port whose data survives [`stop`](Self::stop) +
    /// [`start_again`](Self::start_again) (append-only file, fsync always), for
    /// scenarios where Redis restarts but its streams must not vanish.
    pub fn start_persistent() -> RedisServer {
        Self::start_tcp(true)
    }

    /// Starts a server listening only on a unix socket inside its temp dir.
    pub fn start_unix() -> RedisServer {
        crate::require_tools();
        let dir = temp_dir();
        let listen = Listen::Unix(dir.path().join("redis.sock"));
        let mut server = RedisServer {
            dir,
            listen,
            persistent: false,
            child: None,
            stalled: false,
        };
        if let Err(e) = server.spawn() {
            panic!("{e}");
        }
        server
    }

    fn start_tcp(persistent: bool) -> RedisServer {
        crate::require_tools();
        // A free port found by binding :0 can be taken by someone else before
        // redis-server binds it; a few attempts make that race irrelevant.
        let mut last_error = String::new();
        for _ in 0..3 {
            let mut server = RedisServer {
                dir: temp_dir(),
                listen: Listen::Tcp(free_port()),
                persistent,
                child: None,
                stalled: false,
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("{last_error}");
    }

    /// The URL telemux is given: `redis://127.0.0.1:P` or `redis+unix:///path`.
    pub fn url(&self) -> String {
        match &self.listen {
            Listen::Tcp(port) => format!("redis://127.0.0.1:{port}"),
            Listen::Unix(path) => format!("redis+unix://{}", path.display()),
        }
    }

    /// The TCP port; panics for a unix-socket server.
    pub fn port(&self) -> u16 {
        match &self.listen {
            Listen::Tcp(port) => *port,
            Listen::Unix(path) => panic!("redis at {} has no TCP port", path.display()),
        }
    }

    /// The unix socket path, if this server listens on one.
    pub fn socket_path(&self) -> Option<&Path> {
        match &self.listen {
            Listen::Tcp(_) => None,
            Listen::Unix(path) => Some(path),
        }
    }

    /// The server's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is up (a stalled server counts as up).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (SIGKILL, like a crash) and waits for it; idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL works on a stopped process too; nothing to resume first.
            let _ = child.kill();
            let _ = child.wait();
        }
        self.stalled = false;
    }

    /// Starts the server again on the same port or socket after [`stop`](Self::stop).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "start_again: redis is still running");
        if let Err(e) = self.spawn() {
            panic!("restarting redis: {e}");
        }
    }

    /// Freezes the server with SIGSTOP: connections are accepted by the kernel but
    /// nothing is answered until [`resume`](Self::resume).
    pub fn stall(&mut self) {
        let pid = self.pid().expect("stall: redis is not running");
        assert!(
            crate::send_signal(pid, libc::SIGSTOP),
            "SIGSTOP redis {pid}"
        );
        self.stalled = true;
    }

    /// Undoes [`stall`](Self::stall) with SIGCONT.
    pub fn resume(&mut self) {
        let pid = self.pid().expect("resume: redis is not running");
        assert!(
            crate::send_signal(pid, libc::SIGCONT),
            "SIGCONT redis {pid}"
        );
        self.stalled = false;
    }

    /// Whether the server is currently stalled.
    pub fn is_stalled(&self) -> bool {
        self.stalled
    }

    /// Answers PING within `timeout`; what readiness and the stall tests check.
    pub fn ping(&self, timeout: Duration) -> bool {
        ping(&self.listen, timeout).is_ok()
    }

    /// Runs `redis-cli` against this server and returns its stdout, trimmed.
    ///
    /// Panics if redis-cli cannot run or exits non-zero. Blocks while the server is
    /// stalled, so do not call it then.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("redis-cli");
        match &self.listen {
            Listen::Tcp(port) => cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()]),
            Listen::Unix(path) => cmd.arg("-s").arg(path),
        };
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running redis-cli: {e}"));
        assert!(
            out.status.success(),
            "redis-cli {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// The server's log file, for diagnostics in assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    fn spawn(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let mut cmd = Command::new("redis-server");
        match &self.listen {
            Listen::Tcp(port) => cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]),
            Listen::Unix(path) => cmd
                .args(["--port", "0", "--unixsocketperm", "700", "--unixsocket"])
                .arg(path),
        };
        cmd.args(["--save", ""]);
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let child = cmd
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning redis-server: {e}"))?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if ping(&self.listen, Duration::from_millis(500)).is_ok() {
                return Ok(());
            }
            let child = self.child.as_mut().expect("spawned");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!(
                    "redis-server at {} exited ({status}) before answering PING; log:\n{}",
                    self.url(),
                    self.log()
                ));
            }
            if start.elapsed() > START_TIMEOUT {
                self.stop();
                return Err(format!(
                    "redis-server at {} did not answer PING within {START_TIMEOUT:?}; log:\n{}",
                    self.url(),
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisServer")
            .field("url", &self.url())
            .field("pid", &self.pid())
            .field("stalled", &self.stalled)
            .finish()
    }
}

fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("telemux-redis-")
        .tempdir()
        .expect("creating a temp dir for redis")
}

/// A loopback port nobody listens on right now (the OS picks it).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0 to find a free port")
}

/// Sends an inline `PING` and expects `+PONG`.
fn ping(listen: &Listen, timeout: Duration) -> std::io::Result<()> {
    match listen {
        Listen::Tcp(port) => {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, *port));
            let stream = TcpStream::connect_timeout(&addr, timeout)?;
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            ping_on(stream)
        }
        Listen::Unix(path) => {
            let stream = UnixStream::connect(path)?;
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            ping_on(stream)
        }
    }
}

fn ping_on(mut stream: impl Read + Write) -> std::io::Result<()> {
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply)?;
    if &reply == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "unexpected PING reply {:?}",
            String::from_utf8_lossy(&reply)
        )))
    }
}
