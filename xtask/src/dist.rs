//! `cargo xtask dist` and `cargo xtask install`: release archives and local install.
//!
//! `dist` builds the release binary for this machine's target and, on an
//! x86_64 Linux host, for `aarch64-unknown-linux-gnu` (Raspberry Pi 4/5 with a
//! 64-bit OS) when the rustup target and a cross linker are both installed.
//! When they are not, it says so and prints the two ways out (build on the Pi,
//! or install the target and linker here) instead of failing: a missing cross
//! toolchain is a fact of the machine, not a bug. Each archive holds the
//! binary, the README, the example config, the operator docs and deploy/ in
//! the repository's layout, so `sh deploy/install.sh ./telemux` works from the
//! unpacked archive and a Pi needs nothing else but tmux. Timings and sizes are printed because
//! docs/install.md quotes them.
//!
//! `install` runs deploy/install.sh, which does the per-OS work.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The Raspberry Pi target (64-bit Raspberry Pi OS, Ubuntu, Debian on Pi 4/5).
const PI_TRIPLE: &str = "aarch64-unknown-linux-gnu";
/// The Debian/Ubuntu cross compiler for that target (package gcc-aarch64-linux-gnu).
const PI_LINKER: &str = "aarch64-linux-gnu-gcc";

/// What was built for one target.
struct Built {
    triple: String,
    binary: PathBuf,
    archive: PathBuf,
    build_time: Duration,
}

/// `cargo xtask dist`
pub fn dist(root: &Path, args: &[String]) -> Result<()> {
    if let Some(a) = args.first() {
        bail!("cargo xtask dist takes no arguments (got '{a}')");
    }
    let version = env!("CARGO_PKG_VERSION");
    let host = host_triple()?;
    let target_dir = target_dir(root);
    let out_dir = target_dir.join("dist");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let mut triples = vec![host.clone()];
    let mut pi_missing = Vec::new();
    if host != PI_TRIPLE && host.contains("linux") {
        if !rustup_target_installed(PI_TRIPLE) {
            pi_missing.push(format!("the rustup target {PI_TRIPLE}"));
        }
        if which(PI_LINKER).is_none() {
            pi_missing.push(format!("the cross linker {PI_LINKER}"));
        }
        if pi_missing.is_empty() {
            triples.push(PI_TRIPLE.to_string());
        }
    }

    let mut built = Vec::new();
    for triple in &triples {
        built.push(build_one(root, &target_dir, &out_dir, version, triple)?);
    }

    println!();
    println!("xtask dist: telemux {version}");
    for b in &built {
        println!(
            "  {:<28} build {:>6.1} s   binary {:>9}   archive {:>9}   {}",
            b.triple,
            b.build_time.as_secs_f64(),
            human_size(file_size(&b.binary)),
            human_size(file_size(&b.archive)),
            b.archive.display()
        );
    }
    if !pi_missing.is_empty() {
        println!();
        println!(
            "{PI_TRIPLE} (Raspberry Pi 4/5, 64-bit OS): not built here; missing {}.",
            pi_missing.join(" and ")
        );
        println!("  Either build on the Pi itself (needs Rust from https://rustup.rs):");
        println!("      cargo build --release -p telemux      # binary: target/release/telemux");
        println!("  or make this machine cross-compile, then run cargo xtask dist again:");
        println!("      rustup target add {PI_TRIPLE}");
        println!("      sudo apt-get install -y gcc-aarch64-linux-gnu");
    }
    if host.contains("apple") {
        println!();
        println!(
            "macOS: this archive runs on {host} only; build on the other Mac architecture for it,"
        );
        println!("or add it with `rustup target add aarch64-apple-darwin x86_64-apple-darwin`.");
    }
    Ok(())
}

/// Builds the release binary for `triple` and packs its archive.
fn build_one(
    root: &Path,
    target_dir: &Path,
    out_dir: &Path,
    version: &str,
    triple: &str,
) -> Result<Built> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("==> cargo build --release -p telemux --target {triple}");
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(root)
        .args(["build", "--release", "-p", "telemux", "--target", triple]);
    if triple == PI_TRIPLE {
        // The linker for the final binary, and the C compiler for ring's assembly.
        cmd.env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", PI_LINKER)
            .env("CC_aarch64_unknown_linux_gnu", PI_LINKER);
    }
    let start = Instant::now();
    let status = cmd.status().context("running cargo build")?;
    let build_time = start.elapsed();
    if !status.success() {
        bail!("cargo build for {triple} failed ({status})");
    }
    let binary = target_dir.join(triple).join("release").join("telemux");
    if !binary.is_file() {
        bail!("cargo built {triple} but {} is missing", binary.display());
    }

    let name = format!("telemux-{version}-{triple}");
    let stage = out_dir.join(&name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage)
            .with_context(|| format!("removing the old {}", stage.display()))?;
    }
    std::fs::create_dir_all(stage.join("docs"))?;
    std::fs::create_dir_all(stage.join("config"))?;
    copy(&binary, &stage.join("telemux"))?;
    copy(&root.join("README.md"), &stage.join("README.md"))?;
    // Same place as in the repository, where deploy/install.sh looks for it.
    copy(
        &root.join("config/telemux.example.toml"),
        &stage.join("config/telemux.example.toml"),
    )?;
    for doc in ["install.md", "operations.md", "troubleshooting.md"] {
        let src = root.join("docs").join(doc);
        if src.is_file() {
            copy(&src, &stage.join("docs").join(doc))?;
        }
    }
    copy_dir(&root.join("deploy"), &stage.join("deploy"))?;

    let archive = out_dir.join(format!("{name}.tar.gz"));
    let status = Command::new("tar")
        .arg("-C")
        .arg(out_dir)
        .arg("-czf")
        .arg(&archive)
        .arg(&name)
        .status()
        .context("running tar")?;
    if !status.success() {
        bail!("tar failed ({status}) for {}", archive.display());
    }
    std::fs::remove_dir_all(&stage).ok();
    Ok(Built {
        triple: triple.to_string(),
        binary,
        archive,
        build_time,
    })
}

/// `cargo xtask install`: deploy/install.sh with the given arguments.
pub fn install(root: &Path, args: &[String]) -> Result<()> {
    let script = root.join("deploy").join("install.sh");
    println!("==> sh {} {}", script.display(), args.join(" "));
    let status = Command::new("sh")
        .arg(&script)
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", script.display());
    }
    Ok(())
}

/// The host triple, from `rustc -vV`.
fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .context("rustc -vV printed no host line")
}

/// Cargo's target directory: `CARGO_TARGET_DIR`, else `<root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                root.join(d)
            }
        }
        None => root.join("target"),
    }
}

/// Whether `rustup target list --installed` lists `triple` (false without rustup).
fn rustup_target_installed(triple: &str) -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == triple)
        })
        .unwrap_or(false)
}

/// Finds an executable on PATH, like `which`.
fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            copy(&entry.path(), &dest)?;
        }
    }
    Ok(())
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn human_size(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
