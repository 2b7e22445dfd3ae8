//! Section 5: scale. Many nodes (each its own process and tmux socket) with
//! idle shell sessions against one Redis: how long `computers` takes, what the
//! heartbeats cost Redis (INFO commandstats deltas), each node's idle CPU, and
//! how long the mesh takes to notice a node killed with SIGKILL.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use super::fixture::{Fixture, HEARTBEAT_MS};
use super::procs::CpuMeter;
use super::report::{ms, pct, Report, Verdict};
use super::stats::summarize;
use super::Config;

const S: &str = "5 scale";

fn calls(info: &HashMap<String, String>) -> HashMap<String, f64> {
    info.iter()
        .filter_map(|(k, v)| {
            let cmd = k.strip_prefix("cmdstat_")?;
            let n = v
                .split(',')
                .find_map(|f| f.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((cmd.to_string(), n))
        })
        .collect()
}

/// Runs section 5.
pub async fn run(cfg: &Config, report: &mut Report) -> Result<()> {
    let names: Vec<String> = (1..=cfg.scale_nodes).map(|i| format!("S{i:02}")).collect();
    let t = Instant::now();
    let f = Fixture::start(&names).await?;
    let online_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    f.populate(&names, cfg.scale_sessions).await?;
    let create_s = t.elapsed().as_secs_f64();
    let total = cfg.scale_nodes * cfg.scale_sessions;
    tokio::time::sleep(cfg.settle).await;

    // Idle window: heartbeats only.
    let pids: Vec<u32> = f.nodes.iter().filter_map(|n| n.pid()).collect();
    let before = calls(&f.redis_info("commandstats").await?);
    let meter = CpuMeter::start(&pids);
    let t = Instant::now();
    tokio::time::sleep(cfg.scale_window).await;
    let per_node: Vec<f64> = meter.per_pid().into_values().collect();
    let after = calls(&f.redis_info("commandstats").await?);
    let secs = t.elapsed().as_secs_f64();
    let delta =
        |k: &str| after.get(k).copied().unwrap_or(0.0) - before.get(k).copied().unwrap_or(0.0);
    let all_ops: f64 = after.keys().map(|k| delta(k)).sum::<f64>() - 1.0; // our own INFO
    let hb_ops = delta("set") + delta("hset");
    let expected = 2.0 * cfg.scale_nodes as f64 / (HEARTBEAT_MS as f64 / 1000.0);

    // computers / list_sessions over the whole mesh.
    let mut lib = Vec::new();
    for _ in 0..cfg.scale_queries * 5 {
        let t = Instant::now();
        let c = f.mesh.computers().await.map_err(|e| anyhow!("{e}"))?;
        lib.push(t.elapsed().as_secs_f64() * 1000.0);
        if c.iter().filter(|c| c.online).count() != cfg.scale_nodes {
            bail!(
                "computers lists {} online, expected {}",
                c.len(),
                cfg.scale_nodes
            );
        }
    }
    let mut cli = Vec::new();
    for _ in 0..cfg.scale_queries {
        let t = Instant::now();
        let out = f
            .cli
            .command(&["computers", "--json"])
            .stdout(Stdio::piped())
            .output()
            .await?;
        cli.push(t.elapsed().as_secs_f64() * 1000.0);
        if !out.status.success() {
            bail!("telemux computers failed");
        }
    }
    let mut sess = Vec::new();
    for _ in 0..cfg.scale_queries {
        let t = Instant::now();
        let s = f.mesh.sessions(None).await.map_err(|e| anyhow!("{e}"))?;
        sess.push(t.elapsed().as_secs_f64() * 1000.0);
        if s.len() != total {
            bail!("sessions lists {}, expected {total}", s.len());
        }
    }

    // Offline detection after SIGKILL.
    let mut detect = Vec::new();
    let mut f = f;
    for k in 0..cfg.scale_kills {
        let i = f.nodes.len() - 1 - k;
        let name = f.nodes[i].computer().to_string();
        // Kill at a random phase of the heartbeat period.
        tokio::time::sleep(Duration::from_millis(317 * (k as u64 + 1) % HEARTBEAT_MS)).await;
        f.nodes[i].kill9();
        let t = Instant::now();
        loop {
            let c = f.mesh.computers().await.map_err(|e| anyhow!("{e}"))?;
            if c.iter().any(|c| c.info.name == name && !c.online) {
                break;
            }
            if t.elapsed() > Duration::from_secs(30) {
                bail!("{name} still online 30 s after SIGKILL");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        detect.push(t.elapsed().as_secs_f64() * 1000.0);
    }

    let nodes = cfg.scale_nodes;
    let per = cfg.scale_sessions;
    report.summary(
        S,
        &format!("`computers` library call, {nodes} nodes"),
        summarize(&lib),
        ms,
        "",
        |_| Verdict::Info,
    );
    report.summary(
        S,
        &format!("`telemux computers --json` process, {nodes} nodes"),
        summarize(&cli),
        ms,
        "",
        |_| Verdict::Info,
    );
    report.summary(
        S,
        &format!("`sessions` (all nodes, {total} sessions) library call"),
        summarize(&sess),
        ms,
        "",
        |_| Verdict::Info,
    );
    report.row(
        S,
        "heartbeat ops/s on Redis (SET+HSET)",
        format!("{:.1}/s", hb_ops / secs),
        "–".into(),
        "".into(),
        &format!("expected {expected:.0}/s"),
        Verdict::Info,
    );
    report.row(
        S,
        "all Redis commands/s while idle",
        format!("{:.1}/s", all_ops / secs),
        "–".into(),
        "".into(),
        "",
        Verdict::Info,
    );
    report.summary(
        S,
        &format!("time to detect a SIGKILLed node (heartbeat {HEARTBEAT_MS} ms)"),
        summarize(&detect),
        ms,
        &format!("≤ 3 heartbeats ({} ms)", 3 * HEARTBEAT_MS),
        |s| Verdict::of(s.max <= 3.0 * HEARTBEAT_MS as f64 + 100.0),
    );
    report.summary(
        S,
        &format!("per-node CPU, idle, {per} sessions each (across nodes)"),
        summarize(&per_node),
        pct,
        "≤ 0.5 %",
        |s| Verdict::of(s.median <= 0.5),
    );
    let mut top: Vec<(String, f64)> = after
        .keys()
        .map(|k| (k.clone(), delta(k) / secs))
        .filter(|(_, r)| *r > 0.05)
        .collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    report.note(
        S,
        format!(
            "{nodes} nodes online {online_s:.1} s after spawn; {total} shell sessions created \
             ({nodes} nodes in parallel) in {create_s:.1} s; idle window {secs:.0} s; Redis \
             commands/s in it: {}",
            top.iter()
                .map(|(k, r)| format!("{k} {r:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    report.note(
        S,
        format!(
            "detection times (ms): {:?}",
            detect.iter().map(|d| d.round()).collect::<Vec<_>>()
        ),
    );
    Ok(())
}
