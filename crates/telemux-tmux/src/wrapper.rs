//! The wrapper every node-created session runs its command under.
//!
//! tmux 3.3a has three races that cost output or exit codes when the node
//! relies on tmux alone: output printed before the control client attaches is
//! not streamed; the last output of a process that exits is often never sent to
//! control clients; and a pane death is sometimes not noticed (no status, no
//! `pane-died` hook) until another child of the server exits. The wrapper
//! closes all three without polling:
//!
//! 1. it waits on `wait-for telemux-go-<pane>` until the node has attached;
//! 2. it runs the command, then stores `$?` in the pane option
//!    `@telemux_status` and signals the node's wake channel — the pane is still
//!    alive, so its output is still delivered;
//! 3. it waits on `wait-for telemux-done-<pane>` until the node has published
//!    the exit, then exits with the same status.
//!
//! A command that prints text cannot touch the pane option, so it cannot fake
//! or hide its exit status. SIGINT is caught by the wrapper (a handler, which
//! exec resets) so Ctrl-C interrupts the command, not the bookkeeping.
//!
//! [`wrap_with_stdin`] is the variant for `run` sessions: the command's stdin
//! is a file (the run's stdin, written by the node, or `/dev/null`) instead of
//! the pane's terminal, so a command that reads stdin gets the sent bytes and
//! then EOF rather than waiting for typing nobody will do.

use std::path::Path;

use telemux_proto::SessionName;

use crate::command::{target, Tmux};
use crate::{Result, WAKE_CHANNEL};

const SCRIPT: &str = r#"trap : INT
p=${TMUX_PANE#%}
tmux wait-for "telemux-go-$p"
"$@"
st=$?
tmux set -p -t "$TMUX_PANE" @telemux_status "$st" \; wait-for -S "$0"
tmux wait-for "telemux-done-$p"
exit "$st"
"#;

/// [`SCRIPT`] with the command's stdin redirected from the file named by the
/// first argument (shifted off before the command runs). If the file cannot be
/// opened the shell reports it and the status is non-zero, like any command.
const SCRIPT_STDIN: &str = r#"trap : INT
f=$1
shift
p=${TMUX_PANE#%}
tmux wait-for "telemux-go-$p"
"$@" <"$f"
st=$?
tmux set -p -t "$TMUX_PANE" @telemux_status "$st" \; wait-for -S "$0"
tmux wait-for "telemux-done-$p"
exit "$st"
"#;

/// [`SCRIPT`] for an agent that can be suspended: when the agent exits while
/// the pane option `@telemux_suspended` is `1` (the node stopped it after it
/// idled), the wrapper stays, waits on `wait-for telemux-resume-<pane>`, and
/// then runs the resume command line (the first argument, shell-quoted) —
/// so the session, its stream and its pane live on while the agent's memory
/// is freed.
const SCRIPT_AGENT: &str = r#"trap : INT
r=$1
shift
p=${TMUX_PANE#%}
tmux wait-for "telemux-go-$p"
"$@"
st=$?
while [ "$(tmux show -pqv -t "$TMUX_PANE" @telemux_suspended)" = 1 ]; do
  printf '
[telemux: agent suspended; the next input resumes it]
'
  tmux wait-for "telemux-resume-$p"
  tmux set -p -t "$TMUX_PANE" @telemux_suspended 0
  eval "$r"
  st=$?
done
tmux set -p -t "$TMUX_PANE" @telemux_status "$st" \; wait-for -S "$0"
tmux wait-for "telemux-done-$p"
exit "$st"
"#;

/// The argv that runs agent `argv` under the wrapper, able to be suspended
/// and resumed with `resume` (see [`SCRIPT_AGENT`]).
pub fn wrap_agent(argv: &[String], resume: &[String]) -> Vec<String> {
    let line = resume
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        SCRIPT_AGENT.to_string(),
        WAKE_CHANNEL.to_string(),
        line,
    ];
    out.extend(argv.iter().cloned());
    out
}

/// The argv that runs `argv` under the wrapper. A one-element `argv` is a shell
/// command line (as with ssh and tmux); several elements run directly.
pub fn wrap(argv: &[String]) -> Vec<String> {
    wrapped(SCRIPT, None, argv)
}

/// Like [`wrap`], but the command reads its stdin from `stdin` (a file, or
/// `/dev/null`) instead of the pane's terminal. Output still goes to the pane.
pub fn wrap_with_stdin(argv: &[String], stdin: &Path) -> Vec<String> {
    wrapped(SCRIPT_STDIN, Some(stdin), argv)
}

fn wrapped(script: &str, stdin: Option<&Path>, argv: &[String]) -> Vec<String> {
    let mut out = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        script.to_string(),
        WAKE_CHANNEL.to_string(),
    ];
    out.extend(stdin.map(|p| p.to_string_lossy().into_owned()));
    match argv {
        [one] => out.extend(["/bin/sh".to_string(), "-c".to_string(), one.clone()]),
        many => out.extend(many.iter().cloned()),
    }
    out
}

/// What the wrapper of a session has reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrapperState {
    /// The command's exit status, once it ended.
    pub status: Option<i32>,
    /// Whether the node already published that status.
    pub reported: bool,
}

