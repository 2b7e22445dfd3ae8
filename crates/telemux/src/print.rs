//! Printing results for people (aligned tables) and for programs (`--json`).

use std::path::Path;

use serde_json::json;
use telemux_bus::ComputerStatus;
use telemux_client::mesh::ago;
use telemux_proto::{SessionInfo, SessionState, PROTOCOL_VERSION};

use crate::config::Config;
use crate::out::outln;

/// Prints rows as left-aligned columns under a header.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        outln!("{}", s.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

/// Whether this build can talk to the node: envelopes carry the protocol
/// version, and a node refuses (dead-letters) any other one.
fn compatible(c: &ComputerStatus) -> bool {
    c.info.proto == PROTOCOL_VERSION
}

/// STATUS column: online/offline, plus a protocol mismatch, which must be
/// visible rather than show up later as commands that never get answered.
fn status_text(c: &ComputerStatus) -> String {
    let state = if c.online { "online" } else { "offline" };
    if compatible(c) {
        state.into()
    } else {
        format!("{state}, incompatible protocol v{}", c.info.proto)
    }
}

/// `computers` output.
pub fn computers(list: &[ComputerStatus], json: bool) {
    if json {
        let v: Vec<_> = list
            .iter()
            .map(|c| {
                json!({
                    "name": c.info.name,
                    "online": c.online,
                    "last_seen_ms": c.info.last_seen_ms,
                    "sessions": c.info.sessions,
                    "os": c.info.os,
                    "version": c.info.version,
                    "proto": c.info.proto,
                    "compatible": compatible(c),
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(v));
        return;
    }
    if list.is_empty() {
        outln!(
            "no computers have joined this mesh yet; start `telemux node` (or `telemux up`) on one"
        );
        return;
    }
    let rows = list
        .iter()
        .map(|c| {
            vec![
                c.info.name.clone(),
                status_text(c),
                if c.online {
                    "now".into()
                } else {
                    ago(c.info.last_seen_ms)
                },
                c.info.sessions.to_string(),
                c.info.os.clone(),
                c.info.version.clone(),
            ]
        })
        .collect();
    table(
        &["NAME", "STATUS", "LAST SEEN", "SESSIONS", "OS", "VERSION"],
        rows,
    );
    if list.iter().any(|c| !compatible(c)) {
        eprintln!(
            "note: this telemux speaks protocol v{PROTOCOL_VERSION} ({}); upgrade the incompatible computers (or this one) so all speak the same version",
            env!("CARGO_PKG_VERSION")
        );
    }
}

fn state(s: &SessionInfo) -> String {
    match (s.state, s.exit_status) {
        (SessionState::Running, _) => match (&s.agent, s.agent_state) {
            (Some(a), Some(st)) => {
                let tokens = s
                    .agent_usage
                    .map(|u| format!(" ({} in / {} out tokens)", u.input_tokens, u.output_tokens))
                    .unwrap_or_default();
                format!("{a}: {st}{tokens}")
            }
            _ => "running".into(),
        },
        (SessionState::Exited, Some(c)) => format!("exited {c}"),
        (SessionState::Exited, None) => "exited".into(),
    }
}

/// `projects` output: every computer's named directories.
pub fn projects(list: &[ComputerStatus], json: bool) {
    if json {
        let v: Vec<_> = list
            .iter()
            .flat_map(|c| {
                c.info.projects.iter().map(move |p| {
                    json!({"computer": c.info.name, "name": p.name, "dir": p.dir, "online": c.online})
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(v));
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .flat_map(|c| {
            c.info.projects.iter().map(move |p| {
                vec![
                    format!("{}/{}", c.info.name, p.name),
                    p.dir.clone(),
                    if c.online { "online" } else { "offline" }.to_string(),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        outln!(
            "no projects; add some under [projects] in a computer's config (api = \"~/apps/api\")"
        );
        return;
    }
    table(&["PROJECT", "DIR", "COMPUTER"], rows);
}

/// `sessions` output.
pub fn sessions(list: &[SessionInfo], json: bool) {
    if json {
        let v: Vec<_> = list
            .iter()
            .map(|s| {
                json!({
                    "computer": s.computer,
                    "name": s.name,
                    "command": s.command,
                    "cwd": s.cwd,
                    "created_ms": s.created_ms,
                    "state": match s.state { SessionState::Running => "running", SessionState::Exited => "exited" },
                    "last_activity_ms": s.last_activity_ms,
                    "exit_status": s.exit_status,
                    "agent": s.agent,
                    "agent_state": s.agent_state,
                    "agent_since_ms": s.agent_since_ms,
                    "agent_prompt": s.agent_prompt,
                    "agent_usage": s.agent_usage,
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(v));
        return;
    }
    if list.is_empty() {
        outln!("no sessions; start one with `telemux new COMPUTER`");
        return;
    }
    let rows = list
        .iter()
        .map(|s| {
            vec![
                format!("{}/{}", s.computer, s.name),
                s.command.clone(),
                s.cwd.clone(),
                ago(s.created_ms),
                state(s),
                ago(s.last_activity_ms),
            ]
        })
        .collect();
    table(
        &[
            "SESSION",
            "COMMAND",
            "CWD",
            "CREATED",
            "STATE",
            "LAST ACTIVITY",
        ],
        rows,
    );
}

/// `config show` output.
pub fn config(cfg: &Config, path: Option<&Path>, json: bool) {
    if json {
        outln!("{}", serde_json::to_string_pretty(cfg).unwrap_or_default());
        return;
    }
    match path {
        Some(p) => outln!("# from {} and TELEMUX_* environment", p.display()),
        None => outln!("# no config file; defaults and TELEMUX_* environment"),
    }
    outln!("{}", serde_json::to_string_pretty(cfg).unwrap_or_default());
}
