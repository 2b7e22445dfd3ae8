//! The envelope every message travels in: `{v, id, ts_ms, from, kind, body, sig?}`.
//!
//! The body is itself MessagePack, kept as bytes inside the envelope. That way a
//! reader can look at `v` and `kind` before committing to a body type, an
//! undecodable body is a typed error (dead-lettered by the bus, never a crash),
//! and a signature can cover the exact body bytes.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use uuid::Uuid;

use crate::{limits, ProtoError};

/// The wire protocol version this build writes and reads.
pub const PROTOCOL_VERSION: u16 = 1;

/// A body type that can travel in an envelope; `KIND` names it on the wire.
pub trait Message: Serialize + DeserializeOwned {
    /// The `kind` string written into the envelope for this body type.
    const KIND: &'static str;
}

/// One message on the bus, as stored in a Redis stream entry or list element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Protocol version ([`PROTOCOL_VERSION`]).
    pub v: u16,
    /// Unique id (UUID v7, so ids sort by creation time).
    pub id: Uuid,
    /// Sender's wall clock at creation, milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// Who sent it: a computer name, or `cli@host` / `gateway@host`.
    pub from: String,
    /// Body type, see [`Message::KIND`].
    pub kind: String,
    /// MessagePack-encoded body.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// Authenticator over the envelope (set when `mesh.key` is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<serde_bytes::ByteBuf>,
}

/// Milliseconds since the Unix epoch by this machine's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Envelope {
    /// Wraps `body` in a fresh envelope from `from`.
    pub fn seal<M: Message>(from: &str, body: &M) -> Result<Envelope, ProtoError> {
        let body = rmp_serde::to_vec_named(body).map_err(|e| ProtoError::BadBody {
            kind: M::KIND.to_string(),
            reason: e.to_string(),
        })?;
        limits::check(
            "message body",
            body.len(),
            limits::MAX_ENVELOPE_BYTES - 1024,
        )?;
        Ok(Envelope {
            v: PROTOCOL_VERSION,
            id: Uuid::now_v7(),
            ts_ms: now_ms(),
            from: from.to_string(),
            kind: M::KIND.to_string(),
            body,
            sig: None,
        })
    }

    /// Decodes the body as `M`, checking that the kind matches.
    pub fn open<M: Message>(&self) -> Result<M, ProtoError> {
        if self.kind != M::KIND {
            return Err(ProtoError::UnexpectedKind {
                got: self.kind.clone(),
                expected: M::KIND,
            });
        }
        rmp_serde::from_slice(&self.body).map_err(|e| ProtoError::BadBody {
            kind: self.kind.clone(),
            reason: e.to_string(),
        })
    }

    /// Encodes the envelope to MessagePack bytes.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain structs of strings and bytes into a Vec cannot fail.
        rmp_serde::to_vec_named(self).expect("envelope encodes")
    }

    /// Decodes envelope bytes, refusing oversized input and unknown versions.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, ProtoError> {
        limits::check("envelope", bytes.len(), limits::MAX_ENVELOPE_BYTES)?;
        let env: Envelope =
            rmp_serde::from_slice(bytes).map_err(|e| ProtoError::Malformed(e.to_string()))?;
        if env.v != PROTOCOL_VERSION {
            return Err(ProtoError::UnsupportedVersion {
                got: env.v,
                supported: PROTOCOL_VERSION,
            });
        }
        Ok(env)
    }

    /// The bytes a signature covers: everything but `sig`, in a fixed order.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 64);
        out.extend_from_slice(&self.v.to_be_bytes());
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(&self.ts_ms.to_be_bytes());
        for part in [self.from.as_bytes(), self.kind.as_bytes(), &self.body] {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MeshEvent, Op, Request};

    #[test]
    fn round_trip() {
        let req = Request {
            to: None,
            reply_to: "telemux:reply:x".into(),
            deadline_ms: 42,
            op: Op::SendText {
                session: "api".into(),
                text: "echo hi".into(),
                enter: true,
            },
        };
        let env = Envelope::seal("MozBook", &req).unwrap();
        let back = Envelope::decode(&env.encode()).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.open::<Request>().unwrap(), req);
        assert_eq!(back.id.get_version_num(), 7);
    }

    #[test]
    fn garbage_is_malformed() {
        for junk in [&b"hello"[..], &[0xc1], &[], &[0x93, 0x01]] {
            match Envelope::decode(junk) {
                Err(ProtoError::Malformed(_)) => {}
                other => panic!("{junk:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_version_is_refused() {
        let mut env = Envelope::seal(
            "a",
            &MeshEvent::ComputerOnline {
                computer: "a".into(),
            },
        )
        .unwrap();
        env.v = 99;
        assert_eq!(
            Envelope::decode(&env.encode()),
            Err(ProtoError::UnsupportedVersion {
                got: 99,
                supported: 1
            })
        );
    }

    #[test]
    fn oversized_is_refused() {
        let big = vec![0u8; limits::MAX_ENVELOPE_BYTES + 1];
        assert!(matches!(
            Envelope::decode(&big),
            Err(ProtoError::TooLarge { .. })
        ));
        let text = "x".repeat(limits::MAX_ENVELOPE_BYTES);
        let req = Request {
            to: None,
            reply_to: String::new(),
            deadline_ms: 0,
            op: Op::SendText {
                session: "s".into(),
                text,
                enter: false,
            },
        };
        assert!(matches!(
            Envelope::seal("a", &req),
            Err(ProtoError::TooLarge { .. })
        ));
    }

    #[test]
    fn wrong_kind_and_bad_body_are_typed() {
        let env = Envelope::seal(
            "a",
            &MeshEvent::ComputerOnline {
                computer: "a".into(),
            },
        )
        .unwrap();
        assert!(matches!(
            env.open::<Request>(),
            Err(ProtoError::UnexpectedKind { .. })
        ));
        let mut env2 = env.clone();
        env2.body = vec![0xc1, 0x00];
        assert!(matches!(
            env2.open::<MeshEvent>(),
            Err(ProtoError::BadBody { .. })
        ));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        // A newer sender may add fields; an older reader must still decode.
        #[derive(serde::Serialize)]
        struct Newer<'a> {
            v: u16,
            id: Uuid,
            ts_ms: u64,
            from: &'a str,
            kind: &'a str,
            #[serde(with = "serde_bytes")]
            body: Vec<u8>,
            extra: u32,
        }
        let body = rmp_serde::to_vec_named(&MeshEvent::ComputerOnline {
            computer: "a".into(),
        })
        .unwrap();
        let bytes = rmp_serde::to_vec_named(&Newer {
            v: 1,
            id: Uuid::now_v7(),
            ts_ms: 1,
            from: "a",
            kind: MeshEvent::KIND,
            body,
            extra: 7,
        })
        .unwrap();
        let env = Envelope::decode(&bytes).unwrap();
        assert!(matches!(
            env.open::<MeshEvent>(),
            Ok(MeshEvent::ComputerOnline { .. })
        ));
    }
}
