//! Long-running commands: `telemux node` and `telemux up`.
//!
//! Both stop cleanly on Ctrl-C or SIGTERM: the node deregisters (so it shows
//! offline at once) and leaves its tmux sessions running.

use std::path::Path;
use std::time::Duration;

use telemux_node::{Node, NodeConfig};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::{EXIT_REMOTE, EXIT_USAGE};

/// Prints a status line; a closed stdout (e.g. `telemux up | head -1`) must not kill the daemon.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Cancels `token` on SIGINT or SIGTERM.
pub fn stop_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
        tokio::select! {
            // Ends with the daemon it stops, whoever cancelled it.
            _ = token.cancelled() => return,
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping");
        token.cancel();
    });
}

fn node_config(cfg: &Config) -> anyhow::Result<NodeConfig> {
    let mut n = NodeConfig::new(cfg.computer_name()?, &cfg.tmux.socket, cfg.state_dir());
    n.heartbeat = Duration::from_millis(cfg.node.heartbeat_ms.max(100));
    n.output_maxlen = cfg.node.output_maxlen.max(100);
    n.retention = Duration::from_secs(cfg.output.retention);
    n.output_max_bytes = cfg.output.max_bytes;
    n.outbox_records = cfg
        .node
        .outbox_records
        .max(telemux_node::MIN_OUTBOX_RECORDS);
    n.shell = cfg.node.shell.clone();
    n.enter_delay = Duration::from_millis(cfg.node.enter_delay_ms);
    n.accept_within = Duration::from_millis(cfg.node.accept_within_ms.max(500));
    n.mesh_key = cfg.mesh_key()?;
    n.max_skew = Duration::from_millis(cfg.mesh.max_skew_ms.max(1000));
    let builtins = telemux_node::agent::builtin_specs();
    n.agent_suspend_after = cfg
        .agents
        .suspend_after
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    for (name, spec) in &cfg.agents.profiles {
        telemux_proto::SessionName::new(name)
            .map_err(|e| anyhow::anyhow!("agents.{name}: not a usable agent name: {e}"))?;
        let base = builtins.get(name).cloned().unwrap_or_default();
        let profile = telemux_node::AgentProfile::compile(name, spec.clone().over(base))?;
        n.agents.insert(name.clone(), std::sync::Arc::new(profile));
    }
    n.files.max_bytes = cfg.files.max_bytes;
    n.files.roots = cfg.files.roots.iter().map(|r| expand_home(r)).collect();
    n.projects = Vec::new();
    for (name, dir) in &cfg.projects {
        telemux_proto::SessionName::new(name)
            .map_err(|e| anyhow::anyhow!("projects.{name}: not a usable project name: {e}"))?;
        n.projects.push(telemux_proto::Project {
            name: name.clone(),
            dir: dir.clone(),
        });
    }
    Ok(n)
}

/// `~` and `~/x` in a configured path, from HOME.
fn expand_home(path: &str) -> std::path::PathBuf {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    match (path, home) {
        ("~", Some(h)) => h,
        (p, Some(h)) if p.starts_with("~/") => h.join(&p[2..]),
        (p, _) => p.into(),
    }
}

async fn run_node(cfg: &Config, url: &str, token: CancellationToken) -> i32 {
    let ncfg = match node_config(cfg) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("telemux: {e:#}");
            return EXIT_USAGE;
        }
    };
    let Some(bus) = connect_patiently(cfg, url, &token).await else {
        return 0;
    };
    let bus = match bus {
        Ok(b) => b,
        Err(code) => return code,
    };
    if ncfg.mesh_key.is_none() {
        tracing::warn!(
            computer = %ncfg.computer,
            "mesh.key is not set: ANYONE WHO CAN WRITE TO THIS REDIS CAN RUN COMMANDS ON THIS COMPUTER; set mesh.key (same value on every computer) to require signed commands"
        );
    } else {
        tracing::info!(computer = %ncfg.computer, "signed commands required (mesh.key)");
    }
    match Node::new(ncfg, bus).run(token).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("telemux: node stopped: {e}");
            EXIT_REMOTE
        }
    }
}

