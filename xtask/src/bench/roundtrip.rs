//! Section 2: request round trip from a client to another node and back:
//! `list_sessions` and `send_text` through a long-lived library client (the
//! `Mesh` the gateway and MCP use, and the bare `Requester` under it), through
//! the CLI as a fresh process per request, and through MCP when it exists.

use std::future::Future;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use serde_json::json;
use telemux_bus::Requester;
use telemux_proto::{ComputerName, Op};
use tokio_util::sync::CancellationToken;

use super::fixture::Fixture;
use super::mcp::McpClient;
use super::report::{ms, Report, Verdict};
use super::stats::summarize;
use super::Config;

const S: &str = "2 round trip";
const TARGET: &str = "p50 ≤ 5 ms, p99 ≤ 20 ms";

fn target_verdict(s: &super::stats::Summary) -> Verdict {
    Verdict::of(s.median <= 5.0 && s.p99 <= 20.0)
}

/// Times `n` sequential calls of `f` in ms.
async fn time_n<F, Fut>(n: usize, mut f: F) -> Result<Vec<f64>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await?;
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(v)
}

/// Runs section 2.
pub async fn run(cfg: &Config, report: &mut Report) -> Result<()> {
    let f = Fixture::start(&["Rt".to_string()]).await?;
    for s in ["rt", "other1", "other2"] {
        f.new_session("Rt", s, Some(vec!["cat >/dev/null".into()]))
            .await?;
    }
    let m = &f.mesh;
    let n = cfg.rt_requests;
    let err = |e: telemux_client::MeshError| anyhow!("{e}");
    // Warm-up: connections, first-use allocations, tmux server caches.
    time_n(20, || async {
        m.sessions(Some("Rt")).await.map(drop).map_err(err)
    })
    .await?;

    let list = time_n(n, || async {
        let s = m.sessions(Some("Rt")).await.map_err(err)?;
        if s.len() != 3 {
            bail!("expected 3 sessions, got {}", s.len());
        }
        Ok(())
    })
    .await?;
    report.summary(
        S,
        "list_sessions, library (`Mesh::sessions`)",
        summarize(&list),
        ms,
        TARGET,
        target_verdict,
    );

    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let req = Requester::start(m.bus().clone(), "bench-raw@xtask".into(), cancel.clone());
    let rt = ComputerName::new("Rt")?;
    let raw = time_n(n, || async {
        req.request(&rt, Op::ListSessions, Duration::from_secs(10))
            .await
            .map(drop)
            .map_err(|e| anyhow!("{e}"))
    })
    .await?;
    report.summary(
        S,
        "list_sessions, bare `Requester` (no name resolution)",
        summarize(&raw),
        ms,
        "",
        |_| Verdict::Info,
    );

    let send = time_n(n, || async {
        m.send_text("Rt/rt", "x", false).await.map_err(err)
    })
    .await?;
    report.summary(
        S,
        "send_text (no Enter), library",
        summarize(&send),
        ms,
        TARGET,
        target_verdict,
    );
    let send_enter = time_n((n / 4).max(3), || async {
        m.send_text("Rt/rt", "x", true).await.map_err(err)
    })
    .await?;
    report.summary(
        S,
        "send_text + Enter, library (shells get no enter delay; node.enter_delay_ms 0)",
        summarize(&send_enter),
        ms,
        "",
        |_| Verdict::Info,
    );

    // CLI: a fresh process per request, as a user or script runs it.
    let cli = &f.cli;
    let run_cli = |args: &'static [&'static str]| async move {
        let out = cli
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await?;
        if !out.status.success() {
            bail!(
                "telemux {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    let k = cfg.cli_requests;
    let start = time_n(k, || run_cli(&["--help"])).await?;
    let cli_list = time_n(k, || run_cli(&["sessions", "Rt", "--json"])).await?;
    let cli_send = time_n(k, || run_cli(&["send", "Rt/rt", "x", "--no-enter"])).await?;
    report.summary(
        S,
        "list_sessions, CLI process (`telemux sessions Rt`)",
        summarize(&cli_list),
        ms,
        TARGET,
        target_verdict,
    );
    report.summary(
        S,
        "send_text, CLI process (`telemux send --no-enter`)",
        summarize(&cli_send),
        ms,
        TARGET,
        target_verdict,
    );
    report.summary(
        S,
        "CLI process start alone (`telemux --help`)",
        summarize(&start),
        ms,
        "",
        |_| Verdict::Info,
    );

    match McpClient::start(cli).await {
        Ok(mut mcp) => {
            let mcp = &mut mcp;
            let mut list = Vec::new();
            let mut send = Vec::new();
            for _ in 0..n {
                let t = Instant::now();
                mcp.tool("list_sessions", json!({"computer": "Rt"})).await?;
                list.push(t.elapsed().as_secs_f64() * 1000.0);
                let t = Instant::now();
                mcp.tool(
                    "send_text",
                    json!({"session": "Rt/rt", "text": "x", "enter": false}),
                )
                .await?;
                send.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            report.summary(
                S,
                "list_sessions, MCP stdio (`telemux mcp`)",
                summarize(&list),
                ms,
                TARGET,
                target_verdict,
            );
            report.summary(
                S,
                "send_text, MCP stdio",
                summarize(&send),
                ms,
                TARGET,
                target_verdict,
            );
        }
        Err(e) => {
            for what in ["list_sessions, MCP stdio", "send_text, MCP stdio"] {
                report.row(
                    S,
                    what,
                    "–".into(),
                    "–".into(),
                    "0".into(),
                    TARGET,
                    Verdict::NotMeasured,
                );
            }
            report.note(
                S,
                format!("MCP not measured: MCP not built in this checkout — {e:#}"),
            );
        }
    }
    report.note(
        S,
        format!(
            "client and node on one machine, Redis on loopback TCP; library figures reuse one \
             client for {n} sequential requests after 20 warm-up requests; CLI figures are {k} \
             fresh `telemux` processes each (connect + resolve + request)"
        ),
    );
    Ok(())
}
