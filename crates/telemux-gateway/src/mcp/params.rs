//! The MCP tools' inputs and structured results, with the JSON-Schema
//! descriptions a model reads to decide what to call and how.
//!
//! Doc comments on fields become the schema's `description`s, so they are
//! written for a model: what the field means, and an example.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// No input.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct NoParams {}

/// Input of `list_sessions`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListSessionsParams {
    /// Only this computer's sessions, e.g. `MozBook` (case-insensitive). Omit to list the sessions of every online computer.
    #[serde(default)]
    pub computer: Option<String>,
}

/// Input of `start_session`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct StartSessionParams {
    /// Computer to start the session on, e.g. `MozBook` (see list_computers). `MozBook/api` also works and names the session.
    pub computer: String,
    /// Session name, e.g. `api` (letters, digits, `_ . -`). Omit to get a free name like `s1`.
    #[serde(default)]
    pub name: Option<String>,
    /// Working directory on that computer, e.g. `~/src/api`, or the name of one of its projects (see list_projects), e.g. `api`. Default: the home directory.
    #[serde(default)]
    pub cwd: Option<String>,
    /// A program to run instead of the login shell, as one shell command line, e.g. `python3 -q`. Omit for an interactive shell (recommended: exit codes of typed commands are then reported).
    #[serde(default)]
    pub command: Option<String>,
    /// Start an AI coding agent in the session instead of a shell: the name of an agent profile on that computer, e.g. `claude`, `codex` or `gemini` (list_projects shows each computer's profiles). Its state (working, waiting_for_input, idle) then shows in list_sessions, wait_for understands until=`idle`/`waiting` as the agent's own states, and read_output last_turn=true returns its last answer.
    #[serde(default)]
    pub agent: Option<String>,
    /// With `agent` only: resume the agent's last conversation in `cwd` instead of starting a new one (default false).
    #[serde(default)]
    pub resume: bool,
}

/// Input of `answer_prompt`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AnswerPromptParams {
    /// Session address `COMPUTER/SESSION` of an agent session that waits for input, e.g. `MozBook/api`.
    pub session: String,
    /// The choice to select, as listed in the question's `choices` (from wait_for or list_sessions): its number, e.g. `2` (or `"2"`), or its label, e.g. `"Yes"` (case-insensitive; a unique prefix works too).
    #[serde(deserialize_with = "number_or_text")]
    #[schemars(with = "ChoiceSchema")]
    pub choice: String,
    /// The `prompt_id` of the question you are answering, from wait_for's `prompt` (or list_sessions' `agent_prompt`). Recommended: if the agent shows a different question by now, nothing is pressed and the call fails instead of answering the wrong question. Omit to answer whatever question is shown.
    #[serde(default)]
    pub prompt_id: Option<String>,
}

/// A choice given as a JSON number or a string.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema is used
enum ChoiceSchema {
    /// The choice's number.
    Number(u32),
    /// The choice's number or label as text.
    Text(String),
}

/// Reads a choice given as a JSON number (`2`) or a string (`"2"`, `"Yes"`).
fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Choice {
        Number(u64),
        Text(String),
    }
    Ok(match Choice::deserialize(d)? {
        Choice::Number(n) => n.to_string(),
        Choice::Text(t) => t,
    })
}

/// Input of `send_text`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SendTextParams {
    /// Session address `COMPUTER/SESSION`, e.g. `MozBook/api`; a bare `api` works when the name is unique across computers.
    pub session: String,
    /// Text typed literally, e.g. `npm test`. Not interpreted as key names; use send_keys for Ctrl-C, arrows and the like.
    pub text: String,
    /// Press Enter after the text (default true). Set false to type without submitting.
    #[serde(default = "yes")]
    pub enter: bool,
}

fn yes() -> bool {
    true
}

