//! AI coding agents from the phone: `/claude`, `/codex`, `/gemini` and
//! `/agent NAME` start an agent session with its topic, and `/projects` lists
//! the named directories (and agent profiles) of each computer. What an
//! agent's state changes post is [`super::notify`]'s; a press on one of a
//! question's choice buttons is answered here ([`answer_button`]).

use std::sync::Arc;

use frankenstein::{
    methods::EditMessageTextParams,
    types::{CallbackQuery, LinkPreviewOptions, MaybeInaccessibleMessage},
    AsyncTelegramApi, ParseMode,
};
use telemux_client::MeshError;
use telemux_proto::ErrorCode;

use super::{
    bot::{Bot, Here},
    error::CommandError,
    html::escape,
    topics,
};

/// What a choice button press leads to: the callback answer's text, and
/// the new HTML of the question's message (without buttons), if it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pressed {
    /// answerCallbackQuery's text (a toast on the phone).
    pub toast: String,
    /// The question message's new text; `None` leaves it (and its buttons) as is.
    pub edit: Option<String>,
}

/// Answers question `prompt_id` of the agent in topic `thread` with choice
/// `number`, for a press on its button by `q.from`.
pub async fn answer_button(
    bot: &Bot,
    q: &CallbackQuery,
    thread: i32,
    prompt_id: &str,
    number: u32,
) -> Pressed {
    let Some(addr) = topics::session_of_thread(bot, thread).await else {
        return Pressed {
            toast: format!("⚠️ {}", CommandError::TopicWithoutSession),
            edit: None,
        };
    };
    let who = q.from.first_name.trim();
    match bot
        .mesh
        .answer(&addr, &number.to_string(), Some(prompt_id))
        .await
    {
        Ok(a) => Pressed {
            toast: format!("{}. {} → {addr}", a.number, a.label),
            edit: Some(chosen_html(who, a.number, &a.label, &a.question)),
        },
        Err(MeshError::Remote {
            code: Some(ErrorCode::Stale),
            ..
        }) => Pressed {
            toast: "This question is no longer shown (answered already, or replaced); nothing was pressed.".into(),
            edit: Some(stale_html(&original_text(q))),
        },
        Err(e) => Pressed {
            toast: format!("⚠️ {e}"),
            edit: None,
        },
    }
}

/// `✅ Ann chose 2. Yes, and always allow … — Do you want to proceed?`
pub fn chosen_html(who: &str, number: u32, label: &str, question: &str) -> String {
    let who = if who.is_empty() { "Someone" } else { who };
    format!(
        "✅ <b>{}</b> chose <b>{number}. {}</b> — {}",
        escape(who),
        escape(label),
        escape(question)
    )
}

/// The question's message marked as no longer answerable.
pub fn stale_html(original: &str) -> String {
    let original: String = original.trim().chars().take(3000).collect();
    let mark = "⌛ <i>This question is no longer shown (answered already, or replaced); nothing was pressed.</i>";
    if original.is_empty() {
        mark.into()
    } else {
        format!("{}\n{mark}", escape(&original))
    }
}

