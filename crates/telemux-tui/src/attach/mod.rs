//! `telemux attach COMPUTER/SESSION`: a session on another computer used
//! from the local terminal as if it were local, through Redis.
//!
//! The remote window takes the local terminal's size, the current screen is
//! drawn from a snapshot, then the session's raw output is followed from
//! the snapshot's stream position through an emulator ([`mirror`]) that
//! writes only differences. Typed bytes go out at once; what is typed while
//! one send is on its way goes in the next, so bursts are batched by the
//! round trip itself. The detach key ([`keys`]) ends it.

pub mod keys;
mod mirror;
mod stdin;

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::time::Duration;

use telemux_bus::{Cursor, OutputReader};
use telemux_client::{Mesh, MeshError};
use telemux_proto::{limits, ComputerName, OutputEvent, SessionName};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use keys::DetachKey;
pub use mirror::{seed, Mirror};

use crate::term::{self, TermGuard};
use crate::TuiError;

/// How an attach ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The user typed the detach key.
    Detached,
    /// The session ended; what happened to it.
    SessionEnded(String),
}

/// What the output follower hands the terminal loop.
enum Out {
    Bytes(Vec<u8>),
    /// The session was renamed: input and sizes go to its new name.
    Renamed(SessionName),
    Ended(String),
    Failed(String),
}

type Send = Pin<Box<dyn Future<Output = Result<(), MeshError>> + std::marker::Send>>;

/// One attach of the local terminal to a remote session.
pub struct Attach {
    mesh: Mesh,
    computer: ComputerName,
    session: SessionName,
    detach: DetachKey,
}

impl Attach {
    /// Prepares an attach to `computer/session` (resolved names).
    pub fn new(
        mesh: Mesh,
        computer: ComputerName,
        session: SessionName,
        detach: DetachKey,
    ) -> Attach {
        Attach {
            mesh,
            computer,
            session,
            detach,
        }
    }

    /// Runs until the detach key, the session's end, or `cancel`.
    pub async fn run(self, cancel: CancellationToken) -> Result<Ended, TuiError> {
        let client = format!("attach-{}", uuid::Uuid::now_v7());
        let c = &self.computer;
        let (cols, rows) = term::size();
        self.mesh
            .resize(c, &self.session, &client, Some((cols, rows)))
            .await?;
        let mut s = self.session.clone();
        let result = self.attached(&client, &mut s, cols, rows, cancel).await;
        // Give the window its size back, even after a failure.
        if let Err(e) = self.mesh.resize(c, &s, &client, None).await {
            tracing::debug!(error = %e, "releasing the window size failed");
        }
        result
    }