/// Input of `send_keys`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SendKeysParams {
    /// Session address `COMPUTER/SESSION`, e.g. `MozBook/api`.
    pub session: String,
    /// Key names pressed in order, e.g. `["C-c"]` to interrupt, `["Up", "Enter"]` to rerun the last command, `["Escape"]`. Letters and words are text: type them with send_text. Accepted: Enter, Escape (Esc), Tab, BTab, Space, BSpace, Up, Down, Left, Right, Home, End, PageUp, PageDown, Delete, F1-F12, C-a..C-z.
    pub keys: Vec<String>,
}

/// Input of `read_output`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadOutputParams {
    /// Session address `COMPUTER/SESSION`, e.g. `MozBook/api`.
    pub session: String,
    /// Without `since`: scrollback lines above the visible screen (default 100). With `since`: the most lines returned in one page (default 500).
    #[serde(default)]
    pub lines: Option<u32>,
    /// A `cursor` returned by an earlier call (start_session, send_text, send_keys, read_output, wait_for). Returns only the output produced after it, oldest first, and a new cursor: call again with that cursor to page on without re-reading. Omit to get the current screen.
    #[serde(default)]
    pub since: Option<String>,
    /// Return raw terminal bytes with ANSI escapes instead of rendered text (default false).
    #[serde(default)]
    pub raw: bool,
    /// Agent sessions only: return just the agent's last answer as plain text (the reply to the last prompt, without the screen's boxes, spinner and input line), plus the tools it ran (`tools`) and the tokens it used (`usage`). Not combined with `since` or `raw`.
    #[serde(default)]
    pub last_turn: bool,
}

/// Input of `run_command`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunCommandParams {
    /// Computer to run on, e.g. `MozBook`.
    pub computer: String,
    /// One shell command line, run with `/bin/sh -c`, e.g. `cargo test 2>&1 | tail -20` or `ls -la /tmp`.
    pub command: String,
    /// Working directory on that computer, e.g. `~/src/api`. Default: the home directory.
    #[serde(default)]
    pub cwd: Option<String>,
    /// Seconds before the command is interrupted (exit code 124). Default 60; the server caps it (see its instructions).
    #[serde(default)]
    pub timeout_s: Option<u64>,
    /// Text the command reads as its stdin (at most 512 KiB), then end of file. Default: none, so a command that reads stdin gets end of file at once.
    #[serde(default)]
    pub stdin: Option<String>,
}

/// Input of `wait_for`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct WaitForParams {
    /// Session address `COMPUTER/SESSION`, e.g. `MozBook/api`.
    pub session: String,
    /// What to wait for: `exit` (the command typed into the shell finishes, or the session's program ends), `idle` (no new output for a quiet period, default 2 s; for an agent session: the agent finished its turn, or stopped to ask something), `waiting` (agent sessions only: the agent asks the user something), or `text:<regex>` (a line of new output matches the regex, e.g. `text:Listening on port \d+` or `text:\$ $` for a shell prompt).
    pub until: String,
    /// Give up after this many seconds (default 30; the server caps it). A timeout is reported as `happened: "timeout"`, not as an error.
    #[serde(default)]
    pub timeout_s: Option<u64>,
    /// A `cursor` from an earlier call, usually the one send_text returned: output, exits and agent state changes after it count, so a command (or an agent's turn) that finished before wait_for started is not missed. Omit to wait for what happens from now on (for an agent session: from the last input sent through this server, see the tool description).
    #[serde(default)]
    pub since: Option<String>,
    /// For `idle`: the quiet period in milliseconds (default from the server configuration, usually 2000).
    #[serde(default)]
    pub quiet_ms: Option<u64>,
}

/// Input of `list_projects`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListProjectsParams {
    /// Only this computer, e.g. `MozBook` (case-insensitive). Omit for every computer.
    #[serde(default)]
    pub computer: Option<String>,
}

/// Input of `kill_session`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct KillSessionParams {
    /// Session address `COMPUTER/SESSION`, e.g. `MozBook/api`.
    pub session: String,
}

/// Input of `screenshot`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ScreenshotParams {
    /// Session address `COMPUTER/SESSION`, e.g. `MozBook/api`.
    pub session: String,
}

