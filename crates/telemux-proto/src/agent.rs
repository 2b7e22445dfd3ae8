//! What a node knows about an AI coding agent's turn, beyond its state: the
//! question it asks (with the prompt's own choices), the answer it gave, the
//! tools it ran and the tokens it used. Carried in [`crate::OutputEvent`]
//! records, [`crate::ReplyBody::Turn`] and [`crate::SessionInfo`].

use serde::{Deserialize, Serialize};

/// A question an agent shows and waits on (a permission prompt, a choice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPrompt {
    /// Identifies this prompt among others of the same session: a hash of
    /// its question and choices. An answer naming an older id is refused as
    /// stale instead of pressing keys into whatever is on screen now.
    pub id: String,
    /// The question, as the agent words it (`Do you want to proceed?`).
    pub question: String,
    /// The tool the question is about (`Bash`, `Shell`, `exec_command`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The command or input the tool would run (`touch hi.txt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The prompt's own numbered choices, in screen order.
    pub choices: Vec<PromptChoice>,
}

/// One numbered choice of an [`AgentPrompt`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptChoice {
    /// Its number on screen (`1` for `1. Yes`).
    pub number: u32,
    /// Its label, without number and key hints (`Yes, proceed`).
    pub label: String,
}

/// An answer that names none, or several, of a prompt's choices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// No choice has that number or label.
    #[error("no choice {given}; the prompt offers: {offered}")]
    NoSuch {
        /// The answer as given (quoted when a label).
        given: String,
        /// The choices, `1. Yes; 2. No`.
        offered: String,
    },
    /// A label start shared by several choices.
    #[error("{given:?} matches several choices ({matches}); give the number")]
    Ambiguous {
        /// The answer as given.
        given: String,
        /// The choices it matches.
        matches: String,
    },
}

fn listed<'a>(choices: impl IntoIterator<Item = &'a PromptChoice>) -> String {
    choices
        .into_iter()
        .map(|c| format!("{}. {}", c.number, c.label))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AgentPrompt {
    /// The choice `answer` names: its number (`2`), or a label, compared
    /// case-insensitively, exactly first and then as a unique prefix.
    pub fn choose(&self, answer: &str) -> Result<&PromptChoice, ChoiceError> {
        let a = answer.trim();
        if let Ok(n) = a.parse::<u32>() {
            return self.choices.iter().find(|c| c.number == n).ok_or_else(|| {
                ChoiceError::NoSuch {
                    given: n.to_string(),
                    offered: listed(&self.choices),
                }
            });
        }
        let lower = a.to_lowercase();
        if let Some(c) = self
            .choices
            .iter()
            .find(|c| c.label.to_lowercase() == lower)
        {
            return Ok(c);
        }
        let prefixed: Vec<&PromptChoice> = self
            .choices
            .iter()
            .filter(|c| !lower.is_empty() && c.label.to_lowercase().starts_with(&lower))
            .collect();
        match prefixed.as_slice() {
            [one] => Ok(one),
            [] => Err(ChoiceError::NoSuch {
                given: format!("{a:?}"),
                offered: listed(&self.choices),
            }),
            _ => Err(ChoiceError::Ambiguous {
                given: a.to_string(),
                matches: listed(prefixed.iter().copied()),
            }),
        }
    }
}

/// Tokens a turn used, as the agent's transcript reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input (prompt) tokens, summed over the turn's model calls.
    pub input_tokens: u64,
    /// Output tokens, summed over the turn's model calls.
    pub output_tokens: u64,
}

/// A tool the agent ran during a turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Tool name as the agent calls it (`Bash`, `exec_command`, `run_shell_command`).
    pub name: String,
    /// What it ran (the command line), when the tool has one.
    #[serde(default)]
    pub input: String,
    /// How it ended: `exit 0`, `rejected`, `error`, or empty when unknown.
    #[serde(default)]
    pub outcome: String,
}

impl std::fmt::Display for ToolCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.name, self.input)?;
        if !self.outcome.is_empty() {
            write!(f, " → {}", self.outcome)?;
        }
        Ok(())
    }
}

/// An agent's last turn: what `read --last-turn` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// The model's answer text, nothing else (no banner, echo, bullets, footers).
    pub text: String,
    /// Tools run during the turn, in order.
    #[serde(default)]
    pub tools: Vec<ToolCall>,
    /// Tokens used, when the transcript says.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Where the answer was read: `transcript` or `screen`.
    #[serde(default)]
    pub source: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt() -> AgentPrompt {
        let c = |n, l: &str| PromptChoice {
            number: n,
            label: l.into(),
        };
        AgentPrompt {
            id: "x".into(),
            question: "Do you want to proceed?".into(),
            tool: None,
            command: None,
            choices: vec![
                c(1, "Yes"),
                c(2, "Yes, and always allow access to proj/ from this project"),
                c(3, "No"),
            ],
        }
    }

    #[test]
    fn choices_are_found_by_number_label_and_unique_prefix() {
        let p = prompt();
        assert_eq!(p.choose("3").unwrap().label, "No");
        assert_eq!(p.choose("yes").unwrap().number, 1);
        assert_eq!(p.choose("yes, and").unwrap().number, 2);
        assert_eq!(p.choose(" no ").unwrap().number, 3);
        let e = p.choose("4").unwrap_err().to_string();
        assert!(e.contains("no choice 4") && e.contains("3. No"), "{e}");
        assert!(p.choose("Y").unwrap_err().to_string().contains("several"));
        assert!(p
            .choose("maybe")
            .unwrap_err()
            .to_string()
            .contains("1. Yes"));
    }
}
