//! `wait_for` and progress: block on a session's output stream until its
//! command exits, it goes quiet, or a regex matches new output — and, while
//! waiting, tell an MCP client that asked for progress that we are still alive.
//!
//! "Idle" is measured with this process's clock from the start of the wait or
//! the last output record seen, never with the node's timestamps: computers'
//! clocks disagree, ours only has to agree with itself.
//!
//! For an agent session, `idle` and `waiting` are the agent's own states,
//! read as `agent_state` records from the stream (see [`super::agent`] for
//! where the wait starts, which is what makes send-then-wait race-free).

use std::future::Future;
use std::time::{Duration, Instant};

use regex::Regex;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use telemux_bus::{Cursor, OutputReader};
use telemux_proto::{
    AgentPrompt, AgentState, ComputerName, OutputEvent, OutputRecord, SessionName,
};
use tokio_util::sync::CancellationToken;

use telemux_client::view::Transcript;
use telemux_client::{Mesh, MeshError};

/// How often progress notifications are sent during a long call.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// Longest single blocking read, so progress and idle checks stay punctual.
const POLL: Duration = Duration::from_millis(250);
/// Records fetched per read.
const BATCH: usize = 256;

/// What `wait_for` waits for.
#[derive(Debug, Clone)]
pub enum Until {
    /// The next `command_finished`, or the session's program ending.
    Exit,
    /// No output for this long.
    Idle(Duration),
    /// A line of new output (or the unfinished last line) matching.
    Text(Regex),
    /// `waiting` as asked; only meaningful for an agent session, where the
    /// tool turns it into [`Until::Agent`].
    Waiting,
    /// An agent session's own state.
    Agent(AgentWait),
}

/// Which agent state ends the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentGoal {
    /// The agent finished its turn, or stopped to ask (it cannot finish
    /// without an answer, so waiting on would only time out).
    Idle,
    /// The agent asks the user something.
    Waiting,
}

/// A wait on an agent session's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentWait {
    /// What ends it.
    pub goal: AgentGoal,
    /// The agent's state when the wait began (from its session listing).
    pub current: Option<AgentState>,
    /// If no state change follows the start point and the screen stays
    /// still this long while `current` is already the goal, the input did
    /// not start a turn (an empty prompt, a key the agent ignored): end.
    pub grace: Duration,
}

impl Until {
    /// Parses `exit`, `idle` or `text:<regex>`; `quiet` is the idle period.
    pub fn parse(s: &str, quiet: Duration) -> Result<Until, MeshError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("exit") {
            return Ok(Until::Exit);
        }
        if t.eq_ignore_ascii_case("idle") {
            return Ok(Until::Idle(quiet));
        }
        if t.eq_ignore_ascii_case("waiting") {
            return Ok(Until::Waiting);
        }
        if let Some(re) = s.strip_prefix("text:") {
            if re.is_empty() {
                return Err(MeshError::BadInput(
                    "until 'text:' needs a regex after the colon, e.g. text:ready|listening".into(),
                ));
            }
            return Regex::new(re).map(Until::Text).map_err(|e| {
                MeshError::BadInput(format!("until 'text:{re}' is not a valid regex: {e}"))
            });
        }
        Err(MeshError::BadInput(format!(
            "until '{s}' is not one of: exit, idle, waiting, text:<regex> (e.g. text:\\$ $)"
        )))
    }
}

impl AgentGoal {
    /// Whether the agent entering `state` reaches this goal.
    pub fn reached_by(self, state: AgentState) -> bool {
        match self {
            AgentGoal::Waiting => state == AgentState::WaitingForInput,
            AgentGoal::Idle => matches!(state, AgentState::Idle | AgentState::WaitingForInput),
        }
    }
}

impl Until {
    /// Whether the agent entering `state` ends this wait.
    pub fn wants_agent(&self, state: AgentState) -> bool {
        match self {
            Until::Waiting => state == AgentState::WaitingForInput,
            Until::Agent(a) => a.goal.reached_by(state),
            _ => false,
        }
    }
}

/// What ended a wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    /// A command typed into the shell finished with this exit code.
    CommandFinished(i32),
    /// The session's program ended with this status.
    SessionExited(i32),
    /// The session disappeared (killed).
    SessionClosed(String),
    /// No output for the quiet period.
    Idle,
    /// This line matched the regex.
    Text(String),
    /// An agent entered this state (`detail`: what showed it, e.g. the
    /// question it asks); `already` when it was in it when the wait began.
    Agent {
        /// The state.
        state: AgentState,
        /// The record's detail.
        detail: String,
        /// It was already in that state; nothing was awaited.
        already: bool,
        /// For `waiting_for_input`: the question and its choices, when read.
        prompt: Option<AgentPrompt>,
    },
    /// The timeout passed first.
    Timeout,
}