/// Result of `screenshot` (the picture itself is the image content block).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ScreenshotOut {
    /// Canonical address of the session, e.g. `MozBook/api`.
    pub session: String,
    /// Pane size in cells.
    pub cols: u16,
    /// Pane height in cells.
    pub rows: u16,
    /// Image size in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// PNG size in bytes.
    pub bytes: usize,
}

/// One computer of the mesh.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ComputerOut {
    /// Name to use in addresses, e.g. `MozBook`.
    pub name: String,
    /// Whether its node answers now.
    pub online: bool,
    /// Last heartbeat, ms since the Unix epoch.
    pub last_seen_ms: u64,
    /// `now`, or how long ago it was last seen (e.g. `5 min ago`).
    pub last_seen: String,
    /// Number of sessions it has.
    pub sessions: u32,
    /// Operating system and architecture, e.g. `linux-x86_64`.
    pub os: String,
    /// telemux version of its node.
    pub version: String,
    /// Agent profiles it can start (start_session `agent`), e.g. `["claude", "codex", "gemini"]`.
    pub agents: Vec<String>,
}

/// Result of `list_computers`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ComputersOut {
    /// Every computer that ever joined, online or not.
    pub computers: Vec<ComputerOut>,
}

/// One session.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionOut {
    /// Address for the other tools, e.g. `MozBook/api`.
    pub session: String,
    /// Computer that owns it.
    pub computer: String,
    /// Session name.
    pub name: String,
    /// Program in the foreground, e.g. `bash`, `vim`.
    pub command: String,
    /// Working directory of that program.
    pub cwd: String,
    /// `running` or `exited`.
    pub state: String,
    /// Exit status once `exited`.
    pub exit_status: Option<i32>,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: u64,
    /// Last output, ms since the Unix epoch.
    pub last_activity_ms: u64,
    /// Agent profile the session runs (`claude`, ...); absent for plain sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The agent's state: `starting`, `working`, `waiting_for_input` (it asks you something), `idle` (its turn is over) or `exited`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_state: Option<String>,
    /// Since when the agent is in `agent_state`, ms since the Unix epoch (its computer's clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_since_ms: Option<u64>,
    /// While `agent_state` is `waiting_for_input`: the question and its choices (answer with answer_prompt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_prompt: Option<PromptOut>,
    /// Tokens the agent's last turn used, when its transcript says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_usage: Option<UsageOut>,
}

/// A question an agent waits on, with the prompt's own numbered choices.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PromptOut {
    /// Identifies this question: pass it to answer_prompt as `prompt_id`, so an answer never lands on a different question.
    pub prompt_id: String,
    /// The question as the agent words it, e.g. `Do you want to proceed?`.
    pub question: String,
    /// The tool it asks about, e.g. `Bash`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The command or input that tool would run, e.g. `touch hi.txt`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The choices in screen order; answer_prompt takes a `number` or a `label`.
    pub choices: Vec<ChoiceOut>,
}

/// One numbered choice of a question.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ChoiceOut {
    /// Its number on screen, e.g. `1`.
    pub number: u32,
    /// Its label, e.g. `Yes` or `Yes, and don't ask again for this command`.
    pub label: String,
}

/// Tokens an agent's turn used.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct UsageOut {
    /// Input (prompt) tokens, summed over the turn's model calls.
    pub input_tokens: u64,
    /// Output tokens, summed over the turn's model calls.
    pub output_tokens: u64,
}

/// Result of `answer_prompt`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AnsweredOut {
    /// Canonical address of the session, e.g. `MozBook/api`.
    pub session: String,
    /// Number of the choice selected.
    pub number: u32,
    /// Label of the choice selected.
    pub label: String,
    /// The question it answered.
    pub question: String,
}

/// Result of `list_sessions`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionsOut {
    /// Sessions sorted by computer and name.
    pub sessions: Vec<SessionOut>,
}

/// Result of `start_session`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StartedOut {
    /// Address of the new session, e.g. `MozBook/s1`.
    pub session: String,
    /// Computer that owns it.
    pub computer: String,
    /// Its name.
    pub name: String,
    /// Output cursor from the session's very start (for read_output/wait_for `since`).
    pub cursor: String,
}

