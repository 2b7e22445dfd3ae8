//! `new_session`: creates a session (optionally running an agent) and
//! starts watching it before its command runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{limits, names, now_ms, AgentState, ErrorCode, SessionName};
use telemux_tmux::{wrap, wrap_agent, wrap_with_stdin, NewSession};

use super::agent_launch;
use crate::agent::AgentProfile;
use crate::error::OpError;
use crate::run_stdin::{self, Stdin};
use crate::session::{self, Origin};
use crate::state::Shared;

/// The agent profile called `name` (case-insensitively), or an error naming
/// the profiles this node has.
pub(crate) fn profile(shared: &Arc<Shared>, name: &str) -> Result<Arc<AgentProfile>, OpError> {
    let agents = &shared.cfg.agents;
    if let Some((_, p)) = agents.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
        return Ok(p.clone());
    }
    let hint = match names::did_you_mean(&names::suggest(name, agents.keys().map(String::as_str))) {
        h if h.is_empty() => ".".to_string(),
        h => h,
    };
    let known: Vec<&str> = agents.keys().map(String::as_str).collect();
    Err(OpError::new(
        ErrorCode::BadInput,
        format!(
            "no agent profile '{name}' on {}{hint} Profiles there: {} (define more under [agents] in its config)",
            shared.cfg.computer,
            known.join(", ")
        ),
    ))
}

/// The directory of project `name` (case-insensitively), unless `name` looks
/// like a path.
fn project_dir<'a>(shared: &'a Shared, name: &str) -> Option<&'a str> {
    if name.contains('/') || name.starts_with('~') || name == "." || name == ".." {
        return None;
    }
    shared
        .cfg
        .projects
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| p.dir.as_str())
}

fn expand_home(dir: &str) -> PathBuf {
    if dir == "~" {
        return std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/".into());
    }
    if let Some(rest) = dir.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    PathBuf::from(dir)
}

/// Picks a free default name: the command's base name (or `shell`), then `-2`, `-3`...
fn default_name(command: Option<&Vec<String>>, taken: &[String]) -> String {
    let base: String = command
        .and_then(|c| c.first())
        .map(|c| c.rsplit('/').next().unwrap_or(c).to_string())
        .unwrap_or_else(|| "shell".into())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(40)
        .collect();
    let base = if SessionName::new(&base).is_ok() {
        base
    } else {
        "shell".into()
    };
    let free = |n: &str| !taken.iter().any(|t| t.eq_ignore_ascii_case(n));
    if free(&base) {
        return base;
    }
    (2..)
        .map(|i| format!("{base}-{i}"))
        .find(|n| free(n))
        .expect("some name is free")
}

/// How a session's command is started, besides what it is.
pub(crate) struct Launch {
    /// Where its stdin comes from.
    pub stdin: Stdin,
    /// A `run`'s time limit.
    pub run_timeout: Option<Duration>,
    /// An agent resumes its last conversation.
    pub resume: bool,
    /// Who asked (the request's sender), for the `session_created` event.
    pub by: String,
}