impl Happened {
    /// The word reported as `happened`.
    pub fn word(&self) -> &'static str {
        match self {
            Happened::CommandFinished(_) => "command_finished",
            Happened::SessionExited(_) => "session_exited",
            Happened::SessionClosed(_) => "session_closed",
            Happened::Idle => "idle",
            Happened::Text(_) => "text",
            Happened::Agent { state, .. } => match state {
                AgentState::WaitingForInput => "waiting",
                _ => "idle",
            },
            Happened::Timeout => "timeout",
        }
    }
}

/// The outcome of [`wait`].
#[derive(Debug, Clone)]
pub struct Waited {
    /// Why it ended.
    pub happened: Happened,
    /// Output seen while waiting, rendered.
    pub output: String,
    /// Where the wait stopped reading (for a later `since`).
    pub cursor: String,
    /// How long it took.
    pub waited: Duration,
}

/// Sends MCP progress notifications for one request, when the client asked.
#[derive(Clone)]
pub struct Progress {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    total: Duration,
    label: String,
}

impl Progress {
    /// `None` unless the request carried a progress token.
    pub fn from_request(
        ctx: &RequestContext<RoleServer>,
        total: Duration,
        label: String,
    ) -> Option<Progress> {
        ctx.meta.get_progress_token().map(|token| Progress {
            peer: ctx.peer.clone(),
            token,
            total,
            label,
        })
    }

    /// Reports `elapsed` of the total; failures (client gone) are only logged.
    pub async fn report(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64().floor();
        let param = ProgressNotificationParam::new(self.token.clone(), secs)
            .with_total(self.total.as_secs_f64())
            .with_message(format!("{} ({} s)", self.label, secs as u64));
        if let Err(e) = self.peer.notify_progress(param).await {
            tracing::debug!(error = %e, "progress notification not delivered");
        }
    }
}

/// Runs `fut` to completion, reporting progress every [`PROGRESS_EVERY`];
/// `None` when the client cancelled the request first.
pub async fn with_progress<T>(
    fut: impl Future<Output = T>,
    progress: Option<Progress>,
    cancel: &CancellationToken,
) -> Option<T> {
    let start = Instant::now();
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return Some(out),
            _ = cancel.cancelled() => return None,
            _ = tick.tick() => {
                if let Some(p) = &progress {
                    p.report(start.elapsed()).await;
                }
            }
        }
    }
}

