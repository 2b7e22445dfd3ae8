//! Tests of [`super`].

use super::*;

fn profile(name: &str) -> AgentProfile {
    let spec = builtin_specs().remove(name).unwrap();
    AgentProfile::compile(name, spec).unwrap()
}

fn rows(s: &str) -> Vec<String> {
    s.lines().map(str::to_string).collect()
}

#[test]
fn builtins_compile() {
    for (name, spec) in builtin_specs() {
        let p = AgentProfile::compile(&name, spec).unwrap();
        assert!(!p.command.is_empty(), "{name}");
    }
}

#[test]
fn claude_settings_are_json_with_the_three_hooks() {
    let v: serde_json::Value = serde_json::from_str(&claude_settings()).unwrap();
    for ev in ["UserPromptSubmit", "Stop", "Notification"] {
        let cmd = v["hooks"][ev][0]["hooks"][0]["command"].as_str().unwrap();
        assert!(cmd.contains("@telemux_agent_signal"), "{ev}: {cmd}");
    }
}

#[test]
fn waiting_beats_working_beats_idle() {
    let p = profile("claude");
    let box_ = "╭────╮\n│ >  │\n╰────╯\n? for shortcuts";
    assert_eq!(p.classify(&rows(box_)).unwrap().0, AgentState::Idle);
    let busy = format!("✻ Working… (esc to interrupt)\n{box_}");
    assert_eq!(p.classify(&rows(&busy)).unwrap().0, AgentState::Working);
    let ask = "Do you want to proceed?\n❯ 1. Yes\n  2. No";
    assert_eq!(
        p.classify(&rows(ask)).unwrap(),
        (
            AgentState::WaitingForInput,
            "Do you want to proceed?".to_string()
        )
    );
    assert_eq!(
        p.classify(&rows("│ >      │")).unwrap().1,
        "│ > │",
        "details are squeezed"
    );
    assert_eq!(p.classify(&rows("loading...")), None);
}

#[test]
fn idle_must_settle_but_working_is_immediate() {
    let p = profile("claude");
    let mut t = Tracker::new(AgentState::Starting);
    let now = Instant::now();
    let busy = rows("esc to interrupt");
    assert_eq!(
        t.observe(&p, &busy, now).0.map(|c| c.0),
        Some(AgentState::Working)
    );
    let idle = rows("│ > │");
    let (change, again) = t.observe(&p, &idle, now);
    assert_eq!(change, None);
    let again = again.expect("look again later");
    assert_eq!(
        t.observe(&p, &idle, now + Duration::from_millis(10)).0,
        None
    );
    assert_eq!(
        t.observe(&p, &idle, again).0.map(|c| c.0),
        Some(AgentState::Idle)
    );
    assert_eq!(t.signal(AgentState::Idle), None);
    assert_eq!(t.signal(AgentState::Working), Some(AgentState::Working));
}

#[test]
fn last_turn_drops_chrome_and_bullets() {
    let p = profile("claude");
    let screen = "> old question\n⏺ old answer\n> what is 2+2?\n⏺ It is 4.\n  Anything else?\n\n╭──────╮\n│ >    │\n╰──────╯\n? for shortcuts\n";
    assert_eq!(p.last_turn(screen), "It is 4.\nAnything else?");
}

#[test]
fn bad_profiles_name_the_field() {
    let spec = AgentSpec {
        command: strings(&["x"]),
        idle: strings(&["("]),
        ..AgentSpec::default()
    };
    let e = AgentProfile::compile("mine", spec).unwrap_err().to_string();
    assert!(e.contains("agents.mine.idle"), "{e}");
    let e = AgentProfile::compile("mine", AgentSpec::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("agents.mine.command"), "{e}");
    let spec = AgentSpec {
        command: strings(&["x"]),
        idle: strings(&["x"]),
        hooks: Some("codex".into()),
        ..AgentSpec::default()
    };
    let e = AgentProfile::compile("mine", spec).unwrap_err().to_string();
    assert!(e.contains("allowed"), "{e}");
}

#[test]
fn signals_parse() {
    assert_eq!(
        parse_signal("waiting 12"),
        Some((AgentState::WaitingForInput, Some(12)))
    );
    assert_eq!(parse_signal("idle"), Some((AgentState::Idle, None)));
    assert_eq!(parse_signal("bogus 1"), None);
}
