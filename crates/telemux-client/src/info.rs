//! [`Mesh::info`]: one session in detail. The node answers for what it owns
//! (listing, pid, size, last exit code, stream length and size); this side
//! adds the Telegram topic the gateway keeps for it and its mailbox counts.

use serde_json::json;
use telemux_proto::mailbox::Status;
use telemux_proto::{Op, ReplyBody, SessionDetail, SessionState};

use crate::mesh::{ago, Mesh, MeshError};

/// A session's messages by where they are (`telemux inbox` lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailboxCounts {
    /// Waiting to be typed, or typed and not yet taken.
    pub pending: usize,
    /// Taken by the target.
    pub delivered: usize,
    /// Dead-lettered or expired.
    pub dead: usize,
}

/// What `info` shows.
#[derive(Debug, Clone)]
pub struct Detail {
    /// The node's part.
    pub detail: SessionDetail,
    /// The forum topic of the session in the Telegram chat, if one was made.
    pub telegram_topic: Option<i64>,
    /// Its mailbox, when the node could list it.
    pub mailbox: Option<MailboxCounts>,
}

impl Mesh {
    /// `addr` in detail; see the module docs.
    pub async fn info(&self, addr: &str) -> Result<Detail, MeshError> {
        let (c, s) = self.resolve_session(addr).await?;
        let op = Op::Info {
            session: s.to_string(),
        };
        let detail = match self.call(&c, op).await? {
            ReplyBody::Info(d) => d,
            other => return Err(MeshError::unexpected(&other)),
        };
        let key = format!("{c}/{}", detail.info.name).to_ascii_lowercase();
        let telegram_topic = self.bus().tg_topic(&key).await?;
        let addr = format!("{c}/{}", detail.info.name);
        let mailbox = match self.mailbox(&addr).await {
            Ok((_, list)) => {
                let mut m = MailboxCounts::default();
                for d in list {
                    match d.status {
                        Status::Pending | Status::Typed => m.pending += 1,
                        Status::Delivered => m.delivered += 1,
                        Status::Dead | Status::Expired => m.dead += 1,
                        Status::Dropped => {}
                    }
                }
                Some(m)
            }
            Err(e) => {
                tracing::debug!(error = %e, "no mailbox counts for info");
                None
            }
        };
        Ok(Detail {
            detail,
            telegram_topic,
            mailbox,
        })
    }
}

/// `info --json` and MCP `session_info`'s structured content.
pub fn detail_json(d: &Detail) -> serde_json::Value {
    let i = &d.detail.info;
    json!({
        "session": format!("{}/{}", i.computer, i.name),
        "computer": i.computer,
        "name": i.name,
        "command": i.command,
        "cwd": i.cwd,
        "pid": d.detail.pid,
        "width": d.detail.width,
        "height": d.detail.height,
        "created_ms": i.created_ms,
        "last_activity_ms": i.last_activity_ms,
        "state": state_name(i.state),
        "exit_status": i.exit_status,
        "last_exit_code": d.detail.last_exit_code,
        "agent": i.agent,
        "agent_state": i.agent_state,
        "agent_since_ms": i.agent_since_ms,
        "stream_len": d.detail.stream_len,
        "stream_bytes": d.detail.stream_bytes,
        "mailbox": d.mailbox.map(|m| json!({"pending": m.pending, "delivered": m.delivered, "dead": m.dead})),
        "telegram_topic": d.telegram_topic,
    })
}

/// `info` for people: one `field value` line each.
pub fn detail_text(d: &Detail) -> String {
    let i = &d.detail.info;
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut state = state_name(i.state).to_string();
    if let Some(code) = i.exit_status {
        state.push_str(&format!(" (exit status {code})"));
    }
    let agent = match (&i.agent, i.agent_state) {
        (Some(a), Some(s)) => format!("{a} ({s})"),
        (Some(a), None) => a.clone(),
        _ => "-".into(),
    };
    let rows = [
        ("session", format!("{}/{}", i.computer, i.name)),
        ("command", i.command.clone()),
        ("cwd", i.cwd.clone()),
        ("pid", opt(d.detail.pid.map(|p| p.to_string()))),
        ("size", format!("{}x{}", d.detail.width, d.detail.height)),
        ("created", ago(i.created_ms)),
        ("last activity", ago(i.last_activity_ms)),
        ("state", state),
        ("agent", agent),
        (
            "last exit code",
            opt(d.detail.last_exit_code.map(|c| c.to_string())),
        ),
        (
            "output stream",
            format!(
                "{} records, {}",
                d.detail.stream_len,
                d.detail
                    .stream_bytes
                    .map_or("size unknown".into(), |b| format!("{b} bytes"))
            ),
        ),
        (
            "mailbox",
            opt(d.mailbox.map(|m| {
                format!(
                    "{} pending, {} delivered, {} dead",
                    m.pending, m.delivered, m.dead
                )
            })),
        ),
        (
            "telegram topic",
            opt(d.telegram_topic.map(|t| t.to_string())),
        ),
    ];
    rows.iter()
        .map(|(k, v)| format!("{k:<15} {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn state_name(s: SessionState) -> &'static str {
    match s {
        SessionState::Running => "running",
        SessionState::Exited => "exited",
    }
}
