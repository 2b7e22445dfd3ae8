//! Health figures: whether the connection is up, and for `telemux status`
//! the command backlog and dead letters.

use fred::prelude::*;
use fred::types::Value;
use telemux_proto::{keys, ComputerName};

use crate::{Bus, BusError, RedisKind};

/// How far behind a node's command stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    /// Commands delivered to the node but not acknowledged yet.
    pub pending: u64,
    /// Commands not delivered yet (`lag` of the consumer group; Redis ≥ 7).
    pub undelivered: Option<u64>,
}

fn field_u64(pairs: &[Value], name: &str) -> Option<u64> {
    pairs.chunks(2).find_map(|kv| match kv {
        [k, v] if k.as_str().as_deref() == Some(name) => v.as_u64(),
        _ => None,
    })
}

impl Bus {
    /// Whether the shared connection is up right now. While it is down
    /// (Redis restarting, network gone) every command waits out its timeout,
    /// so a caller with its own retry loop can skip the attempt instead.
    pub fn is_connected(&self) -> bool {
        self.client().is_connected()
    }

    /// The node's command backlog (zeros when its stream does not exist yet).
    pub async fn command_backlog(&self, c: &ComputerName) -> Result<Backlog, BusError> {
        let groups: Result<Value, _> = self.client().xinfo_groups(keys::commands(c)).await;
        let groups = match groups {
            Ok(v) => v,
            // No stream yet: nothing was ever sent.
            Err(e) if RedisKind::of(&e) == RedisKind::NoSuchKey => return Ok(Backlog::default()),
            Err(e) => return Err(BusError::redis("reading the command backlog", &e)),
        };
        let Value::Array(groups) = groups else {
            return Ok(Backlog::default());
        };
        for g in groups {
            let pairs = match g {
                Value::Array(p) => p,
                Value::Map(m) => m
                    .inner()
                    .into_iter()
                    .flat_map(|(k, v)| [Value::from(k), v])
                    .collect(),
                _ => continue,
            };
            if field_u64_str(&pairs, "name").as_deref() == Some(keys::COMMAND_GROUP) {
                return Ok(Backlog {
                    pending: field_u64(&pairs, "pending").unwrap_or(0),
                    undelivered: field_u64(&pairs, "lag"),
                });
            }
        }
        Ok(Backlog::default())
    }

    /// Number of entries in the dead-letter stream.
    pub async fn dead_letter_count(&self) -> Result<u64, BusError> {
        self.client()
            .xlen(keys::dead_letters())
            .await
            .map_err(|e| BusError::redis("counting dead letters", &e))
    }
}

fn field_u64_str(pairs: &[Value], name: &str) -> Option<String> {
    pairs.chunks(2).find_map(|kv| match kv {
        [k, v] if k.as_str().as_deref() == Some(name) => v.as_string(),
        _ => None,
    })
}
