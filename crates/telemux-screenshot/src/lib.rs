//! Terminal screenshots: the text of `tmux capture-pane -p -e` drawn as a PNG.
//!
//! * [`Screen`] is the cell grid, parsed from a capture (SGR colours and
//!   attributes, wide characters) with an optional cursor.
//! * [`render_png`] draws it with the embedded DejaVu Sans Mono faces;
//!   [`render_rgba`] gives the raw pixels, so callers and tests can look at them.
//!
//! Sizes are bounded ([`MAX_COLS`] × [`MAX_ROWS`]) so that a bad pane size
//! cannot make the renderer allocate without limit. The crate depends on no
//! other telemux crate: it only turns text into pixels.

mod boxdraw;
mod font;
mod palette;
mod render;
mod screen;

pub use palette::{Rgb, Theme};
pub use render::{render_png, render_rgba, render_rgba_with, Image};
pub use screen::{Attrs, Cell, CellWidth, Color, Screen};

/// Width of one terminal cell in pixels (DejaVu Sans Mono's advance at
/// [`FONT_PX`], rounded down so columns never drift apart).
pub const CELL_W: u32 = 9;
/// Height of one terminal cell in pixels: the font's ascent plus descent at
/// [`FONT_PX`], rounded up so descenders are not cut off.
pub const CELL_H: u32 = 18;
/// Font size, in pixels per em, that the glyphs are rasterized at.
pub const FONT_PX: f32 = 15.0;
/// Largest number of columns a [`Screen`] may have.
pub const MAX_COLS: u16 = 500;
/// Largest number of rows a [`Screen`] may have.
pub const MAX_ROWS: u16 = 300;

/// Why a screenshot could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ShotError {
    /// The pane size is zero or beyond [`MAX_COLS`] × [`MAX_ROWS`].
    #[error(
        "screen size {cols}x{rows} is out of range: columns must be 1..={max_cols} and rows 1..={max_rows}",
        max_cols = MAX_COLS,
        max_rows = MAX_ROWS
    )]
    Size {
        /// The requested number of columns.
        cols: u16,
        /// The requested number of rows.
        rows: u16,
    },
    /// An embedded font could not be parsed (a build defect, not user input).
    #[error("embedded font {name} could not be loaded: {reason}")]
    Font {
        /// Which embedded face failed.
        name: &'static str,
        /// The font parser's reason.
        reason: &'static str,
    },
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}
