//! The embedded faces (DejaVu Sans Mono regular and bold, see
//! `fonts/LICENSE-DejaVu.txt`) and a per-render cache of rasterized glyphs.
//!
//! The fonts are parsed once per process: parsing builds fontdue's glyph
//! tables, which costs more than drawing a whole screen.

use std::collections::HashMap;
use std::sync::OnceLock;

use fontdue::{Font, FontSettings};

use crate::{ShotError, FONT_PX};

const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSansMono.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSansMono-Bold.ttf");

/// Both faces and the baseline they share.
pub(crate) struct Faces {
    regular: Font,
    bold: Font,
    /// Pixels from a cell's top to the baseline.
    pub baseline: i32,
}

/// Which face failed and why, kept so every later render reports it too.
type LoadError = (&'static str, &'static str);

static FACES: OnceLock<Result<Faces, LoadError>> = OnceLock::new();

impl Faces {
    /// The process-wide faces, parsed on first use.
    pub(crate) fn get() -> Result<&'static Faces, ShotError> {
        FACES
            .get_or_init(load)
            .as_ref()
            .map_err(|&(name, reason)| ShotError::Font { name, reason })
    }
}

fn load() -> Result<Faces, LoadError> {
    let settings = || FontSettings {
        scale: FONT_PX,
        ..FontSettings::default()
    };
    let regular = Font::from_bytes(REGULAR, settings()).map_err(|e| ("DejaVuSansMono.ttf", e))?;
    let bold = Font::from_bytes(BOLD, settings()).map_err(|e| ("DejaVuSansMono-Bold.ttf", e))?;
    let ascent = regular
        .horizontal_line_metrics(FONT_PX)
        .map(|m| m.ascent)
        .ok_or(("DejaVuSansMono.ttf", "no horizontal line metrics"))?;
    Ok(Faces {
        regular,
        bold,
        baseline: ascent.round() as i32,
    })
}

/// A rasterized glyph: coverage bytes (0–255), row by row from the top.
pub(crate) struct Glyph {
    /// Left edge of the bitmap relative to the pen position.
    pub left: i32,
    /// Top edge of the bitmap relative to the baseline (negative is above).
    pub top: i32,
    /// Bitmap width in pixels.
    pub width: usize,
    /// Bitmap height in pixels.
    pub height: usize,
    /// Horizontal advance in pixels, to centre glyphs in wide cells.
    pub advance: f32,
    /// Coverage, `width * height` bytes.
    pub coverage: Vec<u8>,
}

/// Glyphs rasterized so far in one render; `None` marks a character that
/// neither face has, drawn as a placeholder box.
pub(crate) struct GlyphCache {
    faces: &'static Faces,
    glyphs: HashMap<(char, bool), Option<Glyph>>,
}

impl GlyphCache {
    /// An empty cache over the process-wide faces.
    pub(crate) fn new(faces: &'static Faces) -> GlyphCache {
        GlyphCache {
            faces,
            glyphs: HashMap::new(),
        }
    }

    /// The glyph for `ch` in the bold or regular face, falling back to the
    /// regular face when only it has the character.
    pub(crate) fn get(&mut self, ch: char, bold: bool) -> Option<&Glyph> {
        let faces = self.faces;
        self.glyphs
            .entry((ch, bold))
            .or_insert_with(|| {
                let font = if bold && faces.bold.lookup_glyph_index(ch) != 0 {
                    &faces.bold
                } else {
                    &faces.regular
                };
                // Index 0 is the font's "missing glyph": a box of its own
                // design that would be too small to show a wide cell's span.
                if font.lookup_glyph_index(ch) == 0 {
                    return None;
                }
                let (m, coverage) = font.rasterize(ch, FONT_PX);
                Some(Glyph {
                    left: m.xmin,
                    top: -(m.ymin + m.height as i32),
                    width: m.width,
                    height: m.height,
                    advance: m.advance_width,
                    coverage,
                })
            })
            .as_ref()
    }
}
