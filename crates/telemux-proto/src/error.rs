//! Typed errors for decoding, validation and limits.

use thiserror::Error;

/// Everything that can be wrong with bytes or names handed to this crate.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProtoError {
    /// The bytes are not a MessagePack envelope at all.
    #[error("not a telemux envelope: {0}")]
    Malformed(String),
    /// The envelope is from a protocol version this build does not speak.
    #[error("unsupported protocol version {got} (this build speaks {supported})")]
    UnsupportedVersion { got: u16, supported: u16 },
    /// The envelope kind does not match the body type the reader expected.
    #[error("unexpected message kind '{got}' (expected '{expected}')")]
    UnexpectedKind { got: String, expected: &'static str },
    /// The body did not decode as the type named by its kind.
    #[error("body of kind '{kind}' does not decode: {reason}")]
    BadBody { kind: String, reason: String },
    /// Something exceeds a limit in [`crate::limits`].
    #[error("{what} is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    /// A computer or session name breaks the naming rule.
    #[error("invalid {what} name '{name}': {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: String,
    },
    /// A key name for `send_keys` is not one we know.
    #[error("unknown key '{}'{}; allowed: {allowed}", crate::names::shown(.0), crate::input::unknown_key_hint(.0), allowed = crate::input::ALLOWED_KEYS_HELP)]
    UnknownKey(String),
}
