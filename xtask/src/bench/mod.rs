//! `cargo xtask bench`: the six benchmarks of issue 7 and the terminal front
//! ends' two of issue 15 (`tui`, `attach`) against real processes —
//! a private `redis-server`, private tmux sockets and `telemux node` processes
//! of the release binary — printed as a table and written to
//! `docs/benchmarks.md` (or `--out`).
//!
//! The xtask that cargo runs is a debug build, and a debug subscriber would
//! distort the latency figures, so [`main`] builds `telemux` and `xtask` with
//! `--release` and re-executes the release xtask as `bench-run`, which does the
//! measuring. Every process is an RAII guard from the end-to-end harness,
//! killed by pid when its section ends, fails or times out.
//!
//! The benchmark never fails on a missed target, only when something breaks
//! (a node that does not come up, a lost reply, a section past its time limit).

mod fixture;
mod flood;
mod footprint;
mod latency;
mod machine;
mod mcp;
mod procs;
mod report;
mod roundtrip;
mod scale;
mod stats;
mod terminal;
mod throughput;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use machine::Machine;
use report::Report;

/// Sizes of one run: `--quick` (CI) or full.
#[derive(Debug, Clone)]
pub struct Config {
    quick: bool,
    latency_lines: u32,
    rt_requests: usize,
    cli_requests: usize,
    footprint_levels: Vec<usize>,
    footprint_window: Duration,
    footprint_parts: usize,
    flood_window: Duration,
    scale_nodes: usize,
    scale_sessions: usize,
    scale_window: Duration,
    scale_queries: usize,
    scale_kills: usize,
    tp_lines: u32,
    tp_runs: usize,
    tui_nodes: usize,
    tui_sessions: usize,
    tui_frames: usize,
    tui_changes: usize,
    echo_keys: usize,
    settle: Duration,
    section_limit: Duration,
}

impl Config {
    fn new(quick: bool) -> Config {
        if quick {
            Config {
                quick,
                latency_lines: 40,
                rt_requests: 40,
                cli_requests: 5,
                footprint_levels: vec![0, 2, 5],
                footprint_window: Duration::from_secs(3),
                footprint_parts: 3,
                flood_window: Duration::from_secs(4),
                scale_nodes: 3,
                scale_sessions: 3,
                scale_window: Duration::from_secs(4),
                scale_queries: 3,
                scale_kills: 1,
                tp_lines: 5_000,
                tp_runs: 1,
                tui_nodes: 3,
                tui_sessions: 5,
                tui_frames: 3,
                tui_changes: 5,
                echo_keys: 20,
                settle: Duration::from_secs(1),
                section_limit: Duration::from_secs(60),
            }
        } else {
            Config {
                quick,
                latency_lines: 300,
                rt_requests: 300,
                cli_requests: 30,
                footprint_levels: vec![0, 10, 50],
                footprint_window: Duration::from_secs(60),
                footprint_parts: 6,
                flood_window: Duration::from_secs(30),
                scale_nodes: 20,
                scale_sessions: 25,
                scale_window: Duration::from_secs(20),
                scale_queries: 10,
                scale_kills: 5,
                tp_lines: 100_000,
                tp_runs: 5,
                tui_nodes: 20,
                tui_sessions: 25,
                tui_frames: 5,
                tui_changes: 30,
                echo_keys: 100,
                settle: Duration::from_secs(5),
                section_limit: Duration::from_secs(600),
            }
        }
    }
}

struct Args {
    quick: bool,
    /// Use the dev profile (CI: reuses the test build; figures are meaningless).
    dev: bool,
    out: Option<PathBuf>,
    /// Only these sections (numbers or names, e.g. `7,attach`).
    only: Option<Vec<String>>,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut a = Args {
        quick: false,
        dev: false,
        out: None,
        only: None,
    };
    let mut it = args.iter();
    while let Some(x) = it.next() {
        match x.as_str() {
            "--quick" => a.quick = true,
            "--dev" => a.dev = true,
            "--out" => a.out = Some(it.next().context("--out needs a path")?.into()),
            "--only" => {
                let list = it.next().context("--only needs a list of sections")?;
                a.only = Some(list.split(',').map(|x| x.trim().to_string()).collect());
            }
            other => bail!(
                "unknown bench option '{other}' (options: --quick, --dev, --out PATH, --only SECTIONS)"
            ),
        }
    }
    Ok(a)
}

