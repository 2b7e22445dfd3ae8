//! The operations a node performs for requesters (`Op` → tmux → `ReplyBody`).
//!
//! Everything that reaches tmux is validated here first: names against the
//! naming rule, text and key counts against limits, keys against the known
//! list. Text is always typed literally.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{
    limits, names, now_ms, AgentState, ErrorCode, Key, Op, ReplyBody, SessionInfo, SessionName,
    SessionState,
};
use telemux_tmux::{wrap, NewSession};
use tokio::sync::watch;

use crate::agent::{install_hooks, AgentProfile};

use crate::error::OpError;
use crate::node::{InputGate, Shared, WatcherHandle};
use crate::watcher::{self, Origin};

/// Runs one operation and returns the reply payload.
pub(crate) async fn execute(shared: &Arc<Shared>, op: Op) -> Result<ReplyBody, OpError> {
    match op {
        Op::ListSessions => Ok(ReplyBody::Sessions(list(shared).await?)),
        Op::NewSession {
            name,
            cwd,
            command,
            agent,
        } => {
            let agent = agent.map(|a| profile(shared, &a)).transpose()?;
            let (session, cursor) = create(shared, name, cwd, command, agent, None).await?;
            Ok(ReplyBody::Created { session, cursor })
        }
        Op::Run {
            cwd,
            command,
            timeout_ms,
        } => {
            if command.is_empty() {
                return Err(OpError::new(
                    ErrorCode::BadInput,
                    "run needs a command: `telemux run COMPUTER -- COMMAND...`",
                ));
            }
            let name = format!("run-{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
            let timeout = Duration::from_millis(timeout_ms.max(1));
            let (session, cursor) =
                create(shared, Some(name), cwd, Some(command), None, Some(timeout)).await?;
            Ok(ReplyBody::Created { session, cursor })
        }
        Op::SendText {
            session,
            text,
            enter,
        } => {
            limits::check("text", text.len(), limits::MAX_TEXT_BYTES)?;
            let text = &text;
            targeted(shared, &session, move |t| send_text(shared, t, text, enter)).await
        }
        Op::SendKeys { session, keys } => {
            if keys.is_empty() {
                return Err(OpError::new(
                    ErrorCode::BadInput,
                    format!(
                        "no keys given; allowed: {}",
                        telemux_proto::input::ALLOWED_KEYS_HELP
                    ),
                ));
            }
            if keys.len() > limits::MAX_KEYS {
                return Err(OpError::new(
                    ErrorCode::BadInput,
                    format!(
                        "{} keys given; at most {} per request",
                        keys.len(),
                        limits::MAX_KEYS
                    ),
                ));
            }
            let keys = &keys
                .iter()
                .map(|k| Key::parse(k))
                .collect::<Result<Vec<_>, _>>()?;
            targeted(shared, &session, move |t| async move {
                let _typing = t.begin_input().await;
                shared.tmux.send_keys(&t.session, keys).await?;
                Ok(ReplyBody::Ok)
            })
            .await
        }
        Op::Read {
            session,
            lines,
            raw,
            last_turn,
        } => {
            targeted(shared, &session, move |t| {
                read(shared, t, lines, raw, last_turn)
            })
            .await
        }
        Op::Kill { session } => {
            targeted(shared, &session, move |t| async move {
                shared.tmux.kill_session(&t.session).await?;
                Ok(ReplyBody::Ok)
            })
            .await
        }
    }
}

/// A session an operation acts on: its exact tmux name and its agent profile.
pub(crate) struct Target {
    /// The name as tmux spells it.
    pub session: SessionName,
    /// Agent profile name (`@telemux_agent`; empty: a plain session).
    pub agent: String,
    /// The agent's published state changes, when a watcher tracks them.
    pub agent_changes: Option<watch::Receiver<AgentState>>,
    /// The watcher's input gate, when the session is watched.
    pub input: Option<Arc<InputGate>>,
}

impl Target {
    /// Waits for the session's input gate and marks a new input; `None`
    /// when the session has no watcher (then nothing is pending on it either).
    async fn begin_input(&self) -> Option<(tokio::sync::MutexGuard<'_, ()>, u64)> {
        let gate = self.input.as_ref()?;
        let guard = gate.lock.lock().await;
        let generation = gate.generation.fetch_add(1, Ordering::SeqCst) + 1;
        Some((guard, generation))
    }
}

/// Runs `op` on session `session`.
///
/// The session is looked up in the watcher table first, which costs no tmux
/// call (a `list-panes` fork is most of a `send_text`'s latency). The table
/// can be a moment behind tmux — a session killed or made by hand since the
/// last reconcile — so when tmux says the session is not there, the name is
/// resolved again from tmux itself, which also gives the error its listing.
async fn targeted<F, Fut>(shared: &Arc<Shared>, session: &str, op: F) -> Result<ReplyBody, OpError>
where
    F: Fn(Target) -> Fut,
    Fut: std::future::Future<Output = Result<ReplyBody, OpError>>,
{
    if let Some(t) = watched(shared, session) {
        match op(t).await {
            Err(e) if e.code == ErrorCode::NoSuchSession => {}
            done => return done,
        }
    }
    op(existing(shared, session).await?).await
}

/// The watched session called `session`, ignoring case (the table's keys are
/// lower-cased names, and tmux names cannot differ by case alone here).
fn watched(shared: &Shared, session: &str) -> Option<Target> {
    let w = shared.watchers.lock().ok()?;
    w.get(&session.to_ascii_lowercase()).map(Target::from)
}

impl From<&WatcherHandle> for Target {
    fn from(h: &WatcherHandle) -> Target {
        Target {
            session: h.name.clone(),
            agent: h.agent.clone(),
            agent_changes: h.agent_changes.clone(),
            input: Some(h.input.clone()),
        }
    }
}

/// Types `text` (and then Enter) into a session.
///
/// A prompt typed into an idle agent is confirmed afterwards: some agents
/// take an Enter that follows a paste too closely as a newline in their
/// input box, and the prompt then just sits there. When the agent's state
/// does not change within [`SUBMIT_CONFIRM`], and nothing else was typed into
/// the session meanwhile, Enter is pressed once more (an empty input box
/// ignores it). The reply does not wait for that: it says "written"; the
/// agent's `working` state on the session's stream says "accepted". Shells
/// and other programs get no second Enter: the terminal never loses one, and
/// a stray Enter could answer a later `[Y/n]`.
async fn send_text(
    shared: &Arc<Shared>,
    t: Target,
    text: &str,
    enter: bool,
) -> Result<ReplyBody, OpError> {
    let typing = t.begin_input().await;
    if !text.is_empty() {
        shared.tmux.send_text(&t.session, text).await?;
    }
    if enter {
        if !text.is_empty() {
            // An agent's input box may need longer than a shell to
            // take a paste before Enter submits it.
            let delay = shared
                .cfg
                .agents
                .get(&t.agent)
                .map_or(shared.cfg.enter_delay, |a| a.submit_delay);
            tokio::time::sleep(delay).await;
        }
        // Only a prompt typed into an idle agent is confirmed.
        let confirm = t.agent_changes.clone().and_then(|mut rx| {
            let idle = *rx.borrow_and_update() == AgentState::Idle;
            (idle && !text.is_empty()).then_some(rx)
        });
        shared.tmux.send_keys(&t.session, &[Key::Enter]).await?;
        if let (Some(rx), Some(gate), Some((_, generation))) = (confirm, t.input.clone(), &typing) {
            let confirm = confirm_submit(shared.clone(), t.session.clone(), rx, gate, *generation);
            shared.tracker.spawn(confirm);
        }
    }
    Ok(ReplyBody::Ok)
}

/// How long an idle agent gets to show that it took a prompt (its state
/// changes) before Enter is pressed once more.
const SUBMIT_CONFIRM: Duration = Duration::from_secs(3);

/// Presses Enter once more unless the agent's state changes within
/// [`SUBMIT_CONFIRM`] or newer input reaches the session first.
async fn confirm_submit(
    shared: Arc<Shared>,
    session: SessionName,
    mut changes: watch::Receiver<AgentState>,
    gate: Arc<InputGate>,
    generation: u64,
) {
    tokio::select! {
        _ = shared.cancel.cancelled() => return,
        // Changed, or the watcher ended (the session is gone): nothing to do.
        r = tokio::time::timeout(SUBMIT_CONFIRM, changes.changed()) => if r.is_ok() { return },
    }
    let _typing = gate.lock.lock().await;
    if gate.generation.load(Ordering::SeqCst) != generation {
        tracing::debug!(computer = %shared.cfg.computer, session = %session, "newer input since the prompt; no second Enter");
        return;
    }
    tracing::info!(
        computer = %shared.cfg.computer,
        session = %session,
        "agent showed no sign of taking the prompt within {} s; pressed Enter again",
        SUBMIT_CONFIRM.as_secs()
    );
    if let Err(e) = shared.tmux.send_keys(&session, &[Key::Enter]).await {
        tracing::debug!(computer = %shared.cfg.computer, session = %session, error = %e, "second Enter failed");
    }
}

/// The screen and scrollback of a session, or an agent's last answer.
async fn read(
    shared: &Shared,
    t: Target,
    lines: u32,
    raw: bool,
    last_turn: bool,
) -> Result<ReplyBody, OpError> {
    let s = t.session;
    if last_turn {
        let Some(profile) = shared.cfg.agents.get(&t.agent) else {
            return Err(OpError::new(
                ErrorCode::BadInput,
                format!(
                    "{}/{s} is not an agent session (start one with --agent); last_turn needs an agent's transcript",
                    shared.cfg.computer
                ),
            ));
        };
        // A turn may be long: look further back than the screen.
        let text = shared
            .tmux
            .capture(
                &s,
                lines.clamp(LAST_TURN_LINES, limits::MAX_READ_LINES),
                false,
            )
            .await?;
        return Ok(ReplyBody::Screen {
            text: profile.last_turn(&text),
        });
    }
    let text = shared
        .tmux
        .capture(&s, lines.min(limits::MAX_READ_LINES), raw)
        .await?;
    Ok(ReplyBody::Screen { text })
}

/// This node's sessions, in name order.
async fn list(shared: &Arc<Shared>) -> Result<Vec<SessionInfo>, OpError> {
    let mut out: Vec<SessionInfo> = shared
        .tmux
        .list()
        .await?
        .into_iter()
        .map(|p| SessionInfo {
            computer: shared.cfg.computer.to_string(),
            name: p.session.to_string(),
            command: p.command.clone(),
            cwd: p.cwd.clone(),
            created_ms: p.created_ms,
            state: if p.dead {
                SessionState::Exited
            } else {
                SessionState::Running
            },
            last_activity_ms: p.activity_ms,
            exit_status: if p.dead { p.exit_status() } else { None },
            agent: (!p.agent.is_empty()).then(|| p.agent.clone()),
            agent_state: agent_state(&p.agent_state).map(|(s, _)| s),
            agent_since_ms: agent_state(&p.agent_state).map(|(_, t)| t),
        })
        .collect();
    out.sort_by_key(|s| s.name.to_ascii_lowercase());
    Ok(out)
}

/// Lines of scrollback searched for an agent's last answer.
const LAST_TURN_LINES: u32 = 3000;

/// Parses the `@telemux_agent_state` value `"STATE SINCE_MS"`.
pub(crate) fn agent_state(v: &str) -> Option<(AgentState, u64)> {
    let (state, since) = v.split_once(' ')?;
    Some((AgentState::parse(state)?, since.parse().ok()?))
}

/// The agent profile called `name` (case-insensitively), or an error naming
/// the profiles this node has.
fn profile(shared: &Arc<Shared>, name: &str) -> Result<Arc<AgentProfile>, OpError> {
    let agents = &shared.cfg.agents;
    if let Some((_, p)) = agents.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
        return Ok(p.clone());
    }
    let hint = match names::did_you_mean(&names::suggest(name, agents.keys().map(String::as_str))) {
        h if h.is_empty() => ".".to_string(),
        h => h,
    };
    let known: Vec<&str> = agents.keys().map(String::as_str).collect();
    Err(OpError::new(
        ErrorCode::BadInput,
        format!(
            "no agent profile '{name}' on {}{hint} Profiles there: {} (define more under [agents] in its config)",
            shared.cfg.computer,
            known.join(", ")
        ),
    ))
}

