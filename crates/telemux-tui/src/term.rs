//! The local terminal while a front end owns it: raw mode and the
//! alternate screen, given back as they were when the guard is dropped —
//! also on an error or a panic, so the user's shell is never left garbled.

use std::io::{IsTerminal, Write};

use crossterm::{cursor, execute, terminal};

use crate::TuiError;

/// Raw mode plus the alternate screen, until dropped.
pub struct TermGuard {
    _private: (),
}

impl TermGuard {
    /// Takes over the terminal; `what` names the command for the error when
    /// stdin or stdout is not a terminal.
    pub fn enter(what: &'static str) -> Result<TermGuard, TuiError> {
        if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            return Err(TuiError::NotATerminal(what));
        }
        terminal::enable_raw_mode().map_err(|e| TuiError::terminal("raw mode", e))?;
        let guard = TermGuard { _private: () };
        execute!(std::io::stdout(), terminal::EnterAlternateScreen)
            .map_err(|e| TuiError::terminal("alternate screen", e))?;
        Ok(guard)
    }
}

impl Drop for TermGuard {
    fn drop(&mut self) {
        let mut out = std::io::stdout();
        // Modes a remote program may have switched on in this terminal.
        let _ = out.write_all(
            b"\x1b[?2004l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1l\x1b>\x1b[0m",
        );
        let _ = execute!(out, cursor::Show, terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
        let _ = out.flush();
    }
}

/// The local terminal's size (columns, rows), 80x24 when it cannot tell.
pub fn size() -> (u16, u16) {
    terminal::size().unwrap_or((80, 24))
}
