//! [`Mesh::clean`]: asks each online computer (or the one named) to remove
//! its exited sessions and the output streams of sessions it no longer has
//! (`Op::Clean`), concurrently; `dry_run` changes nothing.

use telemux_proto::{ComputerName, Op, ReplyBody};

use crate::mesh::{Mesh, MeshError};

/// What one computer removed (or, with `dry_run`, would remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// The computer.
    pub computer: String,
    /// Exited sessions.
    pub sessions: Vec<String>,
    /// Sessions whose leftover output streams went.
    pub streams: Vec<String>,
    /// Nothing was changed.
    pub dry_run: bool,
}

impl Mesh {
    /// Cleans `computer`, or every online computer; results in name order.
    pub async fn clean(
        &self,
        computer: Option<&str>,
        dry_run: bool,
    ) -> Result<Vec<Cleaned>, MeshError> {
        let targets: Vec<ComputerName> = match computer {
            Some(c) => vec![self.resolve_computer(c).await?],
            None => self
                .computers()
                .await?
                .into_iter()
                .filter(|c| c.online)
                .filter_map(|c| ComputerName::new(&c.info.name).ok())
                .collect(),
        };
        let mut set = tokio::task::JoinSet::new();
        for c in targets {
            let me = self.clone();
            set.spawn(async move { (c.clone(), me.call(&c, Op::Clean { dry_run }).await) });
        }
        let mut out = Vec::new();
        while let Some(joined) = set.join_next().await {
            let Ok((c, res)) = joined else { continue };
            match res? {
                ReplyBody::Cleaned {
                    sessions,
                    streams,
                    dry_run,
                } => out.push(Cleaned {
                    computer: c.to_string(),
                    sessions,
                    streams,
                    dry_run,
                }),
                other => return Err(MeshError::unexpected(&other)),
            }
        }
        out.sort_by_key(|c| c.computer.to_ascii_lowercase());
        Ok(out)
    }
}

/// One computer's result as JSON: `computer`, `sessions`, `streams`, `dry_run`.
pub fn cleaned_json(c: &Cleaned) -> serde_json::Value {
    serde_json::json!({
        "computer": c.computer,
        "sessions": c.sessions,
        "streams": c.streams,
        "dry_run": c.dry_run,
    })
}

/// One line per thing removed (`would remove` with `dry_run`), or a line
/// saying there was nothing.
pub fn cleaned_lines(c: &Cleaned) -> Vec<String> {
    let verb = if c.dry_run { "would remove" } else { "removed" };
    let mut lines: Vec<String> = c
        .sessions
        .iter()
        .map(|s| format!("{verb} exited session {}/{s}", c.computer))
        .chain(c.streams.iter().map(|s| {
            format!(
                "{verb} the output stream of {}/{s} (session gone)",
                c.computer
            )
        }))
        .collect();
    if lines.is_empty() {
        lines.push(format!("{}: nothing to clean", c.computer));
    }
    lines
}
