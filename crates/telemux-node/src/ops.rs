//! The operations a node performs for requesters (`Op` → tmux → `ReplyBody`).
//!
//! Everything that reaches tmux is validated here first: names against the
//! naming rule, text and key counts against limits, keys against the known
//! list. Text is always typed literally.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{
    limits, names, ErrorCode, Key, Op, ReplyBody, SessionInfo, SessionName, SessionState,
};
use telemux_tmux::{wrap, NewSession};

use crate::error::OpError;
use crate::node::Shared;
use crate::watcher::{self, Origin};

/// Runs one operation and returns the reply payload.
pub(crate) async fn execute(shared: &Arc<Shared>, op: Op) -> Result<ReplyBody, OpError> {
    match op {
        Op::ListSessions => Ok(ReplyBody::Sessions(list(shared).await?)),
        Op::NewSession { name, cwd, command } => {
            let (session, cursor) = create(shared, name, cwd, command, None).await?;
            Ok(ReplyBody::Created { session, cursor })
        }
        Op::Run {
            cwd,
            command,
            timeout_ms,
        } => {
            if command.is_empty() {
                return Err(OpError::new(
                    ErrorCode::BadInput,
                    "run needs a command: `telemux run COMPUTER -- COMMAND...`",
                ));
            }
            let name = format!("run-{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
            let timeout = Duration::from_millis(timeout_ms.max(1));
            let (session, cursor) =
                create(shared, Some(name), cwd, Some(command), Some(timeout)).await?;
            Ok(ReplyBody::Created { session, cursor })
        }
        Op::SendText {
            session,
            text,
            enter,
        } => {
            limits::check("text", text.len(), limits::MAX_TEXT_BYTES)?;
            let s = existing(shared, &session).await?;
            if !text.is_empty() {
                shared.tmux.send_text(&s, &text).await?;
            }
            if enter {
                if !text.is_empty() {
                    tokio::time::sleep(shared.cfg.enter_delay).await;
                }
                shared.tmux.send_keys(&s, &[Key::Enter]).await?;
            }
            Ok(ReplyBody::Ok)
        }
        Op::SendKeys { session, keys } => {
            if keys.is_empty() {
                return Err(OpError::new(
                    ErrorCode::BadInput,
                    format!(
                        "no keys given; allowed: {}",
                        telemux_proto::input::ALLOWED_KEYS_HELP
                    ),
                ));
            }
            if keys.len() > limits::MAX_KEYS {
                return Err(OpError::new(
                    ErrorCode::BadInput,
                    format!(
                        "{} keys given; at most {} per request",
                        keys.len(),
                        limits::MAX_KEYS
                    ),
                ));
            }
            let keys = keys
                .iter()
                .map(|k| Key::parse(k))
                .collect::<Result<Vec<_>, _>>()?;
            let s = existing(shared, &session).await?;
            shared.tmux.send_keys(&s, &keys).await?;
            Ok(ReplyBody::Ok)
        }
        Op::Read {
            session,
            lines,
            raw,
        } => {
            let s = existing(shared, &session).await?;
            let text = shared
                .tmux
                .capture(&s, lines.min(limits::MAX_READ_LINES), raw)
                .await?;
            Ok(ReplyBody::Screen { text })
        }
        Op::Kill { session } => {
            let s = existing(shared, &session).await?;
            shared.tmux.kill_session(&s).await?;
            Ok(ReplyBody::Ok)
        }
    }
}

/// This node's sessions, in name order.
async fn list(shared: &Arc<Shared>) -> Result<Vec<SessionInfo>, OpError> {
    let mut out: Vec<SessionInfo> = shared
        .tmux
        .list()
        .await?
        .into_iter()
        .map(|p| SessionInfo {
            computer: shared.cfg.computer.to_string(),
            name: p.session.to_string(),
            command: p.command.clone(),
            cwd: p.cwd.clone(),
            created_ms: p.created_ms,
            state: if p.dead {
                SessionState::Exited
            } else {
                SessionState::Running
            },
            last_activity_ms: p.activity_ms,
            exit_status: if p.dead { p.exit_status() } else { None },
        })
        .collect();
    out.sort_by_key(|s| s.name.to_ascii_lowercase());
    Ok(out)
}

/// Resolves a session name on this node (case-insensitively), or says which
/// names exist.
async fn existing(shared: &Arc<Shared>, session: &str) -> Result<SessionName, OpError> {
    let wanted = SessionName::new(session)?;
    let panes = shared.tmux.list().await?;
    if let Some(p) = panes.iter().find(|p| p.session == wanted) {
        return Ok(p.session.clone());
    }
    if let Some(p) = panes
        .iter()
        .find(|p| p.session.as_str().eq_ignore_ascii_case(wanted.as_str()))
    {
        return Ok(p.session.clone());
    }
    let known: Vec<&str> = panes.iter().map(|p| p.session.as_str()).collect();
    let hint = names::did_you_mean(&names::suggest(session, known.iter().copied()));
    let listing = if known.is_empty() {
        " (it has no sessions)".to_string()
    } else if hint.is_empty() {
        format!("; sessions there: {}", known.join(", "))
    } else {
        hint
    };
    Err(OpError::new(
        ErrorCode::NoSuchSession,
        format!("no session '{session}' on {}{listing}", shared.cfg.computer),
    ))
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

/// Creates a session (held on a placeholder until watched), then starts the
/// real command in it. Returns the name and the output cursor.
async fn create(
    shared: &Arc<Shared>,
    name: Option<String>,
    cwd: Option<String>,
    command: Option<Vec<String>>,
    run_timeout: Option<Duration>,
) -> Result<(String, String), OpError> {
    if let Some(c) = &command {
        let size: usize = c.iter().map(|a| a.len() + 1).sum();
        limits::check("command", size, limits::MAX_COMMAND_BYTES)?;
        if c.is_empty() {
            return Err(OpError::new(ErrorCode::BadInput, "the command is empty"));
        }
    }
    let cwd = match cwd {
        Some(d) => {
            let p = expand_home(&d);
            match tokio::fs::metadata(&p).await {
                Ok(m) if m.is_dir() => Some(p),
                Ok(_) => {
                    return Err(OpError::new(
                        ErrorCode::BadInput,
                        format!("'{d}' on {} is not a directory", shared.cfg.computer),
                    ))
                }
                Err(e) => {
                    return Err(OpError::new(
                        ErrorCode::BadInput,
                        format!("no directory '{d}' on {}: {e}", shared.cfg.computer),
                    ))
                }
            }
        }
        None => std::env::var_os("HOME").map(PathBuf::from),
    };
    let _topology = shared.topology.lock().await;
    let taken: Vec<String> = shared
        .tmux
        .list()
        .await?
        .into_iter()
        .map(|p| p.session.to_string())
        .collect();
    let name = match name {
        Some(n) => {
            let n = SessionName::new(&n)?;
            if taken.iter().any(|t| t.eq_ignore_ascii_case(n.as_str())) {
                return Err(OpError::new(
                    ErrorCode::Exists,
                    format!(
                        "session {}/{} exists already; pick another name or kill it first",
                        shared.cfg.computer, n
                    ),
                ));
            }
            n
        }
        None => SessionName::new(&default_name(command.as_ref(), &taken))?,
    };
    let (argv, mut env) = match command {
        Some(c) => (c, Vec::new()),
        None => (shared.shell.argv.clone(), shared.shell.env.clone()),
    };
    env.push(("TELEMUX_COMPUTER".into(), shared.cfg.computer.to_string()));
    env.push(("TELEMUX_SESSION".into(), name.to_string()));
    // The wrapper holds the command until the watcher is attached, so its
    // first output is streamed too (see telemux-tmux/src/wrapper.rs).
    shared
        .tmux
        .new_session(&NewSession {
            name: name.clone(),
            cwd: cwd.clone(),
            command: Some(wrap(&argv)),
            env,
            width: shared.cfg.size.0,
            height: shared.cfg.size.1,
        })
        .await?;
    let started = async {
        let pane = shared.tmux.pane_status(&name).await?;
        let cursor = watcher::start(shared, name.clone(), Origin::Created, run_timeout).await?;
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
            Err(e)
        }
    }
}
