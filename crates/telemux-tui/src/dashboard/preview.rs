//! The selected session's live screen: a snapshot, then the session's raw
//! output through a terminal emulator, drawn into the preview pane with its
//! colours. The emulator keeps the remote screen plus the configured
//! scrollback and nothing else; a flooding session only makes the UI skip
//! frames (the redraw signal holds at most one pending wake-up).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use telemux_bus::{Cursor, OutputReader};
use telemux_client::Mesh;
use telemux_proto::{ComputerName, OutputEvent, SessionName};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the preview pane shows, shared by its follower task and the UI.
#[derive(Default)]
pub struct PreviewState {
    /// The emulated screen, once the snapshot arrived.
    pub parser: Option<vt100::Parser>,
    /// Why there is nothing to show (loading, an error, the session ended).
    pub note: Option<String>,
}

/// The preview shared between its task and the UI (a std mutex, held only
/// to feed or draw, never across an await).
pub type Shared = Arc<Mutex<PreviewState>>;

/// Follows `c/s` into `state` until `stop`, poking `dirty` after each change.
pub async fn follow(
    mesh: Mesh,
    c: ComputerName,
    s: SessionName,
    scrollback: usize,
    state: Shared,
    dirty: mpsc::Sender<()>,
    stop: CancellationToken,
) {
    let set_note = |note: String| {
        lock(&state).note = Some(note);
        let _ = dirty.try_send(());
    };
    let snap = match mesh.snapshot(&c, &s).await {
        Ok(snap) => snap,
        Err(e) => return set_note(format!("cannot show {c}/{s}: {e}")),
    };
    let mut reader =
        match OutputReader::new(mesh.bus(), &c, &s, Cursor::After(snap.cursor.clone())).await {
            Ok(r) => r,
            Err(e) => return set_note(format!("cannot follow {c}/{s}: {e}")),
        };
    {
        let mut p = vt100::Parser::new(snap.height.max(1), snap.width.max(1), scrollback);
        p.process(&crate::attach::seed(&snap));
        let mut st = lock(&state);
        st.parser = Some(p);
        st.note = None;
    }
    let _ = dirty.try_send(());
    while !stop.is_cancelled() {
        let batch = tokio::select! {
            _ = stop.cancelled() => return,
            b = reader.next_batch(Some(Duration::from_secs(5)), 512) => b,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(_) => {
                // Redis away: the status line says so; resume from the cursor.
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
        };
        let mut changed = false;
        {
            let mut st = lock(&state);
            for (_, rec) in batch.entries {
                let Ok(rec) = rec else { continue };
                match rec.event {
                    OutputEvent::Lines { raw, .. } | OutputEvent::Raw { raw } => {
                        if let Some(p) = st.parser.as_mut() {
                            p.process(&raw);
                            changed = true;
                        }
                    }
                    OutputEvent::SessionExited { exit_status, .. } => {
                        st.note = Some(format!("exited with status {exit_status}"));
                        changed = true;
                    }
                    _ => {}
                }
            }
        }
        if changed {
            let _ = dirty.try_send(());
        }
    }
}

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, PreviewState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn color(c: vt100::Color) -> Color {
    match c {
        vt100::Color::Default => Color::Reset,
        vt100::Color::Idx(i) => Color::Indexed(i),
        vt100::Color::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}

/// Draws the emulated screen into `area`: the rows around the cursor and
/// the last output when the remote screen is taller, cut at the right when
/// wider.
pub fn draw(state: &Shared, area: Rect, buf: &mut Buffer) {
    let st = lock(state);
    let Some(p) = st.parser.as_ref() else {
        let note = st.note.as_deref().unwrap_or("loading…");
        buf.set_string(area.x, area.y, note, Style::default().fg(Color::DarkGray));
        return;
    };
    let screen = p.screen();
    let (rows, cols) = screen.size();
    let (cur_row, _) = screen.cursor_position();
    let last_used = (0..rows)
        .rev()
        .find(|&r| (0..cols).any(|c| screen.cell(r, c).is_some_and(|x| x.has_contents())))
        .unwrap_or(0)
        .max(cur_row);
    let first = (last_used + 1).saturating_sub(area.height);
    for y in 0..area.height.min(rows - first) {
        for x in 0..area.width.min(cols) {
            let Some(cell) = screen.cell(first + y, x) else {
                continue;
            };
            if cell.is_wide_continuation() {
                continue;
            }
            let mut style = Style::default()
                .fg(color(cell.fgcolor()))
                .bg(color(cell.bgcolor()));
            let mut m = Modifier::empty();
            if cell.bold() {
                m |= Modifier::BOLD;
            }
            if cell.italic() {
                m |= Modifier::ITALIC;
            }
            if cell.underline() {
                m |= Modifier::UNDERLINED;
            }
            if cell.inverse() {
                m |= Modifier::REVERSED;
            }
            style = style.add_modifier(m);
            let text = cell.contents();
            let symbol = if text.is_empty() { " " } else { text.as_str() };
            if let Some(c) = buf.cell_mut((area.x + x, area.y + y)) {
                c.set_symbol(symbol).set_style(style);
            }
        }
    }
    if let Some(note) = &st.note {
        let y = area.y + area.height.saturating_sub(1);
        buf.set_string(
            area.x,
            y,
            format!("[{note}]"),
            Style::default().fg(Color::Yellow),
        );
    }
}
