//! A minimal MCP client over stdio (newline-delimited JSON-RPC), enough to time
//! `tools/call` round trips through `telemux mcp`. When the checkout has no MCP
//! server yet, [`McpClient::start`] says so instead of producing a number.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use telemux_tests::Cli;

/// A running `telemux mcp` that answered `initialize` (killed on drop).
pub struct McpClient {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl McpClient {
    /// Starts `telemux mcp` and performs the MCP handshake; `Err` says why not.
    pub async fn start(cli: &Cli) -> Result<McpClient> {
        let mut child = cli
            .command(&["mcp"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning telemux mcp")?;
        let stdin = child.stdin.take().context("mcp stdin")?;
        let stdout = child.stdout.take().context("mcp stdout")?;
        let mut stderr = child.stderr.take().context("mcp stderr")?;
        let mut c = McpClient {
            _child: child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            next_id: 1,
        };
        let init = c
            .call(
                "initialize",
                json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "telemux-bench", "version": "0"}
                }),
            )
            .await;
        if let Err(e) = init {
            let mut err = String::new();
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut err),
            )
            .await;
            let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            bail!("`telemux mcp` did not complete the MCP handshake ({e}); stderr: {first}");
        }
        c.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(c)
    }

    /// Calls tool `name` with `args`; `Err` on a JSON-RPC or tool error.
    pub async fn tool(&mut self, name: &str, args: Value) -> Result<Value> {
        let r = self
            .call("tools/call", json!({"name": name, "arguments": args}))
            .await?;
        if r.get("isError").and_then(Value::as_bool) == Some(true) {
            bail!("tool {name} failed: {r}");
        }
        Ok(r)
    }

    async fn send(&mut self, msg: Value) -> Result<()> {
        let mut line = serde_json::to_vec(&msg)?;
        line.push(b'\n');
        self.stdin.write_all(&line).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    async fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        let read = async {
            while let Some(line) = self.lines.next_line().await? {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if v.get("id").and_then(Value::as_u64) != Some(id) {
                    continue; // notifications, logs
                }
                if let Some(e) = v.get("error") {
                    bail!("{method}: {e}");
                }
                return v
                    .get("result")
                    .cloned()
                    .ok_or_else(|| anyhow!("{method}: no result"));
            }
            bail!("the server closed stdout")
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .map_err(|_| anyhow!("{method}: no answer within 10 s"))?
    }
}
