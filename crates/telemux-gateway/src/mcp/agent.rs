//! Agent sessions in MCP: where a `wait_for` on an agent's state starts,
//! and the `list_projects` listing.
//!
//! The hard part is the common "send_text, then wait_for idle": right after
//! the prompt is typed the agent still reads `idle` from before it. So an
//! agent wait never trusts the current state when it has a start point; it
//! waits for an `agent_state` record in the output stream after that point:
//!
//! 1. the caller's `since`, else
//! 2. the stream position just before the last `send_text`/`send_keys` this
//!    server sent to the session ([`InputMarks`]), else
//! 3. the stream position now — and only then does an agent already in the
//!    wanted state end the wait at once (`already: true`).
//!
//! An input that starts no turn (an empty prompt) changes no state; the
//! wait then ends after the screen stayed still for [`NO_TURN_GRACE`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use telemux_bus::{ComputerStatus, Cursor};
use telemux_proto::{AgentPrompt, AgentState, ComputerName, SessionInfo, SessionName};

use super::page::Since;
use super::params::{ComputerProjectsOut, ProjectOut, ProjectsOut};
use super::wait::{AgentGoal, AgentWait, Until};
use super::McpServer;
use telemux_client::MeshError;

/// How long an agent's screen must stay still, with no state change after
/// the start point, before a wait concludes the input started no turn.
pub const NO_TURN_GRACE: Duration = Duration::from_secs(5);
/// Sessions remembered by [`InputMarks`] at most (oldest forgotten first).
const MAX_MARKS: usize = 4096;

/// The output cursor from just before the last input this server sent to
/// each session, shared by every connection of the server.
#[derive(Debug, Clone, Default)]
pub struct InputMarks {
    inner: Arc<Mutex<Marks>>,
}

/// Session key → (insertion number, cursor), and the last insertion number.
#[derive(Debug, Default)]
struct Marks {
    seq: u64,
    map: HashMap<String, (u64, String)>,
}

fn mark_key(c: &ComputerName, s: &SessionName) -> String {
    format!("{}/{}", c.key(), s.key())
}

impl InputMarks {
    /// Remembers `cursor` as the position before the newest input to `c/s`.
    pub fn note(&self, c: &ComputerName, s: &SessionName, cursor: &str) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Marks { seq, map } = &mut *g;
        *seq += 1;
        map.insert(mark_key(c, s), (*seq, cursor.to_string()));
        if map.len() > MAX_MARKS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (n, _))| *n)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
    }

    /// The cursor before the newest input to `c/s`, if this server sent one.
    pub fn get(&self, c: &ComputerName, s: &SessionName) -> Option<String> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.map.get(&mark_key(c, s)).map(|(_, cur)| cur.clone())
    }
}

/// How one `wait_for` call proceeds.
#[derive(Debug)]
pub enum WaitPlan {
    /// Follow the stream from `from` until `until`.
    Follow {
        /// What ends it.
        until: Until,
        /// Where reading starts.
        from: Cursor,
    },
    /// The agent is in the wanted state already; nothing to wait for.
    Already {
        /// Its state.
        state: AgentState,
        /// The stream position at the call (a cursor for later reads).
        cursor: String,
        /// The question it waits on, when that is its state.
        prompt: Option<AgentPrompt>,
    },
}

/// The listing entry of `c/s`, or a not-found error naming it.
pub async fn session_info(
    server: &McpServer,
    c: &ComputerName,
    s: &SessionName,
) -> Result<SessionInfo, MeshError> {
    server
        .mesh()
        .sessions(Some(c.as_str()))
        .await?
        .into_iter()
        .find(|i| i.name.eq_ignore_ascii_case(s.as_str()))
        .ok_or_else(|| MeshError::NotFound(format!("no session '{s}' on {c}")))
}

