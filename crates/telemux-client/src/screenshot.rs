//! `Mesh::screenshot`: a session's screen as the user sees it, drawn as a PNG.
//!
//! Every front end (CLI `screenshot`, MCP `screenshot`, Telegram `/screenshot`)
//! calls this one function, so they show the same picture: the node's
//! snapshot (`capture-pane -e` text, size, cursor) through
//! `telemux-screenshot`'s renderer.

use std::sync::Arc;

use telemux_proto::{ComputerName, SessionName, Snapshot};
use telemux_screenshot::{render_png, Screen, ShotError, CELL_H, CELL_W};

use crate::mesh::{Mesh, MeshError};

/// A session's screen as a PNG image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screenshot {
    /// The computer the session runs on.
    pub computer: ComputerName,
    /// The session.
    pub session: SessionName,
    /// The encoded PNG.
    pub png: Vec<u8>,
    /// Image width in pixels (`cols` × [`CELL_W`]).
    pub width: u32,
    /// Image height in pixels (`rows` × [`CELL_H`]).
    pub height: u32,
    /// Pane width in cells.
    pub cols: u16,
    /// Pane height in cells.
    pub rows: u16,
}

impl Screenshot {
    /// `computer/session`, the address users type.
    pub fn addr(&self) -> String {
        format!("{}/{}", self.computer, self.session)
    }
}

impl Mesh {
    /// Takes a screenshot of the session `addr` (`computer/session`, or a
    /// session name unique in the mesh): its visible screen with colours,
    /// and the cursor where the program shows one.
    pub async fn screenshot(&self, addr: &str) -> Result<Screenshot, MeshError> {
        let (computer, session) = self.resolve_session(addr).await?;
        let snap = self.snapshot(&computer, &session).await?;
        let (cols, rows) = (snap.width, snap.height);
        // Drawing a large pane takes tens of milliseconds of CPU: off the
        // async workers, so other sessions' traffic in this process goes on.
        let png = match tokio::task::spawn_blocking(move || draw(&snap)).await {
            Ok(r) => r.map_err(|e| MeshError::Screenshot(Arc::new(e)))?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {
                return Err(MeshError::Timeout(
                    "the screenshot was not drawn: this process is shutting down".into(),
                ))
            }
        };
        Ok(Screenshot {
            computer,
            session,
            png,
            width: u32::from(cols) * CELL_W,
            height: u32::from(rows) * CELL_H,
            cols,
            rows,
        })
    }
}

/// The snapshot's screen, with its cursor when the program shows one, as PNG.
pub fn draw(snap: &Snapshot) -> Result<Vec<u8>, ShotError> {
    let mut screen = Screen::from_capture(&snap.screen, snap.width, snap.height)?;
    if snap.cursor_visible {
        screen.set_cursor(snap.cursor_x, snap.cursor_y);
    } else {
        screen.hide_cursor();
    }
    render_png(&screen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(visible: bool) -> Snapshot {
        Snapshot {
            screen: "\u{1b}[41m  RED  \u{1b}[0m\nplain".into(),
            saved: None,
            width: 20,
            height: 3,
            cursor_x: 0,
            cursor_y: 2,
            cursor_visible: visible,
            alternate: false,
            cursor: "0-0".into(),
        }
    }

    #[test]
    fn draws_a_png_of_the_pane_size() {
        let png = draw(&snap(true)).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, right after the chunk header.
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((w, h), (20 * CELL_W, 3 * CELL_H));
    }

    #[test]
    fn a_visible_cursor_changes_the_picture() {
        assert_ne!(draw(&snap(true)).unwrap(), draw(&snap(false)).unwrap());
    }

    #[test]
    fn a_zero_size_pane_is_a_typed_error() {
        let mut s = snap(true);
        s.width = 0;
        assert!(matches!(draw(&s), Err(ShotError::Size { .. })));
    }
}
