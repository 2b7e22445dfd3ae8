//! Client commands (`computers`, `sessions`, `new`, `send`, `keys`, `read`,
//! `tail`, `run`, `kill`; `screenshot` is in `screenshot.rs`, `cp` in `cp.rs`): thin wrappers over [`telemux_client::Mesh`], printing records through
//! its one record view ([`telemux_client::view`]).

use std::time::Duration;

use serde_json::json;
use telemux_bus::{Cursor, OutputReader};
use telemux_client::view::{record_json, Printer};
use telemux_client::{Mesh, MeshError, RunRequest};
use telemux_proto::{limits, OutputEvent};
use tokio_util::sync::CancellationToken;

use crate::cli::Command;
use crate::config::Config;
use crate::out::outln;
use crate::{print, EXIT_REMOTE, EXIT_USAGE};

fn fail(e: &MeshError) -> i32 {
    eprintln!("telemux: {e}");
    e.exit_code()
}

/// Runs one client command; returns the process exit code.
pub async fn run(cfg: &Config, cmd: Command, json: bool) -> i32 {
    let url = match cfg.redis_url() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("telemux: {e:#}");
            return EXIT_USAGE;
        }
    };
    let key = match cfg.mesh_key() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("telemux: {e:#}");
            return EXIT_USAGE;
        }
    };
    let cancel = CancellationToken::new();
    let bus = match cfg.connect_bus(&url).await {
        Ok(b) => b,
        Err(code) => return code,
    };
    let who = crate::gateway::who("cli").await;
    let mesh = Mesh::with_bus_signed(bus, &who, key, cancel.clone());
    let code = match execute(&mesh, cmd, json, cfg).await {
        Ok(code) => code,
        Err(e) => fail(&e),
    };
    cancel.cancel();
    code
}

