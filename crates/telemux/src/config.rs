//! Configuration: one TOML file plus `TELEMUX_*` environment overrides (figment).
//!
//! Every key is listed in config/telemux.example.toml. Unknown keys are errors,
//! so a typo never silently falls back to a default. Secrets may come from
//! `*_file` keys and are never printed (`config show` redacts them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use telemux_bus::{Bus, BusError, ConnectOptions, TlsOptions};

mod describe;
use describe::describe;

/// The whole configuration file. Its `Debug` shows the redacted copy, so a
/// stray `{:?}` in a log line cannot print a secret.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// This machine's name in the mesh (default: the short host name).
    pub computer: Option<String>,
    /// Where Redis is.
    pub redis: RedisSection,
    /// The tmux server the node owns.
    pub tmux: TmuxSection,
    /// Node daemon settings.
    pub node: NodeSection,
    /// How much session output Redis keeps, and for how long.
    pub output: OutputSection,
    /// Telegram bot settings.
    pub telegram: TelegramSection,
    /// MCP server settings.
    pub mcp: McpSection,
    /// Mesh-wide security settings.
    pub mesh: MeshSection,
    /// Agent profiles by name; fields override the built-in `claude`,
    /// `codex` and `gemini` profiles, other names define new agents. Also
    /// `suspend_after` (seconds): stop an agent idle that long.
    pub agents: AgentsSection,
    /// Named directories on this computer (`api = "~/apps/api"`).
    pub projects: BTreeMap<String, String>,
    /// `telemux tui` and `telemux attach`.
    pub tui: TuiSection,
    /// What `cp`, `read_file` and `write_file` may touch on this computer.
    pub files: FilesSection,
}

/// `[files]`: the directories this computer's node serves to file ops.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesSection {
    /// Directories files may be read from and written to (`~` allowed);
    /// default: the home directory; empty: none.
    pub roots: Vec<String>,
    /// Largest file read or written, in bytes (default 50 MiB).
    pub max_bytes: u64,
}
impl Default for FilesSection {
    fn default() -> Self {
        FilesSection {
            roots: vec!["~".into()],
            max_bytes: telemux_node::DEFAULT_FILES_MAX_BYTES,
        }
    }
}

/// `[tui]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TuiSection {
    /// Lines of scrollback the dashboard's preview keeps above its screen.
    pub scrollback: usize,
    /// The key that ends `attach`: `C-<char>` or a character, optionally
    /// followed by a second one (`"C-\\ d"` = Ctrl-\\ then d).
    pub detach_key: String,
}
impl Default for TuiSection {
    fn default() -> Self {
        TuiSection {
            scrollback: 1000,
            detach_key: "C-\\ d".into(),
        }
    }
}

/// `[agents]`: profiles by name, plus the settings for all agents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AgentsSection {
    /// Seconds an agent may idle before it is stopped to free its memory
    /// (the next input resumes its conversation); unset or 0: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend_after: Option<u64>,
    /// Profiles by name.
    #[serde(flatten)]
    pub profiles: BTreeMap<String, telemux_node::AgentSpec>,
}

/// `[redis]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSection {
    /// `redis://`, `rediss://` or `redis+unix://` URL; unset: `telemux up` runs a private one.
    pub url: Option<String>,
    /// File holding the URL (it may contain a password).
    pub url_file: Option<PathBuf>,
    /// PEM CA bundle trusted for `rediss://` *instead of* the system roots.
    pub tls_ca_file: Option<PathBuf>,
    /// PEM client certificate for Redis `tls-auth-clients` (with `tls_key_file`).
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file` (the path is shown, the contents never).
    pub tls_key_file: Option<PathBuf>,
}

/// `[tmux]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TmuxSection {
    /// `tmux -L` socket name.
    pub socket: String,
}
impl Default for TmuxSection {
    fn default() -> Self {
        TmuxSection {
            socket: "telemux".into(),
        }
    }
}

