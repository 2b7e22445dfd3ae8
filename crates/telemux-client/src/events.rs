//! The mesh event bus as front ends read it: [`EventFeed`] follows the global
//! event stream from a cursor through an [`EventFilter`], and [`event_json`] /
//! [`event_line`] are the one way an event becomes JSON or a line of text
//! (`telemux events`, MCP `wait_for_event`).
//!
//! Filtering happens here, after the read: the stream is one per mesh and
//! small (events are rare next to output), so one blocking read per batch is
//! cheaper than any server-side scheme.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use telemux_bus::{Cursor, EventReader, EventRecord, StreamGap};
use telemux_proto::{now_ms, EventFilter};

use crate::mesh::{Mesh, MeshError};

/// Events read per round trip, at most.
const BATCH: usize = 200;

/// Where a feed starts, as users type it: `start`, `now`, a duration back
/// (`30s`, `10m`, `2h`, `1d`) or a cursor (a stream id printed earlier).
pub fn parse_since(s: &str) -> Result<Cursor, MeshError> {
    let s = s.trim();
    let bad = || {
        MeshError::BadInput(format!(
            "bad --since {s:?}: give `start`, `now`, a duration back such as 30s, 10m, 2h or 1d, or a cursor printed by `telemux events --json` (like 1733072711000-0)"
        ))
    };
    match s {
        "start" | "all" => return Ok(Cursor::Start),
        "now" | "end" => return Ok(Cursor::End),
        _ => {}
    }
    if let Some((ms, seq)) = s.split_once('-') {
        if !ms.is_empty()
            && ms.bytes().all(|b| b.is_ascii_digit())
            && !seq.is_empty()
            && seq.bytes().all(|b| b.is_ascii_digit())
        {
            return Ok(Cursor::After(s.to_string()));
        }
        return Err(bad());
    }
    let back = parse_duration(s).ok_or_else(bad)?;
    let from = now_ms().saturating_sub(back.as_millis() as u64);
    Ok(Cursor::After(format!("{from}-0")))
}

/// A duration as users type it: a number and one of `s`, `m`, `h`, `d`
/// (`30s`, `10m`, `2h`, `1d`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// The filter front ends build from what users type: event type names, a
/// computer, and a session as `computer/session` (narrowing both) or a bare
/// name (matching it on any computer).
pub fn event_filter<S: AsRef<str>>(
    types: &[S],
    computer: Option<&str>,
    session: Option<&str>,
) -> Result<EventFilter, MeshError> {
    let (computer, session) = match session.map(|s| s.split_once('/')) {
        Some(Some((c, s))) => (Some(c), Some(s)),
        Some(None) => (computer, session),
        None => (computer, None),
    };
    EventFilter::new(types, computer, session).map_err(|e| MeshError::BadInput(e.to_string()))
}

/// A follower of the mesh's events through a filter, on its own connection.
pub struct EventFeed {
    reader: EventReader,
    filter: EventFilter,
    /// The last read returned fewer entries than it asked for.
    caught_up: bool,
    /// Events trimmed before they were read, found by the last reads.
    gap: Option<StreamGap>,
}

impl Mesh {
    /// Follows mesh events from `from`, keeping those `filter` passes.
    pub async fn events(&self, from: Cursor, filter: EventFilter) -> Result<EventFeed, MeshError> {
        Ok(EventFeed {
            reader: EventReader::new(self.bus(), from).await?,
            filter,
            caught_up: false,
            gap: None,
        })
    }
}

impl EventFeed {
    /// The events of one read, waiting up to `block` for any (`None`: do not
    /// wait). Empty when the read found nothing matching; the cursor moves
    /// past what was read either way.
    pub async fn next(&mut self, block: Option<Duration>) -> Result<Vec<EventRecord>, MeshError> {
        let batch = self.reader.next_records(block, BATCH).await?;
        self.caught_up = batch.records.len() + batch.undecodable.len() < BATCH;
        if batch.gap.is_some() {
            self.gap = batch.gap;
        }
        for (id, e) in &batch.undecodable {
            tracing::debug!(%id, error = %e, "event skipped: it does not decode");
        }
        Ok(batch
            .records
            .into_iter()
            .filter(|r| self.filter.matches(&r.event))
            .collect())
    }

    /// Waits until at least one matching event arrives or `timeout` passes
    /// (then the result is empty). Used by MCP's long poll.
    pub async fn wait(&mut self, timeout: Duration) -> Result<Vec<EventRecord>, MeshError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // A zero block would mean "forever" to Redis; read without waiting instead.
            let block = (!left.is_zero()).then_some(left.max(Duration::from_millis(1)));
            let got = self.next(block).await?;
            if !got.is_empty() || Instant::now() >= deadline {
                return Ok(got);
            }
        }
    }

    /// Whether the last read reached the end of the stream (for a reader
    /// that prints what is retained and stops).
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }

    /// Events after the cursor that were trimmed before being read, once.
    pub fn take_gap(&mut self) -> Option<StreamGap> {
        self.gap.take()
    }

    /// The position after everything read so far, for `--since` / `since`.
    pub fn cursor(&self) -> String {
        self.reader.cursor()
    }
}

