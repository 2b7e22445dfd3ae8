//! Section 4: flood isolation. Session `tick` prints a timestamped line every
//! 100 ms; session `flood` runs `yes` for the flood window. Measured: the tick
//! lines' latency during the flood (and before it, for comparison), the node's
//! RSS growth and CPU, the tmux server's CPU, and Redis memory — while a reader
//! in this process follows the flood stream the way `tail --follow` would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use telemux_bus::{Cursor, OutputReader};
use telemux_proto::OutputEvent;
use tokio::time::Instant;

use super::fixture::{epoch_s, names, parse_tick, ticker, Fixture};
use super::procs::{self, CpuMeter};
use super::report::{mib, ms, pct, Report, Verdict};
use super::stats::summarize;
use super::Config;

const S: &str = "4 flood";

#[derive(Default, Debug)]
struct FloodStats {
    records: u64,
    bytes: u64,
    gap_records: u64,
    seq_jumps: u64,
    trimmed: u64,
    exited_after: Option<Duration>,
}

/// Runs section 4.
pub async fn run(cfg: &Config, report: &mut Report) -> Result<()> {
    let f = Fixture::start(&["Flood".to_string()]).await?;
    let flood_s = cfg.flood_window.as_secs_f64();
    let ticks = (flood_s * 10.0) as u32 + 200;
    let created = f
        .new_session("Flood", "tick", Some(ticker(ticks, "0.1")))
        .await?;
    let (c, s) = names("Flood", "tick")?;
    let mut tick_reader =
        OutputReader::new(f.mesh.bus(), &c, &s, Cursor::After(created.cursor)).await?;
    let stop = Arc::new(AtomicBool::new(false));

    let stop2 = stop.clone();
    let ticks_task = tokio::spawn(async move {
        let mut got: Vec<(f64, f64)> = Vec::new(); // (printed at, latency ms)
        while !stop2.load(Ordering::Relaxed) {
            let batch = tick_reader
                .next_batch(Some(Duration::from_millis(300)), 100)
                .await?;
            let now = epoch_s();
            for rec in batch.entries.into_iter().filter_map(|(_, r)| r.ok()) {
                if let OutputEvent::Lines { lines, .. } = rec.event {
                    got.extend(
                        lines
                            .iter()
                            .filter_map(|l| parse_tick(l))
                            .map(|(_, ts)| (ts, (now - ts) * 1000.0)),
                    );
                }
            }
        }
        anyhow::Ok(got)
    });

    let driver = async {
        tokio::time::sleep(cfg.settle.max(Duration::from_secs(2))).await;
        let node = f.node_pid("Flood")?;
        let tmux = f.tmux_pid("Flood").await?;
        let rss0 = procs::rss_kib(node).unwrap_or(0) as f64;
        let mem0 = f.redis_used_memory().await?;
        let pre_end = epoch_s();
        let flood_start = epoch_s();
        let cmd = format!(
            "timeout {flood_s:.0} yes 'TMXFLOOD 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ'"
        );
        let t0 = Instant::now();
        let fl = f.new_session("Flood", "flood", Some(vec![cmd])).await?;
        let control: Vec<u32> = procs::descendants(node)
            .into_iter()
            .filter(|&p| procs::cmdline(p).contains(" -C "))
            .collect();
        let meter = CpuMeter::start(&[vec![node, tmux], control.clone()].concat());
        let (fc, fs) = names("Flood", "flood")?;
        let mut flood_reader =
            OutputReader::new(f.mesh.bus(), &fc, &fs, Cursor::After(fl.cursor)).await?;
        let mut st = FloodStats::default();
        let (mut rss_max, mut mem_max) = (rss0, mem0);
        let mut last_seq: Option<u64> = None;
        let mut next_mem = Instant::now();
        let mut cpu_window = None;
        let deadline = t0 + cfg.flood_window + Duration::from_secs(60);
        while st.exited_after.is_none() && Instant::now() < deadline {
            let batch = flood_reader
                .next_batch(Some(Duration::from_millis(250)), 64)
                .await?;
            if batch.gap.is_some() {
                st.trimmed += 1;
            }
            for rec in batch.entries.into_iter().filter_map(|(_, r)| r.ok()) {
                st.records += 1;
                if let Some(l) = last_seq {
                    if rec.seq != l + 1 {
                        st.seq_jumps += 1;
                    }
                }
                last_seq = Some(rec.seq);
                match rec.event {
                    OutputEvent::Lines { lines, .. } => {
                        st.bytes += lines.iter().map(|l| l.len() as u64 + 1).sum::<u64>()
                    }
                    OutputEvent::Gap { .. } => st.gap_records += 1,
                    OutputEvent::SessionExited { .. } => st.exited_after = Some(t0.elapsed()),
                    _ => {}
                }
            }
            rss_max = rss_max.max(procs::rss_kib(node).unwrap_or(0) as f64);
            if Instant::now() >= next_mem {
                mem_max = mem_max.max(f.redis_used_memory().await?);
                next_mem = Instant::now() + Duration::from_secs(1);
            }
            if cpu_window.is_none() && t0.elapsed() >= cfg.flood_window {
                cpu_window = Some(meter.per_pid());
            }
        }
        let cpu = cpu_window.unwrap_or_else(|| meter.per_pid());
        let flood_end = flood_start + cfg.flood_window.as_secs_f64();
        let rss1 = procs::rss_kib(node).unwrap_or(0) as f64;
        let mem1 = f.redis_used_memory().await?;
        let ctl_cpu: f64 = control.iter().filter_map(|p| cpu.get(p)).sum();
        anyhow::Ok((
            pre_end,
            flood_start,
            flood_end,
            rss0,
            rss_max,
            rss1,
            mem0,
            mem_max,
            mem1,
            cpu.get(&node).copied().unwrap_or(0.0),
            cpu.get(&tmux).copied().unwrap_or(0.0),
            ctl_cpu,
            st,
        ))
    };
    let driven = driver.await;
    stop.store(true, Ordering::Relaxed);
    let got = ticks_task.await??;
    let (
        pre_end,
        fstart,
        fend,
        rss0,
        rss_max,
        rss1,
        mem0,
        mem_max,
        mem1,
        node_cpu,
        tmux_cpu,
        ctl_cpu,
        st,
    ) = driven?;
    let during: Vec<f64> = got
        .iter()
        .filter(|(ts, _)| *ts >= fstart && *ts <= fend)
        .map(|x| x.1)
        .collect();
    let before: Vec<f64> = got
        .iter()
        .filter(|(ts, _)| *ts < pre_end)
        .map(|x| x.1)
        .collect();
    report.summary(
        S,
        "tick latency during flood",
        summarize(&during),
        ms,
        "p99 ≤ 100 ms",
        |s| Verdict::of(s.p99 <= 100.0),
    );
    report.summary(
        S,
        "tick latency before flood (same run)",
        summarize(&before),
        ms,
        "",
        |_| Verdict::Info,
    );
    let growth = (rss_max - rss0).max(0.0);
    report.row(
        S,
        "node RSS growth (max during flood − before)",
        mib(growth),
        format!("max {}", mib(rss_max)),
        "".into(),
        "≤ 20 MiB",
        Verdict::of(growth <= 20.0 * 1024.0),
    );
    report.row(
        S,
        "node CPU during flood (% of one core)",
        pct(node_cpu),
        "–".into(),
        "".into(),
        "",
        Verdict::Info,
    );
    report.row(
        S,
        "tmux server / control client CPU during flood",
        format!("{} / {}", pct(tmux_cpu), pct(ctl_cpu)),
        "–".into(),
        "".into(),
        "",
        Verdict::Info,
    );
    report.row(
        S,
        "Redis used_memory: before / max / after",
        format!("{} / {}", mib(mem0 / 1024.0), mib(mem_max / 1024.0)),
        mib(mem1 / 1024.0),
        "".into(),
        "bounded (trimmed)",
        Verdict::Info,
    );
    report.note(
        S,
        format!(
            "flood = `timeout {:.0} yes <72-char line>`; the flood stream was followed by a reader \
             in the xtask process: {} records, {:.1} MB of rendered text, {} gap records, {} \
             sequence jumps, {} trimmed-stream gaps; session_exited seen {} after start; node RSS \
             {} before, {} after",
            cfg.flood_window.as_secs_f64(),
            st.records,
            st.bytes as f64 / 1e6,
            st.gap_records,
            st.seq_jumps,
            st.trimmed,
            st.exited_after.map(|d| format!("{:.1} s", d.as_secs_f64())).unwrap_or("never".into()),
            mib(rss0),
            mib(rss1),
        ),
    );
    report.note(
        S,
        format!(
            "{} tick lines during the flood, {} before it",
            during.len(),
            before.len()
        ),
    );
    Ok(())
}
