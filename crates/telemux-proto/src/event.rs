//! Mesh-wide events ([`MeshEvent`]) on the global event stream, their type
//! names, and the filter a reader applies to them ([`EventFilter`]).
//!
//! Nodes publish; the TUI, the Telegram gateway, `telemux events` and MCP's
//! `wait_for_event` follow with a cursor (the stream id). Time and sender of
//! an event are those of its [`crate::Envelope`]; the caller that caused it,
//! where there is one, is the `by` field (the requester's envelope `from`).

use serde::{Deserialize, Serialize};

use crate::{AgentState, Message};

/// Mesh-wide presence, session lifecycle, agent and input events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeshEvent {
    /// A node started or came back.
    ComputerOnline { computer: String },
    /// A node went offline: it stopped (`reason` "stopped"), or its
    /// heartbeats stopped and another node noticed (a crash, a lost network).
    ComputerOffline {
        computer: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// A session appeared (created or adopted).
    SessionCreated {
        computer: String,
        session: String,
        /// Who asked for it; empty for a session adopted from tmux.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        by: String,
    },
    /// A session's process exited.
    SessionExited {
        computer: String,
        session: String,
        exit_status: i32,
    },
    /// A session is gone from tmux.
    SessionClosed { computer: String, session: String },
    /// A session was renamed; `session` is its new name, `renamed_from`
    /// the old (not `from`: every event's JSON has the publisher there).
    /// Its output stream, inbox and Telegram topic follow it.
    SessionRenamed {
        computer: String,
        session: String,
        renamed_from: String,
        by: String,
    },
    /// `clean` removed an ended session or its leftover output.
    SessionCleaned {
        computer: String,
        session: String,
        by: String,
    },
    /// A session was killed on request (its `session_closed` follows).
    SessionKilled {
        computer: String,
        session: String,
        by: String,
    },
    /// An agent session changed state (the detail is on the session's stream).
    AgentState {
        computer: String,
        session: String,
        state: AgentState,
        since_ms: u64,
    },
    /// A command typed into a session's shell finished.
    CommandFinished {
        computer: String,
        session: String,
        exit_code: i32,
    },
    /// Text or keys were typed into a session. The text itself is not in
    /// the event (the stream is readable by every reader of the mesh).
    InputWritten {
        computer: String,
        session: String,
        by: String,
        /// Characters of text typed (0 for keys only).
        chars: u32,
        /// Named keys pressed, in order (`Enter` when the text was submitted).
        keys: Vec<String>,
    },
    /// An agent took the input typed into it: it started working after it.
    InputAccepted { computer: String, session: String },
    /// A message was queued for a session ([`crate::mailbox`]).
    DeliveryQueued {
        computer: String,
        session: String,
        message_id: String,
        by: String,
    },
    /// A queued message was typed and the target took it.
    DeliveryDelivered {
        computer: String,
        session: String,
        message_id: String,
        attempt: u32,
    },
    /// A typed message was not taken; it is tried again later.
    DeliveryRetrying {
        computer: String,
        session: String,
        message_id: String,
        attempt: u32,
        reason: String,
    },
    /// A message's time-to-live ran out before it was delivered.
    DeliveryExpired {
        computer: String,
        session: String,
        message_id: String,
    },
    /// A message was given up on (never accepted, or its session is gone).
    DeliveryDeadLettered {
        computer: String,
        session: String,
        message_id: String,
        reason: String,
    },
    /// The turn (or command) a message with `notify` started has finished.
    MessageAnswered {
        computer: String,
        session: String,
        message_id: String,
        /// The agent's last answer (at most 4000 characters), or the shell
        /// command's exit code as text.
        answer: String,
        /// For a shell target: the command's exit code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// The sender's session that gets the answer queued (the letter's `reply_to`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
}

impl Message for MeshEvent {
    const KIND: &'static str = "mesh_event";
}

/// Every event type name, as `telemux events --type` and MCP take them.
pub const EVENT_TYPES: &[&str] = &[
    "computer_online",
    "computer_offline",
    "session_created",
    "session_exited",
    "session_closed",
    "session_killed",
    "session_renamed",
    "session_cleaned",
    "agent_state",
    "command_finished",
    "input_written",
    "input_accepted",
    "delivery_queued",
    "delivery_delivered",
    "delivery_retrying",
    "delivery_expired",
    "delivery_dead_lettered",
    "message_answered",
];

impl MeshEvent {
    /// The event's type name (one of [`EVENT_TYPES`]).
    pub fn type_name(&self) -> &'static str {
        match self {
            MeshEvent::ComputerOnline { .. } => "computer_online",
            MeshEvent::ComputerOffline { .. } => "computer_offline",
            MeshEvent::SessionCreated { .. } => "session_created",
            MeshEvent::SessionExited { .. } => "session_exited",
            MeshEvent::SessionClosed { .. } => "session_closed",
            MeshEvent::SessionKilled { .. } => "session_killed",
            MeshEvent::SessionRenamed { .. } => "session_renamed",
            MeshEvent::SessionCleaned { .. } => "session_cleaned",
            MeshEvent::AgentState { .. } => "agent_state",
            MeshEvent::CommandFinished { .. } => "command_finished",
            MeshEvent::InputWritten { .. } => "input_written",
            MeshEvent::InputAccepted { .. } => "input_accepted",
            MeshEvent::DeliveryQueued { .. } => "delivery_queued",
            MeshEvent::DeliveryDelivered { .. } => "delivery_delivered",
            MeshEvent::DeliveryRetrying { .. } => "delivery_retrying",
            MeshEvent::DeliveryExpired { .. } => "delivery_expired",
            MeshEvent::DeliveryDeadLettered { .. } => "delivery_dead_lettered",
            MeshEvent::MessageAnswered { .. } => "message_answered",
        }
    }

    /// The computer the event is about.
    pub fn computer(&self) -> &str {
        match self {
            MeshEvent::ComputerOnline { computer }
            | MeshEvent::ComputerOffline { computer, .. }
            | MeshEvent::SessionCreated { computer, .. }
            | MeshEvent::SessionExited { computer, .. }
            | MeshEvent::SessionClosed { computer, .. }
            | MeshEvent::SessionKilled { computer, .. }
            | MeshEvent::SessionRenamed { computer, .. }
            | MeshEvent::SessionCleaned { computer, .. }
            | MeshEvent::AgentState { computer, .. }
            | MeshEvent::CommandFinished { computer, .. }
            | MeshEvent::InputWritten { computer, .. }
            | MeshEvent::InputAccepted { computer, .. }
            | MeshEvent::DeliveryQueued { computer, .. }
            | MeshEvent::DeliveryDelivered { computer, .. }
            | MeshEvent::DeliveryRetrying { computer, .. }
            | MeshEvent::DeliveryExpired { computer, .. }
            | MeshEvent::DeliveryDeadLettered { computer, .. }
            | MeshEvent::MessageAnswered { computer, .. } => computer,
        }
    }

    /// The session the event is about; `None` for presence events.
    pub fn session(&self) -> Option<&str> {
        match self {
            MeshEvent::ComputerOnline { .. } | MeshEvent::ComputerOffline { .. } => None,
            MeshEvent::SessionCreated { session, .. }
            | MeshEvent::SessionExited { session, .. }
            | MeshEvent::SessionClosed { session, .. }
            | MeshEvent::SessionKilled { session, .. }
            | MeshEvent::SessionRenamed { session, .. }
            | MeshEvent::SessionCleaned { session, .. }
            | MeshEvent::AgentState { session, .. }
            | MeshEvent::CommandFinished { session, .. }
            | MeshEvent::InputWritten { session, .. }
            | MeshEvent::InputAccepted { session, .. }
            | MeshEvent::DeliveryQueued { session, .. }
            | MeshEvent::DeliveryDelivered { session, .. }
            | MeshEvent::DeliveryRetrying { session, .. }
            | MeshEvent::DeliveryExpired { session, .. }
            | MeshEvent::DeliveryDeadLettered { session, .. }
            | MeshEvent::MessageAnswered { session, .. } => Some(session),
        }
    }
}