/// Waits on `computer/session` from `from` until `until`, `timeout` or `cancel`.
#[allow(clippy::too_many_arguments)]
pub async fn wait(
    mesh: &Mesh,
    computer: &ComputerName,
    session: &SessionName,
    from: Cursor,
    until: &Until,
    timeout: Duration,
    progress: Option<Progress>,
    cancel: &CancellationToken,
) -> Result<Waited, MeshError> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut reader = OutputReader::new(mesh.bus(), computer, session, from).await?;
    let mut seen = Transcript::default();
    let mut last_activity = start;
    let mut next_progress = start + PROGRESS_EVERY;
    // The agent's state as far as this wait knows (listing, then records).
    let mut agent_now = match until {
        Until::Agent(a) => a.current,
        _ => None,
    };
    // An agent redraws its screen many times a second while it works; a
    // model needs the screen it ended on, not every spinner frame before.
    let compact = matches!(until, Until::Agent(_));
    let mut last_frame: Option<OutputRecord> = None;
    let done = |happened: Happened,
                seen: &Transcript,
                last_frame: &Option<OutputRecord>,
                reader: &OutputReader| {
        let output = match last_frame {
            Some(f) => {
                let mut r = seen.clone();
                r.push(f, false);
                r.full_text()
            }
            None => seen.full_text(),
        };
        Waited {
            happened,
            output,
            cursor: reader.cursor(),
            waited: start.elapsed(),
        }
    };
    loop {
        let now = Instant::now();
        if let Until::Idle(quiet) = until {
            if now.duration_since(last_activity) >= *quiet {
                return Ok(done(Happened::Idle, &seen, &last_frame, &reader));
            }
        }
        if let (Until::Agent(a), Some(state)) = (until, agent_now) {
            if a.goal.reached_by(state) && now.duration_since(last_activity) >= a.grace {
                let happened = Happened::Agent {
                    state,
                    detail: format!(
                        "no state change after the start point and the screen was still for {} s: the input did not start a turn",
                        a.grace.as_secs()
                    ),
                    already: true,
                    prompt: None,
                };
                return Ok(done(happened, &seen, &last_frame, &reader));
            }
        }
        if now >= deadline {
            return Ok(done(Happened::Timeout, &seen, &last_frame, &reader));
        }
        if let Some(p) = &progress {
            if now >= next_progress {
                p.report(start.elapsed()).await;
                next_progress = now + PROGRESS_EVERY;
            }
        }
        let mut block = deadline.saturating_duration_since(now).min(POLL);
        if let Until::Idle(quiet) = until {
            block = block.min((last_activity + *quiet).saturating_duration_since(now));
        }
        if let Until::Agent(a) = until {
            block = block.min((last_activity + a.grace).saturating_duration_since(now));
        }
        let batch = tokio::select! {
            _ = cancel.cancelled() => {
                return Err(MeshError::Timeout(format!(
                    "wait on {computer}/{session} cancelled by the client"
                )));
            }
            b = reader.next_batch(Some(block.max(Duration::from_millis(1))), BATCH) => b?,
        };
        if let Some(gap) = &batch.gap {
            seen.note(&format!("output trimmed before it was read: {gap}"));
        }
        for (_, rec) in batch.entries {
            let Ok(rec) = rec else { continue };
            if compact && matches!(rec.event, OutputEvent::Frame { .. }) {
                last_frame = Some(rec.clone());
            } else {
                if let Some(f) = last_frame.take() {
                    seen.push(&f, false);
                }
                seen.push(&rec, false);
            }
            match &rec.event {
                OutputEvent::Lines { lines, partial, .. } => {
                    last_activity = Instant::now();
                    if let Until::Text(re) = until {
                        let hit = lines
                            .iter()
                            .chain(std::iter::once(partial))
                            .find(|l| re.is_match(l));
                        if let Some(line) = hit {
                            let line = line.clone();
                            return Ok(done(Happened::Text(line), &seen, &last_frame, &reader));
                        }
                    }
                }
                OutputEvent::Raw { .. } => last_activity = Instant::now(),
                OutputEvent::Frame { rows, .. } => {
                    last_activity = Instant::now();
                    if let Until::Text(re) = until {
                        if let Some(row) = rows.iter().find(|r| re.is_match(r)) {
                            let row = row.clone();
                            return Ok(done(Happened::Text(row), &seen, &last_frame, &reader));
                        }
                    }
                }
                OutputEvent::CommandFinished { exit_code, .. } => {
                    if matches!(until, Until::Exit) {
                        let code = *exit_code;
                        return Ok(done(
                            Happened::CommandFinished(code),
                            &seen,
                            &last_frame,
                            &reader,
                        ));
                    }
                }
                OutputEvent::SessionExited { exit_status, .. } => {
                    let code = *exit_status;
                    return Ok(done(
                        Happened::SessionExited(code),
                        &seen,
                        &last_frame,
                        &reader,
                    ));
                }
                OutputEvent::SessionClosed { reason } => {
                    let reason = reason.clone();
                    return Ok(done(
                        Happened::SessionClosed(reason),
                        &seen,
                        &last_frame,
                        &reader,
                    ));
                }
                OutputEvent::AgentState {
                    state,
                    detail,
                    prompt,
                    ..
                } => {
                    agent_now = Some(*state);
                    if until.wants_agent(*state) {
                        let happened = Happened::Agent {
                            state: *state,
                            detail: detail.clone(),
                            already: false,
                            prompt: prompt.clone(),
                        };
                        return Ok(done(happened, &seen, &last_frame, &reader));
                    }
                }
                OutputEvent::Gap { .. } | OutputEvent::Renamed { .. } => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_until() {
        let q = Duration::from_millis(1500);
        assert!(matches!(Until::parse("exit", q), Ok(Until::Exit)));
        assert!(matches!(Until::parse(" IDLE ", q), Ok(Until::Idle(d)) if d == q));
        match Until::parse(r"text:port \d+$", q) {
            Ok(Until::Text(re)) => assert!(re.is_match("listening on port 8080")),
            other => panic!("{other:?}"),
        }
        let bad = Until::parse("text:(", q).unwrap_err().to_string();
        assert!(bad.contains("not a valid regex"), "{bad}");
        let bad = Until::parse("done", q).unwrap_err().to_string();
        assert!(bad.contains("exit, idle, waiting, text:<regex>"), "{bad}");
        assert!(matches!(Until::parse("Waiting", q), Ok(Until::Waiting)));
    }

    #[test]
    fn agent_waits_end_on_the_right_states() {
        use AgentState::*;
        let idle = Until::Agent(AgentWait {
            goal: AgentGoal::Idle,
            current: None,
            grace: Duration::from_secs(5),
        });
        assert!(idle.wants_agent(Idle));
        assert!(idle.wants_agent(WaitingForInput));
        assert!(!idle.wants_agent(Working));
        assert!(!idle.wants_agent(Starting));
        assert!(Until::Waiting.wants_agent(WaitingForInput));
        assert!(AgentGoal::Waiting.reached_by(WaitingForInput));
        assert!(!AgentGoal::Waiting.reached_by(Idle));
        assert!(!Until::Waiting.wants_agent(Idle));
        assert!(!Until::Idle(Duration::from_secs(1)).wants_agent(Idle));
    }
}
