//! `run`: start a command on a computer, follow its output, return its exit code.
//!
//! The exit code comes from the node's `session_exited` record (tmux's
//! `pane_dead_status`), never from the output text.

use std::time::{Duration, Instant};

use telemux_bus::{Cursor, OutputReader};
use telemux_proto::{limits, OutputEvent, OutputRecord};

use crate::mesh::{Mesh, MeshError};
use crate::view::Transcript;

/// Output kept in a [`RunOutcome`]; beyond this the middle is dropped.
pub const MAX_RUN_OUTPUT: usize = 8 * 1024 * 1024;
/// Extra time the client waits past the remote timeout before giving up.
const CLIENT_GRACE: Duration = Duration::from_secs(15);

/// What to run where.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Computer name as typed.
    pub computer: String,
    /// Working directory on that computer.
    pub cwd: Option<String>,
    /// Argument vector (one element: a shell command line).
    pub command: Vec<String>,
    /// After this the command is interrupted and the exit code is 124.
    pub timeout: Duration,
    /// The command's whole stdin, sent with the request (at most
    /// [`telemux_proto::limits::MAX_STDIN_BYTES`]); `None`: the command's
    /// stdin is `/dev/null`. Not streamed while the command runs.
    pub stdin: Option<Vec<u8>>,
}

/// The result of a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The remote exit status; 124 when it timed out.
    pub exit_code: i32,
    /// Rendered output (ANSI stripped).
    pub output: String,
    /// Wall time from request to exit.
    pub duration_ms: u64,
    /// Whether the timeout ended it.
    pub timed_out: bool,
    /// Signal that killed it, when one did.
    pub signal: Option<i32>,
    /// `computer/session` it ran in.
    pub session: String,
}

impl Mesh {
    /// Runs `req`, calling `on_record` for every output record as it arrives.
    pub async fn run(
        &self,
        req: RunRequest,
        mut on_record: impl FnMut(&OutputRecord),
    ) -> Result<RunOutcome, MeshError> {
        let started = Instant::now();
        let computer = self.resolve_computer(&req.computer).await?;
        if req.command.is_empty() {
            return Err(MeshError::BadInput(
                "run needs a command: telemux run COMPUTER -- COMMAND...".into(),
            ));
        }
        if let Some(stdin) = &req.stdin {
            limits::check("run stdin", stdin.len(), limits::MAX_STDIN_BYTES)?;
        }
        let created = self
            .start_run(
                &computer,
                req.cwd.clone(),
                req.command.clone(),
                req.timeout,
                req.stdin,
            )
            .await?;
        let mut reader = OutputReader::new(
            self.bus(),
            &created.computer,
            &created.session,
            Cursor::After(created.cursor.clone()),
        )
        .await?;
        let give_up = started + req.timeout + CLIENT_GRACE;
        // The same text `run --json` and MCP return; `on_record` callers
        // print the records themselves (view::Printer).
        let mut output = Transcript::output_only(MAX_RUN_OUTPUT);
        loop {
            if Instant::now() > give_up {
                return Err(MeshError::Timeout(format!(
                    "{computer} did not report the end of {}/{} within {} s; the command may still be running",
                    created.computer,
                    created.session,
                    (req.timeout + CLIENT_GRACE).as_secs()
                )));
            }
            let batch = reader
                .next_batch(Some(Duration::from_millis(500)), 256)
                .await?;
            if let Some(gap) = &batch.gap {
                output.note(&format!("output trimmed before it was read: {gap}"));
            }
            for (_, rec) in batch.entries {
                let Ok(rec) = rec else { continue };
                on_record(&rec);
                output.push(&rec, false);
                if let OutputEvent::SessionClosed { reason } = &rec.event {
                    return Err(MeshError::Remote {
                        code: None,
                        message: format!(
                            "{}/{} ended without an exit status ({reason})",
                            created.computer, created.session
                        ),
                    });
                }
                if let OutputEvent::SessionExited {
                    exit_status,
                    signal,
                    timed_out,
                } = rec.event
                {
                    return Ok(RunOutcome {
                        exit_code: if timed_out { 124 } else { exit_status },
                        output: output.full_text(),
                        duration_ms: started.elapsed().as_millis() as u64,
                        timed_out,
                        signal,
                        session: format!("{}/{}", created.computer, created.session),
                    });
                }
            }
        }
    }
}
