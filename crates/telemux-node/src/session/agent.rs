//! Agent-state tracking for an agent session: looks at the screen after
//! output settles, applies the agent's own hook signals, and publishes each
//! change (to the stream, to tmux, and to ops waiting on one).

use std::sync::Arc;

use telemux_proto::{now_ms, AgentState, OutputEvent};
use tokio::sync::watch;
use tokio::time::Instant;

use super::output::Output;
use super::publish::Publisher;
use crate::agent::{parse_signal, AgentProfile, Tracker};

/// State tracking of an agent session (see [`crate::agent`]).
pub(super) struct AgentWatch {
    pub profile: Arc<AgentProfile>,
    tracker: Tracker,
    /// When to capture and classify the screen next.
    pub look_at: Option<Instant>,
    /// The hook signal value already applied.
    signal_seen: String,
    /// The last published state; every change notifies ops waiting on one.
    changes: watch::Sender<AgentState>,
}

impl AgentWatch {
    /// Tracking that starts in `state`, with hook signal `signal_seen`
    /// already applied; the screen is first looked at `look_at`.
    pub fn new(
        profile: Arc<AgentProfile>,
        state: AgentState,
        look_at: Instant,
        signal_seen: String,
    ) -> AgentWatch {
        AgentWatch {
            profile,
            tracker: Tracker::new(state),
            look_at: Some(look_at),
            signal_seen,
            changes: watch::Sender::new(state),
        }
    }

    /// A receiver of the published state changes.
    pub fn subscribe(&self) -> watch::Receiver<AgentState> {
        self.changes.subscribe()
    }

    /// Applies a new hook signal value from the pane, if it changed.
    pub async fn on_signal(&mut self, signal: &str, out: &mut Output, p: &mut Publisher) {
        if signal != self.signal_seen {
            self.signal_seen = signal.to_string();
            if let Some((state, _)) = parse_signal(signal) {
                if self.tracker.signal(state).is_some() {
                    let detail = self.hook_detail(p, state).await;
                    self.changed(out, p, state, detail).await;
                }
            }
        }
    }

    /// The process ended: publishes `Exited` unless it was already.
    pub async fn on_exit(&mut self, out: &mut Output, p: &mut Publisher, status: i32) {
        if self.tracker.signal(AgentState::Exited).is_some() {
            self.changed(out, p, AgentState::Exited, format!("exit status {status}"))
                .await;
        }
    }

    /// Captures the agent's screen and publishes a state change it shows.
    pub async fn look(&mut self, out: &mut Output, p: &mut Publisher) {
        self.look_at = None;
        if self.tracker.state() == AgentState::Exited {
            return;
        }
        let rows = match p.shared.tmux.capture_screen(&p.name).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(session = %p.name, error = %e, "agent screen capture failed");
                return;
            }
        };
        let (change, again) = self.tracker.observe(&self.profile, &rows, Instant::now());
        self.look_at = again;
        if let Some((state, line)) = change {
            self.changed(out, p, state, line).await;
        }
    }

    /// The `detail` of a state an agent's hook reported: for a question, the
    /// line on screen that asks it (what a notification should quote), since
    /// the hook itself does not say; otherwise where the state came from.
    async fn hook_detail(&self, p: &Publisher, state: AgentState) -> String {
        let from_hook = "reported by the agent's hook".to_string();
        if state != AgentState::WaitingForInput {
            return from_hook;
        }
        match p.shared.tmux.capture_screen(&p.name).await {
            Ok(rows) => match self.profile.classify(&rows) {
                Some((AgentState::WaitingForInput, line)) => line,
                _ => from_hook,
            },
            Err(_) => from_hook,
        }
    }

    /// Publishes an agent state change and remembers it in tmux, so `sessions`
    /// shows it and a restarted node resumes from it.
    async fn changed(
        &mut self,
        out: &mut Output,
        p: &mut Publisher,
        state: AgentState,
        detail: String,
    ) {
        tracing::info!(computer = %p.shared.cfg.computer, session = %p.name, %state, %detail, "agent state");
        // Output shown before the change belongs before it in the stream.
        out.drain(p, Some(&mut self.look_at)).await;
        if let Err(e) = p
            .shared
            .tmux
            .set_agent_state(&p.name, state, now_ms())
            .await
        {
            tracing::debug!(session = %p.name, error = %e, "could not store agent state");
        }
        p.emit(OutputEvent::AgentState { state, detail }, None);
        self.changes.send_replace(state);
        p.flush().await;
    }
}