    /// The attach itself; `s` follows the session's renames.
    async fn attached(
        &self,
        client: &str,
        s: &mut SessionName,
        mut cols: u16,
        mut rows: u16,
        cancel: CancellationToken,
    ) -> Result<Ended, TuiError> {
        let c = &self.computer;
        let snap = self.mesh.snapshot(c, s).await?;
        let reader =
            OutputReader::new(self.mesh.bus(), c, s, Cursor::After(snap.cursor.clone())).await?;
        let stop = cancel.child_token();
        let _stop_guard = stop.clone().drop_guard();
        let (out_tx, mut out_rx) = mpsc::channel::<Out>(64);
        // Its own task: a blocking read must never be dropped half-way, or the
        // connection would wait it out before the next one.
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(follow(reader, out_tx, stop.clone()));

        let _term = TermGuard::enter("attach")?;
        let input = stdin::RawStdin::new().map_err(|e| TuiError::terminal("reading keys", e))?;
        let mut winch =
            signal(SignalKind::window_change()).map_err(|e| TuiError::terminal("SIGWINCH", e))?;
        let mut mirror = Mirror::new(&snap, cols, rows);
        let mut stdout = std::io::stdout();
        write(&mut stdout, &mirror.redraw())?;

        let mut filter = keys::KeyFilter::new(self.detach);
        let mut pending: Vec<u8> = Vec::new();
        let mut sending: Option<Send> = None;
        let mut failed: Option<String> = None;
        let mut buf = vec![0u8; 16 * 1024];
        let mut detaching = false;
        let ended = loop {
            if sending.is_none() && !pending.is_empty() {
                let take = pending.len().min(limits::MAX_TEXT_BYTES);
                let bytes: Vec<u8> = pending.drain(..take).collect();
                let (m, c, s) = (self.mesh.clone(), c.clone(), s.clone());
                sending = Some(Box::pin(async move { m.send_bytes(&c, &s, &bytes).await }));
            }
            if detaching && sending.is_none() {
                break Ended::Detached;
            }
            tokio::select! {
                _ = stop.cancelled() => break Ended::Detached,
                res = async { sending.as_mut().expect("guarded").await }, if sending.is_some() => {
                    sending = None;
                    if let Err(e) = res {
                        failed = Some(e.to_string());
                        // Tell the user at once: a bell; the words follow on exit.
                        write(&mut stdout, b"\x07")?;
                    }
                }
                out = out_rx.recv() => match out {
                    Some(Out::Bytes(b)) => write(&mut stdout, &mirror.feed(&b))?,
                    Some(Out::Renamed(to)) => *s = to,
                    Some(Out::Ended(why)) => break Ended::SessionEnded(why),
                    Some(Out::Failed(e)) => failed = Some(e),
                    None => break Ended::Detached,
                },
                n = input.read(&mut buf), if !detaching => {
                    let n = n.map_err(|e| TuiError::terminal("reading keys", e))?;
                    if n == 0 {
                        detaching = true;
                        continue;
                    }
                    let (bytes, detach) = filter.feed(&buf[..n]);
                    pending.extend_from_slice(&bytes);
                    detaching = detach;
                }
                _ = winch.recv() => {
                    let (w, h) = term::size();
                    if (w, h) != (cols, rows) {
                        (cols, rows) = (w, h);
                        mirror.resize(cols, rows);
                        write(&mut stdout, &mirror.redraw())?;
                        if let Err(e) = self.mesh.resize(c, s, client, Some((cols, rows))).await {
                            failed = Some(e.to_string());
                        }
                    }
                }
            }
        };
        stop.cancel();
        tasks.shutdown().await;
        if let Some(e) = failed {
            tracing::warn!(computer = %c, session = %s, error = %e, "attach: some input or output failed");
        }
        Ok(ended)
    }
}

fn write(out: &mut std::io::Stdout, bytes: &[u8]) -> Result<(), TuiError> {
    if bytes.is_empty() {
        return Ok(());
    }
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|e| TuiError::terminal("writing the screen", e))
}

/// Follows the session's output, raw bytes in order, until it ends.
async fn follow(mut reader: OutputReader, tx: mpsc::Sender<Out>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let batch = tokio::select! {
            _ = stop.cancelled() => return,
            b = reader.next_batch(Some(Duration::from_secs(5)), 256) => b,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                if tx.send(Out::Failed(e.to_string())).await.is_err() {
                    return;
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
        };
        let mut bytes = Vec::new();
        for (_, rec) in batch.entries {
            let Ok(rec) = rec else { continue };
            match rec.event {
                OutputEvent::Lines { raw, .. }
                | OutputEvent::Raw { raw }
                | OutputEvent::Frame { raw, .. } => bytes.extend_from_slice(&raw),
                OutputEvent::SessionExited { exit_status, .. } => {
                    let _ = tx.send(Out::Bytes(std::mem::take(&mut bytes))).await;
                    let _ = tx
                        .send(Out::Ended(format!(
                            "the session's program exited with status {exit_status}"
                        )))
                        .await;
                    return;
                }
                OutputEvent::Renamed { .. } => {
                    let to = reader.session().clone();
                    let _ = tx.send(Out::Bytes(std::mem::take(&mut bytes))).await;
                    let _ = tx.send(Out::Renamed(to)).await;
                }
                OutputEvent::SessionClosed { reason } => {
                    let _ = tx.send(Out::Bytes(std::mem::take(&mut bytes))).await;
                    let _ = tx
                        .send(Out::Ended(format!("the session was {reason}")))
                        .await;
                    return;
                }
                _ => {}
            }
        }
        if !bytes.is_empty() && tx.send(Out::Bytes(bytes)).await.is_err() {
            return;
        }
    }
}
