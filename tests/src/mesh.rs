//! A small mesh for scenarios: one Redis, named nodes, and a CLI, with helpers
//! that parse `--json` output so assertions read like the user's view.

use std::time::Duration;

use serde_json::Value;

use crate::{wait_until, Cli, NodeOptions, NodeProcess, RedisServer, TmuxServer};

/// One Redis, some nodes (each with its own tmux server) and a CLI.
pub struct Mesh {
    /// Node guards, in the order given.
    pub nodes: Vec<NodeProcess>,
    /// tmux servers, one per node (dropped after the nodes).
    pub tmux: Vec<TmuxServer>,
    /// The CLI every assertion goes through.
    pub cli: Cli,
    /// The Redis server (dropped last).
    pub redis: RedisServer,
}

impl Mesh {
    /// Starts Redis and one node per name, and waits until all are online.
    pub async fn start(names: &[&str]) -> Mesh {
        Self::start_with(RedisServer::start(), names, |o| o).await
    }

    /// Like [`Mesh::start`], with extra environment for every node (e.g.
    /// `TELEMUX_CONFIG` pointing at agent profiles and projects).
    pub async fn start_with_env(names: &[&str], env: &[(&str, &str)]) -> Mesh {
        Self::start_with(RedisServer::start(), names, |mut o| {
            for (k, v) in env {
                o = o.env(*k, *v);
            }
            o
        })
        .await
    }

    /// Like [`start`](Self::start) on a given `redis`, with each node's options
    /// passed through `options` (extra environment, heartbeat...).
    pub async fn start_with(
        redis: RedisServer,
        names: &[&str],
        options: impl Fn(NodeOptions) -> NodeOptions,
    ) -> Mesh {
        let tmux: Vec<TmuxServer> = names.iter().map(|_| TmuxServer::new()).collect();
        let nodes = names
            .iter()
            .zip(&tmux)
            .map(|(n, t)| NodeProcess::start_with(options(NodeOptions::new(n, t, &redis))))
            .collect();
        let cli = Cli::new(redis.url());
        let mesh = Mesh {
            nodes,
            tmux,
            cli,
            redis,
        };
        for n in names {
            mesh.wait_online(n, true).await;
        }
        mesh
    }

    /// `computers --json`, parsed.
    pub async fn computers(&self) -> Vec<Value> {
        let out = self.cli.run(&["computers", "--json"]).await;
        serde_json::from_str::<Value>(out.ok())
            .unwrap_or_else(|e| panic!("computers --json is not JSON ({e}): {out:?}"))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `name` is shown online (or offline).
    pub async fn wait_online(&self, name: &str, online: bool) {
        let what = format!("{name} to be {}", if online { "online" } else { "offline" });
        wait_until(&what, Duration::from_secs(20), || async {
            self.computers()
                .await
                .iter()
                .any(|c| c["name"] == name && c["online"] == online)
        })
        .await;
    }

    /// `sessions [computer] --json`, parsed.
    pub async fn sessions(&self, computer: Option<&str>) -> Vec<Value> {
        let mut args = vec!["sessions", "--json"];
        if let Some(c) = computer {
            args.insert(1, c);
        }
        let out = self.cli.run(&args).await;
        serde_json::from_str::<Value>(out.ok())
            .unwrap_or_else(|e| panic!("sessions --json is not JSON ({e}): {out:?}"))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `tail SESSION --json` (no follow), parsed into records.
    pub async fn records(&self, session: &str) -> Vec<Value> {
        records(&self.cli, session).await
    }

    /// All rendered text lines printed in a session so far (lines records only).
    pub async fn text(&self, session: &str) -> String {
        let mut s = String::new();
        for r in self.records(session).await {
            if r["type"] == "lines" {
                for l in r["lines"].as_array().into_iter().flatten() {
                    s.push_str(l.as_str().unwrap_or(""));
                    s.push('\n');
                }
                s.push_str(r["partial"].as_str().unwrap_or(""));
                s.push('\n');
            }
        }
        s
    }

    /// Exit codes of `command_finished` records of a session, in order.
    pub async fn exit_codes(&self, session: &str) -> Vec<i64> {
        exit_codes(&self.cli, session).await
    }
}

/// Waits until `computers --json` through `cli` shows `name` online; a
/// failing call (a connection still being set up) counts as "not yet".
pub async fn wait_online(cli: &Cli, name: &str) {
    wait_until(
        &format!("{name} online"),
        Duration::from_secs(30),
        || async {
            let out = cli.run(&["computers", "--json"]).await;
            out.success()
                && serde_json::from_str::<Value>(&out.stdout)
                    .ok()
                    .and_then(|v| v.as_array().cloned())
                    .is_some_and(|a| a.iter().any(|c| c["name"] == name && c["online"] == true))
        },
    )
    .await;
}

/// `tail SESSION --json` (no follow) through `cli`, parsed into records.
pub async fn records(cli: &Cli, session: &str) -> Vec<Value> {
    let out = cli.run(&["tail", session, "--json"]).await;
    out.ok()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("bad tail line {l:?}: {e}"))
        })
        .collect()
}

/// Exit codes of `command_finished` records of a session, in order.
pub async fn exit_codes(cli: &Cli, session: &str) -> Vec<i64> {
    records(cli, session)
        .await
        .iter()
        .filter(|r| r["type"] == "command_finished")
        .map(|r| r["exit_code"].as_i64().unwrap_or(i64::MIN))
        .collect()
}
