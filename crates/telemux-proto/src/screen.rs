//! What `attach` needs to show a remote pane as it is: the screen with its
//! colours, the cursor, the size and modes, and where live output continues.

use serde::{Deserialize, Serialize};

/// A pane's screen at one moment (answer to `Op::Snapshot`).
///
/// `screen` is the visible grid as `capture-pane -e` prints it (rows joined by
/// `\n`, colours as SGR sequences). Live output from the stream entry after
/// `cursor` continues from it; bytes the node had not yet published when the
/// snapshot was taken may appear once more after it (a few milliseconds'
/// worth), never fewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The visible screen, rows joined by `\n`, with SGR sequences.
    pub screen: String,
    /// While a full-screen program runs (`alternate`): the normal screen under it.
    #[serde(default)]
    pub saved: Option<String>,
    /// Pane width in cells.
    pub width: u16,
    /// Pane height in cells.
    pub height: u16,
    /// Cursor column (0-based).
    pub cursor_x: u16,
    /// Cursor row (0-based).
    pub cursor_y: u16,
    /// Whether the program shows the cursor.
    pub cursor_visible: bool,
    /// Whether the alternate screen (a full-screen program) is on.
    pub alternate: bool,
    /// Output stream id to read after, so live output continues this screen.
    pub cursor: String,
}

/// Largest size an attached client may give a remote window, so a bogus
/// request cannot make tmux allocate a huge grid.
pub const MAX_ATTACH_CELLS: (u16, u16) = (1000, 500);
