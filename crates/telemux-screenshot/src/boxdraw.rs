//! Box-drawing lines and block elements drawn as rectangles instead of glyphs.
//!
//! The font's box glyphs are sized to its line height, which is not exactly a
//! cell's height, so tmux's pane borders and TUI frames would show gaps
//! between rows. Drawing them from the cell's own size makes them join.

/// Line weights for U+2500..=U+254B, four digits a character: up, down,
/// left, right; 0 none, 1 light, 2 heavy. `x` marks the dashed lines, which
/// are left to the font because a solid line would misstate them.
const LINES_2500: [&str; 76] = [
    "0011", "0022", "1100", "2200", "x", "x", "x", "x", "x", "x", "x", "x", // 2500
    "0101", "0102", "0201", "0202", "0110", "0120", "0210", "0220", // 250C
    "1001", "1002", "2001", "2002", "1010", "1020", "2010", "2020", // 2514
    "1101", "1102", "2101", "1201", "2201", "2102", "1202", "2202", // 251C
    "1110", "1120", "2110", "1210", "2210", "2120", "1220", "2220", // 2524
    "0111", "0121", "0112", "0122", "0211", "0221", "0212", "0222", // 252C
    "1011", "1021", "1012", "1022", "2011", "2021", "2012", "2022", // 2534
    "1111", "1121", "1112", "1122", "2111", "1211", "2211", "2121", // 253C
    "2112", "1221", "1212", "2122", "1222", "2221", "2212", "2222", // 2544
];

/// U+256D..=U+257F: rounded corners (drawn square), then half lines.
const LINES_256D: [&str; 19] = [
    "0101", "0110", "1010", "1001", "x", "x", "x", // 256D, 2571-2573 diagonals
    "0010", "1000", "0001", "0100", "0020", "2000", "0002", "0200", // 2574
    "0012", "1200", "0021", "2100", // 257C
];

/// The weights (up, down, left, right) of a line character, if it is one.
fn weights(ch: char) -> Option<[u8; 4]> {
    let c = ch as u32;
    let code = match c {
        0x2500..=0x254B => LINES_2500[(c - 0x2500) as usize],
        0x256D..=0x257F => LINES_256D[(c - 0x256D) as usize],
        _ => return None,
    };
    let d = code.as_bytes();
    if d.len() != 4 {
        return None;
    }
    Some([d[0] - b'0', d[1] - b'0', d[2] - b'0', d[3] - b'0'])
}

/// Draws `ch` in a `w`×`h` cell by calling `fill(x0, y0, x1, y1)` for each
/// rectangle (half-open, cell-relative). Returns false, drawing nothing,
/// when `ch` is not one of the characters drawn here.
pub(crate) fn draw(ch: char, w: u32, h: u32, mut fill: impl FnMut(u32, u32, u32, u32)) -> bool {
    if let Some([up, down, left, right]) = weights(ch) {
        let half = |weight: u8| u32::from(weight == 2);
        let (cx, cy) = (w / 2, h / 2);
        // Arms reach past the centre by the half-thickness of the crossing
        // arms, so a light arm meeting a heavy one leaves no notch.
        let vh = half(up.max(down));
        let hh = half(left.max(right));
        if left > 0 {
            let t = half(left);
            fill(0, cy - t, cx + vh + 1, cy + t + 1);
        }
        if right > 0 {
            let t = half(right);
            fill(cx - vh, cy - t, w, cy + t + 1);
        }
        if up > 0 {
            let t = half(up);
            fill(cx - t, 0, cx + t + 1, cy + hh + 1);
        }
        if down > 0 {
            let t = half(down);
            fill(cx - t, cy - hh, cx + t + 1, h);
        }
        return true;
    }
    let eighth_h = |n: u32| (h * n + 4) / 8;
    let eighth_w = |n: u32| (w * n + 4) / 8;
    match ch {
        '\u{2580}' => fill(0, 0, w, h / 2),
        '\u{2581}'..='\u{2588}' => {
            let n = ch as u32 - 0x2580;
            fill(0, h - eighth_h(n), w, h);
        }
        '\u{2589}'..='\u{258F}' => {
            let n = 8 - (ch as u32 - 0x2588);
            fill(0, 0, eighth_w(n), h);
        }
        '\u{2590}' => fill(w / 2, 0, w, h),
        '\u{2594}' => fill(0, 0, w, eighth_h(1)),
        '\u{2595}' => fill(w - eighth_w(1), 0, w, h),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixels(ch: char) -> Vec<Vec<bool>> {
        let (w, h) = (9u32, 18u32);
        let mut grid = vec![vec![false; w as usize]; h as usize];
        assert!(draw(ch, w, h, |x0, y0, x1, y1| {
            for row in grid.iter_mut().take(y1 as usize).skip(y0 as usize) {
                for p in row.iter_mut().take(x1 as usize).skip(x0 as usize) {
                    *p = true;
                }
            }
        }));
        grid
    }

    #[test]
    fn vertical_line_spans_the_whole_cell() {
        let g = pixels('│');
        assert!(g[0][4] && g[17][4]);
        assert!(!g[9][0] && !g[9][8]);
    }

    #[test]
    fn corner_joins_without_overhang() {
        let g = pixels('┐');
        assert!(g[9][0] && g[9][4] && g[17][4]);
        assert!(!g[9][5], "the left arm stops at the vertical line");
        assert!(!g[0][4], "no up arm");
    }

    #[test]
    fn blocks() {
        let g = pixels('▄');
        assert!(!g[8][4] && g[9][4] && g[17][4]);
        let g = pixels('█');
        assert!(g[0][0] && g[17][8]);
        assert!(!draw('a', 9, 18, |_, _, _, _| {}));
        assert!(!draw('┄', 9, 18, |_, _, _, _| {}));
    }
}