/// First retry delay while Redis is unreachable at node start; doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(250);
/// Longest pause between two connection attempts.
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How often "still waiting for Redis" is logged (attempts in between are quiet).
const RETRY_LOG_EVERY: Duration = Duration::from_secs(30);

/// Connects the node to Redis, waiting for a Redis that is not up yet (a
/// machine booting, a Redis restarting) instead of exiting: the node retries
/// with backoff and logs once per [`RETRY_LOG_EVERY`], not per attempt.
/// A URL or TLS setting that can never work is still an error at once.
/// `None` when `token` is cancelled (Ctrl-C, SIGTERM) while waiting.
async fn connect_patiently(
    cfg: &Config,
    url: &str,
    token: &CancellationToken,
) -> Option<Result<telemux_bus::Bus, i32>> {
    let options = match cfg.connect_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("telemux: {e:#}");
            return Some(Err(EXIT_USAGE));
        }
    };
    let mut delay = RETRY_FIRST;
    let mut last_log: Option<tokio::time::Instant> = None;
    loop {
        let attempt = tokio::select! {
            _ = token.cancelled() => return None,
            r = telemux_bus::Bus::connect_with(url, &options) => r,
        };
        match attempt {
            Ok(bus) => {
                if last_log.is_some() {
                    tracing::info!(url = %telemux_bus::redact_url(url), "Redis is reachable now");
                }
                return Some(Ok(bus));
            }
            Err(e @ telemux_bus::BusError::Unreachable { .. }) => {
                if last_log.is_none_or(|t| t.elapsed() >= RETRY_LOG_EVERY) {
                    tracing::warn!(error = %e, "Redis is not reachable yet; retrying (logged every {} s)", RETRY_LOG_EVERY.as_secs());
                    last_log = Some(tokio::time::Instant::now());
                }
            }
            Err(e) => {
                eprintln!("telemux: {e}");
                return Some(Err(crate::config::connect_exit_code(&e)));
            }
        }
        tokio::select! {
            _ = token.cancelled() => return None,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(RETRY_MAX);
    }
}

/// `telemux node`
pub async fn node(cfg: Config) -> i32 {
    let url = match cfg.redis_url() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("telemux: {e:#}");
            return EXIT_USAGE;
        }
    };
    let token = CancellationToken::new();
    stop_on_signals(token.clone());
    run_node(&cfg, &url, token).await
}

/// Starts a private redis-server on a unix socket in the state directory,
/// with persistence so a restart keeps the mesh state.
async fn private_redis(state: &Path) -> anyhow::Result<(Child, String)> {
    tokio::fs::create_dir_all(state).await?;
    let sock = state.join("redis.sock");
    let _ = tokio::fs::remove_file(&sock).await;
    let child = Command::new("redis-server")
        .arg("--port")
        .arg("0")
        .arg("--unixsocket")
        .arg(&sock)
        .arg("--unixsocketperm")
        .arg("700")
        .arg("--dir")
        .arg(state)
        .arg("--appendonly")
        .arg("yes")
        .arg("--logfile")
        .arg(state.join("redis.log"))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start redis-server ({e}); install it (`sudo apt-get install redis-server`, `brew install redis`) or set redis.url"))?;
    for _ in 0..100 {
        if sock.exists() {
            return Ok((child, format!("redis+unix://{}", sock.display())));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!(
        "redis-server did not create {} within 5 s; see {}",
        sock.display(),
        state.join("redis.log").display()
    )
}

/// Takes the state directory's `up.pid` lock (flock, held until `telemux up`
/// exits, released by the kernel even on a crash) and writes our pid into it.
///
/// Taken before anything is created or removed in the state directory: a
/// second `up` in the same HOME would otherwise replace the first's
/// `redis.sock` and leave every CLI there without a Redis.
fn lock_state_dir(state: &Path) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsRawFd;
    std::fs::create_dir_all(state).map_err(|e| {
        anyhow::anyhow!("cannot create the state directory {}: {e}", state.display())
    })?;
    let path = state.join("up.pid");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    // SAFETY: flock(2) on a descriptor we own; no memory is shared with the kernel.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::WouldBlock {
            anyhow::bail!("cannot lock {}: {err}", path.display());
        }
        let mut pid = String::new();
        let _ = file.read_to_string(&mut pid);
        let pid = pid.trim();
        let who = if pid.is_empty() {
            "another telemux up".to_string()
        } else {
            format!("another telemux up (pid {pid})")
        };
        anyhow::bail!(
            "{who} is already running with state directory {}; use that one, or stop it first (Ctrl-C or `kill {pid}`)",
            state.display()
        );
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    Ok(file)
}

