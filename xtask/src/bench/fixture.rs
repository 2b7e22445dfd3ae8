//! A mesh to measure: one private Redis, named nodes (the release `telemux`
//! binary, each owning a private tmux socket) and a long-lived in-process
//! [`Mesh`] client — all RAII guards from the end-to-end harness, so every
//! process started here is killed (by its pid) even when a section fails.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use telemux_client::{Created, Mesh};
use telemux_proto::{ComputerName, SessionName};
use telemux_tests::{Cli, NodeOptions, NodeProcess, RedisServer, TmuxServer};
use tokio_util::sync::CancellationToken;

/// The product's default heartbeat: benchmarks measure what users run.
pub const HEARTBEAT_MS: u64 = 2000;

/// Redis, nodes and a client; dropping it stops the client, then the nodes,
/// then their tmux servers, then Redis.
pub struct Fixture {
    /// Node guards (SIGKILL on drop).
    pub nodes: Vec<NodeProcess>,
    /// One tmux socket per node, same order (kill-server on drop).
    pub tmux: Vec<TmuxServer>,
    /// The long-lived library client.
    pub mesh: Mesh,
    /// A CLI pointed at the same Redis, for process round trips.
    pub cli: Cli,
    cancel: CancellationToken,
    /// The private redis-server (SIGKILL on drop).
    pub redis: RedisServer,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Fixture {
    /// Starts Redis and one node per name, and waits until all are online.
    pub async fn start(names: &[String]) -> Result<Fixture> {
        let redis = RedisServer::start();
        let cancel = CancellationToken::new();
        let mesh = Mesh::connect(&redis.url(), "bench@xtask", cancel.clone())
            .await
            .map_err(|e| anyhow!("connecting the bench client: {e}"))?;
        let cli = Cli::new(redis.url()).timeout(Duration::from_secs(60));
        let mut f = Fixture {
            nodes: Vec::new(),
            tmux: Vec::new(),
            mesh,
            cli,
            cancel,
            redis,
        };
        for n in names {
            f.spawn_node(n);
        }
        f.wait_online(names, Duration::from_secs(60)).await?;
        Ok(f)
    }

    fn spawn_node(&mut self, name: &str) {
        let tmux = TmuxServer::new();
        let shell = if std::path::Path::new("/bin/bash").exists() {
            "/bin/bash"
        } else {
            "/bin/sh"
        };
        let opts = NodeOptions::new(name, &tmux, &self.redis)
            .heartbeat_ms(HEARTBEAT_MS)
            .env("SHELL", shell)
            .env("RUST_LOG", "warn");
        self.nodes.push(NodeProcess::start_with(opts));
        self.tmux.push(tmux);
    }

    /// Waits until every name in `names` is listed online.
    pub async fn wait_online(&self, names: &[String], timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            let all = self.mesh.computers().await.map_err(|e| anyhow!("{e}"))?;
            let missing: Vec<&String> = names
                .iter()
                .filter(|n| !all.iter().any(|c| c.online && c.info.name == **n))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                let logs: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|n| missing.iter().any(|m| *m == n.computer()))
                    .map(|n| format!("--- {} ---\n{}", n.computer(), tail(&n.log(), 20)))
                    .collect();
                bail!(
                    "nodes {missing:?} not online after {timeout:?}\n{}",
                    logs.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Index of node `name`.
    pub fn idx(&self, name: &str) -> Result<usize> {
        self.nodes
            .iter()
            .position(|n| n.computer() == name)
            .ok_or_else(|| anyhow!("no node {name}"))
    }

    /// Pid of node `name`.
    pub fn node_pid(&self, name: &str) -> Result<u32> {
        self.nodes[self.idx(name)?]
            .pid()
            .ok_or_else(|| anyhow!("node {name} is not running"))
    }

    /// Pid of the tmux server node `name` owns (once it has a session).
    pub async fn tmux_pid(&self, name: &str) -> Result<u32> {
        let out = self
            .tmux_cmd(name)?
            .args(["display-message", "-p", "#{pid}"])
            .output()
            .await?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .with_context(|| format!("no tmux server for {name} yet"))
    }

    /// Creates `per` shell sessions `s00`.. on every node, the nodes in parallel.
    pub async fn populate(&self, names: &[String], per: usize) -> Result<()> {
        let mut set = tokio::task::JoinSet::new();
        for n in names {
            let (mesh, n) = (self.mesh.clone(), n.clone());
            set.spawn(async move {
                for j in 0..per {
                    mesh.new_session(&format!("{n}/s{j:02}"), None, None, None, false)
                        .await
                        .map_err(|e| anyhow!("creating {n}/s{j:02}: {e}"))?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        Ok(())
    }

    /// `tmux -L <socket of node name>` ready for arguments.
    pub fn tmux_cmd(&self, name: &str) -> Result<tokio::process::Command> {
        Ok(tmux_cmd(self.tmux[self.idx(name)?].name()))
    }

    /// Creates `computer/name` running `command` (the login shell when `None`).
    pub async fn new_session(
        &self,
        computer: &str,
        name: &str,
        command: Option<Vec<String>>,
    ) -> Result<Created> {
        self.mesh
            .new_session(&format!("{computer}/{name}"), None, command, None, false)
            .await
            .map_err(|e| anyhow!("creating {computer}/{name}: {e}"))
    }

    /// `INFO <section>` as a map.
    pub async fn redis_info(&self, section: &str) -> Result<HashMap<String, String>> {
        let out = tokio::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.redis.port().to_string()])
            .args(["INFO", section])
            .stdin(Stdio::null())
            .output()
            .await
            .context("running redis-cli")?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().split_once(':'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// Redis `used_memory` in bytes.
    pub async fn redis_used_memory(&self) -> Result<f64> {
        self.redis_info("memory")
            .await?
            .get("used_memory")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("INFO memory has no used_memory"))
    }
}

/// `tmux -L socket`, isolated from any tmux this runs inside.
pub fn tmux_cmd(socket: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("tmux");
    c.env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .args(["-L", socket, "-f", "/dev/null"])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    c
}

/// Validated names for stream readers.
pub fn names(computer: &str, session: &str) -> Result<(ComputerName, SessionName)> {
    Ok((ComputerName::new(computer)?, SessionName::new(session)?))
}

/// Wall clock in seconds since the epoch, as the sessions' `$EPOCHREALTIME`.
pub fn epoch_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A bash script that prints `TMXLAT <i> <epoch>` lines, the timestamp taken by
/// the builtin `printf` right before the write.
pub fn ticker(count: u32, sleep: &str) -> Vec<String> {
    vec![
        "/bin/bash".into(),
        "-c".into(),
        format!(
            "export LC_ALL=C; for ((i=1;i<={count};i++)); do printf 'TMXLAT %s %s\\n' $i $EPOCHREALTIME; sleep {sleep}; done; sleep 3"
        ),
    ]
}

/// Parses a `TMXLAT <i> <epoch>` line.
pub fn parse_tick(line: &str) -> Option<(u32, f64)> {
    let rest = line.trim().strip_prefix("TMXLAT ")?;
    let (i, ts) = rest.split_once(' ')?;
    Some((i.parse().ok()?, ts.trim().parse().ok()?))
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
