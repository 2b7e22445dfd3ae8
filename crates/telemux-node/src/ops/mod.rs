//! The operations a node performs for requesters (`Op` → tmux → `ReplyBody`),
//! one file per request kind; [`execute`] dispatches.
//!
//! Everything that reaches tmux is validated first: names against the
//! naming rule, text and key counts against limits, keys against the known
//! list. Text is always typed literally.

mod agent_launch;
mod answer;
mod attach;
mod clean;
mod create;
pub(crate) mod files;
mod info;
mod input;
mod kill;
mod list;
mod read;
mod rename;
mod resume;
mod run;
mod search;
mod target;

pub(crate) use target::{resolve, Target};

use std::sync::Arc;

use telemux_proto::{Op, ReplyBody};

use crate::error::OpError;
use crate::mail_cmd::{ask, MailCmd};
use crate::run_stdin::Stdin;
use crate::state::Shared;

/// Runs one operation and returns the reply payload.
///
/// `by` is the requester (its envelope's `from`), named in the mesh events
/// the operation causes.
pub(crate) async fn execute(shared: &Arc<Shared>, op: Op, by: &str) -> Result<ReplyBody, OpError> {
    match op {
        Op::ListSessions => Ok(ReplyBody::Sessions(list::list(shared).await?)),
        Op::NewSession {
            name,
            cwd,
            command,
            agent,
            resume,
        } => {
            let agent = agent.map(|a| create::profile(shared, &a)).transpose()?;
            let launch = create::Launch {
                stdin: Stdin::Terminal,
                run_timeout: None,
                resume,
                by: by.to_string(),
            };
            let (session, cursor) =
                create::create(shared, name, cwd, command, agent, launch).await?;
            Ok(ReplyBody::Created { session, cursor })
        }
        Op::Run {
            cwd,
            command,
            timeout_ms,
            stdin,
        } => run::run(shared, cwd, command, timeout_ms, stdin, by).await,
        Op::SendText {
            session,
            text,
            enter,
        } => input::send_text_op(shared, &session, text, enter, by).await,
        Op::SendKeys { session, keys } => input::send_keys(shared, &session, keys, by).await,
        Op::SendBytes { session, bytes } => attach::send_bytes(shared, &session, bytes).await,
        Op::Snapshot { session } => attach::snapshot(shared, &session).await,
        Op::Resize {
            session,
            client,
            size,
        } => attach::resize(shared, &session, &client, size).await,
        Op::Read {
            session,
            lines,
            raw,
            last_turn,
        } => read::read_op(shared, &session, lines, raw, last_turn).await,
        Op::Kill { session } => kill::kill(shared, &session, by).await,
        Op::Rename { session, to } => rename::rename(shared, &session, &to, by).await,
        Op::Answer {
            session,
            choice,
            prompt_id,
        } => answer::answer_op(shared, &session, choice, prompt_id).await,
        Op::FileStat { path, sha256 } => files::stat(shared, &path, sha256).await,
        Op::ReadFile { path, offset, len } => files::read(shared, &path, offset, len).await,
        Op::WriteFile(chunk) => files::upload::write(shared, chunk).await,
        Op::Enqueue(letter) => {
            let by = by.to_string();
            ask(&shared.mailbox, |reply| MailCmd::Enqueue {
                letter,
                by,
                reply,
            })
            .await?
            .map(ReplyBody::Queued)
        }
        Op::Mailbox { session } => {
            let list = ask(&shared.mailbox, |reply| MailCmd::List { session, reply }).await?;
            Ok(ReplyBody::Mailbox(list))
        }
        Op::MailboxRetry { id } => ask(&shared.mailbox, |reply| MailCmd::Retry { id, reply })
            .await?
            .map(ReplyBody::Queued),
        Op::MailboxDrop { id } => ask(&shared.mailbox, |reply| MailCmd::Drop { id, reply })
            .await?
            .map(ReplyBody::Queued),
        Op::Search {
            pattern,
            session,
            since_ms,
            max_results,
        } => search::search(shared, &pattern, session.as_deref(), since_ms, max_results).await,
        Op::Info { session } => info::info(shared, &session).await,
        Op::Clean { dry_run } => clean::clean(shared, dry_run, by).await,
    }
}
