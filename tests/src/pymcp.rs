//! The official Python MCP SDK (`mcp` from PyPI) as a real MCP client we did
//! not write, for the scenario tests that drive `telemux mcp` / the gateway
//! with it (tests/tests/mcp_client.rs, tests/tests/hostile.rs).
//!
//! The SDK is installed with pip into a venv under the cargo target dir, once,
//! and reused by later runs. Without python3/pip the tests fail loudly (in CI
//! and elsewhere); set TELEMUX_SKIP_PY_MCP=1 to skip them explicitly.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use crate::Cli;

/// The Python MCP SDK version the client scripts are written against.
pub const MCP_VERSION: &str = "2.3.0";

/// How long one client script may run.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

/// Path of a client script in tests/mcp/.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp").join(name)
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

/// Creates (once per `root`, a target tmp dir) a venv with the MCP SDK; returns its python.
fn install_sdk(root: &Path) -> Result<PathBuf, String> {
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

/// The venv's python (installed under `root`, the test's `CARGO_TARGET_TMPDIR`),
/// or `None` when explicitly skipped; panics otherwise.
pub fn python(root: &Path) -> Option<PathBuf> {
    static PY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    if std::env::var_os("TELEMUX_SKIP_PY_MCP").is_some_and(|v| v == "1") {
        eprintln!("SKIPPED: TELEMUX_SKIP_PY_MCP=1, the Python MCP client tests did not run");
        return None;
    }
    match PY.get_or_init(|| install_sdk(root)) {
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

/// What a client script printed.
#[derive(Debug)]
pub struct ScriptOutput {
    /// Whether it exited 0.
    pub success: bool,
    /// Its transcript.
    pub stdout: String,
    /// Tracebacks and the stdio server's stderr.
    pub stderr: String,
}

/// The command that runs `script` with `python` and `args` in the isolated
/// environment of `cli` (its HOME, its `TELEMUX_REDIS__URL` as `redis_url`),
/// so a `telemux mcp` it starts over stdio reaches the same mesh.
pub fn script_command(
    cli: &Cli,
    redis_url: &str,
    python: &Path,
    script: &Path,
    args: &[&str],
) -> tokio::process::Command {
    let home = cli.home();
    let mut cmd = tokio::process::Command::new(python);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TELEMUX_") {
            cmd.env_remove(&key);
        }
    }
    cmd.arg(script)
        .args(args)
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .env("TELEMUX_REDIS__URL", redis_url)
        // Every tool is under test here; tests/tests/mcp_client.rs checks the default.
        .env("TELEMUX_MCP__TOOLSETS", "all")
        .current_dir(home)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs `script` (see [`script_command`]) to the end; the transcript is printed.
pub async fn run_script(
    cli: &Cli,
    redis_url: &str,
    python: &Path,
    script: &Path,
    args: &[&str],
) -> ScriptOutput {
    let mut cmd = script_command(cli, redis_url, python, script, args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawning python");
    let out = tokio::time::timeout(CLIENT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the Python MCP client did not finish in {CLIENT_TIMEOUT:?}"))
        .expect("waiting for python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("--- Python MCP client transcript ({args:?}) ---\n{stdout}");
    ScriptOutput {
        success: out.status.success(),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