/// `[node]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSection {
    /// Heartbeat period in ms; offline after three missed.
    pub heartbeat_ms: u64,
    /// Entries kept per session output stream.
    pub output_maxlen: usize,
    /// Output records a session keeps while Redis is unreachable.
    pub outbox_records: usize,
    /// Shell for new sessions (default: $SHELL).
    pub shell: Option<PathBuf>,
    /// Directory for state (private Redis, shell integration); default ~/.local/state/telemux.
    pub state_dir: Option<PathBuf>,
    /// Delay between typed text and Enter in sessions without an agent
    /// profile, ms (default 0: both in one tmux call; agents use their
    /// profile's `submit_delay_ms`).
    pub enter_delay_ms: u64,
    /// How long a message typed from the mailbox may go untaken before it
    /// is typed again (ms; an agent takes it by starting to work).
    pub accept_within_ms: u64,
}
impl Default for NodeSection {
    fn default() -> Self {
        NodeSection {
            heartbeat_ms: 2000,
            output_maxlen: 2000,
            outbox_records: 4096,
            shell: None,
            state_dir: None,
            enter_delay_ms: 0,
            accept_within_ms: 15_000,
        }
    }
}

/// `[output]`: the bounds of each session's output stream in Redis.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSection {
    /// Seconds the output stream of a session that ended is kept (0: removed
    /// at once, after a short grace for readers).
    pub retention: u64,
    /// Encoded bytes of records kept per output stream; older ones are trimmed.
    pub max_bytes: u64,
}
impl Default for OutputSection {
    fn default() -> Self {
        OutputSection {
            retention: 7 * 24 * 3600,
            max_bytes: 8 * 1024 * 1024,
        }
    }
}

/// `[telegram]`
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramSection {
    /// Bot token (secret).
    pub token: Option<String>,
    /// File holding the bot token.
    pub token_file: Option<PathBuf>,
    /// Bot API base URL.
    pub api_url: String,
    /// Telegram user ids allowed to do anything.
    pub allowed_users: Vec<i64>,
    /// Forum supergroup for session topics.
    pub chat_id: Option<i64>,
    /// Poller lease TTL in ms: a second gateway takes over this long after the first dies.
    pub lease_ms: u64,
    /// `getUpdates` long-poll timeout in seconds.
    pub poll_timeout_s: u64,
    /// Least time between two calls into one chat, ms (Telegram: about one per second).
    pub edit_interval_ms: u64,
    /// New messages per minute into one group (Telegram: about 20).
    pub group_messages_per_minute: usize,
    /// Speech-to-text for voice notes: a program and its arguments (a TOML
    /// array, or one string split like a shell would); the audio file's path
    /// is added last and the text is read from its stdout.
    pub stt_command: Option<SttCommand>,
}

/// `telegram.stt_command`: `["whisper-cli", "-f"]` or `"whisper-cli -f"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SttCommand {
    /// The program and its arguments.
    Argv(Vec<String>),
    /// One string, split like a shell would.
    Line(String),
}
impl Default for TelegramSection {
    fn default() -> Self {
        TelegramSection {
            token: None,
            token_file: None,
            api_url: "https://api.telegram.org".into(),
            allowed_users: Vec::new(),
            chat_id: None,
            lease_ms: 5000,
            poll_timeout_s: 25,
            edit_interval_ms: 1000,
            group_messages_per_minute: 20,
            stt_command: None,
        }
    }
}

/// `[mcp]`
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpSection {
    /// `host:port` for MCP over streamable HTTP.
    pub listen: Option<String>,
    /// Bearer token required on HTTP (secret).
    pub token: Option<String>,
    /// File holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// Largest `timeout_s` a tool call may ask for (`run_command`, `wait_for`).
    pub max_timeout_s: u64,
    /// Quiet period after which `wait_for until=idle` reports idle, ms.
    pub idle_ms: u64,
    /// Tools listed: comma-separated toolsets or "all"; empty = "core,agents".
    pub toolsets: String,
    /// List each tool's output schema too (typed clients; costs context).
    pub output_schemas: bool,
}
impl Default for McpSection {
    fn default() -> Self {
        McpSection {
            listen: None,
            token: None,
            token_file: None,
            max_timeout_s: 600,
            idle_ms: 2000,
            toolsets: String::new(),
            output_schemas: false,
        }
    }
}

