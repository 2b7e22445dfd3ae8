//! Agent-state tracking for an agent session: applies the agent's own hook
//! events, looks at the screen after output settles, reads the question and
//! its choices when the agent asks one, and publishes each change (to the
//! stream, to tmux, to ops waiting on one, and to the shared [`AgentInfo`]).
//!
//! [`AgentInfo`]: crate::agent::info::AgentInfo

use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{now_ms, AgentPrompt, AgentState, MeshEvent, OutputEvent, ToolCall, Turn};
use tokio::sync::watch;
use tokio::time::Instant;

use super::output::Output;
use super::publish::Publisher;
use crate::agent::hooks::{EventReader, HookEvent};
use crate::agent::info::{self, SharedInfo};
use crate::agent::{parse_signal, transcript, AgentProfile, Tracker};

/// How long a question reported by a hook may take to appear on screen
/// before it is published without its choices.
const PROMPT_DRAW_WAIT: Duration = Duration::from_millis(1500);

/// How often a resuming agent's pane is looked at until its program runs.
const RESUME_LOOK: Duration = Duration::from_millis(200);

/// `source` of a change an agent's hook reported.
const HOOK: &str = "hook";

/// `source` of a change read off the screen (or the process ending).
const SCREEN: &str = "screen";

/// How often the screen is looked at while waiting for that.
const PROMPT_LOOK: Duration = Duration::from_millis(100);

/// A question a hook reported, not yet published because its choices are
/// not on screen yet.
struct PendingQuestion {
    tool: Option<String>,
    command: Option<String>,
    give_up_at: Instant,
}

/// Follows the turn through its hook events (see [`AgentInfo::turn`]).
///
/// [`AgentInfo::turn`]: crate::agent::info::AgentInfo::turn
fn hook_turn(i: &mut crate::agent::info::AgentInfo, ev: &HookEvent) {
    let text_of = |v: Option<&serde_json::Value>| -> String {
        match v {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    };
    match ev.name.as_str() {
        "UserPromptSubmit" | "BeforeAgent" => {
            i.turn = Some(Turn {
                source: "hook".into(),
                ..Turn::default()
            });
            i.turn_done = false;
        }
        "PreToolUse" | "BeforeTool" => {
            let input = ev
                .tool_command()
                .unwrap_or_else(|| text_of(ev.payload.get("tool_input")));
            let turn = i.turn.get_or_insert_with(Turn::default);
            turn.tools.push(ToolCall {
                name: ev.str("tool_name").unwrap_or("?").to_string(),
                input,
                outcome: String::new(),
            });
        }
        "PostToolUse" | "AfterTool" => {
            let response = text_of(ev.payload.get("tool_response"));
            let failed = ev
                .payload
                .pointer("/tool_response/error")
                .is_some_and(|e| !e.is_null())
                || ev
                    .payload
                    .pointer("/tool_response/is_error")
                    .and_then(|e| e.as_bool())
                    == Some(true);
            if let Some(t) = i
                .turn
                .as_mut()
                .and_then(|t| t.tools.iter_mut().rev().find(|t| t.outcome.is_empty()))
            {
                t.outcome = match transcript::exit_code(&response) {
                    Some(c) => format!("exit {c}"),
                    None if failed => "error".into(),
                    None => "exit 0".into(),
                };
            }
        }
        "Stop" | "AfterAgent" => {
            let text = ev
                .str("last_assistant_message")
                .or(ev.str("prompt_response"))
                .unwrap_or("")
                .trim()
                .to_string();
            let turn = i.turn.get_or_insert_with(Turn::default);
            turn.text = text;
            turn.source = "hook".into();
            // A tool asked about and never run was refused.
            for t in turn.tools.iter_mut().filter(|t| t.outcome.is_empty()) {
                t.outcome = "not run".into();
            }
            i.turn_done = true;
        }
        _ => {}
    }
}

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
    /// The agent's hook events.
    events: EventReader,
    /// What ops may ask about the agent.
    pub info: SharedInfo,
    question: Option<PendingQuestion>,
    /// When the last change was published (ms since epoch): a `working`
    /// hook event from before it is news about the past (the screen already
    /// moved on) and changes no state.
    last_change_ms: u64,
    /// When an idle agent is to be suspended (`agents.suspend_after`), and
    /// the session's input generation when its idle began.
    pub suspend_at: Option<Instant>,
    idle_generation: u64,
    /// The input generation the last `input_accepted` was for: working
    /// again without new input (a hook's second event) accepts nothing.
    accepted_generation: u64,
}

