//! Toolsets: which MCP tools a server lists, so an agent pays context only
//! for the tools it is meant to use (`mcp.toolsets`).
//!
//! Every tool belongs to exactly one set. The default is `core` and
//! `agents`: driving sessions and answering agents' questions. The rest
//! (screens, files, messages, search, admin) are opt-in, or `all`. A tool
//! outside the chosen sets is not listed and cannot be called, and the
//! server's instructions leave out the lines about it.

use std::collections::BTreeSet;

use thiserror::Error;

/// Each toolset: its name, what it is for, and its tools.
pub const TOOLSETS: &[(&str, &str, &[&str])] = &[
    (
        "core",
        "computers and sessions: list, start, type, read, wait, run, kill",
        &[
            "list_computers",
            "list_sessions",
            "start_session",
            "send_text",
            "send_keys",
            "read_output",
            "run_command",
            "wait_for",
            "kill_session",
        ],
    ),
    (
        "agents",
        "AI agent sessions: projects, answering their prompts",
        &["list_projects", "answer_prompt"],
    ),
    ("screens", "a session's screen as a PNG", &["screenshot"]),
    (
        "files",
        "read and write files within files.roots",
        &["read_file", "write_file"],
    ),
    (
        "messages",
        "queued messages between sessions, the mesh event stream",
        &["send_message", "wait_for_event"],
    ),
    (
        "search",
        "search retained output, one session in detail",
        &["search_output", "session_info"],
    ),
    (
        "admin",
        "clean ended sessions, rename sessions",
        &["clean_sessions", "rename_session"],
    ),
];

/// The sets listed when `mcp.toolsets` is not given.
pub const DEFAULT_TOOLSETS: &[&str] = &["core", "agents"];

/// A `mcp.toolsets` value that names no toolset.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "mcp.toolsets: no toolset {name:?}{hint}; toolsets: {known}, or \"all\" (default: \"core,agents\")"
)]
pub struct UnknownToolset {
    /// The name given.
    pub name: String,
    /// ", did you mean X?" or empty.
    pub hint: String,
    /// Every toolset name, comma-separated.
    pub known: String,
}

/// The tools of the chosen sets: `spec` is comma-separated set names, or
/// `all`; empty means the default. Unknown names are an error naming the
/// valid ones.
pub fn tools_of(spec: &str) -> Result<BTreeSet<&'static str>, UnknownToolset> {
    let names: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let names = if names.is_empty() {
        DEFAULT_TOOLSETS.to_vec()
    } else {
        names
    };
    let mut tools = BTreeSet::new();
    for name in names {
        if name.eq_ignore_ascii_case("all") {
            tools.extend(TOOLSETS.iter().flat_map(|(_, _, t)| t.iter().copied()));
            continue;
        }
        let Some((_, _, set)) = TOOLSETS
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        else {
            let known: Vec<&str> = TOOLSETS.iter().map(|(n, _, _)| *n).collect();
            let near = telemux_proto::names::suggest(name, known.iter().copied());
            return Err(UnknownToolset {
                name: name.to_string(),
                hint: near
                    .first()
                    .map(|n| format!(", did you mean {n}?"))
                    .unwrap_or_default(),
                known: known.join(", "),
            });
        };
        tools.extend(set.iter().copied());
    }
    Ok(tools)
}

/// `instructions` without the lines that mention a tool not in `tools`
/// (a line names a tool as `name(`), so a model is never told of a tool it
/// cannot call.
pub fn instructions_for(instructions: &str, tools: &BTreeSet<&str>) -> String {
    let hidden: Vec<String> = TOOLSETS
        .iter()
        .flat_map(|(_, _, t)| t.iter())
        .filter(|t| !tools.contains(*t))
        .map(|t| format!("{t}("))
        .collect();
    instructions
        .lines()
        .filter(|l| !hidden.iter().any(|h| l.contains(h.as_str())))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_all_and_unknown() {
        let d = tools_of("").unwrap();
        assert!(d.contains("run_command") && d.contains("answer_prompt"));
        assert!(!d.contains("screenshot"));
        let all = tools_of("all").unwrap();
        assert_eq!(
            all.len(),
            TOOLSETS.iter().map(|(_, _, t)| t.len()).sum::<usize>()
        );
        let some = tools_of("core, Files").unwrap();
        assert!(some.contains("write_file") && !some.contains("answer_prompt"));
        let e = tools_of("core,fils").unwrap_err();
        assert_eq!(e.name, "fils");
        assert!(e.to_string().contains("did you mean files?"), "{e}");
        assert!(e.to_string().contains("screens"), "{e}");
    }

    #[test]
    fn instructions_drop_lines_of_hidden_tools() {
        let text = "a\n- see screenshot(session)\n- run run_command(c, x)";
        let core = tools_of("core").unwrap();
        assert_eq!(instructions_for(text, &core), "a\n- run run_command(c, x)");
    }
}