/// A bad `--type` (or MCP `types`) entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {given:?}{}; event types are: {}", hint(.nearest), EVENT_TYPES.join(", "))]
pub struct UnknownEventType {
    /// What was given.
    pub given: String,
    /// The nearest valid names.
    pub nearest: Vec<String>,
}

fn hint(nearest: &[String]) -> String {
    if nearest.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", nearest.join(" or "))
    }
}

/// Which events a reader wants: every part that is set must match.
/// Names compare case-insensitively, as session and computer names do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    types: Vec<&'static str>,
    computer: Option<String>,
    session: Option<String>,
}

impl EventFilter {
    /// A filter on type names (empty: all types), computer and session.
    pub fn new<S: AsRef<str>>(
        types: &[S],
        computer: Option<&str>,
        session: Option<&str>,
    ) -> Result<EventFilter, UnknownEventType> {
        let mut known = Vec::new();
        for t in types {
            let t = t.as_ref().trim();
            if t.is_empty() {
                continue;
            }
            match EVENT_TYPES.iter().find(|k| k.eq_ignore_ascii_case(t)) {
                Some(k) => known.push(*k),
                None => {
                    return Err(UnknownEventType {
                        given: t.to_string(),
                        nearest: crate::names::suggest(t, EVENT_TYPES.iter().copied()),
                    })
                }
            }
        }
        Ok(EventFilter {
            types: known,
            computer: computer.map(str::to_string),
            session: session.map(str::to_string),
        })
    }

