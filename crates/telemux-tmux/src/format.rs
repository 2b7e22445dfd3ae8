//! Parsing what tmux prints: pane listings (`-F` formats) and the exit records
//! that shell hooks store in pane options.
//!
//! Listings use ASCII record (`\x1e`) and unit (`\x1f`) separators, which tmux
//! 3.3a prints unescaped and which cannot appear in validated session names. The
//! free-text fields (current command and path) come last, and a record only
//! starts at `\x1e`, so a path containing a newline or separator still parses.

use telemux_proto::SessionName;

use crate::TmuxError;

/// Starts every record of [`PANE_FORMAT`] output.
const RS: char = '\x1e';
/// Separates fields inside a record.
const US: char = '\x1f';

/// Fixed fields before the two free-text fields in [`PANE_FORMAT`].
const FIXED_FIELDS: usize = 19;

/// The `-F` format for [`parse_panes`]; free text last so it may contain anything.
pub const PANE_FORMAT: &str = "\x1e#{session_name}\x1f#{session_created}\x1f#{window_activity}\x1f#{pane_id}\x1f#{pane_pid}\x1f#{pane_dead}\x1f#{pane_dead_status}\x1f#{pane_dead_signal}\x1f#{alternate_on}\x1f#{pane_width}\x1f#{pane_height}\x1f#{@telemux_last}\x1f#{window_active}\x1f#{pane_active}\x1f#{@telemux_status}\x1f#{@telemux_reported}\x1f#{@telemux_agent}\x1f#{@telemux_agent_state}\x1f#{@telemux_agent_signal}\x1f#{pane_current_command}\x1f#{pane_current_path}";

/// What the node needs to know about one session's pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneInfo {
    /// The session this pane belongs to.
    pub session: SessionName,
    /// When the session was created (ms since the epoch; tmux keeps seconds).
    pub created_ms: u64,
    /// Last output in the session's window (ms since the epoch; tmux keeps
    /// seconds). `window_activity`, not `session_activity`: tmux moves the
    /// latter only for client key presses and attaches, never for output.
    pub activity_ms: u64,
    /// tmux pane id such as `%3` (matches control-mode `%output %3`).
    pub pane_id: String,
    /// Pid of the pane's first process, if tmux knows it.
    pub pid: Option<u32>,
    /// The pane's process has exited (the pane is kept by `remain-on-exit`).
    pub dead: bool,
    /// Exit code once the pane is dead and exited normally.
    pub dead_status: Option<i32>,
    /// Signal number once the pane is dead and was killed by a signal.
    pub dead_signal: Option<i32>,
    /// A full-screen program switched to the alternate screen (vim, htop, Claude Code).
    pub alternate_on: bool,
    /// Pane width in cells.
    pub width: u16,
    /// Pane height in cells.
    pub height: u16,
    /// Number of the last exit record the shell hook wrote (`@telemux_last`).
    pub last_exit: Option<u64>,
    /// This is the active pane of the session's active window.
    pub active: bool,
    /// Exit status stored by the session wrapper (`@telemux_status`), see [`crate::wrapper`].
    pub wrapper_status: Option<i32>,
    /// The node already published the wrapper's status (`@telemux_reported`).
    pub wrapper_reported: bool,
    /// Agent profile the session was started with (`@telemux_agent`; empty: none).
    pub agent: String,
    /// Last published agent state, `"STATE SINCE_MS"` (`@telemux_agent_state`).
    pub agent_state: String,
    /// Last signal from the agent's own hooks, `"STATE MS"` (`@telemux_agent_signal`).
    pub agent_signal: String,
    /// Command currently in the foreground (e.g. `bash`, `vim`).
    pub command: String,
    /// Current working directory of the pane.
    pub cwd: String,
}

impl PaneInfo {
    /// The session's exit status in shell convention: the code, or 128+signal.
    ///
    /// `None` while the pane is alive, and also briefly after death until tmux
    /// has reaped the process (the pty can close before the status is known).
    pub fn exit_status(&self) -> Option<i32> {
        if !self.dead {
            return None;
        }
        self.dead_status
            .or_else(|| self.dead_signal.map(|s| 128 + s))
    }
}

