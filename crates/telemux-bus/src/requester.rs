//! Request/reply, client side: a [`Requester`] owns one reply stream and one
//! listener task, and matches replies to waiting requests by request id.
//!
//! One reply stream per process (not per request) keeps Redis tidy and lets
//! many requests share a single blocking read. Before sending, the target is
//! looked up in the registry, so an offline or unknown computer is an
//! immediate, well-worded error instead of a timeout.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use fred::prelude::*;
use telemux_proto::{
    keys, names::suggest, now_ms, ComputerName, Envelope, MeshKey, Op, Reply, ReplyBody, Request,
};
use tokio::sync::oneshot;
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use crate::{
    connect::{Dedicated, MAX_BLOCK},
    entries::parse_read,
    Bus, BusError, RedisKind, RequestError,
};

type Waiters = Arc<Mutex<HashMap<Uuid, oneshot::Sender<ReplyBody>>>>;

/// Sends requests to nodes and waits for their replies. Clone it freely.
#[derive(Clone)]
pub struct Requester {
    inner: Arc<Inner>,
}

struct Inner {
    bus: Bus,
    from: String,
    reply_stream: String,
    waiters: Waiters,
    /// Signs requests when the mesh has a key.
    key: Option<MeshKey>,
    /// Stops the listener when the last clone is dropped.
    _stop: DropGuard,
}

fn lock(w: &Waiters) -> std::sync::MutexGuard<'_, HashMap<Uuid, oneshot::Sender<ReplyBody>>> {
    // Only inserts and removes happen under the lock; a poisoned map is still consistent.
    w.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes a waiter when its request finishes in any way (reply, timeout, dropped future).
struct WaiterGuard<'a> {
    waiters: &'a Waiters,
    id: Uuid,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        lock(self.waiters).remove(&self.id);
    }
}

impl Requester {
    /// Starts the reply listener; it runs until `cancel` fires or the last clone is dropped.
    pub fn start(bus: Bus, from: String, cancel: CancellationToken) -> Requester {
        Requester::start_signed(bus, from, None, cancel)
    }

    /// Like [`Requester::start`], signing every request with `key` (`mesh.key`).
    pub fn start_signed(
        bus: Bus,
        from: String,
        key: Option<MeshKey>,
        cancel: CancellationToken,
    ) -> Requester {
        let reply_stream = keys::replies(&Uuid::now_v7());
        let waiters: Waiters = Arc::default();
        // Owned by the bus's tracker; stopped by the caller's token, by the last
        // clone going (the drop guard below), or with the bus.
        let stop = cancel.child_token();
        let stops = Stops {
            requester: stop.clone(),
            bus: bus.child_token(),
        };
        bus.spawn(listen(
            bus.dedicated(),
            reply_stream.clone(),
            waiters.clone(),
            stops,
        ));
        Requester {
            inner: Arc::new(Inner {
                bus,
                from,
                reply_stream,
                waiters,
                key,
                _stop: stop.drop_guard(),
            }),
        }
    }

    /// Who requests are sent as (`cli@host`, `gateway@host`, or a computer name).
    pub fn from(&self) -> &str {
        &self.inner.from
    }

    /// The reply stream this requester listens on.
    pub fn reply_stream(&self) -> &str {
        &self.inner.reply_stream
    }

    /// Sends `op` to `to` and waits up to `timeout` for the reply.
    ///
    /// A `ReplyBody::Error` from the node is returned as `Ok`; the caller maps it.
    pub async fn request(
        &self,
        to: &ComputerName,
        op: Op,
        timeout: Duration,
    ) -> Result<ReplyBody, RequestError> {
        let bus = &self.inner.bus;
        match bus.computer(to).await? {
            None => {
                let known = bus.computers().await?;
                let suggestions = suggest(to.as_str(), known.iter().map(|c| c.info.name.as_str()));
                return Err(RequestError::UnknownComputer {
                    name: to.to_string(),
                    suggestions,
                });
            }
            Some(status) if !status.online => {
                return Err(RequestError::Offline {
                    computer: status.info.name,
                    last_seen_ms: Some(status.info.last_seen_ms).filter(|&ms| ms > 0),
                });
            }
            Some(_) => {}
        }
        self.request_resolved(to, op, timeout).await
    }

