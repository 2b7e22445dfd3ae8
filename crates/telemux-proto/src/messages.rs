//! Message bodies: requests to nodes and their replies, per-session output
//! records and dead letters (mesh-wide events are in [`crate::event`]). Each
//! implements [`Message`] with its kind.
//!
//! Fields are encoded by name, so adding an optional field (`#[serde(default)]`)
//! is a compatible change; removing or retyping one needs a version bump.

use serde::{Deserialize, Serialize};

use crate::files::{FileChunk, FileStat, FileWritten, WriteChunk};
use crate::mailbox::{Delivery, Letter};
use crate::search::Found;
use crate::SessionDetail;
use crate::{AgentPrompt, ComputerName, Message, Snapshot, Turn, Usage};

/// What a node says about itself in the registry (and heartbeats).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputerInfo {
    /// Display name, e.g. `MozBook`.
    pub name: String,
    /// telemux version of the node.
    pub version: String,
    /// Protocol version the node speaks.
    pub proto: u16,
    /// Operating system and architecture, e.g. `linux-aarch64`.
    pub os: String,
    /// Host name the node runs on.
    #[serde(default)]
    pub host: String,
    /// Node process start time (ms since epoch).
    pub started_ms: u64,
    /// Time of this heartbeat (ms since epoch).
    pub last_seen_ms: u64,
    /// Heartbeat period, so readers know when it counts as offline.
    pub heartbeat_ms: u64,
    /// Number of sessions on the node's tmux server.
    pub sessions: u32,
    /// Process id of the node (tells a crashed predecessor from a live twin).
    #[serde(default)]
    pub pid: u32,
    /// Whether the node stopped gracefully (set in its last record).
    #[serde(default)]
    pub stopped: bool,
    /// Named project directories on this computer (`projects` in its config).
    #[serde(default)]
    pub projects: Vec<Project>,
    /// Agent profiles this node can start (`telemux new --agent NAME`).
    #[serde(default)]
    pub agents: Vec<String>,
}

/// A named directory on one computer, so "start Claude on MozBook in api" resolves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Short name, e.g. `api`.
    pub name: String,
    /// Directory on that computer, e.g. `~/apps/api`.
    pub dir: String,
}

/// What an AI coding agent running in a session is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Started; its interface is not up yet.
    Starting,
    /// Busy with a turn (thinking, running tools).
    Working,
    /// Asks the user something: a permission, a question, a choice.
    WaitingForInput,
    /// Finished its turn; its prompt waits for the next task.
    Idle,
    /// The agent program ended.
    Exited,
    /// Stopped after idling `agents.suspend_after` to free its memory; the
    /// next input resumes its conversation first.
    Suspended,
}

impl AgentState {
    /// The snake_case name used on the wire and in `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Starting => "starting",
            AgentState::Working => "working",
            AgentState::WaitingForInput => "waiting_for_input",
            AgentState::Idle => "idle",
            AgentState::Exited => "exited",
            AgentState::Suspended => "suspended",
        }
    }

    /// Parses [`AgentState::as_str`] names.
    pub fn parse(s: &str) -> Option<AgentState> {
        [
            AgentState::Starting,
            AgentState::Working,
            AgentState::WaitingForInput,
            AgentState::Idle,
            AgentState::Exited,
            AgentState::Suspended,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

impl std::fmt::Display for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
impl Message for ComputerInfo {
    const KIND: &'static str = "computer_info";
}

/// Whether a session's process is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// The pane's process is alive.
    Running,
    /// The pane's process ended; the session is kept so its status and output can be read.
    Exited,
}

/// One session as listed by `sessions` / `list_sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Computer that owns it.
    pub computer: String,
    /// Session name.
    pub name: String,
    /// Command currently running in the pane (e.g. `bash`, `vim`).
    pub command: String,
    /// Current working directory of the pane.
    pub cwd: String,
    /// Creation time, ms since epoch.
    pub created_ms: u64,
    /// Running or exited.
    pub state: SessionState,
    /// Last output, ms since epoch.
    pub last_activity_ms: u64,
    /// Exit status once `state` is `exited`.
    #[serde(default)]
    pub exit_status: Option<i32>,
    /// Agent profile the session was started with (`--agent`), if any.
    #[serde(default)]
    pub agent: Option<String>,
    /// The agent's current state (agent sessions only).
    #[serde(default)]
    pub agent_state: Option<AgentState>,
    /// Since when the agent is in `agent_state` (ms since epoch).
    #[serde(default)]
    pub agent_since_ms: Option<u64>,
    /// The question the agent waits on, while `agent_state` is `waiting_for_input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_prompt: Option<AgentPrompt>,
    /// Tokens the agent's last turn used (from its transcript).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_usage: Option<Usage>,
}