/// One event as a flat JSON object: `id` (its cursor), `time_ms`, `type`,
/// `from` (the publishing computer), then the event's own fields.
pub fn event_json(r: &EventRecord) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(r.id));
    out.insert("time_ms".into(), json!(r.ts_ms));
    out.insert("type".into(), json!(r.event.type_name()));
    out.insert("from".into(), json!(r.from));
    if let Ok(Value::Object(outer)) = serde_json::to_value(&r.event) {
        for (_, inner) in outer {
            if let Value::Object(fields) = inner {
                out.extend(fields);
            }
        }
    }
    Value::Object(out)
}

/// One event as a line: `HH:MM:SS.mmm  type  computer[/session]  details`.
pub fn event_line(r: &EventRecord) -> String {
    use telemux_proto::MeshEvent as E;
    let at = clock(r.ts_ms);
    let ty = r.event.type_name();
    let place = match r.event.session() {
        Some(s) => format!("{}/{s}", r.event.computer()),
        None => r.event.computer().to_string(),
    };
    let detail = match &r.event {
        E::SessionCreated { by, .. } if !by.is_empty() => format!("by {by}"),
        E::SessionKilled { by, .. } | E::SessionCleaned { by, .. } => format!("by {by}"),
        E::SessionRenamed {
            renamed_from, by, ..
        } => format!("from {renamed_from} by {by}"),
        E::ComputerOffline { reason, .. } if !reason.is_empty() => reason.clone(),
        E::SessionExited { exit_status, .. } => format!("exit {exit_status}"),
        E::CommandFinished { exit_code, .. } => format!("exit {exit_code}"),
        E::AgentState { state, .. } => state.to_string(),
        E::InputWritten {
            by, chars, keys, ..
        } => {
            let mut what = Vec::new();
            if *chars > 0 {
                what.push(format!("{chars} chars"));
            }
            if !keys.is_empty() {
                what.push(keys.join(" "));
            }
            format!("{} by {by}", what.join(" + "))
        }
        E::DeliveryQueued { message_id, by, .. } => format!("message {message_id} by {by}"),
        E::DeliveryDelivered {
            message_id,
            attempt,
            ..
        } => format!("message {message_id}, attempt {attempt}"),
        E::DeliveryRetrying {
            message_id,
            attempt,
            reason,
            ..
        } => format!("message {message_id}, attempt {attempt}: {reason}"),
        E::DeliveryExpired { message_id, .. } => format!("message {message_id}"),
        E::DeliveryDeadLettered {
            message_id, reason, ..
        } => format!("message {message_id}: {reason}"),
        E::MessageAnswered {
            message_id, answer, ..
        } => {
            let first: String = answer
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(60)
                .collect();
            format!("message {message_id}: {first}")
        }
        _ => String::new(),
    };
    format!("{at}  {ty:<16}  {place}  {detail}")
        .trim_end()
        .to_string()
}

/// `HH:MM:SS.mmm` (UTC) of a time in ms since the epoch.
pub(crate) fn clock(ms: u64) -> String {
    let day_ms = ms % 86_400_000;
    let (h, m, s, milli) = (
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000,
    );
    format!("{h:02}:{m:02}:{s:02}.{milli:03}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemux_proto::MeshEvent;

    #[test]
    fn since_takes_words_durations_and_cursors() {
        assert_eq!(parse_since("start").unwrap(), Cursor::Start);
        assert_eq!(parse_since("now").unwrap(), Cursor::End);
        assert_eq!(
            parse_since("1733072711000-3").unwrap(),
            Cursor::After("1733072711000-3".into())
        );
        let Cursor::After(id) = parse_since("10m").unwrap() else {
            panic!("a duration is a cursor")
        };
        let ms: u64 = id.trim_end_matches("-0").parse().unwrap();
        assert!(now_ms() - ms >= 600_000 && now_ms() - ms < 660_000);
        for bad in ["", "yesterday", "10x", "-5", "12-ab"] {
            let e = parse_since(bad).unwrap_err().to_string();
            assert!(e.contains("30s, 10m"), "{bad}: {e}");
        }
    }

    #[test]
    fn json_is_flat_and_lines_say_who() {
        let r = EventRecord {
            id: "5-0".into(),
            ts_ms: 3_723_004,
            from: "RasPi".into(),
            event: MeshEvent::InputWritten {
                computer: "RasPi".into(),
                session: "api".into(),
                by: "cli@mozbook".into(),
                chars: 4,
                keys: vec!["Enter".into()],
            },
        };
        let j = event_json(&r);
        assert_eq!(j["type"], "input_written");
        assert_eq!(j["session"], "api");
        assert_eq!(j["by"], "cli@mozbook");
        assert_eq!(j["id"], "5-0");
        let line = event_line(&r);
        assert_eq!(
            line,
            "01:02:03.004  input_written     RasPi/api  4 chars + Enter by cli@mozbook"
        );
    }
}