/// Result of `send_text`, `send_keys` and `kill_session`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DoneOut {
    /// Always true (failures are tool errors).
    pub ok: bool,
    /// Canonical address of the session, e.g. `MozBook/api`.
    pub session: String,
    /// Output cursor from just before the input (for wait_for/read_output `since`); absent for kill_session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Result of `read_output`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReadOut {
    /// Canonical address of the session.
    pub session: String,
    /// The screen and scrollback, or (with `since`) the new output with `[telemux: ...]` event notes.
    pub text: String,
    /// Pass as `since` to get only what comes after this read.
    pub cursor: String,
    /// With `since`: more output is waiting after `cursor` (call again).
    pub more: bool,
    /// With `since`: exit code of a shell command that finished in this output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_exit_code: Option<i32>,
    /// With `since`: exit status if the session's program ended in this output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_exit_status: Option<i32>,
    /// Lines cut from the middle of `text` to keep it short (0: none).
    pub lines_omitted: usize,
    /// With `last_turn`: the tools the agent ran during the turn, in order, e.g. `Bash(touch hi.txt) → exit 0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// With `last_turn`: tokens the turn used, when the agent's transcript says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageOut>,
    /// With `last_turn`: where the answer was read, `transcript` (exact) or `screen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Result of `run_command`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RunOut {
    /// The command's exit code (124 when the timeout interrupted it).
    pub exit_code: i32,
    /// Its output (stdout and stderr as the terminal showed them); long output keeps head and tail with a `[... N lines omitted ...]` line.
    pub output: String,
    /// Wall time from request to exit.
    pub duration_ms: u64,
    /// Whether the timeout interrupted it.
    pub timed_out: bool,
    /// Signal that killed it, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Lines cut from the middle of `output` (0: none).
    pub lines_omitted: usize,
    /// The temporary session it ran in (removed after the exit), e.g. `MozBook/run-1a2b3c4d`.
    pub session: String,
}

/// Result of `wait_for`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WaitOut {
    /// Canonical address of the session.
    pub session: String,
    /// What ended the wait: `command_finished`, `session_exited`, `session_closed`, `idle` (quiet, or an agent finished its turn), `waiting` (an agent asks something), `text` or `timeout`.
    pub happened: String,
    /// For `command_finished`: the command's exit code. For `session_exited`: the program's exit status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// For `text`: the line that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    /// Output seen during the wait (head and tail when long).
    pub output: String,
    /// Lines cut from the middle of `output` (0: none).
    pub lines_omitted: usize,
    /// Seconds waited.
    pub waited_s: f64,
    /// Pass as `since` to read_output or wait_for to continue after this point.
    pub cursor: String,
    /// For an agent wait (`idle`/`waiting` on an agent session): the state it ended in, `idle` or `waiting_for_input`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_state: Option<String>,
    /// For an agent wait: what showed the state, e.g. the question the agent asks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_detail: Option<String>,
    /// For an agent wait: true when the agent was already in that state and nothing was awaited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already: Option<bool>,
    /// For `waiting`: the question and its choices, when they could be read; answer with answer_prompt(session, choice, prompt_id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptOut>,
}

/// A named directory on a computer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectOut {
    /// Short name, usable as start_session `cwd`, e.g. `api`.
    pub name: String,
    /// The directory it stands for, e.g. `~/apps/api`.
    pub dir: String,
}

/// The projects and agent profiles of one computer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ComputerProjectsOut {
    /// Computer name, e.g. `MozBook`.
    pub computer: String,
    /// Whether its node answers now (sessions can only start on online computers).
    pub online: bool,
    /// Its projects (`[projects]` in its config), sorted by name.
    pub projects: Vec<ProjectOut>,
    /// Agent profiles it can start (start_session `agent`).
    pub agents: Vec<String>,
}

/// Result of `list_projects`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectsOut {
    /// One entry per computer.
    pub computers: Vec<ComputerProjectsOut>,
}
