//! What the kernel says about a process: RSS and CPU time from `/proc`, and the
//! children of a process, so footprint figures cover every process telemux
//! starts (control-mode clients, waker) and not only the node itself.

use std::collections::HashMap;
use std::time::Instant;

/// Resident set size of `pid` in KiB (`VmRSS`); `None` once it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// utime + stime of `pid` in clock ticks; `None` once it is gone.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parens: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After comm: state(3) ... utime is field 14, stime 15 → indexes 11, 12 here.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn clk_tck() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Direct children of `pid` (all threads).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// All descendants of `pid`, depth first.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut stack = children(pid);
    while let Some(p) = stack.pop() {
        out.push(p);
        stack.extend(children(p));
    }
    out
}

/// The command line of `pid`, arguments joined by spaces.
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// CPU time of a set of processes between two instants, as % of one core.
pub struct CpuMeter {
    start: Instant,
    ticks: HashMap<u32, u64>,
}

impl CpuMeter {
    /// Notes the current CPU time of `pids`.
    pub fn start(pids: &[u32]) -> CpuMeter {
        CpuMeter {
            start: Instant::now(),
            ticks: pids
                .iter()
                .filter_map(|&p| Some((p, cpu_ticks(p)?)))
                .collect(),
        }
    }

    /// Percent of one core each process used since [`start`](Self::start); a
    /// process that exited meanwhile is left out.
    pub fn per_pid(&self) -> HashMap<u32, f64> {
        let wall = self.start.elapsed().as_secs_f64().max(1e-3);
        let tck = clk_tck();
        self.ticks
            .iter()
            .filter_map(|(&p, &t0)| {
                let t1 = cpu_ticks(p)?;
                Some((p, t1.saturating_sub(t0) as f64 / tck / wall * 100.0))
            })
            .collect()
    }

    /// Sum of [`per_pid`](Self::per_pid).
    pub fn total(&self) -> f64 {
        self.per_pid().values().sum()
    }
}
