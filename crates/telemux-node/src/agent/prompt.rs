//! A question on an agent's screen, read as data: the question line, the
//! tool and command it is about, and the prompt's own numbered choices
//! (`❯ 1. Yes`, `2. Yes, and always allow …`, `3. No`), plus the keys that
//! select one of them.
//!
//! All three agents draw a vertical list with a marker on the selected
//! choice (`❯`, `›`, `●`) that moves with the arrow keys and is confirmed
//! with Enter, so one way of choosing works for all of them.

use regex::Regex;
use std::sync::OnceLock;
use telemux_proto::{AgentPrompt, PromptChoice};

/// A prompt on screen, with which choice the marker is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenPrompt {
    /// The prompt as published.
    pub prompt: AgentPrompt,
    /// Position (0-based, in `prompt.choices`) of the marked choice.
    pub selected: usize,
}

fn choice_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^[\s│┃]*(?P<mark>[❯›●>▶▸]\s*)?(?P<n>\d{1,2})\.\s+(?P<label>.+?)[\s│┃]*$")
            .expect("choice pattern compiles")
    })
}

fn hint_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\s*\((?:[a-z]|esc|tab|enter|shift\+tab)\)$").expect("hint pattern compiles")
    })
}

/// Whether `line` is a numbered choice (`❯ 1. Yes`).
pub fn is_choice(line: &str) -> bool {
    choice_re().is_match(line)
}

/// Strips box edges and blanks around a screen line.
fn unbox(line: &str) -> &str {
    line.trim().trim_matches(['│', '┃']).trim()
}

/// Reads the prompt whose question is on row `question_row` of `rows`.
/// `tool` and `command`, when the agent's hook told them, are used as is;
/// otherwise they are looked for on screen. `None` when no numbered choices
/// follow the question.
pub fn read(
    rows: &[String],
    question_row: usize,
    tool: Option<String>,
    command: Option<String>,
) -> Option<ScreenPrompt> {
    let mut choices = Vec::new();
    let mut selected = 0;
    let mut first = None;
    for (i, row) in rows.iter().enumerate().skip(question_row + 1).take(16) {
        match choice_re().captures(row) {
            Some(c) => {
                let n: u32 = c["n"].parse().ok()?;
                // Numbers count up from 1; a list restarting is not this one.
                if n as usize != choices.len() + 1 {
                    break;
                }
                if c.name("mark").is_some() {
                    selected = choices.len();
                }
                let label = c["label"].split(" · ").next().unwrap_or("").trim();
                let label = hint_re().replace(label, "").trim().to_string();
                choices.push(PromptChoice { number: n, label });
                first.get_or_insert(i);
            }
            // Codex shows the command and its reason between question and list.
            None if first.is_none() => continue,
            None => break,
        }
    }
    if choices.is_empty() {
        return None;
    }
    let question = unbox(&rows[question_row])
        .trim_start_matches('?')
        .trim()
        .to_string();
    // The id comes from what is on screen only, so the watcher (which knows
    // the hook's tool) and an answer (reading the screen) agree on it.
    let (screen_tool, screen_command) =
        on_screen(rows, question_row, first.unwrap_or(question_row));
    let id = fingerprint(&question, screen_command.as_deref(), &choices);
    let tool = tool.or(screen_tool);
    let command = command.or(screen_command);
    Some(ScreenPrompt {
        prompt: AgentPrompt {
            id,
            question,
            tool,
            command,
            choices,
        },
        selected,
    })
}

/// Tool and command as the agents draw them above the question: Claude's
/// `Bash command` header with the command below it, Codex's `$ command`,
/// Gemini's `? Shell  command` box title; looked for from a few rows above
/// the question down to the first choice.
fn on_screen(
    rows: &[String],
    question_row: usize,
    first_choice: usize,
) -> (Option<String>, Option<String>) {
    let above = &rows[question_row.saturating_sub(12)..first_choice.max(question_row)];
    for (i, row) in above.iter().enumerate().rev() {
        let t = unbox(row);
        if let Some(cmd) = t.strip_prefix("$ ") {
            return (Some("Shell".into()), Some(cmd.trim().to_string()));
        }
        if let Some(rest) = t.strip_prefix("? ") {
            let mut parts = rest.trim().splitn(2, char::is_whitespace);
            let tool = parts.next().map(str::to_string);
            let cmd = parts.next().map(|c| c.trim().to_string());
            return (tool, cmd);
        }
        if let Some(tool) = t.strip_suffix(" command") {
            if !tool.contains(' ') && !tool.is_empty() {
                // Newer Claude Code frames the command with ╌ rules below
                // a description; older ones print it right under the header.
                let rest: Vec<&str> = above[i + 1..].iter().map(|r| unbox(r)).collect();
                let framed = rest
                    .iter()
                    .position(|r| !r.is_empty() && r.chars().all(|c| c == '╌'))
                    .map(|p| &rest[p + 1..]);
                let cmd = framed
                    .unwrap_or(&rest)
                    .iter()
                    .find(|r| !r.is_empty() && !r.starts_with("Tip:"));
                return (Some(tool.to_string()), cmd.map(|c| c.to_string()));
            }
        }
    }
    (None, None)
}

