//! `telemux grep PATTERN`: the retained output of sessions searched on their
//! nodes ([`telemux_client::Mesh::search`]), hits printed one a line (or as
//! one JSON document), notes about bounds on stderr.

use telemux_client::{hit_line, outcome_json, parse_duration, Mesh, MeshError, SearchQuery};

use crate::out::outln;

/// `grep` as typed.
pub struct GrepArgs {
    /// The regex.
    pub pattern: String,
    /// `--computer`.
    pub computer: Option<String>,
    /// `--session`.
    pub session: Option<String>,
    /// `--since`.
    pub since: Option<String>,
    /// `--max`.
    pub max: Option<u32>,
}

/// Runs the search; exit code 0 with hits, 1 without.
pub async fn grep(mesh: &Mesh, a: GrepArgs, json: bool) -> Result<i32, MeshError> {
    let since = a
        .since
        .as_deref()
        .map(|s| {
            parse_duration(s).filter(|d| !d.is_zero()).ok_or_else(|| {
                MeshError::BadInput(format!(
                    "bad --since {s:?}: give a number and a unit, such as 30s, 10m, 2h or 1d"
                ))
            })
        })
        .transpose()?;
    let q = SearchQuery {
        pattern: a.pattern,
        computer: a.computer,
        session: a.session,
        since,
        max_results: a.max,
    };
    let found = mesh.search(&q).await?;
    if json {
        outln!("{}", outcome_json(&found));
    } else {
        for h in &found.hits {
            outln!("{}", hit_line(h));
        }
        for note in &found.notes {
            eprintln!("telemux: {note}");
        }
    }
    Ok(if found.hits.is_empty() { 1 } else { 0 })
}
