//! Terminal-output renderer: turns the raw bytes a pane printed (tmux control-mode
//! `%output`, already unescaped, in arbitrary chunks) into rendered text deltas.
//!
//! A [`Renderer`] keeps one session's state (the line under the cursor, the cursor
//! column, whether the alternate screen is on, the escape parser) and, per batch of
//! bytes, reports the lines that scrolled by, the unfinished current line, or that a
//! full-screen program owns the pane. It is a deliberately small line model, not a
//! terminal emulator: the pane width is unknown, so there is no wrapping and columns
//! count `char`s (a wide CJK/emoji char is one column here). Escape sequences are
//! only ever *stripped*, never trusted: a program printing an OSC 133 or any other
//! "exit code" marker produces text or nothing, because exit codes come from a side
//! channel (DESIGN §7). Memory per session is bounded (see [`MAX_LINE_CHARS`]).
//! No I/O happens here.

use std::fmt;

use vte::{Params, Parser, Perform};

/// Longest line (in chars) kept before it is force-split, so a program printing
/// megabytes without a newline cannot grow the renderer without bound.
pub const MAX_LINE_CHARS: usize = 16 * 1024;

/// Bytes the parser may swallow without any action before we assume an unterminated
/// OSC/DCS/APC string: vte buffers OSC payloads in an unbounded `Vec`, so we reset it.
const MAX_SILENT_BYTES: usize = 64 * 1024;

/// Bytes handed to the parser at a time, the granularity of the silence check above.
const FEED_SLICE: usize = 4096;

/// Tab stops every this many columns, as in a default terminal.
const TAB_WIDTH: usize = 8;

/// Rendered result of feeding one batch of pane bytes.
///
/// The variant describes the state at the END of the batch; `lines` always carries
/// every main-screen line completed in the batch (before the switch to the alternate
/// screen and after the switch back), in order, so nothing that scrolled is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    /// The batch ended on the main screen (scrolling output).
    Lines {
        /// Lines completed in this batch, trailing spaces trimmed.
        lines: Vec<String>,
        /// The current unfinished line after the batch (e.g. a prompt); may be empty.
        partial: String,
        /// The alternate screen was switched off during this batch: a full-screen
        /// program ended (possibly one that started within this same batch), so any
        /// frame shown to readers earlier is stale.
        left_full_screen: bool,
    },
    /// The batch ended on the alternate screen (vim, htop, Claude Code): the caller
    /// must capture a frame from tmux.
    FullScreen {
        /// Main-screen lines completed in this batch before the switch (usually empty).
        lines: Vec<String>,
    },
    /// Nothing visible changed (no lines, same partial, no screen switch).
    Nothing,
}

/// Per-session renderer of raw pane bytes into [`Rendered`] deltas; bounded memory.
pub struct Renderer {
    parser: Parser,
    screen: Screen,
    /// The `partial` last reported, to tell "nothing changed" apart from a redraw.
    reported_partial: String,
    /// Bytes fed since the parser last produced an action (see [`MAX_SILENT_BYTES`]).
    silent_bytes: usize,
    /// Dropping the rest of an oversized string sequence until BEL/ESC/CAN/SUB.
    discarding: bool,
}

