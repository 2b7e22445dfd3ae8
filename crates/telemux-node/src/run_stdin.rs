//! The stdin of `run` sessions: what a command started by `Op::Run` reads.
//!
//! A run's stdin is never the pane's terminal: nobody types into a run, so a
//! command that reads would wait until the timeout. The requester sends the
//! whole stdin up front in `Op::Run` (at most
//! [`telemux_proto::limits::MAX_STDIN_BYTES`]); the node writes it to a private
//! file, `<state_dir>/run-stdin/<session>` (directory 0700, file 0600, as it
//! may hold secrets), and the wrapper redirects the command's stdin from it
//! (see `telemux_tmux::wrap_with_stdin`). A run without stdin reads
//! `/dev/null`, i.e. EOF at once. Stdin is not streamed while the command
//! runs: bytes written to the requester's stdin after it sent the request
//! never arrive.
//!
//! The file is removed when the session ends (its watcher ends, see
//! `session::start`) or its creation failed. It is kept while the node is
//! merely stopped, since the session lives on and may not have opened it yet;
//! the watcher of the adopted session removes it later. Files of sessions that
//! no longer exist (a node killed between writing one and starting its
//! session) are swept when the node starts ([`sweep`]).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use telemux_proto::SessionName;

use crate::state::Shared;

/// What a new session's command reads as its stdin.
#[derive(Debug)]
pub(crate) enum Stdin {
    /// The pane's terminal (interactive sessions made by `new`).
    Terminal,
    /// `/dev/null`: EOF at once (a run nobody sent stdin to).
    Null,
    /// These bytes, then EOF (a run with stdin).
    Bytes(Vec<u8>),
}

/// The stdin file of session `name` under `state_dir`.
pub(crate) fn path(state_dir: &Path, name: &SessionName) -> PathBuf {
    state_dir.join("run-stdin").join(name.key())
}

/// Writes `bytes` to a fresh private stdin file for `name`; returns its path.
pub(crate) async fn write(
    shared: &Shared,
    name: &SessionName,
    bytes: &[u8],
) -> std::io::Result<PathBuf> {
    use tokio::io::AsyncWriteExt;

    let file = path(&shared.cfg.state_dir, name);
    let dir = file.parent().expect("the stdin file is in a directory");
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder.create(dir).await?;
    // A left-over of a crashed node: replaced, never reused, so the new file
    // is created 0600 by us rather than inheriting an old mode.
    remove(shared, name).await;
    let mut f = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .await?;
    f.write_all(bytes).await?;
    f.flush().await?;
    Ok(file)
}

/// Removes the stdin file of `name`, if it has one.
pub(crate) async fn remove(shared: &Shared, name: &SessionName) {
    match tokio::fs::remove_file(path(&shared.cfg.state_dir, name)).await {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            computer = %shared.cfg.computer,
            session = %name,
            error = %e,
            "cannot remove the stdin file of a run"
        ),
    }
}

/// Removes the stdin files of sessions tmux does not have. Called at node
/// start, before requests are taken, so no run is being created meanwhile.
pub(crate) async fn sweep(shared: &Shared) {
    let dir = shared.cfg.state_dir.join("run-stdin");
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!(computer = %shared.cfg.computer, error = %e, "cannot list run stdin files");
            return;
        }
    };
    let live: Vec<String> = match shared.tmux.list().await {
        Ok(panes) => panes.into_iter().map(|p| p.session.key()).collect(),
        Err(e) => {
            tracing::warn!(computer = %shared.cfg.computer, error = %e, "cannot list tmux sessions");
            return;
        }
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        if !live.iter().any(|k| name.to_str() == Some(k.as_str())) {
            if let Err(e) = tokio::fs::remove_file(entry.path()).await {
                tracing::warn!(computer = %shared.cfg.computer, error = %e, file = %entry.path().display(), "cannot remove a stale run stdin file");
            }
        }
    }
}