async fn execute(mesh: &Mesh, cmd: Command, json: bool, cfg: &Config) -> Result<i32, MeshError> {
    match cmd {
        Command::Status { computer } => return status(mesh, cfg, computer, json).await,
        Command::Events {
            follow,
            since,
            computer,
            session,
            types,
        } => {
            let args = crate::events::EventsArgs {
                follow,
                since,
                computer,
                session,
                types,
            };
            return crate::events::events(mesh, args, json).await;
        }
        Command::Computers => {
            print::computers(&mesh.computers().await?, json);
        }
        Command::Sessions { computer } => {
            print::sessions(&mesh.sessions(computer.as_deref()).await?, json);
        }
        Command::Projects { computer } => {
            let mut list = mesh.computers().await?;
            if let Some(c) = computer {
                let c = mesh.resolve_computer(&c).await?;
                list.retain(|s| s.info.name.eq_ignore_ascii_case(c.as_str()));
            }
            print::projects(&list, json);
        }
        Command::New {
            target,
            cwd,
            agent,
            resume,
            command,
        } => {
            let command = (!command.is_empty()).then_some(command);
            let c = mesh
                .new_session(&target, cwd, command, agent, resume)
                .await?;
            if json {
                outln!(
                    "{}",
                    json!({"session": format!("{}/{}", c.computer, c.session), "computer": c.computer.as_str(), "name": c.session.as_str(), "cursor": c.cursor})
                );
            } else {
                outln!("{}/{}", c.computer, c.session);
            }
        }
        Command::Send {
            session,
            text,
            no_enter,
            when: Some(when),
            ttl,
            from,
            notify,
            reply_to,
            wait,
        } => {
            let _ = no_enter;
            let q = crate::mailbox::Queue {
                session,
                text,
                when,
                ttl,
                from,
                notify,
                reply_to,
                wait,
            };
            return crate::mailbox::send(mesh, q, json).await;
        }
        Command::Send {
            session,
            text,
            no_enter,
            ..
        } => {
            mesh.send_text(&session, &text, !no_enter).await?;
            ok(json);
        }
        Command::Inbox {
            session,
            retry,
            drop,
        } => return crate::mailbox::inbox(mesh, &session, retry, drop, json).await,
        Command::Keys { session, keys } => {
            mesh.send_keys(&session, &keys).await?;
            ok(json);
        }
        Command::Read {
            session,
            last_turn: true,
            ..
        } => {
            let turn = mesh.last_turn(&session).await?;
            if json {
                outln!("{}", json!(turn));
            } else {
                outln!("{}", turn.text);
            }
        }
        Command::Read {
            session,
            lines,
            raw,
            last_turn: false,
        } => {
            let text = mesh.read(&session, lines, raw).await?;
            if json {
                outln!("{}", json!({ "text": text }));
            } else {
                outln!("{text}");
            }
        }
        Command::Answer { session, choice } => {
            let Some(choice) = choice else {
                match mesh.agent_prompt(&session).await? {
                    Some(p) if json => outln!("{}", json!(p)),
                    Some(p) => {
                        outln!("{}", p.question);
                        for c in &p.choices {
                            outln!("  {}. {}", c.number, c.label);
                        }
                    }
                    None => {
                        return Err(MeshError::NotFound(format!(
                            "{session} is not asking anything now"
                        )))
                    }
                }
                return Ok(0);
            };
            let a = mesh.answer(&session, &choice, None).await?;
            if json {
                outln!(
                    "{}",
                    json!({"session": format!("{}/{}", a.computer, a.session), "number": a.number, "label": a.label, "question": a.question})
                );
            } else {
                outln!(
                    "{}/{}: chose {}. {} ({})",
                    a.computer,
                    a.session,
                    a.number,
                    a.label,
                    a.question
                );
            }
        }
        Command::Tui => return crate::terminal::tui(mesh, cfg).await,
        Command::Attach {
            session,
            detach_key,
        } => return crate::terminal::attach(mesh, cfg, &session, detach_key.as_deref()).await,
        Command::Cp {
            src,
            dst,
            chunk_bytes,
        } => return crate::cp::run(mesh, &src, &dst, chunk_bytes, json).await,
        Command::Screenshot { session, output } => {
            return crate::screenshot::run(mesh, &session, output.as_deref(), json).await
        }
        Command::Grep {
            pattern,
            computer,
            session,
            since,
            max,
        } => {
            let args = crate::grep::GrepArgs {
                pattern,
                computer,
                session,
                since,
                max,
            };
            return crate::grep::grep(mesh, args, json).await;
        }
        Command::Info { session } => {
            let d = mesh.info(&session).await?;
            if json {
                outln!("{}", telemux_client::detail_json(&d));
            } else {
                outln!("{}", telemux_client::detail_text(&d));
            }
        }
        Command::Clean { computer, dry_run } => {
            let done = mesh.clean(computer.as_deref(), dry_run).await?;
            if json {
                let all: Vec<_> = done.iter().map(telemux_client::cleaned_json).collect();
                outln!("{}", serde_json::Value::Array(all));
            } else {
                for line in done.iter().flat_map(telemux_client::cleaned_lines) {
                    outln!("{line}");
                }
            }
        }
        Command::Kill { session } => {
            mesh.kill(&session).await?;
            ok(json);
        }
        Command::Rename { session, new_name } => {
            let r = mesh.rename(&session, &new_name).await?;
            if json {
                outln!(
                    "{}",
                    json!({"computer": r.computer.as_str(), "from": r.from, "to": r.to, "session": format!("{}/{}", r.computer, r.to)})
                );
            } else {
                outln!(
                    "renamed {}/{} to {}/{}",
                    r.computer,
                    r.from,
                    r.computer,
                    r.to
                );
            }
        }
        Command::Forget { computer } => return forget(mesh, &computer, json).await,
        Command::Tail {
            session,
            follow,
            cursor,
            raw,
        } => return tail(mesh, &session, follow, cursor, raw, json).await,
        Command::Run {
            computer,
            cwd,
            timeout,
            command,
        } => {
            let req = RunRequest {
                computer,
                cwd,
                command,
                timeout: Duration::from_secs(timeout.max(1)),
                stdin: run_stdin().await?,
            };
            let mut printer = Printer::new(false, true);
            let outcome = mesh
                .run(req, |rec| {
                    if !json {
                        write_printed(printer.render(rec));
                    }
                })
                .await?;
            if json {
                outln!(
                    "{}",
                    json!({"exit_code": outcome.exit_code, "output": outcome.output, "duration_ms": outcome.duration_ms})
                );
            }
            if outcome.timed_out {
                eprintln!(
                    "telemux: {} timed out after {} s; the command was interrupted (exit code 124)",
                    outcome.session, timeout
                );
            }
            return Ok(outcome.exit_code);
        }
        other => {
            eprintln!("telemux: {other:?} is not a client command");
            return Ok(EXIT_USAGE);
        }
    }
    Ok(0)
}

