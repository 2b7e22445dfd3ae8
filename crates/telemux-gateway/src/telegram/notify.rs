//! [`Notifier`] turns an agent's state changes into *new* messages in its
//! topic — not edits — so the phone buzzes when the agent asks something or
//! has finished its turn. The live message's status line (see
//! [`super::live`]) shows every state; notifications are only for the two
//! moments that need the user. Pure, so the rules are unit-tested.
//!
//! A question's message carries the prompt's own choices as buttons (see
//! [`super::buttons::answer_keyboard`]); a finished turn's message quotes the
//! agent's answer, read from its transcript after the record ([`finished_html`]).

use std::time::{Duration, Instant};

use telemux_proto::{AgentPrompt, AgentState, Turn, Usage};

use super::html::{escape, utf16_len};

/// Records older than this (by their node's clock) never notify: a watcher
/// catching up on a backlog must not buzz about questions long answered.
const STALE_MS: u64 = 10 * 60 * 1000;
/// The same notification is not repeated within this time (a flapping screen).
const REPEAT: Duration = Duration::from_secs(30);
/// Most of an answer quoted in a finished-turn message (UTF-16 units; the
/// message's limit is 4096).
const MAX_ANSWER: usize = 3000;
/// Tools listed in a finished-turn message at most.
const MAX_TOOLS: usize = 5;

/// A notification to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The agent asks something: this HTML, with `prompt`'s choices as
    /// buttons when the question could be read.
    Question {
        /// The message.
        html: String,
        /// The question and its choices.
        prompt: Option<AgentPrompt>,
    },
    /// The agent finished its turn: post [`finished_html`] once its answer is read.
    Finished,
}

/// Decides which agent state changes of one session become notifications.
#[derive(Debug, Default)]
pub struct Notifier {
    prev: Option<AgentState>,
    last: Option<(String, Instant)>,
}

impl Notifier {
    /// A notifier that knows nothing about the session's past.
    pub fn new() -> Notifier {
        Notifier::default()
    }

    /// The notification for an `agent_state` record of `addr`, if any.
    /// `prompt` is the record's question; `ts_ms` is the record's time,
    /// `now_ms` ours (clocks may differ by seconds, not by the staleness limit).
    #[allow(clippy::too_many_arguments)]
    pub fn on_record(
        &mut self,
        addr: &str,
        state: AgentState,
        detail: &str,
        prompt: Option<&AgentPrompt>,
        ts_ms: u64,
        now_ms: u64,
        now: Instant,
    ) -> Option<Notice> {
        let prev = self.prev.replace(state);
        if now_ms.saturating_sub(ts_ms) > STALE_MS {
            return None;
        }
        let notice = match state {
            AgentState::WaitingForInput => Notice::Question {
                html: question_html(addr, detail, prompt),
                prompt: prompt.filter(|p| !p.choices.is_empty()).cloned(),
            },
            AgentState::Idle
                if matches!(
                    prev,
                    Some(AgentState::Working | AgentState::WaitingForInput)
                ) =>
            {
                Notice::Finished
            }
            _ => return None,
        };
        let key = match &notice {
            Notice::Question { html, prompt } => {
                format!("q|{html}|{}", prompt.as_ref().map_or("", |p| &p.id))
            }
            Notice::Finished => "finished".to_string(),
        };
        if let Some((last, at)) = &self.last {
            if *last == key && now.duration_since(*at) < REPEAT {
                return None;
            }
        }
        self.last = Some((key, now));
        Some(notice)
    }
}

