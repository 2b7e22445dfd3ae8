//! The mailbox: messages queued for this computer's sessions, typed when
//! their target is ready (`when`), confirmed when it takes them, retried with
//! backoff, expired after their time-to-live, dead-lettered after
//! `MAX_ATTEMPTS` — each step a mesh event, each state in Redis
//! (`telemux-bus/src/mailbox.rs`), so a restarted node carries on.
//!
//! One task owns every entry ([`run`]); operations reach it through a
//! bounded queue of [`MailCmd`]s and wait for its answer, so no lock is held
//! anywhere. It ticks only while something is pending or awaiting an answer:
//! an empty mailbox costs nothing. "Taken" means, for an agent, that its
//! state changed after the message was typed (it started working); for a
//! shell, that it was typed (a terminal does not lose input). A message
//! typed just before a node crash is counted as delivered when the node
//! comes back, never typed twice.

mod rules;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use telemux_proto::mailbox::{
    Delivery, Status, DEFAULT_TTL_MS, KEEP_FINISHED_MS, MAX_PENDING, MAX_TTL_MS,
};
use telemux_proto::{limits, now_ms, AgentState, ErrorCode, Letter, MeshEvent, Op, ReplyBody};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::error::OpError;
use crate::mail_cmd::MailCmd;
use crate::state::Shared;
use rules::{step, Step, TargetView};

/// How often pending messages are looked at.
const TICK: Duration = Duration::from_millis(250);
/// Longest answer put in `message_answered`, in characters.
const MAX_ANSWER_CHARS: usize = 4000;

/// Per-entry knowledge that is not worth storing: the agent's state
/// receiver when the message was typed, and the shell's last exit record.
#[derive(Default)]
struct Watch {
    changes: Option<watch::Receiver<AgentState>>,
    exits_before: u64,
}

/// The task's state.
struct Mailbox {
    shared: Arc<Shared>,
    entries: BTreeMap<String, Delivery>,
    watches: HashMap<String, Watch>,
    /// Entries whose last write to Redis failed (written again next tick).
    dirty: HashSet<String>,
    /// Sessions (lower-cased) being renamed: their entries wait.
    held: HashSet<String>,
}

/// Runs the mailbox until `cancel`.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<MailCmd>,
    cancel: CancellationToken,
) {
    let mut mb = Mailbox {
        shared,
        entries: BTreeMap::new(),
        watches: HashMap::new(),
        dirty: HashSet::new(),
        held: HashSet::new(),
    };
    mb.load().await;
    // An interval, not a sleep per loop: requests arriving more often than
    // the tick (a watcher polling `inbox`) must not postpone it forever.
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let busy = mb
            .entries
            .values()
            .any(|d| !d.status.finished() || d.awaiting_answer)
            || !mb.dirty.is_empty();
        tokio::select! {
            _ = cancel.cancelled() => return,
            cmd = rx.recv() => match cmd {
                Some(cmd) => mb.handle(cmd).await,
                None => return,
            },
            _ = tick.tick(), if busy => mb.tick().await,
        }
    }
}

impl Mailbox {
    fn computer(&self) -> String {
        self.shared.cfg.computer.to_string()
    }

