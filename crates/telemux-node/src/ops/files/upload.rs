//! `write_file`: an upload assembled chunk by chunk in
//! `.NAME.telemux-UPLOAD_ID.part` beside the target (created 0600, never
//! reused), checked against the sender's sha256 after the last chunk and
//! only then renamed over the target. The target is never a partial file.
//! An `exclusive` upload is never put over an existing file: it is hard-linked
//! under the first free name of `NAME`, `NAME-1.EXT`, `NAME-2.EXT`, ... (a
//! link fails on a taken name, so two uploads never pick the same one), and
//! `make_dirs` creates the target's missing directories inside the roots.
//!
//! A failed chunk removes the temporary file (the requester does not retry
//! chunks). An upload abandoned mid-way (the requester died, Redis went
//! away) leaves its temporary file; each upload is recorded under
//! `<state_dir>/uploads/<id>` (the file holds the temporary file's path),
//! and [`sweep`] removes the temporary files of uploads idle for
//! [`ABANDONED_AFTER`], at start and every [`SWEEP_EVERY`].

use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use telemux_proto::files::{
    is_part_name, is_sha256_hex, numbered_name, part_name, valid_upload_id, MAX_FILE_CHUNK_BYTES,
};
use telemux_proto::{ErrorCode, FileWritten, ReplyBody, WriteChunk};
use tokio_util::sync::CancellationToken;

use super::{hash, path};
use crate::error::OpError;
use crate::state::Shared;

/// An upload no chunk arrived for this long is abandoned; its temporary file is removed.
pub(crate) const ABANDONED_AFTER: Duration = Duration::from_secs(3600);

/// How often abandoned uploads are looked for.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Mode of a new target file (an existing target keeps its own).
const NEW_FILE_MODE: u32 = 0o644;

/// How many numbered names an exclusive upload tries before giving up.
const MAX_NUMBERED: u32 = 1000;

fn records(shared: &Shared) -> PathBuf {
    shared.cfg.state_dir.join("uploads")
}

fn bad(message: String) -> OpError {
    OpError::new(ErrorCode::BadInput, message)
}

/// `Op::WriteFile`: one chunk of an upload.
pub(crate) async fn write(shared: &Arc<Shared>, c: WriteChunk) -> Result<ReplyBody, OpError> {
    if !valid_upload_id(&c.upload_id) {
        return Err(bad(format!(
            "upload id {:?} is not usable (letters, digits, - and _, at most 64)",
            c.upload_id
        )));
    }
    if c.data.len() > MAX_FILE_CHUNK_BYTES {
        return Err(bad(format!(
            "a chunk carries at most {MAX_FILE_CHUNK_BYTES} bytes, not {}",
            c.data.len()
        )));
    }
    let end = c.offset + c.data.len() as u64;
    if end > c.size {
        return Err(bad(format!(
            "chunk at {}..{end} goes past the announced size {}",
            c.offset, c.size
        )));
    }
    if c.done.as_deref().is_some_and(|s| !is_sha256_hex(s)) {
        return Err(bad("the final sha256 is not 64 lowercase hex digits".into()));
    }
    if c.done.is_some() && end != c.size {
        return Err(bad(format!(
            "the last chunk ends at {end}, not at the announced size {}",
            c.size
        )));
    }
    path::check_size(shared, &c.path, c.size)?;
    if c.make_dirs && c.offset == 0 {
        path::make_parent_dirs(shared, &c.path).await?;
    }
    let (dir, name, target) = if c.exclusive {
        path::resolve_new_target(shared, &c.path).await?
    } else {
        path::resolve_target(shared, &c.path).await?
    };
    let part = dir.join(part_name(&name, &c.upload_id));
    let record = records(shared).join(&c.upload_id);
    if c.offset == 0 {
        remember(&record, &part).await.map_err(|e| {
            OpError::new(
                ErrorCode::Internal,
                format!("cannot record the upload in {}: {e}", record.display()),
            )
        })?;
    }
    let result = append(shared, &c, &part).await;
    let result = match (result, &c.done) {
        (Ok(()), Some(sha)) => finish(shared, &c.path, &part, &target, sha, c.exclusive).await,
        (Ok(()), None) => {
            return Ok(ReplyBody::FileWritten(FileWritten {
                path: target.display().to_string(),
                size: end,
                sha256: None,
            }))
        }
        (Err(e), _) => Err(e),
    };
    // Done or failed: either way this upload is over.
    let _ = tokio::fs::remove_file(&part).await;
    let _ = tokio::fs::remove_file(&record).await;
    result.map(|(sha256, target)| {
        ReplyBody::FileWritten(FileWritten {
            path: target.display().to_string(),
            size: c.size,
            sha256: Some(sha256),
        })
    })
}

/// Records that upload `record` assembles `part`, so [`sweep`] finds it.
async fn remember(record: &Path, part: &Path) -> std::io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder
        .create(record.parent().expect("records live in a directory"))
        .await?;
    tokio::fs::write(record, part.as_os_str().as_encoded_bytes()).await
}

