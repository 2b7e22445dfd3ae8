//! Paging through a session's output stream for `read_output since=...`.
//!
//! A cursor is the id of the last stream record returned (`1718000000000-0`),
//! so the next read starts right after it. One record can hold hundreds of
//! lines (a burst of output), more than a page, so a cursor may also point
//! into the record after `ID`: `ID:N` means "the first N lines of the record
//! after ID were returned already". Pages are thereby exact: every line is
//! returned once, in order, however the node grouped them into records.

use telemux_bus::{Cursor, OutputReader};
use telemux_proto::{ComputerName, OutputEvent, OutputRecord, SessionName};

use super::output::bound;
use telemux_client::view::Transcript;
use telemux_client::{Mesh, MeshError};

/// Records fetched per read while paging.
const BATCH: usize = 128;

/// A parsed `since` cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Since {
    /// Stream id of the last record fully returned (`0-0`: none).
    pub after: String,
    /// Lines of the following record already returned.
    pub skip: usize,
}

impl Since {
    /// Parses `ID` or `ID:N`, where ID is a stream id like `1718000000000-0`.
    pub fn parse(since: &str) -> Result<Since, MeshError> {
        let bad = || {
            MeshError::BadInput(format!(
                "'{since}' is not a cursor; pass the `cursor` value an earlier call returned (like 1718000000000-0)"
            ))
        };
        let t = since.trim();
        let (id, skip) = match t.split_once(':') {
            Some((id, n)) => (id, n.parse::<usize>().map_err(|_| bad())?),
            None => (t, 0),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let ok = match id.split_once('-') {
            Some((ms, seq)) => digits(ms) && digits(seq),
            None => digits(id),
        };
        if !ok {
            return Err(bad());
        }
        Ok(Since {
            after: id.to_string(),
            skip,
        })
    }

    /// The cursor text for this position.
    pub fn render(&self) -> String {
        if self.skip == 0 {
            self.after.clone()
        } else {
            format!("{}:{}", self.after, self.skip)
        }
    }
}

/// Lines a record adds to a page.
fn record_lines(rec: &OutputRecord) -> usize {
    match &rec.event {
        OutputEvent::Lines { lines, .. } => lines.len(),
        OutputEvent::Frame { rows, .. } => rows.len() + 1,
        OutputEvent::Raw { .. } => 0,
        _ => 1,
    }
}

/// Drops the first `n` lines of a lines record (they were returned before).
fn skip_lines(rec: &mut OutputRecord, n: usize) {
    if n == 0 {
        return;
    }
    if let OutputEvent::Lines { lines, raw, .. } = &mut rec.event {
        lines.drain(..n.min(lines.len()));
        raw.clear();
    }
}

/// The first `n` lines of a lines record, without its unfinished line.
fn head_of(rec: &OutputRecord, n: usize) -> OutputRecord {
    let mut out = rec.clone();
    if let OutputEvent::Lines {
        lines,
        partial,
        raw,
    } = &mut out.event
    {
        lines.truncate(n);
        partial.clear();
        raw.clear();
    }
    out
}

/// One page of output.
#[derive(Debug, Clone)]
pub struct Page {
    /// The rendered page.
    pub rendered: Transcript,
    /// The page text, cut only if a single unsplittable record exceeded the page.
    pub text: String,
    /// Lines cut from `text`.
    pub omitted: usize,
    /// Where the next page starts.
    pub cursor: String,
    /// Whether more output is waiting after `cursor`.
    pub more: bool,
}

/// Reads up to `page` lines of `c/s` after `since`, oldest first.
pub async fn read_page(
    mesh: &Mesh,
    c: &ComputerName,
    s: &SessionName,
    since: &Since,
    page: usize,
    raw: bool,
) -> Result<Page, MeshError> {
    let page = page.max(1);
    let mut reader =
        OutputReader::new(mesh.bus(), c, s, Cursor::After(since.after.clone())).await?;
    let mut seen = Transcript::default();
    let mut pos = since.clone();
    let mut more = false;
    'pages: loop {
        let batch = reader.next_batch(None, BATCH).await?;
        if let Some(gap) = &batch.gap {
            seen.note(&format!("output trimmed before it was read: {gap}"));
            // The record the line offset referred to is gone.
            pos.skip = 0;
        }
        if batch.entries.is_empty() {
            break;
        }
        for (id, rec) in batch.entries {
            let Ok(mut rec) = rec else {
                pos = Since { after: id, skip: 0 };
                continue;
            };
            skip_lines(&mut rec, pos.skip);
            let n = record_lines(&rec);
            let room = page.saturating_sub(seen.lines);
            let splittable = !raw && matches!(rec.event, OutputEvent::Lines { .. });
            if n > room {
                if splittable && room > 0 {
                    seen.push(&head_of(&rec, room), raw);
                    pos.skip += room;
                    more = true;
                    break 'pages;
                }
                if seen.lines > 0 {
                    more = true;
                    break 'pages;
                }
            }
            seen.push(&rec, raw);
            pos = Since { after: id, skip: 0 };
        }
    }
    if more {
        // A later page repeats the unfinished line once it is complete.
        seen.partial.clear();
    }
    let b = bound(&seen.full_text(), page / 3, page - page / 3);
    Ok(Page {
        text: b.text,
        omitted: b.omitted,
        rendered: seen,
        cursor: pos.render(),
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_cursors() {
        let s = Since::parse("1718000000000-3").unwrap();
        assert_eq!(
            s,
            Since {
                after: "1718000000000-3".into(),
                skip: 0
            }
        );
        assert_eq!(s.render(), "1718000000000-3");
        let s = Since::parse(" 5-0:40 ").unwrap();
        assert_eq!(s.skip, 40);
        assert_eq!(s.render(), "5-0:40");
        assert_eq!(Since::parse("0-0").unwrap().after, "0-0");
        assert_eq!(Since::parse("17").unwrap().after, "17");
        for bad in ["abc", "1-", "", "5-0:x", "-1", "1-2-3"] {
            assert!(Since::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn splits_lines_records() {
        let rec = OutputRecord {
            seq: 1,
            ts_ms: 0,
            event: OutputEvent::Lines {
                lines: vec!["a".into(), "b".into(), "c".into()],
                partial: "$ ".into(),
                raw: b"a\r\nb\r\nc\r\n$ ".to_vec(),
            },
        };
        let h = head_of(&rec, 2);
        assert_eq!(record_lines(&h), 2);
        let mut rest = rec.clone();
        skip_lines(&mut rest, 2);
        match rest.event {
            OutputEvent::Lines { lines, partial, .. } => {
                assert_eq!(lines, ["c"]);
                assert_eq!(partial, "$ ");
            }
            other => panic!("{other:?}"),
        }
    }
}
