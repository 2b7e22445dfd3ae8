//! What can go wrong in the terminal front ends, worded for the user.

use telemux_client::MeshError;

/// A failure of `tui` or `attach`.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// A mesh call failed (Redis, a node, a name).
    #[error(transparent)]
    Mesh(#[from] MeshError),
    /// Redis failed under a stream reader.
    #[error(transparent)]
    Bus(#[from] telemux_bus::BusError),
    /// The local terminal could not be set up or written.
    #[error("terminal: {what}: {source}")]
    Terminal {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not run in a terminal.
    #[error(
        "{0} needs a terminal: run it in an interactive shell (stdin and stdout must be a tty)"
    )]
    NotATerminal(&'static str),
    /// A detach key that cannot be typed.
    #[error("detach key {given:?} not understood; allowed: C-<char> or one character, optionally followed by a second one, e.g. \"C-\\\\ d\" or \"C-] q\"")]
    DetachKey {
        /// What was given.
        given: String,
    },
}

impl TuiError {
    /// Wraps an I/O error of the local terminal.
    pub fn terminal(what: &'static str, source: std::io::Error) -> TuiError {
        TuiError::Terminal { what, source }
    }
}
