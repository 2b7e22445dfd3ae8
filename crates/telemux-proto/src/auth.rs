//! Signed commands: HMAC-SHA256 over the envelope with the shared `mesh.key`.
//!
//! Why HMAC and not Ed25519: every computer in a mesh both sends and executes
//! commands, so every one of them holds the secret anyway; a shared symmetric
//! key is one value to configure and rotate, and verification is a hash. See
//! docs/security.md. A signature covers version, id, timestamp, sender, kind
//! and body, so none of them can be changed; the body names the computer a
//! request is for ([`check_target`]), so a signed request cannot be redirected
//! to another computer; the timestamp bounds replays to a window, inside which
//! a receiver refuses an id it saw before. [`ReplayGuard`] does that in memory;
//! the node keeps its accepted ids on disk instead (telemux-node's
//! `replay_store`), so that a restart does not forget them.

use std::collections::HashMap;
use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;
use uuid::Uuid;

use crate::{ComputerName, Envelope};

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted key, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

/// Why a command's authenticator was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The key is too short to be a secret.
    #[error("mesh.key is {0} bytes; use at least {MIN_KEY_BYTES} random bytes (e.g. `openssl rand -hex 32`)")]
    WeakKey(usize),
    /// No signature, but this mesh requires one.
    #[error("command is not signed, and this computer requires signed commands (mesh.key)")]
    Unsigned,
    /// The signature does not match: wrong key, or the envelope was altered.
    #[error("command signature does not match this mesh's key (wrong mesh.key, or the command was altered)")]
    BadSignature,
    /// The timestamp is outside the allowed clock skew.
    #[error("command timestamp is {skew_ms} ms off this computer's clock (allowed ±{max_ms} ms); check the clocks (`telemux doctor`)")]
    Stale { skew_ms: i64, max_ms: u64 },
    /// The id was already seen inside the window.
    #[error("command {0} was already received: refused as a replay")]
    Replayed(Uuid),
    /// A signed request that does not say which computer it is for: it could
    /// be copied into any computer's command stream.
    #[error("signed command does not name the computer it is for (sent by a telemux older than this node?); refused, since it could have been redirected here")]
    NoTarget,
    /// A request signed for another computer, found in this one's stream:
    /// someone with write access to Redis copied it here.
    #[error("command was signed for computer {signed_for}, not {here}: refused (it was copied into the wrong command stream)")]
    WrongTarget {
        /// The computer named in the signed request.
        signed_for: String,
        /// This computer.
        here: String,
    },
}

/// Checks that a request is meant for computer `here` (names compare
/// case-insensitively, as everywhere). `to` is the request's
/// [`crate::Request::to`]; `required` is set when the mesh signs commands,
/// where a request without a target is refused (an unsigned mesh has no
/// boundary to protect, and senders before the field still work there).
pub fn check_target(
    to: Option<&ComputerName>,
    here: &ComputerName,
    required: bool,
) -> Result<(), AuthError> {
    match to {
        Some(to) if to.key() == here.key() => Ok(()),
        Some(to) => Err(AuthError::WrongTarget {
            signed_for: to.to_string(),
            here: here.to_string(),
        }),
        None if required => Err(AuthError::NoTarget),
        None => Ok(()),
    }
}

/// The shared secret of a mesh. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct MeshKey(Vec<u8>);

impl fmt::Debug for MeshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MeshKey(***)")
    }
}

impl MeshKey {
    /// Wraps a secret of at least [`MIN_KEY_BYTES`] bytes.
    pub fn new(secret: &[u8]) -> Result<MeshKey, AuthError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(AuthError::WeakKey(secret.len()));
        }
        Ok(MeshKey(secret.to_vec()))
    }

    fn mac(&self, env: &Envelope) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(&env.signing_bytes());
        mac
    }

    /// Sets `env.sig` to the authenticator of `env`.
    pub fn sign(&self, env: &mut Envelope) {
        let tag = self.mac(env).finalize().into_bytes();
        env.sig = Some(serde_bytes::ByteBuf::from(tag.to_vec()));
    }

    /// Checks signature and timestamp (constant-time comparison).
    pub fn verify(&self, env: &Envelope, now_ms: u64, max_skew_ms: u64) -> Result<(), AuthError> {
        let sig = env.sig.as_ref().ok_or(AuthError::Unsigned)?;
        self.mac(env)
            .verify_slice(sig)
            .map_err(|_| AuthError::BadSignature)?;
        let skew = env.ts_ms as i64 - now_ms as i64;
        if skew.unsigned_abs() > max_skew_ms {
            return Err(AuthError::Stale {
                skew_ms: skew,
                max_ms: max_skew_ms,
            });
        }
        Ok(())
    }
}

/// Remembers command ids seen within the skew window, so a captured command
/// cannot be replayed while its timestamp is still fresh. Bounded: entries
/// older than the window are dropped (they would be refused as stale anyway).
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: HashMap<Uuid, u64>,
}

