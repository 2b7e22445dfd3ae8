//! Files across the mesh: [`Mesh::read_file`] and [`Mesh::write_file`] (one
//! remote file, for MCP), and [`Mesh::copy`], the streaming copy behind
//! `telemux cp` between a local path and a path on a computer, either way or
//! between two computers (through this process).
//!
//! A copy goes in chunks of at most [`MAX_FILE_CHUNK_BYTES`], one request
//! each. Integrity is end to end: the sha256 of a remote source is computed
//! by its node over the file on disk and compared with the sha256 of the
//! bytes that arrived here; a remote destination's node compares the file it
//! assembled with the sha256 sent with the last chunk. Destinations are
//! written to a temporary file beside the target (`.NAME.telemux-ID.part`)
//! and renamed into place only after the whole file verified, so a failed
//! copy never leaves a truncated file under the target's name (a remote
//! temporary file left by a lost connection is swept by its node).

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use telemux_proto::files::{hex, part_name, MAX_FILE_CHUNK_BYTES};
use telemux_proto::{
    ComputerName, ErrorCode, FileChunk, FileStat, FileWritten, Op, ReplyBody, WriteChunk,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::mesh::{Mesh, MeshError};

/// One end of a copy: a path on this computer, or a path on a computer of the mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A path here (relative to the working directory).
    Local(PathBuf),
    /// `path` on `computer` (`~` is that computer's home directory).
    Remote {
        /// The computer's name as typed.
        computer: String,
        /// The path there.
        path: String,
    },
}

impl Location {
    /// Parses `COMPUTER:PATH` or a local path. The part before the first `:`
    /// is a computer when it is a valid computer name (no `/`); so a local
    /// path with a `:` in its first component is written `./a:b`.
    pub fn parse(s: &str) -> Location {
        if let Some((c, p)) = s.split_once(':') {
            if !c.contains('/') && ComputerName::new(c).is_ok() {
                return Location::Remote {
                    computer: c.to_string(),
                    path: p.to_string(),
                };
            }
        }
        Location::Local(PathBuf::from(s))
    }

    /// The file name a copy into a directory gives the file.
    fn file_name(&self) -> Option<String> {
        match self {
            Location::Local(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
            Location::Remote { path, .. } => path
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty() && *n != "~" && *n != "." && *n != "..")
                .map(str::to_string),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Remote { computer, path } => write!(f, "{computer}:{path}"),
        }
    }
}

/// How far a copy got, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes copied so far.
    pub done: u64,
    /// The file's size.
    pub total: u64,
}

/// A finished copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The file's size.
    pub bytes: u64,
    /// Its sha256 (lowercase hex), the same at both ends.
    pub sha256: String,
    /// The source, resolved (`COMPUTER:PATH` or a local path).
    pub src: String,
    /// The destination, resolved.
    pub dst: String,
}

/// Where a copy reads from.
enum Source {
    Local {
        file: tokio::fs::File,
        path: PathBuf,
    },
    Remote {
        computer: ComputerName,
        stat: FileStat,
    },
    Bytes(Vec<u8>),
}

/// Where a copy writes to.
enum Sink {
    Local {
        file: tokio::fs::File,
        part: PathBuf,
        target: PathBuf,
    },
    Remote {
        computer: ComputerName,
        path: String,
        upload_id: String,
        /// Never replace a file; create missing directories (`WriteChunk::exclusive`, `make_dirs`).
        new_only: bool,
    },
}

/// The directory and file name of a local target.
fn split(target: &Path) -> (PathBuf, String) {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir, name)
}

fn local_err(what: String) -> impl FnOnce(std::io::Error) -> MeshError {
    move |e| MeshError::Local {
        what,
        source: Arc::new(e),
    }
}

impl Mesh {
    /// What `path` on `computer` is, with its sha256 when `sha256`.
    pub async fn stat_file(
        &self,
        computer: &ComputerName,
        path: &str,
        sha256: bool,
    ) -> Result<FileStat, MeshError> {
        let op = Op::FileStat {
            path: path.to_string(),
            sha256,
        };
        match self.call(computer, op).await? {
            ReplyBody::FileStat(s) => Ok(s),
            other => Err(MeshError::unexpected(&other)),
        }
    }

