//! Which paths the file ops may touch: `~` expanded (relative paths are
//! relative to the home directory too, since a node's working directory
//! means nothing to the requester), then resolved with every symlink
//! followed and checked to lie inside one of `files.roots`. A `..` or a
//! symlink that leads out is refused with the roots named, so the user
//! learns what is allowed. Files must be regular files (a FIFO would block
//! a reader forever) of at most `files.max_bytes`.

use std::fs::Metadata;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use telemux_proto::files::MAX_PATH_BYTES;
use telemux_proto::ErrorCode;

use crate::error::OpError;
use crate::state::Shared;

/// `path` as typed, made absolute: `~` and `~/x` are the home directory,
/// other relative paths are relative to it.
pub(crate) fn expand(shared: &Shared, path: &str) -> Result<PathBuf, OpError> {
    let bad = |why: &str| OpError::new(ErrorCode::BadInput, format!("{why} ({path:?})"));
    if path.is_empty() {
        return Err(bad("the path is empty"));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(bad("the path is too long"));
    }
    if path.contains('\0') {
        return Err(bad("the path contains a NUL byte"));
    }
    let home = || {
        std::env::var_os("HOME").map(PathBuf::from).ok_or_else(|| {
            OpError::new(
                ErrorCode::BadInput,
                format!(
                    "{} has no home directory (HOME) for {path:?}; give an absolute path",
                    shared.cfg.computer
                ),
            )
        })
    };
    if path == "~" {
        return home();
    }
    if let Some(rest) = path.strip_prefix("~/") {
        return Ok(home()?.join(rest));
    }
    if path.starts_with('~') {
        return Err(bad("only `~` and `~/...` are understood, not `~user`"));
    }
    let p = PathBuf::from(path);
    if p.is_absolute() {
        Ok(p)
    } else {
        Ok(home()?.join(p))
    }
}

/// The roots that exist, resolved (a root added after start counts once it exists).
async fn roots(shared: &Shared) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for r in &shared.cfg.files.roots {
        if let Ok(c) = tokio::fs::canonicalize(r).await {
            out.push(c);
        }
    }
    out
}

/// The refusal of `path`, naming the roots.
fn outside(shared: &Shared, path: &str) -> OpError {
    let cfg = &shared.cfg;
    let message = if cfg.files.roots.is_empty() {
        format!(
            "{} shares no files (files.roots is empty in its config); {path} was refused",
            cfg.computer
        )
    } else {
        let list: Vec<String> = cfg
            .files
            .roots
            .iter()
            .map(|r| r.display().to_string())
            .collect();
        format!(
            "{path} is outside the directories {} shares (files.roots: {}); give a path inside one of them",
            cfg.computer,
            list.join(", ")
        )
    };
    OpError::new(ErrorCode::BadInput, message)
}

/// Refuses `real` (resolved) unless it is inside a root.
async fn check_inside(shared: &Shared, real: &Path, path: &str) -> Result<(), OpError> {
    if roots(shared).await.iter().any(|r| real.starts_with(r)) {
        Ok(())
    } else {
        Err(outside(shared, path))
    }
}

/// `p` with `.` and `..` taken away by the letter (for paths that do not exist).
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// An I/O failure on `path` as a reply: a missing file is `no_such_file`.
pub(crate) fn io_error(shared: &Shared, path: &str, e: std::io::Error) -> OpError {
    let computer = &shared.cfg.computer;
    match e.kind() {
        ErrorKind::NotFound => OpError::new(
            ErrorCode::NoSuchFile,
            format!("no such file on {computer}: {path}"),
        ),
        ErrorKind::PermissionDenied => OpError::new(
            ErrorCode::BadInput,
            format!("{computer} may not access {path}: {e}"),
        ),
        _ => OpError::new(ErrorCode::Internal, format!("{path} on {computer}: {e}")),
    }
}

/// An existing file or directory `path`, resolved and inside the roots.
pub(crate) async fn resolve_existing(shared: &Shared, path: &str) -> Result<PathBuf, OpError> {
    let p = expand(shared, path)?;
    match tokio::fs::canonicalize(&p).await {
        Ok(real) => {
            check_inside(shared, &real, path).await?;
            Ok(real)
        }
        Err(e) => {
            // Whether something outside the roots exists is not ours to tell.
            let guess = lexical(&p);
            let inside = roots(shared).await.iter().any(|r| guess.starts_with(r))
                || shared.cfg.files.roots.iter().any(|r| guess.starts_with(r));
            if inside {
                Err(io_error(shared, path, e))
            } else {
                Err(outside(shared, path))
            }
        }
    }
}

