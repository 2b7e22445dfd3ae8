//! The MCP server driven by a real MCP client we did not write: the official
//! Python SDK (`mcp` from PyPI), over stdio (`telemux mcp`) and over
//! streamable HTTP (`telemux gateway` with `mcp.listen` and a token), against
//! a real mesh of two node processes. The client script is tests/mcp/mcp_client_check.py;
//! its transcript is printed with the test output.
//!
//! The SDK is installed with pip into a venv under the cargo target dir, once,
//! and reused by later runs. Without python3/pip the tests fail loudly (in CI
//! and elsewhere); set TELEMUX_SKIP_PY_MCP=1 to skip them explicitly.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use telemux_tests::agents::AgentConfig;
use telemux_tests::{telemux_bin, wait_until, Mesh};

/// The Python MCP SDK version the client script is written against.
const MCP_VERSION: &str = "2.3.0";
/// Bearer token the HTTP gateway is started with.
const TOKEN: &str = "py-client-token-7f3a9c";
/// The whole client scenario may take this long.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp/mcp_client_check.py")
}

fn run(cmd: &mut std::process::Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Creates (once per target dir) a venv with the MCP SDK; returns its python.
fn install_sdk() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let venv = root.join(format!("py-mcp-{MCP_VERSION}"));
    let python = venv.join("bin/python");
    let usable = |py: &Path| {
        std::process::Command::new(py)
            .args(["-c", "import mcp, jsonschema, httpx2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if usable(&python) {
        return Ok(python);
    }
    // Built aside and renamed into place, so a half-made venv is never reused
    // and concurrent test processes do not trample each other.
    let tmp = root.join(format!("py-mcp-{MCP_VERSION}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    run(std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&tmp))?;
    run(std::process::Command::new(tmp.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(format!("mcp=={MCP_VERSION}")))?;
    let _ = std::fs::remove_dir_all(&venv);
    if std::fs::rename(&tmp, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    if usable(&python) {
        Ok(python)
    } else {
        Err(format!(
            "the venv at {} cannot import mcp after installing",
            venv.display()
        ))
    }
}

/// The venv's python, or `None` when explicitly skipped; panics otherwise.
fn python() -> Option<PathBuf> {
    static PY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    if std::env::var_os("TELEMUX_SKIP_PY_MCP").is_some_and(|v| v == "1") {
        eprintln!("SKIPPED: TELEMUX_SKIP_PY_MCP=1, the Python MCP client tests did not run");
        return None;
    }
    match PY.get_or_init(install_sdk) {
        Ok(p) => Some(p.clone()),
        Err(e) => {
            let hint = if std::env::var_os("CI").is_some() {
                "CI must provide python3 with venv and pip, and reach PyPI"
            } else {
                "install python3 (with venv and pip), or set TELEMUX_SKIP_PY_MCP=1 to skip"
            };
            panic!("the real-MCP-client tests need the Python MCP SDK: {e}\n{hint}");
        }
    }
}

/// Runs the client script with `args` in an environment pointing at `m`;
/// `server_log` is shown when it fails.
async fn client(m: &Mesh, python: &Path, args: &[&str], server_log: Option<&Path>) {
    let home = m.cli.home();
    let mut cmd = tokio::process::Command::new(python);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TELEMUX_") {
            cmd.env_remove(&key);
        }
    }
    cmd.arg(script())
        .args(args)
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .env("TELEMUX_REDIS__URL", m.redis.url())
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("spawning python");
    let out = tokio::time::timeout(CLIENT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the Python MCP client did not finish in {CLIENT_TIMEOUT:?}"))
        .expect("waiting for python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- Python MCP client transcript ({args:?}) ---\n{stdout}");
    let log = server_log
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .unwrap_or_default();
    assert!(
        out.status.success() && stdout.contains("mcp client check: all steps passed"),
        "Python MCP client failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n--- server log ---\n{log}",
        out.status
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