impl AgentWatch {
    /// Tracking that starts in `state`, with hook signal `signal_seen`
    /// already applied and the events of `events` read from its start; the
    /// screen is first looked at `look_at`.
    pub fn new(
        profile: Arc<AgentProfile>,
        state: AgentState,
        look_at: Instant,
        signal_seen: String,
        events: EventReader,
    ) -> AgentWatch {
        AgentWatch {
            profile,
            tracker: Tracker::new(state),
            look_at: Some(look_at),
            signal_seen,
            changes: watch::Sender::new(state),
            events,
            info: SharedInfo::default(),
            question: None,
            last_change_ms: 0,
            suspend_at: None,
            idle_generation: 0,
            accepted_generation: 0,
        }
    }

    /// A receiver of the published state changes.
    pub fn subscribe(&self) -> watch::Receiver<AgentState> {
        self.changes.subscribe()
    }

    /// Reads the events an adopted session's hooks wrote before this node
    /// watched it, for what they tell (the transcript), not as changes.
    pub async fn catch_up(&mut self) {
        for ev in self.events.read_new().await {
            self.remember(&ev);
        }
    }

    /// Forgets events of an earlier pane with the same id (a new session).
    pub async fn start_fresh(&mut self) {
        self.events.remove().await;
    }

    /// The session is gone: its event file goes too.
    pub async fn closed(&mut self) {
        self.events.remove().await;
    }

    /// Applies a new hook signal value from the pane, if it changed.
    pub async fn on_signal(&mut self, signal: &str, out: &mut Output, p: &mut Publisher) {
        if signal == self.signal_seen {
            return;
        }
        self.signal_seen = signal.to_string();
        let events = self.events.read_new().await;
        if events.is_empty() {
            // A hook of the user's own writing the plain "STATE MS" form.
            if let Some((state, _)) = parse_signal(signal) {
                if self.tracker.signal(state).is_some() {
                    let detail = "reported by the agent's hook".into();
                    self.changed(out, p, state, detail, None, HOOK).await;
                }
            }
            return;
        }
        for ev in events {
            self.on_event(ev, out, p).await;
        }
    }

    /// Takes what a hook event tells besides a state.
    fn remember(&mut self, ev: &HookEvent) {
        let transcript = ev.str("transcript_path").filter(|t| !t.is_empty());
        let tool = match ev.name.as_str() {
            "PreToolUse" | "PermissionRequest" | "BeforeTool" => ev
                .str("tool_name")
                .map(|t| (t.to_string(), ev.tool_command())),
            _ => None,
        };
        info::update(&self.info, |i| {
            if let Some(t) = transcript {
                i.transcript = Some(t.into());
            }
            if tool.is_some() {
                i.hook_tool = tool;
            }
            hook_turn(i, ev);
        });
    }

    async fn on_event(&mut self, ev: HookEvent, out: &mut Output, p: &mut Publisher) {
        self.remember(&ev);
        if ev.name == "SessionStart" && self.tracker.state() == AgentState::Suspended {
            self.resume_seen(out, p).await;
            return;
        }
        tracing::debug!(computer = %p.shared.cfg.computer, session = %p.name, event = %ev.name, "agent hook");
        let Some(state) = ev.state() else {
            return;
        };
        // A late "working" must not undo what the screen showed since (the
        // question already drawn); an end of turn always counts.
        if ev.ms < self.last_change_ms && state == AgentState::Working {
            tracing::debug!(session = %p.name, event = %ev.name, "hook event older than the last change; not a state");
            return;
        }
        let detail = format!("hook {}", ev.name);
        match state {
            AgentState::WaitingForInput => {
                if self.tracker.state() == AgentState::WaitingForInput {
                    return;
                }
                // The dialog is drawn just after the hook runs: publish once
                // its choices can be read (or after a while without them).
                let (tool, command) = info::snapshot(&self.info).hook_tool.unzip();
                self.question = Some(PendingQuestion {
                    tool,
                    command: command.flatten(),
                    give_up_at: Instant::now() + PROMPT_DRAW_WAIT,
                });
                self.look_at = Some(Instant::now());
            }
            AgentState::Idle => {
                self.question = None;
                if self.tracker.signal(state).is_some() {
                    self.turn_usage().await;
                    self.changed(out, p, state, detail, None, HOOK).await;
                }
            }
            _ => {
                self.question = None;
                if self.tracker.signal(state).is_some() {
                    self.changed(out, p, state, detail, None, HOOK).await;
                }
            }
        }
    }

