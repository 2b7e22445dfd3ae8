//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! `cargo xtask ci` is the one command that decides whether a change is good: it is
//! what `.ci/run` runs and what the README tells contributors to run. `cargo xtask
//! tidy` checks the structural rules (see `tidy/mod.rs`). `cargo xtask
//! bench` runs the benchmarks (see `bench/mod.rs`); `dist` and `install` are in
//! `dist.rs`.

mod bench;
mod dist;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci       format check, tidy, clippy (-D warnings), build, all tests — what CI runs
  tidy     structural rules: file size, owned spawns, tmux/Redis strings, `//!` headers,
           typed errors, module cycles, ARCHITECTURE.md invariants (xtask/src/tidy)
  bench    benchmarks against real redis/tmux/nodes (release build) → docs/benchmarks.md
           [--quick: reduced sizes, what CI runs] [--out PATH]
  dist     release archives in target/dist: this machine's target, plus aarch64 Linux
           (Raspberry Pi) when its rustup target and cross linker are installed
  install  deploy/install.sh: binary, config, systemd user units or launchd agent
           [path/to/telemux: install that binary instead of building one]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("tidy") => tidy::main(&workspace_root()),
        Some("bench") => bench::main(&workspace_root(), &args[1..]),
        // The measuring half, started by `bench` from the release build.
        Some("bench-run") => bench::run(&args[1..]),
        Some("dist") => dist::dist(&workspace_root(), &args[1..]),
        Some("install") => dist::install(&workspace_root(), &args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("unknown xtask command '{other}'\n\n{USAGE}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Format check, tidy, lints, build, tests — stops at the first failure.
fn ci() -> Result<()> {
    let root = workspace_root();
    let start = Instant::now();
    cargo(&root, &["fmt", "--all", "--", "--check"], &[])?;
    println!("==> xtask tidy");
    tidy::main(&root)?;
    cargo(
        &root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(&root, &["build", "-p", "telemux"], &[])?;
    // CI=1 makes the harness's missing-tool panics say "CI must install them".
    cargo(&root, &["test", "--workspace"], &[("CI", "1")])?;
    // Keeps the benchmark working (issue 7); timing never fails CI, breakage does.
    // `--dev` reuses the build above instead of a second, release build.
    cargo(&root, &["xtask", "bench", "--quick", "--dev"], &[])?;
    println!("xtask ci: all green in {:.0?}", start.elapsed());
    Ok(())
}

/// Runs `cargo <args>` in the workspace root, echoing the command first.
fn cargo(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    // `cargo xtask` runs us through cargo, which tells us which cargo it is.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("==> cargo {}", args.join(" "));
    let step = Instant::now();
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    println!("<== cargo {} ok in {:.1?}", args.join(" "), step.elapsed());
    Ok(())
}

/// The workspace root: xtask's own manifest dir is `<root>/xtask`.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}
