//! The remote screen as the local terminal should show it: a terminal
//! emulator (vt100) seeded from a snapshot and fed the session's raw
//! output, which writes only the difference to the local terminal — so
//! the remote program's switches of screens and modes never reach the
//! user's own terminal state, as with tmux.

use telemux_proto::Snapshot;

/// Rows of a capture, each reset at its end, separated by CR LF.
fn rows(text: &str, out: &mut Vec<u8>) {
    for (i, row) in text.split('\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(row.as_bytes());
        out.extend_from_slice(b"\x1b[0m");
    }
}

/// The emulated remote screen.
pub struct Mirror {
    parser: vt100::Parser,
}

impl Mirror {
    /// A screen of `cols` x `rows` showing `snap`.
    pub fn new(snap: &Snapshot, cols: u16, rows_n: u16) -> Mirror {
        let mut parser = vt100::Parser::new(rows_n.max(1), cols.max(1), 0);
        parser.process(&seed(snap));
        Mirror { parser }
    }

    /// Applies remote output; returns what to write to the local terminal.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let prev = self.parser.screen().clone();
        self.parser.process(bytes);
        self.parser.screen().state_diff(&prev)
    }

    /// Everything to paint a blank (or garbled) local terminal.
    pub fn redraw(&self) -> Vec<u8> {
        let mut out = b"\x1b[H\x1b[2J".to_vec();
        out.extend(self.parser.screen().state_formatted());
        out
    }

    /// The local terminal changed size.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.parser.set_size(rows.max(1), cols.max(1));
    }

    /// The screen's text, rows joined by `\n` (for tests and checks).
    pub fn text(&self) -> String {
        self.parser.screen().contents()
    }
}

/// Bytes that put an emulator into the snapshot's state.
pub fn seed(snap: &Snapshot) -> Vec<u8> {
    let mut out = b"\x1b[H\x1b[2J".to_vec();
    if snap.alternate {
        if let Some(saved) = &snap.saved {
            rows(saved, &mut out);
        }
        out.extend_from_slice(b"\x1b[?1049h\x1b[H\x1b[2J");
    }
    rows(&snap.screen, &mut out);
    out.extend_from_slice(format!("\x1b[{};{}H", snap.cursor_y + 1, snap.cursor_x + 1).as_bytes());
    if !snap.cursor_visible {
        out.extend_from_slice(b"\x1b[?25l");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(screen: &str, alternate: bool) -> Snapshot {
        Snapshot {
            screen: screen.into(),
            saved: alternate.then(|| "$ vim".to_string()),
            width: 20,
            height: 4,
            cursor_x: 2,
            cursor_y: 1,
            cursor_visible: true,
            alternate,
            cursor: "0-0".into(),
        }
    }

    #[test]
    fn the_snapshot_is_shown_with_its_cursor() {
        let m = Mirror::new(&snap("\x1b[31mred\x1b[0m\n$ ", false), 20, 4);
        assert_eq!(m.text().trim_end(), "red\n$");
        assert_eq!(m.parser.screen().cursor_position(), (1, 2));
        assert_eq!(
            m.parser.screen().cell(0, 0).unwrap().fgcolor(),
            vt100::Color::Idx(1)
        );
    }

    #[test]
    fn leaving_the_alternate_screen_shows_what_was_under_it() {
        let mut m = Mirror::new(&snap("~\n~", true), 20, 4);
        assert!(m.text().starts_with('~'));
        let out = m.feed(b"\x1b[?1049l");
        assert!(m.text().starts_with("$ vim"), "{:?}", m.text());
        // The local terminal is told to draw it, never to switch screens.
        assert!(!String::from_utf8_lossy(&out).contains("1049"));
    }
}
