//! Renders a saved `tmux capture-pane -p -e` file to a PNG, for the docs'
//! screenshots.
//!
//! Usage: `capture_to_png CAPTURE COLS ROWS OUT.png [CURSOR_X CURSOR_Y]`
//!
//! For example:
//! `tmux capture-pane -p -e -t work > pane.txt` and
//! `tmux display -p -t work '#{pane_width} #{pane_height} #{cursor_x} #{cursor_y}'`
//! give the capture and the numbers.

use std::process::ExitCode;

use telemux_screenshot::{render_png, Screen, ShotError};

const USAGE: &str = "usage: capture_to_png CAPTURE COLS ROWS OUT.png [CURSOR_X CURSOR_Y]";

/// Why the example could not make its PNG.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("{USAGE}")]
    Usage,
    #[error("{name} must be a number from 0 to 65535, not {value:?}")]
    Number { name: &'static str, value: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Shot(#[from] ShotError),
}

fn number(name: &'static str, value: &str) -> Result<u16, Error> {
    value.parse().map_err(|_| Error::Number {
        name,
        value: value.to_string(),
    })
}

fn run(args: &[String]) -> Result<(), Error> {
    let (capture, cols, rows, out, cursor) = match args {
        [c, w, h, o] => (c, w, h, o, None),
        [c, w, h, o, x, y] => (c, w, h, o, Some((x, y))),
        _ => return Err(Error::Usage),
    };
    let text = std::fs::read(capture).map_err(|source| Error::Io {
        path: capture.clone(),
        source,
    })?;
    // Captures are UTF-8 but may hold a stray byte from a binary program's
    // output; show it as U+FFFD rather than refuse the whole screen.
    let text = String::from_utf8_lossy(&text);
    let mut screen = Screen::from_capture(&text, number("COLS", cols)?, number("ROWS", rows)?)?;
    if let Some((x, y)) = cursor {
        screen.set_cursor(number("CURSOR_X", x)?, number("CURSOR_Y", y)?);
    }
    let png = render_png(&screen)?;
    std::fs::write(out, png).map_err(|source| Error::Io {
        path: out.clone(),
        source,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capture_to_png: {e}");
            ExitCode::FAILURE
        }
    }
}
