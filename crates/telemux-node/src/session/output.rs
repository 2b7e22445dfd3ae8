//! A session's output path: the control client's batches, coalesced while
//! output keeps coming (the first bytes after a quiet spell go out at once),
//! rendered into line records (split to a bounded size) or, for full-screen
//! programs, captured frames.

use std::time::Duration;

use telemux_proto::OutputEvent;
use telemux_tmux::{Batch, ControlClient};
use tokio::time::Instant;

use super::publish::Publisher;
use crate::render::{Rendered, Renderer};

/// Largest text (and, separately, raw) payload put into one record; bigger
/// bursts are split. With `node.output_maxlen` records kept per stream this
/// bounds Redis memory per session (2000 × 2 × 16 KiB ≈ 64 MiB worst case).
const RECORD_BYTES: usize = 16 * 1024;
/// Output arriving within this long of the previous batch is part of a
/// burst, and waits `node.coalesce` for more; output after a longer quiet
/// spell (a prompt, an echoed key, a lone log line) is published at once.
const BURST_GAP: Duration = Duration::from_millis(15);
/// Least time between two captured frames of a full-screen program.
const FRAME_INTERVAL: Duration = Duration::from_millis(50);
/// Output an agent's screen is given to settle before it is classified again;
/// also the most often a busy agent's screen is captured.
pub(super) const AGENT_LOOK: Duration = Duration::from_millis(120);

/// The control client and the rendering state of one session.
pub(super) struct Output {
    pub ctl: ControlClient,
    renderer: Renderer,
    last_frame: Vec<String>,
    last_frame_at: Option<Instant>,
    /// When the previous batch arrived (bursts are coalesced, see [`BURST_GAP`]).
    last_batch_at: Option<Instant>,
}

impl Output {
    /// Output read from `ctl`, rendered by `renderer`.
    pub fn new(ctl: ControlClient, renderer: Renderer) -> Output {
        Output {
            ctl,
            renderer,
            last_frame: Vec::new(),
            last_frame_at: None,
            last_batch_at: None,
        }
    }

    /// Within a burst, waits the coalescing window; then merges whatever
    /// else arrived meanwhile.
    pub async fn coalesce(&mut self, p: &Publisher, mut batch: Batch) -> Batch {
        if batch.exited {
            return batch;
        }
        let now = Instant::now();
        let in_burst = self
            .last_batch_at
            .is_some_and(|t| now.duration_since(t) < BURST_GAP);
        self.last_batch_at = Some(now);
        if in_burst {
            tokio::time::sleep(p.shared.cfg.coalesce).await;
        }
        if let Ok(more) = tokio::time::timeout(Duration::ZERO, self.ctl.next_batch()).await {
            batch.bytes.extend_from_slice(&more.bytes);
            batch.dropped += more.dropped;
            batch.exited |= more.exited;
        }
        batch
    }

    /// Takes output that is already waiting, without blocking. `look` is
    /// the agent's next look (agent sessions), scheduled by new output.
    pub async fn drain(&mut self, p: &mut Publisher, look: Option<&mut Option<Instant>>) {
        if let Ok(batch) = tokio::time::timeout(Duration::ZERO, self.ctl.next_batch()).await {
            self.on_output(p, look, batch).await;
        }
    }

    /// Turns one batch into records.
    pub async fn on_output(
        &mut self,
        p: &mut Publisher,
        look: Option<&mut Option<Instant>>,
        batch: Batch,
    ) {
        if batch.dropped > 0 {
            let seq = p.seq;
            p.emit(
                OutputEvent::Gap {
                    from_seq: seq,
                    to_seq: seq,
                    reason: format!(
                        "{} bytes of output were dropped: the session printed faster than they could be published",
                        batch.dropped
                    ),
                },
                None,
            );
        }
        if batch.bytes.is_empty() {
            return;
        }
        if let Some(look_at) = look {
            // Not pushed back by later output, so a busy agent is still
            // looked at every AGENT_LOOK.
            look_at.get_or_insert(Instant::now() + AGENT_LOOK);
        }
        match self.renderer.feed(&batch.bytes) {
            // Cursor moves, modes: nothing for the line view, but a terminal
            // emulator following the raw bytes needs them.
            Rendered::Nothing => emit_raw(p, &batch.bytes),
            Rendered::Lines { lines, partial, .. } => {
                emit_lines(p, lines, partial, batch.bytes);
            }
            Rendered::FullScreen { lines } => {
                if !lines.is_empty() {
                    // Lines printed before the program switched screens.
                    emit_lines(p, lines, String::new(), Vec::new());
                }
                // The bytes go out now; the frame (a rendered picture for
                // readers without an emulator) may wait for FRAME_INTERVAL.
                emit_raw(p, &batch.bytes);
                self.capture_frame(p).await
            }
        }
    }

    async fn capture_frame(&mut self, p: &mut Publisher) {
        if let Some(at) = self.last_frame_at {
            let next = at + FRAME_INTERVAL;
            if Instant::now() < next {
                // Let intermediate frames collapse into the latest one; what
                // is queued (the raw bytes) is not held back meanwhile.
                p.flush().await;
                tokio::time::sleep_until(next).await;
            }
        }
        self.last_frame_at = Some(Instant::now());
        match p.shared.tmux.capture_screen(&p.name).await {
            Ok(rows) => {
                if rows != self.last_frame {
                    self.last_frame = rows.clone();
                    p.emit(
                        OutputEvent::Frame {
                            rows,
                            raw: Vec::new(),
                        },
                        None,
                    );
                }
            }
            Err(e) => tracing::debug!(session = %p.name, error = %e, "frame capture failed"),
        }
    }
}

/// Bytes for terminal emulators only, in records of bounded size.
fn emit_raw(p: &mut Publisher, raw: &[u8]) {
    for chunk in raw.chunks(RECORD_BYTES) {
        p.emit(
            OutputEvent::Raw {
                raw: chunk.to_vec(),
            },
            None,
        );
    }
}

/// Splits a large burst into records of bounded size, raw bytes alongside.
fn emit_lines(p: &mut Publisher, lines: Vec<String>, partial: String, raw: Vec<u8>) {
    let mut chunks: Vec<Vec<String>> = vec![Vec::new()];
    let mut size = 0;
    for line in lines {
        if size + line.len() > RECORD_BYTES && !chunks.last().unwrap().is_empty() {
            chunks.push(Vec::new());
            size = 0;
        }
        size += line.len() + 1;
        chunks.last_mut().unwrap().push(line);
    }
    let raw_chunks: Vec<Vec<u8>> = raw.chunks(RECORD_BYTES).map(|c| c.to_vec()).collect();
    let n = chunks.len().max(raw_chunks.len());
    let mut chunks = chunks.into_iter();
    let mut raw_chunks = raw_chunks.into_iter();
    for i in 0..n {
        let last = i + 1 == n;
        p.emit(
            OutputEvent::Lines {
                lines: chunks.next().unwrap_or_default(),
                partial: if last { partial.clone() } else { String::new() },
                raw: raw_chunks.next().unwrap_or_default(),
            },
            None,
        );
    }
}