/// Resolves a session name on this node (case-insensitively), or says which
/// names exist.
async fn existing(shared: &Arc<Shared>, session: &str) -> Result<Target, OpError> {
    let wanted = SessionName::new(session)?;
    let panes = shared.tmux.list().await?;
    let found = panes.iter().position(|p| p.session == wanted).or_else(|| {
        panes
            .iter()
            .position(|p| p.session.as_str().eq_ignore_ascii_case(wanted.as_str()))
    });
    if let Some(i) = found {
        let p = &panes[i];
        // Not watched yet (made by hand a moment ago): no agent tracking or
        // pending input to coordinate with.
        return Ok(
            watched(shared, p.session.as_str()).unwrap_or_else(|| Target {
                session: p.session.clone(),
                agent: p.agent.clone(),
                agent_changes: None,
                input: None,
            }),
        );
    }
    let known: Vec<&str> = panes.iter().map(|p| p.session.as_str()).collect();
    let hint = names::did_you_mean(&names::suggest(session, known.iter().copied()));
    let listing = if known.is_empty() {
        " (it has no sessions)".to_string()
    } else if hint.is_empty() {
        format!("; sessions there: {}", known.join(", "))
    } else {
        hint
    };
    Err(OpError::new(
        ErrorCode::NoSuchSession,
        format!("no session '{session}' on {}{listing}", shared.cfg.computer),
    ))
}