impl fmt::Debug for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renderer")
            .field("alternate_screen", &self.screen.alt)
            .field("line_chars", &self.screen.line.len())
            .field("column", &self.screen.col)
            .finish_non_exhaustive()
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    /// A renderer for a fresh pane: main screen, empty line, column 0.
    pub fn new() -> Self {
        Self {
            parser: Parser::new(),
            screen: Screen::default(),
            reported_partial: String::new(),
            silent_bytes: 0,
            discarding: false,
        }
    }

    /// Feeds one batch of raw pane bytes (any chunking) and reports what changed.
    ///
    /// Returns `FullScreen` iff the batch ends on the alternate screen (any bytes
    /// received while it is on count as a change); an empty batch is `Nothing`.
    pub fn feed(&mut self, bytes: &[u8]) -> Rendered {
        if bytes.is_empty() {
            return Rendered::Nothing;
        }
        self.advance(bytes);
        let lines = std::mem::take(&mut self.screen.lines);
        let left_full_screen = std::mem::take(&mut self.screen.left_alt);
        if self.screen.alt {
            return Rendered::FullScreen { lines };
        }
        let partial = self.screen.partial();
        if lines.is_empty() && !left_full_screen && partial == self.reported_partial {
            return Rendered::Nothing;
        }
        self.reported_partial.clone_from(&partial);
        Rendered::Lines {
            lines,
            partial,
            left_full_screen,
        }
    }

    /// Whether the pane is on the alternate screen (a full-screen program runs).
    pub fn alternate_screen(&self) -> bool {
        self.screen.alt
    }

    /// Sets the alternate-screen state when the node learns it from tmux
    /// (`#{alternate_on}`), e.g. after adopting a session mid-program.
    pub fn set_alternate_screen(&mut self, on: bool) {
        self.screen.alt = on;
    }

    /// Runs the parser over `bytes`, guarding against unterminated string sequences.
    fn advance(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.discarding {
                // ST starts with ESC and CAN/SUB abort a string: hand those back to a
                // fresh parser; BEL terminates the string and is consumed here.
                match rest
                    .iter()
                    .position(|&b| matches!(b, 0x07 | 0x1b | 0x18 | 0x1a))
                {
                    None => rest = &[],
                    Some(i) => {
                        self.discarding = false;
                        rest = if rest[i] == 0x07 {
                            &rest[i + 1..]
                        } else {
                            &rest[i..]
                        };
                    }
                }
                continue;
            }
            let (chunk, tail) = rest.split_at(rest.len().min(FEED_SLICE));
            self.screen.active = false;
            self.parser.advance(&mut self.screen, chunk);
            if self.screen.active {
                self.silent_bytes = 0;
            } else {
                self.silent_bytes += chunk.len();
                if self.silent_bytes > MAX_SILENT_BYTES {
                    self.parser = Parser::new();
                    self.silent_bytes = 0;
                    self.discarding = true;
                }
            }
            rest = tail;
        }
    }
}

/// Renders a whole buffer at once with a fresh [`Renderer`]: the completed lines and
/// the final partial line joined with `'\n'` (so `"a\nb\n"` → `"a\nb\n"`). Output drawn
/// on the alternate screen is dropped; it is screen painting, not text.
pub fn strip_ansi(bytes: &[u8]) -> String {
    let mut renderer = Renderer::new();
    let mut out = match renderer.feed(bytes) {
        Rendered::Lines { lines, .. } | Rendered::FullScreen { lines } => lines,
        Rendered::Nothing => Vec::new(),
    };
    out.push(renderer.screen.partial());
    out.join("\n")
}

/// The line model the parser drives; separate from [`Renderer`] so the parser and
/// the state it mutates can be borrowed at the same time.
#[derive(Default)]
struct Screen {
    /// The current line, one cell per char (overwrite semantics).
    line: Vec<char>,
    /// Cursor column in chars; may lie past the end (gap is padded on print).
    col: usize,
    /// DECSC/SCOSC save: the line and column at save time.
    saved: Option<(Vec<char>, usize)>,
    /// The cursor changed rows since the last save (restore then returns to that row).
    row_moved: bool,
    /// Alternate screen on: output is painting, not lines.
    alt: bool,
    /// Lines completed during the current batch.
    lines: Vec<String>,
    /// The alternate screen was switched off during the current batch.
    left_alt: bool,
    /// The parser invoked any action during the current slice.
    active: bool,
}

impl Screen {
    /// The current line as reported: trailing spaces (padding, erased cells) trimmed.
    fn partial(&self) -> String {
        let s: String = self.line.iter().collect();
        s.trim_end_matches(' ').to_owned()
    }

    /// `\n`: completes the current line (even if empty) and starts the next at column 0
    /// (output reaching tmux went through the pty's `onlcr`, so LF means CR LF).
    fn newline(&mut self) {
        self.lines.push(self.partial());
        self.line.clear();
        self.col = 0;
        self.row_moved = true;
    }

