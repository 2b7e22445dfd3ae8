//! `send_text` and `send_keys`: typing into a session, ordered by the
//! session's input gate, with the confirming second Enter for idle agents.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use telemux_proto::{limits, AgentState, ErrorCode, Key, MeshEvent, ReplyBody, SessionName};
use tokio::sync::watch;

use super::target::{targeted, Target};
use crate::agent::AgentProfile;
use crate::error::OpError;
use crate::state::{InputGate, Shared};

/// `Op::SendText`: checks the size, then types into the session.
pub(crate) async fn send_text_op(
    shared: &Arc<Shared>,
    session: &str,
    text: String,
    enter: bool,
    by: &str,
) -> Result<ReplyBody, OpError> {
    limits::check("text", text.len(), limits::MAX_TEXT_BYTES)?;
    let text = &text;
    targeted(shared, session, move |t| async move {
        let name = t.session.clone();
        let done = send_text(shared, t, text, enter).await?;
        let keys = if enter {
            vec!["Enter".to_string()]
        } else {
            Vec::new()
        };
        written(shared, &name, by, text.chars().count(), keys);
        Ok(done)
    })
    .await
}

/// Publishes `input_written` for input typed into `session` on behalf of `by`.
fn written(shared: &Shared, session: &SessionName, by: &str, chars: usize, keys: Vec<String>) {
    shared.mesh_event(MeshEvent::InputWritten {
        computer: shared.cfg.computer.to_string(),
        session: session.to_string(),
        by: by.to_string(),
        chars: u32::try_from(chars).unwrap_or(u32::MAX),
        keys,
    });
}

/// `Op::SendKeys`: checks and parses the keys, then presses them.
pub(crate) async fn send_keys(
    shared: &Arc<Shared>,
    session: &str,
    keys: Vec<String>,
    by: &str,
) -> Result<ReplyBody, OpError> {
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
    let parsed = &keys
        .iter()
        .map(|k| Key::parse(k))
        .collect::<Result<Vec<_>, _>>()?;
    let keys = &keys;
    targeted(shared, session, move |t| async move {
        let _typing = t.begin_input().await;
        shared.tmux.send_keys(&t.session, parsed).await?;
        written(shared, &t.session, by, 0, keys.clone());
        Ok(ReplyBody::Ok)
    })
    .await
}

/// Types `text` (and then Enter) into a session.
///
/// A prompt typed into an idle agent is confirmed afterwards: some agents
/// take an Enter that follows a paste too closely as a newline in their
/// input box, and the prompt then just sits there. When the agent's state
/// does not change within [`SUBMIT_CONFIRM`], and nothing else was typed into
/// the session meanwhile, Enter is pressed once more (an empty input box
/// ignores it). The reply does not wait for that: it says "written"; the
/// agent's `working` state on the session's stream says "accepted". Shells
/// and other programs get no second Enter: the terminal never loses one, and
/// a stray Enter could answer a later `[Y/n]`.
async fn send_text(
    shared: &Arc<Shared>,
    t: Target,
    text: &str,
    enter: bool,
) -> Result<ReplyBody, OpError> {
    let typing = t.begin_input().await;
    super::resume::if_suspended(shared, &t).await?;
    let pause = enter_pause(
        shared.cfg.agents.get(&t.agent).map(|a| &**a),
        shared.cfg.enter_delay,
    );
    if enter && !text.is_empty() && pause.is_none() {
        // A plain shell: text and Enter in one tmux call, no pause.
        shared.tmux.send_text_enter(&t.session, text).await?;
        return Ok(ReplyBody::Ok);
    }
    if !text.is_empty() {
        shared.tmux.send_text(&t.session, text).await?;
    }
    if enter {
        if let (Some(delay), false) = (pause, text.is_empty()) {
            tokio::time::sleep(delay).await;
        }
        // Only a prompt typed into an idle agent is confirmed.
        let confirm = t.agent_changes.clone().and_then(|mut rx| {
            let idle = *rx.borrow_and_update() == AgentState::Idle;
            (idle && !text.is_empty()).then_some(rx)
        });
        shared.tmux.send_keys(&t.session, &[Key::Enter]).await?;
        if let (Some(rx), Some(gate), Some((_, generation))) = (confirm, t.input.clone(), &typing) {
            let confirm = confirm_submit(shared.clone(), t.session.clone(), rx, gate, *generation);
            shared.tracker.spawn(confirm);
        }
    }
    Ok(ReplyBody::Ok)
}

/// The pause between typed text and its Enter: an agent's input box may
/// need time to take a paste before Enter submits it (its profile's
/// `submit_delay`); other programs get `enter_delay` (`node.enter_delay_ms`,
/// default 0), and none at all when that is zero (`None`: send both at once).
fn enter_pause(agent: Option<&AgentProfile>, enter_delay: Duration) -> Option<Duration> {
    match agent {
        Some(a) => Some(a.submit_delay),
        None => (!enter_delay.is_zero()).then_some(enter_delay),
    }
}

/// How long an idle agent gets to show that it took a prompt (its state
/// changes) before Enter is pressed once more.
const SUBMIT_CONFIRM: Duration = Duration::from_secs(3);

/// Presses Enter once more unless the agent's state changes within
/// [`SUBMIT_CONFIRM`] or newer input reaches the session first.
async fn confirm_submit(
    shared: Arc<Shared>,
    session: SessionName,
    mut changes: watch::Receiver<AgentState>,
    gate: Arc<InputGate>,
    generation: u64,
) {
    tokio::select! {
        _ = shared.cancel.cancelled() => return,
        // Changed, or the watcher ended (the session is gone): nothing to do.
        r = tokio::time::timeout(SUBMIT_CONFIRM, changes.changed()) => if r.is_ok() { return },
    }
    let _typing = gate.lock.lock().await;
    if gate.generation.load(Ordering::SeqCst) != generation {
        tracing::debug!(computer = %shared.cfg.computer, session = %session, "newer input since the prompt; no second Enter");
        return;
    }
    tracing::info!(
        computer = %shared.cfg.computer,
        session = %session,
        "agent showed no sign of taking the prompt within {} s; pressed Enter again",
        SUBMIT_CONFIRM.as_secs()
    );
    if let Err(e) = shared.tmux.send_keys(&session, &[Key::Enter]).await {
        tracing::debug!(computer = %shared.cfg.computer, session = %session, error = %e, "second Enter failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NodeConfig;

    fn cfg() -> NodeConfig {
        let computer = telemux_proto::ComputerName::new("Box").expect("computer name");
        NodeConfig::new(computer, "unused", "/nonexistent".into())
    }

    /// Issue 13: Enter into a plain shell does not wait the agent pause.
    #[test]
    fn plain_sessions_send_enter_without_a_pause() {
        let cfg = cfg();
        assert_eq!(enter_pause(None, cfg.enter_delay), None);
        assert_eq!(
            enter_pause(None, Duration::from_millis(40)),
            Some(Duration::from_millis(40)),
            "an explicitly configured node.enter_delay_ms still applies"
        );
    }

    #[test]
    fn agent_sessions_keep_their_submit_delay() {
        let cfg = cfg();
        let (_, agent) = cfg.agents.iter().next().expect("a built-in agent profile");
        assert_eq!(
            enter_pause(Some(agent), cfg.enter_delay),
            Some(agent.submit_delay)
        );
    }
}