/// Where an upload to `path` goes: (its resolved directory, the file name,
/// the resolved target). The directory must exist inside the roots; an
/// existing target is resolved too (a symlink is written through, and
/// refused if it leads out of the roots) and must not be a directory.
pub(crate) async fn resolve_target(
    shared: &Shared,
    path: &str,
) -> Result<(PathBuf, String, PathBuf), OpError> {
    let p = expand(shared, path)?;
    let no_name = || {
        OpError::new(
            ErrorCode::BadInput,
            format!("{path} names a directory, not a file; add the file name"),
        )
    };
    if path.ends_with('/') {
        return Err(no_name());
    }
    let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
        return Err(no_name());
    };
    let dir = resolve_existing(shared, &parent.display().to_string())
        .await
        .map_err(|e| match e.code {
            ErrorCode::NoSuchFile => OpError::new(
                ErrorCode::NoSuchFile,
                format!(
                    "directory {} does not exist on {}; create it first",
                    parent.display(),
                    shared.cfg.computer
                ),
            ),
            _ => e,
        })?;
    let mut target = dir.join(name);
    if tokio::fs::symlink_metadata(&target).await.is_ok() {
        target = resolve_existing(shared, path).await?;
        if tokio::fs::metadata(&target).await.is_ok_and(|m| m.is_dir()) {
            return Err(no_name());
        }
    }
    let dir = target.parent().map(Path::to_path_buf).unwrap_or(dir);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(no_name)?;
    Ok((dir, name, target))
}

/// Where an exclusive upload to `path` goes: like [`resolve_target`], but
/// the target is never resolved through an existing file (an exclusive
/// upload never writes through or over it; it takes a numbered name).
pub(crate) async fn resolve_new_target(
    shared: &Shared,
    path: &str,
) -> Result<(PathBuf, String, PathBuf), OpError> {
    let p = expand(shared, path)?;
    let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
        return Err(OpError::new(
            ErrorCode::BadInput,
            format!("{path} names a directory, not a file; add the file name"),
        ));
    };
    let dir = resolve_existing(shared, &parent.display().to_string()).await?;
    let name = name.to_string_lossy().into_owned();
    Ok((dir.clone(), name.clone(), dir.join(name)))
}

/// Creates the missing parent directories of `path`, one by one below its
/// nearest existing ancestor, which must lie inside the roots (so nothing is
/// ever created outside them, whatever symlinks lie on the way).
pub(crate) async fn make_parent_dirs(shared: &Shared, path: &str) -> Result<(), OpError> {
    let p = expand(shared, path)?;
    let Some(parent) = p.parent() else {
        return Ok(());
    };
    let mut missing = Vec::new();
    let mut anc = parent.to_path_buf();
    while tokio::fs::symlink_metadata(&anc).await.is_err() {
        match (anc.file_name(), anc.parent()) {
            (Some(n), Some(up)) => {
                missing.push(n.to_os_string());
                anc = up.to_path_buf();
            }
            _ => break,
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut dir = resolve_existing(shared, &anc.display().to_string()).await?;
    for n in missing.into_iter().rev() {
        dir.push(n);
        match tokio::fs::create_dir(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(shared, &dir.display().to_string(), e)),
        }
    }
    // Whatever was there already (a racing symlink) must still lead inside.
    resolve_existing(shared, &parent.display().to_string()).await?;
    Ok(())
}

/// Refuses what is not a regular file, or is larger than `files.max_bytes`.
pub(crate) fn check_regular(shared: &Shared, path: &str, md: &Metadata) -> Result<(), OpError> {
    if md.is_dir() {
        return Err(OpError::new(
            ErrorCode::BadInput,
            format!("{path} is a directory; only files are copied"),
        ));
    }
    if !md.is_file() {
        return Err(OpError::new(
            ErrorCode::BadInput,
            format!("{path} is not a regular file (a device, socket or pipe); only regular files are copied"),
        ));
    }
    check_size(shared, path, md.len())
}

/// Refuses a file of `size` bytes when it is over `files.max_bytes`.
pub(crate) fn check_size(shared: &Shared, path: &str, size: u64) -> Result<(), OpError> {
    let max = shared.cfg.files.max_bytes;
    if size > max {
        return Err(OpError::new(
            ErrorCode::TooLarge,
            format!(
                "{path} is {size} bytes; {} takes files up to {max} bytes (files.max_bytes)",
                shared.cfg.computer
            ),
        ));
    }
    Ok(())
}

/// The modification time of `md`, ms since the epoch (0 when unknown).
pub(crate) fn modified_ms(md: &Metadata) -> u64 {
    md.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_takes_dot_dot_away() {
        assert_eq!(
            lexical(Path::new("/home/u/../../etc/passwd")),
            PathBuf::from("/etc/passwd")
        );
        assert_eq!(
            lexical(Path::new("/home/u/./a/../b")),
            PathBuf::from("/home/u/b")
        );
    }
}