    /// Whether `ev` passes.
    pub fn matches(&self, ev: &MeshEvent) -> bool {
        if !self.types.is_empty() && !self.types.contains(&ev.type_name()) {
            return false;
        }
        if let Some(c) = &self.computer {
            if !ev.computer().eq_ignore_ascii_case(c) {
                return false;
            }
        }
        if let Some(s) = &self.session {
            match ev.session() {
                Some(es) if es.eq_ignore_ascii_case(s) => {}
                _ => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn killed(c: &str, s: &str) -> MeshEvent {
        MeshEvent::SessionKilled {
            computer: c.into(),
            session: s.into(),
            by: "cli@h".into(),
        }
    }

    #[test]
    fn every_type_has_a_name_in_the_list() {
        let evs = [
            MeshEvent::ComputerOnline {
                computer: "a".into(),
            },
            killed("a", "b"),
            MeshEvent::InputAccepted {
                computer: "a".into(),
                session: "b".into(),
            },
        ];
        for ev in evs {
            assert!(EVENT_TYPES.contains(&ev.type_name()));
            let json = serde_json::to_value(&ev).unwrap();
            assert!(json.get(ev.type_name()).is_some(), "{json}");
        }
    }

    #[test]
    fn filter_matches_type_computer_and_session() {
        let f = EventFilter::new(&["session_killed"], Some("raspi"), Some("API")).unwrap();
        assert!(f.matches(&killed("RasPi", "api")));
        assert!(!f.matches(&killed("MozBook", "api")));
        assert!(!f.matches(&killed("RasPi", "web")));
        let online = MeshEvent::ComputerOnline {
            computer: "RasPi".into(),
        };
        assert!(!f.matches(&online));
        assert!(EventFilter::new::<&str>(&[], None, None)
            .unwrap()
            .matches(&online));
    }

    #[test]
    fn unknown_types_name_the_nearest() {
        let e = EventFilter::new(&["sesion_killed"], None, None).unwrap_err();
        assert!(e.nearest.contains(&"session_killed".to_string()), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("did you mean") && text.contains("input_written"),
            "{text}"
        );
    }

    #[test]
    fn old_session_created_without_by_still_decodes() {
        #[derive(Serialize)]
        #[serde(rename_all = "snake_case")]
        enum Old {
            SessionCreated { computer: String, session: String },
        }
        let bytes = rmp_serde::to_vec_named(&Old::SessionCreated {
            computer: "a".into(),
            session: "b".into(),
        })
        .unwrap();
        let ev: MeshEvent = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(ev.session(), Some("b"));
    }
}