/// Creates a session (held on a placeholder until watched), then starts the
/// real command in it, reading `stdin`. Returns the name and the output cursor.
pub(crate) async fn create(
    shared: &Arc<Shared>,
    name: Option<String>,
    cwd: Option<String>,
    command: Option<Vec<String>>,
    agent: Option<Arc<AgentProfile>>,
    launch: Launch,
) -> Result<(String, String), OpError> {
    let Launch {
        stdin,
        run_timeout,
        resume,
        by,
    } = launch;
    let mut agent_env = Vec::new();
    let mut resume_argv = None;
    let command = match (&agent, command) {
        (_, Some(c)) => Some(c),
        (Some(a), None) => {
            let l = agent_launch::argv(shared, a, resume).await?;
            agent_env = l.env;
            resume_argv = Some(l.resume_argv);
            Some(l.argv)
        }
        (None, None) => None,
    };
    if let Some(c) = &command {
        let size: usize = c.iter().map(|a| a.len() + 1).sum();
        limits::check("command", size, limits::MAX_COMMAND_BYTES)?;
        if c.is_empty() {
            return Err(OpError::new(ErrorCode::BadInput, "the command is empty"));
        }
    }
    let cwd = match cwd {
        Some(d) => {
            let p = match project_dir(shared, &d) {
                Some(dir) => expand_home(dir),
                None => expand_home(&d),
            };
            match tokio::fs::metadata(&p).await {
                Ok(m) if m.is_dir() => Some(p),
                Ok(_) => {
                    return Err(OpError::new(
                        ErrorCode::BadInput,
                        format!("'{d}' on {} is not a directory", shared.cfg.computer),
                    ))
                }
                Err(e) => {
                    let projects: Vec<&str> = shared
                        .cfg
                        .projects
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect();
                    let hint = if projects.is_empty() {
                        String::new()
                    } else {
                        let near =
                            names::did_you_mean(&names::suggest(&d, projects.iter().copied()));
                        format!("{near}; projects there: {}", projects.join(", "))
                    };
                    return Err(OpError::new(
                        ErrorCode::BadInput,
                        format!("no directory '{d}' on {}: {e}{hint}", shared.cfg.computer),
                    ));
                }
            }
        }
        None => std::env::var_os("HOME").map(PathBuf::from),
    };
    // The name is claimed in the session table instead of holding a
    // node-wide lock across the tmux calls: two creates never pick one name
    // (claimed names count as taken), and reconcile leaves the new session
    // alone until its watcher is in the table (see `state::SessionTable`).
    // The claim is held until `session::start` has inserted the watcher.
    // Names the session as it exists (`txt`), not as typed (`TXT`).
    let exists = |n: &str| {
        OpError::new(
            ErrorCode::Exists,
            format!(
                "session {}/{} exists already; pick another name or kill it first",
                shared.cfg.computer, n
            ),
        )
    };
    let (name, _claim) = loop {
        let mut taken: Vec<String> = shared
            .tmux
            .list()
            .await?
            .into_iter()
            .map(|p| p.session.to_string())
            .collect();
        taken.extend(shared.sessions.claimed());
        let picked = match &name {
            Some(n) => {
                let n = SessionName::new(n)?;
                if let Some(t) = taken.iter().find(|t| t.eq_ignore_ascii_case(n.as_str())) {
                    return Err(exists(t));
                }
                n
            }
            None => {
                let base = agent.as_ref().map(|a| vec![a.name.clone()]);
                SessionName::new(&default_name(base.as_ref().or(command.as_ref()), &taken))?
            }
        };
        match shared.sessions.claim(&picked.key()) {
            Some(claim) => break (picked, claim),
            // Claimed by a concurrent create since the listing.
            None if name.is_some() => return Err(exists(picked.as_str())),
            None => continue,
        }
    };
    let (argv, mut env) = match command {
        Some(c) => (c, Vec::new()),
        None => (shared.shell.argv.clone(), shared.shell.env.clone()),
    };
    env.extend(agent_env);
    env.push(("TELEMUX_COMPUTER".into(), shared.cfg.computer.to_string()));
    env.push(("TELEMUX_SESSION".into(), name.to_string()));
    // The wrapper holds the command until the watcher is attached, so its
    // first output is streamed too (see telemux-tmux/src/wrapper.rs).
    let wrapped = match &stdin {
        // An agent's wrapper can suspend and resume it (agents.suspend_after).
        Stdin::Terminal if resume_argv.is_some() => {
            wrap_agent(&argv, resume_argv.as_deref().unwrap_or_default())
        }
        Stdin::Terminal => wrap(&argv),
        Stdin::Null => wrap_with_stdin(&argv, Path::new("/dev/null")),
        Stdin::Bytes(bytes) => {
            let file = run_stdin::write(shared, &name, bytes).await.map_err(|e| {
                OpError::new(
                    ErrorCode::Internal,
                    format!(
                        "cannot write the run's stdin under {} on {}: {e}",
                        shared.cfg.state_dir.display(),
                        shared.cfg.computer
                    ),
                )
            });
            match file {
                Ok(file) => wrap_with_stdin(&argv, &file),
                Err(e) => {
                    run_stdin::remove(shared, &name).await;
                    return Err(e);
                }
            }
        }
    };
    let made = shared
        .tmux
        .new_session(&NewSession {
            name: name.clone(),
            cwd: cwd.clone(),
            command: Some(wrapped),
            env,
            width: shared.cfg.size.0,
            height: shared.cfg.size.1,
        })
        .await;
    if let Err(e) = made {
        run_stdin::remove(shared, &name).await;
        return Err(e.into());
    }
    let started = async {
        if let Some(a) = &agent {
            // Before the watcher starts, so it tracks the agent from the first frame.
            shared.tmux.set_agent(&name, &a.name).await?;
            shared
                .tmux
                .set_agent_state(&name, AgentState::Starting, now_ms())
                .await?;
        }
        if let Some(t) = run_timeout {
            // Marks the run session in tmux, so a restarted node adopting it
            // still kills it once its exit is published.
            let deadline = now_ms().saturating_add(t.as_millis() as u64);
            shared.tmux.set_run_deadline(&name, deadline).await?;
        }
        let pane = shared.tmux.pane_status(&name).await?;
        let cursor =
            session::start(shared, name.clone(), Origin::Created, run_timeout, &by).await?;
        shared.tmux.release_start(&pane.pane_id).await?;
        Ok::<_, OpError>(cursor)
    }
    .await;
    match started {
        Ok(cursor) => {
            tracing::info!(computer = %shared.cfg.computer, session = %name, "session created");
            Ok((name.to_string(), cursor))
        }
        Err(e) => {
            let _ = shared.tmux.kill_session(&name).await;
            run_stdin::remove(shared, &name).await;
            Err(e)
        }
    }
}
