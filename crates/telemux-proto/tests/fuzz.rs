//! Property tests ("fuzzing light", issue 6): the decoders and parsers that
//! see bytes from Redis or text from users must never panic, and whatever
//! they accept must be safe to hand to tmux. Runs in CI with proptest's
//! default case count (256 per property, a few seconds); raise it with
//! `PROPTEST_CASES=100000 cargo test -p telemux-proto --test fuzz` for a
//! longer run.

use proptest::prelude::*;
use telemux_proto::{
    ComputerName, Envelope, Key, MeshEvent, MeshKey, Message, OutputRecord, Reply, Request,
    SessionAddr, SessionName,
};

/// Characters tmux or a shell would read as syntax.
const TARGET_SYNTAX: &[char] = &[':', '.', ';', ' ', '\n', '$', '`', '\'', '"', '#', '{', '}'];

fn opens_every_kind(env: &Envelope) {
    // Errors are fine; panics are not.
    let _ = env.open::<Request>();
    let _ = env.open::<Reply>();
    let _ = env.open::<OutputRecord>();
    let _ = env.open::<MeshEvent>();
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(env) = Envelope::decode(&bytes) {
            opens_every_kind(&env);
        }
    }

    #[test]
    fn mutated_envelopes_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let req = Request {
            to: None,
            reply_to: "telemux:reply:x".into(),
            deadline_ms: 1,
            op: telemux_proto::Op::SendText { session: "api".into(), text: "ls -la".into(), enter: true },
        };
        let mut bytes = Envelope::seal("MozBook", &req).unwrap().encode();
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        if let Ok(env) = Envelope::decode(&bytes) {
            opens_every_kind(&env);
            // A mutated envelope never verifies under a key it was not signed with.
            let key = MeshKey::new(b"0123456789abcdef0123456789abcdef").unwrap();
            prop_assert!(key.verify(&env, env.ts_ms, 1000).is_err());
        }
    }

    #[test]
    fn accepted_names_carry_no_tmux_or_shell_syntax(s in "\\PC{0,80}") {
        // A computer name may hold '.' (host names): it is never a tmux
        // target, only a Redis key part and the first half of an address.
        let computer = ComputerName::new(&s).map(|n| (n.to_string(), '.'));
        let session = SessionName::new(&s).map(|n| (n.to_string(), '\0'));
        for (ok, allowed) in [computer, session].into_iter().flatten() {
            prop_assert!(!ok.is_empty() && ok.len() <= 64, "{ok:?}");
            prop_assert!(!ok.starts_with('-'), "{ok:?}");
            prop_assert!(!ok.contains(|c| c != allowed && TARGET_SYNTAX.contains(&c)), "{ok:?}");
            prop_assert!(ok.is_ascii(), "{ok:?}");
        }
    }

    #[test]
    fn addresses_parse_or_explain(s in "[A-Za-z0-9/:._ -]{0,40}") {
        match SessionAddr::parse(&s) {
            Ok(a) => prop_assert!(!a.session.as_str().contains('/')),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn keys_parse_only_known_names(s in "\\PC{0,24}") {
        if let Ok(k) = Key::parse(&s) {
            // Whatever is accepted is a plain tmux key name, never command syntax.
            let name = k.tmux_name();
            prop_assert!(!name.contains(TARGET_SYNTAX) && !name.starts_with('-'), "{s:?} -> {name:?}");
        }
    }
}

#[test]
fn every_message_kind_is_distinct() {
    let kinds = [
        Request::KIND,
        Reply::KIND,
        OutputRecord::KIND,
        MeshEvent::KIND,
    ];
    for (i, a) in kinds.iter().enumerate() {
        for b in &kinds[i + 1..] {
            assert_ne!(a, b);
        }
    }
}