    /// Reads the finished turn's token usage from the transcript.
    async fn turn_usage(&mut self) {
        let i = info::snapshot(&self.info);
        if let (Some(format), Some(path)) = (self.profile.transcript, i.transcript) {
            if let Some(turn) = transcript::last_turn(format, &path).await {
                info::update(&self.info, |i| {
                    // A transcript that has no answer yet lags behind the
                    // hooks (Claude Code); its usage is an earlier turn's.
                    if !turn.text.is_empty() {
                        i.usage = turn.usage;
                        if let Some(t) = i.turn.as_mut() {
                            t.usage = turn.usage;
                        }
                    }
                });
            }
        }
    }

    /// The process ended: publishes `Exited` unless it was already.
    pub async fn on_exit(&mut self, out: &mut Output, p: &mut Publisher, status: i32) {
        self.question = None;
        if self.tracker.exited() {
            self.changed(
                out,
                p,
                AgentState::Exited,
                format!("exit status {status}"),
                None,
                SCREEN,
            )
            .await;
        }
    }

    /// When the watcher should call [`AgentWatch::wake`].
    pub fn next_wake(&self) -> Option<Instant> {
        match (self.look_at, self.suspend_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Looks at the screen, or suspends the agent, whichever is due.
    pub async fn wake(&mut self, out: &mut Output, p: &mut Publisher) {
        if self.suspend_at.is_some_and(|t| t <= Instant::now()) {
            self.suspend(out, p).await;
        }
        if self.look_at.is_some_and(|t| t <= Instant::now()) {
            self.look(out, p).await;
        }
    }

    /// Stops an agent idle for `agents.suspend_after`: marks the pane so
    /// its wrapper waits instead of ending, publishes `suspended`, and types
    /// the profile's quit command. Done holding the session's input gate,
    /// so input arriving at the same moment either comes first (and the
    /// idle time starts again) or finds the agent suspended (and resumes it).
    async fn suspend(&mut self, out: &mut Output, p: &mut Publisher) {
        self.suspend_at = None;
        let Some(after) = p.shared.cfg.agent_suspend_after else {
            return;
        };
        if self.tracker.state() != AgentState::Idle || self.profile.quit.is_empty() {
            return;
        }
        let Some(gate) = p
            .shared
            .sessions
            .with_handle(&p.name.key(), |h| h.input.clone())
        else {
            return;
        };
        let Ok(_typing) = gate.lock.try_lock() else {
            self.suspend_at = Some(Instant::now() + after);
            return;
        };
        let generation = gate.generation.load(std::sync::atomic::Ordering::SeqCst);
        if generation != self.idle_generation {
            self.idle_generation = generation;
            self.suspend_at = Some(Instant::now() + after);
            return;
        }
        let shared = p.shared.clone();
        let tmux = &shared.tmux;
        if let Err(e) = tmux.set_suspended(&p.name, true).await {
            tracing::warn!(session = %p.name, error = %e, "could not suspend the agent");
            return;
        }
        self.tracker.suspend();
        let detail = format!(
            "idle for {} s: stopped to free its memory; the next input resumes the conversation",
            after.as_secs()
        );
        self.changed(out, p, AgentState::Suspended, detail, None, SCREEN)
            .await;
        let typed = async {
            tmux.send_text(&p.name, &self.profile.quit).await?;
            tokio::time::sleep(self.profile.submit_delay).await;
            tmux.send_keys(&p.name, &[telemux_proto::Key::Enter]).await
        };
        if let Err(e) = typed.await {
            tracing::warn!(session = %p.name, error = %e, "could not type the agent's quit command");
        }
    }

    /// The resumed agent started: from here its screen and hooks count again.
    async fn resume_seen(&mut self, out: &mut Output, p: &mut Publisher) {
        let requested = info::snapshot(&self.info).resume_requested;
        if !requested {
            return;
        }
        info::update(&self.info, |i| i.resume_requested = false);
        self.tracker.resumed();
        self.changed(out, p, AgentState::Starting, "resumed".into(), None, HOOK)
            .await;
        self.look_at = Some(Instant::now());
    }

    /// Captures the agent's screen and publishes a state change it shows.
    pub async fn look(&mut self, out: &mut Output, p: &mut Publisher) {
        self.look_at = None;
        if self.tracker.state() == AgentState::Exited {
            return;
        }
        if self.tracker.state() == AgentState::Suspended {
            // Agents without a SessionStart hook at start (Codex fires it
            // with the first turn): the resumed program in the pane says it.
            if info::snapshot(&self.info).resume_requested {
                let running = match p.shared.tmux.pane_status(&p.name).await {
                    Ok(ps) => !matches!(ps.command.as_str(), "" | "sh" | "dash" | "tmux"),
                    Err(_) => false,
                };
                if running {
                    self.resume_seen(out, p).await;
                } else {
                    self.look_at = Some(Instant::now() + RESUME_LOOK);
                }
            }
            return;
        }
        let rows = match p.shared.tmux.capture_screen(&p.name).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(session = %p.name, error = %e, "agent screen capture failed");
                return;
            }
        };
        if let Some(q) = &self.question {
            let read = self
                .profile
                .prompt(&rows, q.tool.clone(), q.command.clone());
            if read.is_some() || Instant::now() >= q.give_up_at {
                let q = self.question.take().expect("checked above");
                let detail = read
                    .as_ref()
                    .map(|r| r.prompt.question.clone())
                    .or(q.command.clone())
                    .unwrap_or_else(|| "hook PermissionRequest".into());
                self.tracker.signal(AgentState::WaitingForInput);
                self.publish_question(out, p, detail, read, HOOK).await;
            } else {
                self.look_at = Some(Instant::now() + PROMPT_LOOK);
            }
            return;
        }
        let (change, again) = self.tracker.observe(&self.profile, &rows, Instant::now());
        self.look_at = again;
        match change {
            Some((AgentState::WaitingForInput, line)) => {
                let hook = info::snapshot(&self.info).hook_tool;
                let (tool, command) = hook.unzip();
                let read = self.profile.prompt(&rows, tool, command.flatten());
                self.publish_question(out, p, line, read, SCREEN).await;
            }
            Some((state, line)) => self.changed(out, p, state, line, None, SCREEN).await,
            None if self.tracker.state() == AgentState::WaitingForInput => {
                // Another question right after the first: same state, new prompt.
                let shown = info::snapshot(&self.info).prompt.map(|s| s.prompt.id);
                if let Some(read) = self.profile.prompt(&rows, None, None) {
                    if shown.as_deref() != Some(read.prompt.id.as_str()) {
                        let line = read.prompt.question.clone();
                        self.publish_question(out, p, line, Some(read), SCREEN)
                            .await;
                    }
                }
            }
            None => {}
        }
    }

