//! What the watcher of an agent session knows beyond its state, shared with
//! the operations that need it (`answer`, `read --last-turn`, `sessions`):
//! the question on screen, the agent's transcript, the last turn's usage.
//!
//! A plain mutex: it is only held to copy a field in or out, never across
//! an await.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use telemux_proto::{Turn, Usage};

use super::prompt::ScreenPrompt;

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct AgentInfo {
    /// The question the agent waits on, as last published.
    pub prompt: Option<ScreenPrompt>,
    /// The tool and command of the permission the agent's hook asked about.
    pub hook_tool: Option<(String, Option<String>)>,
    /// The agent's transcript file, from its hooks' `transcript_path`.
    pub transcript: Option<PathBuf>,
    /// Tokens used by the last finished turn.
    pub usage: Option<Usage>,
    /// The current or last turn as the hooks told it (prompt submitted,
    /// tools run, the final message): exact, and known at once, where a
    /// transcript may be written later.
    pub turn: Option<Turn>,
    /// Whether `turn` has ended (its final message is in).
    pub turn_done: bool,
    /// The id of the question last answered through telemux, and when: it
    /// stays on screen a moment after its Enter, and a second answer then
    /// must not press keys again. Cleared when a question is published.
    pub answered: Option<(String, std::time::Instant)>,
    /// Input asked the suspended agent to come back (see `ops/resume.rs`).
    pub resume_requested: bool,
}

/// [`AgentInfo`] shared between a watcher and operations.
pub type SharedInfo = Arc<Mutex<AgentInfo>>;

/// A copy of the info (a poisoned lock still holds usable data).
pub fn snapshot(info: &SharedInfo) -> AgentInfo {
    info.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Changes the info in place.
pub fn update(info: &SharedInfo, f: impl FnOnce(&mut AgentInfo)) {
    f(&mut info.lock().unwrap_or_else(|p| p.into_inner()))
}