/// A request to a node, sent on its command stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The computer this request is for, as the sender resolved it. Being in
    /// the body, it is covered by the signature, so a signed request copied
    /// into another computer's command stream is refused there
    /// ([`crate::auth::check_target`]). `None` from senders that predate the
    /// field; a node with `mesh.key` refuses such requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<ComputerName>,
    /// Stream the node writes the [`Reply`] to (empty: no reply wanted).
    pub reply_to: String,
    /// Wall-clock deadline (ms since epoch); a node skips requests past it.
    pub deadline_ms: u64,
    /// What to do.
    pub op: Op,
}
impl Message for Request {
    const KIND: &'static str = "request";
}

/// The operations a node performs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// List this node's sessions.
    ListSessions,
    /// Create a session; `name` defaults to a free one, `command` to the login shell.
    NewSession {
        name: Option<String>,
        /// A directory, or the name of one of the node's projects.
        cwd: Option<String>,
        command: Option<Vec<String>>,
        /// Agent profile to start (its command, unless `command` is given).
        #[serde(default)]
        agent: Option<String>,
        /// With `agent`: resume the agent's last conversation in `cwd`
        /// instead of starting a new one.
        #[serde(default)]
        resume: bool,
    },
    /// Answer the question an agent session waits on by one of the prompt's
    /// own choices (its number or label). `prompt_id`, when given, must be
    /// the id of the prompt still shown, or the answer is refused as stale.
    Answer {
        session: String,
        choice: String,
        #[serde(default)]
        prompt_id: Option<String>,
    },
    /// Type text literally; `enter` sends Enter afterwards.
    SendText {
        session: String,
        text: String,
        enter: bool,
    },
    /// Press named keys ([`crate::Key`] names).
    SendKeys { session: String, keys: Vec<String> },
    /// Type bytes exactly as a terminal sends them (`attach`): control
    /// characters and escape sequences included, no Enter added.
    SendBytes {
        session: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// The screen as it is now, with cursor, size and modes (`attach`).
    Snapshot { session: String },
    /// Gives the session's window the size of an attached terminal
    /// (`size: Some((width, height))`) on behalf of `client`, or releases that
    /// client's claim (`None`); the last claim released restores the size the
    /// window had before the first.
    Resize {
        session: String,
        client: String,
        size: Option<(u16, u16)>,
    },
    /// Rendered screen plus `lines` of scrollback; `raw` keeps escapes.
    Read {
        session: String,
        lines: u32,
        raw: bool,
        /// Agent sessions: only the agent's last answer, without screen chrome.
        #[serde(default)]
        last_turn: bool,
    },
    /// Kill a session.
    Kill { session: String },
    /// Rename a session to `to`: tmux's session, its output stream (same
    /// entry ids, so cursors stay valid), exit bookkeeping and inbox.
    Rename { session: String, to: String },
    /// Run `command` (argv) in a fresh session and end it after `timeout_ms`.
    Run {
        cwd: Option<String>,
        command: Vec<String>,
        timeout_ms: u64,
        /// The command's whole stdin, sent up front (at most
        /// [`crate::limits::MAX_STDIN_BYTES`]); the node feeds it from a
        /// private file. `None`: stdin is `/dev/null`, so a command that reads
        /// gets EOF at once. A run's stdin is never the session's terminal, and
        /// it is not streamed while the command runs. Absent from older
        /// senders; omitted on the wire when `None`.
        #[serde(default, with = "serde_bytes", skip_serializing_if = "Option::is_none")]
        stdin: Option<Vec<u8>>,
    },
    /// What `path` is (size, modification time, directory or not), with its
    /// sha256 when `sha256` is set. Paths outside the node's `files.roots`
    /// are refused (`bad_input`).
    FileStat { path: String, sha256: bool },
    /// Up to `len` bytes (at most [`crate::files::MAX_FILE_CHUNK_BYTES`]) of
    /// the file `path` from `offset`.
    ReadFile { path: String, offset: u64, len: u32 },
    /// One chunk of an upload, assembled in a temporary file beside the
    /// target and renamed into place after the last one verified.
    WriteFile(WriteChunk),
    /// Queue a message for one of the node's sessions ([`crate::mailbox`]);
    /// a letter id already queued is not queued twice.
    Enqueue(Letter),
    /// The mailbox: every entry, or those of one session.
    Mailbox { session: Option<String> },
    /// Try a dead or expired message again (fresh attempts and time-to-live).
    MailboxRetry { id: String },
    /// Remove a message that is not delivered yet.
    MailboxDrop { id: String },
    /// Lines of retained output matching `pattern` ([`crate::search`]): of
    /// every session, or of `session`; only records published at or after
    /// `since_ms` (0: all); at most `max_results` hits. The node's work is
    /// bounded by the limits in [`crate::search`].
    Search {
        pattern: String,
        #[serde(default)]
        session: Option<String>,
        #[serde(default)]
        since_ms: u64,
        max_results: u32,
    },
    /// One session in detail ([`crate::detail`]).
    Info { session: String },
    /// Remove exited sessions and the output streams of sessions that no
    /// longer exist on this computer; `dry_run`: only say what would go.
    Clean { dry_run: bool },
}