/// Decides where a wait on `c/s` starts and what ends it (module docs).
pub async fn plan_wait(
    server: &McpServer,
    c: &ComputerName,
    s: &SessionName,
    until: Until,
    since: Option<Since>,
) -> Result<WaitPlan, MeshError> {
    let goal = match until {
        Until::Idle(_) => AgentGoal::Idle,
        Until::Waiting => AgentGoal::Waiting,
        other => {
            let from = match since {
                Some(s) => Cursor::After(s.after),
                None => Cursor::End,
            };
            return Ok(WaitPlan::Follow { until: other, from });
        }
    };
    // Taken before the state is read: a change in between is then in the
    // stream after this point, never lost.
    let now = server.stream_end(c, s).await?;
    let info = session_info(server, c, s).await?;
    if info.agent.is_none() {
        return match until {
            Until::Waiting => Err(MeshError::BadInput(format!(
                "until 'waiting' needs an agent session; {c}/{s} runs no agent (start one with start_session agent=\"claude\", or wait with until=\"idle\", \"exit\" or \"text:<regex>\")"
            ))),
            other => Ok(WaitPlan::Follow {
                until: other,
                from: match since {
                    Some(s) => Cursor::After(s.after),
                    None => Cursor::After(now),
                },
            }),
        };
    }
    let until = Until::Agent(AgentWait {
        goal,
        current: info.agent_state,
        grace: NO_TURN_GRACE,
    });
    let start = since.map(|s| s.after).or_else(|| server.marks().get(c, s));
    match start {
        Some(after) => Ok(WaitPlan::Follow {
            until,
            from: Cursor::After(after),
        }),
        None => match info.agent_state {
            Some(state) if goal.reached_by(state) => Ok(WaitPlan::Already {
                state,
                cursor: now,
                prompt: info.agent_prompt.clone(),
            }),
            _ => Ok(WaitPlan::Follow {
                until,
                from: Cursor::After(now),
            }),
        },
    }
}

/// `list_projects`: projects and agent profiles of every (or one) computer.
pub async fn projects(
    server: &McpServer,
    computer: Option<&str>,
) -> Result<(ProjectsOut, String), MeshError> {
    let all = server.mesh().computers().await?;
    let chosen: Vec<&ComputerStatus> = match computer {
        Some(name) => {
            match all
                .iter()
                .find(|c| c.info.name.eq_ignore_ascii_case(name.trim()))
            {
                Some(c) => vec![c],
                // Resolving gives the usual "did you mean" error.
                None => {
                    server.mesh().resolve_computer(name).await?;
                    return Err(MeshError::NotFound(format!("no computer '{name}'")));
                }
            }
        }
        None => all.iter().collect(),
    };
    let out = ProjectsOut {
        computers: chosen
            .iter()
            .map(|c| {
                let mut projects: Vec<ProjectOut> = c
                    .info
                    .projects
                    .iter()
                    .map(|p| ProjectOut {
                        name: p.name.clone(),
                        dir: p.dir.clone(),
                    })
                    .collect();
                projects.sort_by_key(|p| p.name.to_ascii_lowercase());
                ComputerProjectsOut {
                    computer: c.info.name.clone(),
                    online: c.online,
                    projects,
                    agents: c.info.agents.clone(),
                }
            })
            .collect(),
    };
    let text = projects_text(&out);
    Ok((out, text))
}

/// The readable rendering of [`ProjectsOut`].
pub fn projects_text(out: &ProjectsOut) -> String {
    if out.computers.is_empty() {
        return "no computers have joined this mesh yet; start `telemux node` (or `telemux up`) on one".into();
    }
    let mut lines = Vec::new();
    for c in &out.computers {
        let online = if c.online { "online" } else { "offline" };
        lines.push(format!("{} ({online})", c.computer));
        if c.projects.is_empty() {
            lines.push("  no projects (name directories under [projects] in its config)".into());
        }
        for p in &c.projects {
            lines.push(format!("  {}  {}", p.name, p.dir));
        }
        let agents = if c.agents.is_empty() {
            "none".to_string()
        } else {
            c.agents.join(", ")
        };
        lines.push(format!("  agents: {agents}"));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_remember_the_newest_input_per_session_case_insensitively() {
        let m = InputMarks::default();
        let c = ComputerName::new("MozBook").unwrap();
        let s = SessionName::new("api").unwrap();
        assert_eq!(m.get(&c, &s), None);
        m.note(&c, &s, "1-0");
        m.note(&c, &s, "2-0");
        let c2 = ComputerName::new("mozbook").unwrap();
        let s2 = SessionName::new("API").unwrap();
        assert_eq!(m.get(&c2, &s2).as_deref(), Some("2-0"));
        for i in 0..(MAX_MARKS + 10) {
            let s = SessionName::new(&format!("s{i}")).unwrap();
            m.note(&c, &s, "3-0");
        }
        assert!(m.inner.lock().unwrap().map.len() <= MAX_MARKS);
        assert_eq!(m.get(&c, &s), None, "the oldest was forgotten");
    }
}
