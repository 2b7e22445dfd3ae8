//! The command line: `telemux <command>`, as in DESIGN.md §5.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Drive terminal sessions on all your computers.
#[derive(Debug, Parser)]
#[command(name = "telemux", version, about, long_about = None)]
pub struct Cli {
    /// Config file (default: ~/.config/telemux/telemux.toml, or TELEMUX_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Machine-readable output: one JSON document (streams: one object per line).
    #[arg(long, global = true)]
    pub json: bool,
    /// Log format for daemons.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One-machine mesh: private Redis (unless redis.url is set) and this computer's node.
    Up,
    /// The node daemon: owns the tmux server and serves this computer's sessions.
    Node,
    /// The gateway: Telegram bot and/or MCP over HTTP (telegram.*, mcp.listen).
    Gateway,
    /// MCP server on stdin/stdout, for an AI client that starts it.
    Mcp,
    /// List computers: online/offline, last seen, sessions, os, version.
    Computers,
    /// List sessions of one computer, or of every online computer.
    Sessions {
        /// Only this computer.
        #[arg(allow_hyphen_values = true)]
        computer: Option<String>,
    },
    /// List named project directories (from each computer's `[projects]`).
    Projects {
        /// Only this computer.
        computer: Option<String>,
    },
    /// Start a session: COMPUTER or COMPUTER/NAME; prints computer/session.
    New {
        /// COMPUTER or COMPUTER/NAME.
        #[arg(allow_hyphen_values = true)]
        target: String,
        /// Working directory on that computer, or the name of one of its projects.
        #[arg(long)]
        cwd: Option<String>,
        /// Start an AI coding agent from that computer's profile (claude, codex, gemini, ...).
        #[arg(long)]
        agent: Option<String>,
        /// With --agent: resume the agent's last conversation in that directory.
        #[arg(long, requires = "agent")]
        resume: bool,
        /// Command to run instead of the login shell.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Type TEXT literally into a session, then Enter.
    Send {
        /// computer/session, or a session name unique in the mesh.
        #[arg(allow_hyphen_values = true)]
        session: String,
        /// The text (sent literally; "C-c" is three characters).
        text: String,
        /// Do not press Enter after the text.
        #[arg(long, conflicts_with = "when")]
        no_enter: bool,
        /// Queue it in the session's mailbox and type it when the target is
        /// `ready` (an agent idle, a shell at its prompt), `idle` (ready and
        /// its screen still) or `now`; prints the message id.
        #[arg(long)]
        when: Option<String>,
        /// With --when: give up after this long (30s, 10m, 2h, 1d; default 1h).
        #[arg(long, requires = "when")]
        ttl: Option<String>,
        /// With --when: the sender's name shown in `inbox` and events.
        #[arg(long, requires = "when")]
        from: Option<String>,
        /// With --when: wait for the turn (or command) it starts to finish and print the answer.
        #[arg(long, requires = "when")]
        notify: bool,
        /// With --when: queue the answer for this session (COMPUTER/SESSION,
        /// e.g. the agent that sends), typed into it when it is idle.
        #[arg(long, requires = "when", allow_hyphen_values = true)]
        reply_to: Option<String>,
        /// With --notify: how long to wait for the answer (default 10m).
        #[arg(long, requires = "notify")]
        wait: Option<String>,
    },
    /// A session's mailbox: queued, in-flight, delivered and dead messages.
    Inbox {
        /// computer/session.
        #[arg(allow_hyphen_values = true)]
        session: String,
        /// Try a dead or expired message again.
        #[arg(long, value_name = "ID", conflicts_with = "drop")]
        retry: Option<String>,
        /// Remove a message that is not delivered yet.
        #[arg(long, value_name = "ID")]
        drop: Option<String>,
    },
    /// Press named keys: C-c Enter Escape Up Down Tab ...
    Keys {
        /// computer/session.
        #[arg(allow_hyphen_values = true)]
        session: String,
        /// Key names.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Print the rendered screen plus scrollback.
    Read {
        /// computer/session.
        #[arg(allow_hyphen_values = true)]
        session: String,
        /// Scrollback lines above the screen.
        #[arg(long, default_value_t = 100)]
        lines: u32,
        /// Keep ANSI escapes.
        #[arg(long)]
        raw: bool,
        /// Agent sessions: only the agent's last answer, without the screen around it.
        #[arg(long, conflicts_with = "raw")]
        last_turn: bool,
    },
    /// Answer the question an agent waits on with one of its own choices.
    Answer {
        /// computer/session.
        #[arg(allow_hyphen_values = true)]
        session: String,
        /// The choice's number (1) or label (Yes, or a unique start of one).
        /// Without it, prints the question and its choices.
        choice: Option<String>,
    },
    /// Print output deltas and exit events; --follow keeps going until the session exits.
    Tail {
        /// computer/session.
        #[arg(allow_hyphen_values = true)]
        session: String,
        /// Keep following new output.
        #[arg(long, short)]
        follow: bool,
        /// Resume after this stream id (printed with --json).
        #[arg(long)]
        cursor: Option<String>,
        /// Print raw bytes (escapes kept) instead of rendered lines.
        #[arg(long)]
        raw: bool,
    },
    /// Run a command on a computer; prints its output and exits with its exit code.
    ///
    /// A piped or redirected stdin (up to 512 KiB) is read to its end and sent
    /// with the command, which reads it, then EOF; it is not streamed. With a
    /// terminal as stdin the command reads nothing (EOF at once).
    Run {
        /// Computer name.
        #[arg(allow_hyphen_values = true)]
        computer: String,
        /// Working directory on that computer.
        #[arg(long)]
        cwd: Option<String>,
        /// Interrupt after this many seconds (exit code 124).
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// The command (argv; a single argument is a shell command line).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Live dashboard of every computer and session (keys: ? for help).
    Tui,
    /// Use a session on another computer from this terminal, as if local.
    Attach {
        /// computer/session, or a session name unique in the mesh.
        #[arg(allow_hyphen_values = true)]
        session: String,
        /// Key that detaches (default from tui.detach_key: "C-\\ d").
        #[arg(long)]
        detach_key: Option<String>,
    },
    /// Save a session's screen as a PNG picture (colours, wide characters, cursor).
    Screenshot {
        /// computer/session.
        #[arg(allow_hyphen_values = true)]
        session: String,
        /// Where to write it (default: SESSION.png here; `-` writes the PNG to stdout).
        #[arg(long, short, value_name = "FILE.png", allow_hyphen_values = true)]
        output: Option<String>,
    },
    /// Copy a file: [COMPUTER:]SRC [COMPUTER:]DST (a local path with ':' is ./a:b).
    Cp {
        /// Source: COMPUTER:PATH or a local path.
        src: String,
        /// Destination (a directory keeps the source's name).
        dst: String,
        /// Bytes per request (tests slow copies down with it).
        #[arg(long, hide = true)]
        chunk_bytes: Option<usize>,
    },
    /// Mesh events in order: presence, sessions, agent states, commands, input.
    ///
    /// Without --follow, prints the retained events (or those since --since)
    /// and stops; with it, keeps printing new ones until interrupted.
    Events {
        /// Keep following new events (starting now unless --since says otherwise).
        #[arg(long, short)]
        follow: bool,
        /// Start: `start`, `now`, a duration back (30s, 10m, 2h, 1d) or a cursor (`id` in --json).
        #[arg(long)]
        since: Option<String>,
        /// Only events about this computer.
        #[arg(long, allow_hyphen_values = true)]
        computer: Option<String>,
        /// Only events about this session (computer/session, or a bare session name).
        #[arg(long, allow_hyphen_values = true)]
        session: Option<String>,
        /// Only these types, comma-separated (e.g. session_created,command_finished).
        #[arg(long = "type", value_delimiter = ',')]
        types: Vec<String>,
    },
    /// Search the retained output of sessions for lines matching a regex.
    ///
    /// Each online computer searches its own sessions' streams (lines,
    /// prompts and full-screen frames, ANSI-free); hits come sorted by
    /// computer and session, oldest first within a session, each with a
    /// cursor: `telemux tail SESSION --cursor ID` shows the output from the
    /// hit on. Exit code 0 with hits, 1 without, 2 for a bad pattern.
    Grep {
        /// Rust regex syntax (at most 1000 characters), e.g. 'error|panic'.
        #[arg(allow_hyphen_values = true)]
        pattern: String,
        /// Only this computer.
        #[arg(long, allow_hyphen_values = true)]
        computer: Option<String>,
        /// Only this session (computer/session, or a bare name on any computer).
        #[arg(long, allow_hyphen_values = true)]
        session: Option<String>,
        /// Only output of the last 30s, 10m, 2h, 1d...
        #[arg(long)]
        since: Option<String>,
        /// Most hits (default 100, at most 1000).
        #[arg(long)]
        max: Option<u32>,
    },
    /// One session in detail: command, cwd, pid, size, times, state, agent,
    /// last exit code, output stream size, mailbox and Telegram topic.
    Info {
        /// computer/session, or a session name unique in the mesh.
        #[arg(allow_hyphen_values = true)]
        session: String,
    },
    /// Remove exited sessions and the output streams of sessions that are
    /// gone, on one computer or every online one; prints what went.
    Clean {
        /// Only this computer.
        #[arg(allow_hyphen_values = true)]
        computer: Option<String>,
        /// Only print what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Kill a session.
    Kill {
        /// computer/session.
        #[arg(allow_hyphen_values = true)]
        session: String,
    },
    /// Rename a session on its computer: its output stream (cursors stay
    /// valid), inbox and Telegram topic follow.
    Rename {
        /// computer/session.
        #[arg(allow_hyphen_values = true)]
        session: String,
        /// The new name (on the same computer).
        #[arg(allow_hyphen_values = true)]
        new_name: String,
    },
    /// Remove a computer that was stopped for good from `computers` (refused while it is online).
    Forget {
        /// Computer name.
        #[arg(allow_hyphen_values = true)]
        computer: String,
    },
    /// Check tmux, Redis and the configuration; says what to fix.
    Doctor,
    /// One computer's health: version, uptime, sessions, Redis latency, backlog, dead letters.
    Status {
        /// Computer name (default: this computer).
        #[arg(allow_hyphen_values = true)]
        computer: Option<String>,
    },
    /// Show the effective configuration (secrets redacted).
    Config {
        /// `show`
        #[command(subcommand)]
        action: ConfigAction,
    },
}

/// `telemux config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the effective configuration with secrets redacted.
    Show,
}
