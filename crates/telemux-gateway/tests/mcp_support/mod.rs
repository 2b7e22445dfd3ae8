//! Shared setup of the MCP tests: a real mesh (private redis-server, in-process
//! `telemux_node::Node`s on private tmux servers) and an rmcp client talking
//! to our [`McpServer`] over an in-memory pipe, the same protocol as stdio.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::Value;
use telemux_bus::Bus;
use telemux_client::Mesh;
use telemux_gateway::mcp::{McpServer, McpSettings};
use telemux_node::{Node, NodeConfig};
use telemux_proto::ComputerName;
use telemux_tests::{wait_until, RedisServer, TmuxServer};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// A client that counts the progress notifications it receives.
#[derive(Clone, Default)]
pub struct Client {
    /// Progress notifications seen so far.
    pub progress: Arc<AtomicUsize>,
}

impl ClientHandler for Client {
    async fn on_progress(
        &self,
        _params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.fetch_add(1, Ordering::SeqCst);
    }
}

/// A connected MCP client.
pub type Session = RunningService<RoleClient, Client>;

/// Redis, nodes and their tmux servers; everything is stopped on drop.
pub struct TestMesh {
    cancel: CancellationToken,
    /// A mesh client for setting things up directly.
    pub mesh: Mesh,
    _state: Vec<TempDir>,
    _tmux: Vec<TmuxServer>,
    /// The private redis-server.
    pub redis: RedisServer,
}

impl Drop for TestMesh {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl TestMesh {
    /// Starts redis-server and one node per name, and waits until all are online.
    pub async fn start(names: &[&str]) -> TestMesh {
        let redis = RedisServer::start();
        let cancel = CancellationToken::new();
        let mut state = Vec::new();
        let mut tmuxes = Vec::new();
        for name in names {
            let tmux = TmuxServer::new();
            let dir = tempfile::Builder::new()
                .prefix("telemux-mcp-node-")
                .tempdir()
                .expect("state dir");
            let mut cfg = NodeConfig::new(
                ComputerName::new(name).expect("name"),
                tmux.name(),
                dir.path().to_path_buf(),
            );
            cfg.heartbeat = Duration::from_millis(300);
            cfg.shell = Some("/bin/bash".into());
            let bus = Bus::connect(&redis.url()).await.expect("node bus");
            let token = cancel.child_token();
            let computer = name.to_string();
            tokio::spawn(async move {
                if let Err(e) = Node::new(cfg, bus).run(token).await {
                    eprintln!("node {computer} failed: {e}");
                }
            });
            state.push(dir);
            tmuxes.push(tmux);
        }
        let mesh = Mesh::connect(&redis.url(), "mcp-test@here", cancel.child_token())
            .await
            .expect("mesh");
        let want = names.len();
        wait_until("all nodes online", Duration::from_secs(30), || {
            let mesh = mesh.clone();
            async move {
                let all = mesh.computers().await.map_err(|e| e.to_string())?;
                let online = all.iter().filter(|c| c.online).count();
                if online == want {
                    Ok(())
                } else {
                    Err(format!("{online} of {want} online"))
                }
            }
        })
        .await;
        TestMesh {
            cancel,
            mesh,
            _state: state,
            _tmux: tmuxes,
            redis,
        }
    }

    /// The MCP server under test, with short test-friendly settings.
    pub fn server(&self) -> McpServer {
        McpServer::new(
            self.mesh.clone(),
            McpSettings {
                max_timeout: Duration::from_secs(120),
                idle: Duration::from_millis(800),
                tools: telemux_gateway::mcp::toolsets::tools_of("all").expect("all"),
                output_schemas: true,
                ..McpSettings::default()
            },
        )
    }

    /// An rmcp client connected to a fresh server over an in-memory pipe.
    pub async fn client(&self) -> (Session, Client) {
        self.client_of(self.server()).await
    }

    /// An rmcp client connected to `server` over an in-memory pipe.
    pub async fn client_of(&self, server: McpServer) -> (Session, Client) {
        let (server_io, client_io) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            if let Ok(running) = server.serve(server_io).await {
                let _ = running.waiting().await;
            }
        });
        let handler = Client::default();
        let session = handler
            .clone()
            .serve(client_io)
            .await
            .expect("MCP handshake");
        (session, handler)
    }
}

/// Calls `tool` with `args` (a JSON object).
pub async fn call(client: &Session, tool: &str, args: Value) -> CallToolResult {
    let args = match args {
        Value::Object(m) => m,
        other => panic!("arguments must be an object, not {other}"),
    };
    let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args.clone());
    client
        .call_tool(params)
        .await
        .unwrap_or_else(|e| panic!("{tool} {args:?}: protocol error {e}"))
}

/// The text content of a result.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Calls a tool that must succeed; returns its structured content.
pub async fn ok(client: &Session, tool: &str, args: Value) -> Value {
    let r = call(client, tool, args.clone()).await;
    assert_eq!(
        r.is_error,
        Some(false),
        "{tool} {args} failed: {}",
        text(&r)
    );
    assert!(!text(&r).trim().is_empty(), "{tool} has no text rendering");
    r.structured_content
        .clone()
        .unwrap_or_else(|| panic!("{tool} returned no structured content"))
}

/// Calls a tool that must fail; returns its error text.
pub async fn err(client: &Session, tool: &str, args: Value) -> String {
    let r = call(client, tool, args.clone()).await;
    assert_eq!(
        r.is_error,
        Some(true),
        "{tool} {args} should fail but returned {:?}",
        r.structured_content
    );
    text(&r)
}
