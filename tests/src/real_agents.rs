//! The real coding-agent CLIs (Claude Code, Codex, Gemini CLI) run offline against
//! a scripted fake model server, for the scenarios that drive them through telemux.
//!
//! * [`CLAUDE`], [`CODEX`], [`GEMINI`]: the pinned npm packages, in one place.
//! * [`install`]: installs a CLI once per machine into a shared cache
//!   (`$TELEMUX_AGENT_CACHE`, else `$XDG_CACHE_HOME/telemux-test-agents`, else
//!   `~/.cache/telemux-test-agents`), as `<cache>/<name>-<version>/node_modules/.bin/<bin>`.
//! * [`FakeModel`]: `tests/agents/fake_model.py`, one loopback server speaking the
//!   Anthropic Messages, OpenAI Responses and Gemini APIs, scripted per test.
//! * [`AgentHome`]: a HOME configured so that none of the three shows a login,
//!   onboarding or trust screen, and [`AgentHome::env`] to point them at the fake.
//!
//! What the CLIs send and show offline is in /work/shared/agents-offline/REPORT.md
//! (gathered by hand); the config written here is the minimum found there.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use tempfile::TempDir;

/// One agent CLI as an npm package at a pinned version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentCli {
    /// Short name, the stem of its cache directory (`<name>-<version>`).
    pub name: &'static str,
    /// The npm package.
    pub package: &'static str,
    /// The pinned version: a plain install once resolved an old Claude Code from a
    /// stale npm cache, so the version is always explicit.
    pub version: &'static str,
    /// The executable under `node_modules/.bin`.
    pub bin: &'static str,
    /// Arguments the scenarios always run it with (see [`argv`]).
    pub args: &'static [&'static str],
}

/// Claude Code. `--permission-mode default`: this version defaults to "auto" mode,
/// which runs the tool without the permission prompt the tests need.
pub const CLAUDE: AgentCli = AgentCli {
    name: "claude-code",
    package: "@anthropic-ai/claude-code",
    version: "2.1.332",
    bin: "claude",
    args: &["--permission-mode", "default"],
};

/// OpenAI Codex CLI. `--no-daemon` keeps it from leaving a background
/// app-server behind (which also made requests with a stale environment).
/// (telemux itself adds `--dangerously-bypass-hook-trust` with its hooks.)
pub const CODEX: AgentCli = AgentCli {
    name: "codex",
    package: "@openai/codex",
    version: "0.171.0",
    bin: "codex",
    args: &["--no-daemon"],
};

/// Google Gemini CLI.
pub const GEMINI: AgentCli = AgentCli {
    name: "gemini-cli",
    package: "@google/gemini-cli",
    version: "0.61.0",
    bin: "gemini",
    args: &[],
};

/// All three CLIs.
pub const ALL: [AgentCli; 3] = [CLAUDE, CODEX, GEMINI];

/// The fake model server script.
pub const FAKE_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/agents/fake_model.py");

/// Variables that would make an agent ignore the fake or ask about a key; remove
/// them (`Command::env_remove`) from whatever runs the agents, on top of
/// [`AgentHome::env`].
pub const CONFLICTING_ENV: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "CLAUDE_CONFIG_DIR",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GOOGLE_API_KEY",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_APPLICATION_CREDENTIALS",
];

/// Where the CLIs are installed, shared by every checkout and test run on the machine.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TELEMUX_AGENT_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("telemux-test-agents");
    }
    let home = std::env::var_os("HOME").expect("HOME is not set; set TELEMUX_AGENT_CACHE");
    PathBuf::from(home).join(".cache/telemux-test-agents")
}

/// Path of the CLI's executable once installed (it may not exist yet).
pub fn bin_path(cli: &AgentCli) -> PathBuf {
    cache_dir()
        .join(format!("{}-{}", cli.name, cli.version))
        .join("node_modules/.bin")
        .join(cli.bin)
}

