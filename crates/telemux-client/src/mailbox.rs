//! Queued delivery from the sender's side: [`Mesh::send_message`] hands a
//! message to the target's node, which types it when the target is ready;
//! with `notify` the caller then waits for `message_answered` on the event
//! bus (the feed is opened before the message is queued, so the answer
//! cannot be missed). [`Mesh::mailbox`] lists a session's messages.

use std::time::Duration;

use telemux_bus::Cursor;
use telemux_proto::mailbox::Delivery;
use telemux_proto::{now_ms, Letter, MeshEvent, Op, ReplyBody, When};

use crate::events::EventFeed;
use crate::mesh::{Mesh, MeshError};

/// What a sender asks for.
#[derive(Debug, Clone)]
pub struct Message {
    /// Target `computer/session` (or a bare name unique in the mesh).
    pub session: String,
    /// Text typed, then Enter.
    pub text: String,
    /// When it may be typed.
    pub when: When,
    /// Time-to-live (`None`: the node's default, an hour).
    pub ttl: Option<Duration>,
    /// Sender name shown in `inbox` and events (`None`: this client).
    pub from: Option<String>,
    /// Wait for the target's answer.
    pub notify: bool,
    /// Queue the answer for this session (`COMPUTER/SESSION`) when it is
    /// idle, instead of (or as well as) waiting for it; implies `notify`.
    pub reply_to: Option<String>,
}

/// A queued message, and (with `notify`) the way to its answer.
pub struct Sent {
    /// The entry as the node stored it (its canonical session name included).
    pub delivery: Delivery,
    /// The computer that holds it.
    pub computer: String,
    answers: Option<EventFeed>,
}

/// The answer to a `notify` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The agent's last answer, or `exit code N` for a shell.
    pub text: String,
    /// A shell command's exit code.
    pub exit_code: Option<i32>,
}

impl Mesh {
    /// Queues `m` in its target's mailbox; see the module docs.
    pub async fn send_message(&self, m: Message) -> Result<Sent, MeshError> {
        let (computer, session) = self.resolve_session(&m.session).await?;
        let reply_to = match &m.reply_to {
            Some(r) => {
                // Its node says whether it exists (and which names do).
                let (c, s) = self.resolve_session(r).await?;
                let op = Op::Info {
                    session: s.to_string(),
                };
                match self.call(&c, op).await? {
                    ReplyBody::Info(d) => Some(format!("{c}/{}", d.info.name)),
                    other => return Err(unexpected(other)),
                }
            }
            None => None,
        };
        let answers = if m.notify {
            let filter = crate::events::event_filter(
                &[
                    "message_answered",
                    "delivery_expired",
                    "delivery_dead_lettered",
                ],
                Some(computer.as_str()),
                None,
            )?;
            Some(self.events(Cursor::End, filter).await?)
        } else {
            None
        };
        let now = now_ms();
        let ttl_ms = m.ttl.map(|d| d.as_millis() as u64).unwrap_or(0);
        let letter = Letter {
            id: uuid::Uuid::now_v7().simple().to_string(),
            session: session.to_string(),
            text: m.text,
            when: m.when,
            expires_ms: if ttl_ms == 0 { now } else { now + ttl_ms },
            from: m.from.unwrap_or_default(),
            notify: m.notify || reply_to.is_some(),
            reply_to,
            queued_ms: now,
        };
        match self.call(&computer, Op::Enqueue(letter)).await? {
            ReplyBody::Queued(delivery) => Ok(Sent {
                delivery,
                computer: computer.to_string(),
                answers,
            }),
            other => Err(unexpected(other)),
        }
    }

    /// The messages of one session (`computer/session`), oldest first.
    pub async fn mailbox(&self, addr: &str) -> Result<(String, Vec<Delivery>), MeshError> {
        let (computer, session) = self.resolve_session(addr).await?;
        let op = Op::Mailbox {
            session: Some(session.to_string()),
        };
        match self.call(&computer, op).await? {
            ReplyBody::Mailbox(list) => Ok((computer.to_string(), list)),
            other => Err(unexpected(other)),
        }
    }

    /// Retries (`retry`) or drops a message of `addr`'s computer by id.
    pub async fn mailbox_change(
        &self,
        addr: &str,
        id: &str,
        retry: bool,
    ) -> Result<Delivery, MeshError> {
        let (computer, _) = self.resolve_session(addr).await?;
        let id = id.to_string();
        let op = if retry {
            Op::MailboxRetry { id }
        } else {
            Op::MailboxDrop { id }
        };
        match self.call(&computer, op).await? {
            ReplyBody::Queued(d) => Ok(d),
            other => Err(unexpected(other)),
        }
    }
}

impl Sent {
    /// The event-stream position to wait for the answer from (`None`
    /// without notify): `wait_for_event` with it misses nothing.
    pub fn cursor(&self) -> Option<String> {
        self.answers.as_ref().map(EventFeed::cursor)
    }

    /// Waits up to `timeout` for the answer of a `notify` message.
    pub async fn answer(&mut self, timeout: Duration) -> Result<Answer, MeshError> {
        let id = self.delivery.letter.id.clone();
        let feed = self
            .answers
            .as_mut()
            .ok_or_else(|| MeshError::BadInput("the message was sent without notify".into()))?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(MeshError::Timeout(format!(
                    "no answer to message {id} within {} s; `telemux inbox` shows where it is",
                    timeout.as_secs()
                )));
            }
            for r in feed.wait(left).await? {
                match r.event {
                    MeshEvent::MessageAnswered {
                        message_id,
                        answer,
                        exit_code,
                        ..
                    } if message_id == id => {
                        return Ok(Answer {
                            text: answer,
                            exit_code,
                        });
                    }
                    MeshEvent::DeliveryExpired { message_id, .. } if message_id == id => {
                        return Err(MeshError::Timeout(format!(
                            "message {id} expired before its target was ready"
                        )));
                    }
                    MeshEvent::DeliveryDeadLettered {
                        message_id, reason, ..
                    } if message_id == id => {
                        return Err(MeshError::Remote {
                            code: None,
                            message: format!("message {id} was given up: {reason}"),
                        });
                    }
                    _ => {}
                }
            }
        }
    }
}

fn unexpected(other: ReplyBody) -> MeshError {
    MeshError::Remote {
        code: None,
        message: format!("unexpected reply from the node: {other:?}"),
    }
}