    /// Up to `max` bytes (at most [`MAX_FILE_CHUNK_BYTES`]) of `path` on
    /// `computer` from `offset`, with the file's size.
    pub async fn read_file(
        &self,
        computer: &str,
        path: &str,
        offset: u64,
        max: u32,
    ) -> Result<(ComputerName, FileChunk), MeshError> {
        let computer = self.resolve_computer(computer).await?;
        let chunk = self.read_chunk(&computer, path, offset, max).await?;
        Ok((computer, chunk))
    }

    async fn read_chunk(
        &self,
        computer: &ComputerName,
        path: &str,
        offset: u64,
        max: u32,
    ) -> Result<FileChunk, MeshError> {
        let op = Op::ReadFile {
            path: path.to_string(),
            offset,
            len: max.min(MAX_FILE_CHUNK_BYTES as u32),
        };
        match self.call(computer, op).await? {
            ReplyBody::FileChunk(c) => Ok(c),
            other => Err(MeshError::unexpected(&other)),
        }
    }

    /// Writes `data` as the file `path` on `computer` (replacing it whole,
    /// verified by sha256); returns what the node reports.
    pub async fn write_file(
        &self,
        computer: &str,
        path: &str,
        data: Vec<u8>,
    ) -> Result<Copied, MeshError> {
        let dst = Location::Remote {
            computer: computer.to_string(),
            path: path.to_string(),
        };
        let source = Source::Bytes(data);
        self.copy_from(
            source,
            "(content)".into(),
            None,
            &dst,
            MAX_FILE_CHUNK_BYTES,
            false,
            |_| {},
        )
        .await
    }

    /// Saves `data` as a new file `path` on `computer`, never replacing one:
    /// when the name is taken the node picks `NAME-1.EXT`, `NAME-2.EXT`, ...
    /// atomically, and missing parent directories (inside its `files.roots`)
    /// are created. [`Copied::dst`] says where it went (`COMPUTER:PATH`).
    pub async fn save_new_file(
        &self,
        computer: &str,
        path: &str,
        data: Vec<u8>,
    ) -> Result<Copied, MeshError> {
        let dst = Location::Remote {
            computer: computer.to_string(),
            path: path.to_string(),
        };
        self.copy_from(
            Source::Bytes(data),
            "(content)".into(),
            None,
            &dst,
            MAX_FILE_CHUNK_BYTES,
            true,
            |_| {},
        )
        .await
    }

    /// Copies `src` to `dst` (either may be local or remote; a destination
    /// that is a directory, or ends in `/`, receives the source's name),
    /// calling `progress` after each chunk.
    pub async fn copy(
        &self,
        src: &Location,
        dst: &Location,
        progress: impl FnMut(Progress) + Send,
    ) -> Result<Copied, MeshError> {
        self.copy_chunked(src, dst, MAX_FILE_CHUNK_BYTES, progress)
            .await
    }

