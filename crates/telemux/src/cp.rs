//! `telemux cp [COMPUTER:]SRC [COMPUTER:]DST`: one file between this
//! computer and another, or between two others (through this process).
//!
//! `COMPUTER:PATH` is a path on that computer (`~` its home, relative paths
//! relative to it); anything else is a local path. The part before the
//! first `:` counts as a computer only when it is a valid computer name
//! without `/`, so a local path containing `:` is written `./a:b`. What a
//! node may read and write is limited to its `files.roots` (the refusal
//! names them) and `files.max_bytes`. A progress line is drawn on stderr
//! only when it is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde_json::json;
use telemux_client::{Location, Mesh, MeshError, Progress};

use crate::out::outln;

/// Copies `src` to `dst`; returns the exit code.
pub async fn run(
    mesh: &Mesh,
    src: &str,
    dst: &str,
    chunk_bytes: Option<usize>,
    json: bool,
) -> Result<i32, MeshError> {
    let (from, to) = (Location::parse(src), Location::parse(dst));
    if matches!((&from, &to), (Location::Local(_), Location::Local(_))) {
        return Err(MeshError::BadInput(format!(
            "{src} and {dst} are both on this computer; write one as COMPUTER:PATH (a local path containing ':' is written ./a:b)"
        )));
    }
    let tty = std::io::stderr().is_terminal();
    let mut shown = Instant::now() - Duration::from_secs(1);
    let progress = move |p: Progress| {
        if tty && (shown.elapsed() >= Duration::from_millis(100) || p.done == p.total) {
            shown = Instant::now();
            let pct = (p.done * 100).checked_div(p.total).unwrap_or(100);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{} / {} ({pct}%)", size(p.done), size(p.total));
            let _ = err.flush();
        }
    };
    let chunk = chunk_bytes.unwrap_or(telemux_proto::files::MAX_FILE_CHUNK_BYTES);
    let result = mesh.copy_chunked(&from, &to, chunk, progress).await;
    if tty {
        // The progress line goes, whatever the outcome.
        eprint!("\r\x1b[K");
    }
    let c = result?;
    if json {
        outln!(
            "{}",
            json!({"bytes": c.bytes, "sha256": c.sha256, "src": c.src, "dst": c.dst})
        );
    } else {
        outln!(
            "{} -> {} ({}, sha256 {})",
            c.src,
            c.dst,
            size(c.bytes),
            c.sha256
        );
    }
    Ok(0)
}

/// `1234567` → `1.2 MiB`.
fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}
