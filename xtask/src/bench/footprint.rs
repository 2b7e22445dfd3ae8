//! Section 3: footprint. One node with 0, 10 and 50 idle shell sessions; each
//! level is measured over a window split into sub-windows, CPU from
//! `/proc/<pid>/stat` utime+stime deltas, RSS from `VmRSS`. Every process telemux
//! adds is its own row — the node, the tmux server, the per-session
//! control-mode clients, the node's other children (the waker) — and the
//! sessions' own shells are shown for scale. The gateway is probed last.

use std::time::Duration;

use anyhow::Result;

use super::fixture::Fixture;
use super::procs::{self, CpuMeter};
use super::report::{mib, pct, Report, Verdict};
use super::stats::summarize;
use super::Config;

const S: &str = "3 footprint";

/// Processes telemux runs for one node, grouped for the report.
struct Groups {
    node: Vec<u32>,
    tmux_server: Vec<u32>,
    control: Vec<u32>,
    other: Vec<u32>,
    sessions: Vec<u32>,
}

async fn groups(f: &Fixture) -> Result<Groups> {
    let node = f.node_pid("Idle")?;
    let (mut control, mut other) = (Vec::new(), Vec::new());
    for p in procs::descendants(node) {
        if procs::cmdline(p).contains(" -C ") {
            control.push(p);
        } else {
            other.push(p);
        }
    }
    let server = f.tmux_pid("Idle").await.ok();
    Ok(Groups {
        node: vec![node],
        tmux_server: server.into_iter().collect(),
        control,
        other,
        sessions: server.map(procs::descendants).unwrap_or_default(),
    })
}

fn rss_sum(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|&p| procs::rss_kib(p)).sum::<u64>() as f64
}

/// Runs section 3.
pub async fn run(cfg: &Config, report: &mut Report) -> Result<()> {
    let f = Fixture::start(&["Idle".to_string()]).await?;
    let mut made = 0;
    let top = *cfg.footprint_levels.last().unwrap_or(&0);
    for &level in &cfg.footprint_levels {
        while made < level {
            f.new_session("Idle", &format!("idle{made}"), None).await?;
            made += 1;
        }
        tokio::time::sleep(cfg.settle).await;
        let g = groups(&f).await?;
        let parts = cfg.footprint_parts;
        let part = cfg.footprint_window / parts as u32;
        let all: Vec<(&str, &Vec<u32>)> = vec![
            ("node", &g.node),
            ("tmux server", &g.tmux_server),
            ("control clients", &g.control),
            ("other node children", &g.other),
            ("session processes", &g.sessions),
        ];
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); all.len()];
        let mut rss: Vec<Vec<f64>> = vec![Vec::new(); all.len()];
        let whole = CpuMeter::start(
            &all.iter()
                .flat_map(|(_, p)| p.iter().copied())
                .collect::<Vec<_>>(),
        );
        for _ in 0..parts {
            let meters: Vec<CpuMeter> = all.iter().map(|(_, p)| CpuMeter::start(p)).collect();
            tokio::time::sleep(part).await;
            for (i, m) in meters.iter().enumerate() {
                cpu[i].push(m.total());
                rss[i].push(rss_sum(all[i].1));
            }
        }
        let per = whole.per_pid();
        let mean = |pids: &[u32]| pids.iter().filter_map(|p| per.get(p)).sum::<f64>() + 0.0;
        let label = format!("{level} idle sessions");
        let at_top = level == top && level >= 50;
        report.summary(
            S,
            &format!("node RSS, {label}"),
            summarize(&rss[0]),
            mib,
            if level >= 50 {
                "≤ 20 MiB at 50 sessions"
            } else {
                ""
            },
            |s| {
                if at_top {
                    Verdict::of(s.p99 <= 20.0 * 1024.0)
                } else {
                    Verdict::Info
                }
            },
        );
        let node_mean = mean(&g.node);
        report.summary(
            S,
            &format!("node CPU (% of one core), {label}"),
            summarize(&cpu[0]),
            pct,
            "≤ 0.5 %",
            |_| Verdict::of(node_mean <= 0.5),
        );
        for (i, (name, pids)) in all.iter().enumerate().skip(1) {
            if pids.is_empty() {
                continue;
            }
            let (r, c) = (summarize(&rss[i]), summarize(&cpu[i]));
            let cell = |rv: Option<f64>, cv: Option<f64>| {
                format!(
                    "{} / {}",
                    rv.map(mib).unwrap_or_default(),
                    cv.map(pct).unwrap_or_default()
                )
            };
            report.row(
                S,
                &format!("{name} ({} procs) RSS / CPU, {label}", pids.len()),
                cell(r.map(|s| s.median), c.map(|s| s.median)),
                cell(r.map(|s| s.p99), c.map(|s| s.p99)),
                parts.to_string(),
                "",
                Verdict::Info,
            );
        }
        report.note(
            S,
            format!(
                "{label}: window {:.0} s in {parts} parts; mean CPU over the window: node {:.3} %, \
                 tmux server {:.3} %, control clients {:.3} %, other node children {:.3} %",
                cfg.footprint_window.as_secs_f64(),
                node_mean,
                mean(&g.tmux_server),
                mean(&g.control),
                mean(&g.other),
            ),
        );
    }
    drop(f);
    gateway(cfg, report).await;
    Ok(())
}

/// Idle RSS of `telemux gateway` (MCP over HTTP on a free loopback port), if
/// this checkout's gateway starts at all.
async fn gateway(cfg: &Config, report: &mut Report) {
    let redis = telemux_tests::RedisServer::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0);
    let cli = telemux_tests::Cli::new(redis.url())
        .env("TELEMUX_MCP__LISTEN", format!("127.0.0.1:{port}"))
        .env("TELEMUX_COMPUTER", "BenchGw");
    let child = cli
        .command(&["gateway"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            report.note(S, format!("gateway not measured: cannot spawn: {e}"));
            return;
        }
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    if let Ok(Some(status)) = child.try_wait() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut e, &mut err).await;
        }
        let first = err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string();
        report.row(
            S,
            "gateway RSS, idle",
            "–".into(),
            "–".into(),
            "0".into(),
            "",
            Verdict::NotMeasured,
        );
        report.note(
            S,
            format!("gateway not measured: `telemux gateway` exited at once ({status}): {first}"),
        );
        return;
    }
    let pid = child.id().unwrap_or(0);
    let meter = CpuMeter::start(&[pid]);
    let mut rss = Vec::new();
    let window = cfg.footprint_window.min(Duration::from_secs(20));
    for _ in 0..10 {
        tokio::time::sleep(window / 10).await;
        rss.extend(procs::rss_kib(pid).map(|k| k as f64));
    }
    let cpu = meter.total();
    report.summary(
        S,
        "gateway RSS, idle (MCP HTTP listening)",
        summarize(&rss),
        mib,
        "",
        |_| Verdict::Info,
    );
    report.note(
        S,
        format!(
            "gateway idle CPU over {:.0} s: {cpu:.3} %",
            window.as_secs_f64()
        ),
    );
    let _ = child.kill().await;
}