/// The directory of project `name` (case-insensitively), unless `name` looks
/// like a path.
fn project_dir<'a>(shared: &'a Shared, name: &str) -> Option<&'a str> {
    if name.contains('/') || name.starts_with('~') || name == "." || name == ".." {
        return None;
    }
    shared
        .cfg
        .projects
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| p.dir.as_str())
}

fn expand_home(dir: &str) -> PathBuf {
    if dir == "~" {
        return std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/".into());
    }
    if let Some(rest) = dir.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    PathBuf::from(dir)
}

/// Picks a free default name: the command's base name (or `shell`), then `-2`, `-3`...
fn default_name(command: Option<&Vec<String>>, taken: &[String]) -> String {
    let base: String = command
        .and_then(|c| c.first())
        .map(|c| c.rsplit('/').next().unwrap_or(c).to_string())
        .unwrap_or_else(|| "shell".into())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(40)
        .collect();
    let base = if SessionName::new(&base).is_ok() {
        base
    } else {
        "shell".into()
    };
    let free = |n: &str| !taken.iter().any(|t| t.eq_ignore_ascii_case(n));
    if free(&base) {
        return base;
    }
    (2..)
        .map(|i| format!("{base}-{i}"))
        .find(|n| free(n))
        .expect("some name is free")
}

