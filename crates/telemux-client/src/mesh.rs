//! [`Mesh`]: the client side of the protocol, shared by the CLI, MCP and Telegram.
//!
//! It turns what a user typed (`mozbook/api`, `api`, `RasPi`) into canonical
//! names, routes requests to the node that owns the session, and turns every
//! failure into one sentence that says what was wrong and what exists instead.

use std::time::Duration;

use telemux_bus::{Bus, ComputerStatus, RequestError, Requester};
use telemux_proto::{
    names, now_ms, ComputerName, ErrorCode, MeshKey, Op, ProtoError, ReplyBody, SessionAddr,
    SessionInfo, SessionName,
};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// Default deadline for one request to a node.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A failure as users see it (its text is what the CLI prints and MCP and
/// Telegram return); [`MeshError::exit_code`] maps it for the CLI.
#[derive(Debug, Error, Clone)]
pub enum MeshError {
    /// The input is invalid in a way the text explains (usage, sizes).
    #[error("{0}")]
    BadInput(String),
    /// A name, key or size was refused by the protocol's checks.
    #[error(transparent)]
    Invalid(#[from] ProtoError),
    /// No computer of that name has joined the mesh.
    #[error("no computer '{name}'{}", computer_hint(suggestions, known))]
    NoComputer {
        /// The name as typed.
        name: String,
        /// Every known computer.
        known: Vec<String>,
        /// Known names close to it, best first.
        suggestions: Vec<String>,
    },
    /// No online computer has a session of that (bare) name.
    #[error(
        "no session '{addr}' on any online computer{}",
        session_hint(suggestions, known)
    )]
    NoSession {
        /// The name as typed.
        addr: String,
        /// Every session of the online computers, as `computer/session`.
        known: Vec<String>,
        /// Sessions with a close name, as `computer/session`, best first.
        suggestions: Vec<String>,
    },
    /// A bare session name exists on several computers.
    #[error("session '{addr}' exists on several computers; say which: {}", options.join(" or "))]
    Ambiguous {
        /// The name as typed.
        addr: String,
        /// The candidates, as `computer/session`.
        options: Vec<String>,
    },
    /// Something else named does not exist (the text says what).
    #[error("{0}")]
    NotFound(String),
    /// The computer is known but offline.
    #[error("{computer} is offline{}", last_seen(*last_seen_ms))]
    Offline {
        /// Its name.
        computer: String,
        /// When it last sent a heartbeat (ms since epoch), if known.
        last_seen_ms: Option<u64>,
    },
    /// Something did not happen in time (the text says what).
    #[error("{0}")]
    Timeout(String),
    /// A request got no reply (the node did not answer in time, or this
    /// process is shutting down).
    #[error(transparent)]
    Request(RequestError),
    /// The node answered with an error.
    #[error("{message}")]
    Remote {
        /// What kind of error the node reported.
        code: Option<ErrorCode>,
        /// The node's sentence.
        message: String,
    },
    /// Redis is unreachable, full or misbehaving.
    #[error(transparent)]
    Bus(#[from] telemux_bus::BusError),
    /// A local file could not be read or written (`cp`).
    #[error("{what}: {source}")]
    Local {
        /// What was attempted, naming the file.
        what: String,
        /// What the file system said (shared: `MeshError` is `Clone`).
        source: std::sync::Arc<std::io::Error>,
    },
    /// A copied file's sha256 did not match at both ends, or it changed
    /// while copied (the text says which); nothing was put in place.
    #[error("{0}")]
    Integrity(String),
    /// The session's screen could not be drawn as a picture (shared, because
    /// the renderer's error is not `Clone` and this one is).
    #[error("cannot draw the screenshot: {0}")]
    Screenshot(#[from] std::sync::Arc<telemux_screenshot::ShotError>),
}

impl MeshError {
    /// CLI exit code: 2 for bad input or unknown names, 1 for remote failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            MeshError::BadInput(_)
            | MeshError::Invalid(_)
            | MeshError::NoComputer { .. }
            | MeshError::NoSession { .. }
            | MeshError::Ambiguous { .. }
            | MeshError::NotFound(_)
            | MeshError::Request(RequestError::UnknownComputer { .. }) => 2,
            MeshError::Remote {
                code:
                    Some(
                        ErrorCode::BadInput
                        | ErrorCode::Exists
                        | ErrorCode::NoSuchSession
                        | ErrorCode::NoSuchFile
                        | ErrorCode::TooLarge,
                    ),
                ..
            } => 2,
            _ => 1,
        }
    }

    /// A failure the node did not report (for replies of the wrong shape).
    pub(crate) fn unexpected(reply: &ReplyBody) -> MeshError {
        MeshError::Remote {
            code: None,
            message: format!("unexpected reply {reply:?}"),
        }
    }
}

