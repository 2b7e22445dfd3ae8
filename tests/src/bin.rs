//! Finding (building once) the real `telemux` binary, and running it isolated.
//!
//! The scenarios test the binary users run, not library calls, so [`telemux_bin`]
//! builds `-p telemux --bin telemux` once per test process, with the same profile and
//! target dir as the test binary itself (derived from the test executable's path, so
//! `CARGO_TARGET_DIR`, `--release` and `--target` all carry over). `TELEMUX_BIN`
//! overrides this with a prebuilt binary.
//!
//! [`isolated_command`] gives every child process a throwaway HOME and XDG dirs and
//! strips inherited `TELEMUX_*` and tmux variables, so nothing from the developer's
//! own setup leaks into a test.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Path of the `telemux` binary, built on first use; panics with cargo's output if the
/// build fails.
pub fn telemux_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN.get_or_init(locate_or_build) {
        Ok(path) => path.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn locate_or_build() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("TELEMUX_BIN") {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!("TELEMUX_BIN={} is not a file", bin.display()))
        };
    }
    let layout = BuildLayout::of_current_exe()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace");
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace)
        .args(["build", "--quiet", "-p", "telemux", "--bin", "telemux"])
        .arg("--profile")
        .arg(&layout.cargo_profile)
        .arg("--target-dir")
        .arg(&layout.target_dir);
    if let Some(triple) = &layout.triple {
        cmd.arg("--target").arg(triple);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("running {}: {e}", Path::new(&cargo).display()))?;
    if !out.status.success() {
        return Err(format!(
            "building telemux failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let bin = layout.profile_dir.join("telemux");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "cargo built telemux but {} is missing",
            bin.display()
        ))
    }
}

/// Where cargo put the running test binary: `<target>/[<triple>/]<profile>/deps/<exe>`.
struct BuildLayout {
    target_dir: PathBuf,
    triple: Option<String>,
    profile_dir: PathBuf,
    cargo_profile: String,
}

impl BuildLayout {
    fn of_current_exe() -> Result<BuildLayout, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| format!("unexpected test binary location {}", exe.display()))?
            .to_path_buf();
        let dir_name = profile_dir
            .file_name()
            .and_then(OsStr::to_str)
            .unwrap_or("debug");
        // The dev profile's directory is called "debug"; every other profile's
        // directory carries the profile's own name.
        let cargo_profile = match dir_name {
            "debug" => "dev".to_string(),
            other => other.to_string(),
        };
        let parent = profile_dir
            .parent()
            .ok_or("test binary has no target dir")?;
        // Cargo marks the root of every target dir with CACHEDIR.TAG; a directory
        // without one between it and the profile dir is a `--target <triple>` dir.
        let (target_dir, triple) = if parent.join("CACHEDIR.TAG").exists() {
            (parent.to_path_buf(), None)
        } else {
            let triple = parent
                .file_name()
                .and_then(OsStr::to_str)
                .map(str::to_string);
            let root = parent
                .parent()
                .ok_or("no target dir above the triple dir")?;
            (root.to_path_buf(), triple)
        };
        Ok(BuildLayout {
            target_dir,
            triple,
            profile_dir,
            cargo_profile,
        })
    }
}

/// A `telemux` command whose HOME, XDG dirs and config are `home`, with no inherited
/// `TELEMUX_*`, `TMUX` or colour settings.
pub(crate) fn isolated_command(home: &Path) -> Command {
    isolated_program(telemux_bin(), home)
}

/// Any `program` with the isolated environment of [`isolated_command`] (e.g.
/// `sh` running a pipeline around `telemux`).
pub(crate) fn isolated_program(program: impl AsRef<OsStr>, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TELEMUX_") {
            cmd.env_remove(&key);
        }
    }
    // The developer's own model keys must not reach agents run by tests.
    for key in crate::real_agents::CONFLICTING_ENV {
        cmd.env_remove(key);
    }
    cmd.env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_RUNTIME_DIR", home)
        .env("NO_COLOR", "1")
        // The MCP tests exercise every tool; the default listing has its own tests.
        .env("TELEMUX_MCP__TOOLSETS", "all")
        .current_dir(home);
    cmd
}

/// A fresh private directory to serve as a child's HOME.
pub(crate) fn temp_home(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("creating a temp HOME")
}
