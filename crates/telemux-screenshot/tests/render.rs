//! Renders known screens and checks the pixels of known cells: colours,
//! attributes, wide characters, the cursor, size bounds and the PNG itself.

use telemux_screenshot::{
    render_png, render_rgba, CellWidth, Image, Rgb, Screen, ShotError, Theme, CELL_H, CELL_W,
};

fn render(text: &str, cols: u16, rows: u16) -> (Screen, Image) {
    let screen = Screen::from_capture(text, cols, rows).expect("size in range");
    let img = render_rgba(&screen).expect("renders");
    (screen, img)
}

/// Pixels of the `span` cells starting at (col, row) that are `colour`.
fn count(img: &Image, col: u16, row: u16, span: u16, colour: Rgb) -> usize {
    let (x0, y0) = (u32::from(col) * CELL_W, u32::from(row) * CELL_H);
    (y0..y0 + CELL_H)
        .flat_map(|y| (x0..x0 + u32::from(span) * CELL_W).map(move |x| (x, y)))
        .filter(|&(x, y)| img.pixel(x, y) == Some(colour))
        .count()
}

/// Pixels of the cell at (col, row) that are not the theme background.
fn lit(img: &Image, col: u16, row: u16) -> usize {
    let bg = Theme::default().bg;
    (CELL_W * CELL_H) as usize - count(img, col, row, 1, bg)
}

#[test]
fn basic_colour_background() {
    let (_, img) = render("a\x1b[41m \x1b[0mb", 4, 1);
    assert_eq!(img.cell_centre(1, 0), Some(Theme::default().ansi[1]));
    assert_eq!(img.cell_centre(3, 0), Some(Theme::default().bg));
}

#[test]
fn palette_and_truecolour_backgrounds() {
    let (_, img) = render("\x1b[48;5;208m \x1b[48;2;10;200;30m \x1b[48;5;244m ", 4, 1);
    assert_eq!(img.cell_centre(0, 0), Some(Rgb(255, 135, 0)));
    assert_eq!(img.cell_centre(1, 0), Some(Rgb(10, 200, 30)));
    assert_eq!(img.cell_centre(2, 0), Some(Rgb(128, 128, 128)));
}

#[test]
fn truecolour_foreground_is_drawn_in_that_colour() {
    let (_, img) = render("\x1b[38;2;250;10;20m\u{2588}", 2, 1);
    assert_eq!(
        count(&img, 0, 0, 1, Rgb(250, 10, 20)),
        (CELL_W * CELL_H) as usize
    );
}

#[test]
fn bold_is_heavier_than_regular() {
    let (_, img) = render("W\x1b[1mW", 2, 1);
    let (regular, bold) = (lit(&img, 0, 0), lit(&img, 1, 0));
    assert!(regular > 0);
    assert!(
        bold > regular,
        "bold {bold} should light more than regular {regular}"
    );
}

#[test]
fn italic_differs_from_regular() {
    let (_, img) = render("l\x1b[3ml", 2, 1);
    let row = |col: u16| -> Vec<Option<Rgb>> {
        (0..CELL_W * CELL_H)
            .map(|i| img.pixel(u32::from(col) * CELL_W + i % CELL_W, i / CELL_W))
            .collect()
    };
    assert_ne!(row(0), row(1));
}

#[test]
fn underline_is_a_line_near_the_bottom() {
    let (_, img) = render(" \x1b[4m \x1b[24m ", 3, 1);
    let fg = Theme::default().fg;
    let bottom = |col: u32| {
        (CELL_H - 3..CELL_H)
            .flat_map(|y| (0..CELL_W).map(move |x| (col * CELL_W + x, y)))
            .filter(|&(x, y)| img.pixel(x, y) == Some(fg))
            .count()
    };
    assert_eq!(bottom(1), CELL_W as usize, "one full-width line");
    assert_eq!(bottom(0), 0);
    assert_eq!(bottom(2), 0);
}

#[test]
fn cjk_takes_two_cells_and_is_drawn_across_both() {
    let (screen, img) = render("漢x", 4, 1);
    assert_eq!(
        screen.cell(0, 0).map(|c| (c.ch, c.width)),
        Some(('漢', CellWidth::Wide))
    );
    assert_eq!(screen.cell(1, 0).map(|c| c.width), Some(CellWidth::Spacer));
    assert_eq!(screen.cell(2, 0).map(|c| c.ch), Some('x'));
    // The font has no CJK, so an outline box spans both cells: its top edge
    // runs through both, its right edge is in the second.
    let fg = Theme::default().fg;
    assert!(count(&img, 0, 0, 1, fg) > 0);
    assert!(count(&img, 1, 0, 1, fg) > CELL_W as usize);
    let right_edge = 2 * CELL_W - 2;
    assert_eq!(img.pixel(right_edge, CELL_H / 2), Some(fg));
    assert!(lit(&img, 2, 0) > 0, "the x after it is in the third cell");
}

