//! What a node needs to know to run; filled by the binary from the config file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{ComputerName, MeshKey, Project};

use crate::agent::{builtin_specs, AgentProfile};

/// Smallest accepted `outbox_records`: enough to hold a gap record and the
/// exit events around it.
pub const MIN_OUTBOX_RECORDS: usize = 16;

/// The least time the output stream of an ended session is kept, even with
/// `output.retention = 0`: a `telemux run` or `tail` that is still reading
/// must find the final records (the exit code) before the stream goes.
pub const END_GRACE: Duration = Duration::from_secs(5);

/// Settings of one node instance (several may run in one process in tests).
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This computer's name in the mesh.
    pub computer: ComputerName,
    /// tmux server socket name (`tmux -L`).
    pub tmux_socket: String,
    /// Heartbeat period; the registry entry lives three periods.
    pub heartbeat: Duration,
    /// Where shell integration files are written.
    pub state_dir: PathBuf,
    /// Entries kept per session output stream (`XADD MAXLEN ~`).
    pub output_maxlen: usize,
    /// Encoded bytes of records kept per session output stream; the
    /// publisher trims older entries (`XTRIM MINID`) beyond this.
    pub output_max_bytes: u64,
    /// How long the output stream of a session that ended is kept
    /// (`EXPIRE`); zero removes it after [`END_GRACE`].
    pub retention: Duration,
    /// Output records a session keeps while Redis is unreachable; beyond
    /// this the oldest output is replaced by a gap record (exit events are
    /// always kept).
    pub outbox_records: usize,
    /// How long output is gathered before one delta is published.
    pub coalesce: Duration,
    /// Shell for sessions without a command; `None`: `$SHELL`, then `/bin/sh`.
    pub shell: Option<PathBuf>,
    /// Size of new sessions (columns, rows).
    pub size: (u16, u16),
    /// Pause between typed text and its Enter in sessions without an agent
    /// profile (agents use their profile's `submit_delay`). Zero, the
    /// default, sends both in one tmux call: a shell never loses that Enter.
    pub enter_delay: Duration,
    /// When set, only commands signed with this key are executed.
    pub mesh_key: Option<MeshKey>,
    /// Largest accepted difference between a command's timestamp and our clock.
    pub max_skew: Duration,
    /// Agent profiles by name (`--agent NAME`).
    pub agents: BTreeMap<String, Arc<AgentProfile>>,
    /// Stop an agent that has been idle this long, to free its memory; the
    /// next input resumes its conversation (`agents.suspend_after`; off
    /// when `None`).
    pub agent_suspend_after: Option<Duration>,
    /// How long a message typed from the mailbox may go untaken before it
    /// is typed again (`node.accept_within_ms`).
    pub accept_within: Duration,
    /// Named directories, usable wherever a session's directory is asked for.
    pub projects: Vec<Project>,
    /// What the file ops may touch (`[files]`).
    pub files: FilesConfig,
}

/// The `[files]` settings: which directories `cp`/`read_file`/`write_file`
/// may read and write on this computer, and how large a file may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesConfig {
    /// Directories served (`~` expanded); a path must resolve, symlinks
    /// followed, inside one of them. Empty: no file is served.
    pub roots: Vec<PathBuf>,
    /// Largest file read or written, in bytes.
    pub max_bytes: u64,
}

/// Default `files.max_bytes`: 50 MiB.
pub const DEFAULT_FILES_MAX_BYTES: u64 = 50 * 1024 * 1024;

impl Default for FilesConfig {
    /// The home directory, up to [`DEFAULT_FILES_MAX_BYTES`].
    fn default() -> Self {
        FilesConfig {
            roots: std::env::var_os("HOME")
                .map(PathBuf::from)
                .into_iter()
                .collect(),
            max_bytes: DEFAULT_FILES_MAX_BYTES,
        }
    }
}

impl NodeConfig {
    /// Defaults for `computer` on tmux socket `socket`, state under `state_dir`.
    pub fn new(computer: ComputerName, socket: &str, state_dir: PathBuf) -> Self {
        NodeConfig {
            computer,
            tmux_socket: socket.to_string(),
            heartbeat: Duration::from_millis(2000),
            state_dir,
            output_maxlen: 2000,
            output_max_bytes: 8 * 1024 * 1024,
            retention: Duration::from_secs(7 * 24 * 3600),
            outbox_records: 4096,
            coalesce: Duration::from_millis(4),
            shell: None,
            size: (120, 40),
            enter_delay: Duration::ZERO,
            mesh_key: None,
            max_skew: Duration::from_secs(30),
            agents: builtin_agents(),
            agent_suspend_after: None,
            accept_within: Duration::from_millis(15_000),
            projects: Vec::new(),
            files: FilesConfig::default(),
        }
    }
}

/// The built-in agent profiles, compiled.
pub fn builtin_agents() -> BTreeMap<String, Arc<AgentProfile>> {
    builtin_specs()
        .into_iter()
        .map(|(name, spec)| {
            let p = AgentProfile::compile(&name, spec).expect("built-in agent profiles compile");
            (name, Arc::new(p))
        })
        .collect()
}
