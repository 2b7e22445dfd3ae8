//! Tests of [`super`].

use super::*;

/// Feeds one batch and returns (lines, partial), failing on other variants.
fn lines(r: &mut Renderer, bytes: &[u8]) -> (Vec<String>, String) {
    match r.feed(bytes) {
        Rendered::Lines { lines, partial, .. } => (lines, partial),
        other => panic!("expected Lines, got {other:?}"),
    }
}

/// Renders a whole buffer in one go.
fn render(bytes: &[u8]) -> (Vec<String>, String) {
    lines(&mut Renderer::new(), bytes)
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Feeds each chunk in turn, collecting all lines and the final partial.
fn feed_chunks(chunks: &[&[u8]]) -> (Vec<String>, String) {
    let mut r = Renderer::new();
    let mut all = Vec::new();
    let mut partial = String::new();
    for c in chunks {
        match r.feed(c) {
            Rendered::Lines {
                lines, partial: p, ..
            } => {
                all.extend(lines);
                partial = p;
            }
            Rendered::FullScreen { lines } => all.extend(lines),
            Rendered::Nothing => {}
        }
    }
    (all, partial)
}

#[test]
fn plain_lines() {
    assert_eq!(
        render(b"hello\nworld\n"),
        (v(&["hello", "world"]), "".into())
    );
}

#[test]
fn partial_line_is_not_emitted() {
    let mut r = Renderer::new();
    assert_eq!(lines(&mut r, b"a\n$ "), (v(&["a"]), "$".into()));
    assert_eq!(lines(&mut r, b"ls\n"), (v(&["$ ls"]), "".into()));
}

#[test]
fn empty_lines_are_kept() {
    assert_eq!(render(b"a\n\n\nb\n"), (v(&["a", "", "", "b"]), "".into()));
}

#[test]
fn crlf_is_one_newline() {
    assert_eq!(render(b"a\r\nb\r\n"), (v(&["a", "b"]), "".into()));
}

#[test]
fn carriage_return_progress() {
    assert_eq!(
        render(b"progress 10%\rprogress 20%\n"),
        (v(&["progress 20%"]), "".into())
    );
    // A shorter rewrite keeps the tail unless erased, as on a terminal.
    assert_eq!(render(b"abcdef\rxy\n"), (v(&["xycdef"]), "".into()));
    assert_eq!(render(b"abcdef\rxy\x1b[K\n"), (v(&["xy"]), "".into()));
}

#[test]
fn progress_across_batches_updates_partial() {
    let mut r = Renderer::new();
    assert_eq!(lines(&mut r, b"10%"), (vec![], "10%".into()));
    assert_eq!(lines(&mut r, b"\r20%"), (vec![], "20%".into()));
    assert_eq!(lines(&mut r, b"\r100%\r\n"), (v(&["100%"]), "".into()));
}

#[test]
fn trailing_spaces_trimmed() {
    assert_eq!(render(b"a  \nb \t\n"), (v(&["a", "b"]), "".into()));
}

#[test]
fn backspace_moves_left() {
    assert_eq!(render(b"abc\x08\x08X\n"), (v(&["aXc"]), "".into()));
    assert_eq!(render(b"abc\x08 \x08\n"), (v(&["ab"]), "".into()));
    assert_eq!(render(b"\x08\x08a\n"), (v(&["a"]), "".into()));
}

#[test]
fn tabs_advance_to_multiple_of_eight() {
    assert_eq!(render(b"a\tb\n"), (v(&["a       b"]), "".into()));
    assert_eq!(
        render(b"12345678\tx\n"),
        (v(&["12345678        x"]), "".into())
    );
    assert_eq!(render(b"\tx\n"), (v(&["        x"]), "".into()));
}

#[test]
fn erase_in_line_modes() {
    assert_eq!(render(b"abcdef\x1b[3D\x1b[K\n"), (v(&["abc"]), "".into()));
    assert_eq!(render(b"abcdef\x1b[3D\x1b[0K\n"), (v(&["abc"]), "".into()));
    assert_eq!(
        render(b"abcdef\x1b[3D\x1b[1K\n"),
        (v(&["    ef"]), "".into())
    );
    assert_eq!(render(b"abcdef\x1b[2Kxy\n"), (v(&["      xy"]), "".into()));
    assert_eq!(render(b"abcdef\r\x1b[2Kxy\n"), (v(&["xy"]), "".into()));
}

#[test]
fn cursor_forward_back_column() {
    assert_eq!(render(b"a\x1b[3Cb\n"), (v(&["a   b"]), "".into()));
    assert_eq!(render(b"abcd\x1b[2DX\n"), (v(&["abXd"]), "".into()));
    assert_eq!(render(b"abcd\x1b[1GX\n"), (v(&["Xbcd"]), "".into()));
    assert_eq!(render(b"abcd\x1b[GX\n"), (v(&["Xbcd"]), "".into()));
    assert_eq!(render(b"ab\x1b[6GX\n"), (v(&["ab   X"]), "".into()));
    assert_eq!(render(b"ab\x1b[9D\x1b[CX\n"), (v(&["aX"]), "".into()));
}

#[test]
fn readline_style_editing() {
    // Delete chars, insert blanks, erase chars.
    assert_eq!(
        render(b"abcdef\r\x1b[2C\x1b[2P\n"),
        (v(&["abef"]), "".into())
    );
    assert_eq!(
        render(b"abcd\r\x1b[C\x1b[2@XY\n"),
        (v(&["aXYbcd"]), "".into())
    );
    assert_eq!(
        render(b"abcdef\r\x1b[C\x1b[2X\n"),
        (v(&["a  def"]), "".into())
    );
}

#[test]
fn colors_stripped() {
    assert_eq!(
        render(b"\x1b[1;31merror\x1b[0m: \x1b[38;5;208mbad\x1b[m\n"),
        (v(&["error: bad"]), "".into())
    );
    assert_eq!(
        render(b"\x1b[38:2::255:0:0mtrue\x1b[39m\n"),
        (v(&["true"]), "".into())
    );
}

#[test]
fn osc_stripped_bel_and_st() {
    assert_eq!(
        render(b"\x1b]0;my title\x07a\x1b]2;t2\x1b\\b\n"),
        (v(&["ab"]), "".into())
    );
    assert_eq!(
        render(b"\x1b]133;A\x07$ \x1b]133;B\x07ls\n\x1b]133;C\x07out\n\x1b]133;D;0\x1b\\"),
        (v(&["$ ls", "out"]), "".into())
    );
    // Hyperlinks keep their visible text only.
    assert_eq!(
        render(b"\x1b]8;;https://x.y\x1b\\link\x1b]8;;\x1b\\\n"),
        (v(&["link"]), "".into())
    );
}

#[test]
fn other_sequences_stripped() {
    // DCS, APC, charset designation, keypad modes, cursor visibility, bell.
    assert_eq!(
        render(b"\x1bP1$r0m\x1b\\a\x1b_apc\x1b\\b\x1b(Bc\x1b=\x1b>\x1b[?25ld\x07\x1b[?2004he\n"),
        (v(&["abcde"]), "".into())
    );
}

#[test]
fn only_escapes_is_nothing() {
    let mut r = Renderer::new();
    assert_eq!(r.feed(b"\x1b]133;D;7\x07"), Rendered::Nothing);
    assert_eq!(r.feed(b"\x1b[0m\x1b[?25h"), Rendered::Nothing);
    assert_eq!(r.feed(b""), Rendered::Nothing);
    assert_eq!(r.feed(b"\x07"), Rendered::Nothing);
}

#[test]
fn unchanged_partial_is_nothing() {
    let mut r = Renderer::new();
    assert_eq!(lines(&mut r, b"$ "), (vec![], "$".into()));
    assert_eq!(r.feed(b"\r$ "), Rendered::Nothing);
    assert_eq!(lines(&mut r, b"x"), (vec![], "$ x".into()));
}

#[test]
fn forged_exit_code_is_only_text() {
    let mut r = Renderer::new();
    // OSC 133 D with an exit code, as `cat`-ed from a log: nothing at all.
    assert_eq!(r.feed(b"\x1b]133;D;7\x07"), Rendered::Nothing);
    // Printed marker strings are just text.
    assert_eq!(
        lines(
            &mut r,
            b"__TELEMUX_EXIT__ 7\n\x1b]1337;ExitCode=3\x07done\n"
        ),
        (v(&["__TELEMUX_EXIT__ 7", "done"]), "".into())
    );
}

#[test]
fn escape_split_mid_sequence() {
    assert_eq!(
        feed_chunks(&[b"a\x1b", b"[3", b"1mb\x1b[0", b"m\n"]),
        (v(&["ab"]), "".into())
    );
    assert_eq!(
        feed_chunks(&[b"x\x1b]0;ti", b"tle\x1b", b"\\y\n"]),
        (v(&["xy"]), "".into())
    );
    assert_eq!(
        feed_chunks(&[b"\x1b[?10", b"49h", b"vim", b"\x1b[?1049", b"l$ \n"]),
        (v(&["$"]), "".into())
    );
}

#[test]
fn utf8_split_across_feeds() {
    let s = "héllo 世界 🎉\n".as_bytes();
    // Every possible split point, and byte-by-byte.
    for i in 0..s.len() {
        assert_eq!(
            feed_chunks(&[&s[..i], &s[i..]]),
            (v(&["héllo 世界 🎉"]), "".into()),
            "split at {i}"
        );
    }
    let bytes: Vec<&[u8]> = s.chunks(1).collect();
    assert_eq!(feed_chunks(&bytes), (v(&["héllo 世界 🎉"]), "".into()));
}

#[test]
fn partial_utf8_before_escape_is_replaced() {
    assert_eq!(
        feed_chunks(&[b"a\xe4", b"\x1b[0mb\n"]),
        (v(&["a\u{FFFD}b"]), "".into())
    );
}

#[test]
fn wide_characters_one_column_each() {
    assert_eq!(render("日本語\n".as_bytes()), (v(&["日本語"]), "".into()));
    assert_eq!(
        render("日本語\r中\n".as_bytes()),
        (v(&["中本語"]), "".into())
    );
    assert_eq!(render("👍🏽 ok\n".as_bytes()), (v(&["👍🏽 ok"]), "".into()));
    assert_eq!(
        render("ab\x08\x08漢\n".as_bytes()),
        (v(&["漢b"]), "".into())
    );
}

#[test]
fn invalid_utf8_is_replacement() {
    assert_eq!(render(b"a\xffb\n"), (v(&["a\u{FFFD}b"]), "".into()));
    assert_eq!(render(b"a\x80b\n"), (v(&["a\u{FFFD}b"]), "".into()));
    assert_eq!(render(b"a\xe4\xb8b\n"), (v(&["a\u{FFFD}b"]), "".into()));
    assert_eq!(render(b"\xc0\xaf\xed\xa0\x80\n").0.len(), 1);
}

#[test]
fn arbitrary_bytes_never_panic() {
    // Deterministic pseudo-random garbage with plenty of ESC/CSI/C0 bytes.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = Vec::with_capacity(200_000);
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = match x % 8 {
            0 => 0x1b,
            1 => b'[',
            2 => (x >> 8) as u8 % 0x20,
            _ => (x >> 16) as u8,
        };
        buf.push(b);
    }
    let mut r = Renderer::new();
    for chunk in buf.chunks(777) {
        let _ = r.feed(chunk);
        assert!(r.screen.line.len() <= MAX_LINE_CHARS);
    }
    let _ = strip_ansi(&buf);
}

