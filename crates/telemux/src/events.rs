//! `telemux events`: the mesh event bus on stdout, one event per line (or
//! one JSON object per line), through the client's one event renderer.

use std::time::Duration;

use telemux_bus::{BusError, Cursor};
use telemux_client::{event_json, event_line, parse_since, Mesh, MeshError};
use telemux_proto::EventFilter;

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
    let filter_err = |e: telemux_proto::UnknownEventType| MeshError::BadInput(e.to_string());
    // `computer/session` narrows both; a bare name matches it on any computer.
    let (computer, session) = match a.session.as_deref().map(|s| s.split_once('/')) {
        Some(Some((c, s))) => (Some(c.to_string()), Some(s.to_string())),
        Some(None) => (a.computer.clone(), a.session.clone()),
        None => (a.computer.clone(), None),
    };
    let filter =
        EventFilter::new(&a.types, computer.as_deref(), session.as_deref()).map_err(filter_err)?;
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
