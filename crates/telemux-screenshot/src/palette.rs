//! Colours: the dark theme's defaults and the xterm 256-colour palette that
//! SGR colour numbers refer to.

use crate::screen::Color;

/// An sRGB colour, 8 bits a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Mixes `self` toward `other` by `t` (0.0 = self, 1.0 = other); used for
    /// dim text and glyph anti-aliasing.
    pub fn mix(self, other: Rgb, t: f32) -> Rgb {
        let t = t.clamp(0.0, 1.0);
        let ch = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * t).round() as u8;
        Rgb(
            ch(self.0, other.0),
            ch(self.1, other.1),
            ch(self.2, other.2),
        )
    }
}

/// The colours that are not given by the capture itself: default foreground
/// and background, the cursor, and the 16 basic colours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// Foreground of cells whose SGR foreground is the default (39).
    pub fg: Rgb,
    /// Background of cells whose SGR background is the default (49).
    pub bg: Rgb,
    /// Fill of the block cursor; the character under it is drawn in `bg`.
    pub cursor: Rgb,
    /// Colours 0–15 (30–37, 90–97 and their backgrounds).
    pub ansi: [Rgb; 16],
}

impl Default for Theme {
    /// A dark theme with xterm's basic colours, except a lighter blue so that
    /// blue text stays readable on the dark background.
    fn default() -> Theme {
        Theme {
            fg: Rgb(0xd0, 0xd0, 0xd0),
            bg: Rgb(0x1c, 0x1c, 0x1c),
            cursor: Rgb(0xd0, 0xd0, 0xd0),
            ansi: [
                Rgb(0x00, 0x00, 0x00),
                Rgb(0xcd, 0x00, 0x00),
                Rgb(0x00, 0xcd, 0x00),
                Rgb(0xcd, 0xcd, 0x00),
                Rgb(0x3b, 0x78, 0xff),
                Rgb(0xcd, 0x00, 0xcd),
                Rgb(0x00, 0xcd, 0xcd),
                Rgb(0xe5, 0xe5, 0xe5),
                Rgb(0x7f, 0x7f, 0x7f),
                Rgb(0xff, 0x00, 0x00),
                Rgb(0x00, 0xff, 0x00),
                Rgb(0xff, 0xff, 0x00),
                Rgb(0x5c, 0x5c, 0xff),
                Rgb(0xff, 0x00, 0xff),
                Rgb(0x00, 0xff, 0xff),
                Rgb(0xff, 0xff, 0xff),
            ],
        }
    }
}

impl Theme {
    /// The colour that `c` stands for, with `default` for [`Color::Default`]
    /// (the theme's fg or bg, depending on which one is asked for).
    pub fn resolve(&self, c: Color, default: Rgb) -> Rgb {
        match c {
            Color::Default => default,
            Color::Indexed(n) => self.indexed(n),
            Color::Rgb(r, g, b) => Rgb(r, g, b),
        }
    }

    /// Colour number `n` of the 256-colour palette: the theme's 16, then the
    /// 6×6×6 cube, then 24 greys, as xterm defines them.
    pub fn indexed(&self, n: u8) -> Rgb {
        match n {
            0..=15 => self.ansi[n as usize],
            16..=231 => {
                let i = n - 16;
                // The cube's steps are not even: 0, then 95 + 40 per step.
                let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
                Rgb(level(i / 36), level((i / 6) % 6), level(i % 6))
            }
            232..=255 => {
                let v = 8 + 10 * (n - 232);
                Rgb(v, v, v)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_corners() {
        let t = Theme::default();
        assert_eq!(t.indexed(16), Rgb(0, 0, 0));
        assert_eq!(t.indexed(196), Rgb(255, 0, 0));
        assert_eq!(t.indexed(21), Rgb(0, 0, 255));
        assert_eq!(t.indexed(231), Rgb(255, 255, 255));
        assert_eq!(t.indexed(17), Rgb(0, 0, 95));
        assert_eq!(t.indexed(232), Rgb(8, 8, 8));
        assert_eq!(t.indexed(255), Rgb(238, 238, 238));
    }

    #[test]
    fn mix_ends() {
        let a = Rgb(0, 100, 200);
        let b = Rgb(200, 100, 0);
        assert_eq!(a.mix(b, 0.0), a);
        assert_eq!(a.mix(b, 1.0), b);
        assert_eq!(a.mix(b, 0.5), Rgb(100, 100, 100));
    }
}