/// What `run` sends as the remote command's stdin: all of ours when it is a
/// pipe or a file (read to EOF before the request is sent; not streamed), and
/// nothing when it is a terminal or empty, so the remote command reads
/// `/dev/null` and gets EOF at once instead of waiting for typing that can
/// never reach it. More than [`limits::MAX_STDIN_BYTES`] is refused.
async fn run_stdin() -> Result<Option<Vec<u8>>, MeshError> {
    use std::io::{IsTerminal, Read};

    if std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let limit = limits::MAX_STDIN_BYTES;
    // Reading blocks until the writer closes the pipe: not on the runtime.
    let read = tokio::task::spawn_blocking(move || {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .take(limit as u64 + 1)
            .read_to_end(&mut buf)
            .map(|_| buf)
    })
    .await
    .map_err(|e| MeshError::BadInput(format!("cannot read stdin: {e}")))?;
    let buf = read.map_err(|e| MeshError::BadInput(format!("cannot read stdin: {e}")))?;
    if buf.len() > limit {
        return Err(MeshError::BadInput(format!(
            "stdin is larger than {limit} bytes ({} KiB), the most `telemux run` sends to the remote command; pass less input",
            limit / 1024
        )));
    }
    Ok((!buf.is_empty()).then_some(buf))
}

fn ok(json: bool) {
    if json {
        outln!("{}", json!({"ok": true}));
    }
}

/// Writes what the view made of one record to stdout and stderr.
fn write_printed(p: telemux_client::view::Printed) {
    if let Some(e) = p.err {
        eprintln!("telemux: {e}");
    }
    if !p.out.is_empty() {
        // One write per record, flushed: a closed stdout ends a follower at
        // the next record, quietly (see [`crate::out`]).
        crate::out::write_bytes(&p.out);
    }
}

