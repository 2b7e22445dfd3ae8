//! Parsing of Redis stream replies (`XREAD`, `XREADGROUP`, `XRANGE`) into
//! [`RawEntry`]s, and stream-id arithmetic.
//!
//! Replies are walked by hand from fred's untyped `Value` rather than through
//! typed conversions, because a stream may hold anything another client wrote
//! (`XADD telemux:cmd:x * e garbage`, other field names, deleted entries that
//! come back as `nil`): every such entry must become a typed decode error for
//! the caller to dead-letter, never a failed read that stalls the stream.

use fred::types::Value;
use telemux_proto::{keys, Envelope, ProtoError};

use crate::BusError;

/// One stream entry as stored: its id and its field/value pairs (`None`: deleted).
#[derive(Debug, Clone)]
pub(crate) struct RawEntry {
    pub id: String,
    pub fields: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl RawEntry {
    /// The bytes of field [`keys::FIELD`], or why there are none.
    pub fn envelope_bytes(&self) -> Result<&[u8], ProtoError> {
        let fields = self.fields.as_ref().ok_or_else(|| {
            ProtoError::Malformed("the stream entry was deleted before it was read".into())
        })?;
        fields
            .iter()
            .find(|(k, _)| k == keys::FIELD.as_bytes())
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| {
                let names: Vec<String> = fields
                    .iter()
                    .take(8)
                    .map(|(k, _)| String::from_utf8_lossy(k).chars().take(32).collect())
                    .collect();
                ProtoError::Malformed(format!(
                    "stream entry has no '{}' field (fields: {})",
                    keys::FIELD,
                    names.join(", ")
                ))
            })
    }

    /// The value of field `name`, if the entry has it.
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .as_ref()?
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }

    /// Decodes the envelope held in this entry.
    pub fn decode(&self) -> Result<Envelope, ProtoError> {
        Envelope::decode(self.envelope_bytes()?)
    }

    /// The bytes worth keeping in a dead letter: the envelope field, or all fields flattened.
    pub fn raw(&self) -> Vec<u8> {
        if let Ok(b) = self.envelope_bytes() {
            return b.to_vec();
        }
        let mut out = Vec::new();
        for (k, v) in self.fields.iter().flatten() {
            out.extend_from_slice(k);
            out.push(b'=');
            out.extend_from_slice(v);
            out.push(b'\n');
        }
        out
    }
}

fn shape(what: &str, v: &Value) -> BusError {
    let mut text = format!("{v:?}");
    text.truncate(200);
    BusError::UnexpectedReply(format!(
        "unexpected Redis reply to {what}: {text} (is this a telemux Redis?)"
    ))
}

fn bytes_of(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::Bytes(b) => Some(b.to_vec()),
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// Parses one `[id, [f, v, ...]]` entry (the field list may be `nil`).
fn parse_entry(v: Value) -> Result<RawEntry, BusError> {
    let Value::Array(mut parts) = v else {
        return Err(shape("stream entry", &v));
    };
    if parts.len() != 2 {
        return Err(shape("stream entry", &Value::Array(parts)));
    }
    let fields_v = parts.pop().unwrap_or(Value::Null);
    let id_v = parts.pop().unwrap_or(Value::Null);
    let id = id_v
        .as_string()
        .ok_or_else(|| shape("stream entry id", &id_v))?;
    let fields = match fields_v {
        Value::Null => None,
        Value::Array(items) => {
            let mut pairs = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((
                    bytes_of(k).unwrap_or_default(),
                    bytes_of(v).unwrap_or_default(),
                ));
            }
            Some(pairs)
        }
        Value::Map(m) => Some(
            m.inner()
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), bytes_of(v).unwrap_or_default()))
                .collect(),
        ),
        other => return Err(shape("stream entry fields", &other)),
    };
    Ok(RawEntry { id, fields })
}

/// Parses an `XRANGE`/`XREVRANGE` reply.
pub(crate) fn parse_range(v: Value) -> Result<Vec<RawEntry>, BusError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.into_iter().map(parse_entry).collect(),
        other => Err(shape("XRANGE", &other)),
    }
}

/// Parses an `XREAD`/`XREADGROUP` reply for a single stream (`nil` on timeout).
pub(crate) fn parse_read(v: Value) -> Result<Vec<RawEntry>, BusError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(streams) => {
            let mut out = Vec::new();
            for s in streams {
                let Value::Array(mut kv) = s else {
                    return Err(shape("XREAD", &s));
                };
                if kv.len() != 2 {
                    return Err(shape("XREAD", &Value::Array(kv)));
                }
                out.extend(parse_range(kv.pop().unwrap_or(Value::Null))?);
            }
            Ok(out)
        }
        Value::Map(m) => {
            let mut out = Vec::new();
            for (_, entries) in m.inner() {
                out.extend(parse_range(entries)?);
            }
            Ok(out)
        }
        other => Err(shape("XREAD", &other)),
    }
}

/// A stream id `ms-seq` as numbers.
pub(crate) fn parse_id(id: &str) -> Option<(u64, u64)> {
    match id.split_once('-') {
        Some((ms, seq)) => Some((ms.parse().ok()?, seq.parse().ok()?)),
        None => Some((id.parse().ok()?, 0)),
    }
}

/// Normalises a caller-supplied cursor to `ms-seq`, refusing anything else.
pub(crate) fn normalize_id(id: &str) -> Result<String, BusError> {
    parse_id(id)
        .map(|(ms, seq)| format!("{ms}-{seq}"))
        .ok_or_else(|| BusError::BadCursor(id.chars().take(64).collect()))
}

/// The id just before `id`, so an exclusive `XREAD` from it includes `id` itself.
pub(crate) fn predecessor(id: &str) -> String {
    match parse_id(id) {
        Some((0, 0)) | None => "0-0".into(),
        Some((ms, 0)) => format!("{}-{}", ms - 1, u64::MAX),
        Some((ms, seq)) => format!("{ms}-{}", seq - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(predecessor("5-3"), "5-2");
        assert_eq!(predecessor("5-0"), format!("4-{}", u64::MAX));
        assert_eq!(predecessor("0-0"), "0-0");
        assert_eq!(normalize_id("17").unwrap(), "17-0");
        assert!(normalize_id("x-1").is_err());
        assert!(normalize_id("$").is_err());
    }

    #[test]
    fn garbage_entries_are_errors_not_failures() {
        let e = RawEntry {
            id: "1-0".into(),
            fields: Some(vec![(b"x".to_vec(), b"y".to_vec())]),
        };
        assert!(matches!(e.decode(), Err(ProtoError::Malformed(_))));
        assert_eq!(e.raw(), b"x=y\n");
        let e = RawEntry {
            id: "1-0".into(),
            fields: None,
        };
        assert!(e.decode().is_err());
        let e = RawEntry {
            id: "1-0".into(),
            fields: Some(vec![(b"e".to_vec(), b"garbage".to_vec())]),
        };
        assert!(matches!(e.decode(), Err(ProtoError::Malformed(_))));
    }
}
