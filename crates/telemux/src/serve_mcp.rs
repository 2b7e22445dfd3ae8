//! Wiring of the MCP server (telemux-gateway) into the binary: stdio for
//! `telemux mcp`, streamable HTTP for `telemux gateway` / `telemux up`.
//!
//! Only configuration is read here (timeouts, listen address, token or token
//! file); the server itself lives in `telemux_gateway::mcp`.

use std::time::Duration;

use anyhow::{Context, Result};
use telemux_client::Mesh;
use telemux_gateway::mcp::{self, HttpOptions, McpServer, McpSettings};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// The `[mcp]` tunables as the server wants them.
fn settings(cfg: &Config) -> Result<McpSettings> {
    Ok(McpSettings {
        max_timeout: Duration::from_secs(cfg.mcp.max_timeout_s.max(1)),
        idle: Duration::from_millis(cfg.mcp.idle_ms.max(1)),
        tools: mcp::toolsets::tools_of(&cfg.mcp.toolsets)?,
        output_schemas: cfg.mcp.output_schemas,
        ..McpSettings::default()
    })
}

/// The bearer token from `mcp.token` or `mcp.token_file`.
async fn token(cfg: &Config) -> Result<Option<String>> {
    if let Some(t) = &cfg.mcp.token {
        return Ok(Some(t.trim().to_string()));
    }
    if let Some(f) = &cfg.mcp.token_file {
        let t = tokio::fs::read_to_string(f)
            .await
            .with_context(|| format!("reading mcp.token_file {}", f.display()))?;
        return Ok(Some(t.trim().to_string()));
    }
    Ok(None)
}

/// Serves MCP on stdin/stdout until stdin closes or `cancel` fires.
pub async fn stdio(cfg: &Config, mesh: Mesh, cancel: CancellationToken) -> Result<()> {
    let server = McpServer::new(mesh, settings(cfg)?);
    mcp::serve_stdio(server, cancel).await?;
    Ok(())
}

/// Starts MCP over streamable HTTP on `mcp.listen`; `None` when not configured.
pub async fn http(
    cfg: &Config,
    mesh: Mesh,
    cancel: CancellationToken,
) -> Result<Option<JoinHandle<Result<()>>>> {
    let Some(listen) = cfg.mcp.listen.clone() else {
        return Ok(None);
    };
    let opts = HttpOptions {
        listen,
        token: token(cfg).await?,
    };
    let server = McpServer::new(mesh, settings(cfg)?);
    let (addr, task) = mcp::serve_http(server, opts, cancel).await?;
    eprintln!("telemux: MCP over HTTP at http://{addr}{}", mcp::http::PATH);
    Ok(Some(tokio::spawn(async move {
        task.await.context("MCP HTTP task")??;
        Ok(())
    })))
}