/// The message of a question: what it asks (the prompt's question, else
/// the record's detail), about which tool and command, and how to answer.
pub fn question_html(addr: &str, detail: &str, prompt: Option<&AgentPrompt>) -> String {
    let question = prompt.map_or(detail, |p| p.question.as_str()).trim();
    let quote = if question.is_empty() {
        String::new()
    } else {
        format!("\n<blockquote>{}</blockquote>", escape(question))
    };
    let what = prompt.and_then(|p| match (&p.tool, &p.command) {
        (Some(t), Some(c)) => Some(format!("{t}: {c}")),
        (Some(t), None) => Some(t.clone()),
        (None, Some(c)) => Some(c.clone()),
        (None, None) => None,
    });
    let what = what.map_or(String::new(), |w| {
        format!("\n<code>{}</code>", escape(&cut(&w, 300)))
    });
    let how = if prompt.is_some_and(|p| !p.choices.is_empty()) {
        "Tap a choice below, or type your answer here."
    } else {
        "Answer here: what you type goes to it; the buttons press keys."
    };
    format!(
        "❓ <b>{}</b> — the agent is waiting for you:{quote}{what}\n{how}",
        escape(addr)
    )
}

/// `· 120 in / 20 out tokens`, or nothing without usage.
pub fn usage_note(usage: Option<Usage>) -> String {
    usage.map_or(String::new(), |u| {
        format!(" · {} in / {} out tokens", u.input_tokens, u.output_tokens)
    })
}

/// The message of a finished turn: the answer quoted (exactly as the agent
/// gave it, cut when long), the tools it ran and the tokens it used.
/// `turn` is `None` when it could not be read.
pub fn finished_html(addr: &str, turn: Option<&Turn>) -> String {
    let usage = usage_note(turn.and_then(|t| t.usage));
    let mut html = format!(
        "✅ <b>{}</b> — the agent finished its turn{usage}.",
        escape(addr)
    );
    let Some(turn) = turn else { return html };
    for t in turn.tools.iter().take(MAX_TOOLS) {
        html.push_str(&format!(
            "\n🔧 <code>{}</code>",
            escape(&cut(&t.to_string(), 200))
        ));
    }
    if turn.tools.len() > MAX_TOOLS {
        html.push_str(&format!("\n🔧 … and {} more", turn.tools.len() - MAX_TOOLS));
    }
    let text = turn.text.trim();
    if !text.is_empty() {
        let shown = cut(text, MAX_ANSWER);
        let more = if shown.len() < text.len() {
            format!(
                "\n(cut; the whole answer: <code>telemux read {} --last-turn</code>)",
                escape(addr)
            )
        } else {
            String::new()
        };
        html.push_str(&format!(
            "\n<blockquote expandable>{}</blockquote>{more}",
            escape(&shown)
        ));
    }
    html
}

