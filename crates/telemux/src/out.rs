//! Everything the CLI prints on stdout goes through here.
//!
//! A closed stdout (`telemux sessions | head -1`, `tail --follow | head -1`)
//! ends the program quietly with exit 0, the way ripgrep does: `println!`
//! would panic on EPIPE, and ignoring the error would keep a follower
//! running forever. SIGPIPE is not reset to its default instead, because the
//! process also writes to Redis sockets, where a dead peer must be an error
//! to recover from, not a silent death.

use std::io::{ErrorKind, Write};

/// Writes `bytes` to stdout and flushes, so a reader that went away is
/// noticed at this write rather than at some later buffer flush.
pub fn write_bytes(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        failed(e);
    }
}

/// Writes formatted text to stdout and flushes; see [`write_bytes`].
pub fn write_fmt(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        failed(e);
    }
}

/// Ends the process after a failed stdout write: quietly (exit 0) when the
/// reader is gone, with a one-line error otherwise (a full disk, say).
fn failed(e: std::io::Error) -> ! {
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("telemux: cannot write to stdout: {e}");
    std::process::exit(crate::EXIT_REMOTE);
}

/// `println!` that ends the program quietly when stdout is closed.
macro_rules! outln {
    () => {
        $crate::out::write_bytes(b"\n")
    };
    ($($arg:tt)*) => {
        $crate::out::write_fmt(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;
