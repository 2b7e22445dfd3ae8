//! A node configuration with agent profiles around the scripted fake TUI
//! agent (tests/agents/fake_agent.py) and one named project, for the agent
//! scenarios: give its [`AgentConfig::path`] to nodes as `TELEMUX_CONFIG`.
//!
//! Profiles: `fake` (its own patterns, no hooks), `pasty` (the same fake
//! taking an Enter within 400 ms of typing as a newline, submitted with no
//! delay, so its first Enter never submits) and `claude` (the built-in
//! Claude Code patterns and `--settings` hooks, with the fake as its
//! command — the fake runs the hooks like Claude Code does). Project:
//! `proj`, an empty temporary directory.

use std::path::PathBuf;

use tempfile::TempDir;

use crate::Mesh;

/// The fake agent script.
pub const FAKE_AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/agents/fake_agent.py");

/// A config file and the project directory it names; removed on drop.
pub struct AgentConfig {
    dir: TempDir,
}

impl AgentConfig {
    /// Writes the config into a fresh temporary directory.
    pub fn new() -> AgentConfig {
        let dir = tempfile::Builder::new()
            .prefix("telemux-agents-")
            .tempdir()
            .expect("temp dir");
        let proj = dir.path().join("proj");
        std::fs::create_dir_all(&proj).expect("project dir");
        let patterns = r#"working = ["esc to interrupt"]
waiting = ["Do you want to proceed"]
idle = ['^\s*│ > ']
idle_settle_ms = 300
user_line = '^\s*> '
answer_prefix = '^\s*⏺ ?'
chrome = ['^[\s─│╭╮╰╯]*$', 'for shortcuts', 'FakeAgent v1']"#;
        let toml = format!(
            r#"[agents.fake]
command = ["python3", "{FAKE_AGENT}"]
{patterns}

[agents.pasty]
command = ["python3", "{FAKE_AGENT}", "--paste-window-ms", "400"]
submit_delay_ms = 0
{patterns}

# The built-in claude profile (patterns, --settings hooks) around the fake.
[agents.claude]
command = ["python3", "{FAKE_AGENT}"]

[projects]
proj = "{}"
"#,
            proj.display()
        );
        std::fs::write(dir.path().join("telemux.toml"), toml).expect("config");
        AgentConfig { dir }
    }

    /// Path of the config file (`TELEMUX_CONFIG`).
    pub fn path(&self) -> String {
        self.dir.path().join("telemux.toml").display().to_string()
    }

    /// The directory project `proj` stands for.
    pub fn project(&self) -> PathBuf {
        self.dir.path().join("proj")
    }

    /// A mesh whose nodes all run with this config.
    pub async fn mesh(&self, names: &[&str]) -> Mesh {
        Mesh::start_with_env(names, &[("TELEMUX_CONFIG", &self.path())]).await
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig::new()
    }
}