    /// Cursor moved to some other row we cannot see: completes the current line if it
    /// has content (it stays on screen as written) and continues on a fresh line.
    fn change_row(&mut self) {
        if self.line.iter().any(|&c| c != ' ') {
            self.lines.push(self.partial());
        }
        self.line.clear();
        self.row_moved = true;
    }

    /// Writes one char at the cursor, force-splitting an over-long line first.
    fn put(&mut self, c: char) {
        if self.col >= MAX_LINE_CHARS {
            self.newline();
        }
        if self.col < self.line.len() {
            self.line[self.col] = c;
        } else {
            self.line.resize(self.col, ' ');
            self.line.push(c);
        }
        self.col += 1;
    }

    /// Moves the cursor to `col`, kept below the line bound so padding stays bounded.
    fn set_col(&mut self, col: usize) {
        self.col = col.min(MAX_LINE_CHARS - 1);
    }

    /// Blanks the existing cells in `from..to`.
    fn blank(&mut self, from: usize, to: usize) {
        let to = to.min(self.line.len());
        if from < to {
            self.line[from..to].fill(' ');
        }
    }

    /// CSI P: deletes `n` chars at the cursor, pulling the rest of the line left.
    fn delete_chars(&mut self, n: usize) {
        let end = (self.col + n).min(self.line.len());
        if self.col < end {
            self.line.drain(self.col..end);
        }
    }

    /// CSI @: inserts `n` blanks at the cursor, pushing the rest right (bounded).
    fn insert_blanks(&mut self, n: usize) {
        let at = self.col;
        if at < self.line.len() {
            self.line.splice(at..at, std::iter::repeat_n(' ', n));
            self.line.truncate(MAX_LINE_CHARS);
        }
    }

    /// CSI K / CSI J on the one line we model: 0 = to end, 1 = to cursor, 2+ = all.
    fn erase(&mut self, mode: u16) {
        match mode {
            0 => self.line.truncate(self.col),
            1 => self.blank(0, self.col + 1),
            _ => self.line.clear(),
        }
    }

    /// Switches the alternate screen (DECSET/DECRST 47, 1047, 1049).
    fn set_alt(&mut self, on: bool) {
        if self.alt && !on {
            self.left_alt = true;
        }
        // The main screen's line and cursor survive the alternate-screen period
        // (1049 saves and restores the cursor), so they are left untouched.
        self.alt = on;
    }

    /// DECSC / CSI s.
    fn save_cursor(&mut self) {
        self.saved = Some((self.line.clone(), self.col));
        self.row_moved = false;
    }

    /// DECRC / CSI u: if the cursor drew on other rows since the save (e.g. apt's
    /// bottom progress bar), that row is completed and the saved line comes back.
    fn restore_cursor(&mut self) {
        match &self.saved {
            None => self.col = 0,
            Some((line, col)) => {
                let (line, col) = (line.clone(), *col);
                if self.row_moved {
                    self.change_row();
                    self.line = line;
                }
                self.col = col;
            }
        }
    }

    /// RIS (`ESC c`): back to a blank main screen.
    fn reset(&mut self) {
        self.set_alt(false);
        self.line.clear();
        self.col = 0;
        self.saved = None;
    }
}

/// The `idx`-th CSI parameter, or `default` when absent or 0 (counts and positions).
fn count(params: &Params, idx: usize, default: usize) -> usize {
    match params.iter().nth(idx).and_then(|p| p.first()) {
        Some(&v) if v != 0 => usize::from(v),
        _ => default,
    }
}

/// The first CSI parameter as a mode selector (absent = 0).
fn mode(params: &Params) -> u16 {
    params
        .iter()
        .next()
        .and_then(|p| p.first().copied())
        .unwrap_or(0)
}

