//! `telemux events`: the mesh event bus on stdout, one event per line (or
//! one JSON object per line), through the client's one event renderer.

use std::time::Duration;

use telemux_bus::{BusError, Cursor};
use telemux_client::{event_filter, event_json, event_line, parse_since, Mesh, MeshError};

use crate::out::outln;

/// What `telemux events` was asked for.
pub struct EventsArgs {
    /// Keep following.
    pub follow: bool,
    /// `--since`, as typed.
    pub since: Option<String>,
    /// `--computer`.
    pub computer: Option<String>,
    /// `--session`: `computer/session` or a bare name.
    pub session: Option<String>,
    /// `--type`, split at commas.
    pub types: Vec<String>,
}

/// Prints events until caught up (or, following, until interrupted).
pub async fn events(mesh: &Mesh, a: EventsArgs, json: bool) -> Result<i32, MeshError> {
    let filter = event_filter(&a.types, a.computer.as_deref(), a.session.as_deref())?;
    let from = match a.since.as_deref() {
        Some(s) => parse_since(s)?,
        None if a.follow => Cursor::End,
        None => Cursor::Start,
    };
    let mut feed = mesh.events(from, filter).await?;
    let mut waiting = false;
    loop {
        let block = a.follow.then_some(Duration::from_secs(1));
        let got = match feed.next(block).await {
            Ok(g) => g,
            // A follower outlives a Redis restart: the cursor resumes where it was.
            Err(MeshError::Bus(e @ BusError::Redis { .. })) if a.follow => {
                if !waiting {
                    eprintln!("telemux: {e}; still following");
                    waiting = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        waiting = false;
        if let Some(gap) = feed.take_gap() {
            eprintln!(
                "telemux: some events were trimmed from the stream before they were read ({gap})"
            );
        }
        for r in &got {
            if json {
                outln!("{}", event_json(r));
            } else {
                outln!("{}", event_line(r));
            }
        }
        if !a.follow && feed.caught_up() {
            return Ok(0);
        }
    }
}
