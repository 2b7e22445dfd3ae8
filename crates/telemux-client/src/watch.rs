//! [`MeshWatch`]: a live view of the whole mesh for dashboards, pushed, never
//! polled. It reads the registry and every online computer's sessions once,
//! then follows the event stream (lifecycle, agent states, exit codes) and
//! the presence stream (heartbeats) with blocking reads, and reads a
//! computer's sessions again only when one appeared there. After Redis was
//! away or a stream was trimmed under it, it reads everything once more,
//! since nodes cannot publish events while Redis is gone.

use std::collections::BTreeSet;
use std::time::Duration;

use telemux_bus::{ComputerStatus, Cursor, EventReader, PresenceReader};
use telemux_proto::{ComputerInfo, MeshEvent, SessionInfo};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::mesh::{Mesh, MeshError};

/// How long one blocking read waits before it is issued again.
const BLOCK: Duration = Duration::from_secs(5);
/// Longest wait between attempts while Redis is away.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What a [`MeshWatch`] tells its front end, in order.
#[derive(Debug, Clone)]
pub enum WatchUpdate {
    /// Every registered computer: replace what is known about computers.
    Computers(Vec<ComputerStatus>),
    /// One computer's sessions as it listed them: replace that computer's.
    Sessions {
        /// The computer, as registered.
        computer: String,
        /// Its sessions.
        sessions: Vec<SessionInfo>,
    },
    /// A heartbeat (or, with `stopped`, a goodbye).
    Beat(ComputerInfo),
    /// A mesh event.
    Event(MeshEvent),
    /// Redis is away (`Some`: what failed), or back (`None`).
    Redis(Option<String>),
}

/// What a front end may ask of a running watch.
#[derive(Debug, Clone)]
pub enum Refresh {
    /// Read the registry and every online computer's sessions again.
    All,
    /// Read one computer's sessions again.
    Computer(String),
}

/// A batch from one of the two stream readers.
enum Read {
    Events(Vec<MeshEvent>, bool),
    Beats(Vec<ComputerInfo>, bool),
    Failed(String),
}

/// A live view of the mesh; see the module docs.
pub struct MeshWatch {
    mesh: Mesh,
}

impl MeshWatch {
    /// A watch over `mesh`; nothing is read until [`MeshWatch::run`].
    pub fn new(mesh: Mesh) -> MeshWatch {
        MeshWatch { mesh }
    }

