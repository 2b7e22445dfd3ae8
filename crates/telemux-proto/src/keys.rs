//! Every Redis key and stream name telemux uses, in one place.
//!
//! Names in keys are case-folded ([`ComputerName::key`]), so `MozBook` and
//! `mozbook` are the same computer. See docs/protocol.md for what each holds.

use crate::{ComputerName, SessionName};

/// Prefix of every key, so a shared Redis stays tidy.
pub const PREFIX: &str = "telemux";

/// Liveness key of one computer: `SET .. PX 3*heartbeat`, value a `ComputerInfo`.
pub fn alive(c: &ComputerName) -> String {
    format!("{PREFIX}:alive:{}", c.key())
}

/// Marker that computer `c`'s run started at `started_ms` was announced
/// offline after its heartbeats stopped (`SET NX`), so of all the nodes
/// that notice, one publishes `computer_offline`.
pub fn offline_noticed(c: &ComputerName, started_ms: u64) -> String {
    format!("{PREFIX}:gone:{}:{started_ms}", c.key())
}

/// Hash of every computer ever seen: field = case-folded name, value = last `ComputerInfo`.
pub fn computers() -> String {
    format!("{PREFIX}:computers")
}

/// Command stream of one computer, read by its node through [`COMMAND_GROUP`].
pub fn commands(c: &ComputerName) -> String {
    format!("{PREFIX}:cmd:{}", c.key())
}

/// Consumer group on every command stream.
pub const COMMAND_GROUP: &str = "node";

/// Marker that a command id was taken for execution (at-most-once across restarts).
pub fn command_taken(id: &uuid::Uuid) -> String {
    format!("{PREFIX}:taken:{id}")
}

/// Reply stream of one requester process (a CLI run, a gateway).
pub fn replies(requester: &uuid::Uuid) -> String {
    format!("{PREFIX}:reply:{requester}")
}

/// Global event stream: presence and session lifecycle (`MeshEvent`).
pub fn events() -> String {
    format!("{PREFIX}:events")
}

/// Presence stream: every heartbeat's `ComputerInfo`, so watchers (the TUI)
/// learn that a computer is alive without polling, and that it died when
/// its beats stop.
pub fn presence() -> String {
    format!("{PREFIX}:presence")
}

/// Mailbox of one computer: hash, field = message id, value = its
/// [`crate::Delivery`] (MessagePack). Written by that computer's node only.
pub fn mailbox(c: &ComputerName) -> String {
    format!("{PREFIX}:mailbox:{}", c.key())
}

/// Output stream of one session: `OutputRecord`s in sequence order.
pub fn output(c: &ComputerName, s: &SessionName) -> String {
    format!("{PREFIX}:out:{}:{}", c.key(), s.key())
}

/// `SCAN MATCH` pattern of every output stream of computer `c` (`clean`).
pub fn output_pattern(c: &ComputerName) -> String {
    format!("{PREFIX}:out:{}:*", c.key())
}

/// The session part (case-folded) of one of `c`'s output stream keys.
pub fn output_session<'a>(c: &ComputerName, key: &'a str) -> Option<&'a str> {
    key.strip_prefix(&format!("{PREFIX}:out:{}:", c.key()))
}

/// Hash per computer: session → last shell exit record number already published.
pub fn exits_seen(c: &ComputerName) -> String {
    format!("{PREFIX}:exits:{}", c.key())
}

/// Stream of entries that could not be decoded or were refused, kept for inspection.
pub fn dead_letters() -> String {
    format!("{PREFIX}:deadletter")
}

/// Telegram poller lease: `SET NX PX`, value = the holder's id; one gateway polls at a time.
pub fn tg_lease() -> String {
    format!("{PREFIX}:tg:lease")
}

/// Next Telegram `getUpdates` offset (last handled `update_id` + 1).
pub fn tg_offset() -> String {
    format!("{PREFIX}:tg:offset")
}

/// Hash: case-folded `computer/session` → forum topic (`message_thread_id`).
pub fn tg_topics() -> String {
    format!("{PREFIX}:tg:topics")
}

/// Hash: forum topic (`message_thread_id`) → `computer/session` as displayed.
pub fn tg_threads() -> String {
    format!("{PREFIX}:tg:threads")
}

/// Hash: case-folded `computer/session` → live-message state (JSON, owned by the gateway).
pub fn tg_live() -> String {
    format!("{PREFIX}:tg:live")
}

/// Field name inside every stream entry that holds the envelope bytes.
pub const FIELD: &str = "e";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_folded() {
        let a = ComputerName::new("MozBook").unwrap();
        let b = ComputerName::new("mozbook").unwrap();
        assert_eq!(commands(&a), commands(&b));
        assert_eq!(
            output(&a, &SessionName::new("Api").unwrap()),
            "telemux:out:mozbook:api"
        );
    }
}