/// One shell-reported command completion, read from pane options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitRecord {
    /// Increasing record number within the pane (the option's suffix).
    pub n: u64,
    /// The command's exit code (`$?`).
    pub exit_code: i32,
    /// When the command started (ms since the epoch; see [`crate::shell`] for sh).
    pub started_ms: u64,
    /// When the prompt came back (ms since the epoch).
    pub finished_ms: u64,
}

/// Parses `list-panes -F PANE_FORMAT` output into one entry per pane, in order.
///
/// Panes of sessions whose names break the telemux name rule (made by hand
/// with plain tmux) are skipped: they cannot be addressed anyway.
pub fn parse_panes(out: &str) -> Result<Vec<PaneInfo>, TmuxError> {
    let mut panes = Vec::new();
    // Text before the first separator is not a record (tmux never prints any).
    for rec in out.split(RS).skip(1) {
        let rec = rec.strip_suffix('\n').unwrap_or(rec);
        let fields: Vec<&str> = rec.splitn(FIXED_FIELDS + 1, US).collect();
        if fields.len() != FIXED_FIELDS + 1 {
            return Err(TmuxError::Parse(format!("pane record {rec:?}")));
        }
        let Ok(session) = SessionName::new(fields[0]) else {
            tracing::debug!(
                session = fields[0],
                "skipping session with a non-telemux name"
            );
            continue;
        };
        let (command, cwd) = fields[FIXED_FIELDS]
            .split_once(US)
            .unwrap_or((fields[FIXED_FIELDS], ""));
        let num = |i: usize| -> Result<u64, TmuxError> {
            fields[i]
                .parse::<u64>()
                .map_err(|_| TmuxError::Parse(format!("field {i} of pane record {rec:?}")))
        };
        panes.push(PaneInfo {
            session,
            created_ms: num(1)? * 1000,
            activity_ms: num(2)? * 1000,
            pane_id: fields[3].to_string(),
            pid: fields[4].parse().ok(),
            dead: fields[5] == "1",
            dead_status: fields[6].parse().ok(),
            dead_signal: fields[7].parse().ok(),
            alternate_on: fields[8] == "1",
            width: fields[9].parse().unwrap_or(0),
            height: fields[10].parse().unwrap_or(0),
            last_exit: fields[11].parse().ok(),
            active: fields[12] == "1" && fields[13] == "1",
            wrapper_status: fields[14].parse().ok(),
            wrapper_reported: fields[15] == "1",
            agent: fields[16].to_string(),
            agent_state: fields[17].to_string(),
            agent_signal: fields[18].to_string(),
            command: command.to_string(),
            cwd: cwd.to_string(),
        });
    }
    Ok(panes)
}

/// Keeps one pane per session: the active pane of the active window, else the first.
pub fn first_per_session(panes: Vec<PaneInfo>) -> Vec<PaneInfo> {
    let mut out: Vec<PaneInfo> = Vec::new();
    for p in panes {
        match out.iter_mut().find(|q| q.session == p.session) {
            Some(q) if p.active => *q = p,
            Some(_) => {}
            None => out.push(p),
        }
    }
    out
}

/// Parses `show-options -p` output into exit records with `n > after`, sorted by n.
///
/// Lines look like `@telemux_exit_3 "0 1700000000000 1700000000100"`; other
/// options are ignored, and a malformed value is skipped with a warning rather
/// than failing the whole read.
pub fn parse_exit_records(out: &str, after: u64) -> Vec<ExitRecord> {
    let mut recs: Vec<ExitRecord> = out
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("@telemux_exit_")?;
            let (n, value) = rest.split_once(' ')?;
            let n: u64 = n.parse().ok()?;
            if n <= after {
                return None;
            }
            let rec = parse_exit_value(n, value);
            if rec.is_none() {
                tracing::warn!(line, "ignoring malformed exit record");
            }
            rec
        })
        .collect();
    recs.sort_by_key(|r| r.n);
    recs
}

