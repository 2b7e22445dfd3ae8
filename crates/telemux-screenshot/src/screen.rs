//! The cell grid: what a capture says is on screen, parsed with `vte`.
//!
//! `tmux capture-pane -p -e` prints each row followed by `\n`, with SGR
//! sequences where attributes change. tmux carries the attribute state from
//! one row into the next, so a newline does not reset it here either. A wide
//! character is printed once and takes two cells; rows longer than the pane
//! are cut, not wrapped, because every capture row is one screen row.

use unicode_width::UnicodeWidthChar;
use vte::{Params, Parser, Perform};

use crate::{ShotError, MAX_COLS, MAX_ROWS};

/// A colour as the capture names it; the theme turns it into pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    /// The terminal's default foreground or background (SGR 39 / 49).
    #[default]
    Default,
    /// A palette entry: 0–15 basic, 16–255 xterm's cube and greys.
    Indexed(u8),
    /// A truecolour value (SGR `38;2;R;G;B`).
    Rgb(u8, u8, u8),
}

/// Text attributes set by SGR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attrs {
    /// SGR 1: drawn with the bold face.
    pub bold: bool,
    /// SGR 2: the foreground is faded toward the background.
    pub dim: bool,
    /// SGR 3: the glyph is slanted.
    pub italic: bool,
    /// SGR 4 (and 21, double underline): a line under the cell.
    pub underline: bool,
    /// SGR 7: foreground and background are swapped.
    pub reverse: bool,
    /// SGR 8: the glyph is not drawn.
    pub hidden: bool,
    /// SGR 9: a line through the cell.
    pub strike: bool,
}

/// How many columns a cell's character takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CellWidth {
    /// One column.
    #[default]
    Narrow,
    /// The left half of a two-column character (CJK, most emoji).
    Wide,
    /// The right half of a wide character: it holds no character of its own.
    Spacer,
}

/// One terminal cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// The character shown (a space for blank cells and spacers).
    pub ch: char,
    /// Foreground colour.
    pub fg: Color,
    /// Background colour.
    pub bg: Color,
    /// SGR attributes.
    pub attrs: Attrs,
    /// Whether this cell is narrow, or either half of a wide character.
    pub width: CellWidth,
}

impl Default for Cell {
    fn default() -> Cell {
        Cell {
            ch: ' ',
            fg: Color::Default,
            bg: Color::Default,
            attrs: Attrs::default(),
            width: CellWidth::Narrow,
        }
    }
}

/// A terminal screen: `cols` × `rows` cells and an optional cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    cols: u16,
    rows: u16,
    cells: Vec<Cell>,
    cursor: Option<(u16, u16)>,
}

impl Screen {
    /// A blank screen of the given size, refused beyond
    /// [`MAX_COLS`] × [`MAX_ROWS`] or when either side is zero.
    pub fn new(cols: u16, rows: u16) -> Result<Screen, ShotError> {
        if cols == 0 || rows == 0 || cols > MAX_COLS || rows > MAX_ROWS {
            return Err(ShotError::Size { cols, rows });
        }
        Ok(Screen {
            cols,
            rows,
            cells: vec![Cell::default(); cols as usize * rows as usize],
            cursor: None,
        })
    }

    /// Parses the output of `tmux capture-pane -p -e` into a screen of
    /// `cols` × `rows`. Text past the size is dropped; escape sequences other
    /// than SGR are ignored.
    pub fn from_capture(text: &str, cols: u16, rows: u16) -> Result<Screen, ShotError> {
        let mut screen = Screen::new(cols, rows)?;
        let mut writer = Writer {
            screen: &mut screen,
            x: 0,
            y: 0,
            pen: Cell::default(),
        };
        Parser::new().advance(&mut writer, text.as_bytes());
        Ok(screen)
    }

    /// Number of columns.
    pub fn cols(&self) -> u16 {
        self.cols
    }