    /// Like [`Requester::request`] for a computer the caller has just found
    /// online in the registry (e.g. through its own name resolution), so the
    /// registry is not read a second time on every request.
    pub async fn request_resolved(
        &self,
        to: &ComputerName,
        op: Op,
        timeout: Duration,
    ) -> Result<ReplyBody, RequestError> {
        let bus = &self.inner.bus;
        let req = Request {
            // Signed with the rest: the node refuses it anywhere but on `to`.
            to: Some(to.clone()),
            reply_to: self.inner.reply_stream.clone(),
            deadline_ms: now_ms() + timeout.as_millis() as u64,
            op,
        };
        let mut env = Envelope::seal(&self.inner.from, &req)?;
        if let Some(key) = &self.inner.key {
            key.sign(&mut env);
        }
        let (tx, rx) = oneshot::channel();
        // Registered before sending, so a fast reply cannot arrive before its waiter.
        lock(&self.inner.waiters).insert(env.id, tx);
        let _guard = WaiterGuard {
            waiters: &self.inner.waiters,
            id: env.id,
        };
        bus.send_request(to, &env).await?;
        tracing::debug!(computer = %to, request = %env.id, "request sent");
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(_)) => Err(RequestError::Closed),
            Err(_) => Err(RequestError::Timeout {
                computer: to.to_string(),
                after: timeout,
            }),
        }
    }
}

/// The listener's two ways to be stopped: its requester's, and its bus's.
struct Stops {
    requester: CancellationToken,
    bus: CancellationToken,
}

impl Stops {
    fn is_cancelled(&self) -> bool {
        self.requester.is_cancelled() || self.bus.is_cancelled()
    }

    async fn cancelled(&self) {
        tokio::select! {
            _ = self.requester.cancelled() => {}
            _ = self.bus.cancelled() => {}
        }
    }
}

/// The listener task: follows the reply stream and hands replies to their waiters.
async fn listen(conn: Dedicated, stream: String, waiters: Waiters, stop: Stops) {
    let mut cursor = "0-0".to_string();
    let client = conn
        .client()
        .with_options(&Dedicated::blocking_options(MAX_BLOCK));
    loop {
        let read = client.xread::<Value, _, _>(
            Some(64),
            Some(MAX_BLOCK.as_millis() as u64),
            stream.as_str(),
            cursor.as_str(),
        );
        let v = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            v = read => v,
        };
        let entries = match v {
            Ok(v) => parse_read(v),
            // The client is gone (its process is ending, or the requester
            // was dropped): nothing left to listen for, nothing to report.
            Err(e) if stop.is_cancelled() || RedisKind::of(&e) == RedisKind::ClientClosed => {
                tracing::debug!(%stream, error = %e, "reply listener stopped with its client");
                break;
            }
            Err(e) => Err(BusError::redis("reading replies", &e)),
        };
        let entries = match entries {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(%stream, error = %e, "reply listener: read failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
        };
        for e in entries {
            cursor = e.id.clone();
            match e.decode().and_then(|env| env.open::<Reply>()) {
                Ok(reply) => match lock(&waiters).remove(&reply.request_id) {
                    Some(tx) => {
                        let _ = tx.send(reply.result);
                    }
                    None => {
                        tracing::debug!(request = %reply.request_id, "late or unknown reply dropped")
                    }
                },
                Err(err) => {
                    tracing::warn!(%stream, entry = %e.id, error = %err, "undecodable reply ignored")
                }
            }
        }
    }
    tracing::debug!(%stream, "reply listener stopped");
    // Wake any waiter still pending so no request hangs on a dead listener.
    lock(&waiters).clear();
}