fn computer_hint(suggestions: &[String], known: &[String]) -> String {
    let hint = names::did_you_mean(suggestions);
    if !hint.is_empty() {
        hint
    } else if known.is_empty() {
        "; no computer has joined this mesh yet (start `telemux node` on one)".into()
    } else {
        format!("; known computers: {}", known.join(", "))
    }
}

fn session_hint(suggestions: &[String], known: &[String]) -> String {
    let hint = names::did_you_mean(suggestions);
    if !hint.is_empty() {
        hint
    } else if known.is_empty() {
        "; no online computer has sessions".into()
    } else {
        format!("; sessions: {}", known.join(", "))
    }
}

fn last_seen(ms: Option<u64>) -> String {
    ms.map(|ms| format!(" (last seen {})", ago(ms)))
        .unwrap_or_default()
}

impl From<RequestError> for MeshError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Offline {
                computer,
                last_seen_ms,
            } => MeshError::Offline {
                computer,
                last_seen_ms,
            },
            RequestError::Bus(b) => MeshError::Bus(b),
            RequestError::Proto(p) => MeshError::Invalid(p),
            other => MeshError::Request(other),
        }
    }
}

/// A session that a node just created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Computer that owns it.
    pub computer: ComputerName,
    /// Its name.
    pub session: SessionName,
    /// Output stream id from which everything it prints can be read.
    pub cursor: String,
}

/// Formats "42 s ago" style ages for offline messages.
pub fn ago(ms: u64) -> String {
    let secs = now_ms().saturating_sub(ms) / 1000;
    match secs {
        0..=119 => format!("{secs} s ago"),
        120..=7199 => format!("{} min ago", secs / 60),
        7200..=172_799 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86400),
    }
}

/// A connection to the mesh for one client process.
#[derive(Clone)]
pub struct Mesh {
    bus: Bus,
    req: Requester,
    timeout: Duration,
}

impl Mesh {
    /// Connects to Redis at `url` as `from` (e.g. `cli@MozBook`).
    pub async fn connect(
        url: &str,
        from: &str,
        cancel: CancellationToken,
    ) -> Result<Mesh, MeshError> {
        Mesh::connect_signed(url, from, None, cancel).await
    }

    /// Like [`Mesh::connect`], signing every request with the mesh key.
    pub async fn connect_signed(
        url: &str,
        from: &str,
        key: Option<MeshKey>,
        cancel: CancellationToken,
    ) -> Result<Mesh, MeshError> {
        let bus = Bus::connect(url).await?;
        Ok(Mesh::with_bus_signed(bus, from, key, cancel))
    }

    /// Builds on an existing bus connection.
    pub fn with_bus(bus: Bus, from: &str, cancel: CancellationToken) -> Mesh {
        Mesh::with_bus_signed(bus, from, None, cancel)
    }

    /// Builds on an existing bus connection, signing requests with `key`.
    pub fn with_bus_signed(
        bus: Bus,
        from: &str,
        key: Option<MeshKey>,
        cancel: CancellationToken,
    ) -> Mesh {
        let req = Requester::start_signed(bus.clone(), from.to_string(), key, cancel);
        Mesh {
            bus,
            req,
            timeout: REQUEST_TIMEOUT,
        }
    }

    /// The underlying bus (for stream readers).
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Every computer ever seen, online or not.
    pub async fn computers(&self) -> Result<Vec<ComputerStatus>, MeshError> {
        Ok(self.bus.computers().await?)
    }

    /// Resolves a computer name case-insensitively; it must be online.
    pub async fn resolve_computer(&self, name: &str) -> Result<ComputerName, MeshError> {
        let wanted = ComputerName::new(name)?;
        let all = self.computers().await?;
        match all
            .iter()
            .find(|c| c.info.name.eq_ignore_ascii_case(wanted.as_str()))
        {
            Some(c) if c.online => Ok(ComputerName::new(&c.info.name)?),
            Some(c) => Err(MeshError::Offline {
                computer: c.info.name.clone(),
                last_seen_ms: Some(c.info.last_seen_ms),
            }),
            None => {
                let known: Vec<String> = all.iter().map(|c| c.info.name.clone()).collect();
                let suggestions = names::suggest(name, known.iter().map(String::as_str));
                Err(MeshError::NoComputer {
                    name: name.to_string(),
                    known,
                    suggestions,
                })
            }
        }
    }