#[test]
fn long_line_force_split() {
    let mut r = Renderer::new();
    let long = vec![b'x'; MAX_LINE_CHARS * 2 + 10];
    let (ls, partial) = lines(&mut r, &long);
    assert_eq!(ls.len(), 2);
    assert!(ls.iter().all(|l| l.len() == MAX_LINE_CHARS));
    assert_eq!(partial, "x".repeat(10));
    // Across many batches too.
    let mut r = Renderer::new();
    let mut total = 0;
    for _ in 0..100 {
        if let Rendered::Lines { lines, .. } = r.feed(&[b'y'; 1000]) {
            total += lines.len();
        }
    }
    assert_eq!(total, 100_000 / MAX_LINE_CHARS);
    assert!(r.screen.line.len() <= MAX_LINE_CHARS);
}

#[test]
fn huge_cursor_moves_are_bounded() {
    let (ls, partial) = render(b"\x1b[65535C\x1b[65535Ca\x1b[65535Gb");
    assert!(ls.len() <= 1);
    assert!(partial.chars().count() <= MAX_LINE_CHARS);
    let (_, p) = render(b"a\x1b[65535@");
    assert_eq!(p, "a");
}

#[test]
fn unterminated_osc_is_bounded_and_discarded() {
    let mut r = Renderer::new();
    let _ = r.feed(b"before\n\x1b]0;");
    for _ in 0..100 {
        assert_eq!(r.feed(&[b'z'; 10_000]), Rendered::Nothing);
    }
    // The string finally ends; text after it renders normally.
    assert_eq!(lines(&mut r, b"\x07after\n"), (v(&["after"]), "".into()));
}