    /// Reads the stored entries; a message typed before a crash counts as delivered.
    async fn load(&mut self) {
        let computer = &self.shared.cfg.computer;
        let all = match self.shared.bus.mailbox_all(computer).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(computer = %computer, error = %e, "cannot read the mailbox; queued messages wait until it can");
                return;
            }
        };
        for entry in all {
            match entry {
                Ok(mut d) => {
                    if d.status == Status::Typed {
                        d.status = Status::Delivered;
                        d.detail = "typed before the node restarted; not typed again".into();
                        d.changed_ms = now_ms();
                        self.dirty.insert(d.letter.id.clone());
                    }
                    self.entries.insert(d.letter.id.clone(), d);
                }
                Err((id, why)) => {
                    tracing::warn!(computer = %computer, %id, %why, "skipping a mailbox entry that does not decode")
                }
            }
        }
        tracing::info!(computer = %computer, entries = self.entries.len(), "mailbox loaded");
    }

    async fn handle(&mut self, cmd: MailCmd) {
        match cmd {
            MailCmd::Enqueue { letter, by, reply } => {
                let r = self.enqueue(letter, by).await;
                let _ = reply.send(r);
            }
            MailCmd::List { session, reply } => {
                let list = self
                    .entries
                    .values()
                    .filter(|d| {
                        session
                            .as_deref()
                            .is_none_or(|s| d.letter.session.eq_ignore_ascii_case(s))
                    })
                    .cloned()
                    .collect();
                let _ = reply.send(list);
            }
            MailCmd::Retry { id, reply } => {
                let r = self.retry(&id).await;
                let _ = reply.send(r);
            }
            MailCmd::Drop { id, reply } => {
                let r = self.drop_entry(&id).await;
                let _ = reply.send(r);
            }
            MailCmd::Hold { session, reply } => {
                self.held.insert(session.to_ascii_lowercase());
                let _ = reply.send(());
            }
            MailCmd::Renamed { from, to, reply } => {
                self.held.remove(&from.to_ascii_lowercase());
                if let Some(to) = to {
                    let ids: Vec<String> = self
                        .entries
                        .values()
                        .filter(|d| d.letter.session.eq_ignore_ascii_case(&from))
                        .map(|d| d.letter.id.clone())
                        .collect();
                    for id in ids {
                        if let Some(d) = self.entries.get_mut(&id) {
                            d.letter.session = to.clone();
                        }
                        self.save(&id).await;
                    }
                }
                let _ = reply.send(());
            }
        }
    }

    async fn enqueue(&mut self, mut letter: Letter, by: String) -> Result<Delivery, OpError> {
        if let Some(d) = self.entries.get(&letter.id) {
            return Ok(d.clone());
        }
        limits::check("text", letter.text.len(), limits::MAX_TEXT_BYTES)?;
        if letter.id.is_empty() || letter.id.len() > 64 {
            return Err(OpError::new(
                ErrorCode::BadInput,
                "a message id is 1 to 64 characters",
            ));
        }
        let pending = self
            .entries
            .values()
            .filter(|d| !d.status.finished())
            .count();
        if pending >= MAX_PENDING {
            return Err(OpError::new(
                ErrorCode::TooLarge,
                format!("{} already holds {pending} undelivered messages, the most it keeps; drop some with `telemux inbox SESSION --drop ID`", self.shared.cfg.computer),
            ));
        }
        let t = crate::ops::resolve(&self.shared, &letter.session).await?;
        letter.session = t.session.to_string();
        let now = now_ms();
        let ttl = letter.expires_ms.saturating_sub(letter.queued_ms);
        let ttl = if ttl == 0 {
            DEFAULT_TTL_MS
        } else {
            ttl.min(MAX_TTL_MS)
        };
        letter.expires_ms = now + ttl;
        if letter.from.is_empty() {
            letter.from = by.clone();
        }
        let d = Delivery {
            letter,
            status: Status::Pending,
            attempts: 0,
            next_try_ms: 0,
            changed_ms: now,
            detail: "waiting for its target".into(),
            awaiting_answer: false,
        };
        self.entries.insert(d.letter.id.clone(), d.clone());
        self.save(&d.letter.id).await;
        self.event(MeshEvent::DeliveryQueued {
            computer: self.computer(),
            session: d.letter.session.clone(),
            message_id: d.letter.id.clone(),
            by,
        });
        Ok(d)
    }

    async fn retry(&mut self, id: &str) -> Result<Delivery, OpError> {
        let d = self.entries.get_mut(id).ok_or_else(|| no_such(id))?;
        if !matches!(d.status, Status::Dead | Status::Expired | Status::Dropped) {
            return Err(OpError::new(
                ErrorCode::BadInput,
                format!(
                    "message {id} is {:?}, not dead or expired; only those are retried",
                    d.status
                ),
            ));
        }
        let now = now_ms();
        // A fresh time-to-live as long as the first one (at least a minute).
        let ttl = d
            .letter
            .expires_ms
            .saturating_sub(d.letter.queued_ms)
            .clamp(60_000, MAX_TTL_MS);
        d.letter.expires_ms = now + ttl;
        d.status = Status::Pending;
        d.attempts = 0;
        d.next_try_ms = 0;
        d.changed_ms = now;
        d.detail = "retry asked for".into();
        let d = d.clone();
        self.save(id).await;
        Ok(d)
    }

    async fn drop_entry(&mut self, id: &str) -> Result<Delivery, OpError> {
        let d = self.entries.get_mut(id).ok_or_else(|| no_such(id))?;
        if d.status == Status::Delivered {
            return Err(OpError::new(
                ErrorCode::BadInput,
                format!("message {id} was delivered already"),
            ));
        }
        d.status = Status::Dropped;
        d.changed_ms = now_ms();
        d.detail = "dropped on request".into();
        let d = d.clone();
        self.save(id).await;
        Ok(d)
    }

    /// Moves every unfinished entry on by one step.
    async fn tick(&mut self) {
        let now = now_ms();
        let ids: Vec<String> = self.entries.keys().cloned().collect();
        // One message in flight per session: the next waits until the
        // previous one was taken (an agent typed at twice would get the
        // second prompt mid-turn; a shell, while the first command runs).
        let mut in_flight: HashSet<String> = self
            .entries
            .values()
            .filter(|d| d.status == Status::Typed)
            .map(|d| d.letter.session.to_ascii_lowercase())
            .collect();
        for id in ids {
            let Some(d) = self.entries.get(&id).cloned() else {
                continue;
            };
            if self.held.contains(&d.letter.session.to_ascii_lowercase()) {
                continue;
            }
            if d.status.finished() {
                if d.awaiting_answer {
                    self.answer(&id, &d).await;
                } else if now > d.changed_ms + KEEP_FINISHED_MS {
                    self.forget(&id).await;
                }
                continue;
            }
            let session = d.letter.session.to_ascii_lowercase();
            let blocked = d.status == Status::Pending && in_flight.contains(&session);
            self.advance(&id, d, now, blocked).await;
            if self
                .entries
                .get(&id)
                .is_some_and(|e| e.status == Status::Typed)
            {
                in_flight.insert(session);
            }
        }
        for id in std::mem::take(&mut self.dirty) {
            self.save(&id).await;
        }
    }

    /// One step for `d`; `blocked`: another message to its session is in flight.
    async fn advance(&mut self, id: &str, d: Delivery, now: u64, blocked: bool) {
        let target = match crate::ops::resolve(&self.shared, &d.letter.session).await {
            Ok(t) => t,
            Err(e) if e.code == ErrorCode::NoSuchSession => {
                return self
                    .dead(id, format!("its session {} is gone", d.letter.session))
                    .await;
            }
            // tmux briefly away: try again next tick.
            Err(_) => return,
        };
        // The target is looked at (a tmux call) only when the answer can
        // matter: a pending message that is due, not expired, not blocked.
        let due = d.status == Status::Pending
            && now >= d.next_try_ms
            && now < d.letter.expires_ms
            && !blocked;
        let is_ready = due
            && self
                .view(&target)
                .await
                .is_some_and(|v| rules::ready(d.letter.when, &v));
        let accepted = match self.watches.get_mut(id).and_then(|w| w.changes.as_mut()) {
            Some(rx) => rx.has_changed().unwrap_or(true),
            // A shell (or an agent not watched): typing is taking.
            None => d.status == Status::Typed,
        };
        let within = self.shared.cfg.accept_within.as_millis() as u64;
        match step(&d, now, is_ready, accepted, within) {
            Step::Wait => {}
            Step::Type => self.type_it(id, d, target, now).await,
            Step::Delivered => self.delivered(id, now).await,
            Step::Expire => {
                self.finish(
                    id,
                    Status::Expired,
                    "its time-to-live ran out before its target was ready".into(),
                )
                .await;
                self.event(MeshEvent::DeliveryExpired {
                    computer: self.computer(),
                    session: d.letter.session.clone(),
                    message_id: id.to_string(),
                });
            }
            Step::Retry { next_try_ms } => {
                if let Some(e) = self.entries.get_mut(id) {
                    e.status = Status::Pending;
                    e.next_try_ms = next_try_ms;
                    e.changed_ms = now;
                    e.detail = format!("not taken after attempt {}; trying again", e.attempts);
                }
                self.save(id).await;
                self.event(MeshEvent::DeliveryRetrying {
                    computer: self.computer(),
                    session: d.letter.session.clone(),
                    message_id: id.to_string(),
                    attempt: d.attempts,
                    reason: "the target did not take it".into(),
                });
            }
            Step::Dead(reason) => self.dead(id, reason).await,
        }
    }

    /// What is known about the target now; `None` when tmux cannot say.
    async fn view(&self, t: &crate::ops::Target) -> Option<TargetView> {
        let pane = self.shared.tmux.pane_status(&t.session).await.ok()?;
        let agent = match (&t.agent_changes, t.agent.is_empty()) {
            (Some(rx), _) => Some(*rx.borrow()),
            (None, false) => Some(AgentState::Starting),
            (None, true) => None,
        };
        Some(TargetView {
            agent,
            foreground: pane.command,
            quiet_ms: now_ms().saturating_sub(pane.activity_ms),
        })
    }

    async fn type_it(&mut self, id: &str, d: Delivery, t: crate::ops::Target, now: u64) {
        let mut w = Watch::default();
        if let Some(mut rx) = t.agent_changes.clone() {
            rx.mark_unchanged();
            w.changes = Some(rx);
        } else if d.letter.notify {
            // tmux's count too: a command that ended just now may not be
            // processed by the watcher yet, and its exit is not the answer.
            let watched = self.last_command(&t).map(|(n, _)| n).unwrap_or(0);
            let in_tmux = match self.shared.tmux.pane_status(&t.session).await {
                Ok(p) => p.last_exit.unwrap_or(0),
                Err(_) => 0,
            };
            w.exits_before = watched.max(in_tmux);
        }
        if let Some(e) = self.entries.get_mut(id) {
            e.status = Status::Typed;
            e.attempts += 1;
            e.changed_ms = now;
            e.detail = format!("typed (attempt {})", e.attempts);
        }
        // Stored as typed before typing: a crash in between never types it twice.
        self.save(id).await;
        self.watches.insert(id.to_string(), w);
        let by = format!("mailbox:{}", d.letter.from);
        let op = Op::SendText {
            session: t.session.to_string(),
            text: d.letter.text.clone(),
            enter: true,
        };
        if let Err(e) = Box::pin(crate::ops::execute(&self.shared, op, &by)).await {
            tracing::info!(computer = %self.shared.cfg.computer, session = %t.session, error = %e.message, "typing a queued message failed; retrying");
            if let Some(e) = self.entries.get_mut(id) {
                e.status = Status::Pending;
                e.next_try_ms = now + rules::backoff_ms(e.attempts);
            }
            self.save(id).await;
        }
    }

    /// The shell's last finished command as its watcher recorded it.
    fn last_command(&self, t: &crate::ops::Target) -> Option<(u64, i32)> {
        self.shared
            .sessions
            .with_handle(&t.session.key(), |h| h.last_command)
            .flatten()
    }

    async fn delivered(&mut self, id: &str, now: u64) {
        let Some(e) = self.entries.get_mut(id) else {
            return;
        };
        e.status = Status::Delivered;
        e.changed_ms = now;
        e.detail = format!("taken on attempt {}", e.attempts);
        e.awaiting_answer = e.letter.notify;
        let (session, attempt) = (e.letter.session.clone(), e.attempts);
        self.save(id).await;
        self.event(MeshEvent::DeliveryDelivered {
            computer: self.computer(),
            session,
            message_id: id.to_string(),
            attempt,
        });
    }

    /// Publishes the answer of a delivered `notify` message once its turn
    /// (or command) is over.
    async fn answer(&mut self, id: &str, d: &Delivery) {
        let Ok(t) = crate::ops::resolve(&self.shared, &d.letter.session).await else {
            // The session went away before answering: nothing will answer.
            return self
                .answered(id, d, "(the session ended before it answered)".into(), None)
                .await;
        };
        if let Some(rx) = &t.agent_changes {
            let state = *rx.borrow();
            if !matches!(
                state,
                AgentState::Idle | AgentState::WaitingForInput | AgentState::Exited
            ) {
                return;
            }
            let op = Op::Read {
                session: t.session.to_string(),
                lines: 0,
                raw: false,
                last_turn: true,
            };
            let text = match Box::pin(crate::ops::execute(&self.shared, op, "mailbox")).await {
                Ok(ReplyBody::Turn(turn)) => turn.text,
                Ok(_) => String::new(),
                Err(e) => format!("(no answer: {})", e.message),
            };
            let text: String = text.chars().take(MAX_ANSWER_CHARS).collect();
            return self.answered(id, d, text, None).await;
        }
        let before = self.watches.get(id).map(|w| w.exits_before).unwrap_or(0);
        if let Some((n, code)) = self.last_command(&t) {
            if n > before {
                self.answered(id, d, format!("exit code {code}"), Some(code))
                    .await;
            }
        }
    }

    async fn answered(&mut self, id: &str, d: &Delivery, answer: String, exit_code: Option<i32>) {
        if let Some(e) = self.entries.get_mut(id) {
            e.awaiting_answer = false;
        }
        self.watches.remove(id);
        self.save(id).await;
        self.event(MeshEvent::MessageAnswered {
            computer: self.computer(),
            session: d.letter.session.clone(),
            message_id: id.to_string(),
            answer,
            exit_code,
            reply_to: d.letter.reply_to.clone(),
        });
    }

    async fn dead(&mut self, id: &str, reason: String) {
        let session = self
            .entries
            .get(id)
            .map(|d| d.letter.session.clone())
            .unwrap_or_default();
        self.finish(id, Status::Dead, reason.clone()).await;
        self.event(MeshEvent::DeliveryDeadLettered {
            computer: self.computer(),
            session,
            message_id: id.to_string(),
            reason,
        });
    }

    async fn finish(&mut self, id: &str, status: Status, detail: String) {
        if let Some(e) = self.entries.get_mut(id) {
            e.status = status;
            e.changed_ms = now_ms();
            e.detail = detail;
        }
        self.watches.remove(id);
        self.save(id).await;
    }

    async fn forget(&mut self, id: &str) {
        match self
            .shared
            .bus
            .mailbox_remove(&self.shared.cfg.computer, id)
            .await
        {
            Ok(()) => {
                self.entries.remove(id);
            }
            Err(e) => tracing::debug!(error = %e, "cannot remove a finished message yet"),
        }
    }

    /// Writes one entry to Redis; a failure marks it for the next tick.
    async fn save(&mut self, id: &str) {
        let Some(d) = self.entries.get(id) else {
            return;
        };
        match self
            .shared
            .bus
            .mailbox_put(&self.shared.cfg.computer, d)
            .await
        {
            Ok(()) => {
                self.dirty.remove(id);
            }
            Err(e) => {
                tracing::warn!(computer = %self.shared.cfg.computer, message_id = %id, error = %e, "cannot store a queued message's state; will retry");
                self.dirty.insert(id.to_string());
            }
        }
    }

    fn event(&self, ev: MeshEvent) {
        self.shared.mesh_event(ev);
    }
}

fn no_such(id: &str) -> OpError {
    OpError::new(
        ErrorCode::BadInput,
        format!("no message {id} in this mailbox; `telemux inbox SESSION` lists them"),
    )
}
