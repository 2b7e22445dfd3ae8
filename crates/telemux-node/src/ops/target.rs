//! The session an operation acts on ([`Target`]) and how a name becomes one:
//! the watcher table first (no tmux call), tmux itself when the table is
//! behind.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use telemux_proto::{names, AgentState, ErrorCode, ReplyBody, SessionName};
use tokio::sync::watch;

use crate::agent::info::SharedInfo;
use crate::error::OpError;
use crate::state::{InputGate, Shared, WatcherHandle};

/// A session an operation acts on: its exact tmux name and its agent profile.
pub(crate) struct Target {
    /// The name as tmux spells it.
    pub session: SessionName,
    /// Agent profile name (`PaneOption::Agent`; empty: a plain session).
    pub agent: String,
    /// The agent's published state changes, when a watcher tracks them.
    pub agent_changes: Option<watch::Receiver<AgentState>>,
    /// The watcher's input gate, when the session is watched.
    pub input: Option<Arc<InputGate>>,
    /// What the watcher knows about the agent, when one is watched.
    pub agent_info: Option<SharedInfo>,
}

impl Target {
    /// Waits for the session's input gate and marks a new input; `None`
    /// when the session has no watcher (then nothing is pending on it either).
    pub(crate) async fn begin_input(&self) -> Option<(tokio::sync::MutexGuard<'_, ()>, u64)> {
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
pub(crate) async fn targeted<F, Fut>(
    shared: &Arc<Shared>,
    session: &str,
    op: F,
) -> Result<ReplyBody, OpError>
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

/// The session called `session`: the watcher table's entry, else tmux's.
pub(crate) async fn resolve(shared: &Arc<Shared>, session: &str) -> Result<Target, OpError> {
    match watched(shared, session) {
        Some(t) => Ok(t),
        None => existing(shared, session).await,
    }
}

/// The watched session called `session`, ignoring case (the table's keys are
/// lower-cased names, and tmux names cannot differ by case alone here).
fn watched(shared: &Shared, session: &str) -> Option<Target> {
    shared
        .sessions
        .with_handle(&session.to_ascii_lowercase(), |h| Target::from(&*h))
}

impl From<&WatcherHandle> for Target {
    fn from(h: &WatcherHandle) -> Target {
        Target {
            session: h.name.clone(),
            agent: h.agent.clone(),
            agent_changes: h.agent_changes.clone(),
            input: Some(h.input.clone()),
            agent_info: h.agent_info.clone(),
        }
    }
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
                agent_info: None,
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
