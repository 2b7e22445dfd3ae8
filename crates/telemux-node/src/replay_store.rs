//! Admission of signed commands: signature, target computer, and a record of
//! the command ids this node accepted that survives a restart.
//!
//! Why on disk: replay protection must not rest on state that anyone who can
//! write to Redis can change. The `telemux:taken:<id>` marker can be deleted
//! and an in-memory cache is lost when the node restarts, so a captured signed
//! command could run again within its timestamp window. Each accepted id is
//! appended to `<state_dir>/accepted-commands` and `fdatasync`ed *before* the
//! command runs, and the file is read back at start. Only ids whose timestamp
//! can still pass the skew check are kept (older ones are refused as stale
//! anyway), so the file stays small; it is rewritten (temporary file, fsync,
//! rename) when most of its lines are stale. Only commands that passed the
//! signature check are recorded, so someone without the key cannot grow it.
//!
//! File format, one accepted command per line: `<uuid> <ts_ms> <stream entry id>`.
//! A torn last line (a crash mid-write) is ignored: its command had not run.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use telemux_proto::{auth, now_ms, AuthError, ComputerName, Envelope, MeshKey, Request};
use thiserror::Error;
use uuid::Uuid;

use crate::NodeError;

/// Name of the record under the node's `state_dir`.
pub(crate) const FILE_NAME: &str = "accepted-commands";

/// Stale lines tolerated in the file (beyond the live ones) before it is compacted.
const SLACK_LINES: usize = 256;

/// What to do with one command entry.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Run it.
    Run,
    /// The very stream entry this node accepted before (a pending entry read
    /// again after a restart): acknowledge it without running it again.
    Redelivered,
    /// Refuse it (reply with the reason and dead-letter it).
    Refused(AdmitError),
}

/// Why a command was refused at admission.
#[derive(Debug, Error)]
pub(crate) enum AdmitError {
    /// Signature, timestamp, target or replay check failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The id could not be recorded, so a later replay could not be told
    /// apart: refused rather than run unprotected.
    #[error("could not record the command in {path}: {source}; refused, since a replay of it could not be recognised")]
    Record {
        /// The record file.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
}

/// One accepted command.
#[derive(Debug, Clone)]
struct Seen {
    ts_ms: u64,
    entry: String,
}

/// The ids this node accepted within the replay window, in memory and on disk.
pub(crate) struct AcceptedCommands {
    path: PathBuf,
    seen: HashMap<Uuid, Seen>,
    /// Append handle; locked only inside blocking tasks, never across an await.
    file: Arc<Mutex<File>>,
    /// Lines in the file (live and stale).
    lines: usize,
    /// Line count at which the file is compacted next: twice the live ids
    /// of the last compaction plus some slack, so rewrites stay rare.
    compact_at: usize,
    /// The skew window (`mesh.max_skew_ms`).
    window_ms: u64,
}

impl AcceptedCommands {
    /// Loads the record under `state_dir` (creating it), dropping expired ids.
    pub async fn open(state_dir: &Path, window: Duration) -> Result<AcceptedCommands, NodeError> {
        let path = state_dir.join(FILE_NAME);
        let window_ms = window.as_millis() as u64;
        let p = path.clone();
        let loaded = tokio::task::spawn_blocking(move || load(&p, window_ms))
            .await
            .map_err(|e| io::Error::other(e.to_string()))
            .and_then(|r| r);
        let (seen, lines, file) = loaded.map_err(|source| NodeError::StateFile {
            path: path.clone(),
            source,
        })?;
        tracing::debug!(path = %path.display(), ids = seen.len(), "accepted-command record loaded");
        Ok(AcceptedCommands {
            path,
            seen,
            file: Arc::new(Mutex::new(file)),
            lines,
            compact_at: 2 * lines + SLACK_LINES,
            window_ms,
        })
    }