impl ReplayGuard {
    /// Records `id` (sent at `ts_ms`); `Err` if it was seen already.
    pub fn check(
        &mut self,
        id: Uuid,
        ts_ms: u64,
        now_ms: u64,
        window_ms: u64,
    ) -> Result<(), AuthError> {
        if self.seen.len() > 1024 {
            let oldest = now_ms.saturating_sub(2 * window_ms);
            self.seen.retain(|_, ts| *ts >= oldest);
        }
        if self.seen.insert(id, ts_ms).is_some() {
            return Err(AuthError::Replayed(id));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{now_ms, Op, Request};

    fn env() -> Envelope {
        let req = Request {
            to: None,
            reply_to: String::new(),
            deadline_ms: 0,
            op: Op::Kill {
                session: "api".into(),
            },
        };
        Envelope::seal("cli@x", &req).unwrap()
    }

    #[test]
    fn signed_envelopes_verify_and_survive_encoding() {
        let key = MeshKey::new(b"0123456789abcdef0123").unwrap();
        let mut e = env();
        key.sign(&mut e);
        let back = Envelope::decode(&e.encode()).unwrap();
        key.verify(&back, now_ms(), 30_000).unwrap();
    }

    #[test]
    fn unsigned_wrong_key_altered_and_stale_are_refused() {
        let key = MeshKey::new(b"0123456789abcdef0123").unwrap();
        let other = MeshKey::new(b"another-secret-key-xx").unwrap();
        let e = env();
        assert_eq!(key.verify(&e, now_ms(), 30_000), Err(AuthError::Unsigned));
        let mut signed = e.clone();
        other.sign(&mut signed);
        assert_eq!(
            key.verify(&signed, now_ms(), 30_000),
            Err(AuthError::BadSignature)
        );
        let mut altered = e.clone();
        key.sign(&mut altered);
        let last = altered.body.len() - 1;
        altered.body[last] ^= 1;
        assert_eq!(
            key.verify(&altered, now_ms(), 30_000),
            Err(AuthError::BadSignature)
        );
        let mut old = e.clone();
        old.ts_ms -= 120_000;
        key.sign(&mut old);
        assert!(matches!(
            key.verify(&old, now_ms(), 30_000),
            Err(AuthError::Stale { .. })
        ));
        assert!(matches!(MeshKey::new(b"short"), Err(AuthError::WeakKey(5))));
        assert_eq!(format!("{key:?}"), "MeshKey(***)");
    }

    #[test]
    fn the_target_computer_is_checked() {
        let a = ComputerName::new("RasPi").unwrap();
        let b = ComputerName::new("MozBook").unwrap();
        let lower = ComputerName::new("raspi").unwrap();
        assert_eq!(check_target(Some(&a), &lower, true), Ok(()));
        let err = check_target(Some(&a), &b, true).unwrap_err();
        assert_eq!(
            err,
            AuthError::WrongTarget {
                signed_for: "RasPi".into(),
                here: "MozBook".into()
            }
        );
        assert!(err
            .to_string()
            .contains("signed for computer RasPi, not MozBook"));
        assert_eq!(check_target(None, &b, true), Err(AuthError::NoTarget));
        assert_eq!(check_target(None, &b, false), Ok(()));
        assert!(check_target(Some(&a), &b, false).is_err());
    }

    #[test]
    fn the_target_is_covered_by_the_signature() {
        let key = MeshKey::new(b"0123456789abcdef0123").unwrap();
        let req = Request {
            to: Some(ComputerName::new("RasPi").unwrap()),
            reply_to: String::new(),
            deadline_ms: 0,
            op: Op::Kill {
                session: "api".into(),
            },
        };
        let mut e = Envelope::seal("cli@x", &req).unwrap();
        key.sign(&mut e);
        let mut redirected = req.clone();
        redirected.to = Some(ComputerName::new("MozBook").unwrap());
        e.body = rmp_serde::to_vec_named(&redirected).unwrap();
        assert_eq!(
            key.verify(&e, now_ms(), 30_000),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn requests_from_older_senders_have_no_target() {
        // What a sender before `Request::to` wrote.
        #[derive(serde::Serialize)]
        struct Older {
            reply_to: String,
            deadline_ms: u64,
            op: Op,
        }
        let body = rmp_serde::to_vec_named(&Older {
            reply_to: String::new(),
            deadline_ms: 0,
            op: Op::ListSessions,
        })
        .unwrap();
        let req: Request = rmp_serde::from_slice(&body).unwrap();
        assert_eq!(req.to, None);
    }

    #[test]
    fn replays_are_refused() {
        let mut g = ReplayGuard::default();
        let id = Uuid::now_v7();
        let now = now_ms();
        g.check(id, now, now, 30_000).unwrap();
        assert_eq!(g.check(id, now, now, 30_000), Err(AuthError::Replayed(id)));
        g.check(Uuid::now_v7(), now, now, 30_000).unwrap();
    }
}
