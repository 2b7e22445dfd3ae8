//! A session's life after its output: finished commands (the shell hook's
//! exit records), the wrapper's exit status, pane death, a vanished session,
//! and the timeout of a `run` session. Where the session stands is one
//! explicit [`Phase`].

use std::time::Duration;

use telemux_proto::{Key, MeshEvent, OutputEvent};
use telemux_tmux::{TmuxError, WrapperState};
use tokio::time::Instant;

use super::agent::AgentWatch;
use super::outbox::Pending;
use super::output::Output;
use super::publish::Publisher;

/// Time given to tmux to deliver a command's last output before its exit
/// record is published, so the exit follows the output it belongs to.
const SETTLE: Duration = Duration::from_millis(25);
/// Grace after Ctrl-C before a timed-out run session is killed.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// Where a watched session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Its process runs.
    Running,
    /// A `run` passed its timeout: Ctrl-C was sent, no exit seen yet.
    TimedOut,
    /// Its exit was published (or the wrapper says it was, before a restart).
    Exited {
        /// The exit followed a timeout.
        timed_out: bool,
    },
    /// The session is gone and its closure published; the watcher ends.
    Closed,
}

impl Phase {
    /// Whether the session's exit has been published.
    fn exit_reported(self) -> bool {
        matches!(self, Phase::Exited { .. } | Phase::Closed)
    }

    /// Whether a run timeout fired.
    fn timed_out(self) -> bool {
        matches!(self, Phase::TimedOut | Phase::Exited { timed_out: true })
    }

    /// The phase once the exit is published.
    fn exited(self) -> Phase {
        match self {
            Phase::Running => Phase::Exited { timed_out: false },
            Phase::TimedOut => Phase::Exited { timed_out: true },
            other => other,
        }
    }

    /// The phase once a run timeout fired.
    fn timing_out(self) -> Phase {
        match self {
            Phase::Running => Phase::TimedOut,
            Phase::Exited { .. } => Phase::Exited { timed_out: true },
            other => other,
        }
    }
}

/// Exit bookkeeping of one session.
pub(super) struct Lifecycle {
    pub phase: Phase,
    /// Number of the last shell exit record published.
    exits_seen: u64,
    /// When a `run` session times out (then: is killed).
    pub run_deadline: Option<Instant>,
    /// Pid of the tmux server the session lived on when the watcher started.
    server_pid: Option<u32>,
}

impl Lifecycle {
    /// A session whose exit records up to `exits_seen` are published, on
    /// the tmux server with `server_pid`.
    pub fn new(
        exits_seen: u64,
        run_timeout: Option<Duration>,
        server_pid: Option<u32>,
    ) -> Lifecycle {
        Lifecycle {
            phase: Phase::Running,
            exits_seen,
            run_deadline: run_timeout.map(|t| Instant::now() + t),
            server_pid,
        }
    }