#[test]
fn emoji_takes_two_cells_in_its_colour() {
    let (screen, img) = render("\x1b[33m😀\x1b[0m!", 4, 1);
    assert_eq!(screen.cell(0, 0).map(|c| c.width), Some(CellWidth::Wide));
    assert_eq!(screen.cell(2, 0).map(|c| c.ch), Some('!'));
    let yellow = Theme::default().ansi[3];
    assert!(count(&img, 1, 0, 1, yellow) > CELL_W as usize);
    assert_eq!(img.pixel(2 * CELL_W - 2, CELL_H / 2), Some(yellow));
}

#[test]
fn cursor_is_a_block() {
    let theme = Theme::default();
    let mut screen = Screen::from_capture("abc", 6, 2).expect("size");
    screen.set_cursor(1, 0);
    let img = render_rgba(&screen).expect("renders");
    let area = (CELL_W * CELL_H) as usize;
    // Most of the cell is the block; the letter is cut out of it.
    assert!(count(&img, 1, 0, 1, theme.cursor) > area / 2);
    assert!(count(&img, 0, 0, 1, theme.cursor) < area / 4);

    // On a blank cell, and on a cell whose background is already the cursor
    // colour (reverse video), the cursor still shows.
    let mut screen = Screen::from_capture("\n\x1b[7m    ", 6, 2).expect("size");
    screen.set_cursor(4, 0);
    let img = render_rgba(&screen).expect("renders");
    assert_eq!(img.cell_centre(4, 0), Some(theme.cursor));
    screen.set_cursor(1, 1);
    let img = render_rgba(&screen).expect("renders");
    assert_ne!(img.cell_centre(1, 1), img.cell_centre(0, 1));
}

#[test]
fn cursor_on_either_half_covers_a_wide_char() {
    let mut screen = Screen::from_capture("漢", 4, 1).expect("size");
    screen.set_cursor(1, 0);
    let img = render_rgba(&screen).expect("renders");
    let cursor = Theme::default().cursor;
    assert_eq!(img.pixel(3, 3), Some(cursor));
    assert_eq!(img.pixel(CELL_W + 3, 3), Some(cursor));
}

#[test]
fn reverse_swaps_foreground_and_background() {
    let theme = Theme::default();
    let (_, img) = render("\x1b[7m \x1b[0m\x1b[31;42;7m\u{2588}", 2, 1);
    assert_eq!(img.cell_centre(0, 0), Some(theme.fg));
    // Red on green reversed: a full block is drawn in green.
    assert_eq!(img.cell_centre(1, 0), Some(theme.ansi[2]));
}

#[test]
fn dim_and_hidden() {
    let theme = Theme::default();
    let (_, img) = render("\x1b[2m\u{2588}\x1b[22;8m\u{2588}", 2, 1);
    assert_eq!(img.cell_centre(0, 0), Some(theme.fg.mix(theme.bg, 0.5)));
    assert_eq!(img.cell_centre(1, 0), Some(theme.bg));
}

#[test]
fn vertical_borders_join_across_rows() {
    let (_, img) = render("│\n│\n", 1, 2);
    let fg = Theme::default().fg;
    let x = CELL_W / 2;
    assert!((0..2 * CELL_H).all(|y| img.pixel(x, y) == Some(fg)));
}

#[test]
fn oversized_screens_are_refused() {
    let err = Screen::from_capture("", 501, 10).expect_err("too wide");
    assert!(matches!(
        err,
        ShotError::Size {
            cols: 501,
            rows: 10
        }
    ));
    let msg = err.to_string();
    assert!(msg.contains("501x10") && msg.contains("1..=500"), "{msg}");
    assert!(Screen::from_capture("", 80, 301).is_err());
    assert!(Screen::from_capture("", 0, 24).is_err());
}

#[test]
fn png_decodes_with_the_screen_size() {
    let (screen, img) = render("\x1b[44mhello\x1b[0m world", 20, 3);
    let bytes = render_png(&screen).expect("encodes");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    assert_eq!((info.width, info.height), (20 * CELL_W, 3 * CELL_H));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    // The decoded pixels are the rendered ones.
    let (x, y) = (CELL_W / 2, CELL_H / 2);
    let i = ((y * info.width + x) * 3) as usize;
    assert_eq!(Some(Rgb(buf[i], buf[i + 1], buf[i + 2])), img.pixel(x, y));
}

/// A full 200×50 screen of coloured text in every attribute; run in release
/// with `cargo test --release -p telemux-screenshot -- --ignored` (debug
/// builds are many times slower, so the bound is not checked there).
#[test]
#[ignore = "timing: meaningful only in release builds"]
fn a_200x50_screen_renders_quickly() {
    let mut text = String::new();
    for row in 0..50u32 {
        for col in 0..40u32 {
            let n = (row * 40 + col) % 256;
            text.push_str(&format!("\x1b[38;5;{n};{}mab漢😀", 1 + col % 9));
        }
        text.push_str("\x1b[0m\n");
    }
    let screen = Screen::from_capture(&text, 200, 50).expect("size");
    render_png(&screen).expect("warm-up: parses the fonts");
    let start = std::time::Instant::now();
    let runs = 10;
    for _ in 0..runs {
        render_png(&screen).expect("renders");
    }
    let each = start.elapsed() / runs;
    eprintln!("200x50 render_png: {each:?} each");
    assert!(each < std::time::Duration::from_millis(100), "{each:?}");
}