/// Why a request failed, so clients can choose exit codes and wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request itself is invalid (names, sizes, keys).
    BadInput,
    /// No such session on that computer.
    NoSuchSession,
    /// A session with that name exists already.
    Exists,
    /// tmux refused or failed.
    Tmux,
    /// An answer to an agent's question that is no longer shown (answered
    /// already, or replaced by another question).
    Stale,
    /// No such file or directory (file ops).
    NoSuchFile,
    /// A file is larger than the node's `files.max_bytes`.
    TooLarge,
    /// An upload's sha256 did not match what the node assembled (nothing
    /// was written in place).
    Checksum,
    /// Something else failed on the node.
    Internal,
}

/// A node's answer to a [`Request`], correlated by `request_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Envelope id of the request this answers.
    pub request_id: uuid::Uuid,
    /// The result.
    pub result: ReplyBody,
}
impl Message for Reply {
    const KIND: &'static str = "reply";
}

/// The payload of a [`Reply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyBody {
    /// Done, nothing to return.
    Ok,
    /// Answer to `ListSessions`.
    Sessions(Vec<SessionInfo>),
    /// Answer to `NewSession` / `Run`: the session created and its output cursor.
    Created {
        session: String,
        /// Output stream id to read from so nothing printed is missed.
        cursor: String,
    },
    /// Answer to `Read`.
    Screen { text: String },
    /// Answer to `Read` with `last_turn`: the agent's answer and its tools.
    Turn(Turn),
    /// Answer to `Snapshot`.
    Snapshot(Snapshot),
    /// Answer to `Answer`: the choice selected, and the question it answered.
    Answered {
        number: u32,
        label: String,
        question: String,
    },
    /// Answer to `FileStat`.
    FileStat(FileStat),
    /// Answer to `ReadFile`.
    FileChunk(FileChunk),
    /// Answer to `WriteFile`.
    FileWritten(FileWritten),
    /// Answer to `Enqueue`, `MailboxRetry`, `MailboxDrop`: the entry now.
    Queued(Delivery),
    /// Answer to `Mailbox`, oldest first.
    Mailbox(Vec<Delivery>),
    /// Failure with a user-facing message.
    Error { code: ErrorCode, message: String },
    /// Answer to `Search`.
    Found(Found),
    /// Answer to `Rename`: the names as tmux spells them.
    Renamed { from: String, to: String },
    /// Answer to `Info`.
    Info(SessionDetail),
    /// Answer to `Clean`: what was removed (or, with `dry_run`, would be).
    Cleaned {
        /// Exited sessions (killed).
        sessions: Vec<String>,
        /// Sessions (case-folded names) whose leftover output streams went.
        streams: Vec<String>,
        dry_run: bool,
    },
}

/// One entry of a session output stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// Per-session sequence number: continuous, never reused, survives node restarts.
    pub seq: u64,
    /// Node wall clock when published.
    pub ts_ms: u64,
    /// What happened.
    pub event: OutputEvent,
}
impl Message for OutputRecord {
    const KIND: &'static str = "output";
}

