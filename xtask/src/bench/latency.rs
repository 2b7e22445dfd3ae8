//! Section 1: output latency. A session prints `TMXLAT <i> <epoch>` lines at
//! irregular 50–90 ms intervals; a subscriber in this process (not the node's)
//! reads the output stream from Redis and subtracts the embedded timestamp.
//! In the same run, a poller does what today's Python tools do — `tmux
//! capture-pane` once per second — and is scored on the same lines.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Result;
use telemux_bus::{Cursor, OutputReader};
use telemux_proto::OutputEvent;
use tokio::time::Instant;

use super::fixture::{epoch_s, names, parse_tick, ticker, Fixture};
use super::report::{ms, Report, Verdict};
use super::stats::summarize;
use super::Config;

const S: &str = "1 latency";

/// Runs section 1.
pub async fn run(cfg: &Config, report: &mut Report) -> Result<()> {
    let f = Fixture::start(&["Lat".to_string()]).await?;
    let n = cfg.latency_lines;
    let created = f
        .new_session("Lat", "lat", Some(ticker(n, "0.0$((RANDOM % 5 + 5))")))
        .await?;
    let (c, s) = names("Lat", "lat")?;
    let mut reader = OutputReader::new(f.mesh.bus(), &c, &s, Cursor::After(created.cursor)).await?;
    let deadline = Instant::now() + Duration::from_secs_f64(n as f64 * 0.1 + 20.0);

    let subscriber = async {
        let mut got: HashMap<u32, f64> = HashMap::new();
        while got.len() < n as usize && Instant::now() < deadline {
            let batch = reader
                .next_batch(Some(Duration::from_millis(500)), 100)
                .await?;
            let now = epoch_s();
            for (_, rec) in batch.entries {
                if let Ok(r) = rec {
                    if let OutputEvent::Lines { lines, .. } = r.event {
                        for l in lines {
                            if let Some((i, ts)) = parse_tick(&l) {
                                got.entry(i).or_insert((now - ts) * 1000.0);
                            }
                        }
                    }
                }
            }
        }
        anyhow::Ok(got)
    };
    let poller = async {
        let mut got: HashMap<u32, f64> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        while got.len() < n as usize && Instant::now() < deadline {
            tick.tick().await;
            let out = f
                .tmux_cmd("Lat")?
                .args(["capture-pane", "-p", "-J", "-S", "-200", "-t", "=lat:"])
                .output()
                .await?;
            let now = epoch_s();
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some((i, ts)) = parse_tick(l) {
                    got.entry(i).or_insert((now - ts) * 1000.0);
                }
            }
        }
        anyhow::Ok(got)
    };
    let (sub, poll) = tokio::join!(subscriber, poller);
    let (sub, poll) = (sub?, poll?);
    let lat: Vec<f64> = sub.values().copied().collect();
    let base: Vec<f64> = poll.values().copied().collect();
    let (ls, bs) = (summarize(&lat), summarize(&base));
    report.summary(
        S,
        "print → subscriber via Redis stream",
        ls,
        ms,
        "p50 ≤ 20 ms, p99 ≤ 60 ms",
        |s| Verdict::of(s.median <= 20.0 && s.p99 <= 60.0),
    );
    report.summary(S, "baseline: `capture-pane` polled 1/s", bs, ms, "", |_| {
        Verdict::Info
    });
    if let (Some(l), Some(b)) = (ls, bs) {
        report.row(
            S,
            "ratio baseline / telemux",
            format!("{:.0}×", b.median / l.median.max(0.01)),
            format!("{:.0}×", b.p99 / l.p99.max(0.01)),
            "".into(),
            "",
            Verdict::Info,
        );
    }
    report.note(
        S,
        format!(
            "{n} lines printed 50–90 ms apart by bash `printf` with `$EPOCHREALTIME`; \
             subscriber = `telemux_bus::OutputReader` (blocking XREAD wake-up + XRANGE) in the \
             xtask process; {} of {n} lines seen by the subscriber, {} by the poller",
            sub.len(),
            poll.len()
        ),
    );
    if sub.len() < n as usize {
        report.note(
            S,
            format!(
                "{} lines never reached the subscriber",
                n as usize - sub.len()
            ),
        );
    }
    Ok(())
}
