//! Errors of the bus: [`BusError`] for transport failures and [`RequestError`]
//! for the request/reply path, whose texts are shown to users as they are
//! (CLI, MCP tool errors, Telegram), so they name the thing and what to do.

use std::time::Duration;

use telemux_proto::{names::did_you_mean, now_ms, ProtoError};
use thiserror::Error;

/// Something went wrong talking to Redis or decoding what it holds.
#[derive(Debug, Error, Clone)]
pub enum BusError {
    /// Redis could not be reached when connecting (the URL has its password masked).
    #[error("cannot reach Redis at {url}: {cause}; check that redis-server is running and that redis.url (TELEMUX_REDIS__URL) is right")]
    Unreachable {
        /// The URL with any password replaced by `***`.
        url: String,
        /// What the connection attempt reported.
        cause: String,
    },
    /// The Redis URL is not one telemux can use; says what is wrong and which forms work.
    #[error("redis.url {url} is not usable: {problem}; use redis://HOST:PORT, rediss://HOST:PORT (TLS), redis+unix:///PATH or unix:///PATH (a local socket), each optionally with USER:PASSWORD@ and /DB")]
    BadUrl {
        /// The URL with any password replaced by `***`.
        url: String,
        /// What is wrong with it, in words.
        problem: String,
    },
    /// A TLS file cannot be used; names the setting, the file and what is wrong (never its contents).
    #[error("cannot use {setting} = {path}: {problem}")]
    TlsFile {
        /// The config key, e.g. `redis.tls_ca_file`.
        setting: &'static str,
        /// The file as configured.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The TLS settings do not fit together (e.g. a certificate without its key); the text says how.
    #[error("{0}")]
    Tls(String),
    /// The TLS handshake with Redis failed; `hint` names the setting that fixes it.
    #[error("TLS handshake with Redis at {url} failed: {cause}; {hint}")]
    TlsHandshake {
        /// The URL with any password replaced by `***`.
        url: String,
        /// What went wrong, in words, with the TLS library's own reason.
        cause: String,
        /// The likely fix.
        hint: String,
    },
    /// A Redis command failed: which operation, the kind of failure (what a
    /// caller decides on), and fred's error as the source.
    #[error("{}", redis_text(op, *kind, source))]
    Redis {
        /// What telemux was doing, e.g. `sending a request to RasPi`.
        op: String,
        /// What kind of failure it was.
        kind: RedisKind,
        /// The client library's error.
        #[source]
        source: fred::error::Error,
    },
    /// Redis answered with something telemux cannot read (the text says what).
    #[error("{0}")]
    UnexpectedReply(String),
    /// An entry in Redis does not decode as a telemux message.
    #[error(transparent)]
    Proto(#[from] ProtoError),
    /// A request asked for something the bus will not do (the text says what and why).
    #[error("{0}")]
    Refused(String),
    /// A stream cursor given by a caller is not a Redis stream id.
    #[error("invalid output cursor '{0}': expected a stream id such as 1700000000000-0 (as returned in an earlier result)")]
    BadCursor(String),
    /// An output stream holds an entry (not ours) whose id is above the
    /// record being appended; appending must continue after `newest`.
    #[error("output stream {stream} has a foreign entry {newest} above the node's ids")]
    StreamAhead {
        /// The stream key.
        stream: String,
        /// Its newest entry id.
        newest: String,
    },
}

impl BusError {
    /// Wraps a fred error with the operation it interrupted.
    pub(crate) fn redis(context: &str, e: &fred::error::Error) -> BusError {
        BusError::Redis {
            op: context.to_string(),
            kind: RedisKind::of(e),
            source: e.clone(),
        }
    }

    /// The kind of Redis failure, when this is one.
    pub fn redis_kind(&self) -> Option<RedisKind> {
        match self {
            BusError::Redis { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// What kind of failure a Redis command met: what callers decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisKind {
    /// Redis reached its `maxmemory` and evicts nothing: it refuses writes.
    OutOfMemory,
    /// Connection trouble: unreachable, timed out, loading its data set,
    /// reconnecting — worth retrying.
    Unavailable,
    /// The credentials were refused, or the ACL user may not do this.
    Auth,
    /// The stream has no such consumer group (Redis lost it, e.g. restarted).
    NoGroup,
    /// The consumer group exists already.
    GroupExists,
    /// An `XADD` id is not above the stream's newest entry.
    IdNotAbove,
    /// The key does not exist (an `XINFO` on a stream never written).
    NoSuchKey,
    /// This process's Redis client has been shut down.
    ClientClosed,
    /// Any other refusal.
    Other,
}

impl RedisKind {
    /// Classifies a fred error. A Redis error reply starts with a code word
    /// (`OOM`, `NOGROUP`, `LOADING`, …), which is what this reads; the
    /// sub-kinds Redis only reports as `ERR <sentence>` and fred's own
    /// shutdown error have no code, so this one place reads their text.
    pub fn of(e: &fred::error::Error) -> RedisKind {
        use fred::error::ErrorKind;
        match e.kind() {
            ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled | ErrorKind::Routing => {
                return RedisKind::Unavailable
            }
            ErrorKind::Auth => return RedisKind::Auth,
            _ => {}
        }
        let details = e.details();
        match details.split_whitespace().next().unwrap_or("") {
            "OOM" => RedisKind::OutOfMemory,
            "LOADING" | "BUSY" | "MASTERDOWN" | "TRYAGAIN" => RedisKind::Unavailable,
            "NOAUTH" | "WRONGPASS" | "NOPERM" => RedisKind::Auth,
            "NOGROUP" => RedisKind::NoGroup,
            "BUSYGROUP" => RedisKind::GroupExists,
            "ERR" if details.contains("equal or smaller than the target stream top item") => {
                RedisKind::IdNotAbove
            }
            "ERR" if details.contains("no such key") => RedisKind::NoSuchKey,
            "Failed" if details.starts_with("Failed to send command to router") => {
                RedisKind::ClientClosed
            }
            _ => RedisKind::Other,
        }
    }
}

/// The sentence users read for a failed Redis command.
fn redis_text(op: &str, kind: RedisKind, e: &fred::error::Error) -> String {
    match kind {
        RedisKind::OutOfMemory => format!(
            "Redis is out of memory (its maxmemory is reached and it evicts nothing), so it refused {op}; free memory in Redis or raise its maxmemory"
        ),
        RedisKind::Unavailable => format!(
            "Redis error while {op}: {}; Redis seems unreachable or slow (telemux keeps reconnecting by itself)",
            describe(e)
        ),
        _ => format!("Redis error while {op}: {}", describe(e)),
    }
}

/// A fred error in plain words (fred's own text embeds Rust debug output for I/O errors).
pub(crate) fn describe(e: &fred::error::Error) -> String {
    use fred::error::ErrorKind;
    let details = e.details();
    // std::io::Error's Debug form: `Os { .., message: "…" }` or `Custom { kind: …, error: "…" }`.
    let plain = match details
        .split_once("message: \"")
        .or_else(|| details.split_once("error: \""))
    {
        Some((_, rest)) => rest.split('"').next().unwrap_or(details),
        None => details,
    };
    match e.kind() {
        ErrorKind::IO => format!("connection failed: {plain}"),
        ErrorKind::Timeout => "timed out".to_string(),
        _ => plain.to_string(),
    }
}

/// Whether a fred error is about the connection (worth retrying) rather than the command.
pub(crate) fn is_transient(e: &fred::error::Error) -> bool {
    RedisKind::of(e) == RedisKind::Unavailable
}

/// Why a request to a node did not produce a reply.
#[derive(Debug, Error, Clone)]
pub enum RequestError {
    /// The computer is registered but its liveness key has expired or was removed.
    #[error("{computer} is offline{}", last_seen(*.last_seen_ms))]
    Offline {
        /// Display name of the computer.
        computer: String,
        /// When it last sent a heartbeat (ms since epoch), if known.
        last_seen_ms: Option<u64>,
    },
    /// No computer of that name has ever registered.
    #[error("no computer '{name}'{}", unknown_hint(suggestions))]
    UnknownComputer {
        /// The name as the user typed it.
        name: String,
        /// Known names closest to it, best first.
        suggestions: Vec<String>,
    },
    /// The node did not answer before the deadline.
    #[error("{computer} did not answer within {}; it may be busy or just gone offline (try again, or check `telemux computers`)", human_duration(*.after))]
    Timeout {
        /// Display name of the computer.
        computer: String,
        /// How long we waited.
        after: Duration,
    },
    /// Redis failed while sending the request or checking the registry.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The request could not be encoded (for example it is too large).
    #[error(transparent)]
    Proto(#[from] ProtoError),
    /// The requester was shut down while the request was waiting.
    #[error("the request was abandoned because this process is shutting down")]
    Closed,
}

fn last_seen(ms: Option<u64>) -> String {
    match ms {
        Some(ms) => {
            let ago = Duration::from_millis(now_ms().saturating_sub(ms));
            format!(" (last seen {} ago)", human_duration(ago))
        }
        None => String::new(),
    }
}

fn unknown_hint(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        "; run `telemux computers` to see the known ones".to_string()
    } else {
        did_you_mean(suggestions)
    }
}

/// Short human form of a duration: `42 s`, `5 min`, `3 h`, `2 days`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if s < 120 {
        format!("{s} s")
    } else if s < 2 * 3600 {
        format!("{} min", s / 60)
    } else if s < 2 * 86400 {
        format!("{} h", s / 3600)
    } else {
        format!("{} days", s / 86400)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_read_well() {
        let e = RequestError::Offline {
            computer: "RasPi".into(),
            last_seen_ms: Some(now_ms() - 42_000),
        };
        assert_eq!(e.to_string(), "RasPi is offline (last seen 42 s ago)");
        let e = RequestError::UnknownComputer {
            name: "mousebook".into(),
            suggestions: vec!["MozBook".into()],
        };
        assert_eq!(
            e.to_string(),
            "no computer 'mousebook'; did you mean MozBook?"
        );
        assert_eq!(human_duration(Duration::from_secs(300)), "5 min");
    }
}