    async fn publish_question(
        &mut self,
        out: &mut Output,
        p: &mut Publisher,
        detail: String,
        read: Option<crate::agent::prompt::ScreenPrompt>,
        source: &'static str,
    ) {
        let prompt = read.as_ref().map(|r| r.prompt.clone());
        info::update(&self.info, |i| {
            i.prompt = read;
            i.answered = None;
        });
        self.changed(out, p, AgentState::WaitingForInput, detail, prompt, source)
            .await;
    }

    /// Publishes an agent state change and remembers it in tmux, so `sessions`
    /// shows it and a restarted node resumes from it.
    async fn changed(
        &mut self,
        out: &mut Output,
        p: &mut Publisher,
        state: AgentState,
        detail: String,
        prompt: Option<AgentPrompt>,
        source: &'static str,
    ) {
        tracing::info!(computer = %p.shared.cfg.computer, session = %p.name, %state, %detail, source, "agent state");
        self.last_change_ms = now_ms();
        self.suspend_at = None;
        if let (AgentState::Idle, Some(after)) = (state, p.shared.cfg.agent_suspend_after) {
            self.suspend_at = Some(Instant::now() + after);
            self.idle_generation = p
                .shared
                .sessions
                .with_handle(&p.name.key(), |h| {
                    h.input.generation.load(std::sync::atomic::Ordering::SeqCst)
                })
                .unwrap_or(0);
        }
        if state != AgentState::WaitingForInput {
            info::update(&self.info, |i| {
                i.prompt = None;
                i.hook_tool = None;
            });
        }
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
        p.emit(
            OutputEvent::AgentState {
                state,
                detail,
                prompt,
                source: source.into(),
            },
            None,
        );
        self.changes.send_replace(state);
        p.flush().await;
        p.shared.mesh_event(MeshEvent::AgentState {
            computer: p.shared.cfg.computer.to_string(),
            session: p.name.to_string(),
            state,
            since_ms: self.last_change_ms,
        });
        if state == AgentState::Working {
            let generation = p
                .shared
                .sessions
                .with_handle(&p.name.key(), |h| {
                    h.input.generation.load(std::sync::atomic::Ordering::SeqCst)
                })
                .unwrap_or(0);
            if generation > self.accepted_generation {
                self.accepted_generation = generation;
                p.shared.mesh_event(MeshEvent::InputAccepted {
                    computer: p.shared.cfg.computer.to_string(),
                    session: p.name.to_string(),
                });
            }
        }
    }
}