    /// Decides about the command `env` (carrying `req`) read from stream
    /// entry `entry`. With a `key`: signature and timestamp, the target
    /// computer, then the id against the record, which it joins (durably)
    /// before `Run` is returned. Without one, only a named target is checked.
    pub async fn admit(
        &mut self,
        key: Option<&MeshKey>,
        here: &ComputerName,
        env: &Envelope,
        req: &Request,
        entry: &str,
    ) -> Admission {
        let Some(key) = key else {
            return match auth::check_target(req.to.as_ref(), here, false) {
                Ok(()) => Admission::Run,
                Err(e) => Admission::Refused(e.into()),
            };
        };
        let now = now_ms();
        let checked = key
            .verify(env, now, self.window_ms)
            .and_then(|()| auth::check_target(req.to.as_ref(), here, true));
        if let Err(e) = checked {
            return Admission::Refused(e.into());
        }
        if let Some(seen) = self.seen.get(&env.id) {
            return if seen.entry == entry {
                Admission::Redelivered
            } else {
                Admission::Refused(AuthError::Replayed(env.id).into())
            };
        }
        let seen = Seen {
            ts_ms: env.ts_ms,
            entry: entry.to_string(),
        };
        if let Err(source) = self.record(env.id, &seen, now).await {
            return Admission::Refused(AdmitError::Record {
                path: self.path.clone(),
                source,
            });
        }
        self.seen.insert(env.id, seen);
        Admission::Run
    }

    /// Appends one line and syncs it; compacts the file first when it is
    /// mostly stale.
    async fn record(&mut self, id: Uuid, seen: &Seen, now: u64) -> io::Result<()> {
        let line = format!("{id} {} {}\n", seen.ts_ms, seen.entry);
        if self.lines >= self.compact_at {
            let oldest = oldest_kept(now, self.window_ms);
            self.seen.retain(|_, s| s.ts_ms >= oldest);
            let mut text: String = self
                .seen
                .iter()
                .map(|(id, s)| format!("{id} {} {}\n", s.ts_ms, s.entry))
                .collect();
            text.push_str(&line);
            let (path, file) = (self.path.clone(), self.file.clone());
            blocking(move || {
                let fresh = rewrite(&path, &text)?;
                *file.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
                Ok(())
            })
            .await?;
            self.lines = self.seen.len() + 1;
            self.compact_at = 2 * self.lines + SLACK_LINES;
            return Ok(());
        }
        let file = self.file.clone();
        blocking(move || {
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            f.write_all(line.as_bytes())?;
            f.sync_data()
        })
        .await?;
        self.lines += 1;
        Ok(())
    }
}

/// Runs blocking file I/O off the runtime.
async fn blocking(f: impl FnOnce() -> io::Result<()> + Send + 'static) -> io::Result<()> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
}

/// Oldest timestamp that can still pass the skew check, with one window of
/// margin for a clock that steps back.
fn oldest_kept(now: u64, window_ms: u64) -> u64 {
    now.saturating_sub(2 * window_ms)
}

/// Reads the record, keeps the unexpired ids, rewrites it compacted, and
/// returns it open for appending.
fn load(path: &Path, window_ms: u64) -> io::Result<(HashMap<Uuid, Seen>, usize, File)> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let oldest = oldest_kept(now_ms(), window_ms);
    let mut seen = HashMap::new();
    for line in text.lines() {
        let mut parts = line.split(' ');
        let parsed = (|| {
            let id = Uuid::parse_str(parts.next()?).ok()?;
            let ts_ms = parts.next()?.parse::<u64>().ok()?;
            let entry = parts.next()?.to_string();
            Some((id, Seen { ts_ms, entry }))
        })();
        match parsed {
            Some((id, s)) if s.ts_ms >= oldest => {
                seen.insert(id, s);
            }
            Some(_) => {}
            None => {
                tracing::debug!(path = %path.display(), "ignoring a torn line in the accepted-command record")
            }
        }
    }
    let compacted: String = seen
        .iter()
        .map(|(id, s)| format!("{id} {} {}\n", s.ts_ms, s.entry))
        .collect();
    let file = rewrite(path, &compacted)?;
    Ok((seen, compacted.lines().count(), file))
}