/// Creates a session (held on a placeholder until watched), then starts the
/// real command in it. Returns the name and the output cursor.
async fn create(
    shared: &Arc<Shared>,
    name: Option<String>,
    cwd: Option<String>,
    command: Option<Vec<String>>,
    agent: Option<Arc<AgentProfile>>,
    run_timeout: Option<Duration>,
) -> Result<(String, String), OpError> {
    let command = match (&agent, command) {
        (_, Some(c)) => Some(c),
        (Some(a), None) => {
            let mut argv = a.command.clone();
            let extra = install_hooks(&shared.cfg.state_dir, a.hooks)
                .await
                .map_err(|e| {
                    OpError::new(
                        ErrorCode::Internal,
                        format!("cannot write the {} hook settings: {e}", a.name),
                    )
                })?;
            argv.extend(extra);
            Some(argv)
        }
        (None, None) => None,
    };
    if let Some(c) = &command {
        let size: usize = c.iter().map(|a| a.len() + 1).sum();
        limits::check("command", size, limits::MAX_COMMAND_BYTES)?;
        if c.is_empty() {
            return Err(OpError::new(ErrorCode::BadInput, "the command is empty"));
        }
    }
    let cwd = match cwd {
        Some(d) => {
            let p = match project_dir(shared, &d) {
                Some(dir) => expand_home(dir),
                None => expand_home(&d),
            };
            match tokio::fs::metadata(&p).await {
                Ok(m) if m.is_dir() => Some(p),
                Ok(_) => {
                    return Err(OpError::new(
                        ErrorCode::BadInput,
                        format!("'{d}' on {} is not a directory", shared.cfg.computer),
                    ))
                }
                Err(e) => {
                    let projects: Vec<&str> = shared
                        .cfg
                        .projects
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect();
                    let hint = if projects.is_empty() {
                        String::new()
                    } else {
                        let near =
                            names::did_you_mean(&names::suggest(&d, projects.iter().copied()));
                        format!("{near}; projects there: {}", projects.join(", "))
                    };
                    return Err(OpError::new(
                        ErrorCode::BadInput,
                        format!("no directory '{d}' on {}: {e}{hint}", shared.cfg.computer),
                    ));
                }
            }
        }
        None => std::env::var_os("HOME").map(PathBuf::from),
    };
    let _topology = shared.topology.lock().await;
    let taken: Vec<String> = shared
        .tmux
        .list()
        .await?
        .into_iter()
        .map(|p| p.session.to_string())
        .collect();
    let name = match name {
        Some(n) => {
            let n = SessionName::new(&n)?;
            if taken.iter().any(|t| t.eq_ignore_ascii_case(n.as_str())) {
                return Err(OpError::new(
                    ErrorCode::Exists,
                    format!(
                        "session {}/{} exists already; pick another name or kill it first",
                        shared.cfg.computer, n
                    ),
                ));
            }
            n
        }
        None => {
            let base = agent.as_ref().map(|a| vec![a.name.clone()]);
            SessionName::new(&default_name(base.as_ref().or(command.as_ref()), &taken))?
        }
    };
    let (argv, mut env) = match command {
        Some(c) => (c, Vec::new()),
        None => (shared.shell.argv.clone(), shared.shell.env.clone()),
    };
    env.push(("TELEMUX_COMPUTER".into(), shared.cfg.computer.to_string()));
    env.push(("TELEMUX_SESSION".into(), name.to_string()));
    // The wrapper holds the command until the watcher is attached, so its
    // first output is streamed too (see telemux-tmux/src/wrapper.rs).
    shared
        .tmux
        .new_session(&NewSession {
            name: name.clone(),
            cwd: cwd.clone(),
            command: Some(wrap(&argv)),
            env,
            width: shared.cfg.size.0,
            height: shared.cfg.size.1,
        })
        .await?;
    let started = async {
        if let Some(a) = &agent {
            // Before the watcher starts, so it tracks the agent from the first frame.
            shared
                .tmux
                .set_pane_option(&name, "@telemux_agent", &a.name)
                .await?;
            let state = format!("{} {}", AgentState::Starting, now_ms());
            shared
                .tmux
                .set_pane_option(&name, "@telemux_agent_state", &state)
                .await?;
        }
        let pane = shared.tmux.pane_status(&name).await?;
        let cursor = watcher::start(shared, name.clone(), Origin::Created, run_timeout).await?;
        shared.tmux.release_start(&pane.pane_id).await?;
        Ok::<_, OpError>(cursor)
    }
    .await;
    match started {
        Ok(cursor) => {
            tracing::info!(computer = %shared.cfg.computer, session = %name, "session created");
            Ok((name.to_string(), cursor))
        }
        Err(e) => {
            let _ = shared.tmux.kill_session(&name).await;
            Err(e)
        }
    }
}