/// `telemux up`
pub async fn up(cfg: Config) -> i32 {
    let state = cfg.state_dir();
    let lock = match tokio::task::spawn_blocking(move || lock_state_dir(&state)).await {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            eprintln!("telemux up: {e:#}");
            return EXIT_REMOTE;
        }
        Err(e) => {
            eprintln!("telemux up: {e}");
            return EXIT_REMOTE;
        }
    };
    let token = CancellationToken::new();
    stop_on_signals(token.clone());
    let mut redis = None;
    let url = match &cfg.redis.url {
        Some(u) => u.clone(),
        None => match private_redis(&cfg.state_dir()).await {
            Ok((child, url)) => {
                redis = Some(child);
                url
            }
            Err(e) => {
                eprintln!("telemux: {e:#}");
                return EXIT_REMOTE;
            }
        },
    };
    let mut cfg = cfg;
    if redis.is_some() {
        // The private Redis is a local unix socket: the redis.tls_* files are for redis.url.
        cfg.redis.tls_ca_file = None;
        cfg.redis.tls_cert_file = None;
        cfg.redis.tls_key_file = None;
    }
    let name = cfg
        .computer_name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    say!("telemux up");
    match &redis {
        Some(_) => say!("  redis    private, at {url}"),
        None => say!("  redis    {}", telemux_bus::redact_url(&url)),
    }
    say!("  node     {name} (tmux -L {})", cfg.tmux.socket);
    let mut front = Vec::new();
    if cfg.mcp.listen.is_some() || cfg.telegram.token.is_some() || cfg.telegram.token_file.is_some()
    {
        let mut gcfg = cfg.clone();
        gcfg.redis.url = Some(url.clone());
        let mesh = match crate::gateway::connect(&gcfg, "gateway", token.clone()).await {
            Ok(m) => m,
            Err(code) => return code,
        };
        match crate::gateway::start(&gcfg, mesh, token.clone()).await {
            Ok(t) => front = t,
            Err(e) => {
                eprintln!("telemux up: {e:#}");
                return EXIT_USAGE;
            }
        }
        if let Some(l) = &cfg.mcp.listen {
            say!("  mcp      http://{l}/mcp");
        }
        if cfg.telegram.token.is_some() || cfg.telegram.token_file.is_some() {
            say!("  telegram bot polling {}", cfg.telegram.api_url);
        }
    } else {
        say!("  gateway  not started (set mcp.listen and/or telegram.token)");
    }
    say!("Try, in another terminal: telemux computers; telemux new {name}; Ctrl-C stops telemux (sessions keep running).");
    let code = run_node(&cfg, &url, token.clone()).await;
    token.cancel();
    for t in front {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    if let Some(mut child) = redis {
        // SIGTERM lets redis-server write its append-only file before exiting.
        if let Some(pid) = child.id() {
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        let _ = child.kill().await;
    }
    // Held until here: the next `up` may start only once this one is done.
    drop(lock);
    code
}
