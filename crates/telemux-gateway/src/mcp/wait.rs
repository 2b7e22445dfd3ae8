//! `wait_for` and progress: block on a session's output stream until its
//! command exits, it goes quiet, or a regex matches new output — and, while
//! waiting, tell an MCP client that asked for progress that we are still alive.
//!
//! "Idle" is measured with this process's clock from the start of the wait or
//! the last output record seen, never with the node's timestamps: computers'
//! clocks disagree, ours only has to agree with itself.

use std::future::Future;
use std::time::{Duration, Instant};

use regex::Regex;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use telemux_bus::{Cursor, OutputReader};
use telemux_proto::{ComputerName, OutputEvent, SessionName};
use tokio_util::sync::CancellationToken;

use super::output::Rendered;
use crate::mesh::{Mesh, MeshError};

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
            "until '{s}' is not one of: exit, idle, text:<regex> (e.g. text:\\$ $)"
        )))
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
    let mut seen = Rendered::default();
    let mut last_activity = start;
    let mut next_progress = start + PROGRESS_EVERY;
    let done = |happened: Happened, seen: &Rendered, reader: &OutputReader| Waited {
        happened,
        output: seen.full_text(),
        cursor: reader.cursor(),
        waited: start.elapsed(),
    };
    loop {
        let now = Instant::now();
        if let Until::Idle(quiet) = until {
            if now.duration_since(last_activity) >= *quiet {
                return Ok(done(Happened::Idle, &seen, &reader));
            }
        }
        if now >= deadline {
            return Ok(done(Happened::Timeout, &seen, &reader));
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
            seen.push(&rec, false);
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
                            return Ok(done(Happened::Text(line), &seen, &reader));
                        }
                    }
                }
                OutputEvent::Frame { rows, .. } => {
                    last_activity = Instant::now();
                    if let Until::Text(re) = until {
                        if let Some(row) = rows.iter().find(|r| re.is_match(r)) {
                            let row = row.clone();
                            return Ok(done(Happened::Text(row), &seen, &reader));
                        }
                    }
                }
                OutputEvent::CommandFinished { exit_code, .. } => {
                    if matches!(until, Until::Exit) {
                        let code = *exit_code;
                        return Ok(done(Happened::CommandFinished(code), &seen, &reader));
                    }
                }
                OutputEvent::SessionExited { exit_status, .. } => {
                    let code = *exit_status;
                    return Ok(done(Happened::SessionExited(code), &seen, &reader));
                }
                OutputEvent::SessionClosed { reason } => {
                    let reason = reason.clone();
                    return Ok(done(Happened::SessionClosed(reason), &seen, &reader));
                }
                OutputEvent::Gap { .. } | OutputEvent::AgentState { .. } => {}
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
        assert!(bad.contains("exit, idle, text:<regex>"), "{bad}");
    }
}
