//! The machine a run happened on, for the report: CPU, cores, RAM, kernel,
//! tool versions and — because the benchmark machine may be shared — the load
//! average when the run started.

use std::process::Command;

/// Facts about the machine and the checkout.
#[derive(Debug, Clone)]
pub struct Machine {
    fields: Vec<(String, String)>,
}

impl Machine {
    /// Collects everything now (call it before starting any benchmark process).
    pub fn describe(root: &std::path::Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let cores = std::thread::available_parallelism()
            .map(|n| n.get().to_string())
            .unwrap_or_else(|_| "?".into());
        let ram = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            })
            .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
            .unwrap_or_else(|| "?".into());
        let kernel = read_trim("/proc/sys/kernel/osrelease");
        let load = read_trim("/proc/loadavg")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        let fields = vec![
            ("CPU".into(), format!("{cpu}, {cores} cores")),
            ("RAM".into(), ram),
            ("kernel".into(), kernel),
            ("tmux".into(), run(&["tmux", "-V"])),
            ("redis".into(), run(&["redis-server", "--version"])),
            ("rustc".into(), run(&["rustc", "--version"])),
            ("load average at start (1/5/15 min)".into(), load),
            ("commit".into(), git(root)),
            ("date (UTC)".into(), run(&["date", "-u", "+%Y-%m-%d %H:%M"])),
        ];
        Machine { fields }
    }

    /// The facts as (name, value) pairs, in display order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// Adds a fact (e.g. the load average at the end).
    pub fn add(&mut self, k: &str, v: String) {
        self.fields.push((k.into(), v));
    }
}

/// The load average now, `1 5 15`.
pub fn loadavg() -> String {
    read_trim("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn run(argv: &[&str]) -> String {
    Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn git(root: &std::path::Path) -> String {
    let rev = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root)
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if rev.is_empty() {
        "?".into()
    } else if dirty {
        format!("{rev} (with local changes)")
    } else {
        rev
    }
}