/// What an [`OutputRecord`] carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputEvent {
    /// Scrolling output: completed lines, and the unfinished last line (a prompt).
    Lines {
        lines: Vec<String>,
        partial: String,
        #[serde(with = "serde_bytes", default)]
        raw: Vec<u8>,
    },
    /// A full-screen program's current screen (alternate screen), rendered.
    Frame {
        rows: Vec<String>,
        #[serde(with = "serde_bytes", default)]
        raw: Vec<u8>,
    },
    /// Pane bytes that changed nothing the line or frame views show (cursor
    /// moves, modes, a full-screen program's drawing before its frame is
    /// captured). With `Lines.raw` these carry every byte the pane printed,
    /// once and in order, for terminal emulators (`attach`); other readers
    /// skip them.
    Raw {
        #[serde(with = "serde_bytes")]
        raw: Vec<u8>,
    },
    /// A command typed into the session's shell finished.
    CommandFinished {
        exit_code: i32,
        started_ms: u64,
        finished_ms: u64,
    },
    /// The session's process ended; `exit_status` is its code, or 128+signal.
    SessionExited {
        exit_status: i32,
        signal: Option<i32>,
        timed_out: bool,
    },
    /// The session is gone from tmux (killed, or its pane closed).
    SessionClosed { reason: String },
    /// The session was renamed; the stream continues under `to`'s key. A
    /// copy with `pointer` set (same seq and id) is the only entry left
    /// under the old key, so a reader of the old name learns where to go
    /// (see docs/protocol.md).
    Renamed {
        from: String,
        to: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pointer: bool,
    },
    /// An agent session changed state; `detail` says what showed it (the
    /// question asked, or which signal). `prompt`: the question and its
    /// choices, when the new state is `waiting_for_input` and they could be
    /// read; `source`: `hook` or `screen`.
    AgentState {
        state: AgentState,
        detail: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prompt: Option<AgentPrompt>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        source: String,
    },
    /// Output was lost between `from_seq` and `to_seq` (overflow or restart).
    Gap {
        from_seq: u64,
        to_seq: u64,
        reason: String,
    },
}

/// What the bus writes to the dead-letter stream about a refused entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Stream the entry came from.
    pub stream: String,
    /// Its stream id.
    pub entry_id: String,
    /// Why it was refused.
    pub reason: String,
}
impl Message for DeadLetter {
    const KIND: &'static str = "dead_letter";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{limits, Envelope};

    fn run(stdin: Option<Vec<u8>>) -> Request {
        Request {
            to: None,
            reply_to: "r".into(),
            deadline_ms: 1,
            op: Op::Run {
                cwd: None,
                command: vec!["cat".into()],
                timeout_ms: 1000,
                stdin,
            },
        }
    }

    #[test]
    fn run_without_stdin_from_older_sender_decodes() {
        // The shape of `Op::Run` before the `stdin` field existed.
        #[derive(serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        enum OldOp {
            Run {
                cwd: Option<String>,
                command: Vec<String>,
                timeout_ms: u64,
            },
        }
        #[derive(serde::Serialize)]
        struct OldRequest {
            reply_to: String,
            deadline_ms: u64,
            op: OldOp,
        }
        let bytes = rmp_serde::to_vec_named(&OldRequest {
            reply_to: "r".into(),
            deadline_ms: 1,
            op: OldOp::Run {
                cwd: None,
                command: vec!["cat".into()],
                timeout_ms: 1000,
            },
        })
        .unwrap();
        let req: Request = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(req, run(None));
        // And no stdin is not sent at all, so older nodes see the old shape.
        assert_eq!(rmp_serde::to_vec_named(&run(None)).unwrap(), bytes);
    }

    #[test]
    fn largest_stdin_and_command_fit_in_one_envelope() {
        let mut req = run(Some(vec![0xff; limits::MAX_STDIN_BYTES]));
        if let Op::Run { command, .. } = &mut req.op {
            *command = vec!["x".repeat(limits::MAX_COMMAND_BYTES)];
        }
        let env = Envelope::seal("sender", &req).expect("fits in an envelope");
        let back = Envelope::decode(&env.encode()).unwrap();
        assert_eq!(back.open::<Request>().unwrap(), req);
    }
}
