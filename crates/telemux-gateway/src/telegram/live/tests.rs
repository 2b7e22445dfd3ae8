//! Unit tests of [`super::Live`]: turns, limits, coalescing, frames, agent
//! status lines and restoring after a restart.

use super::*;
use crate::telegram::html::visible_len;

fn lines(n: usize, from: usize) -> OutputEvent {
    OutputEvent::Lines {
        lines: (from..from + n).map(|i| format!("line {i} <&>")).collect(),
        partial: String::new(),
        raw: Vec::new(),
    }
}

/// Delivers everything as a perfect Telegram would, returning the calls made.
fn drain(l: &mut Live, next_msg: &mut i32) -> Vec<Action> {
    let mut out = Vec::new();
    while let Some(a) = l.next_action() {
        let id = match a.message_id {
            Some(_) => None,
            None => {
                *next_msg += 1;
                Some(*next_msg)
            }
        };
        l.delivered(&a, id);
        out.push(a);
    }
    out
}

#[test]
fn one_message_per_command_with_footer() {
    let mut l = Live::new(true);
    l.apply(&lines(2, 0));
    let mut n = 0;
    let calls = drain(&mut l, &mut n);
    assert_eq!(calls.len(), 1);
    assert!(calls[0].rendered.text.contains("line 0 &lt;&amp;&gt;"));
    assert!(calls[0].rendered.buttons);
    l.apply(&OutputEvent::CommandFinished {
        exit_code: 3,
        started_ms: 1000,
        finished_ms: 2500,
    });
    let calls = drain(&mut l, &mut n);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].message_id, Some(1));
    assert!(
        calls[0].rendered.text.ends_with("❌ 3 · 1.5 s"),
        "{}",
        calls[0].rendered.text
    );
    // The prompt alone does not open a message.
    l.apply(&OutputEvent::Lines {
        lines: vec![],
        partial: "$ ".into(),
        raw: vec![],
    });
    assert!(drain(&mut l, &mut n).is_empty());
    l.apply(&lines(1, 5));
    let calls = drain(&mut l, &mut n);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].message_id, None);
}

#[test]
fn ten_thousand_lines_stay_bounded_and_short() {
    let mut l = Live::new(true);
    let mut n = 0;
    let mut total = 0;
    for b in 0..100 {
        l.apply(&lines(100, b * 100));
        assert!(l.len() <= MAX_QUEUED);
        if b % 10 == 0 {
            for a in drain(&mut l, &mut n) {
                assert!(visible_len(&a.rendered.text) < 4096);
                total += 1;
            }
        }
    }
    for a in drain(&mut l, &mut n) {
        assert!(visible_len(&a.rendered.text) < 4096);
        total += 1;
    }
    assert!(n as usize <= MAX_SEGMENTS_PER_TURN, "{n} messages");
    assert!(total < 40, "{total} calls");
    let last = l.segs.back().unwrap().render(true).text;
    assert!(last.contains("line 9999"), "{last}");
    assert!(last.contains("lines not shown"));
}

#[test]
fn undelivered_output_is_coalesced() {
    let mut l = Live::new(true);
    for i in 0..100 {
        l.apply(&lines(1, i));
        l.apply(&OutputEvent::CommandFinished {
            exit_code: 0,
            started_ms: 0,
            finished_ms: 1,
        });
    }
    assert!(l.len() <= MAX_QUEUED);
    let a = l.next_action().unwrap();
    assert!(a.rendered.text.contains("skipped"), "{}", a.rendered.text);
}

#[test]
fn frames_replace_and_long_lines_split() {
    let mut l = Live::new(false);
    l.apply(&OutputEvent::Frame {
        rows: vec!["a".into(), "b".into(), "".into()],
        raw: vec![],
    });
    l.apply(&OutputEvent::Frame {
        rows: vec!["c😀".into()],
        raw: vec![],
    });
    let mut n = 0;
    let calls = drain(&mut l, &mut n);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].rendered.text, "<pre>c😀</pre>");
    l.apply(&OutputEvent::Lines {
        lines: vec!["😀".repeat(5000)],
        partial: String::new(),
        raw: vec![],
    });
    for a in drain(&mut l, &mut n) {
        assert!(visible_len(&a.rendered.text) < 4096);
    }
}

#[test]
fn agent_state_is_a_status_line_on_the_active_message() {
    let mut l = Live::new(true);
    l.apply(&OutputEvent::AgentState {
        state: AgentState::Starting,
        detail: "claude started".into(),
        prompt: None,
        source: String::new(),
    });
    let mut n = 0;
    let calls = drain(&mut l, &mut n);
    assert_eq!(calls.len(), 1);
    assert!(calls[0].rendered.text.ends_with("🤖 agent starting…"));
    l.apply(&OutputEvent::Frame {
        rows: vec!["│ > │".into()],
        raw: vec![],
    });
    l.apply(&OutputEvent::AgentState {
        state: AgentState::WaitingForInput,
        detail: "Do <you> want & proceed?".into(),
        prompt: None,
        source: String::new(),
    });
    let calls = drain(&mut l, &mut n);
    assert_eq!(calls.len(), 1, "one edit of the same message");
    assert_eq!(calls[0].message_id, Some(1));
    assert_eq!(
        calls[0].rendered.text,
        "<pre>│ &gt; │</pre>\n❓ agent waiting for you: Do &lt;you&gt; want &amp; proceed?"
    );
    // A new message carries the state on.
    l.apply(&lines(1, 0));
    let calls = drain(&mut l, &mut n);
    assert!(calls
        .last()
        .unwrap()
        .rendered
        .text
        .ends_with("❓ agent waiting for you: Do &lt;you&gt; want &amp; proceed?"));
    l.apply(&OutputEvent::AgentState {
        state: AgentState::Idle,
        detail: String::new(),
        prompt: None,
        source: String::new(),
    });
    let calls = drain(&mut l, &mut n);
    assert_eq!(calls.len(), 1);
    assert!(calls[0]
        .rendered
        .text
        .ends_with("💤 agent idle — your turn"));
    let long = "x".repeat(1000);
    assert!(
        agent_status(AgentState::WaitingForInput, &long)
            .chars()
            .count()
            < 250
    );
}

#[test]
fn restore_continues_the_same_message() {
    let mut l = Live::new(true);
    l.cursor = Some("1-0".into());
    l.apply(&lines(1, 0));
    let a = l.next_action().unwrap();
    let st = l.delivered(&a, Some(7)).unwrap();
    let json = serde_json::to_string(&st).unwrap();
    let mut r = Live::restore(true, serde_json::from_str(&json).unwrap());
    assert!(!r.dirty());
    r.apply(&lines(1, 1));
    let a = r.next_action().unwrap();
    assert_eq!(a.message_id, Some(7));
    assert!(a.rendered.text.contains("line 0") && a.rendered.text.contains("line 1"));
}