#[test]
fn alternate_screen_on_off() {
    for mode in ["1049", "1047", "47"] {
        let mut r = Renderer::new();
        assert_eq!(lines(&mut r, b"$ vim\r\n"), (v(&["$ vim"]), "".into()));
        let on = format!("\x1b[?{mode}h\x1b[H\x1b[2Jfile contents\r\n~\r\n");
        assert_eq!(
            r.feed(on.as_bytes()),
            Rendered::FullScreen { lines: vec![] }
        );
        assert!(r.alternate_screen());
        assert_eq!(
            r.feed(b"\x1b[5;1Hmore drawing"),
            Rendered::FullScreen { lines: vec![] }
        );
        let off = format!("\x1b[?{mode}l$ echo hi\r\nhi\r\n$ ");
        assert_eq!(
            r.feed(off.as_bytes()),
            Rendered::Lines {
                lines: v(&["$ echo hi", "hi"]),
                partial: "$".into(),
                left_full_screen: true,
            }
        );
        assert!(!r.alternate_screen());
    }
}

#[test]
fn lines_before_switch_are_kept() {
    let mut r = Renderer::new();
    assert_eq!(
        r.feed(b"one\r\ntwo\r\n\x1b[?1049hdrawing"),
        Rendered::FullScreen {
            lines: v(&["one", "two"])
        }
    );
}