    /// Number of rows.
    pub fn rows(&self) -> u16 {
        self.rows
    }

    /// Puts the block cursor at column `x`, row `y` (0-based). A position off
    /// the screen is kept but not drawn, as tmux may report one while resizing.
    pub fn set_cursor(&mut self, x: u16, y: u16) {
        self.cursor = Some((x, y));
    }

    /// Removes the cursor, for panes whose cursor is hidden.
    pub fn hide_cursor(&mut self) {
        self.cursor = None;
    }

    /// The cursor position, if one was set.
    pub fn cursor(&self) -> Option<(u16, u16)> {
        self.cursor
    }

    /// The cell at column `x`, row `y`, or `None` off the screen.
    pub fn cell(&self, x: u16, y: u16) -> Option<&Cell> {
        if x >= self.cols || y >= self.rows {
            return None;
        }
        self.cells.get(y as usize * self.cols as usize + x as usize)
    }

    /// Row `y` as plain text, spacers left out and trailing blanks trimmed;
    /// handy for checking what a capture parsed to.
    pub fn row_text(&self, y: u16) -> Option<String> {
        if y >= self.rows {
            return None;
        }
        let text: String = (0..self.cols)
            .filter_map(|x| self.cell(x, y))
            .filter(|c| c.width != CellWidth::Spacer)
            .map(|c| c.ch)
            .collect();
        Some(text.trim_end().to_string())
    }

    fn cell_mut(&mut self, x: u16, y: u16) -> Option<&mut Cell> {
        if x >= self.cols || y >= self.rows {
            return None;
        }
        self.cells
            .get_mut(y as usize * self.cols as usize + x as usize)
    }
}

/// The `vte` performer that writes printed characters into the grid with the
/// current SGR pen.
struct Writer<'s> {
    screen: &'s mut Screen,
    x: u16,
    y: u16,
    /// Colours and attributes that the next printed character gets.
    pen: Cell,
}

