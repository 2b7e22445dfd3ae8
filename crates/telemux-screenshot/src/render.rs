//! Drawing a [`Screen`] into pixels and encoding them as PNG.
//!
//! Each cell is filled with its background, then its character is drawn:
//! box lines and blocks as rectangles, other characters as glyphs of the
//! embedded faces, and characters neither face has as an outlined box over
//! the cell (both cells of a wide character), so a screenshot shows where
//! they are without a multi-megabyte CJK or emoji font in the binary.

use crate::boxdraw;
use crate::font::{Faces, GlyphCache};
use crate::palette::{Rgb, Theme};
use crate::screen::{Cell, CellWidth, Screen};
use crate::{ShotError, CELL_H, CELL_W, MAX_COLS, MAX_ROWS};

/// How far italic glyphs lean: pixels of shift per pixel above the baseline.
const ITALIC_SLANT: f32 = 0.2;

/// A rendered screen: `width` × `height` pixels, RGBA, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels (`cols * CELL_W`).
    pub width: u32,
    /// Height in pixels (`rows * CELL_H`).
    pub height: u32,
    /// Pixels, 4 bytes each (alpha always 255), `width * height * 4` bytes.
    pub rgba: Vec<u8>,
}

impl Image {
    fn new(width: u32, height: u32, bg: Rgb) -> Image {
        let mut rgba = Vec::with_capacity(width as usize * height as usize * 4);
        for _ in 0..width as usize * height as usize {
            rgba.extend_from_slice(&[bg.0, bg.1, bg.2, 255]);
        }
        Image {
            width,
            height,
            rgba,
        }
    }

    /// The colour of pixel (x, y), or `None` outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 4;
        let p = self.rgba.get(i..i + 3)?;
        Some(Rgb(p[0], p[1], p[2]))
    }

    /// The colour at the centre of cell (`col`, `row`), for checking what a
    /// cell's background came out as.
    pub fn cell_centre(&self, col: u16, row: u16) -> Option<Rgb> {
        self.pixel(
            u32::from(col) * CELL_W + CELL_W / 2,
            u32::from(row) * CELL_H + CELL_H / 2,
        )
    }

    /// Encodes the image as an 8-bit RGB PNG (alpha is dropped: it is
    /// always opaque).
    pub fn encode_png(&self) -> Result<Vec<u8>, ShotError> {
        let rgb: Vec<u8> = self
            .rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Screens are flat colour and compress well even at the fast level,
        // which keeps a large screen well inside the time budget.
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&rgb)?;
        writer.finish()?;
        Ok(out)
    }

    fn fill(&mut self, x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb) {
        let (x1, y1) = (x1.min(self.width), y1.min(self.height));
        for y in y0..y1 {
            let row = y as usize * self.width as usize;
            for x in x0..x1 {
                let i = (row + x as usize) * 4;
                self.rgba[i..i + 3].copy_from_slice(&[c.0, c.1, c.2]);
            }
        }
    }

    /// Blends `c` over pixel (x, y) with coverage `alpha` (0–255).
    fn blend(&mut self, x: u32, y: u32, c: Rgb, alpha: u8) {
        if let Some(under) = self.pixel(x, y) {
            let out = under.mix(c, f32::from(alpha) / 255.0);
            let i = (y as usize * self.width as usize + x as usize) * 4;
            self.rgba[i..i + 3].copy_from_slice(&[out.0, out.1, out.2]);
        }
    }
}

/// Renders `screen` with the default dark [`Theme`] and encodes it as PNG.
pub fn render_png(screen: &Screen) -> Result<Vec<u8>, ShotError> {
    render_rgba(screen)?.encode_png()
}

/// Renders `screen` with the default dark [`Theme`] into raw pixels.
pub fn render_rgba(screen: &Screen) -> Result<Image, ShotError> {
    render_rgba_with(screen, &Theme::default())
}

/// Renders `screen` with the given theme into raw pixels.
pub fn render_rgba_with(screen: &Screen, theme: &Theme) -> Result<Image, ShotError> {
    let (cols, rows) = (screen.cols(), screen.rows());
    // A Screen cannot be built out of range; checked again because the pixel
    // buffer's size is what the bound protects.
    if cols == 0 || rows == 0 || cols > MAX_COLS || rows > MAX_ROWS {
        return Err(ShotError::Size { cols, rows });
    }
    let faces = Faces::get()?;
    let mut glyphs = GlyphCache::new(faces);
    let mut img = Image::new(u32::from(cols) * CELL_W, u32::from(rows) * CELL_H, theme.bg);
    for y in 0..rows {
        let mut x = 0;
        while x < cols {
            let Some(cell) = screen.cell(x, y) else {
                break;
            };
            let span = match cell.width {
                CellWidth::Wide if x + 1 < cols => 2,
                _ => 1,
            };
            let cursor_here = screen
                .cursor()
                .is_some_and(|(cx, cy)| cy == y && cx >= x && cx < x + span);
            let area = Area {
                x0: u32::from(x) * CELL_W,
                y0: u32::from(y) * CELL_H,
                w: u32::from(span) * CELL_W,
            };
            draw_cell(&mut img, &mut glyphs, faces, theme, cell, area, cursor_here);
            x += span;
        }
    }
    Ok(img)
}

