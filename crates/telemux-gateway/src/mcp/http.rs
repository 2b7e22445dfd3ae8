//! MCP over streamable HTTP (`mcp.listen`), served at `/mcp` with axum.
//!
//! Safety rules: a bearer token (`mcp.token`) is checked on every request
//! before anything reaches the MCP service, so a wrong or missing token gets
//! `401` and nothing runs; without a token the server refuses to listen on
//! anything but loopback, because anyone who can reach it could otherwise type
//! into every terminal of the mesh.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{McpServeError, McpServer};

/// The HTTP path of the MCP endpoint.
pub const PATH: &str = "/mcp";

/// Where and how to serve MCP over HTTP.
#[derive(Clone)]
pub struct HttpOptions {
    /// `host:port` to listen on, e.g. `127.0.0.1:8765` (port 0: any free port).
    pub listen: String,
    /// Bearer token every request must carry; `None` is allowed on loopback only.
    pub token: Option<String>,
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Compares without an early exit, so timing does not reveal the token.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `value` (an `Authorization` header) carries `token`.
pub fn bearer_matches(value: Option<&str>, token: &str) -> bool {
    let Some(v) = value else { return false };
    let mut parts = v.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or("");
    let given = parts.next().unwrap_or("").trim();
    scheme.eq_ignore_ascii_case("bearer") && same_secret(given.as_bytes(), token.as_bytes())
}

async fn require_token(State(token): State<Arc<str>>, req: Request, next: Next) -> Response {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if bearer_matches(value, &token) {
        return next.run(req).await;
    }
    tracing::warn!(
        path = %req.uri().path(),
        had_header = value.is_some(),
        "MCP HTTP request refused: missing or wrong bearer token"
    );
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"telemux\"")],
        "telemux MCP: missing or wrong bearer token; send `Authorization: Bearer <mcp.token>`\n",
    )
        .into_response()
}

/// Resolves `listen` and checks the token rule; returns the address to bind.
async fn check_listen(opts: &HttpOptions) -> Result<SocketAddr, McpServeError> {
    if let Some(t) = &opts.token {
        if t.trim().is_empty() {
            return Err(McpServeError::Config(
                "mcp.token is empty; set a long random token (e.g. `openssl rand -hex 32`)".into(),
            ));
        }
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(opts.listen.as_str())
        .await
        .map_err(|source| McpServeError::Listen {
            addr: opts.listen.clone(),
            source,
        })?
        .collect();
    let Some(first) = addrs.first().copied() else {
        return Err(McpServeError::Config(format!(
            "mcp.listen '{}' resolves to no address",
            opts.listen
        )));
    };
    if opts.token.is_none() && addrs.iter().any(|a| !a.ip().is_loopback()) {
        return Err(McpServeError::Config(format!(
            "refusing to serve MCP on {} without a token: anyone who reaches it could type into every session; set mcp.token (or mcp.token_file), or listen on 127.0.0.1",
            opts.listen
        )));
    }
    Ok(first)
}

/// Binds `opts.listen` and serves MCP at [`PATH`] until `cancel` fires.
/// Returns the bound address (useful with port 0) and the server task.
pub async fn serve_http(
    server: McpServer,
    opts: HttpOptions,
    cancel: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<Result<(), McpServeError>>), McpServeError> {
    let addr = check_listen(&opts).await?;
    let mut config =
        StreamableHttpServerConfig::default().with_cancellation_token(cancel.child_token());
    if opts.token.is_some() {
        // Reached through any host name; the token, not the Host header,
        // is what keeps a DNS-rebinding page out.
        config = config.disable_allowed_hosts();
    }
    let service: StreamableHttpService<McpServer, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let mut router = axum::Router::new().nest_service(PATH, service);
    if let Some(t) = &opts.token {
        let token: Arc<str> = Arc::from(t.trim());
        router = router.layer(middleware::from_fn_with_state(token, require_token));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| McpServeError::Listen {
            addr: opts.listen.clone(),
            source,
        })?;
    let local = listener
        .local_addr()
        .map_err(|source| McpServeError::Listen {
            addr: opts.listen.clone(),
            source,
        })?;
    tracing::info!(addr = %local, auth = opts.token.is_some(), "MCP over HTTP listening");
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { cancel.cancelled_owned().await })
            .await
            .map_err(McpServeError::Http)
    });
    Ok((local, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert!(bearer_matches(Some("Bearer s3cret"), "s3cret"));
        assert!(bearer_matches(Some("bearer  s3cret "), "s3cret"));
        assert!(!bearer_matches(Some("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(Some("Basic s3cret"), "s3cret"));
        assert!(!bearer_matches(Some("s3cret"), "s3cret"));
        assert!(!bearer_matches(None, "s3cret"));
    }

    #[tokio::test]
    async fn refuses_non_loopback_without_token() {
        let open = HttpOptions {
            listen: "0.0.0.0:0".into(),
            token: None,
        };
        let e = check_listen(&open).await.unwrap_err().to_string();
        assert!(
            e.contains("refusing to serve MCP on 0.0.0.0:0 without a token"),
            "{e}"
        );
        let with_token = HttpOptions {
            token: Some("t".into()),
            ..open
        };
        assert!(check_listen(&with_token).await.is_ok());
        let local = HttpOptions {
            listen: "127.0.0.1:0".into(),
            token: None,
        };
        assert!(check_listen(&local).await.is_ok());
        let empty = HttpOptions {
            listen: "127.0.0.1:0".into(),
            token: Some(" ".into()),
        };
        assert!(check_listen(&empty).await.is_err());
    }
}