fn original_text(q: &CallbackQuery) -> String {
    match &q.message {
        Some(MaybeInaccessibleMessage::Message(m)) => m.text.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// Replaces the text of the message `q`'s button sits under with `html`,
/// and with it its buttons (an edit without `reply_markup` drops them).
pub async fn edit_pressed(bot: &Bot, q: &CallbackQuery, html: String) {
    let Some(MaybeInaccessibleMessage::Message(m)) = &q.message else {
        return;
    };
    let params = EditMessageTextParams {
        business_connection_id: None,
        chat_id: Some(m.chat.id.into()),
        message_id: Some(m.message_id),
        inline_message_id: None,
        text: Some(html),
        parse_mode: Some(ParseMode::Html),
        entities: None,
        link_preview_options: Some(LinkPreviewOptions::builder().is_disabled(true).build()),
        rich_message: None,
        reply_markup: None,
    };
    for _ in 0..3 {
        bot.outbox.reserve(m.chat.id).await;
        match bot.api.edit_message_text(&params).await {
            Ok(_) => return,
            Err(e) if e.is_not_modified() => return,
            Err(e) => match e.retry_after() {
                Some(d) => bot.outbox.block(m.chat.id, d),
                None => {
                    tracing::warn!(error = %e, "could not edit the answered question");
                    return;
                }
            },
        }
    }
}

/// Agent profiles with their own command (`/claude` = `/agent claude`).
pub const SHORTCUTS: &[&str] = &["claude", "codex", "gemini"];

/// `/agent NAME computer[/name] [dir]` (and the shortcuts): starts `agent`.
pub async fn start(
    bot: &Arc<Bot>,
    here: Here,
    agent: &str,
    args: &str,
) -> Result<(), CommandError> {
    let usage = if SHORTCUTS.contains(&agent) {
        format!("usage: /{agent} computer[/name] [dir] — dir may be a project name (see /projects)")
    } else {
        "usage: /agent name computer[/name] [dir] — e.g. /agent claude MozBook api".to_string()
    };
    if agent.is_empty() {
        return Err(CommandError::Usage(usage));
    }
    let mut words = args.split_whitespace();
    let target = words
        .next()
        .ok_or_else(|| CommandError::Usage(usage.clone()))?;
    let dir = words.next().map(String::from);
    if words.next().is_some() {
        return Err(CommandError::Usage(format!("too many words; {usage}")));
    }
    let created = bot
        .mesh
        .new_session(target, dir, None, Some(agent.to_string()), false)
        .await?;
    topics::announce(bot, here, created, &format!("{agent} in ")).await;
    Ok(())
}

/// The `/projects [computer]` answer: projects and agent profiles per computer.
pub async fn projects(bot: &Bot, computer: Option<&str>) -> Result<String, CommandError> {
    let all = bot.mesh.computers().await?;
    let chosen: Vec<_> = match computer {
        Some(name) => {
            let hit: Vec<_> = all
                .iter()
                .filter(|c| c.info.name.eq_ignore_ascii_case(name))
                .collect();
            if hit.is_empty() {
                // The usual "did you mean" error.
                bot.mesh.resolve_computer(name).await?;
            }
            hit
        }
        None => all.iter().collect(),
    };
    if chosen.is_empty() {
        return Ok(
            "No computer has joined this mesh yet (start <code>telemux node</code> on one).".into(),
        );
    }
    let mut out = Vec::new();
    for c in chosen {
        let dot = if c.online { "🟢" } else { "⚪" };
        out.push(format!("{dot} <b>{}</b>", escape(&c.info.name)));
        let mut projects = c.info.projects.clone();
        projects.sort_by_key(|p| p.name.to_ascii_lowercase());
        if projects.is_empty() {
            out.push("  no projects (name directories under [projects] in its config)".into());
        }
        for p in &projects {
            out.push(format!(
                "  <b>{}</b> — <code>{}</code>",
                escape(&p.name),
                escape(&p.dir)
            ));
        }
        if !c.info.agents.is_empty() {
            out.push(format!("  agents: {}", escape(&c.info.agents.join(", "))));
        }
    }
    out.push(String::new());
    out.push("Start one: /claude computer project".into());
    Ok(out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressed_choices_and_stale_questions_render() {
        let h = chosen_html(
            "Ann <3",
            2,
            "Yes, and always allow",
            "Do you want to proceed?",
        );
        assert_eq!(
            h,
            "✅ <b>Ann &lt;3</b> chose <b>2. Yes, and always allow</b> — Do you want to proceed?"
        );
        assert!(chosen_html("", 1, "Yes", "Go?").starts_with("✅ <b>Someone</b> chose"));
        let s = stale_html("❓ Moz/c1 — the agent is waiting for you:\nGo <on>?");
        assert!(
            s.starts_with("❓ Moz/c1 — the agent is waiting for you:\nGo &lt;on&gt;?\n⌛"),
            "{s}"
        );
        assert!(
            s.contains("no longer shown") && s.contains("nothing was pressed"),
            "{s}"
        );
        assert!(stale_html("").starts_with("⌛"));
    }
}