/// Installs `cli` into the cache unless it is already there, and returns its executable.
///
/// npm installs into a temporary sibling that is renamed into place, so a
/// half-finished install is never used, and an exclusive lock on
/// `<name>-<version>.lock` makes concurrent test processes wait for one install
/// instead of racing. Panics (with install instructions) when npm is missing or fails.
pub fn install(cli: &AgentCli) -> PathBuf {
    let bin = bin_path(cli);
    if bin.exists() {
        return bin;
    }
    let cache = cache_dir();
    std::fs::create_dir_all(&cache)
        .unwrap_or_else(|e| panic!("creating the agent cache {}: {e}", cache.display()));
    let stem = format!("{}-{}", cli.name, cli.version);
    let _lock = FileLock::acquire(&cache.join(format!("{stem}.lock")));
    // Another process may have finished the install while this one waited.
    if bin.exists() {
        return bin;
    }
    if crate::find_in_path("npm").is_none() {
        let hint = if std::env::var_os("CI").is_some() {
            "CI must install Node.js 20+ with npm (see .ci/run)"
        } else {
            "install Node.js 20+ with npm, e.g. `sudo apt-get install -y nodejs npm` or \
             `brew install node`"
        };
        panic!(
            "the real-agent tests install {}@{} with npm, which is not on PATH; {hint}",
            cli.package, cli.version
        );
    }
    let tmp = cache.join(format!("{stem}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let log_path = cache.join(format!("{stem}.log"));
    let log =
        File::create(&log_path).unwrap_or_else(|e| panic!("creating {}: {e}", log_path.display()));
    let status = Command::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(&tmp)
        .args(["--no-audit", "--no-fund"])
        .arg(format!("{}@{}", cli.package, cli.version))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log)
        .status()
        .unwrap_or_else(|e| panic!("running npm: {e}"));
    let installed = tmp.join("node_modules/.bin").join(cli.bin);
    if !status.success() || !installed.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
        let out = std::fs::read_to_string(&log_path).unwrap_or_default();
        panic!(
            "npm install {}@{} failed ({status}); its output ({}):\n{out}",
            cli.package,
            cli.version,
            log_path.display()
        );
    }
    let dest = cache.join(&stem);
    // A leftover directory without the executable is a broken earlier install.
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::rename(&tmp, &dest)
        .unwrap_or_else(|e| panic!("moving {} to {}: {e}", tmp.display(), dest.display()));
    bin
}

/// The command line that runs `cli` the way the scenarios need it (installing it first).
pub fn argv(cli: &AgentCli) -> Vec<String> {
    let mut argv = vec![install(cli).display().to_string()];
    argv.extend(cli.args.iter().map(|a| a.to_string()));
    argv
}

/// An exclusive `flock(2)` on a file, released when dropped (or when the process dies).
struct FileLock {
    file: File,
}

