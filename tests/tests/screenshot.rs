//! `telemux screenshot` end to end: a real session on a real node prints a
//! known coloured screen, the CLI draws it, and the PNG is decoded and looked
//! at pixel by pixel (the `png` crate reads what the renderer wrote).

use std::time::Duration;

use telemux_screenshot::{CELL_H, CELL_W};
use telemux_tests::{wait_until, Mesh};

/// The screen the session shows: a red-background word on row 0, a CJK
/// character (two cells wide) on row 1, and nothing after it.
const PAINT: &str = r"printf '\033[41m  RED  \033[0m\n中\n'; exec sleep 1000";

/// A decoded RGB picture.
struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Picture {
    fn decode(bytes: &[u8]) -> Picture {
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "not a PNG: {} bytes starting {:?}",
            bytes.len(),
            &bytes[..bytes.len().min(16)]
        );
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("PNG header");
        let mut rgb = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut rgb).expect("PNG frame");
        assert_eq!(info.color_type, png::ColorType::Rgb, "RGB pixels");
        rgb.truncate(info.buffer_size());
        Picture {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn pixel(&self, x: u32, y: u32) -> (u8, u8, u8) {
        let i = ((y * self.width + x) * 3) as usize;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// The pixel in the middle of cell (`col`, `row`).
    fn cell_centre(&self, col: u32, row: u32) -> (u8, u8, u8) {
        self.pixel(col * CELL_W + CELL_W / 2, row * CELL_H + CELL_H / 2)
    }

    /// How many pixels of cell (`col`, `row`) differ from `bg`.
    fn inked(&self, col: u32, row: u32, bg: (u8, u8, u8)) -> usize {
        (0..CELL_H)
            .flat_map(|dy| (0..CELL_W).map(move |dx| (dx, dy)))
            .filter(|(dx, dy)| self.pixel(col * CELL_W + dx, row * CELL_H + dy) != bg)
            .count()
    }
}

async fn painted_mesh() -> Mesh {
    let m = Mesh::start(&["RasPi"]).await;
    m.cli.run(&["new", "RasPi/shot", "--", PAINT]).await.ok();
    wait_until("the painted screen", Duration::from_secs(20), || async {
        let out = m.cli.run(&["read", "RasPi/shot", "--lines", "0"]).await;
        let text = out.ok().to_string();
        (text.contains("RED") && text.contains('中'))
            .then_some(())
            .ok_or(text)
    })
    .await;
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screenshot_shows_the_colours_and_the_size_of_the_pane() {
    let m = painted_mesh().await;
    let file = m.cli.home().join("out.png");
    let out = m
        .cli
        .run(&[
            "--json",
            "screenshot",
            "RasPi/shot",
            "-o",
            file.to_str().unwrap(),
        ])
        .await;
    let report: serde_json::Value = serde_json::from_str(out.ok()).expect("JSON report");
    assert_eq!(report["session"], "RasPi/shot", "{report}");
    let bytes = std::fs::read(&file).expect("the PNG file");
    assert_eq!(report["bytes"], bytes.len(), "{report}");
    let pic = Picture::decode(&bytes);
    let (cols, rows) = (
        report["cols"].as_u64().unwrap() as u32,
        report["rows"].as_u64().unwrap() as u32,
    );
    assert!(cols >= 20 && rows >= 5, "{report}");
    assert_eq!(
        (pic.width, pic.height),
        (cols * CELL_W, rows * CELL_H),
        "one cell is CELL_W x CELL_H pixels"
    );
    // Cell (0, 0) is a space on the red background (palette red 0xcd0000).
    assert_eq!(pic.cell_centre(0, 0), (0xcd, 0, 0), "red cell");
    let bg = pic.cell_centre(cols - 2, 0);
    assert_ne!(bg, (0xcd, 0, 0), "the background after the word is not red");
    // `中` covers two cells: both have ink, the cell after them has none.
    assert!(pic.inked(0, 1, bg) > 0, "first half of the wide character");
    assert!(pic.inked(1, 1, bg) > 0, "second half of the wide character");
    assert_eq!(pic.inked(3, 1, bg), 0, "nothing after it");
    // No temporary file is left beside the output.
    let left: Vec<_> = std::fs::read_dir(m.cli.home())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_file_stdout_and_a_wrong_name() {
    let m = painted_mesh().await;

    // Without -o: SESSION.png in the working directory (the CLI runs in its HOME).
    let out = m.cli.run(&["screenshot", "shot"]).await;
    assert!(out.ok().starts_with("shot.png ("), "{out:?}");
    assert!(out.ok().contains("RasPi/shot"), "{out:?}");
    let saved = std::fs::read(m.cli.home().join("shot.png")).expect("shot.png");
    Picture::decode(&saved);

    // -o - writes the PNG itself to stdout, and nothing else.
    let raw = m
        .cli
        .command(&["screenshot", "RasPi/shot", "-o", "-"])
        .output()
        .await
        .expect("telemux screenshot -o -");
    assert!(raw.status.success(), "{raw:?}");
    let pic = Picture::decode(&raw.stdout);
    assert_eq!(pic.cell_centre(0, 0), (0xcd, 0, 0));

    // A misspelt session: a usage error naming what exists, nothing written.
    let bad = m.cli.run(&["screenshot", "shott"]).await;
    assert_eq!(bad.code(), Some(2), "{bad:?}");
    assert!(
        bad.stderr.contains("no session 'shott'") && bad.stderr.contains("RasPi/shot"),
        "{bad:?}"
    );
    let bad = m.cli.run(&["screenshot", "RasPi/shott"]).await;
    assert_ne!(bad.code(), Some(0), "{bad:?}");
    assert!(bad.stderr.contains("shott"), "{bad:?}");
    assert!(!m.cli.home().join("shott.png").exists());
}