#[test]
fn whole_full_screen_period_in_one_batch() {
    let mut r = Renderer::new();
    assert_eq!(
        r.feed(b"a\r\n\x1b[?1049hpager stuff\r\n\x1b[?1049lb\r\n"),
        Rendered::Lines {
            lines: v(&["a", "b"]),
            partial: "".into(),
            left_full_screen: true,
        }
    );
    // Even with no text around it, the caller learns the period happened.
    assert_eq!(
        r.feed(b"\x1b[?1049hx\x1b[?1049l"),
        Rendered::Lines {
            lines: vec![],
            partial: "".into(),
            left_full_screen: true,
        }
    );
    // And a later quiet batch is Nothing again.
    assert_eq!(r.feed(b"\x1b[0m"), Rendered::Nothing);
}

#[test]
fn alternate_screen_combined_params_and_other_modes() {
    let mut r = Renderer::new();
    assert!(matches!(
        r.feed(b"\x1b[?1049;1006h"),
        Rendered::FullScreen { .. }
    ));
    let mut r = Renderer::new();
    // Other private modes do not switch screens.
    assert_eq!(r.feed(b"\x1b[?1h\x1b[?2004h\x1b[?1000h"), Rendered::Nothing);
    assert!(!r.alternate_screen());
}

#[test]
fn partial_line_survives_full_screen_period() {
    let mut r = Renderer::new();
    assert_eq!(lines(&mut r, b"$ "), (vec![], "$".into()));
    assert!(matches!(
        r.feed(b"\x1b[?1049hxx"),
        Rendered::FullScreen { .. }
    ));
    assert_eq!(
        r.feed(b"\x1b[?1049lls"),
        Rendered::Lines {
            lines: vec![],
            partial: "$ ls".into(),
            left_full_screen: true,
        }
    );
}