impl FileLock {
    fn acquire(path: &Path) -> FileLock {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("opening lock file {}: {e}", path.display()));
        loop {
            // SAFETY: flock(2) on a descriptor we own; no memory is shared with the kernel.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return FileLock { file };
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                panic!("locking {}: {err}", path.display());
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // SAFETY: as above; closing the file would release the lock anyway.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// The fake model server (`tests/agents/fake_model.py`) on a free loopback port;
/// killed on drop.
///
/// Scripted by a JSON file the server re-reads on every request (see the script's
/// docstring): `text`, `tool_cmd`, `delay_s`, `error`, `side_text`. Every request
/// it received is in [`FakeModel::requests`].
///
/// Scripted errors: Claude (with [`AgentHome::env`]) and Codex show any status at
/// once. Gemini CLI retries 429 and 5xx with backoff and then "falls back" to the
/// same model, resetting its attempts, so such an error never reaches its screen;
/// give Gemini a 4xx such as 400 (`✕ [API Error: {"error":{"code":400,...}}]`).
pub struct FakeModel {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl FakeModel {
    /// Starts the server with `script` (e.g. `json!({"delay_s": 1.5})`; `{}` gives the
    /// defaults) and waits for it to report its port.
    pub fn start(script: &Value) -> FakeModel {
        let dir = tempfile::Builder::new()
            .prefix("telemux-fake-model-")
            .tempdir()
            .expect("temp dir");
        write_atomic(&dir.path().join("script.json"), script);
        let stderr = File::create(dir.path().join("stderr.txt")).expect("stderr file");
        let mut child = Command::new("python3")
            .arg(FAKE_MODEL)
            .arg(dir.path().join("script.json"))
            .arg(dir.path().join("requests.jsonl"))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("starting python3 {FAKE_MODEL}: {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        // The script prints its port before serving, or dies (EOF): this cannot hang.
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Some(port) = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            let err = std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap_or_default();
            panic!("fake model server did not report a port (got {line:?}); stderr:\n{err}");
        };
        FakeModel { child, port, dir }
    }

    /// Base URL, `http://127.0.0.1:<port>` (no path, no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Replaces the script; the next request already uses it.
    pub fn set_script(&self, script: &Value) {
        write_atomic(&self.dir.path().join("script.json"), script);
    }

    /// Every request so far, oldest first: `{t, method, path, headers, body, kind}`,
    /// `kind` being `main` (offers tools), `side` (no tools, e.g. a title), `router`
    /// (Gemini's model choice), `count_tokens`, `head`, `get` or `unknown`.
    pub fn requests(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        // A line being appended right now is incomplete; it shows up next time.
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The request log (JSON lines), for debugging a failed test.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("requests.jsonl")
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes JSON so that a concurrent reader sees the old or the new file, never half.
fn write_atomic(path: &Path, value: &Value) {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(value).expect("json"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("renaming {}: {e}", tmp.display()));
}

/// A temporary HOME for the three agents, with the project directory `proj` inside;
/// removed on drop.
///
/// It holds what each CLI needs to start straight at its prompt: Claude's
/// onboarding/theme/trust flags, Gemini's auth type with folder trust off, and
/// Codex's trusted project (its provider, which names the fake's port, is written by
/// [`AgentHome::env`]). No hooks: telemux installs its own.
#[derive(Debug)]
pub struct AgentHome {
    /// Owns the directory (removed on drop); `home` is its canonical path.
    _dir: TempDir,
    home: PathBuf,
}

impl AgentHome {
    /// Creates and configures the HOME.
    pub fn new() -> AgentHome {
        let dir = tempfile::Builder::new()
            .prefix("telemux-agent-home-")
            .tempdir()
            .expect("temp dir");
        // The agents key their per-project state by the real path (macOS /tmp is a link).
        let home = dir.path().canonicalize().expect("canonical home");
        let proj = home.join("proj");
        for d in [proj.clone(), home.join(".claude"), home.join(".codex")] {
            std::fs::create_dir_all(&d).expect("agent home dirs");
        }
        let proj_key = proj.display().to_string();
        write_json(
            &home.join(".claude.json"),
            &json!({
                "hasCompletedOnboarding": true,
                "theme": "dark",
                "projects": { proj_key: {
                    "hasTrustDialogAccepted": true,
                    "hasCompletedProjectOnboarding": true,
                }},
            }),
        );
        write_json(&home.join(".claude/settings.json"), &json!({}));
        write_json(
            &home.join(".gemini/settings.json"),
            &json!({
                "security": {
                    "auth": { "selectedType": "gemini-api-key" },
                    "folderTrust": { "enabled": false },
                },
                "privacy": { "usageStatisticsEnabled": false },
                "general": { "enableAutoUpdate": false, "enableAutoUpdateNotification": false },
                "ide": { "enabled": false },
                "telemetry": { "enabled": false },
                "ui": { "theme": "Default" },
            }),
        );
        AgentHome { _dir: dir, home }
    }

    /// The HOME directory.
    pub fn path(&self) -> &Path {
        &self.home
    }

    /// The project directory the agents trust (`<home>/proj`).
    pub fn project(&self) -> PathBuf {
        self.home.join("proj")
    }

    /// `CODEX_HOME` (`<home>/.codex`).
    pub fn codex_home(&self) -> PathBuf {
        self.home.join(".codex")
    }

    /// The environment that points all three agents at `model`; whatever runs them
    /// (the node under test, whose tmux sessions inherit it) should also remove
    /// [`CONFLICTING_ENV`]. Installs the CLIs if needed, and (re)writes Codex's
    /// `config.toml` for `model`, because Codex reads a provider's URL only from there.
    pub fn env(&self, model: &FakeModel) -> Vec<(String, String)> {
        self.write_codex_config(model);
        let url = model.url();
        let mut path: Vec<PathBuf> = ALL
            .iter()
            .map(|cli| install(cli).parent().expect("bin dir").to_path_buf())
            .collect();
        if let Some(node) = crate::find_in_path("node") {
            path.push(node.parent().expect("node dir").to_path_buf());
        }
        if let Some(inherited) = std::env::var_os("PATH") {
            path.extend(std::env::split_paths(&inherited));
        }
        let mut unique = Vec::new();
        for dir in path {
            if !unique.contains(&dir) {
                unique.push(dir);
            }
        }
        let path = std::env::join_paths(unique).expect("PATH entries");
        let pairs: [(&str, String); 19] = [
            ("HOME", self.home.display().to_string()),
            ("CODEX_HOME", self.codex_home().display().to_string()),
            ("PATH", path.to_string_lossy().into_owned()),
            ("ANTHROPIC_BASE_URL", url.clone()),
            // A bearer token, not ANTHROPIC_API_KEY, which asks "use this API key?".
            ("ANTHROPIC_AUTH_TOKEN", "fake-token".into()),
            ("FAKE_API_KEY", "fake-key".into()),
            ("GEMINI_API_KEY", "fake-key".into()),
            ("GOOGLE_GEMINI_BASE_URL", url),
            // Gemini would otherwise re-exec itself in a child node process.
            ("GEMINI_CLI_NO_RELAUNCH", "1".into()),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
            // Claude retries a 5xx/529 ten times with backoff (minutes); a scripted
            // error should show at once, as Codex's retries = 0 makes it there.
            ("CLAUDE_CODE_MAX_RETRIES", "0".into()),
            ("DISABLE_AUTOUPDATER", "1".into()),
            ("DISABLE_TELEMETRY", "1".into()),
            ("DISABLE_ERROR_REPORTING", "1".into()),
            (
                "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL",
                "1".into(),
            ),
            ("TERM", "xterm-256color".into()),
            // Gemini warns about missing 24-bit colour without it.
            ("COLORTERM", "truecolor".into()),
            ("LANG", "C.UTF-8".into()),
            ("NO_UPDATE_NOTIFIER", "1".into()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn write_codex_config(&self, model: &FakeModel) {
        // Codex 0.171 rejects approval_policy "untrusted" and wire_api "chat";
        // retries are off so a scripted error shows at once.
        let toml = format!(
            r#"model = "fake-model"
model_provider = "fake"
approval_policy = "on-request"
sandbox_mode = "workspace-write"
check_for_update_on_startup = false

[model_providers.fake]
name = "Fake"
base_url = "{url}/v1"
env_key = "FAKE_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[projects."{proj}"]
trust_level = "trusted"

[analytics]
enabled = false
"#,
            url = model.url(),
            proj = self.project().display(),
        );
        let path = self.codex_home().join("config.toml");
        std::fs::write(&path, toml).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}

impl Default for AgentHome {
    fn default() -> Self {
        AgentHome::new()
    }
}

fn write_json(path: &Path, value: &Value) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("config dir");
    }
    std::fs::write(path, serde_json::to_vec_pretty(value).expect("json"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// One POST over a plain socket (the fake closes every connection); returns the body.
    fn post(model: &FakeModel, path: &str, body: &Value) -> String {
        let body = body.to_string();
        let mut s = std::net::TcpStream::connect(("127.0.0.1", model.port())).expect("connect");
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    }

    /// The concatenated text deltas of an SSE answer, whatever the API.
    fn streamed_text(sse: &str) -> String {
        sse.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| {
                let text = v["delta"]["text"].as_str().map(str::to_string);
                let text = text.or_else(|| v["delta"].as_str().map(str::to_string));
                text.or_else(|| {
                    v["candidates"][0]["content"]["parts"][0]["text"]
                        .as_str()
                        .map(str::to_string)
                })
            })
            .collect()
    }

    #[test]
    fn fake_model_speaks_the_three_apis() {
        let model = FakeModel::start(&json!({}));
        let tools = json!([{"name": "x"}]);

        // Claude: the last *user* message counts, even before a trailing system one.
        let ask = json!({"model": "m", "stream": true, "tools": tools, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "run the TOOL"}]},
            {"role": "system", "content": "reminder"}]});
        let sse = post(&model, "/v1/messages?beta=true", &ask);
        assert_eq!(streamed_text(&sse), "I will run a command.");
        assert!(sse.contains(r#""name": "Bash""#), "{sse}");
        let result = json!({"model": "m", "stream": true, "tools": tools, "messages": [
            {"role": "user", "content": [{"type": "tool_result", "content": "hi"}]}]});
        let sse = post(&model, "/v1/messages", &result);
        assert_eq!(streamed_text(&sse), "Tool said: hi. Done.");

        // Codex: the tool output is cut down to what follows "Output:".
        let output = "Chunk ID: 1\nProcess exited with code 0\nOutput:\nhi\n";
        let result = json!({"model": "m", "tools": tools, "input": [
            {"type": "function_call_output", "call_id": "c", "output": output}]});
        let sse = post(&model, "/v1/responses", &result);
        assert_eq!(streamed_text(&sse), "Tool said: hi. Done.");
        assert!(sse.contains(r#""output_tokens": 20"#), "{sse}");

        // Gemini: the router gets its JSON; a plain prompt gets the scripted text.
        model.set_script(&json!({"text": "Scripted."}));
        let schema = json!({"type": "object", "properties": {
            "complexity_reasoning": {"type": "string"}, "complexity_score": {"type": "integer"}}});
        let router = json!({"contents": [], "generationConfig": {"responseJsonSchema": schema}});
        let reply = post(&model, "/v1beta/models/r:generateContent", &router);
        assert!(
            reply.contains(r#"{\"complexity_reasoning\":\"simple\",\"complexity_score\":1}"#),
            "{reply}"
        );
        let ask =
            json!({"tools": tools, "contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
        let sse = post(
            &model,
            "/v1beta/models/m:streamGenerateContent?alt=sse",
            &ask,
        );
        assert_eq!(streamed_text(&sse), "Scripted.");

        // A scripted error answers main requests in the API's own shape.
        model.set_script(&json!({"error": 529}));
        let reply = post(&model, "/v1/messages", &ask_claude_text(&tools));
        assert!(reply.starts_with("HTTP/1.1 529"), "{reply}");
        assert!(reply.contains("overloaded_error"), "{reply}");

        let kinds: Vec<String> = model
            .requests()
            .iter()
            .map(|r| r["kind"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(kinds, ["main", "main", "main", "router", "main", "main"]);
    }

    fn ask_claude_text(tools: &Value) -> Value {
        json!({"model": "m", "stream": true, "tools": tools,
               "messages": [{"role": "user", "content": "hello"}]})
    }
}