/// The pixel rectangle one cell (or both cells of a wide character) covers;
/// its height is always [`CELL_H`].
#[derive(Clone, Copy)]
struct Area {
    x0: u32,
    y0: u32,
    w: u32,
}

/// The foreground and background a cell is drawn in, after reverse video,
/// dim, hidden and the cursor.
fn colours(theme: &Theme, cell: &Cell, cursor: bool) -> (Rgb, Rgb) {
    let mut fg = theme.resolve(cell.fg, theme.fg);
    let mut bg = theme.resolve(cell.bg, theme.bg);
    if cell.attrs.reverse {
        std::mem::swap(&mut fg, &mut bg);
    }
    if cell.attrs.dim {
        fg = fg.mix(bg, 0.5);
    }
    if cell.attrs.hidden {
        fg = bg;
    }
    if cursor {
        // A block in the cursor colour, unless the cell already has that
        // background (reverse-video status lines): then invert it instead,
        // so the cursor never disappears into its cell.
        let block = if bg != theme.cursor {
            theme.cursor
        } else if fg != bg {
            fg
        } else {
            theme.bg
        };
        return (bg, block);
    }
    (fg, bg)
}

fn draw_cell(
    img: &mut Image,
    glyphs: &mut GlyphCache,
    faces: &Faces,
    theme: &Theme,
    cell: &Cell,
    area: Area,
    cursor: bool,
) {
    let (fg, bg) = colours(theme, cell, cursor);
    let Area { x0, y0, w } = area;
    img.fill(x0, y0, x0 + w, y0 + CELL_H, bg);
    let visible = !cell.attrs.hidden && !matches!(cell.ch, ' ' | '\u{a0}');
    if visible {
        let drawn = boxdraw::draw(cell.ch, w, CELL_H, |a, b, c, d| {
            img.fill(x0 + a, y0 + b, x0 + c, y0 + d, fg)
        });
        if !drawn {
            match glyphs.get(cell.ch, cell.attrs.bold) {
                Some(g) => {
                    let baseline = y0 as i32 + faces.baseline;
                    // Centre the glyph in the span: this only moves glyphs
                    // of wide characters that the font happens to have.
                    let pen = x0 as i32 + ((w as f32 - g.advance) / 2.0).round().max(0.0) as i32;
                    let (clip_x1, clip_y1) = ((x0 + w) as i32, (y0 + CELL_H) as i32);
                    for r in 0..g.height {
                        let py = baseline + g.top + r as i32;
                        if py < y0 as i32 || py >= clip_y1 {
                            continue;
                        }
                        let shear = if cell.attrs.italic {
                            ((baseline - py) as f32 * ITALIC_SLANT).round() as i32
                        } else {
                            0
                        };
                        for c in 0..g.width {
                            let px = pen + g.left + c as i32 + shear;
                            let alpha = g.coverage[r * g.width + c];
                            if alpha > 0 && px >= x0 as i32 && px < clip_x1 {
                                img.blend(px as u32, py as u32, fg, alpha);
                            }
                        }
                    }
                }
                None => outline(img, x0 + 1, y0 + 2, x0 + w - 1, y0 + CELL_H - 2, fg),
            }
        }
    }
    if cell.attrs.underline {
        img.fill(x0, y0 + CELL_H - 2, x0 + w, y0 + CELL_H - 1, fg);
    }
    if cell.attrs.strike {
        let y = (y0 as i32 + faces.baseline - 4).max(0) as u32;
        img.fill(x0, y, x0 + w, y + 1, fg);
    }
}

/// A one-pixel rectangle outline, corners (x0, y0) to (x1, y1) half-open.
fn outline(img: &mut Image, x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb) {
    img.fill(x0, y0, x1, y0 + 1, c);
    img.fill(x0, y1 - 1, x1, y1, c);
    img.fill(x0, y0, x0 + 1, y1, c);
    img.fill(x1 - 1, y0, x1, y1, c);
}