impl Writer<'_> {
    /// Writes `cell` at (x, y); a wide character whose half would overwrite
    /// another wide character's half turns that orphaned half into a blank.
    fn put(&mut self, x: u16, cell: Cell) {
        let y = self.y;
        let old = match self.screen.cell(x, y) {
            Some(c) => c.width,
            None => return,
        };
        let blank = Cell {
            ch: ' ',
            width: CellWidth::Narrow,
            ..cell
        };
        match old {
            CellWidth::Wide if cell.width != CellWidth::Wide => {
                if let Some(next) = self.screen.cell_mut(x + 1, y) {
                    *next = blank;
                }
            }
            CellWidth::Spacer if cell.width != CellWidth::Spacer && x > 0 => {
                if let Some(prev) = self.screen.cell_mut(x - 1, y) {
                    *prev = blank;
                }
            }
            _ => {}
        }
        if let Some(c) = self.screen.cell_mut(x, y) {
            *c = cell;
        }
    }

    fn sgr(&mut self, params: &Params) {
        // Flatten `38;5;N` (separate params) and `38:5:N` (subparams) alike:
        // each group is one param with its subparams, and an extended colour
        // takes its arguments from the group if it has them, else from the
        // params that follow.
        let groups: Vec<&[u16]> = params.iter().collect();
        if groups.is_empty() {
            self.reset();
            return;
        }
        let mut i = 0;
        while i < groups.len() {
            let group = groups[i];
            let code = group.first().copied().unwrap_or(0);
            i += 1;
            let a = &mut self.pen.attrs;
            match code {
                0 => self.reset(),
                1 => a.bold = true,
                2 => a.dim = true,
                3 => a.italic = true,
                4 => a.underline = group.get(1).is_none_or(|&style| style != 0),
                7 => a.reverse = true,
                8 => a.hidden = true,
                9 => a.strike = true,
                21 => a.underline = true,
                22 => {
                    a.bold = false;
                    a.dim = false;
                }
                23 => a.italic = false,
                24 => a.underline = false,
                27 => a.reverse = false,
                28 => a.hidden = false,
                29 => a.strike = false,
                30..=37 => self.pen.fg = Color::Indexed((code - 30) as u8),
                39 => self.pen.fg = Color::Default,
                40..=47 => self.pen.bg = Color::Indexed((code - 40) as u8),
                49 => self.pen.bg = Color::Default,
                90..=97 => self.pen.fg = Color::Indexed((code - 90 + 8) as u8),
                100..=107 => self.pen.bg = Color::Indexed((code - 100 + 8) as u8),
                38 | 48 | 58 => {
                    let colour = if group.len() > 1 {
                        extended(&group[1..], true).0
                    } else {
                        let rest: Vec<u16> = groups[i..]
                            .iter()
                            .map(|g| g.first().copied().unwrap_or(0))
                            .collect();
                        let (colour, used) = extended(&rest, false);
                        i += used;
                        colour
                    };
                    // 58 (underline colour) is parsed only to skip its
                    // arguments: underlines are drawn in the foreground.
                    match (code, colour) {
                        (38, Some(c)) => self.pen.fg = c,
                        (48, Some(c)) => self.pen.bg = c,
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }

    fn reset(&mut self) {
        self.pen = Cell::default();
    }
}

/// Reads an extended colour's arguments (`5;N` or `2;R;G;B`), returning the
/// colour and how many arguments it used, so malformed ones are skipped whole.
/// `colon` tells that the arguments came as subparams of one group.
fn extended(args: &[u16], colon: bool) -> (Option<Color>, usize) {
    let byte = |i: usize| args.get(i).map(|&v| v.min(255) as u8);
    match args.first() {
        Some(5) => (byte(1).map(Color::Indexed), args.len().min(2)),
        Some(2) => {
            // The colon form may carry a colour-space id before R:G:B
            // (`38:2::R:G:B`, ITU T.416); skip it when it is there.
            let off = if colon && args.len() >= 5 { 2 } else { 1 };
            match (byte(off), byte(off + 1), byte(off + 2)) {
                (Some(r), Some(g), Some(b)) => (Some(Color::Rgb(r, g, b)), off + 3),
                _ => (None, args.len()),
            }
        }
        Some(_) => (None, 1),
        None => (None, 0),
    }
}

impl Perform for Writer<'_> {
    fn print(&mut self, ch: char) {
        let w = match ch.width() {
            Some(w @ 1..=2) => w as u16,
            // Combining marks and other zero-width characters have no cell
            // of their own; the base character is drawn without them.
            _ => return,
        };
        let cols = self.screen.cols;
        if self.x >= cols || self.x + w > cols {
            // Past the right edge: the row is cut there. A wide character
            // that does not fit in the last column leaves it blank.
            self.x = cols;
            return;
        }
        let x = self.x;
        if w == 2 {
            let cell = Cell {
                ch,
                width: CellWidth::Wide,
                ..self.pen
            };
            self.put(x, cell);
            let spacer = Cell {
                ch: ' ',
                width: CellWidth::Spacer,
                ..self.pen
            };
            self.put(x + 1, spacer);
        } else {
            let cell = Cell {
                ch,
                width: CellWidth::Narrow,
                ..self.pen
            };
            self.put(x, cell);
        }
        self.x += w;
    }

    fn execute(&mut self, byte: u8) {
        match byte {
            b'\n' => {
                self.y = self.y.saturating_add(1);
                self.x = 0;
            }
            b'\r' => self.x = 0,
            b'\t' => {
                let next = (self.x / 8 + 1) * 8;
                self.x = next.min(self.screen.cols);
            }
            0x08 => self.x = self.x.saturating_sub(1),
            _ => {}
        }
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        if action == 'm' && intermediates.is_empty() && !ignore {
            self.sgr(params);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_rows_and_cut() {
        let s = Screen::from_capture("hello\nworld, too long\n", 10, 3).unwrap();
        assert_eq!(s.row_text(0).unwrap(), "hello");
        assert_eq!(s.row_text(1).unwrap(), "world, too");
        assert_eq!(s.row_text(2).unwrap(), "");
    }

    #[test]
    fn sgr_colours_and_attrs() {
        let s = Screen::from_capture(
            "\x1b[1;31mA\x1b[0m\x1b[38;5;208mB\x1b[48;2;1;2;3mC\x1b[38:2::4:5:6mD\x1b[22;4;7mE\x1b[mF",
            10,
            1,
        )
        .unwrap();
        let c = |x| *s.cell(x, 0).unwrap();
        assert_eq!(c(0).fg, Color::Indexed(1));
        assert!(c(0).attrs.bold);
        assert_eq!(c(1).fg, Color::Indexed(208));
        assert!(!c(1).attrs.bold);
        assert_eq!(c(2).bg, Color::Rgb(1, 2, 3));
        assert_eq!(c(2).fg, Color::Indexed(208));
        assert_eq!(c(3).fg, Color::Rgb(4, 5, 6));
        assert!(c(4).attrs.underline && c(4).attrs.reverse);
        assert_eq!(
            c(5),
            Cell {
                ch: 'F',
                ..Cell::default()
            }
        );
    }

    #[test]
    fn state_carries_across_rows() {
        let s = Screen::from_capture("\x1b[42ma\nb", 4, 2).unwrap();
        assert_eq!(s.cell(0, 1).unwrap().bg, Color::Indexed(2));
    }

    #[test]
    fn bright_and_unknown_codes() {
        let s = Screen::from_capture("\x1b[5;58;5;3;93;104mX", 2, 1).unwrap();
        let c = s.cell(0, 0).unwrap();
        assert_eq!(c.fg, Color::Indexed(11));
        assert_eq!(c.bg, Color::Indexed(12));
    }

    #[test]
    fn wide_chars_take_two_cells() {
        let s = Screen::from_capture("漢x😀y", 10, 1).unwrap();
        assert_eq!(s.cell(0, 0).unwrap().width, CellWidth::Wide);
        assert_eq!(s.cell(1, 0).unwrap().width, CellWidth::Spacer);
        assert_eq!(s.cell(2, 0).unwrap().ch, 'x');
        assert_eq!(s.cell(3, 0).unwrap().ch, '😀');
        assert_eq!(s.cell(4, 0).unwrap().width, CellWidth::Spacer);
        assert_eq!(s.cell(5, 0).unwrap().ch, 'y');
        assert_eq!(s.row_text(0).unwrap(), "漢x😀y");
    }

    #[test]
    fn wide_char_at_the_edge_is_dropped() {
        let s = Screen::from_capture("abc漢", 4, 1).unwrap();
        assert_eq!(s.row_text(0).unwrap(), "abc");
        assert_eq!(s.cell(3, 0).unwrap().width, CellWidth::Narrow);
    }

    #[test]
    fn overwriting_half_a_wide_char_blanks_the_other_half() {
        let s = Screen::from_capture("漢\rx", 4, 1).unwrap();
        assert_eq!(s.cell(0, 0).unwrap().ch, 'x');
        assert_eq!(s.cell(1, 0).unwrap().width, CellWidth::Narrow);
    }

    #[test]
    fn tabs_and_extra_rows() {
        let s = Screen::from_capture("a\tb\n1\n2\n3", 12, 2).unwrap();
        assert_eq!(s.cell(8, 0).unwrap().ch, 'b');
        assert_eq!(s.row_text(1).unwrap(), "1");
    }

    #[test]
    fn sizes_are_bounded() {
        assert!(matches!(
            Screen::new(MAX_COLS + 1, 10),
            Err(ShotError::Size { .. })
        ));
        assert!(Screen::new(0, 10).is_err());
        assert!(Screen::new(MAX_COLS, MAX_ROWS).is_ok());
    }
}