/// Replaces the file at `path` with `text` atomically (write, fsync, rename,
/// fsync the directory) and opens it for appending.
fn rewrite(path: &Path, text: &str) -> io::Result<File> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    OpenOptions::new().append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemux_proto::Op;

    const KEY: &[u8] = b"0123456789abcdef0123";

    fn signed(to: &str, key: &MeshKey) -> (Envelope, Request) {
        let req = Request {
            to: Some(ComputerName::new(to).unwrap()),
            reply_to: String::new(),
            deadline_ms: 0,
            op: Op::ListSessions,
        };
        let mut env = Envelope::seal("cli@x", &req).unwrap();
        key.sign(&mut env);
        (env, req)
    }

    #[tokio::test]
    async fn accepted_ids_survive_a_restart_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let key = MeshKey::new(KEY).unwrap();
        let here = ComputerName::new("RasPi").unwrap();
        let window = Duration::from_secs(30);
        let (env, req) = signed("raspi", &key);
        let mut store = AcceptedCommands::open(dir.path(), window).await.unwrap();
        assert!(matches!(
            store.admit(Some(&key), &here, &env, &req, "1-0").await,
            Admission::Run
        ));
        drop(store);

        // A new incarnation: the same entry is a redelivery, a copy a replay.
        let mut store = AcceptedCommands::open(dir.path(), window).await.unwrap();
        assert!(matches!(
            store.admit(Some(&key), &here, &env, &req, "1-0").await,
            Admission::Redelivered
        ));
        assert!(matches!(
            store.admit(Some(&key), &here, &env, &req, "2-0").await,
            Admission::Refused(AdmitError::Auth(AuthError::Replayed(_)))
        ));
        // Signed for another computer.
        let (other, oreq) = signed("MozBook", &key);
        let refused = store.admit(Some(&key), &here, &other, &oreq, "3-0").await;
        assert!(
            matches!(
                &refused,
                Admission::Refused(AdmitError::Auth(AuthError::WrongTarget { .. }))
            ),
            "{refused:?}"
        );
        drop(store);

        // A torn last line is ignored; expired ids are dropped at load.
        let path = dir.path().join(FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        writeln!(f, "{} 1 9-0", Uuid::now_v7()).unwrap();
        write!(f, "0190").unwrap();
        drop(f);
        let store = AcceptedCommands::open(dir.path(), window).await.unwrap();
        assert_eq!(store.seen.len(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    #[tokio::test]
    async fn the_file_is_compacted_when_mostly_stale() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AcceptedCommands::open(dir.path(), Duration::from_secs(30))
            .await
            .unwrap();
        // Ids accepted long ago (timestamp 1): all stale by the compaction.
        for i in 0..(3 * SLACK_LINES) {
            let seen = Seen {
                ts_ms: 1,
                entry: format!("{i}-0"),
            };
            let id = Uuid::now_v7();
            store.record(id, &seen, now_ms()).await.unwrap();
            store.seen.insert(id, seen);
        }
        let lines = std::fs::read_to_string(dir.path().join(FILE_NAME))
            .unwrap()
            .lines()
            .count();
        assert!(lines <= SLACK_LINES + 1, "{lines} lines kept");
        assert!(
            store.seen.len() <= SLACK_LINES + 1,
            "{} ids kept",
            store.seen.len()
        );
    }

    #[tokio::test]
    async fn without_a_key_only_a_named_target_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let here = ComputerName::new("RasPi").unwrap();
        let mut store = AcceptedCommands::open(dir.path(), Duration::from_secs(30))
            .await
            .unwrap();
        let mut req = Request {
            to: None,
            reply_to: String::new(),
            deadline_ms: 0,
            op: Op::ListSessions,
        };
        let env = Envelope::seal("cli@x", &req).unwrap();
        assert!(matches!(
            store.admit(None, &here, &env, &req, "1-0").await,
            Admission::Run
        ));
        req.to = Some(ComputerName::new("MozBook").unwrap());
        assert!(matches!(
            store.admit(None, &here, &env, &req, "2-0").await,
            Admission::Refused(_)
        ));
    }
}
