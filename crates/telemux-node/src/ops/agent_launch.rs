//! The command line and environment an agent session starts with: the
//! program found like the user's shell would find it, the hooks telemux
//! installs, and the arguments that resume the last conversation.

use std::sync::Arc;

use telemux_proto::ErrorCode;

use crate::agent::{hooks, locate, AgentProfile};
use crate::error::OpError;
use crate::state::Shared;

/// How an agent session starts.
pub(crate) struct AgentLaunch {
    /// Its command line.
    pub argv: Vec<String>,
    /// The command line that resumes its last conversation (after a suspend).
    pub resume_argv: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

/// argv, resume argv and extra environment for starting `agent`.
pub(crate) async fn argv(
    shared: &Arc<Shared>,
    agent: &AgentProfile,
    resume: bool,
) -> Result<AgentLaunch, OpError> {
    let computer = &shared.cfg.computer;
    let program = &agent.command[0];
    let found = locate::find(program, &shared.login_path)
        .await
        .map_err(|e| {
            OpError::new(
                ErrorCode::BadInput,
                format!(
                    "cannot start agent '{}' on {computer}: {e}. Install it there, or give its full path in that computer's config: [agents.{}] command = [\"/path/to/{program}\"]",
                    agent.name, agent.name
                ),
            )
        })?;
    let launch = hooks::install(&shared.cfg.state_dir, agent.hooks)
        .await
        .map_err(|e| {
            OpError::new(
                ErrorCode::Internal,
                format!(
                    "cannot write the {} hook settings under {} on {computer}: {e}",
                    agent.name,
                    shared.cfg.state_dir.display()
                ),
            )
        })?;
    let line = |resume: bool| {
        let mut argv = vec![found.program.to_string_lossy().into_owned()];
        // Codex takes `resume` as a subcommand: it goes before the options.
        if resume {
            argv.extend(agent.resume_args.iter().cloned());
        }
        argv.extend(agent.command[1..].iter().cloned());
        argv.extend(launch.args.iter().cloned());
        argv
    };
    let mut env = launch.env.clone();
    env.push(("PATH".into(), found.path));
    Ok(AgentLaunch {
        argv: line(resume),
        resume_argv: line(true),
        env,
    })
}