    /// Whether the session is gone (the watcher ends).
    pub fn closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Looks for finished commands, a dead pane, or a vanished session.
    ///
    /// One tmux call (`display-message` with every field the decision needs);
    /// the node only pokes a watcher whose pane changed, so an Enter in one
    /// session does not make every other session query tmux.
    pub async fn check(
        &mut self,
        out: &mut Output,
        p: &mut Publisher,
        mut agent: Option<&mut AgentWatch>,
    ) {
        let computer = p.shared.cfg.computer.clone();
        let pane = match p.shared.tmux.pane_status(&p.name).await {
            Ok(pane) => pane,
            Err(TmuxError::NoSession(_)) => {
                self.close(out, p, agent).await;
                return;
            }
            Err(e) => {
                tracing::warn!(computer = %computer, session = %p.name, error = %e, "tmux check failed");
                return;
            }
        };
        if let Some(a) = agent.as_deref_mut() {
            a.on_signal(&pane.agent_signal, out, p).await;
        }
        let wrapper = WrapperState {
            status: pane.wrapper_status,
            reported: pane.wrapper_reported,
        };
        if wrapper.reported {
            self.phase = self.phase.exited();
        }
        let last_exit = pane.last_exit.unwrap_or(0);
        let wrapper_exit = wrapper.status.filter(|_| !self.phase.exit_reported());
        let dead_exit = pane.dead && !self.phase.exit_reported() && wrapper.status.is_none();
        if last_exit > self.exits_seen || wrapper_exit.is_some() || dead_exit {
            // The exit was signalled; give tmux a moment to hand over the
            // output that came before it, then publish that output first.
            tokio::time::sleep(SETTLE).await;
            out.drain(p, agent.as_deref_mut().map(|a| &mut a.look_at))
                .await;
        }
        let mut finished = Vec::new();
        if last_exit > self.exits_seen {
            match p.shared.tmux.exit_records(&p.name, self.exits_seen).await {
                Ok(records) => {
                    finished.extend(records.iter().map(|r| r.exit_code));
                    if let Some(r) = records.last() {
                        let last = Some((r.n, r.exit_code));
                        p.shared
                            .sessions
                            .with_handle(&p.name.key(), |h| h.last_command = last);
                    }
                    for r in records {
                        self.exits_seen = self.exits_seen.max(r.n);
                        tracing::debug!(computer = %computer, session = %p.name, n = r.n, code = r.exit_code, "command finished");
                        p.emit(
                            OutputEvent::CommandFinished {
                                exit_code: r.exit_code,
                                started_ms: r.started_ms,
                                finished_ms: r.finished_ms,
                            },
                            Some(r.n),
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(session = %p.name, error = %e, "reading exit records failed")
                }
            }
        }
        let exit = match (wrapper_exit, dead_exit) {
            (Some(st), _) => Some((st, None, Some(pane.pane_id.clone()))),
            (None, true) => Some((pane.exit_status().unwrap_or(-1), pane.dead_signal, None)),
            _ => None,
        };
        let exited = exit.as_ref().map(|(status, ..)| *status);
        if let Some((status, signal, release)) = exit {
            self.phase = self.phase.exited();
            if let Some(a) = agent {
                a.on_exit(out, p, status).await;
            }
            tracing::info!(computer = %computer, session = %p.name, status, "session exited");
            let then_kill = self.run_deadline.is_some() || self.phase.timed_out();
            self.emit_exit(p, status, signal, then_kill, release);
        }
        p.flush().await;
        // After the flush: the session's own records come first.
        for exit_code in finished {
            p.shared.mesh_event(MeshEvent::CommandFinished {
                computer: computer.to_string(),
                session: p.name.to_string(),
                exit_code,
            });
        }
        if let Some(status) = exited {
            p.shared.mesh_event(MeshEvent::SessionExited {
                computer: computer.to_string(),
                session: p.name.to_string(),
                exit_status: status,
            });
        }
    }

    /// The session is gone: publishes its closure (after any output still
    /// waiting) and ends the watcher. The one place a closure is published
    /// and logged, so each session logs exactly one `session closed`.
    ///
    /// The reason says why: killed, closed after its process exited, or
    /// lost with its tmux server. The server died when another server (or
    /// none) runs than the one the watcher started under; such a session is
    /// also handed to the node ([`Shared::lost`](crate::state::Shared)),
    /// which names all of them in one ERROR line.
    pub async fn close(
        &mut self,
        out: &mut Output,
        p: &mut Publisher,
        agent: Option<&mut AgentWatch>,
    ) {
        let computer = p.shared.cfg.computer.clone();
        let server_died = match p.shared.tmux.server_pid().await {
            Ok(now) => self.server_pid.is_some() && now != self.server_pid,
            Err(_) => false,
        };
        let reason = if server_died {
            p.shared.session_lost(self.server_pid, &p.name);
            "tmux server died"
        } else if self.phase.exit_reported() {
            "closed after its process exited"
        } else {
            "killed"
        };
        match agent {
            Some(a) => {
                out.drain(p, Some(&mut a.look_at)).await;
                a.closed().await;
            }
            None => out.drain(p, None).await,
        }
        p.emit(
            OutputEvent::SessionClosed {
                reason: reason.into(),
            },
            None,
        );
        p.flush().await;
        p.shared.mesh_event(MeshEvent::SessionClosed {
            computer: computer.to_string(),
            session: p.name.to_string(),
        });
        p.shared
            .sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .forget(&p.name.key());
        tracing::info!(computer = %computer, session = %p.name, reason, "session closed");
        self.phase = Phase::Closed;
    }

    fn emit_exit(
        &mut self,
        p: &mut Publisher,
        status: i32,
        signal: Option<i32>,
        then_kill: bool,
        release: Option<String>,
    ) {
        let record = p.record(OutputEvent::SessionExited {
            exit_status: status,
            signal,
            timed_out: self.phase.timed_out(),
        });
        self.run_deadline = None;
        let mut pending = Pending::new(record, None);
        pending.then_kill = then_kill;
        pending.release = release;
        p.push(pending);
    }

    /// A `run` passed its timeout: interrupt, then kill if it lingers.
    pub async fn on_timeout(
        &mut self,
        out: &mut Output,
        p: &mut Publisher,
        agent: Option<&mut AgentWatch>,
    ) {
        if !self.phase.timed_out() {
            tracing::info!(session = %p.name, "run timed out; sending Ctrl-C");
            self.phase = self.phase.timing_out();
            self.run_deadline = Some(Instant::now() + KILL_GRACE);
            if let Err(e) = p.shared.tmux.send_keys(&p.name, &[Key::Ctrl('c')]).await {
                tracing::debug!(session = %p.name, error = %e, "Ctrl-C failed");
            }
        } else if !self.phase.exit_reported() {
            tracing::info!(session = %p.name, "run ignored Ctrl-C; killing it");
            self.phase = self.phase.exited();
            out.drain(p, agent.map(|a| &mut a.look_at)).await;
            self.emit_exit(p, 124, None, true, None);
            p.flush().await;
        } else {
            self.run_deadline = None;
        }
    }
}