    /// [`Mesh::copy`] in chunks of `chunk` bytes (1 ..= [`MAX_FILE_CHUNK_BYTES`]).
    pub async fn copy_chunked(
        &self,
        src: &Location,
        dst: &Location,
        chunk: usize,
        progress: impl FnMut(Progress) + Send,
    ) -> Result<Copied, MeshError> {
        let (source, shown) = match src {
            Location::Local(p) => {
                let what = format!("cannot read {}", p.display());
                let md = tokio::fs::metadata(p)
                    .await
                    .map_err(local_err(what.clone()))?;
                if !md.is_file() {
                    return Err(MeshError::BadInput(format!(
                        "{} is not a regular file; cp copies one file",
                        p.display()
                    )));
                }
                let file = tokio::fs::File::open(p).await.map_err(local_err(what))?;
                let source = Source::Local {
                    file,
                    path: p.clone(),
                };
                (source, p.display().to_string())
            }
            Location::Remote { computer, path } => {
                let computer = self.resolve_computer(computer).await?;
                let stat = self.stat_file(&computer, path, true).await?;
                if stat.is_dir {
                    return Err(MeshError::BadInput(format!(
                        "{computer}:{path} is a directory; cp copies one file"
                    )));
                }
                let shown = format!("{computer}:{}", stat.path);
                (Source::Remote { computer, stat }, shown)
            }
        };
        self.copy_from(source, shown, src.file_name(), dst, chunk, false, progress)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn copy_from(
        &self,
        mut source: Source,
        src_shown: String,
        name: Option<String>,
        dst: &Location,
        chunk: usize,
        new_only: bool,
        mut progress: impl FnMut(Progress) + Send,
    ) -> Result<Copied, MeshError> {
        let chunk = chunk.clamp(1, MAX_FILE_CHUNK_BYTES);
        let total = match &source {
            Source::Local { file, path } => file
                .metadata()
                .await
                .map_err(local_err(format!("cannot read {}", path.display())))?
                .len(),
            Source::Remote { stat, .. } => stat.size,
            Source::Bytes(b) => b.len() as u64,
        };
        let upload_id = uuid::Uuid::now_v7().simple().to_string();
        let mut sink = self.open_sink(dst, name, &upload_id, new_only).await?;
        let result = self
            .pump(&mut source, &mut sink, total, chunk, &mut progress)
            .await;
        match (result, sink) {
            (
                Ok((sha256, _)),
                Sink::Local {
                    mut file,
                    part,
                    target,
                },
            ) => {
                let done = async {
                    let what = format!("cannot write {}", target.display());
                    file.flush().await.map_err(local_err(what.clone()))?;
                    // An existing target keeps its mode; a new one is 0644.
                    let mode = match tokio::fs::metadata(&target).await {
                        Ok(md) => md.permissions().mode() & 0o7777,
                        Err(_) => 0o644,
                    };
                    file.set_permissions(std::fs::Permissions::from_mode(mode))
                        .await
                        .map_err(local_err(what.clone()))?;
                    file.sync_all().await.map_err(local_err(what.clone()))?;
                    tokio::fs::rename(&part, &target)
                        .await
                        .map_err(local_err(what))
                }
                .await;
                if let Err(e) = done {
                    let _ = tokio::fs::remove_file(&part).await;
                    return Err(e);
                }
                Ok(Copied {
                    bytes: total,
                    sha256,
                    src: src_shown,
                    dst: target.display().to_string(),
                })
            }
            (Ok((sha256, path)), Sink::Remote { computer, .. }) => Ok(Copied {
                bytes: total,
                sha256,
                src: src_shown,
                dst: format!("{computer}:{}", path.unwrap_or_default()),
            }),
            (Err(e), Sink::Local { part, .. }) => {
                let _ = tokio::fs::remove_file(&part).await;
                Err(e)
            }
            (Err(e), Sink::Remote { .. }) => Err(e),
        }
    }

    /// Moves the bytes, chunk by chunk, hashing them on the way; returns
    /// the sha256 and, for a remote destination, its resolved path.
    async fn pump(
        &self,
        source: &mut Source,
        sink: &mut Sink,
        total: u64,
        chunk: usize,
        progress: &mut (impl FnMut(Progress) + Send),
    ) -> Result<(String, Option<String>), MeshError> {
        let mut hasher = Sha256::new();
        let mut offset = 0u64;
        loop {
            let want = chunk.min((total - offset) as usize);
            let data = self.read_source(source, offset, want).await?;
            hasher.update(&data);
            let end = offset + data.len() as u64;
            let last = end >= total;
            let sha = last.then(|| hex(&hasher.clone().finalize()));
            // Checked before the last chunk goes out, so a damaged copy is never put in place.
            if let (Some(got), Source::Remote { computer, stat }) = (&sha, &*source) {
                if stat.sha256.as_deref() != Some(got.as_str()) {
                    return Err(MeshError::Integrity(format!(
                        "{computer}:{} arrived damaged (sha256 {got}, its node says {}); nothing was written",
                        stat.path,
                        stat.sha256.as_deref().unwrap_or("nothing")
                    )));
                }
            }
            let mut written = None;
            match sink {
                Sink::Local { file, target, .. } => file
                    .write_all(&data)
                    .await
                    .map_err(local_err(format!("cannot write {}", target.display())))?,
                Sink::Remote {
                    computer,
                    path,
                    upload_id,
                    new_only,
                } => {
                    let op = Op::WriteFile(WriteChunk {
                        path: path.clone(),
                        upload_id: upload_id.clone(),
                        offset,
                        size: total,
                        data,
                        done: sha.clone(),
                        exclusive: *new_only,
                        make_dirs: *new_only,
                    });
                    match self.call(computer, op).await? {
                        ReplyBody::FileWritten(w) => written = Some(w),
                        other => return Err(MeshError::unexpected(&other)),
                    }
                }
            }
            offset = end;
            progress(Progress {
                done: offset,
                total,
            });
            if let Some(sha) = sha {
                let path = match written {
                    Some(FileWritten {
                        sha256: Some(theirs),
                        path,
                        ..
                    }) if theirs == sha => Some(path),
                    Some(w) => {
                        return Err(MeshError::Integrity(format!(
                            "{} reports sha256 {:?} for the file written, not {sha}",
                            w.path, w.sha256
                        )))
                    }
                    None => None,
                };
                return Ok((sha, path));
            }
        }
    }

    /// The next `want` bytes of the source, at `offset`.
    async fn read_source(
        &self,
        source: &mut Source,
        offset: u64,
        want: usize,
    ) -> Result<Vec<u8>, MeshError> {
        match source {
            Source::Bytes(b) => Ok(b[offset as usize..offset as usize + want].to_vec()),
            Source::Local { file, path } => {
                let mut buf = vec![0; want];
                match file.read_exact(&mut buf).await {
                    Ok(_) => Ok(buf),
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        Err(MeshError::Integrity(format!(
                            "{} got shorter while it was copied; nothing was written",
                            path.display()
                        )))
                    }
                    Err(e) => Err(local_err(format!("cannot read {}", path.display()))(e)),
                }
            }
            Source::Remote { computer, stat } => {
                let changed = || {
                    MeshError::Integrity(format!(
                        "{computer}:{} changed while it was copied; nothing was written",
                        stat.path
                    ))
                };
                let c = match self
                    .read_chunk(computer, &stat.path, offset, want as u32)
                    .await
                {
                    // The file got shorter than this chunk's offset (e.g. it
                    // is being rewritten): the node refuses the offset.
                    Err(MeshError::Remote {
                        code: Some(ErrorCode::BadInput),
                        message,
                    }) if message.contains("past the end") => return Err(changed()),
                    other => other?,
                };
                if c.size != stat.size || c.modified_ms != stat.modified_ms || c.data.len() != want
                {
                    return Err(changed());
                }
                Ok(c.data)
            }
        }
    }