/// Writes the chunk at its offset; the first creates the temporary file.
async fn append(shared: &Shared, c: &WriteChunk, part: &Path) -> Result<(), OpError> {
    let (part_owned, offset, data) = (part.to_path_buf(), c.offset, c.data.clone());
    let r = tokio::task::spawn_blocking(move || -> std::io::Result<Option<u64>> {
        let mut f = if offset == 0 {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&part_owned)?
        } else {
            std::fs::OpenOptions::new().write(true).open(&part_owned)?
        };
        let have = f.metadata()?.len();
        // Out of order: the bytes the file has, for the message.
        if have != offset {
            return Ok(Some(have));
        }
        f.seek(SeekFrom::Start(offset))?;
        f.write_all(&data)?;
        Ok(None)
    })
    .await
    .map_err(|e| {
        OpError::new(
            ErrorCode::Internal,
            format!("writing {} failed: {e}", c.path),
        )
    })?;
    match r {
        Ok(None) => Ok(()),
        Ok(Some(have)) => Err(bad(format!(
            "upload of {}: chunk at offset {} does not follow the {have} bytes received",
            c.path, c.offset
        ))),
        Err(e) if e.kind() == ErrorKind::NotFound && c.offset > 0 => Err(bad(format!(
            "upload {} of {} is not in progress (abandoned, or its first chunk was not received)",
            c.upload_id, c.path
        ))),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(bad(format!(
            "upload id {} is in use for {}; start again with another",
            c.upload_id, c.path
        ))),
        Err(e) => Err(path::io_error(shared, &c.path, e)),
    }
}

/// Checks the assembled file against `want`, then renames it over `target`
/// (`exclusive`: links it under the first free numbered name instead);
/// returns its sha256 and where it now is.
async fn finish(
    shared: &Shared,
    shown: &str,
    part: &Path,
    target: &Path,
    want: &str,
    exclusive: bool,
) -> Result<(String, PathBuf), OpError> {
    let io = |e| path::io_error(shared, shown, e);
    let got = hash::file(part.to_path_buf()).await.map_err(io)?;
    if got != want {
        return Err(OpError::new(
            ErrorCode::Checksum,
            format!("{shown} arrived damaged (sha256 {got}, the sender's is {want}); nothing was written"),
        ));
    }
    let mode = match tokio::fs::metadata(target).await {
        Ok(md) => md.permissions().mode() & 0o7777,
        Err(_) => NEW_FILE_MODE,
    };
    let (p, t) = (part.to_path_buf(), target.to_path_buf());
    let placed = tokio::task::spawn_blocking(move || -> std::io::Result<PathBuf> {
        let f = std::fs::File::open(&p)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        // On disk before the rename, so a crash leaves the old file or the new, not an empty one.
        f.sync_all()?;
        let placed = if exclusive {
            place_new(&p, &t)?
        } else {
            std::fs::rename(&p, &t)?;
            t
        };
        if let Some(dir) = placed.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(placed)
    })
    .await
    .map_err(|e| {
        OpError::new(
            ErrorCode::Internal,
            format!("finishing {shown} failed: {e}"),
        )
    })?
    .map_err(io)?;
    Ok((got, placed))
}

/// Links `part` under the first free name of `target`, `target-1.ext`, ...
/// (a hard link never replaces a file, so this is atomic), then removes `part`.
fn place_new(part: &Path, target: &Path) -> std::io::Result<PathBuf> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for n in 0..MAX_NUMBERED {
        let candidate = dir.join(numbered_name(&name, n));
        match std::fs::hard_link(part, &candidate) {
            Ok(()) => {
                std::fs::remove_file(part)?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        ErrorKind::AlreadyExists,
        format!("{name} and {MAX_NUMBERED} numbered names beside it are all taken"),
    ))
}

/// Removes the temporary files of uploads idle for `older_than` (and
/// records whose file is gone).
pub(crate) async fn sweep(shared: &Shared, older_than: Duration) {
    let dir = records(shared);
    let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
        return;
    };
    let now = SystemTime::now();
    while let Ok(Some(e)) = entries.next_entry().await {
        let record = e.path();
        let Ok(bytes) = tokio::fs::read(&record).await else {
            continue;
        };
        let part = PathBuf::from(String::from_utf8_lossy(&bytes).into_owned());
        // Only ever a file of ours: a damaged record must not remove anything else.
        let ours = part
            .file_name()
            .is_some_and(|n| is_part_name(&n.to_string_lossy()));
        let idle = match tokio::fs::symlink_metadata(&part).await {
            Ok(md) => md
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|d| d >= older_than),
            Err(_) => true,
        };
        if !idle {
            continue;
        }
        if ours {
            match tokio::fs::remove_file(&part).await {
                Ok(()) => {
                    tracing::info!(computer = %shared.cfg.computer, part = %part.display(), "removed the temporary file of an abandoned upload")
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(part = %part.display(), error = %e, "cannot remove an abandoned upload")
                }
            }
        }
        let _ = tokio::fs::remove_file(&record).await;
    }
}

/// Sweeps abandoned uploads now and every [`SWEEP_EVERY`] until `cancel`.
pub(crate) async fn sweeper(shared: Arc<Shared>, cancel: CancellationToken) {
    loop {
        sweep(&shared, ABANDONED_AFTER).await;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}
