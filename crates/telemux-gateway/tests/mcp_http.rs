//! MCP over streamable HTTP: the bearer token is enforced before anything
//! runs, and a non-loopback address without a token is refused.
//!
//! Requests are written by hand over TCP so the test sees the raw status
//! codes; the full protocol over HTTP is covered by the Python SDK test
//! (tests/tests/mcp_client.rs).

mod mcp_support;

use std::time::Duration;

use mcp_support::TestMesh;
use serde_json::json;
use telemux_gateway::mcp::{serve_http, HttpOptions, McpServeError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "test-token-0123456789";

/// POSTs `body` to `/mcp`; returns the status code and the response text.
async fn post(
    addr: std::net::SocketAddr,
    auth: Option<&str>,
    body: &serde_json::Value,
) -> (u16, String) {
    let body = body.to_string();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        addr.port(),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            // An SSE stream stays open: the first event is enough.
            if String::from_utf8_lossy(&out).contains("\"result\"") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 10 s");
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_token_is_401_and_runs_nothing() {
    let m = TestMesh::start(&["MozBook", "RasPi"]).await;
    let cancel = CancellationToken::new();
    let (addr, task) = serve_http(
        m.server(),
        HttpOptions {
            listen: "127.0.0.1:0".into(),
            token: Some(TOKEN.into()),
        },
        cancel.clone(),
    )
    .await
    .expect("serve");

    let marker = std::env::temp_dir().join(format!(
        "telemux-mcp-http-{}-{}",
        std::process::id(),
        telemux_proto::now_ms()
    ));
    let call = json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "run_command",
                   "arguments": {"computer": "RasPi", "command": format!("touch {}", marker.display())}}
    });
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "raw-http-test", "version": "0"}}
    });
    for auth in [
        None,
        Some("Bearer wrong-token".to_string()),
        Some(format!("Basic {TOKEN}")),
        Some(format!("Bearer {TOKEN}x")),
    ] {
        for body in [&init, &call] {
            let (status, text) = post(addr, auth.as_deref(), body).await;
            assert_eq!(status, 401, "auth {auth:?}: {text}");
            assert!(text.contains("missing or wrong bearer token"), "{text}");
            assert!(
                text.to_ascii_lowercase()
                    .contains("www-authenticate: bearer"),
                "{text}"
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !marker.exists(),
        "a request without the token ran a command"
    );

    // The right token is let through to the MCP service.
    let (status, text) = post(addr, Some(&format!("Bearer {TOKEN}")), &init).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"telemux\""), "{text}");

    cancel.cancel();
    let done = tokio::time::timeout(Duration::from_secs(10), task).await;
    assert!(
        matches!(done, Ok(Ok(Ok(())))),
        "server did not stop cleanly: {done:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_without_token_is_refused() {
    let m = TestMesh::start(&["MozBook"]).await;
    let e = serve_http(
        m.server(),
        HttpOptions {
            listen: "0.0.0.0:0".into(),
            token: None,
        },
        CancellationToken::new(),
    )
    .await
    .expect_err("must refuse");
    assert!(matches!(e, McpServeError::Config(_)), "{e:?}");
    assert!(e.to_string().contains("without a token"), "{e}");

    // Loopback without a token is allowed (only local processes can reach it).
    let cancel = CancellationToken::new();
    let (addr, _task) = serve_http(
        m.server(),
        HttpOptions {
            listen: "127.0.0.1:0".into(),
            token: None,
        },
        cancel.clone(),
    )
    .await
    .expect("loopback");
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "raw-http-test", "version": "0"}}
    });
    let (status, text) = post(addr, None, &init).await;
    assert_eq!(status, 200, "{text}");
    cancel.cancel();
}
