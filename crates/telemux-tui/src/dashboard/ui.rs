//! Drawing the dashboard: the tree of computers and sessions, the preview,
//! the line for typing, the status line, and the help and form overlays.
//! One function per part; nothing here changes state.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;
use telemux_client::mesh::ago;
use telemux_proto::{AgentState, SessionState};

use super::keys::{Mode, NEW_FIELDS};
use super::model::{Model, Sel};
use super::preview;

/// Draws one whole frame.
pub fn draw(f: &mut Frame, model: &Model, mode: &Mode, preview: &preview::Shared) {
    let [main, line, status] = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(f.area());
    let [tree, right] = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(40), Constraint::Percentage(60)])
        .areas(main);
    draw_tree(f, model, tree);
    draw_preview(f, model, preview, right);
    draw_line(f, model, mode, line);
    draw_status(f, model, status);
    match mode {
        Mode::Help => draw_help(f, main),
        Mode::New(fields, focus) => draw_new(f, fields, *focus, main),
        _ => {}
    }
}

fn agent_style(state: Option<AgentState>) -> Style {
    match state {
        Some(AgentState::WaitingForInput) => Style::default()
            .fg(Color::Black)
            .bg(Color::Yellow)
            .add_modifier(Modifier::BOLD),
        Some(AgentState::Working) => Style::default().fg(Color::Cyan),
        Some(AgentState::Idle) => Style::default().fg(Color::Green),
        _ => Style::default(),
    }
}

fn draw_tree(f: &mut Frame, model: &Model, area: Rect) {
    let rows = model.rows();
    let mut items = Vec::with_capacity(rows.len());
    for sel in &rows {
        let line = match sel {
            Sel::Computer(ck) => {
                let c = &model.computers[ck];
                let (dot, how) = if c.online {
                    (
                        Span::styled("● ", Style::default().fg(Color::Green)),
                        format!("online · {} sessions", c.sessions.len()),
                    )
                } else {
                    (
                        Span::styled("○ ", Style::default().fg(Color::DarkGray)),
                        format!("offline · last seen {}", ago(c.info.last_seen_ms)),
                    )
                };
                Line::from(vec![
                    dot,
                    Span::styled(
                        c.info.name.clone(),
                        Style::default().add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(format!("  {how}")),
                ])
            }
            Sel::Session(ck, sk) => {
                let s = &model.computers[ck].sessions[sk];
                let i = &s.info;
                let mut spans = vec![Span::raw("  "), Span::raw(i.name.clone()), Span::raw("  ")];
                match i.state {
                    SessionState::Running => spans.push(Span::raw(i.command.clone())),
                    SessionState::Exited => spans.push(Span::styled(
                        format!("exited {}", i.exit_status.unwrap_or(-1)),
                        Style::default().fg(Color::Red),
                    )),
                }
                if let (Some(agent), Some(state)) = (&i.agent, i.agent_state) {
                    let since = i.agent_since_ms.map(ago).unwrap_or_default();
                    spans.push(Span::raw("  "));
                    spans.push(Span::styled(
                        format!("{agent}: {state} {since}"),
                        agent_style(Some(state)),
                    ));
                }
                if let Some(code) = s.last_exit {
                    let st = if code == 0 { Color::Green } else { Color::Red };
                    spans.push(Span::styled(
                        format!("  exit {code}"),
                        Style::default().fg(st),
                    ));
                }
                spans.push(Span::styled(
                    format!("  {}", ago(i.last_activity_ms)),
                    Style::default().fg(Color::DarkGray),
                ));
                Line::from(spans)
            }
        };
        items.push(ListItem::new(line));
    }
    let mut state = ListState::default();
    state.select(
        model
            .sel
            .as_ref()
            .and_then(|s| rows.iter().position(|r| r == s)),
    );
    let title = if model.filter.is_empty() {
        " computers ".to_string()
    } else {
        format!(" computers (filter: {}) ", model.filter)
    };
    let empty = items.is_empty();
    let list = List::new(items)
        .block(Block::default().borders(Borders::ALL).title(title))
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    f.render_stateful_widget(list, area, &mut state);
    if empty {
        let msg = if model.computers.is_empty() {
            "no computer has joined this mesh yet (start `telemux node` on one)"
        } else {
            "nothing matches the filter"
        };
        let inner = Rect::new(area.x + 1, area.y + 1, area.width.saturating_sub(2), 1);
        f.render_widget(
            Paragraph::new(msg).style(Style::default().fg(Color::DarkGray)),
            inner,
        );
    }
}

fn draw_preview(f: &mut Frame, model: &Model, state: &preview::Shared, area: Rect) {
    let (title, prompt) = match model.selected_session() {
        Some((c, s)) => (
            format!(" {}/{} — {} ", c.info.name, s.info.name, s.info.cwd),
            s.info.agent_prompt.clone(),
        ),
        None => (" preview ".to_string(), None),
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if model.selected_session().is_none() {
        return;
    }
    let mut screen = inner;
    if let Some(p) = prompt {
        // The agent's question and its numbered choices, under the screen.
        let mut lines = vec![Line::styled(
            format!("? {}", p.question),
            agent_style(Some(AgentState::WaitingForInput)),
        )];
        for c in &p.choices {
            lines.push(Line::raw(format!("  {}. {}", c.number, c.label)));
        }
        lines.push(Line::styled(
            "  press the number to answer",
            Style::default().fg(Color::DarkGray),
        ));
        let h = (lines.len() as u16).min(inner.height / 2);
        screen.height = inner.height - h;
        let at = Rect::new(inner.x, inner.y + screen.height, inner.width, h);
        f.render_widget(Clear, at);
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), at);
    }
    preview::draw(state, screen, f.buffer_mut());
}