fn channel(kind: &str, pane_id: &str) -> String {
    format!("telemux-{kind}-{}", pane_id.trim_start_matches('%'))
}

impl Tmux {
    /// Lets the wrapper in pane `pane_id` start its command.
    pub async fn release_start(&self, pane_id: &str) -> Result<()> {
        self.run(&["wait-for", "-S", &channel("go", pane_id)])
            .await
            .map(|_| ())
    }

    /// Reads the wrapper's exit report for session `s`.
    pub async fn wrapper_state(&self, s: &SessionName) -> Result<WrapperState> {
        let out = self
            .run(&[
                "display-message",
                "-p",
                "-t",
                &target(s),
                "#{@telemux_status}\x1f#{@telemux_reported}",
            ])
            .await?;
        let line = out.lines().next().unwrap_or("");
        let (st, rep) = line.split_once('\x1f').unwrap_or((line, ""));
        Ok(WrapperState {
            status: st.trim().parse().ok(),
            reported: rep.trim() == "1",
        })
    }

    /// Marks the agent in session `s` as being suspended (its wrapper then
    /// waits instead of ending when the agent exits), or not.
    pub async fn set_suspended(&self, s: &SessionName, on: bool) -> Result<()> {
        self.run(&[
            "set",
            "-p",
            "-t",
            &target(s),
            "@telemux_suspended",
            if on { "1" } else { "0" },
        ])
        .await
        .map(|_| ())
    }

    /// Lets the wrapper in pane `pane_id` resume its suspended agent.
    pub async fn resume_agent(&self, pane_id: &str) -> Result<()> {
        self.run(&["wait-for", "-S", &channel("resume", pane_id)])
            .await
            .map(|_| ())
    }

    /// Records that the exit was published and lets the wrapper exit.
    pub async fn release_exit(&self, s: &SessionName, pane_id: &str) -> Result<()> {
        let t = target(s);
        let done = channel("done", pane_id);
        self.run(&[
            "set",
            "-p",
            "-t",
            &t,
            "@telemux_reported",
            "1",
            ";",
            "wait-for",
            "-S",
            &done,
        ])
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_argument_is_a_shell_line() {
        let w = wrap(&["echo hi; exit 7".to_string()]);
        assert_eq!(&w[4..], &["/bin/sh", "-c", "echo hi; exit 7"]);
        let w = wrap(&["sh".into(), "-c".into(), "exit 3".into()]);
        assert_eq!(&w[4..], &["sh", "-c", "exit 3"]);
        assert_eq!(w[3], WAKE_CHANNEL);
    }

    #[test]
    fn stdin_file_comes_before_the_command() {
        let w = wrap_with_stdin(&["read x".to_string()], Path::new("/dev/null"));
        assert_eq!(w[3], WAKE_CHANNEL);
        assert_eq!(&w[4..], &["/dev/null", "/bin/sh", "-c", "read x"]);
        assert!(w[2].contains(r#""$@" <"$f""#));
    }
}
