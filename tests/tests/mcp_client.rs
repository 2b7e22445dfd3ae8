//! The MCP server driven by a real MCP client we did not write: the official
//! Python SDK (`mcp` from PyPI), over stdio (`telemux mcp`) and over
//! streamable HTTP (`telemux gateway` with `mcp.listen` and a token), against
//! a real mesh of two node processes. The client script is tests/mcp/mcp_client_check.py;
//! its transcript is printed with the test output.
//!
//! The SDK is installed by the harness (`telemux_tests::pymcp`) into a venv
//! under the cargo target dir, once. Without python3/pip the tests fail loudly
//! (in CI and elsewhere); set TELEMUX_SKIP_PY_MCP=1 to skip them explicitly.

use std::path::Path;
use std::time::Duration;

use telemux_tests::agents::AgentConfig;
use telemux_tests::pymcp::{self, run_script};
use telemux_tests::{telemux_bin, wait_until, Mesh};

/// Bearer token the HTTP gateway is started with.
const TOKEN: &str = "py-client-token-7f3a9c";

/// The venv's python, or `None` when explicitly skipped; panics otherwise.
fn python() -> Option<std::path::PathBuf> {
    pymcp::python(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// Runs the client script with `args` in an environment pointing at `m`;
/// `server_log` is shown when it fails.
async fn client(m: &Mesh, python: &Path, args: &[&str], server_log: Option<&Path>) {
    let script = pymcp::script("mcp_client_check.py");
    let out = run_script(&m.cli, &m.redis.url(), python, &script, args).await;
    let log = server_log
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .unwrap_or_default();
    assert!(
        out.success && out.stdout.contains("mcp client check: all steps passed"),
        "Python MCP client failed:\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- server log ---\n{log}",
        out.stdout,
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_stdio() {
    let Some(py) = python() else { return };
    // The nodes also know the fake agent, so the client drives an agent session too.
    let agents = AgentConfig::new();
    let m = agents.mesh(&["MozBook", "RasPi"]).await;
    let bin = telemux_bin();
    client(
        &m,
        &py,
        &[
            "stdio",
            "--telemux",
            bin.to_str().unwrap(),
            "--other",
            "RasPi",
            "--agent",
            "RasPi",
        ],
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_http_with_token() {
    let Some(py) = python() else { return };
    let m = Mesh::start(&["MozBook", "RasPi"]).await;
    // Port 0: the gateway picks a free port and prints the URL, so no other
    // test's server can take the port between choosing and binding it.
    let log = m.cli.home().join("gateway.log");
    let log_file = std::fs::File::create(&log).expect("gateway log");
    let mut gateway = m
        .cli
        .clone()
        .env("TELEMUX_MCP__LISTEN", "127.0.0.1:0")
        .env("TELEMUX_MCP__TOKEN", TOKEN)
        .command(&["gateway"])
        .stdout(log_file.try_clone().expect("log"))
        .stderr(log_file)
        .spawn()
        .expect("spawning telemux gateway");
    let url = wait_until(
        "the gateway to print its URL",
        Duration::from_secs(60),
        || {
            let log = log.clone();
            async move {
                let text = tokio::fs::read_to_string(&log).await.unwrap_or_default();
                text.lines()
                    .find_map(|l| l.strip_prefix("telemux: MCP over HTTP at "))
                    .map(|u| u.trim().to_string())
                    .ok_or(text)
            }
        },
    )
    .await;
    client(
        &m,
        &py,
        &["http", "--url", &url, "--token", TOKEN, "--other", "RasPi"],
        Some(&log),
    )
    .await;
    let _ = gateway.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_refuses_non_loopback_without_token() {
    let m = Mesh::start(&["MozBook"]).await;
    let out = m
        .cli
        .clone()
        .env("TELEMUX_MCP__LISTEN", "0.0.0.0:0")
        .run(&["gateway"])
        .await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("refusing to serve MCP on 0.0.0.0:0 without a token"),
        "{out:?}"
    );
}
