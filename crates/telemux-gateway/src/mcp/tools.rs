//! The MCP tools (DESIGN.md §9, plus `list_projects` for agent sessions).
//! Each handler calls [`Mesh`] and returns
//! structured content plus a readable text rendering; a [`MeshError`] becomes
//! a tool error (`isError: true`) whose text is exactly what the CLI prints.

use std::time::Duration;

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router, ErrorData as McpError, RoleServer};

use super::agent::{self, WaitPlan};
use super::agent_tools::{last_turn_notes, last_turn_read, waiting_headline};
use super::output::bound_default;
use super::page::{read_page, Since};
use super::params::*;
use super::result::{
    computer_out, encode, finish, prompt_out, session_out, sessions_text, timeout_of,
};
use super::wait::{self, Happened, Progress, Until};
use super::McpServer;
use telemux_client::mesh::MeshError;
use telemux_client::RunRequest;

/// Default scrollback for `read_output` without `since`.
const DEFAULT_READ_LINES: u32 = 100;
/// Default page size for `read_output` with `since`.
const DEFAULT_PAGE_LINES: u32 = 500;

#[tool_router(router = tool_router, vis = "pub(crate)")]
impl McpServer {
    /// Lists every computer of the mesh.
    #[tool(
        name = "list_computers",
        description = "List the computers in the telemux mesh: name (use it in addresses like `MozBook/api`), whether each is online, when it was last seen, how many sessions it has, OS and version. Call this first to learn which computers exist.",
        output_schema = schema_for_output::<ComputersOut>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_computers(
        &self,
        Parameters(_): Parameters<NoParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let list = self.mesh.computers().await?;
                let out = ComputersOut {
                    computers: list.iter().map(computer_out).collect(),
                };
                let text = if out.computers.is_empty() {
                    "no computers have joined this mesh yet; start `telemux node` (or `telemux up`) on one".to_string()
                } else {
                    out.computers
                        .iter()
                        .map(|c| {
                            format!(
                                "{}  {}  last seen {}  {} sessions  {}  telemux {}",
                                c.name,
                                if c.online { "online" } else { "offline" },
                                c.last_seen,
                                c.sessions,
                                c.os,
                                c.version
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                encode(&out, text)
            }
            .await,
        )
    }

    /// Lists sessions.
    #[tool(
        name = "list_sessions",
        description = "List terminal sessions, on one computer or on every online computer: address (`MozBook/api`), program in the foreground, working directory, running/exited, and for AI agent sessions the agent, its state (working, waiting_for_input, idle), the question it waits on (agent_prompt, with choices and prompt_id for answer_prompt) and the tokens of its last turn (agent_usage). Use it to find a session to read from or type into.",
        output_schema = schema_for_output::<SessionsOut>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_sessions(
        &self,
        Parameters(p): Parameters<ListSessionsParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let list = self.mesh.sessions(p.computer.as_deref()).await?;
                let out = SessionsOut {
                    sessions: list.iter().map(session_out).collect(),
                };
                let text = sessions_text(&out);
                encode(&out, text)
            }
            .await,
        )
    }

