//! What the bot does with a message or a button press from an allowed user.
//!
//! Commands resolve names exactly like the CLI (through [`telemux_client::Mesh`]:
//! case-insensitive, suggestions for unknown names) and answer errors with
//! the same sentences. In a session's topic, plain text is typed into that
//! session followed by Enter, and `/keys`, `/cancel`, `/kill`, `/output`,
//! `/screenshot`, `/queue`, `/rename` need no session name; elsewhere they take it as their first
//! argument. Anything slow (`/run`, `/output`, `/screenshot`) runs as its own
//! task so polling goes on.

use std::{sync::Arc, time::Duration};

use frankenstein::{
    methods::{AnswerCallbackQueryParams, SendDocumentParams},
    types::{CallbackQuery, MaybeInaccessibleMessage, Message},
    updates::{Update, UpdateContent},
    AsyncTelegramApi,
};
use telemux_proto::{OutputEvent, SessionAddr};

use super::{
    agents, auth,
    bot::{Bot, Here},
    buttons::Button,
    error::CommandError,
    files,
    html::escape,
    live::{exit_footer, Live},
    shot, topics, voice,
};
use telemux_client::{mesh::ago, RunRequest};

/// How long `/run` lets a command run before interrupting it.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// Scrollback lines `/output` asks for.
pub const OUTPUT_LINES: u32 = 100_000;

fn reply(bot: &Bot, here: Here, html: String) {
    bot.reply(here, html);
}

fn usage(text: impl Into<String>) -> CommandError {
    CommandError::Usage(text.into())
}

/// Handles one update: drops it unless its sender is allowed, then acts on it.
pub async fn on_update(bot: &Arc<Bot>, u: Update) {
    tracing::debug!(update_id = u.update_id, "handling a Telegram update");
    if !auth::allowed(&bot.cfg.allowed_users, &u) {
        return;
    }
    match u.content {
        UpdateContent::Message(m) => on_message(bot, *m).await,
        UpdateContent::CallbackQuery(q) => on_callback(bot, *q).await,
        _ => {}
    }
}

/// The `/help` text.
pub fn help() -> String {
    [
        "<b>telemux</b> — your terminals, from here.",
        "",
        "/computers — computers, online or not",
        "/sessions [computer] — sessions; each gets a topic",
        "/new computer[/name] [dir] [-- command] — start a session",
        "/claude computer[/name] [dir] — start Claude Code (also /codex, /gemini, /agent name computer [dir]); dir may be a project",
        "/projects [computer] — named project directories and agent profiles",
        "/run computer command — run it, show output and exit code",
        "/keys key... — press keys: C-c Enter Escape Up Down Tab ...",
        "/cancel — Ctrl-C",
        "/kill — end the session",
        "/queue TEXT — type it when the session is ready (an agent done with its turn); its answer comes here",
        "/rename NEW — rename the session (its topic follows)",
        "/output — the whole scrollback as a file",
        "/screenshot — a picture of the screen",
        "/get PATH — a file from the session's computer (relative to its directory)",
        "",
        "Send a file or photo into a session's topic to save it on that computer (.telemux/inbox/ in the session's directory) and type its path; a voice note is transcribed (telegram.stt_command) and sent after you press Send.",
        "In a session's topic, anything you type is sent to it followed by Enter; /keys, /cancel, /kill, /output and /screenshot act on it. Elsewhere give the session first: /kill MozBook/api.",
        "An agent's topic shows its state under the live message, and a new message (so your phone buzzes) when it asks you something — with one button per choice — or finishes its turn, quoting its answer.",
    ]
    .join("\n")
}

