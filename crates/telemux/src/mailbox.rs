//! `telemux send --when ...` (a message queued in the target's mailbox, and
//! with `--notify` its answer) and `telemux inbox` (a session's mailbox).

use std::time::Duration;

use serde_json::json;
use telemux_client::{parse_duration, Mesh, MeshError, Message};
use telemux_proto::mailbox::Delivery;
use telemux_proto::When;

use crate::out::outln;

/// `send` with `--when`, as typed.
pub struct Queue {
    /// Target.
    pub session: String,
    /// Text.
    pub text: String,
    /// `--when`.
    pub when: String,
    /// `--ttl`.
    pub ttl: Option<String>,
    /// `--from`.
    pub from: Option<String>,
    /// `--notify`.
    pub notify: bool,
    /// `--reply-to`.
    pub reply_to: Option<String>,
    /// `--wait`.
    pub wait: Option<String>,
}

fn duration(flag: &str, s: Option<&str>, default: Duration) -> Result<Duration, MeshError> {
    match s {
        None => Ok(default),
        Some(s) => parse_duration(s).filter(|d| !d.is_zero()).ok_or_else(|| {
            MeshError::BadInput(format!(
                "bad {flag} {s:?}: give a number and a unit, such as 30s, 10m, 2h or 1d"
            ))
        }),
    }
}

/// Queues the message; with `--notify` waits for and prints the answer.
pub async fn send(mesh: &Mesh, q: Queue, json: bool) -> Result<i32, MeshError> {
    let when = When::parse(&q.when).map_err(|e| MeshError::BadInput(e.to_string()))?;
    let ttl = q
        .ttl
        .as_deref()
        .map(|t| duration("--ttl", Some(t), Duration::ZERO))
        .transpose()?;
    let wait = duration("--wait", q.wait.as_deref(), Duration::from_secs(600))?;
    let mut sent = mesh
        .send_message(Message {
            session: q.session,
            text: q.text,
            when,
            ttl,
            from: q.from,
            notify: q.notify,
            reply_to: q.reply_to,
        })
        .await?;
    let d = &sent.delivery;
    let addr = format!("{}/{}", sent.computer, d.letter.session);
    if !q.notify {
        if json {
            outln!("{}", delivery_json(&sent.computer, d));
        } else {
            let reply = match &d.letter.reply_to {
                Some(r) => format!("; its answer will be queued for {r}"),
                None => String::new(),
            };
            outln!(
                "queued {} for {addr} (when {}){reply}",
                d.letter.id,
                q.when.trim()
            );
        }
        return Ok(0);
    }
    if !json {
        eprintln!(
            "telemux: queued {} for {addr}; waiting for its answer",
            d.letter.id
        );
    }
    let answer = sent.answer(wait).await?;
    if json {
        outln!(
            "{}",
            json!({"id": sent.delivery.letter.id, "session": addr, "answer": answer.text, "exit_code": answer.exit_code})
        );
    } else {
        outln!("{}", answer.text);
    }
    Ok(0)
}

/// Lists a session's mailbox, or retries/drops one message of it.
pub async fn inbox(
    mesh: &Mesh,
    session: &str,
    retry: Option<String>,
    drop: Option<String>,
    json: bool,
) -> Result<i32, MeshError> {
    if let Some((id, again)) = retry.map(|i| (i, true)).or(drop.map(|i| (i, false))) {
        let d = mesh.mailbox_change(session, &id, again).await?;
        if json {
            outln!("{}", delivery_json("", &d));
        } else {
            outln!("{} is {}", d.letter.id, status(&d));
        }
        return Ok(0);
    }
    let (computer, list) = mesh.mailbox(session).await?;
    if json {
        let all: Vec<_> = list.iter().map(|d| delivery_json(&computer, d)).collect();
        outln!("{}", serde_json::Value::Array(all));
        return Ok(0);
    }
    if list.is_empty() {
        outln!("no messages for {session}");
        return Ok(0);
    }
    for d in &list {
        let preview: String = d.letter.text.chars().take(40).collect();
        outln!(
            "{}  {:<9}  tries {}  from {}  {:?}  {}",
            d.letter.id,
            status(d),
            d.attempts,
            d.letter.from,
            preview,
            d.detail
        );
    }
    Ok(0)
}

fn status(d: &Delivery) -> String {
    serde_json::to_value(d.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn delivery_json(computer: &str, d: &Delivery) -> serde_json::Value {
    json!({
        "id": d.letter.id,
        "computer": computer,
        "session": d.letter.session,
        "status": status(d),
        "attempts": d.attempts,
        "when": d.letter.when,
        "from": d.letter.from,
        "text": d.letter.text,
        "expires_ms": d.letter.expires_ms,
        "queued_ms": d.letter.queued_ms,
        "changed_ms": d.changed_ms,
        "detail": d.detail,
        "notify": d.letter.notify,
        "reply_to": d.letter.reply_to,
    })
}
