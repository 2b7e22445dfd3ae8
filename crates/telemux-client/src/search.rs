//! [`Mesh::search`]: a regular expression over the retained output of every
//! matching session on every online computer (CLI `grep`, MCP
//! `search_output`). Each node searches its own streams within the bounds of
//! [`telemux_proto::search`]; this side checks the pattern first (same
//! words as a node), asks the computers concurrently, merges their hits
//! (computers and sessions in name order, oldest first within a session)
//! and applies the maximum.

use std::time::Duration;

use telemux_proto::search::{self, Hit};
use telemux_proto::{now_ms, ComputerName, ErrorCode, Op, ReplyBody, SessionAddr};

use crate::mesh::{Mesh, MeshError};

/// What to search for, as a user gives it.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Rust `regex` syntax, at most [`search::MAX_PATTERN_CHARS`] characters.
    pub pattern: String,
    /// Only this computer.
    pub computer: Option<String>,
    /// Only this session (`computer/session`, or a bare name on any computer).
    pub session: Option<String>,
    /// Only output published within this long before now.
    pub since: Option<Duration>,
    /// Most hits (default [`search::DEFAULT_MAX_RESULTS`], at most [`search::MAX_RESULTS`]).
    pub max_results: Option<u32>,
}

/// The merged answer of every computer asked.
#[derive(Debug, Clone, Default)]
pub struct SearchOutcome {
    /// Hits: computers, then sessions in name order; oldest first within a session.
    pub hits: Vec<Hit>,
    /// Some computer stopped at a bound, or more hits than the maximum were found.
    pub truncated: bool,
    /// Why it is truncated, and computers that could not answer, one sentence each.
    pub notes: Vec<String>,
    /// Output records read over all computers.
    pub scanned_records: u64,
    /// Sessions searched over all computers.
    pub sessions: u32,
    /// The longest time one computer spent.
    pub elapsed_ms: u64,
}

impl Mesh {
    /// Searches the retained output; see the module docs.
    pub async fn search(&self, q: &SearchQuery) -> Result<SearchOutcome, MeshError> {
        search::compile(&q.pattern).map_err(|e| MeshError::BadInput(e.to_string()))?;
        let max = q
            .max_results
            .unwrap_or(search::DEFAULT_MAX_RESULTS)
            .clamp(1, search::MAX_RESULTS);
        let (computer, session) = match q.session.as_deref() {
            Some(s) => {
                let addr = SessionAddr::parse(s)?;
                let c = match (addr.computer, q.computer.as_deref()) {
                    (Some(a), Some(b)) if !a.as_str().eq_ignore_ascii_case(b) => {
                        return Err(MeshError::BadInput(format!(
                            "--session {s} names computer {a}, but --computer says {b}"
                        )))
                    }
                    (Some(a), _) => Some(a.to_string()),
                    (None, b) => b.map(str::to_string),
                };
                (c, Some(addr.session.to_string()))
            }
            None => (q.computer.clone(), None),
        };
        let targets: Vec<ComputerName> = match computer.as_deref() {
            Some(c) => vec![self.resolve_computer(c).await?],
            None => self
                .computers()
                .await?
                .into_iter()
                .filter(|c| c.online)
                .filter_map(|c| ComputerName::new(&c.info.name).ok())
                .collect(),
        };
        let since_ms = q
            .since
            .map(|d| now_ms().saturating_sub(d.as_millis() as u64).max(1))
            .unwrap_or(0);
        let op = Op::Search {
            pattern: q.pattern.clone(),
            session: session.clone(),
            since_ms,
            max_results: max,
        };
        let mut set = tokio::task::JoinSet::new();
        for c in targets {
            let me = self.clone();
            let op = op.clone();
            set.spawn(async move { (c.clone(), me.call(&c, op).await) });
        }
        let mut out = SearchOutcome::default();
        let mut failed = false;
        while let Some(joined) = set.join_next().await {
            let Ok((c, res)) = joined else { continue };
            match res {
                Ok(ReplyBody::Found(f)) => {
                    out.truncated |= f.truncated;
                    if let Some(note) = f.limit_note {
                        out.notes.push(format!("{c}: {note}"));
                    }
                    out.scanned_records += f.scanned_records;
                    out.sessions += f.sessions;
                    out.elapsed_ms = out.elapsed_ms.max(f.elapsed_ms);
                    out.hits.extend(f.hits);
                }
                Ok(other) => return Err(MeshError::unexpected(&other)),
                Err(e @ (MeshError::Bus(_) | MeshError::BadInput(_))) => return Err(e),
                Err(
                    e @ MeshError::Remote {
                        code: Some(ErrorCode::BadInput),
                        ..
                    },
                ) => return Err(e),
                Err(e) if computer.is_some() => return Err(e),
                Err(e) => {
                    failed = true;
                    out.notes.push(format!("{c}: not searched: {e}"));
                }
            }
        }
        if let (Some(s), 0, false) = (&session, out.sessions, failed) {
            let place = computer.map_or("any online computer".to_string(), |c| c.to_string());
            return Err(MeshError::NotFound(format!("no session '{s}' on {place}")));
        }
        // Stable: each node's order (sessions by name, oldest first) is kept.
        out.hits.sort_by_cached_key(|h| {
            (
                h.computer.to_ascii_lowercase(),
                h.session.to_ascii_lowercase(),
            )
        });
        out.notes.sort();
        if out.hits.len() > max as usize {
            out.notes.push(format!(
                "showing the first {max} of {} hits; raise the maximum or narrow the search",
                out.hits.len()
            ));
            out.hits.truncate(max as usize);
            out.truncated = true;
        }
        Ok(out)
    }
}

/// One hit as a line of text: `COMPUTER/SESSION HH:MM:SS.mmm (cursor ID): LINE`
/// (time of day in UTC, like `events`).
pub fn hit_line(h: &Hit) -> String {
    format!(
        "{}/{} {} (cursor {}): {}",
        h.computer,
        h.session,
        crate::events::clock(h.ts_ms),
        h.cursor,
        h.line
    )
}

/// One hit as JSON: `session` (`computer/session`), `computer`, `name`,
/// `line`, `ts_ms`, `cursor`.
pub fn hit_json(h: &Hit) -> serde_json::Value {
    serde_json::json!({
        "session": format!("{}/{}", h.computer, h.session),
        "computer": h.computer,
        "name": h.session,
        "line": h.line,
        "ts_ms": h.ts_ms,
        "cursor": h.cursor,
    })
}

/// The whole outcome as JSON (`--json`, MCP's structured result).
pub fn outcome_json(o: &SearchOutcome) -> serde_json::Value {
    serde_json::json!({
        "hits": o.hits.iter().map(hit_json).collect::<Vec<_>>(),
        "truncated": o.truncated,
        "notes": o.notes,
        "scanned_records": o.scanned_records,
        "sessions": o.sessions,
        "elapsed_ms": o.elapsed_ms,
    })
}