    pub(crate) async fn call(&self, to: &ComputerName, op: Op) -> Result<ReplyBody, MeshError> {
        self.call_with(to, op, self.timeout).await
    }

    async fn call_with(
        &self,
        to: &ComputerName,
        op: Op,
        timeout: Duration,
    ) -> Result<ReplyBody, MeshError> {
        // Every caller resolved `to` against the registry just before
        // (resolve_computer / the online list), so skip the second lookup.
        match self.req.request_resolved(to, op, timeout).await? {
            ReplyBody::Error { code, message } => Err(MeshError::Remote {
                code: Some(code),
                message,
            }),
            other => Ok(other),
        }
    }

    /// Sessions of one computer, or of every online computer.
    pub async fn sessions(&self, computer: Option<&str>) -> Result<Vec<SessionInfo>, MeshError> {
        let targets: Vec<ComputerName> = match computer {
            Some(c) => vec![self.resolve_computer(c).await?],
            None => self
                .computers()
                .await?
                .into_iter()
                .filter(|c| c.online)
                .filter_map(|c| ComputerName::new(&c.info.name).ok())
                .collect(),
        };
        let mut set = tokio::task::JoinSet::new();
        for c in targets.clone() {
            let me = self.clone();
            set.spawn(async move { (c.clone(), me.call(&c, Op::ListSessions).await) });
        }
        let mut out = Vec::new();
        let mut first_err = None;
        while let Some(joined) = set.join_next().await {
            let Ok((c, res)) = joined else { continue };
            match res {
                Ok(ReplyBody::Sessions(s)) => out.extend(s),
                Ok(other) => tracing::warn!(computer = %c, ?other, "unexpected reply to list"),
                // Redis failing fails every computer alike: a partial list
                // would turn it into "no such session" for the resolver.
                Err(e @ MeshError::Bus(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(computer = %c, error = %e, "listing sessions failed");
                    first_err.get_or_insert(e);
                }
            }
        }
        if let (Some(e), true) = (first_err, computer.is_some()) {
            return Err(e);
        }
        out.sort_by(|a, b| {
            (a.computer.to_ascii_lowercase(), a.name.to_ascii_lowercase())
                .cmp(&(b.computer.to_ascii_lowercase(), b.name.to_ascii_lowercase()))
        });
        Ok(out)
    }

    /// Like [`Mesh::resolve_session`], but an explicit `computer/session` on an
    /// offline computer is fine: its output stream is in Redis and can be
    /// read (tailed, paged) while the computer is away.
    pub async fn resolve_history(
        &self,
        addr: &str,
    ) -> Result<(ComputerName, SessionName), MeshError> {
        match self.resolve_session(addr).await {
            Err(offline @ MeshError::Offline { .. }) => {
                let parsed = SessionAddr::parse(addr)?;
                let Some(wanted) = parsed.computer else {
                    return Err(offline);
                };
                let all = self.computers().await?;
                let Some(known) = all
                    .iter()
                    .find(|c| c.info.name.eq_ignore_ascii_case(wanted.as_str()))
                else {
                    return Err(offline);
                };
                Ok((ComputerName::new(&known.info.name)?, parsed.session))
            }
            other => other,
        }
    }

    /// Resolves `computer/session` or a bare `session` unique across the mesh.
    pub async fn resolve_session(
        &self,
        addr: &str,
    ) -> Result<(ComputerName, SessionName), MeshError> {
        let parsed = SessionAddr::parse(addr)?;
        if let Some(c) = parsed.computer {
            return Ok((self.resolve_computer(c.as_str()).await?, parsed.session));
        }
        let all = self.sessions(None).await?;
        let hits: Vec<&SessionInfo> = all
            .iter()
            .filter(|s| s.name.eq_ignore_ascii_case(parsed.session.as_str()))
            .collect();
        match hits.as_slice() {
            [one] => Ok((
                ComputerName::new(&one.computer)?,
                SessionName::new(&one.name)?,
            )),
            [] => {
                let known: Vec<String> = all
                    .iter()
                    .map(|s| format!("{}/{}", s.computer, s.name))
                    .collect();
                let bare: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
                let sugg: Vec<String> = names::suggest(addr, bare.iter().copied())
                    .into_iter()
                    .filter_map(|n| {
                        all.iter()
                            .find(|s| s.name == n)
                            .map(|s| format!("{}/{}", s.computer, s.name))
                    })
                    .collect();
                Err(MeshError::NoSession {
                    addr: addr.to_string(),
                    known,
                    suggestions: sugg,
                })
            }
            many => {
                let opts: Vec<String> = many
                    .iter()
                    .map(|s| format!("{}/{}", s.computer, s.name))
                    .collect();
                Err(MeshError::Ambiguous {
                    addr: addr.to_string(),
                    options: opts,
                })
            }
        }
    }

    /// Creates a session on `computer` (`COMPUTER` or `COMPUTER/NAME`).
    pub async fn new_session(
        &self,
        target: &str,
        cwd: Option<String>,
        command: Option<Vec<String>>,
        agent: Option<String>,
        resume: bool,
    ) -> Result<Created, MeshError> {
        let (computer, name) = match target.split_once('/') {
            // The computer is checked first, so an error names the first thing wrong.
            Some((c, n)) => {
                ComputerName::new(c)?;
                (c, Some(SessionName::new(n)?.to_string()))
            }
            None => (target, None),
        };
        let computer = self.resolve_computer(computer).await?;
        match self
            .call(
                &computer,
                Op::NewSession {
                    name,
                    cwd,
                    command,
                    agent,
                    resume,
                },
            )
            .await?
        {
            ReplyBody::Created { session, cursor } => Ok(Created {
                computer,
                session: SessionName::new(&session)?,
                cursor,
            }),
            other => Err(MeshError::unexpected(&other)),
        }
    }

    /// Types `text` literally into a session, then Enter when `enter`.
    pub async fn send_text(&self, addr: &str, text: &str, enter: bool) -> Result<(), MeshError> {
        telemux_proto::limits::check("text", text.len(), telemux_proto::limits::MAX_TEXT_BYTES)?;
        let (c, s) = self.resolve_session(addr).await?;
        self.call(
            &c,
            Op::SendText {
                session: s.to_string(),
                text: text.to_string(),
                enter,
            },
        )
        .await
        .map(drop)
    }

    /// Presses named keys in a session.
    pub async fn send_keys(&self, addr: &str, keys: &[String]) -> Result<(), MeshError> {
        for k in keys {
            telemux_proto::Key::parse(k)?;
        }
        let (c, s) = self.resolve_session(addr).await?;
        self.call(
            &c,
            Op::SendKeys {
                session: s.to_string(),
                keys: keys.to_vec(),
            },
        )
        .await
        .map(drop)
    }

    /// The rendered screen plus `lines` of scrollback.
    pub async fn read(&self, addr: &str, lines: u32, raw: bool) -> Result<String, MeshError> {
        match self.read_reply(addr, lines, raw, false).await? {
            ReplyBody::Screen { text } => Ok(text),
            other => Err(MeshError::unexpected(&other)),
        }
    }

    /// An agent session's last answer text, without the screen around it
    /// (see [`Mesh::last_turn`] for its tools and usage).
    pub async fn read_last_turn(&self, addr: &str) -> Result<String, MeshError> {
        Ok(self.last_turn(addr).await?.text)
    }

    /// The node's reply to `Op::Read` on `addr` (a screen, or a turn).
    pub(crate) async fn read_reply(
        &self,
        addr: &str,
        lines: u32,
        raw: bool,
        last_turn: bool,
    ) -> Result<ReplyBody, MeshError> {
        let (c, s) = self.resolve_session(addr).await?;
        self.call(
            &c,
            Op::Read {
                session: s.to_string(),
                lines,
                raw,
                last_turn,
            },
        )
        .await
    }

    /// Kills a session.
    pub async fn kill(&self, addr: &str) -> Result<(ComputerName, SessionName), MeshError> {
        let (c, s) = self.resolve_session(addr).await?;
        self.call(
            &c,
            Op::Kill {
                session: s.to_string(),
            },
        )
        .await?;
        Ok((c, s))
    }

    /// Asks `computer` (from [`Mesh::resolve_computer`]) to start `command` in a fresh run session
    /// reading `stdin` (`None`: `/dev/null`).
    pub async fn start_run(
        &self,
        computer: &ComputerName,
        cwd: Option<String>,
        command: Vec<String>,
        timeout: Duration,
        stdin: Option<Vec<u8>>,
    ) -> Result<Created, MeshError> {
        let op = Op::Run {
            cwd,
            command,
            timeout_ms: timeout.as_millis() as u64,
            stdin,
        };
        match self.call(computer, op).await? {
            ReplyBody::Created { session, cursor } => Ok(Created {
                computer: computer.clone(),
                session: SessionName::new(&session)?,
                cursor,
            }),
            other => Err(MeshError::unexpected(&other)),
        }
    }
}