    /// Sends updates to `tx` until `cancel` fires or the receiver is gone.
    pub async fn run(
        self,
        tx: mpsc::Sender<WatchUpdate>,
        mut refresh: mpsc::Receiver<Refresh>,
        cancel: CancellationToken,
    ) {
        let (reads_tx, mut reads) = mpsc::channel::<Read>(16);
        let mut readers = JoinSet::new();
        // Opened before the first listing, so nothing that happens between
        // the listing and the first read is missed.
        let (events, presence) = loop {
            match open_readers(&self.mesh).await {
                Ok(r) => break r,
                Err(e) => {
                    if tx
                        .send(WatchUpdate::Redis(Some(e.to_string())))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(MAX_BACKOFF) => {}
                    }
                }
            }
        };
        readers.spawn(follow(
            Stream::Events(events),
            reads_tx.clone(),
            cancel.clone(),
        ));
        readers.spawn(follow(Stream::Presence(presence), reads_tx, cancel.clone()));
        let mut away = !self.resync(&tx).await;
        loop {
            let read = tokio::select! {
                _ = cancel.cancelled() => break,
                r = reads.recv() => match r { Some(r) => r, None => break },
                r = refresh.recv() => {
                    let ok = match r {
                        Some(Refresh::All) | None => self.resync(&tx).await,
                        Some(Refresh::Computer(c)) => self.sessions_of(&c, &tx).await,
                    };
                    away = !ok;
                    continue;
                }
            };
            let (updates, gap): (Vec<WatchUpdate>, bool) = match read {
                Read::Failed(e) => {
                    if !away {
                        away = true;
                        if tx.send(WatchUpdate::Redis(Some(e))).await.is_err() {
                            break;
                        }
                    }
                    continue;
                }
                Read::Events(evs, gap) => (evs.into_iter().map(WatchUpdate::Event).collect(), gap),
                Read::Beats(b, gap) => (b.into_iter().map(WatchUpdate::Beat).collect(), gap),
            };
            if away || gap {
                // Back (or trimmed under us): what happened meanwhile is not
                // all in the streams; read it all again.
                away = !self.resync(&tx).await;
            }
            let mut appeared = BTreeSet::new();
            for u in updates {
                if let WatchUpdate::Event(MeshEvent::SessionCreated { computer, .. }) = &u {
                    appeared.insert(computer.clone());
                }
                if tx.send(u).await.is_err() {
                    return;
                }
            }
            for c in appeared {
                self.sessions_of(&c, &tx).await;
            }
        }
        readers.shutdown().await;
    }

    /// Reads the registry and every online computer's sessions; `false` when Redis failed.
    async fn resync(&self, tx: &mpsc::Sender<WatchUpdate>) -> bool {
        let computers = match self.mesh.computers().await {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(WatchUpdate::Redis(Some(e.to_string()))).await;
                return false;
            }
        };
        let online: Vec<String> = computers
            .iter()
            .filter(|c| c.online)
            .map(|c| c.info.name.clone())
            .collect();
        if tx.send(WatchUpdate::Redis(None)).await.is_err()
            || tx.send(WatchUpdate::Computers(computers)).await.is_err()
        {
            return true;
        }
        // All computers at once: the first full screen waits for the slowest
        // one, not for the sum of them.
        let mut lists = JoinSet::new();
        for c in online {
            let mesh = self.mesh.clone();
            lists.spawn(async move {
                let r = mesh.sessions(Some(&c)).await;
                (c, r)
            });
        }
        let mut ok = true;
        while let Some(joined) = lists.join_next().await {
            let Ok((c, r)) = joined else { continue };
            ok &= self.deliver(&c, r, tx).await;
        }
        ok
    }

    /// Reads one computer's sessions; `false` when Redis failed.
    async fn sessions_of(&self, computer: &str, tx: &mpsc::Sender<WatchUpdate>) -> bool {
        let listed = self.mesh.sessions(Some(computer)).await;
        self.deliver(computer, listed, tx).await
    }

    /// Sends one computer's listing on; `false` when Redis failed.
    async fn deliver(
        &self,
        computer: &str,
        listed: Result<Vec<SessionInfo>, MeshError>,
        tx: &mpsc::Sender<WatchUpdate>,
    ) -> bool {
        match listed {
            Ok(sessions) => {
                let _ = tx
                    .send(WatchUpdate::Sessions {
                        computer: computer.to_string(),
                        sessions,
                    })
                    .await;
                true
            }
            Err(MeshError::Bus(e)) => {
                let _ = tx.send(WatchUpdate::Redis(Some(e.to_string()))).await;
                false
            }
            Err(e) => {
                // The computer went away meanwhile, or does not answer: its
                // heartbeats (or their absence) say the rest.
                tracing::debug!(computer, error = %e, "listing sessions failed");
                true
            }
        }
    }
}

async fn open_readers(mesh: &Mesh) -> Result<(EventReader, PresenceReader), MeshError> {
    let events = EventReader::new(mesh.bus(), Cursor::End).await?;
    let presence = PresenceReader::new(mesh.bus(), Cursor::End).await?;
    Ok((events, presence))
}

async fn backoff(cancel: &CancellationToken, delay: &mut Duration) {
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::sleep(*delay) => {}
    }
    *delay = (*delay * 2).min(MAX_BACKOFF);
}

/// One of the two streams a watch follows.
enum Stream {
    Events(EventReader),
    Presence(PresenceReader),
}

impl Stream {
    /// The next batch (`None`: nothing new within [`BLOCK`]).
    async fn read(&mut self) -> Result<Option<Read>, telemux_bus::BusError> {
        Ok(match self {
            Stream::Events(r) => {
                let b = r.next_batch(Some(BLOCK), 256).await?;
                (!b.entries.is_empty() || b.gap.is_some()).then(|| {
                    let evs = b.entries.into_iter().filter_map(|(_, e)| e.ok()).collect();
                    Read::Events(evs, b.gap.is_some())
                })
            }
            Stream::Presence(r) => {
                let b = r.next_batch(Some(BLOCK), 256).await?;
                (!b.beats.is_empty() || b.gap.is_some()).then(|| {
                    let beats = b.beats.into_iter().filter_map(Result::ok).collect();
                    Read::Beats(beats, b.gap.is_some())
                })
            }
        })
    }
}

/// Forwards `stream`'s batches (and its failures, backing off) until `cancel`.
async fn follow(mut stream: Stream, tx: mpsc::Sender<Read>, cancel: CancellationToken) {
    let mut delay = Duration::from_millis(100);
    while !cancel.is_cancelled() {
        let read = tokio::select! {
            _ = cancel.cancelled() => return,
            b = stream.read() => b,
        };
        let msg = match read {
            Ok(None) => continue,
            Ok(Some(m)) => {
                delay = Duration::from_millis(100);
                m
            }
            Err(e) => Read::Failed(e.to_string()),
        };
        let failed = matches!(msg, Read::Failed(_));
        if tx.send(msg).await.is_err() {
            return;
        }
        if failed {
            backoff(&cancel, &mut delay).await;
        }
    }
}
