//! Tests of [`super`].

use super::*;
use tokio::time::Instant;

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
fn claude_settings_register_the_turn_and_permission_hooks() {
    let s = hooks::claude_settings(std::path::Path::new("/state"));
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    for ev in [
        "UserPromptSubmit",
        "PermissionRequest",
        "Stop",
        "SessionEnd",
    ] {
        let cmd = v["hooks"][ev][0]["hooks"][0]["command"].as_str().unwrap();
        assert!(cmd.contains("@telemux_agent_signal"), "{ev}: {cmd}");
        assert!(cmd.contains("'/state/agents/hooks'"), "{ev}: {cmd}");
    }
}

/// A real screen captured from the program (../shared/agents-offline/screens).
fn real(text: &str) -> Vec<String> {
    rows(text)
}

#[test]
fn claude_2_1_332_real_screens() {
    let p = profile("claude");
    let ready = real("           Claude Code v2.1.332\n           Opus 5.5 · API Usage Billing\n\n────────\n❯ \n────────\n  ⏸ manual mode on · ? for shortcuts · ← for agents");
    assert_eq!(p.classify(&ready).unwrap().0, AgentState::Idle);
    let working = real("❯ Say hello\n\n✻ Crunching…\n────────\n❯ \n────────\n  ⏸ manual mode on · esc to interrupt · ← for agents");
    assert_eq!(p.classify(&working).unwrap().0, AgentState::Working);
    let asking = real("● I will run a command.\n Bash command\n\n   touch hi.txt && echo hi\n\n Do you want to proceed?\n ❯ 1. Yes\n   2. Yes, and always allow access to proj/ from this project\n   3. No\n\n Esc to cancel · Tab to amend");
    assert_eq!(p.classify(&asking).unwrap().0, AgentState::WaitingForInput);
    let pr = p.prompt(&asking, None, None).unwrap();
    assert_eq!(pr.prompt.question, "Do you want to proceed?");
    assert_eq!(pr.prompt.choices.len(), 3);
    let answered = " ▐▛███▛█   Claude Code v2.1.332\n▝▜██████▀  Opus 5.5 · API Usage Billing\n\n❯ Say hello\n\n● Hello from the fake model!\n\n✻ Baked for 3s · done 7:54 AM\n                                ◐ medium · /effort\n────────\n❯ \n────────\n  ⏸ manual mode on · ? for shortcuts · ← for agents\n";
    assert_eq!(p.last_turn(answered), "Hello from the fake model!");
}

#[test]
fn codex_0_171_real_screens() {
    let p = profile("codex");
    let working = real("› Say hello\n\n• Working (0s • esc to interrupt)\n\n› Ask Codex to do anything\n\n  ← for agents · ? for shortcuts");
    assert_eq!(p.classify(&working).unwrap().0, AgentState::Working);
    let asking = real("• I will run a command.\n  Would you like to run the following command?\n  Environment: local\n  $ touch hi.txt && echo hi\n› 1. Yes, proceed (y)\n  2. Yes, and don't ask again for commands that start with `touch hi.txt` (p)\n  3. No, and tell Codex what to do differently (esc)\n  Press enter to confirm or esc to cancel");
    assert_eq!(p.classify(&asking).unwrap().0, AgentState::WaitingForInput);
    let pr = p.prompt(&asking, None, None).unwrap();
    assert_eq!(pr.prompt.choices[0].label, "Yes, proceed");
    let idle = "› Say hello\n\n• Hello from the fake model!\n\n  Worked for 3s • 07:54\n\n› Ask Codex to do anything\n\n  ? for shortcuts\n";
    assert_eq!(p.classify(&real(idle)).unwrap().0, AgentState::Idle);
    assert_eq!(p.last_turn(idle), "Hello from the fake model!");
}

#[test]
fn gemini_0_61_real_screens() {
    let p = profile("gemini");
    let asking = real("✦ I will run a command.\n╭────────╮\n│ ? Shell  touch hi.txt && echo hi      │\n│ Allow execution of [Shell]?            │\n│                                        │\n│ ● 1. Allow once                        │\n│   2. Allow for this session            │\n│   3. No, suggest changes (esc)         │\n╰────────╯");
    assert_eq!(p.classify(&asking).unwrap().0, AgentState::WaitingForInput);
    let pr = p.prompt(&asking, None, None).unwrap();
    assert_eq!(pr.prompt.choices[2].label, "No, suggest changes");
    let idle = "▄▄▄▄▄▄▄▄\n > Say hello\n▀▀▀▀▀▀▀▀\n✦ Hello from the fake model!\n\n Shift+Tab to accept edits\n >   Type your message or @path/to/file\n workspace (/directory)     sandbox     /model\n";
    assert_eq!(p.classify(&real(idle)).unwrap().0, AgentState::Idle);
    assert_eq!(p.last_turn(idle), "Hello from the fake model!");
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
        hooks: Some("cursor".into()),
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
