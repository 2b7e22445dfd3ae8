//! `cargo xtask bench`: the six benchmarks of issue 7 against real processes —
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
}

fn parse(args: &[String]) -> Result<Args> {
    let mut a = Args {
        quick: false,
        dev: false,
        out: None,
    };
    let mut it = args.iter();
    while let Some(x) = it.next() {
        match x.as_str() {
            "--quick" => a.quick = true,
            "--dev" => a.dev = true,
            "--out" => a.out = Some(it.next().context("--out needs a path")?.into()),
            other => bail!("unknown bench option '{other}' (options: --quick, --dev, --out PATH)"),
        }
    }
    Ok(a)
}

/// `cargo xtask bench [--quick] [--dev] [--out PATH]`: release build (dev
/// build with `--dev`, for CI's smoke run), then `bench-run`.
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
    let out = a.out.unwrap_or_else(|| {
        if cfg.quick {
            std::env::temp_dir().join("telemux-benchmarks-quick.md")
        } else {
            root.join("docs/benchmarks.md")
        }
    });
    let mut machine = Machine::describe(&root);
    let command = if cfg.quick {
        "cargo xtask bench --quick"
    } else {
        "cargo xtask bench"
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
            ($name:expr, $m:ident) => {{
                println!("==> section {} ({:.0?} so far)", $name, start.elapsed());
                let t = Instant::now();
                match tokio::time::timeout(cfg.section_limit, $m::run(&cfg, &mut report)).await {
                    Ok(Ok(())) => println!("<== section {} done in {:.1?}", $name, t.elapsed()),
                    Ok(Err(e)) => failures.push(format!("section {}: {e:#}", $name)),
                    Err(_) => failures.push(format!(
                        "section {}: did not finish within {:?}",
                        $name, cfg.section_limit
                    )),
                }
            }};
        }
        section!("1 latency", latency);
        section!("2 round trip", roundtrip);
        section!("3 footprint", footprint);
        section!("4 flood", flood);
        section!("5 scale", scale);
        section!("6 throughput", throughput);
    });
    drop(rt);
    for f in &failures {
        eprintln!("xtask bench: {f}");
        report.note("failures", f.clone());
    }
    machine.add("load average at end", machine::loadavg());
    report.print();
    let md = report.markdown(&machine, command, start.elapsed().as_secs_f64());
    report.write(&out, &md)?;
    println!("\nwrote {}", out.display());
    if !failures.is_empty() {
        bail!("{} section(s) broke", failures.len());
    }
    Ok(())
}
