//! Section 6: throughput. A session prints N numbered 74-byte lines (8 digits,
//! a space, 64 letters, newline) as fast as
//! awk can; a subscriber counts the lines that arrive, checks every number
//! 1..N arrived exactly once, and reports gap records. The same output is also
//! timed in a plain tmux session without telemux, to show what tmux alone does.

use std::time::Duration;

use anyhow::{bail, Result};
use telemux_bus::{Cursor, OutputReader};
use telemux_proto::OutputEvent;
use tokio::time::Instant;

use super::fixture::{names, tmux_cmd, Fixture};
use super::report::{Report, Verdict};
use super::stats::summarize;
use super::Config;

const S: &str = "6 throughput";
const LINE: usize = 74;

fn awk(n: u32) -> String {
    format!(
        "awk 'BEGIN{{for(i=1;i<={n};i++) printf \"%08d %s\\n\", i, \"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_\"}}'"
    )
}

fn mbs(v: f64) -> String {
    format!("{v:.2} MB/s")
}

/// Runs section 6.
pub async fn run(cfg: &Config, report: &mut Report) -> Result<()> {
    let f = Fixture::start(&["Tp".to_string()]).await?;
    let n = cfg.tp_lines;
    let bytes_sent = n as f64 * LINE as f64;
    let (mut rates, mut e2e, mut tmux_alone) = (Vec::new(), Vec::new(), Vec::new());
    let (mut lost, mut dup, mut gaps, mut jumps, mut trims) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for r in 0..cfg.tp_runs {
        // tmux alone: same output into a plain session, until the command ends.
        let plain = telemux_tests::TmuxServer::new();
        let t = Instant::now();
        let st = tmux_cmd(plain.name())
            .args(["new-session", "-d", "-s", "tp", "-x", "80", "-y", "24"])
            .arg(format!(
                "{}; tmux -L {} wait-for -S tpdone",
                awk(n),
                plain.name()
            ))
            .status()
            .await?;
        if !st.success() {
            bail!("plain tmux session failed to start");
        }
        tmux_cmd(plain.name())
            .args(["wait-for", "tpdone"])
            .status()
            .await?;
        tmux_alone.push(bytes_sent / 1e6 / t.elapsed().as_secs_f64());
        drop(plain);

        let name = format!("tp{r}");
        let t0 = Instant::now();
        let created = f.new_session("Tp", &name, Some(vec![awk(n)])).await?;
        let (c, s) = names("Tp", &name)?;
        let mut reader =
            OutputReader::new(f.mesh.bus(), &c, &s, Cursor::After(created.cursor)).await?;
        let mut seen = vec![false; n as usize + 1];
        let (mut first, mut last) = (None, None);
        let mut bytes = 0f64;
        let mut last_seq = None;
        let deadline = t0 + Duration::from_secs(120);
        let mut exited = false;
        while !exited && Instant::now() < deadline {
            let batch = reader
                .next_batch(Some(Duration::from_millis(500)), 256)
                .await?;
            trims += u64::from(batch.gap.is_some());
            let now = Instant::now();
            for rec in batch.entries.into_iter().filter_map(|(_, r)| r.ok()) {
                if let Some(l) = last_seq {
                    jumps += u64::from(rec.seq != l + 1);
                }
                last_seq = Some(rec.seq);
                match rec.event {
                    OutputEvent::Lines { lines, .. } => {
                        for l in lines {
                            let Some(i) = l.get(..8).and_then(|d| d.parse::<usize>().ok()) else {
                                continue;
                            };
                            if i == 0 || i > n as usize || l.len() + 1 != LINE {
                                continue;
                            }
                            first.get_or_insert(now);
                            last = Some(now);
                            bytes += LINE as f64;
                            if std::mem::replace(&mut seen[i], true) {
                                dup += 1;
                            }
                        }
                    }
                    OutputEvent::Gap { .. } => gaps += 1,
                    OutputEvent::SessionExited { .. } => exited = true,
                    _ => {}
                }
            }
        }
        lost += seen[1..].iter().filter(|s| !**s).count() as u64;
        if let (Some(a), Some(b)) = (first, last) {
            rates.push(bytes / 1e6 / (b - a).as_secs_f64().max(1e-3));
            e2e.push(bytes / 1e6 / (b - t0).as_secs_f64().max(1e-3));
        }
    }
    let no_loss = lost == 0 && dup == 0 && gaps == 0 && jumps == 0 && trims == 0;
    // For throughput the bad tail is the slowest run: shown in the p99 column as min.
    let low = |v: &[f64]| summarize(v).map(|s| s.min);
    let cell = |v: &[f64]| summarize(v).map(|s| mbs(s.median)).unwrap_or("–".into());
    let tail = |v: &[f64]| {
        low(v)
            .map(|m| format!("min {}", mbs(m)))
            .unwrap_or("–".into())
    };
    report.row(
        S,
        "sustained, first → last line at the subscriber",
        cell(&rates),
        tail(&rates),
        rates.len().to_string(),
        "without loss",
        Verdict::of(no_loss),
    );
    report.row(
        S,
        "end to end, `new` → last line",
        cell(&e2e),
        tail(&e2e),
        e2e.len().to_string(),
        "",
        Verdict::Info,
    );
    report.row(
        S,
        "tmux alone (same output, no telemux)",
        cell(&tmux_alone),
        tail(&tmux_alone),
        tmux_alone.len().to_string(),
        "",
        Verdict::Info,
    );
    report.note(
        S,
        format!(
            "{} runs of {n} lines × {LINE} B = {:.1} MB each (rendered text counted); lost lines \
             {lost}, duplicated {dup}, gap records {gaps}, sequence jumps {jumps}, trimmed-stream \
             gaps {trims} — {}",
            cfg.tp_runs,
            bytes_sent / 1e6,
            if no_loss {
                "nothing dropped"
            } else {
                "OUTPUT WAS DROPPED"
            }
        ),
    );
    Ok(())
}