/// `s` cut to `max` UTF-16 units, with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if utf16_len(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        used += c.len_utf16();
        if used >= max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifies_questions_and_finished_turns_only() {
        let mut n = Notifier::new();
        let t = Instant::now();
        let now = 1_000_000_000;
        let mut on = |s, d: &str, at: Instant| {
            n.on_record("Moz/c1", s, d, None, now, now, at)
                .map(|notice| match notice {
                    Notice::Question { html, .. } => html,
                    Notice::Finished => "finished its turn".into(),
                })
        };
        assert_eq!(on(AgentState::Starting, "claude started", t), None);
        assert_eq!(on(AgentState::Idle, "│ > │", t), None, "ready is no news");
        assert_eq!(on(AgentState::Working, "", t), None);
        let q = on(AgentState::WaitingForInput, "Do <you> want & go?", t).unwrap();
        assert!(
            q.contains("<blockquote>Do &lt;you&gt; want &amp; go?</blockquote>"),
            "{q}"
        );
        assert!(q.contains("<b>Moz/c1</b>"), "{q}");
        // The same question again right away (a flapping screen) stays quiet...
        assert_eq!(on(AgentState::Working, "", t), None);
        assert_eq!(
            on(AgentState::WaitingForInput, "Do <you> want & go?", t),
            None
        );
        // ...but not after a while.
        assert_eq!(on(AgentState::Working, "", t), None);
        assert!(on(
            AgentState::WaitingForInput,
            "Do <you> want & go?",
            t + REPEAT
        )
        .is_some());
        assert_eq!(on(AgentState::Working, "", t), None);
        let done = on(AgentState::Idle, "", t).unwrap();
        assert!(done.contains("finished its turn"), "{done}");
        // A new turn may ask the same question again: that is news.
        assert!(on(AgentState::WaitingForInput, "Do <you> want & go?", t).is_some());
    }

    #[test]
    fn stale_records_do_not_notify() {
        let mut n = Notifier::new();
        let now = 1_000_000_000;
        let old = now - STALE_MS - 1;
        assert_eq!(
            n.on_record(
                "a/b",
                AgentState::WaitingForInput,
                "?",
                None,
                old,
                now,
                Instant::now()
            ),
            None
        );
    }

    fn prompt(id: &str) -> AgentPrompt {
        AgentPrompt {
            id: id.into(),
            question: "Do you want to <proceed>?".into(),
            tool: Some("Bash".into()),
            command: Some("touch hi.txt".into()),
            choices: vec![telemux_proto::PromptChoice {
                number: 1,
                label: "Yes".into(),
            }],
        }
    }

    #[test]
    fn a_question_carries_its_prompt_and_a_new_prompt_is_news() {
        let mut n = Notifier::new();
        let (t, now) = (Instant::now(), 1_000_000_000);
        let p = prompt("aaa");
        let q = n.on_record(
            "Moz/c1",
            AgentState::WaitingForInput,
            "d",
            Some(&p),
            now,
            now,
            t,
        );
        let Some(Notice::Question { html, prompt: got }) = q else {
            panic!("{q:?}")
        };
        assert_eq!(got.as_ref(), Some(&p));
        assert!(
            html.contains("<blockquote>Do you want to &lt;proceed&gt;?</blockquote>"),
            "{html}"
        );
        assert!(html.contains("<code>Bash: touch hi.txt</code>"), "{html}");
        assert!(html.contains("Tap a choice below"), "{html}");
        // Another question with the same words but other choices is news.
        n.on_record("Moz/c1", AgentState::Working, "", None, now, now, t);
        let p2 = prompt("bbb");
        assert!(n
            .on_record(
                "Moz/c1",
                AgentState::WaitingForInput,
                "d",
                Some(&p2),
                now,
                now,
                t
            )
            .is_some());
        // A question without choices gets no buttons.
        let bare = question_html("Moz/c1", "Proceed?", None);
        assert!(
            bare.contains("<blockquote>Proceed?</blockquote>") && bare.contains("type goes to it"),
            "{bare}"
        );
    }

    #[test]
    fn a_finished_turn_quotes_the_answer_tools_and_tokens() {
        use telemux_proto::ToolCall;
        let turn = Turn {
            text: "Created <hi.txt>.".into(),
            tools: vec![ToolCall {
                name: "Bash".into(),
                input: "touch hi.txt".into(),
                outcome: "exit 0".into(),
            }],
            usage: Some(Usage {
                input_tokens: 120,
                output_tokens: 20,
            }),
            source: "transcript".into(),
        };
        let h = finished_html("Moz/c1", Some(&turn));
        assert!(
            h.starts_with(
                "✅ <b>Moz/c1</b> — the agent finished its turn · 120 in / 20 out tokens."
            ),
            "{h}"
        );
        assert!(
            h.contains("🔧 <code>Bash(touch hi.txt) → exit 0</code>"),
            "{h}"
        );
        assert!(
            h.contains("<blockquote expandable>Created &lt;hi.txt&gt;.</blockquote>"),
            "{h}"
        );
        assert_eq!(
            finished_html("Moz/c1", None),
            "✅ <b>Moz/c1</b> — the agent finished its turn."
        );
        let long = Turn {
            text: "é".repeat(5000),
            ..Turn::default()
        };
        let h = finished_html("a/b", Some(&long));
        assert!(
            utf16_len(&h) < 3400 && h.contains("…") && h.contains("cut;"),
            "{}",
            h.len()
        );
    }
}