async fn tail(
    mesh: &Mesh,
    session: &str,
    follow: bool,
    cursor: Option<String>,
    raw: bool,
    json: bool,
) -> Result<i32, MeshError> {
    // History stays readable while its computer is offline.
    let (c, s) = mesh.resolve_history(session).await?;
    let start = match cursor {
        Some(id) => Cursor::After(id),
        None => Cursor::Start,
    };
    let mut reader = OutputReader::new(mesh.bus(), &c, &s, start).await?;
    let mut last_seq: Option<u64> = None;
    let mut waiting = false;
    let mut printer = Printer::new(raw, false);
    loop {
        let block = follow.then_some(Duration::from_millis(1000));
        let batch = match reader.next_batch(block, 512).await {
            Ok(b) => b,
            // A follower outlives a Redis restart: its connection reconnects
            // by itself and the cursor resumes where it was.
            Err(e @ telemux_bus::BusError::Redis { .. }) if follow => {
                if !waiting {
                    eprintln!("telemux: {e}; still following");
                    waiting = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        waiting = false;
        if let Some(gap) = &batch.gap {
            if json {
                outln!("{}", json!({"type": "gap", "reason": gap.to_string()}));
            } else {
                eprintln!("telemux: gap: older output was trimmed from the stream before it was read ({gap})");
            }
        }
        let empty = batch.entries.is_empty();
        for (id, rec) in batch.entries {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("telemux: skipping undecodable record {id}: {e}");
                    continue;
                }
            };
            if let Some(prev) = last_seq {
                if rec.seq > prev + 1 {
                    let msg = format!("records {}..{} are missing", prev + 1, rec.seq - 1);
                    if json {
                        outln!(
                            "{}",
                            json!({"type": "gap", "from_seq": prev + 1, "to_seq": rec.seq - 1, "reason": msg})
                        );
                    } else {
                        eprintln!("telemux: gap: {msg}");
                    }
                }
            }
            // A gap record stands for the records it names: no second notice for them.
            last_seq = Some(match rec.event {
                OutputEvent::Gap { to_seq, .. } => rec.seq.max(to_seq),
                _ => rec.seq,
            });
            if json {
                outln!("{}", record_json(&id, &rec));
            } else {
                write_printed(printer.render(&rec));
            }
            if follow
                && matches!(
                    rec.event,
                    OutputEvent::SessionExited { .. } | OutputEvent::SessionClosed { .. }
                )
            {
                return Ok(0);
            }
        }
        if empty && !follow {
            return Ok(0);
        }
    }
}

/// `telemux forget COMPUTER`: drops a stopped computer from the registry.
async fn forget(mesh: &Mesh, computer: &str, json: bool) -> Result<i32, MeshError> {
    let name = telemux_proto::ComputerName::new(computer)?;
    match mesh.bus().forget_computer(&name).await? {
        telemux_bus::Forget::Forgotten(n) => {
            if json {
                outln!("{}", json!({"ok": true, "forgotten": n}));
            } else {
                outln!("forgot {n}");
            }
            Ok(0)
        }
        telemux_bus::Forget::Online(n) => Err(MeshError::BadInput(format!(
            "{n} is online; stop its node first (`telemux forget` is for computers stopped for good)"
        ))),
        telemux_bus::Forget::Unknown(suggestions) => {
            let hint = telemux_proto::names::did_you_mean(&suggestions);
            let hint = if hint.is_empty() {
                "; run `telemux computers` to see the known ones".to_string()
            } else {
                hint
            };
            Err(MeshError::NotFound(format!("no computer '{computer}'{hint}")))
        }
    }
}

/// `telemux status [COMPUTER]`: registry record plus Redis-side health figures.
async fn status(
    mesh: &Mesh,
    cfg: &Config,
    computer: Option<String>,
    json: bool,
) -> Result<i32, MeshError> {
    let name = match computer {
        Some(c) => c,
        None => cfg
            .computer_name()
            .map(|c| c.to_string())
            .map_err(|e| MeshError::BadInput(format!("{e:#}")))?,
    };
    let all = mesh.computers().await?;
    let Some(c) = all.iter().find(|c| c.info.name.eq_ignore_ascii_case(&name)) else {
        // Reuse the resolver for its "did you mean" wording.
        return Err(mesh
            .resolve_computer(&name)
            .await
            .err()
            .unwrap_or_else(|| MeshError::NotFound(format!("no computer '{name}'"))));
    };
    let cname = telemux_proto::ComputerName::new(&c.info.name)?;
    let rtt = mesh.bus().ping().await?;
    let backlog = mesh.bus().command_backlog(&cname).await?;
    let dead = mesh.bus().dead_letter_count().await?;
    let uptime_s = telemux_proto::now_ms().saturating_sub(c.info.started_ms) / 1000;
    if json {
        outln!(
            "{}",
            json!({
                "name": c.info.name, "online": c.online, "version": c.info.version, "proto": c.info.proto,
                "os": c.info.os, "host": c.info.host, "uptime_s": uptime_s, "sessions": c.info.sessions,
                "last_seen_ms": c.info.last_seen_ms, "redis_rtt_ms": rtt.as_secs_f64() * 1000.0,
                "pending_commands": backlog.pending, "undelivered_commands": backlog.undelivered,
                "dead_letters": dead,
            })
        );
    } else {
        let state = if c.online {
            "online".to_string()
        } else {
            format!(
                "offline (last seen {})",
                telemux_client::mesh::ago(c.info.last_seen_ms)
            )
        };
        outln!("computer        {} ({state})", c.info.name);
        outln!(
            "version         {} (protocol {})",
            c.info.version,
            c.info.proto
        );
        outln!("host / os       {} / {}", c.info.host, c.info.os);
        outln!(
            "uptime          {}",
            telemux_bus::human_duration(Duration::from_secs(uptime_s))
        );
        outln!("sessions        {}", c.info.sessions);
        outln!(
            "redis latency   {:.2} ms ({})",
            rtt.as_secs_f64() * 1000.0,
            mesh.bus().redacted_url()
        );
        outln!(
            "command backlog {} pending, {} not yet delivered",
            backlog.pending,
            backlog
                .undelivered
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into())
        );
        outln!("dead letters    {dead} (mesh-wide)");
    }
    Ok(if c.online { 0 } else { EXIT_REMOTE })
}