    /// Opens the destination: a temporary file beside a local target, or
    /// the remote path (a directory there gets the source's name).
    async fn open_sink(
        &self,
        dst: &Location,
        name: Option<String>,
        upload_id: &str,
        new_only: bool,
    ) -> Result<Sink, MeshError> {
        let no_name = |d: &dyn fmt::Display| {
            MeshError::BadInput(format!(
                "{d} is a directory and the source has no file name; give the destination file's name"
            ))
        };
        match dst {
            Location::Local(p) => {
                let is_dir = tokio::fs::metadata(p).await.is_ok_and(|m| m.is_dir());
                let target = if is_dir || p.as_os_str().to_string_lossy().ends_with('/') {
                    p.join(name.ok_or_else(|| no_name(&p.display()))?)
                } else {
                    p.clone()
                };
                let (dir, file_name) = split(&target);
                let part = dir.join(part_name(&file_name, upload_id));
                let file = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&part)
                    .await
                    .map_err(local_err(format!("cannot write {}", target.display())))?;
                Ok(Sink::Local { file, part, target })
            }
            Location::Remote { computer, path } => {
                let computer = self.resolve_computer(computer).await?;
                let into_dir = if path.ends_with('/') || path.is_empty() {
                    true
                } else if new_only {
                    // A taken name (even a directory's) gets a numbered one on the node.
                    false
                } else {
                    match self.stat_file(&computer, path, false).await {
                        Ok(s) => s.is_dir,
                        Err(MeshError::Remote {
                            code: Some(ErrorCode::NoSuchFile),
                            ..
                        }) => false,
                        Err(e) => return Err(e),
                    }
                };
                let path = if into_dir {
                    let n = name.ok_or_else(|| no_name(&format!("{computer}:{path}")))?;
                    match path.as_str() {
                        "" => format!("~/{n}"),
                        p if p.ends_with('/') => format!("{p}{n}"),
                        p => format!("{p}/{n}"),
                    }
                } else {
                    path.clone()
                };
                Ok(Sink::Remote {
                    computer,
                    path,
                    upload_id: upload_id.to_string(),
                    new_only,
                })
            }
        }
    }
}