/// `cargo xtask bench [--quick] [--dev] [--out PATH] [--only 7,attach]`:
/// release build (dev build with `--dev`, for CI's smoke run), then `bench-run`.
pub fn main(root: &Path, args: &[String]) -> Result<()> {
    let parsed = parse(args)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // `<target>/debug/xtask` → `<target>`; honours CARGO_TARGET_DIR and --target-dir alike.
    let target = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .context("locating the target dir")?
        .to_path_buf();
    let (profile_args, dir): (&[&str], &str) = if parsed.dev {
        (&[], "debug")
    } else {
        (&["--release"], "release")
    };
    println!(
        "==> cargo build {} -p telemux -p xtask",
        profile_args.join(" ")
    );
    let st = Command::new(&cargo)
        .arg("build")
        .args(profile_args)
        .args(["-p", "telemux", "-p", "xtask", "--target-dir"])
        .arg(&target)
        .current_dir(root)
        .status()
        .context("running cargo build")?;
    if !st.success() {
        bail!("{dir} build failed ({st})");
    }
    let bins = target.join(dir);
    let rest: Vec<&String> = args.iter().filter(|a| *a != "--dev").collect();
    let st = Command::new(bins.join("xtask"))
        .arg("bench-run")
        .args(rest)
        .env("TELEMUX_BIN", bins.join("telemux"))
        .env("XTASK_ROOT", root)
        .current_dir(root)
        .status()
        .context("running the benchmark xtask")?;
    if !st.success() {
        bail!("benchmark failed ({st})");
    }
    Ok(())
}

/// `xtask bench-run`: the measuring half, run from the release build.
pub fn run(args: &[String]) -> Result<()> {
    let a = parse(args)?;
    let root = std::env::var_os("XTASK_ROOT")
        .map(PathBuf::from)
        .context("bench-run is started by `cargo xtask bench`")?;
    if std::env::var_os("TELEMUX_BIN").is_none() {
        bail!("bench-run needs TELEMUX_BIN (use `cargo xtask bench`)");
    }
    let cfg = Config::new(a.quick);
    // The generated part is replaced whole, so a partial run must not
    // overwrite the full table in docs/ unless asked to with --out.
    let out = a.out.unwrap_or_else(|| {
        if a.only.is_some() {
            std::env::temp_dir().join("telemux-benchmarks-only.md")
        } else if cfg.quick {
            std::env::temp_dir().join("telemux-benchmarks-quick.md")
        } else {
            root.join("docs/benchmarks.md")
        }
    });
    let mut machine = Machine::describe(&root);
    let mut command = if cfg.quick {
        "cargo xtask bench --quick".to_string()
    } else {
        "cargo xtask bench".to_string()
    };
    if let Some(o) = &a.only {
        command.push_str(&format!(" --only {}", o.join(",")));
    }
    let wanted = |name: &str| {
        a.only.as_ref().is_none_or(|o| {
            o.iter()
                .any(|x| name == x || name.split(' ').any(|w| w == x))
        })
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let start = Instant::now();
    let mut report = Report::default();
    let mut failures = Vec::new();
    rt.block_on(async {
        macro_rules! section {
            ($name:expr, $f:path) => {{
                if wanted($name) {
                    println!("==> section {} ({:.0?} so far)", $name, start.elapsed());
                    let t = Instant::now();
                    match tokio::time::timeout(cfg.section_limit, $f(&cfg, &mut report)).await {
                        Ok(Ok(())) => println!("<== section {} done in {:.1?}", $name, t.elapsed()),
                        Ok(Err(e)) => failures.push(format!("section {}: {e:#}", $name)),
                        Err(_) => failures.push(format!(
                            "section {}: did not finish within {:?}",
                            $name, cfg.section_limit
                        )),
                    }
                }
            }};
        }
        section!("1 latency", latency::run);
        section!("2 round trip", roundtrip::run);
        section!("3 footprint", footprint::run);
        section!("4 flood", flood::run);
        section!("5 scale", scale::run);
        section!("6 throughput", throughput::run);
        section!("7 tui", terminal::tui);
        section!("8 attach", terminal::attach);
    });
    drop(rt);
    for f in &failures {
        eprintln!("xtask bench: {f}");
        report.note("failures", f.clone());
    }
    machine.add("load average at end", machine::loadavg());
    report.print();
    let md = report.markdown(&machine, &command, start.elapsed().as_secs_f64());
    report.write(&out, &md)?;
    println!("\nwrote {}", out.display());
    if !failures.is_empty() {
        bail!("{} section(s) broke", failures.len());
    }
    Ok(())
}