/// A short stable id of a prompt: FNV-1a over what the user sees.
fn fingerprint(question: &str, command: Option<&str>, choices: &[PromptChoice]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    let mut eat = |s: &str| {
        for b in s.bytes().chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    };
    eat(question);
    eat(command.unwrap_or(""));
    for c in choices {
        eat(&c.label);
    }
    format!("{:012x}", h & 0xffff_ffff_ffff)
}

/// The keys that move the marker from the selected choice to position
/// `target` (0-based) and confirm it.
pub fn keys_for(selected: usize, target: usize) -> Vec<String> {
    let (key, n) = if target >= selected {
        ("Down", target - selected)
    } else {
        ("Up", selected - target)
    };
    let mut keys = vec![key.to_string(); n];
    keys.push("Enter".into());
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    fn labels(p: &ScreenPrompt) -> Vec<String> {
        p.prompt
            .choices
            .iter()
            .map(|c| format!("{}. {}", c.number, c.label))
            .collect()
    }

    #[test]
    fn claude_prompt_from_its_real_screen() {
        let s = rows(
            " Bash command\n\n   touch hi.txt && echo hi\n   Run the test command\n\n Do you want to proceed?\n ❯ 1. Yes\n   2. Yes, and always allow access to proj/ from this project\n   3. Yes, and switch to auto mode · auto mode handles these prompts for you\n   4. No\n\n Esc to cancel · Tab to amend",
        );
        let p = read(&s, 5, None, None).unwrap();
        assert_eq!(p.prompt.question, "Do you want to proceed?");
        assert_eq!(p.prompt.tool.as_deref(), Some("Bash"));
        assert_eq!(p.prompt.command.as_deref(), Some("touch hi.txt && echo hi"));
        assert_eq!(
            labels(&p),
            [
                "1. Yes",
                "2. Yes, and always allow access to proj/ from this project",
                "3. Yes, and switch to auto mode",
                "4. No"
            ]
        );
        assert_eq!(p.selected, 0);
        let newer = rows(" Bash command\n Tip: auto mode\n Run the test command\n╌╌╌╌\n touch a\n╌╌╌╌\n Do you want to proceed?\n ❯ 1. Yes\n   2. No");
        let p = read(&newer, 6, None, None).unwrap();
        assert_eq!(p.prompt.command.as_deref(), Some("touch a"));
    }

    #[test]
    fn codex_prompt_drops_key_hints() {
        let s = rows("  Would you like to run the following command?\n  Environment: local\n  $ touch hi.txt\n› 1. Yes, proceed (y)\n  2. Yes, and don't ask again for commands that start with `touch hi.txt` (p)\n  3. No, and tell Codex what to do differently (esc)\n  Press enter to confirm or esc to cancel");
        let p = read(&s, 0, None, None).unwrap();
        assert_eq!(labels(&p)[0], "1. Yes, proceed");
        assert_eq!(
            labels(&p)[2],
            "3. No, and tell Codex what to do differently"
        );
        assert_eq!(p.prompt.command.as_deref(), Some("touch hi.txt"));
    }

    #[test]
    fn gemini_prompt_inside_its_box() {
        let s = rows("│ ? Shell  touch hi.txt && echo hi                     │\n│ Allow execution of [Shell]?                          │\n│                                                      │\n│ ● 1. Allow once                                      │\n│   2. Allow for this session                          │\n│   3. No, suggest changes (esc)                       │\n╰──────────────────────────────────────────────────────╯");
        let p = read(&s, 1, None, None).unwrap();
        assert_eq!(p.prompt.question, "Allow execution of [Shell]?");
        assert_eq!(p.prompt.tool.as_deref(), Some("Shell"));
        assert_eq!(p.prompt.command.as_deref(), Some("touch hi.txt && echo hi"));
        assert_eq!(
            labels(&p),
            [
                "1. Allow once",
                "2. Allow for this session",
                "3. No, suggest changes"
            ]
        );
    }

    #[test]
    fn ids_differ_between_prompts_and_keys_move_the_marker() {
        let a = read(
            &rows("Do you want to proceed?\n❯ 1. Yes\n  2. No"),
            0,
            None,
            None,
        )
        .unwrap();
        let b = read(
            &rows("Do you want to proceed?\n  1. Yes\n❯ 2. Nope"),
            0,
            None,
            None,
        )
        .unwrap();
        assert_ne!(a.prompt.id, b.prompt.id);
        assert_eq!(b.selected, 1);
        assert_eq!(keys_for(0, 2), ["Down", "Down", "Enter"]);
        assert_eq!(keys_for(1, 0), ["Up", "Enter"]);
        assert!(read(&rows("Do you want to proceed?\nnothing"), 0, None, None).is_none());
    }
}