    /// Lists projects and agent profiles.
    #[tool(
        name = "list_projects",
        description = "List the named project directories of each computer (`[projects]` in its config), whether the computer is online, and the AI agent profiles it can start (e.g. claude, codex, gemini). A project name works as start_session `cwd`, so start_session(computer=\"MozBook\", agent=\"claude\", cwd=\"api\") starts Claude Code in MozBook's api project.",
        output_schema = schema_for_output::<ProjectsOut>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_projects(
        &self,
        Parameters(p): Parameters<ListProjectsParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let (out, text) = agent::projects(self, p.computer.as_deref()).await?;
                encode(&out, text)
            }
            .await,
        )
    }

    /// Starts a session.
    #[tool(
        name = "start_session",
        description = "Start a new terminal session (a shell, a program, or an AI coding agent) on a computer and return its address, e.g. `MozBook/s1`. Use it for long-running or interactive work (servers, REPLs, editors); for a single command with an exit code prefer run_command. With `agent` (e.g. \"claude\") it starts that agent profile, and `cwd` may be a project name from list_projects (e.g. \"api\"); resume=true (with agent) continues the agent's last conversation in that directory. Then use send_text, wait_for and read_output with the returned address.",
        output_schema = schema_for_output::<StartedOut>(),
        annotations(read_only_hint = false, destructive_hint = false, open_world_hint = false)
    )]
    pub async fn start_session(
        &self,
        Parameters(p): Parameters<StartSessionParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let target = match (&p.name, p.computer.contains('/')) {
                    (Some(_), true) => {
                        return Err(MeshError::BadInput(format!(
                            "give the session name either in computer ('{}') or in name, not both",
                            p.computer
                        )))
                    }
                    (Some(n), false) => format!("{}/{n}", p.computer),
                    (None, _) => p.computer.clone(),
                };
                let command = p
                    .command
                    .as_ref()
                    .filter(|c| !c.trim().is_empty())
                    .map(|c| vec![c.clone()]);
                let agent = p.agent.clone().filter(|a| !a.trim().is_empty());
                if p.resume && agent.is_none() {
                    return Err(MeshError::BadInput(
                        "resume continues an agent's last conversation; give agent too (e.g. agent=\"claude\")".into(),
                    ));
                }
                let created = self
                    .mesh
                    .new_session(&target, p.cwd.clone(), command, agent, p.resume)
                    .await?;
                let out = StartedOut {
                    session: format!("{}/{}", created.computer, created.session),
                    computer: created.computer.to_string(),
                    name: created.session.to_string(),
                    cursor: created.cursor.clone(),
                };
                let what = match p.agent.as_deref().filter(|a| !a.trim().is_empty()) {
                    Some(a) if p.resume => {
                        format!("resumed agent {a}'s last conversation in {}", out.session)
                    }
                    Some(a) => format!("started agent {a} in {}", out.session),
                    None => format!("started {}", out.session),
                };
                let text = format!("{what} (cursor {} reads it from its start)", out.cursor);
                encode(&out, text)
            }
            .await,
        )
    }

    /// Types text.
    #[tool(
        name = "send_text",
        description = "Type text into a session, literally, then press Enter (unless enter=false). Example: session `MozBook/api`, text `npm test`. Returns a `cursor` from just before the input: pass it as `since` to wait_for (until=\"exit\") to get the command's exit code, or to read_output to read only what the command printed.",
        output_schema = schema_for_output::<DoneOut>(),
        annotations(read_only_hint = false, destructive_hint = true, open_world_hint = false)
    )]
    pub async fn send_text(
        &self,
        Parameters(p): Parameters<SendTextParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let (c, s) = self.mesh.resolve_session(&p.session).await?;
                let addr = format!("{c}/{s}");
                let cursor = self.stream_end(&c, &s).await?;
                self.mesh.send_text(&addr, &p.text, p.enter).await?;
                self.marks.note(&c, &s, &cursor);
                let out = DoneOut {
                    ok: true,
                    session: addr.clone(),
                    cursor: Some(cursor.clone()),
                };
                let enter = if p.enter { " and pressed Enter" } else { "" };
                encode(
                    &out,
                    format!("typed into {addr}{enter} (cursor before the input: {cursor})"),
                )
            }
            .await,
        )
    }

    /// Presses keys.
    #[tool(
        name = "send_keys",
        description = "Press named keys in a session, e.g. [\"C-c\"] to interrupt the running program, [\"Up\", \"Enter\"] to rerun the previous command, [\"Escape\"], [\"Tab\"]. For words and characters use send_text. Returns a `cursor` from just before the keys.",
        output_schema = schema_for_output::<DoneOut>(),
        annotations(read_only_hint = false, destructive_hint = true, open_world_hint = false)
    )]
    pub async fn send_keys(
        &self,
        Parameters(p): Parameters<SendKeysParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                if p.keys.is_empty() {
                    return Err(MeshError::BadInput(format!(
                        "keys is empty; name at least one key: {}",
                        telemux_proto::input::ALLOWED_KEYS_HELP
                    )));
                }
                let (c, s) = self.mesh.resolve_session(&p.session).await?;
                let addr = format!("{c}/{s}");
                let cursor = self.stream_end(&c, &s).await?;
                self.mesh.send_keys(&addr, &p.keys).await?;
                self.marks.note(&c, &s, &cursor);
                let out = DoneOut {
                    ok: true,
                    session: addr.clone(),
                    cursor: Some(cursor.clone()),
                };
                encode(
                    &out,
                    format!(
                        "pressed {} in {addr} (cursor before the keys: {cursor})",
                        p.keys.join(" ")
                    ),
                )
            }
            .await,
        )
    }

    /// Reads output.
    #[tool(
        name = "read_output",
        description = "Read a session's output. Without `since`: the current screen plus `lines` of scrollback (default 100), as rendered text. With `since` (a cursor from an earlier call): only the output produced after it, oldest first, with notes like `[telemux: command finished: exit code 1, 20 ms]`; page on by passing the returned `cursor` as the next `since` while `more` is true. `raw` returns terminal bytes with escapes. For an AI agent session, last_turn=true returns only the agent's last answer as plain text, with the tools it ran (`tools`, e.g. `Bash(touch hi.txt) → exit 0`) and the tokens it used (`usage`).",
        output_schema = schema_for_output::<ReadOut>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn read_output(
        &self,
        Parameters(p): Parameters<ReadOutputParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                if p.last_turn && (p.since.is_some() || p.raw) {
                    return Err(MeshError::BadInput(
                        "last_turn returns the agent's last answer as text; it cannot be combined with since or raw".into(),
                    ));
                }
                let (c, s) = self.mesh.resolve_session(&p.session).await?;
                let addr = format!("{c}/{s}");
                let out = match &p.since {
                    None if p.last_turn => last_turn_read(self, &c, &s).await?,
                    Some(since) => {
                        let since = Since::parse(since)?;
                        let lines = p.lines.unwrap_or(DEFAULT_PAGE_LINES) as usize;
                        let pg = read_page(&self.mesh, &c, &s, &since, lines, p.raw).await?;
                        ReadOut {
                            session: addr.clone(),
                            text: pg.text,
                            cursor: pg.cursor,
                            more: pg.more,
                            command_exit_code: pg.rendered.command_exit_code,
                            session_exit_status: pg.rendered.session_exit_status,
                            lines_omitted: pg.omitted,
                            tools: None,
                            usage: None,
                            source: None,
                        }
                    }
                    None => {
                        // The cursor is taken first: output printed while the
                        // screen is captured is then read again, never lost.
                        let cursor = self.stream_end(&c, &s).await?;
                        let lines = p
                            .lines
                            .unwrap_or(DEFAULT_READ_LINES)
                            .min(telemux_proto::limits::MAX_READ_LINES);
                        let text = self.mesh.read(&addr, lines, p.raw).await?;
                        let b = bound_default(&text);
                        ReadOut {
                            session: addr.clone(),
                            text: b.text,
                            cursor,
                            more: false,
                            command_exit_code: None,
                            session_exit_status: None,
                            lines_omitted: b.omitted,
                            tools: None,
                            usage: None,
                            source: None,
                        }
                    }
                };
                let mut text = out.text.clone();
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&last_turn_notes(&out));
                if out.more {
                    text.push_str(&format!(
                        "[telemux: more output after cursor {}; call read_output again with since={}]",
                        out.cursor, out.cursor
                    ));
                } else {
                    text.push_str(&format!("[telemux: cursor {}]", out.cursor));
                }
                encode(&out, text)
            }
            .await,
        )
    }

    /// Runs a command and returns its exit code.
    #[tool(
        name = "run_command",
        description = "Run one shell command line on a computer, wait for it to finish, and return its real exit code, output and duration. Example: computer `RasPi`, command `df -h /`. Use it for anything with a clear end (builds, tests, queries); use start_session for servers and interactive programs. Timeout: timeout_s (default 60, capped by the server); a timed-out command is interrupted and reports exit code 124. Long output keeps its head and tail with a `[... N lines omitted ...]` line.",
        output_schema = schema_for_output::<RunOut>(),
        annotations(read_only_hint = false, destructive_hint = true, open_world_hint = false)
    )]
    pub async fn run_command(
        &self,
        Parameters(p): Parameters<RunCommandParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                if p.command.trim().is_empty() {
                    return Err(MeshError::BadInput(
                        "command is empty; give a shell command line, e.g. `ls -la`".into(),
                    ));
                }
                let timeout = timeout_of(
                    p.timeout_s,
                    self.settings.default_run_timeout,
                    self.settings.max_timeout,
                );
                let req = RunRequest {
                    computer: p.computer.clone(),
                    cwd: p.cwd.clone(),
                    command: vec![p.command.clone()],
                    timeout,
                    stdin: p.stdin.clone().map(String::into_bytes),
                };
                let progress = Progress::from_request(
                    &ctx,
                    timeout,
                    format!("running on {}: {}", p.computer, p.command),
                );
                let outcome = wait::with_progress(self.mesh.run(req, |_| {}), progress, &ctx.ct)
                    .await
                    .ok_or_else(|| {
                        MeshError::Timeout(format!(
                            "run_command on {} cancelled by the client; the command may still be running",
                            p.computer
                        ))
                    })??;
                let b = bound_default(&outcome.output);
                let out = RunOut {
                    exit_code: outcome.exit_code,
                    output: b.text,
                    duration_ms: outcome.duration_ms,
                    timed_out: outcome.timed_out,
                    signal: outcome.signal,
                    lines_omitted: b.omitted,
                    session: outcome.session.clone(),
                };
                let head = if outcome.timed_out {
                    format!(
                        "timed out after {} s and was interrupted: exit code 124 ({} ms, {})",
                        timeout.as_secs(),
                        out.duration_ms,
                        out.session
                    )
                } else {
                    format!(
                        "exit code {} ({} ms, {})",
                        out.exit_code, out.duration_ms, out.session
                    )
                };
                let text = if out.output.is_empty() {
                    format!("{head}\n(no output)")
                } else {
                    format!("{head}\n--- output ---\n{}", out.output)
                };
                encode(&out, text)
            }
            .await,
        )
    }

    /// Waits for exit, idle or text.
    #[tool(
        name = "wait_for",
        description = "Block until something happens in a session, then say what: until=\"exit\" waits for the command typed into the shell to finish (returns its exit code) or the session's program to end; until=\"idle\" waits until no new output arrives for a quiet period (default 2 s); until=\"text:<regex>\" waits until a new output line matches, e.g. `text:Listening on`. Stops after timeout_s (default 30) with happened=\"timeout\". Pass `since` = the cursor send_text returned so a fast command is not missed. Returns the output seen while waiting and a cursor. Sends progress notifications when the client asks for them.\n\nAI agent sessions (started with start_session agent=...): until=\"idle\" waits until the agent finished its turn (agent_state idle) or stops to ask something (happened=\"waiting\", the question in agent_detail); until=\"waiting\" waits only for a question (waiting_for_input); a question comes back as `prompt` (prompt_id, question, tool, command, choices [{number, label}]) for answer_prompt. Only a state change AFTER the start point counts, so send_text followed by wait_for idle never returns on the idle state from before the prompt. The start point is `since`, else the moment before the last send_text/send_keys this server sent to the session, else now; only in that last case does an agent already in the wanted state return at once (already=true). If no state change follows the start point and the screen stays still for 5 s while the agent is in the wanted state, the input started no turn and the wait ends (already=true). until=\"waiting\" on a session without an agent is an error.",
        output_schema = schema_for_output::<WaitOut>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn wait_for(
        &self,
        Parameters(p): Parameters<WaitForParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let quiet = p
                    .quiet_ms
                    .map(Duration::from_millis)
                    .unwrap_or(self.settings.idle);
                let until = Until::parse(&p.until, quiet)?;
                let since = p.since.as_deref().map(Since::parse).transpose()?;
                let timeout = timeout_of(
                    p.timeout_s,
                    self.settings.default_wait_timeout,
                    self.settings.max_timeout,
                );
                let (c, s) = self.mesh.resolve_session(&p.session).await?;
                let addr = format!("{c}/{s}");
                let progress = Progress::from_request(
                    &ctx,
                    timeout,
                    format!("waiting for {} on {addr}", p.until.trim()),
                );
                let w = match agent::plan_wait(self, &c, &s, until, since).await? {
                    WaitPlan::Follow { until, from } => {
                        wait::wait(&self.mesh, &c, &s, from, &until, timeout, progress, &ctx.ct)
                            .await?
                    }
                    WaitPlan::Already {
                        state,
                        cursor,
                        prompt,
                    } => wait::Waited {
                        happened: Happened::Agent {
                            state,
                            detail: format!("already {state} when the wait began"),
                            already: true,
                            prompt,
                        },
                        // What the agent shows now: the answer, or its question.
                        output: self.mesh.read(&addr, 0, false).await?,
                        cursor,
                        waited: Duration::ZERO,
                    },
                };
                let b = bound_default(&w.output);
                let (exit_code, matched) = match &w.happened {
                    Happened::CommandFinished(code) | Happened::SessionExited(code) => {
                        (Some(*code), None)
                    }
                    Happened::Text(line) => (None, Some(line.clone())),
                    _ => (None, None),
                };
                let (agent_state, agent_detail, already) = match &w.happened {
                    Happened::Agent {
                        state,
                        detail,
                        already,
                        ..
                    } => (
                        Some(state.as_str().to_string()),
                        Some(detail.clone()),
                        Some(*already),
                    ),
                    _ => (None, None, None),
                };
                let prompt = match &w.happened {
                    Happened::Agent {
                        state: telemux_proto::AgentState::WaitingForInput,
                        prompt,
                        ..
                    } => match prompt {
                        Some(p) => Some(prompt_out(p)),
                        // Not in the record (ended by the grace period, or an
                        // older node): what the session shows now.
                        None => self.mesh.agent_prompt(&addr).await.ok().flatten().as_ref().map(prompt_out),
                    },
                    _ => None,
                };
                let out = WaitOut {
                    session: addr.clone(),
                    happened: w.happened.word().to_string(),
                    exit_code,
                    matched,
                    output: b.text,
                    lines_omitted: b.omitted,
                    waited_s: (w.waited.as_millis() as f64) / 1000.0,
                    cursor: w.cursor.clone(),
                    agent_state,
                    agent_detail,
                    already,
                    prompt,
                };
                let secs = format!("{:.1} s", out.waited_s);
                let head = match &w.happened {
                    Happened::CommandFinished(code) => {
                        format!("command finished with exit code {code} after {secs}")
                    }
                    Happened::SessionExited(code) => {
                        format!("{addr} exited with status {code} after {secs}")
                    }
                    Happened::SessionClosed(reason) => {
                        format!("{addr} was closed ({reason}) after {secs}")
                    }
                    Happened::Idle => format!(
                        "idle: no output for {} ms (waited {secs})",
                        quiet.as_millis()
                    ),
                    Happened::Text(line) => format!("matched after {secs}: {line}"),
                    Happened::Agent {
                        state: telemux_proto::AgentState::WaitingForInput,
                        detail,
                        ..
                    } => waiting_headline(&addr, &secs, detail, out.prompt.as_ref()),
                    Happened::Agent {
                        already: true,
                        detail,
                        ..
                    } => format!(
                        "the agent in {addr} is idle: {detail}; read its answer with read_output last_turn=true"
                    ),
                    Happened::Agent { .. } => format!(
                        "the agent in {addr} finished its turn after {secs}; read its answer with read_output last_turn=true"
                    ),
                    Happened::Timeout => format!(
                        "timeout: nothing matching until={} within {} s",
                        p.until.trim(),
                        timeout.as_secs()
                    ),
                };
                let text = format!(
                    "{head}\n--- output while waiting ---\n{}\n[telemux: cursor {}]",
                    out.output.trim_end_matches('\n'),
                    out.cursor
                );
                encode(&out, text)
            }
            .await,
        )
    }

    /// Kills a session.
    #[tool(
        name = "kill_session",
        description = "Kill a session and everything running in it, e.g. `MozBook/api`. Use it to clean up sessions you started.",
        output_schema = schema_for_output::<DoneOut>(),
        annotations(read_only_hint = false, destructive_hint = true, open_world_hint = false)
    )]
    pub async fn kill_session(
        &self,
        Parameters(p): Parameters<KillSessionParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let (c, s) = self.mesh.kill(&p.session).await?;
                let out = DoneOut {
                    ok: true,
                    session: format!("{c}/{s}"),
                    cursor: None,
                };
                let text = format!("killed {}", out.session);
                encode(&out, text)
            }
            .await,
        )
    }
}
