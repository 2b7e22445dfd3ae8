//! `telemux gateway` and `telemux mcp`: the front ends that are clients of the mesh.
//!
//! The gateway runs MCP over HTTP (when `mcp.listen` is set) and the Telegram
//! bot (when `telegram.token` is set); `telemux up` runs the same next to its node.

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::{serve_mcp, serve_telegram, EXIT_REMOTE, EXIT_USAGE};
use telemux_client::Mesh;

/// The sender name a front end or CLI puts in its envelopes, e.g. `cli@MozBook`.
///
/// The host name is a file read (`/proc/sys/kernel/hostname`), so it is read
/// once, off the runtime's worker threads.
pub async fn who(kind: &str) -> String {
    static HOST: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let host = HOST
        .get_or_init(|| async {
            tokio::task::spawn_blocking(telemux_node::host_name)
                .await
                .unwrap_or_default()
        })
        .await;
    format!("{kind}@{host}")
}

/// Connects a [`Mesh`] for a front end.
pub async fn connect(cfg: &Config, kind: &str, cancel: CancellationToken) -> Result<Mesh, i32> {
    let url = cfg.redis_url().map_err(|e| {
        eprintln!("telemux: {e:#}");
        EXIT_USAGE
    })?;
    let key = cfg.mesh_key().map_err(|e| {
        eprintln!("telemux: {e:#}");
        EXIT_USAGE
    })?;
    let bus = cfg.connect_bus(&url).await?;
    Ok(Mesh::with_bus_signed(bus, &who(kind).await, key, cancel))
}

/// Starts every configured front end; returns their tasks. Errors are
/// configuration problems, reported before anything runs.
pub async fn start(
    cfg: &Config,
    mesh: Mesh,
    cancel: CancellationToken,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<anyhow::Result<()>>>> {
    let mut tasks = Vec::new();
    if let Some(t) = serve_mcp::http(cfg, mesh.clone(), cancel.clone()).await? {
        tasks.push(t);
    }
    if let Some(t) = serve_telegram::start(cfg, mesh, cancel).await? {
        tasks.push(t);
    }
    Ok(tasks)
}

/// `telemux gateway`
pub async fn gateway(cfg: Config, cancel: CancellationToken) -> i32 {
    let mesh = match connect(&cfg, "gateway", cancel.clone()).await {
        Ok(m) => m,
        Err(code) => return code,
    };
    let tasks = match start(&cfg, mesh, cancel.clone()).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("telemux gateway: {e:#}");
            return EXIT_USAGE;
        }
    };
    if tasks.is_empty() {
        eprintln!("telemux gateway: nothing to serve; set mcp.listen and/or telegram.token");
        return EXIT_USAGE;
    }
    let mut code = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("telemux gateway: {e:#}");
                code = EXIT_REMOTE;
            }
            Err(e) => {
                eprintln!("telemux gateway: task failed: {e}");
                code = EXIT_REMOTE;
            }
        }
    }
    code
}

/// `telemux mcp`: MCP on stdio.
pub async fn mcp(cfg: Config, cancel: CancellationToken) -> i32 {
    let mesh = match connect(&cfg, "mcp", cancel.clone()).await {
        Ok(m) => m,
        Err(code) => return code,
    };
    match serve_mcp::stdio(&cfg, mesh, cancel).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("telemux mcp: {e:#}");
            EXIT_REMOTE
        }
    }
}
