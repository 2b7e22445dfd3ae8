//! What each key does in each mode of the dashboard (pure: a key and the
//! state in, the state changed and an [`Action`] for the loop out).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use telemux_proto::AgentState;

use super::model::Model;

/// The fields of the new-session form, in order.
pub const NEW_FIELDS: [&str; 4] = ["computer", "name", "dir", "agent"];

/// What the keyboard is doing now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Moving around.
    #[default]
    Normal,
    /// Typing a line into the selected session (Enter sends, Esc leaves).
    Input(String),
    /// Typing key names for the selected session (`C-c Enter`).
    Keys(String),
    /// Typing the filter.
    Filter,
    /// The new-session form: field values and the focused field.
    New([String; 4], usize),
    /// Asking to confirm killing this session.
    Kill(String),
    /// The help screen.
    Help,
}

/// What the loop should do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing beyond redrawing.
    None,
    /// Leave the dashboard.
    Quit,
    /// Type `text` and Enter into `addr`.
    Send { addr: String, text: String },
    /// Press named keys in `addr`.
    Keys { addr: String, keys: Vec<String> },
    /// Start a session.
    New {
        target: String,
        dir: Option<String>,
        agent: Option<String>,
    },
    /// Kill `addr`.
    Kill(String),
    /// Answer the question the agent in `addr` waits on with choice `choice`.
    Answer {
        addr: String,
        choice: String,
        prompt_id: Option<String>,
    },
    /// Attach to `addr` (the dashboard steps aside meanwhile).
    Attach(String),
    /// Read everything again.
    Refresh,
}

/// Typing on a line: a character is added, Backspace takes the last away.
fn edit(text: &mut String, key: KeyCode) {
    match key {
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char(c) => text.push(c),
        _ => {}
    }
}

/// Handles one key.
pub fn on_key(model: &mut Model, mode: &mut Mode, key: KeyEvent) -> Action {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        if *mode == Mode::Normal {
            return Action::Quit;
        }
        *mode = Mode::Normal;
        return Action::None;
    }
    match mode {
        Mode::Normal => normal(model, mode, key),
        Mode::Help => {
            *mode = Mode::Normal;
            Action::None
        }
        Mode::Filter => {
            match key.code {
                KeyCode::Esc => {
                    model.filter.clear();
                    *mode = Mode::Normal;
                }
                KeyCode::Enter => *mode = Mode::Normal,
                other => edit(&mut model.filter, other),
            }
            model.move_sel(0);
            Action::None
        }
        Mode::Input(text) => match key.code {
            KeyCode::Esc => {
                *mode = Mode::Normal;
                Action::None
            }
            KeyCode::Enter => match model.selected_addr() {
                Some(addr) => Action::Send {
                    addr,
                    text: std::mem::take(text),
                },
                None => {
                    *mode = Mode::Normal;
                    Action::None
                }
            },
            other => {
                edit(text, other);
                Action::None
            }
        },
        Mode::Keys(text) => match key.code {
            KeyCode::Esc => {
                *mode = Mode::Normal;
                Action::None
            }
            KeyCode::Enter => {
                let keys: Vec<String> = text.split_whitespace().map(String::from).collect();
                let addr = model.selected_addr();
                *mode = Mode::Normal;
                match addr {
                    Some(addr) if !keys.is_empty() => Action::Keys { addr, keys },
                    _ => Action::None,
                }
            }
            other => {
                edit(text, other);
                Action::None
            }
        },
        Mode::New(fields, focus) => match key.code {
            KeyCode::Esc => {
                *mode = Mode::Normal;
                Action::None
            }
            KeyCode::Tab | KeyCode::Down => {
                *focus = (*focus + 1) % NEW_FIELDS.len();
                Action::None
            }
            KeyCode::BackTab | KeyCode::Up => {
                *focus = (*focus + NEW_FIELDS.len() - 1) % NEW_FIELDS.len();
                Action::None
            }
            KeyCode::Backspace | KeyCode::Char(_) => {
                edit(&mut fields[*focus], key.code);
                Action::None
            }
            KeyCode::Enter => {
                let [computer, name, dir, agent] =
                    std::mem::take(fields).map(|f| f.trim().to_string());
                *mode = Mode::Normal;
                let target = if name.is_empty() {
                    computer
                } else {
                    format!("{computer}/{name}")
                };
                let opt = |s: String| (!s.is_empty()).then_some(s);
                Action::New {
                    target,
                    dir: opt(dir),
                    agent: opt(agent),
                }
            }
            _ => Action::None,
        },
        Mode::Kill(addr) => {
            let addr = std::mem::take(addr);
            *mode = Mode::Normal;
            match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => Action::Kill(addr),
                _ => {
                    model.flash = Some(format!("{addr} not killed"));
                    Action::None
                }
            }
        }
    }
}

fn normal(model: &mut Model, mode: &mut Mode, key: KeyEvent) -> Action {
    let session = model.selected_addr();
    let need_session = |model: &mut Model| {
        model.flash = Some("select a session first (↑↓ or j/k)".into());
        Action::None
    };
    match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Up | KeyCode::Char('k') => {
            model.move_sel(-1);
            Action::None
        }
        KeyCode::Down | KeyCode::Char('j') => {
            model.move_sel(1);
            Action::None
        }
        KeyCode::PageUp => {
            model.move_sel(-10);
            Action::None
        }
        KeyCode::PageDown => {
            model.move_sel(10);
            Action::None
        }
        KeyCode::Char('?') => {
            *mode = Mode::Help;
            Action::None
        }
        KeyCode::Char('/') => {
            *mode = Mode::Filter;
            Action::None
        }
        KeyCode::Char('r') => Action::Refresh,
        KeyCode::Char('n') => {
            let computer = model
                .selected_computer()
                .map(|c| c.info.name.clone())
                .unwrap_or_default();
            *mode = Mode::New([computer, String::new(), String::new(), String::new()], 1);
            Action::None
        }
        KeyCode::Enter => match session {
            Some(_) => {
                *mode = Mode::Input(String::new());
                Action::None
            }
            None => need_session(model),
        },
        KeyCode::Char('K') => match session {
            Some(_) => {
                *mode = Mode::Keys(String::new());
                Action::None
            }
            None => need_session(model),
        },
        KeyCode::Char('x') => match session {
            Some(addr) => {
                *mode = Mode::Kill(addr);
                Action::None
            }
            None => need_session(model),
        },
        KeyCode::Char('a') => match session {
            Some(addr) => Action::Attach(addr),
            None => need_session(model),
        },
        KeyCode::Char(d @ '1'..='9') => {
            let Some((_, s)) = model.selected_session() else {
                return need_session(model);
            };
            if s.info.agent_state != Some(AgentState::WaitingForInput) {
                model.flash = Some(format!("{} is not waiting for an answer", s.info.name));
                return Action::None;
            }
            let prompt_id = s.info.agent_prompt.as_ref().map(|p| p.id.clone());
            Action::Answer {
                addr: session.unwrap_or_default(),
                choice: d.to_string(),
                prompt_id,
            }
        }
        _ => Action::None,
    }
}