fn draw_line(f: &mut Frame, model: &Model, mode: &Mode, area: Rect) {
    let (text, cursor) = match mode {
        Mode::Input(t) => (format!("type> {t}"), true),
        Mode::Keys(t) => (format!("keys (C-c Enter Up …)> {t}"), true),
        Mode::Filter => (format!("/{}", model.filter), true),
        Mode::Kill(addr) => (format!("kill {addr}? y/n"), false),
        _ => (model.flash.clone().unwrap_or_default(), false),
    };
    let len = text.chars().count() as u16;
    f.render_widget(Paragraph::new(text), area);
    if cursor {
        f.set_cursor_position((area.x + len.min(area.width.saturating_sub(1)), area.y));
    }
}

fn draw_status(f: &mut Frame, model: &Model, area: Rect) {
    let mut spans = vec![Span::raw(model.redis_url.clone())];
    match &model.redis_error {
        Some(e) => spans.push(Span::styled(
            format!("  Redis unreachable: {e}"),
            Style::default().fg(Color::White).bg(Color::Red),
        )),
        None => {
            if let Some(l) = model.latency {
                spans.push(Span::raw(format!("  {:.1} ms", l.as_secs_f64() * 1000.0)));
            }
        }
    }
    if let Some(d) = model.dead_letters {
        spans.push(Span::raw(format!("  dead letters {d}")));
    }
    spans.push(Span::styled(
        "  ? help  q quit",
        Style::default().fg(Color::DarkGray),
    ));
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(Style::default().add_modifier(Modifier::REVERSED)),
        area,
    );
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The keys, as the help overlay lists them.
pub const HELP: &[(&str, &str)] = &[
    ("↑↓ j k", "move"),
    ("Enter", "type into the session (Enter sends, Esc leaves)"),
    ("K", "send named keys (C-c Enter Up …)"),
    ("1-9", "answer the agent's question with that choice"),
    ("n", "new session (Tab between fields)"),
    ("x", "kill the session (asks first)"),
    ("a", "attach to the session (detach key returns here)"),
    ("r", "refresh everything"),
    ("/", "filter by name (Esc clears)"),
    ("?", "this help"),
    ("q", "quit"),
];

fn draw_help(f: &mut Frame, area: Rect) {
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!("{k:>8}  "),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    let at = centered(area, 64, HELP.len() as u16 + 2);
    f.render_widget(Clear, at);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" keys (any key closes) "),
        ),
        at,
    );
}

fn draw_new(f: &mut Frame, fields: &[String; 4], focus: usize, area: Rect) {
    let lines: Vec<Line> = NEW_FIELDS
        .iter()
        .zip(fields)
        .enumerate()
        .map(|(i, (name, value))| {
            let style = if i == focus {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            Line::from(vec![
                Span::raw(format!("{name:>9}: ")),
                Span::styled(format!("{value} "), style),
            ])
        })
        .collect();
    let at = centered(area, 60, 6);
    f.render_widget(Clear, at);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" new session (Tab: next field, Enter: create, Esc: cancel) "),
        ),
        at,
    );
}