/// `[mesh]`
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeshSection {
    /// Shared secret for signed commands (secret).
    pub key: Option<String>,
    /// File holding the mesh key.
    pub key_file: Option<PathBuf>,
    /// Largest accepted clock difference for a signed command, ms.
    pub max_skew_ms: u64,
}
impl Default for MeshSection {
    fn default() -> Self {
        MeshSection {
            key: None,
            key_file: None,
            max_skew_ms: 30_000,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_string(&self.redacted()) {
            Ok(json) => write!(f, "Config {json}"),
            Err(_) => f.write_str("Config { .. }"),
        }
    }
}

/// The default config file path: `$XDG_CONFIG_HOME/telemux/telemux.toml`.
pub fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("telemux").join("telemux.toml")
}

/// Exit code for a failed connection: a TLS file or setting that cannot be
/// used, or a Redis URL of the wrong form, is a configuration error (2);
/// anything else is a remote failure (1).
pub fn connect_exit_code(e: &BusError) -> i32 {
    match e {
        BusError::TlsFile { .. } | BusError::Tls(_) | BusError::BadUrl { .. } => crate::EXIT_USAGE,
        _ => crate::EXIT_REMOTE,
    }
}

impl Config {
    /// Loads from `explicit` (or `TELEMUX_CONFIG`, or the default path when it
    /// exists) and the environment.
    pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>)> {
        let env_path = std::env::var_os("TELEMUX_CONFIG").map(PathBuf::from);
        let path = explicit.map(Path::to_path_buf).or(env_path.clone());
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        let used = match path {
            Some(p) => {
                if !p.exists() {
                    bail!(
                        "config file {} does not exist; create it from config/telemux.example.toml or drop --config/TELEMUX_CONFIG",
                        p.display()
                    );
                }
                fig = fig.merge(Toml::file(&p));
                Some(p)
            }
            None => {
                let p = default_path();
                if p.exists() {
                    fig = fig.merge(Toml::file(&p));
                    Some(p)
                } else {
                    None
                }
            }
        };
        fig = fig.merge(Env::prefixed("TELEMUX_").split("__").ignore(&["config"]));
        let cfg: Config = fig.extract().map_err(|e| {
            let where_ = used
                .as_ref()
                .map(|p| format!(" in {}", p.display()))
                .unwrap_or_default();
            anyhow::anyhow!("invalid configuration{where_}: {}", describe(e))
        })?;
        Ok((cfg, used))
    }

    /// The state directory (private Redis socket, shell integration files).
    pub fn state_dir(&self) -> PathBuf {
        if let Some(d) = &self.node.state_dir {
            return d.clone();
        }
        std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join("telemux")
    }

    /// The unix socket `telemux up` gives its private Redis.
    pub fn private_redis_socket(&self) -> PathBuf {
        self.state_dir().join("redis.sock")
    }

    /// The Redis URL from `redis.url`, `redis.url_file`, or a running `telemux up`.
    pub fn redis_url(&self) -> Result<String> {
        if let Some(u) = &self.redis.url {
            return Ok(u.clone());
        }
        if let Some(f) = &self.redis.url_file {
            let u = std::fs::read_to_string(f)
                .with_context(|| format!("reading redis.url_file {}", f.display()))?;
            return Ok(u.trim().to_string());
        }
        let sock = self.private_redis_socket();
        if sock.exists() {
            return Ok(format!("redis+unix://{}", sock.display()));
        }
        bail!(
            "no Redis configured: set redis.url (or TELEMUX_REDIS__URL), or start `telemux up` on this computer (it runs a private Redis at {})",
            sock.display()
        )
    }

    /// How to connect to `url` beyond the URL itself: the `redis.tls_*` files.
    ///
    /// A certificate without its key (or the reverse) is refused here, before
    /// any connection, so it is reported as a configuration error.
    pub fn connect_options(&self) -> Result<ConnectOptions> {
        let r = &self.redis;
        let tls = TlsOptions {
            ca_file: r.tls_ca_file.clone(),
            cert_file: r.tls_cert_file.clone(),
            key_file: r.tls_key_file.clone(),
        };
        tls.check().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(ConnectOptions { tls })
    }

    /// Connects to the mesh's Redis at `url` with [`Config::connect_options`];
    /// on failure prints the reason and returns the exit code (2 for a
    /// configuration problem such as an unusable TLS file, 1 otherwise).
    pub async fn connect_bus(&self, url: &str) -> std::result::Result<Bus, i32> {
        let options = self.connect_options().map_err(|e| {
            eprintln!("telemux: {e:#}");
            crate::EXIT_USAGE
        })?;
        Bus::connect_with(url, &options).await.map_err(|e| {
            eprintln!("telemux: {e}");
            connect_exit_code(&e)
        })
    }

    /// This computer's name: `computer`, else the short host name.
    pub fn computer_name(&self) -> Result<telemux_proto::ComputerName> {
        let raw = match &self.computer {
            Some(c) => c.clone(),
            None => {
                let h = Some(telemux_node::host_name())
                    .filter(|h| !h.is_empty())
                    .or_else(|| {
                        std::process::Command::new("hostname")
                            .output()
                            .ok()
                            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                    })
                    .unwrap_or_else(|| "localhost".into());
                h.trim()
                    .split('.')
                    .next()
                    .unwrap_or("localhost")
                    .to_string()
            }
        };
        telemux_proto::ComputerName::new(&raw).with_context(|| {
            "set a valid `computer = \"...\"` in the config or TELEMUX_COMPUTER".to_string()
        })
    }

    /// The mesh key from `mesh.key` or `mesh.key_file`, if configured.
    pub fn mesh_key(&self) -> Result<Option<telemux_proto::MeshKey>> {
        let secret = match (&self.mesh.key, &self.mesh.key_file) {
            (Some(k), _) => k.trim().to_string(),
            (None, Some(f)) => std::fs::read_to_string(f)
                .with_context(|| format!("reading mesh.key_file {}", f.display()))?
                .trim()
                .to_string(),
            (None, None) => return Ok(None),
        };
        Ok(Some(
            telemux_proto::MeshKey::new(secret.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?,
        ))
    }

    /// A copy safe to print: every secret replaced by `***`.
    pub fn redacted(&self) -> Config {
        let mut c = self.clone();
        let hide = |s: &mut Option<String>| {
            if s.is_some() {
                *s = Some("***".into());
            }
        };
        hide(&mut c.telegram.token);
        hide(&mut c.mcp.token);
        hide(&mut c.mesh.key);
        if let Some(u) = &c.redis.url {
            c.redis.url = Some(telemux_bus::redact_url(u));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_toml(text: &str) -> String {
        let fig = Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text));
        match fig.extract::<Config>() {
            Ok(_) => String::new(),
            Err(e) => describe(e),
        }
    }

    #[test]
    fn stt_command_is_an_array_or_one_string() {
        let load = |text: &str| {
            Figment::from(Serialized::defaults(Config::default()))
                .merge(Toml::string(text))
                .extract::<Config>()
                .expect("a valid config")
                .telegram
                .stt_command
        };
        assert!(load("").is_none());
        assert!(matches!(
            load("[telegram]\nstt_command = [\"whisper-cli\", \"-f\"]\n"),
            Some(SttCommand::Argv(v)) if v == ["whisper-cli", "-f"]
        ));
        assert!(matches!(
            load("[telegram]\nstt_command = \"sh /opt/stt.sh\"\n"),
            Some(SttCommand::Line(s)) if s == "sh /opt/stt.sh"
        ));
    }

    #[test]
    fn misspelled_key_names_the_nearest_valid_key() {
        let msg = load_toml("[redis]\nulr = \"x\"\n");
        assert_eq!(msg, "unknown key 'redis.ulr'; did you mean 'redis.url'?");
        let msg = load_toml("[node]\nheartbeat = 5\n");
        assert!(msg.contains("did you mean 'node.heartbeat_ms'?"), "{msg}");
        let msg = load_toml("[redsi]\nurl = \"x\"\n");
        assert!(
            msg.contains("unknown key 'redsi'; did you mean 'redis'?"),
            "{msg}"
        );
    }

    #[test]
    fn misspelled_tls_keys_name_the_nearest_valid_key() {
        for (typo, key) in [
            ("tls_cafile", "redis.tls_ca_file"),
            ("tls_ca", "redis.tls_ca_file"),
            ("tls_cert", "redis.tls_cert_file"),
            ("tls_key", "redis.tls_key_file"),
        ] {
            let msg = load_toml(&format!("[redis]\n{typo} = \"x\"\n"));
            assert!(
                msg.contains(&format!("did you mean '{key}'?")),
                "{typo}: {msg}"
            );
        }
    }

    #[test]
    fn client_certificate_needs_its_key() {
        let mut cfg = Config::default();
        cfg.redis.tls_cert_file = Some("/etc/telemux/client.pem".into());
        let e = cfg.connect_options().unwrap_err().to_string();
        assert!(e.contains("redis.tls_key_file is not"), "{e}");
        cfg.redis.tls_key_file = Some("/etc/telemux/client.key".into());
        assert!(cfg.connect_options().unwrap().tls.has_client_cert());
    }

    #[test]
    fn wrong_type_names_the_key() {
        let msg = load_toml("[node]\nheartbeat_ms = \"x\"\n");
        assert_eq!(
            msg,
            "invalid type: found string \"x\", expected u64 for key 'node.heartbeat_ms'"
        );
    }

    #[test]
    fn secrets_of_the_wrong_type_are_not_quoted() {
        let msg = load_toml("[mesh]\nkey = 1234567890123456\n");
        assert!(!msg.contains("1234567890123456"), "{msg}");
        assert!(msg.starts_with("mesh.key must be a string"), "{msg}");
        assert!(msg.contains("mesh.key_file"), "{msg}");
        let msg = load_toml("[telegram]\ntoken = [\"S3CRET\"]\n");
        assert!(
            !msg.contains("S3CRET") && msg.contains("telegram.token"),
            "{msg}"
        );
    }

    #[test]
    fn toml_syntax_errors_do_not_quote_the_line() {
        let msg = load_toml("[telegram]\ntoken = \"S3CRET-unterminated\n");
        assert!(!msg.contains("S3CRET"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn debug_output_is_redacted() {
        let mut c = Config::default();
        c.telegram.token = Some("S3CRET-bot".into());
        c.mcp.token = Some("S3CRET-mcp".into());
        c.mesh.key = Some("S3CRET-mesh".into());
        c.redis.url = Some("redis://:S3CRET-pw@h:1".into());
        let text = format!("{c:?}");
        assert!(!text.contains("S3CRET"), "{text}");
        assert!(text.contains("redis://:***@h:1"), "{text}");
    }

    #[test]
    fn hopeless_key_lists_the_valid_ones() {
        let msg = load_toml("[mesh]\nzzzzzz = 1\n");
        assert!(msg.contains("unknown key 'mesh.zzzzzz'"), "{msg}");
        assert!(
            msg.contains("mesh.key, mesh.key_file, mesh.max_skew_ms"),
            "{msg}"
        );
    }
}
