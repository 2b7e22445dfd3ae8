//! `search`: a regular expression over the retained output streams of this
//! node's sessions (those tmux lists, exited ones included), read in pages
//! with `XRANGE`. Sessions are searched in name order, each oldest record
//! first; the work is bounded by the limits in [`telemux_proto::search`]
//! (records read, time spent, hits), and a reply stopped by one says which.

use std::sync::Arc;
use std::time::Instant;

use telemux_proto::search::{self, Found, Hit};
use telemux_proto::{ErrorCode, OutputEvent, ReplyBody, SessionName};

use crate::error::OpError;
use crate::state::Shared;

/// Records read per `XRANGE` page.
const PAGE: usize = 256;

/// `Op::Search`.
pub(crate) async fn search(
    shared: &Arc<Shared>,
    pattern: &str,
    session: Option<&str>,
    since_ms: u64,
    max_results: u32,
) -> Result<ReplyBody, OpError> {
    let started = Instant::now();
    let re =
        search::compile(pattern).map_err(|e| OpError::new(ErrorCode::BadInput, e.to_string()))?;
    let max = max_results.clamp(1, search::MAX_RESULTS) as usize;
    let mut names: Vec<SessionName> = shared
        .tmux
        .list()
        .await?
        .into_iter()
        .map(|p| p.session)
        .filter(|n| session.is_none_or(|s| n.as_str().eq_ignore_ascii_case(s)))
        .collect();
    names.sort_by_key(|n| n.as_str().to_ascii_lowercase());
    names.dedup();
    let mut scan = Scan {
        found: Found {
            sessions: names.len() as u32,
            ..Found::default()
        },
        started,
        max,
    };
    for name in &names {
        if scan.stopped() {
            break;
        }
        scan.session(shared, &re, name, since_ms).await?;
    }
    scan.found.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(ReplyBody::Found(scan.found))
}

/// One request's progress and bounds.
struct Scan {
    found: Found,
    started: Instant,
    max: usize,
}

impl Scan {
    /// Whether a bound was hit (then `found` says which).
    fn stopped(&self) -> bool {
        self.found.truncated
    }

    /// Marks the search stopped by a bound.
    fn stop(&mut self, note: String) {
        self.found.truncated = true;
        self.found.limit_note = Some(note);
    }

    /// Checks the record and time bounds before reading more.
    fn over_budget(&mut self) -> bool {
        if self.found.scanned_records >= search::MAX_SCANNED_RECORDS {
            self.stop(format!(
                "stopped after reading {} records; narrow with --session or --since",
                search::MAX_SCANNED_RECORDS
            ));
        } else if self.started.elapsed() >= search::TIME_BUDGET {
            self.stop(format!(
                "stopped after {} s; narrow with --session or --since",
                search::TIME_BUDGET.as_secs()
            ));
        }
        self.stopped()
    }

    /// Searches one session's stream from `since_ms` on.
    async fn session(
        &mut self,
        shared: &Shared,
        re: &regex::Regex,
        name: &SessionName,
        since_ms: u64,
    ) -> Result<(), OpError> {
        let computer = &shared.cfg.computer;
        let mut start = if since_ms == 0 {
            "0-0".to_string()
        } else {
            format!("{since_ms}-0")
        };
        // The id before the record being read: a hit's cursor.
        let mut prev: Option<String> = None;
        let mut first = true;
        loop {
            if self.over_budget() {
                return Ok(());
            }
            let page = shared.bus.output_from(computer, name, &start, PAGE).await?;
            let Some((last, _)) = page.last() else {
                return Ok(());
            };
            let last = last.clone();
            let full = page.len() == PAGE;
            for (id, rec) in page {
                self.found.scanned_records += 1;
                let Ok(rec) = rec else {
                    prev = Some(id);
                    continue;
                };
                if rec.ts_ms >= since_ms {
                    let mut cursor = None;
                    for line in lines_of(&rec.event) {
                        if !re.is_match(line) {
                            continue;
                        }
                        if cursor.is_none() {
                            cursor = Some(match (&prev, first && since_ms > 0) {
                                (Some(p), _) => p.clone(),
                                // The first record read after `since`: ask for its predecessor.
                                (None, true) => shared
                                    .bus
                                    .output_before(computer, name, &id)
                                    .await?
                                    .unwrap_or_else(|| "0-0".into()),
                                (None, false) => "0-0".into(),
                            });
                        }
                        self.found.hits.push(Hit {
                            computer: computer.to_string(),
                            session: name.to_string(),
                            line: search::clip_line(line),
                            ts_ms: rec.ts_ms,
                            cursor: cursor.clone().unwrap_or_default(),
                        });
                        if self.found.hits.len() >= self.max {
                            self.stop(format!(
                                "stopped at {} hits (the maximum asked for); narrow with --session or --since, or raise --max",
                                self.max
                            ));
                            return Ok(());
                        }
                    }
                }
                first = false;
                prev = Some(id);
            }
            if !full {
                return Ok(());
            }
            start = successor(&last);
        }
    }
}

/// The text lines a record shows: completed lines and the partial one, or a
/// full-screen frame's rows (trailing blanks of a row do not matter to a match).
fn lines_of(event: &OutputEvent) -> Vec<&str> {
    match event {
        OutputEvent::Lines { lines, partial, .. } => lines
            .iter()
            .map(String::as_str)
            .chain((!partial.is_empty()).then_some(partial.as_str()))
            .collect(),
        OutputEvent::Frame { rows, .. } => rows
            .iter()
            .map(|r| r.trim_end())
            .filter(|r| !r.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The smallest stream id after `id`, where the next page starts.
fn successor(id: &str) -> String {
    match id
        .split_once('-')
        .map(|(a, b)| (a.parse::<u64>(), b.parse::<u64>()))
    {
        Some((Ok(ms), Ok(u64::MAX))) => format!("{}-0", ms.saturating_add(1)),
        Some((Ok(ms), Ok(seq))) => format!("{ms}-{}", seq + 1),
        _ => "+".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(started: Instant) -> Scan {
        Scan {
            found: Found::default(),
            started,
            max: 10,
        }
    }

    #[test]
    fn the_record_and_time_bounds_stop_a_search_saying_which() {
        let mut s = scan(Instant::now());
        assert!(!s.over_budget());
        s.found.scanned_records = search::MAX_SCANNED_RECORDS;
        assert!(s.over_budget());
        assert!(s.found.truncated);
        let note = s.found.limit_note.unwrap();
        assert!(note.contains("after reading 100000 records"), "{note}");

        let Some(long_ago) = Instant::now().checked_sub(search::TIME_BUDGET) else {
            return;
        };
        let mut s = scan(long_ago);
        assert!(s.over_budget());
        let note = s.found.limit_note.unwrap();
        assert!(
            note.contains("stopped after 2 s; narrow with --session or --since"),
            "{note}"
        );
    }

    #[test]
    fn pages_continue_after_the_last_id() {
        assert_eq!(successor("5-7"), "5-8");
        assert_eq!(successor(&format!("5-{}", u64::MAX)), "6-0");
    }

    #[test]
    fn lines_include_the_partial_and_frame_rows() {
        let ev = OutputEvent::Lines {
            lines: vec!["a".into()],
            partial: "$ ".into(),
            raw: vec![],
        };
        assert_eq!(lines_of(&ev), vec!["a", "$ "]);
        let ev = OutputEvent::Frame {
            rows: vec!["x   ".into(), "   ".into()],
            raw: vec![],
        };
        assert_eq!(lines_of(&ev), vec!["x"]);
    }
}
