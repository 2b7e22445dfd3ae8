//! File ops: `file_stat` and `read_file` here, `write_file` in
//! [`upload`]; what a path may name is decided in [`path`] (only inside
//! `files.roots`, symlinks followed, at most `files.max_bytes`).
//!
//! Every file system call is async (`tokio::fs`) or runs on the blocking
//! pool, awaited: a 50 MiB hash must not stall the command loop's runtime.

mod hash;
pub(crate) mod path;
pub(crate) mod upload;

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use telemux_proto::files::MAX_FILE_CHUNK_BYTES;
use telemux_proto::{ErrorCode, FileChunk, FileStat, ReplyBody};

use crate::error::OpError;
use crate::state::Shared;

/// `Op::FileStat`: what `path` is, with its sha256 when asked.
pub(crate) async fn stat(
    shared: &Arc<Shared>,
    path: &str,
    sha256: bool,
) -> Result<ReplyBody, OpError> {
    let real = path::resolve_existing(shared, path).await?;
    let md = tokio::fs::metadata(&real)
        .await
        .map_err(|e| path::io_error(shared, path, e))?;
    let is_dir = md.is_dir();
    let sha256 = if sha256 && !is_dir {
        path::check_regular(shared, path, &md)?;
        Some(
            hash::file(real.clone())
                .await
                .map_err(|e| path::io_error(shared, path, e))?,
        )
    } else {
        None
    };
    Ok(ReplyBody::FileStat(FileStat {
        path: real.display().to_string(),
        size: if is_dir { 0 } else { md.len() },
        modified_ms: path::modified_ms(&md),
        is_dir,
        sha256,
    }))
}

/// `Op::ReadFile`: up to `len` bytes of `path` from `offset`.
pub(crate) async fn read(
    shared: &Arc<Shared>,
    path: &str,
    offset: u64,
    len: u32,
) -> Result<ReplyBody, OpError> {
    let real = path::resolve_existing(shared, path).await?;
    let md = tokio::fs::metadata(&real)
        .await
        .map_err(|e| path::io_error(shared, path, e))?;
    path::check_regular(shared, path, &md)?;
    let size = md.len();
    if offset > size {
        return Err(OpError::new(
            ErrorCode::BadInput,
            format!("offset {offset} is past the end of {path} ({size} bytes)"),
        ));
    }
    let want = (len as usize)
        .min(MAX_FILE_CHUNK_BYTES)
        .min((size - offset) as usize);
    let file = real.clone();
    let data = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let f = std::fs::File::open(&file)?;
        let mut buf = vec![0; want];
        let mut got = 0;
        while got < want {
            match f.read_at(&mut buf[got..], offset + got as u64)? {
                0 => break,
                n => got += n,
            }
        }
        buf.truncate(got);
        Ok(buf)
    })
    .await
    .map_err(|e| OpError::new(ErrorCode::Internal, format!("reading {path} failed: {e}")))?
    .map_err(|e| path::io_error(shared, path, e))?;
    Ok(ReplyBody::FileChunk(FileChunk {
        path: real.display().to_string(),
        offset,
        data,
        size,
        modified_ms: path::modified_ms(&md),
    }))
}