impl Perform for Screen {
    fn print(&mut self, c: char) {
        self.active = true;
        // vte hands DEL to print; it is invisible on a terminal.
        if self.alt || c == '\x7f' {
            return;
        }
        self.put(c);
    }

    fn execute(&mut self, byte: u8) {
        self.active = true;
        if self.alt {
            return;
        }
        match byte {
            b'\n' => self.newline(),
            b'\r' => self.col = 0,
            0x08 => self.col = self.col.saturating_sub(1),
            // A tab only moves the cursor; the gap is padded if something follows.
            b'\t' => self.set_col((self.col / TAB_WIDTH + 1) * TAB_WIDTH),
            // vte reports a stray byte 0x80..=0x9F as a C1 control; in pane text it
            // is almost always broken UTF-8 (e.g. cp1252), so show the replacement.
            0x80..=0x9f => self.put(char::REPLACEMENT_CHARACTER),
            // BEL, SO/SI, VT, FF and the rest: invisible.
            _ => {}
        }
    }

    fn put(&mut self, _byte: u8) {
        // DCS payload: stripped.
        self.active = true;
    }

    fn hook(&mut self, _params: &Params, _intermediates: &[u8], _ignore: bool, _action: char) {
        self.active = true;
    }

    fn unhook(&mut self) {
        self.active = true;
    }

    fn osc_dispatch(&mut self, _params: &[&[u8]], _bell_terminated: bool) {
        // Titles, OSC 133 marks, hyperlinks...: stripped, never interpreted.
        self.active = true;
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        self.active = true;
        if intermediates == b"?" && matches!(action, 'h' | 'l') {
            let alt_mode = params
                .iter()
                .any(|p| matches!(p.first(), Some(47 | 1047 | 1049)));
            if alt_mode {
                self.set_alt(action == 'h');
            }
            return;
        }
        // Private or intermediate-carrying sequences (cursor style, mouse modes,
        // device queries) and anything on the alternate screen change no text.
        if self.alt || ignore || !intermediates.is_empty() {
            return;
        }
        let n = count(params, 0, 1).min(MAX_LINE_CHARS);
        match action {
            'K' => self.erase(mode(params)),
            // Erase in display: only the current line is ours to edit; lines that
            // already scrolled out were emitted and stay emitted.
            'J' => self.erase(mode(params)),
            'C' | 'a' => self.set_col(self.col + n),
            'D' => self.col = self.col.saturating_sub(n),
            'G' | '`' => self.set_col(n - 1),
            // Line-editing sequences readline and friends use when echoing input.
            'P' => self.delete_chars(n),
            '@' => self.insert_blanks(n),
            'X' => self.blank(self.col, self.col + n),
            // Vertical moves go to rows we do not model (we have no screen height):
            // best effort, the current line is completed if it has content and output
            // continues on a fresh line. A program redrawing lines above (docker pull,
            // multi-line progress) therefore yields the redrawn lines again as new lines.
            'A' | 'B' | 'e' | 'd' | 'S' | 'T' => self.change_row(),
            'E' | 'F' => {
                self.change_row();
                self.col = 0;
            }
            'H' | 'f' => {
                self.change_row();
                self.set_col(count(params, 1, 1) - 1);
            }
            's' => self.save_cursor(),
            'u' => self.restore_cursor(),
            // SGR and everything else: stripped.
            _ => {}
        }
    }

    fn esc_dispatch(&mut self, intermediates: &[u8], _ignore: bool, byte: u8) {
        self.active = true;
        // Charset designations (`ESC ( B`), DECALN (`ESC # 8`) and friends: no text.
        if !intermediates.is_empty() {
            return;
        }
        if byte == b'c' {
            self.reset();
            return;
        }
        if self.alt {
            return;
        }
        match byte {
            b'7' => self.save_cursor(),
            b'8' => self.restore_cursor(),
            // IND: line feed keeping the column.
            b'D' => {
                let col = self.col;
                self.newline();
                self.col = col;
            }
            // NEL: CR LF.
            b'E' => self.newline(),
            // RI: reverse index, a row we do not model.
            b'M' => self.change_row(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