#[test]
fn set_alternate_screen_from_tmux() {
    let mut r = Renderer::new();
    r.set_alternate_screen(true);
    assert!(r.alternate_screen());
    assert_eq!(r.feed(b"redraw"), Rendered::FullScreen { lines: vec![] });
    assert_eq!(r.feed(b""), Rendered::Nothing);
    r.set_alternate_screen(false);
    assert_eq!(lines(&mut r, b"x\n"), (v(&["x"]), "".into()));
}

#[test]
fn full_reset_leaves_alternate_screen() {
    let mut r = Renderer::new();
    let _ = r.feed(b"abc\x1b[?1049h");
    assert_eq!(
        r.feed(b"\x1bcok\n"),
        Rendered::Lines {
            lines: v(&["ok"]),
            partial: "".into(),
            left_full_screen: true,
        }
    );
}

#[test]
fn vertical_moves_best_effort() {
    // Clear screen with nothing on the line: no blank lines appear.
    assert_eq!(render(b"\x1b[H\x1b[2J\x1b[3J$ "), (vec![], "$".into()));
    // Moving up from a written line completes it; the redraw comes as new lines.
    assert_eq!(
        render(b"a: 1%\nb: 1%\n\x1b[2A\x1b[2Ka: 50%\n\x1b[2Kb: 50%\n"),
        (v(&["a: 1%", "b: 1%", "a: 50%", "b: 50%"]), "".into())
    );
    assert_eq!(
        render(b"abc\x1b[1Adef\n"),
        (v(&["abc", "   def"]), "".into())
    );
    assert_eq!(render(b"abc\x1b[3;2Hx\n"), (v(&["abc", " x"]), "".into()));
}

#[test]
fn save_restore_around_status_row() {
    // apt-style: save, draw a progress bar on the bottom row, restore.
    assert_eq!(
        render(b"Get:1 x\r\n\x1b7\x1b[24;0f[##  ] 50%\x1b8Get:2 y\r\n"),
        (v(&["Get:1 x", "[##  ] 50%", "Get:2 y"]), "".into())
    );
    // Save/restore on the same row just moves the cursor back.
    assert_eq!(
        render(b"ab\x1b[scdef\x1b[uX\n"),
        (v(&["abXdef"]), "".into())
    );
}

#[test]
fn c0_and_del_ignored() {
    assert_eq!(
        render(b"a\x00b\x07c\x0ed\x0fe\x7ff\x0bg\x0ch\n"),
        (v(&["abcdefgh"]), "".into())
    );
}

#[test]
fn esc_index_and_next_line() {
    assert_eq!(render(b"ab\x1bEcd\n"), (v(&["ab", "cd"]), "".into()));
    assert_eq!(render(b"ab\x1bDcd\n"), (v(&["ab", "  cd"]), "".into()));
}

#[test]
fn strip_ansi_whole_buffer() {
    assert_eq!(strip_ansi(b"\x1b[32mok\x1b[0m\r\nnext"), "ok\nnext");
    assert_eq!(strip_ansi(b"a\nb\n"), "a\nb\n");
    assert_eq!(strip_ansi(b""), "");
    assert_eq!(strip_ansi(b"\x1b]133;D;1\x07"), "");
    assert_eq!(strip_ansi(b"x\n\x1b[?1049hvim screen\x1b[?1049ly"), "x\ny");
    assert_eq!(strip_ansi(b"x\n\x1b[?1049hvim screen"), "x\n");
}
