//! AI coding agents from the phone: `/claude`, `/codex`, `/gemini` and
//! `/agent NAME` start an agent session with its topic, and `/projects` lists
//! the named directories (and agent profiles) of each computer. What an
//! agent's state changes post is [`super::notify`]'s.

use std::sync::Arc;

use super::{
    bot::{Bot, Here},
    error::CommandError,
    html::escape,
    topics,
};

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