/// Parses `"code start end"` (quotes optional; a missing start means unknown).
fn parse_exit_value(n: u64, value: &str) -> Option<ExitRecord> {
    let v = value.trim().trim_matches('"');
    let parts: Vec<&str> = v.split_whitespace().collect();
    let (code, start, end) = match parts.as_slice() {
        [c, s, e] => (c, Some(s), e),
        [c, e] => (c, None, e),
        _ => return None,
    };
    let finished_ms: u64 = end.parse().ok()?;
    Some(ExitRecord {
        n,
        exit_code: code.parse().ok()?,
        started_ms: start.and_then(|s| s.parse().ok()).unwrap_or(finished_ms),
        finished_ms,
    })
}

/// Numbers of all exit-record options present in `show-options -p` output.
pub fn exit_record_numbers(out: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| {
            l.strip_prefix("@telemux_exit_")?
                .split_once(' ')?
                .0
                .parse()
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(fields: &[&str]) -> String {
        format!("{RS}{}\n", fields.join(&US.to_string()))
    }

    #[test]
    fn panes_parse_with_hostile_paths() {
        let a = rec(&[
            "api",
            "1700000000",
            "1700000001",
            "%1",
            "42",
            "0",
            "",
            "",
            "0",
            "80",
            "24",
            "3",
            "1",
            "1",
            "",
            "",
            "claude",
            "idle 1700000002000",
            "",
            "bash",
            "/tmp/we\x1fird\npath",
        ]);
        let b = rec(&[
            "bad name", "1", "1", "%2", "", "1", "", "", "0", "80", "24", "", "1", "1", "", "", "",
            "", "", "sh", "/",
        ]);
        let c = rec(&[
            "job", "1", "2", "%3", "7", "1", "", "15", "1", "100", "30", "", "1", "1", "143", "1",
            "", "", "", "", "/",
        ]);
        let panes = first_per_session(parse_panes(&format!("{a}{b}{c}")).unwrap());
        assert_eq!(panes.len(), 2);
        assert_eq!(panes[0].cwd, "/tmp/we\x1fird\npath");
        assert_eq!(panes[0].created_ms, 1_700_000_000_000);
        assert_eq!(panes[0].last_exit, Some(3));
        assert_eq!(panes[0].exit_status(), None);
        assert_eq!(panes[1].exit_status(), Some(143));
        assert!(panes[1].alternate_on);
        assert_eq!(panes[1].wrapper_status, Some(143));
        assert!(panes[1].wrapper_reported);
        assert_eq!(panes[0].wrapper_status, None);
        assert_eq!(panes[0].agent, "claude");
        assert_eq!(panes[0].agent_state, "idle 1700000002000");
        assert_eq!(panes[1].agent, "");
    }

    #[test]
    fn active_pane_wins() {
        let a = rec(&[
            "s", "1", "1", "%1", "1", "0", "", "", "0", "80", "24", "", "1", "0", "", "", "", "",
            "", "a", "/",
        ]);
        let b = rec(&[
            "s", "1", "1", "%2", "2", "0", "", "", "0", "80", "24", "", "1", "1", "", "", "", "",
            "", "b", "/",
        ]);
        let panes = first_per_session(parse_panes(&format!("{a}{b}")).unwrap());
        assert_eq!(panes.len(), 1);
        assert_eq!(panes[0].pane_id, "%2");
        let panes = first_per_session(parse_panes(&a).unwrap());
        assert_eq!(panes[0].pane_id, "%1");
    }

    #[test]
    fn exit_records_parse_and_sort() {
        let out = "@other \"x\"\n@telemux_exit_10 \"5 100 200\"\n@telemux_exit_2 \"0 1 2\"\n@telemux_exit_3 \"7  300\"\n@telemux_exit_4 \"junk\"\n@telemux_last 10\n";
        let r = parse_exit_records(out, 2);
        assert_eq!(
            r,
            vec![
                ExitRecord {
                    n: 3,
                    exit_code: 7,
                    started_ms: 300,
                    finished_ms: 300
                },
                ExitRecord {
                    n: 10,
                    exit_code: 5,
                    started_ms: 100,
                    finished_ms: 200
                },
            ]
        );
        let mut ns = exit_record_numbers(out);
        ns.sort();
        assert_eq!(ns, vec![2, 3, 4, 10]);
    }
}
