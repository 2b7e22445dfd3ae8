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
//!
//! [`RedisOptions`] adds what the security scenarios need: TLS only, with client
//! certificates required ([`RedisServer::start_tls`]), and ACL users from a file. Such
//! a server is probed and driven through `redis-cli` with the matching TLS and login
//! arguments, since a raw PING would be refused.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::TlsFiles;

/// How long a fresh redis-server may take to answer PING before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server listens.
#[derive(Debug, Clone)]
enum Listen {
    Tcp(u16),
    Unix(PathBuf),
}

/// Extra settings of a private server: TLS-only listening and ACL users.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// Serve TLS only (`--port 0 --tls-port P`) with these certificates, requiring
    /// client certificates signed by their CA (`--tls-auth-clients yes`).
    pub tls: Option<TlsFiles>,
    /// `--aclfile`: the users this server knows.
    pub acl_file: Option<PathBuf>,
    /// User and password the harness itself logs in with (readiness, [`RedisServer::cli`]).
    pub admin: Option<(String, String)>,
    /// Further settings as `--name value` pairs, e.g. `("maxmemory", "16mb")`.
    pub config: Vec<(String, String)>,
}

/// A running private `redis-server`; killed (SIGKILL) on drop.
pub struct RedisServer {
    dir: TempDir,
    listen: Listen,
    persistent: bool,
    options: RedisOptions,
    child: Option<Child>,
    stalled: bool,
}

impl RedisServer {
    /// Starts a server on a free `127.0.0.1` port that keeps nothing on disk.
    pub fn start() -> RedisServer {
        Self::start_tcp(false, RedisOptions::default())
    }

    /// Starts a TLS-only server on a free port with `files`' server certificate,
    /// requiring client certificates signed by `files`' CA. Its [`url`](Self::url) is
    /// `rediss://127.0.0.1:P`; clients need `files.env()`.
    pub fn start_tls(files: &TlsFiles) -> RedisServer {
        Self::start_with(RedisOptions {
            tls: Some(files.clone()),
            ..RedisOptions::default()
        })
    }

    /// Starts a server on a free port with explicit options.
    pub fn start_with(options: RedisOptions) -> RedisServer {
        Self::start_tcp(false, options)
    }

    /// Starts a server on a free port whose data survives [`stop`](Self::stop) +
    /// [`start_again`](Self::start_again) (append-only file, fsync always), for
    /// scenarios where Redis restarts but its streams must not vanish.
    pub fn start_persistent() -> RedisServer {
        Self::start_tcp(true, RedisOptions::default())
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
            options: RedisOptions::default(),
            child: None,
            stalled: false,
        };
        if let Err(e) = server.spawn() {
            panic!("{e}");
        }
        server
    }

    fn start_tcp(persistent: bool, options: RedisOptions) -> RedisServer {
        crate::require_tools();
        // A free port found by binding :0 can be taken by someone else before
        // redis-server binds it; a few attempts make that race irrelevant.
        let mut last_error = String::new();
        for _ in 0..3 {
            let mut server = RedisServer {
                dir: temp_dir(),
                listen: Listen::Tcp(free_port()),
                persistent,
                options: options.clone(),
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

    /// The URL telemux is given: `redis://127.0.0.1:P` (`rediss://` for TLS) or `redis+unix:///path`.
    pub fn url(&self) -> String {
        match &self.listen {
            Listen::Tcp(port) => format!("{}://127.0.0.1:{port}", self.scheme()),
            Listen::Unix(path) => format!("redis+unix://{}", path.display()),
        }
    }

    /// The URL with an ACL login: `redis[s]://user:password@127.0.0.1:P`.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        format!(
            "{}://{user}:{password}@127.0.0.1:{}",
            self.scheme(),
            self.port()
        )
    }

    fn scheme(&self) -> &'static str {
        if self.options.tls.is_some() {
            "rediss"
        } else {
            "redis"
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
        if self.options.tls.is_some() || self.options.admin.is_some() {
            return self.cli_ping(timeout);
        }
        ping(&self.listen, timeout).is_ok()
    }

    /// PING through redis-cli with this server's TLS and login arguments.
    fn cli_ping(&self, timeout: Duration) -> bool {
        let Ok(mut child) = self
            .cli_command(self.options.admin.as_ref())
            .arg("PING")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        else {
            return false;
        };
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        out.trim() == "PONG"
    }

    /// `redis-cli` aimed at this server: address, TLS files and (if given) a login.
    fn cli_command(&self, login: Option<&(String, String)>) -> Command {
        let mut cmd = Command::new("redis-cli");
        match &self.listen {
            Listen::Tcp(port) => cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()]),
            Listen::Unix(path) => cmd.arg("-s").arg(path),
        };
        if let Some(tls) = &self.options.tls {
            cmd.arg("--tls")
                .arg("--cacert")
                .arg(tls.ca())
                .arg("--cert")
                .arg(tls.client_cert())
                .arg("--key")
                .arg(tls.client_key());
        }
        if let Some((user, password)) = login {
            cmd.args(["--user", user, "--pass", password, "--no-auth-warning"]);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs `redis-cli` logged in as `user`; returns whether it exited 0 and its
    /// stdout + stderr (an error reply such as `NOPERM ...` is in the text).
    pub fn cli_as(&self, user: &str, password: &str, args: &[&str]) -> (bool, String) {
        let out = self
            .cli_command(Some(&(user.to_string(), password.to_string())))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running redis-cli: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text.trim_end().to_string())
    }

    /// Runs `redis-cli` against this server and returns its stdout, trimmed.
    ///
    /// Panics if redis-cli cannot run or exits non-zero. Blocks while the server is
    /// stalled, so do not call it then.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self
            .cli_command(self.options.admin.as_ref())
            .args(args)
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

    /// Writes 1 MB values under `fill:*` keys until Redis refuses a write with
    /// `OOM` (a server started with a `maxmemory` and `noeviction`); returns
    /// how many were stored. Panics if Redis is still accepting after 1 GB.
    pub fn fill_until_oom(&self) -> usize {
        const SCRIPT: &str = "redis.call('SET', KEYS[1], string.rep('x', 1048576))";
        for i in 0..1024 {
            let key = format!("fill:{i}");
            let out = self
                .cli_command(self.options.admin.as_ref())
                .args(["EVAL", SCRIPT, "1", &key])
                .output()
                .unwrap_or_else(|e| panic!("running redis-cli: {e}"));
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            if text.contains("OOM") {
                return i;
            }
        }
        panic!("Redis still accepts writes after 1 GB; was it started with maxmemory?")
    }

    /// The server's log file, for diagnostics in assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    fn spawn(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let mut cmd = Command::new("redis-server");
        match (&self.listen, &self.options.tls) {
            (Listen::Tcp(port), None) => {
                cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            }
            (Listen::Tcp(port), Some(tls)) => cmd
                .args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                ])
                .arg("--tls-cert-file")
                .arg(tls.server_cert())
                .arg("--tls-key-file")
                .arg(tls.server_key())
                .arg("--tls-ca-cert-file")
                .arg(tls.ca())
                .args(["--tls-auth-clients", "yes"]),
            (Listen::Unix(path), _) => cmd
                .args(["--port", "0", "--unixsocketperm", "700", "--unixsocket"])
                .arg(path),
        };
        if let Some(acl) = &self.options.acl_file {
            cmd.arg("--aclfile").arg(acl);
        }
        for (name, value) in &self.options.config {
            cmd.arg(format!("--{name}")).arg(value);
        }
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
            if self.ping(Duration::from_millis(2000)) {
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