/// Handles a message from an allowed user.
pub async fn on_message(bot: &Arc<Bot>, m: Message) {
    let thread = if m.is_topic_message == Some(true) {
        m.message_thread_id
    } else {
        None
    };
    let here = Here {
        chat: m.chat.id,
        thread,
    };
    if m.voice.is_some() {
        // Transcribing takes a while: its own task, so the topic's lane goes on.
        let bot2 = bot.clone();
        bot.tracker.spawn(async move {
            if let Err(e) = voice::received(&bot2, here, &m).await {
                reply(&bot2, here, format!("⚠️ {}", escape(&e.to_string())));
            }
        });
        return;
    }
    if files::is_file(&m) {
        // In the lane: the path is typed before what the user sends next.
        let result = match files::topic_session(bot, here).await {
            Ok(addr) => files::received(bot, here, &addr, &m).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            reply(bot, here, format!("⚠️ {}", escape(&e.to_string())));
        }
        return;
    }
    let Some(text) = m.text.clone() else { return };
    let topic_session = match thread {
        Some(t) => topics::session_of_thread(bot, t).await,
        None => None,
    };
    let result = match text.strip_prefix('/') {
        Some(rest) => {
            let (cmd, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let cmd = cmd.split('@').next().unwrap_or("").to_ascii_lowercase();
            command(bot, here, topic_session, &cmd, args.trim()).await
        }
        None => match &topic_session {
            Some(addr) => send_text(bot, here, addr, &text).await,
            None => Err(CommandError::NotInTopic),
        },
    };
    if let Err(e) = result {
        reply(bot, here, format!("⚠️ {}", escape(&e.to_string())));
    }
}

async fn send_text(bot: &Arc<Bot>, here: Here, addr: &str, text: &str) -> Result<(), CommandError> {
    bot.mesh.send_text(addr, text, true).await?;
    watch_addressed(bot, here, addr);
    Ok(())
}

fn watch_addressed(bot: &Arc<Bot>, here: Here, addr: &str) {
    topics::watch_addressed(bot, here, addr);
}

/// The session a command acts on: the topic's, else the first argument.
fn target<'a>(
    topic: &'a Option<String>,
    args: &'a str,
    how: &str,
) -> Result<(String, &'a str), CommandError> {
    match topic {
        Some(t) => Ok((t.clone(), args)),
        None => {
            let (first, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            if first.is_empty() {
                return Err(usage(format!(
                    "say which session (or use this inside its topic): {how}"
                )));
            }
            Ok((first.to_string(), rest.trim()))
        }
    }
}

async fn command(
    bot: &Arc<Bot>,
    here: Here,
    topic: Option<String>,
    cmd: &str,
    args: &str,
) -> Result<(), CommandError> {
    let mesh = &bot.mesh;
    match cmd {
        "start" | "help" => reply(
            bot,
            here,
            format!("{}\n\nThis chat's id: <code>{}</code>", help(), here.chat),
        ),
        "computers" => reply(bot, here, computers(bot).await?),
        "sessions" => {
            let arg = (!args.is_empty()).then_some(args);
            reply(bot, here, sessions(bot, arg).await?);
        }
        "new" => new_session(bot, here, args).await?,
        "agent" => {
            let (name, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            agents::start(bot, here, name, rest.trim()).await?;
        }
        shortcut if agents::SHORTCUTS.contains(&shortcut) => {
            agents::start(bot, here, shortcut, args).await?;
        }
        "projects" => {
            let arg = (!args.is_empty()).then_some(args);
            reply(bot, here, agents::projects(bot, arg).await?);
        }
        "run" => {
            let (computer, command) = args
                .split_once(char::is_whitespace)
                .ok_or_else(|| usage("usage: /run computer command"))?;
            let (computer, command) = (computer.to_string(), command.trim().to_string());
            let bot2 = bot.clone();
            bot.tracker
                .spawn(async move { run(&bot2, here, computer, command).await });
        }
        "keys" => {
            let (addr, rest) = target(&topic, args, "/keys session key...")?;
            let keys: Vec<String> = rest.split_whitespace().map(String::from).collect();
            if keys.is_empty() {
                return Err(usage(
                    "usage: /keys key... (e.g. /keys C-c, /keys Up Enter)",
                ));
            }
            mesh.send_keys(&addr, &keys).await?;
            watch_addressed(bot, here, &addr);
        }
        "cancel" => {
            let (addr, _) = target(&topic, args, "/cancel session")?;
            mesh.send_keys(&addr, &["C-c".to_string()]).await?;
            watch_addressed(bot, here, &addr);
        }
        "kill" => {
            let (addr, _) = target(&topic, args, "/kill session")?;
            let (c, s) = mesh.kill(&addr).await?;
            reply(
                bot,
                here,
                format!("Killed <b>{}</b>.", escape(&format!("{c}/{s}"))),
            );
        }
        "screenshot" => {
            let (addr, _) = target(&topic, args, "/screenshot session")?;
            let bot2 = bot.clone();
            bot.tracker.spawn(async move {
                if let Err(e) = shot::screenshot(&bot2, here, &addr).await {
                    reply(&bot2, here, format!("⚠️ {}", escape(&e.to_string())));
                }
            });
        }
        "output" => {
            let (addr, _) = target(&topic, args, "/output session")?;
            let bot2 = bot.clone();
            bot.tracker.spawn(async move {
                if let Err(e) = output(&bot2, here, &addr).await {
                    reply(&bot2, here, format!("⚠️ {}", escape(&e.to_string())));
                }
            });
        }
        "queue" => {
            let (addr, text) = target(&topic, args, "/queue session TEXT")?;
            super::queue::queue(bot, here, &addr, text).await?;
        }
        "rename" => {
            let (addr, new_name) = target(&topic, args, "/rename session NEW")?;
            super::queue::rename(bot, here, &addr, new_name).await?;
        }
        "get" => {
            let (addr, path) = target(&topic, args, "/get session PATH")?;
            let (bot2, path) = (bot.clone(), path.to_string());
            bot.tracker.spawn(async move {
                if let Err(e) = files::get(&bot2, here, &addr, &path).await {
                    reply(&bot2, here, format!("⚠️ {}", escape(&e.to_string())));
                }
            });
        }
        other => return Err(usage(format!("unknown command /{other}; see /help"))),
    }
    Ok(())
}

async fn computers(bot: &Bot) -> Result<String, CommandError> {
    let all = bot.mesh.computers().await?;
    if all.is_empty() {
        return Ok(
            "No computer has joined this mesh yet (start <code>telemux node</code> on one).".into(),
        );
    }
    let lines: Vec<String> = all
        .iter()
        .map(|c| {
            let name = escape(&c.info.name);
            if c.online {
                format!(
                    "🟢 <b>{name}</b> — online, {} session(s), {}",
                    c.info.sessions,
                    escape(&c.info.os)
                )
            } else {
                format!(
                    "⚪ <b>{name}</b> — offline, last seen {}",
                    ago(c.info.last_seen_ms)
                )
            }
        })
        .collect();
    Ok(lines.join("\n"))
}

async fn sessions(bot: &Arc<Bot>, computer: Option<&str>) -> Result<String, CommandError> {
    let all = bot.mesh.sessions(computer).await?;
    if all.is_empty() {
        return Ok("No sessions. Start one with /new computer.".into());
    }
    let mut lines = Vec::new();
    for s in &all {
        let addr = format!("{}/{}", s.computer, s.name);
        if let Ok(SessionAddr {
            computer: Some(c),
            session,
        }) = SessionAddr::parse(&addr)
        {
            if let Err(e) = topics::ensure_topic(bot, &c, &session, None).await {
                tracing::warn!(computer = %c, session = %session, error = %e, "no topic for session");
            }
        }
        let mut state = match (s.state, s.exit_status) {
            (telemux_proto::SessionState::Exited, Some(code)) => format!("exited {code}"),
            (telemux_proto::SessionState::Exited, None) => "exited".into(),
            _ => "running".into(),
        };
        if let Some(a) = &s.agent {
            let st = s.agent_state.map(|a| a.as_str()).unwrap_or("unknown");
            state.push_str(&format!(" · 🤖 {}: {st}", escape(a)));
        }
        lines.push(format!(
            "<b>{}</b> — {} · {} · {}",
            escape(&addr),
            escape(&s.command),
            escape(&s.cwd),
            state
        ));
    }
    Ok(lines.join("\n"))
}

async fn new_session(bot: &Arc<Bot>, here: Here, args: &str) -> Result<(), CommandError> {
    const USAGE: &str = "usage: /new computer[/name] [dir] [-- command]";
    // `--` ends the options only as a word of its own: `RasPi/--help` is a
    // (refused) session name, not `RasPi/` followed by the command `help`.
    let separator = args.match_indices("--").find(|(i, _)| {
        let alone_before = args[..*i]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        let alone_after = args[i + 2..].chars().next().is_none_or(char::is_whitespace);
        alone_before && alone_after
    });
    let (before, command) = match separator {
        Some((i, _)) => (
            &args[..i],
            Some(args[i + 2..].trim().to_string()).filter(|c| !c.is_empty()),
        ),
        None => (args, None),
    };
    let mut words = before.split_whitespace();
    let target = words.next().ok_or_else(|| usage(USAGE))?;
    let dir = words.next().map(String::from);
    if words.next().is_some() {
        return Err(usage(format!("too many words before `--`; {USAGE}")));
    }
    let created = bot
        .mesh
        .new_session(target, dir, command.map(|c| vec![c]), None, false)
        .await?;
    topics::announce(bot, here, created, "").await;
    Ok(())
}

async fn run(bot: &Arc<Bot>, here: Here, computer: String, command: String) {
    let slot = format!("run:{}", uuid::Uuid::now_v7());
    let mut live = Live::new(false);
    live.note(&format!("{computer}$ {command}"));
    bot.outbox.open(&slot, here.chat, here.thread, live, None);
    let req = RunRequest {
        computer,
        cwd: None,
        command: vec![command],
        timeout: RUN_TIMEOUT,
        stdin: None,
    };
    let outbox = bot.outbox.clone();
    let result = bot
        .mesh
        .run(req, |rec| {
            // The end is written from the outcome below, with the client-side duration.
            if matches!(
                rec.event,
                OutputEvent::Lines { .. } | OutputEvent::Frame { .. } | OutputEvent::Gap { .. }
            ) {
                outbox.update(&slot, |l| l.apply(&rec.event));
            }
        })
        .await;
    bot.outbox.update(&slot, |l| match result {
        Ok(o) => {
            let mut f = exit_footer(o.exit_code, Some(o.duration_ms));
            if o.timed_out {
                f.push_str(" (timed out)");
            }
            l.finish(f);
        }
        Err(e) => l.finish(format!("⚠️ {e}")),
    });
    bot.outbox.close(&slot);
}

async fn output(bot: &Bot, here: Here, addr: &str) -> Result<(), CommandError> {
    let text = bot.mesh.read(addr, OUTPUT_LINES, false).await?;
    let name = format!("{}.txt", addr.replace('/', "_"));
    let caption = format!("{addr}: scrollback ({} lines)", text.lines().count());
    shot::with_file(&name, text.as_bytes(), |path| async move {
        let params = SendDocumentParams::builder()
            .chat_id(here.chat)
            .document(path)
            .caption(caption)
            .build();
        let params = SendDocumentParams {
            message_thread_id: here.thread,
            ..params
        };
        shot::upload(bot, here, || bot.api.send_document(&params)).await
    })
    .await
}

/// Handles a button press (a [`Button`]) from an allowed user.
pub async fn on_callback(bot: &Arc<Bot>, q: CallbackQuery) {
    let data = q.data.clone().unwrap_or_default();
    let (text, edit) = match Button::decode(&data) {
        Ok(Button::Key { key, thread }) => match press_key(bot, &q, key.name(), thread).await {
            Ok(t) => (t, None),
            Err(e) => (format!("⚠️ {e}"), None),
        },
        Ok(Button::Shot { thread }) => match shot_button(bot, &q, thread).await {
            Ok(t) => (t, None),
            Err(e) => (format!("⚠️ {e}"), None),
        },
        Ok(Button::Answer {
            thread,
            prompt_id,
            number,
        }) => {
            let p = agents::answer_button(bot, &q, thread, &prompt_id, number).await;
            (p.toast, p.edit)
        }
        Ok(Button::Voice {
            thread,
            message,
            action,
        }) => match voice::pressed(bot, &q, thread, message, action).await {
            Ok(t) => (t, None),
            Err(e) => (format!("⚠️ {e}"), None),
        },
        Err(e) => (format!("⚠️ {}", CommandError::from(e)), None),
    };
    let params = AnswerCallbackQueryParams {
        callback_query_id: q.id.clone(),
        text: Some(text.chars().take(190).collect()),
        show_alert: None,
        url: None,
        cache_time: None,
    };
    if let Err(e) = bot.api.answer_callback_query(&params).await {
        tracing::warn!(error = %e, "answerCallbackQuery failed");
    }
    if let Some(html) = edit {
        agents::edit_pressed(bot, &q, html).await;
    }
}

/// The 📷 button: a screenshot of topic `thread`'s session, sent into the
/// topic by its own task (the press is answered at once).
async fn shot_button(
    bot: &Arc<Bot>,
    q: &CallbackQuery,
    thread: i32,
) -> Result<String, CommandError> {
    let addr = topics::session_of_thread(bot, thread)
        .await
        .ok_or(CommandError::TopicWithoutSession)?;
    let chat = match &q.message {
        Some(MaybeInaccessibleMessage::Message(m)) => m.chat.id,
        Some(MaybeInaccessibleMessage::InaccessibleMessage(m)) => m.chat.id,
        None => return Err(CommandError::TopicWithoutSession),
    };
    let here = Here {
        chat,
        thread: Some(thread),
    };
    let (bot2, addr2) = (bot.clone(), addr.clone());
    bot.tracker.spawn(async move {
        if let Err(e) = shot::screenshot(&bot2, here, &addr2).await {
            reply(&bot2, here, format!("⚠️ {}", escape(&e.to_string())));
        }
    });
    Ok(format!("📷 {addr}"))
}

/// A key button: presses `key` in topic `thread`'s session.
async fn press_key(
    bot: &Arc<Bot>,
    q: &CallbackQuery,
    key: &str,
    thread: i32,
) -> Result<String, CommandError> {
    let addr = topics::session_of_thread(bot, thread)
        .await
        .ok_or(CommandError::TopicWithoutSession)?;
    bot.mesh.send_keys(&addr, &[key.to_string()]).await?;
    if let Some(MaybeInaccessibleMessage::Message(m)) = &q.message {
        watch_addressed(
            bot,
            Here {
                chat: m.chat.id,
                thread: Some(thread),
            },
            &addr,
        );
    }
    Ok(format!("{key} → {addr}"))
}
