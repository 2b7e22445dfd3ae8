//! The computer registry: heartbeats, graceful deregistration, and the list of
//! computers with their online state.
//!
//! Liveness is a key with a TTL of three heartbeats (`keys::alive`), so a node
//! that dies without saying goodbye drops offline by itself. The hash
//! `keys::computers` remembers every computer ever seen, so an offline one is
//! reported as "offline, last seen …" rather than "unknown" — until
//! [`Bus::forget_computer`] removes one that was stopped for good.

use fred::{prelude::*, types::Expiration};
use telemux_proto::{keys, ComputerInfo, ComputerName};

use crate::{Bus, BusError};

/// A registered computer and whether its heartbeat is current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputerStatus {
    /// What the node last said about itself.
    pub info: ComputerInfo,
    /// Whether its liveness key exists (heartbeat within the last three periods).
    pub online: bool,
}

/// What [`Bus::forget_computer`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forget {
    /// The record is gone; holds the name as it was registered.
    Forgotten(String),
    /// Refused: the computer is online (its heartbeat would bring it back at once).
    Online(String),
    /// No computer of that name is registered; the known names closest to it, best first.
    Unknown(Vec<String>),
}

fn encode(info: &ComputerInfo) -> Vec<u8> {
    // Plain structs of strings and numbers always encode.
    rmp_serde::to_vec_named(info).expect("ComputerInfo encodes")
}

fn decode(bytes: &[u8]) -> Option<ComputerInfo> {
    rmp_serde::from_slice(bytes).ok()
}

fn key_of(info: &ComputerInfo) -> Result<ComputerName, BusError> {
    Ok(ComputerName::new(&info.name)?)
}

impl Bus {
    /// Refreshes this node's liveness key (TTL 3 × `heartbeat_ms`) and its registry record.
    pub async fn heartbeat(&self, info: &ComputerInfo) -> Result<(), BusError> {
        let name = key_of(info)?;
        let bytes = encode(info);
        let ttl = (3 * info.heartbeat_ms).max(1) as i64;
        let c = self.client();
        let alive = c.set::<(), _, _>(
            keys::alive(&name),
            bytes.clone(),
            Some(Expiration::PX(ttl)),
            None,
            false,
        );
        let record = c.hset::<(), _, _>(keys::computers(), (name.key(), bytes));
        let beat = self.publish_presence(info);
        let registry = async {
            tokio::try_join!(alive, record)
                .map_err(|e| BusError::redis(&format!("sending the heartbeat of {name}"), &e))
        };
        tokio::try_join!(registry, beat)?;
        Ok(())
    }

    /// Marks this node offline at once (graceful stop): deletes its liveness key, records `stopped`.
    pub async fn deregister(&self, info: &ComputerInfo) -> Result<(), BusError> {
        let name = key_of(info)?;
        let mut last = info.clone();
        last.stopped = true;
        let c = self.client();
        let alive = c.del::<(), _>(keys::alive(&name));
        let record = c.hset::<(), _, _>(keys::computers(), (name.key(), encode(&last)));
        let beat = self.publish_presence(&last);
        let registry = async {
            tokio::try_join!(alive, record)
                .map_err(|e| BusError::redis(&format!("deregistering {name}"), &e))
        };
        tokio::try_join!(registry, beat)?;
        Ok(())
    }

    /// Every computer ever registered, with its online state, sorted by name (case-insensitive).
    pub async fn computers(&self) -> Result<Vec<ComputerStatus>, BusError> {
        let mut records = self.registry().await?;
        let names: Vec<ComputerName> = records
            .iter()
            .filter_map(|i| ComputerName::new(&i.name).ok())
            .collect();
        records.retain(|i| ComputerName::new(&i.name).is_ok());
        let alive = self.alive_records(&names).await?;
        let mut out: Vec<ComputerStatus> = records
            .into_iter()
            .zip(alive)
            .map(|(info, (online, live))| ComputerStatus {
                info: live.unwrap_or(info),
                online,
            })
            .collect();
        out.sort_by_key(|s| s.info.name.to_ascii_lowercase());
        Ok(out)
    }

    /// Every registry record as last written (no liveness keys read: a
    /// node's Redis user may read the registry, not other nodes' keys).
    pub async fn registry(&self) -> Result<Vec<ComputerInfo>, BusError> {
        let all: Vec<(String, Value)> = self
            .client()
            .hgetall::<Value, _>(keys::computers())
            .await
            .map_err(|e| BusError::redis("listing computers", &e))?
            .into_array()
            .chunks(2)
            .filter_map(|kv| match kv {
                [k, v] => Some((k.as_string()?, v.clone())),
                _ => None,
            })
            .collect();
        let mut records = Vec::with_capacity(all.len());
        for (field, v) in all {
            match v.as_bytes().and_then(decode) {
                Some(info) => records.push(info),
                None => tracing::warn!(computer = %field, "undecodable registry record skipped"),
            }
        }
        Ok(records)
    }

    /// Claims the announcement that `c`'s run started at `started_ms`
    /// went offline without a goodbye; true for the first caller only
    /// (the claim lasts `keep`).
    pub async fn claim_offline_notice(
        &self,
        c: &ComputerName,
        started_ms: u64,
        keep: std::time::Duration,
    ) -> Result<bool, BusError> {
        let ms = keep.as_millis().clamp(1, i64::MAX as u128) as i64;
        let v: Value = self
            .client()
            .set(
                keys::offline_noticed(c, started_ms),
                "1",
                Some(Expiration::PX(ms)),
                Some(fred::types::SetOptions::NX),
                false,
            )
            .await
            .map_err(|e| BusError::redis(&format!("noting that {c} went offline"), &e))?;
        Ok(!v.is_null())
    }

    /// One computer's status, or `None` if it never registered.
    pub async fn computer(&self, name: &ComputerName) -> Result<Option<ComputerStatus>, BusError> {
        let record = async {
            self.client()
                .hget::<Value, _, _>(keys::computers(), name.key())
                .await
                .map_err(|e| BusError::redis(&format!("looking up {name}"), &e))
        };
        let (record, alive) =
            tokio::try_join!(record, self.alive_records(std::slice::from_ref(name)))?;
        let (online, live) = alive.into_iter().next().unwrap_or((false, None));
        Ok(live
            .or_else(|| record.as_bytes().and_then(decode))
            .map(|info| ComputerStatus { info, online }))
    }

    /// Removes a stopped computer from the registry, so `computers` no longer lists it.
    ///
    /// An online computer is refused: its next heartbeat would register it
    /// again, and whoever asked probably meant another one. Its output streams
    /// stay (they expire or are trimmed as usual); a node that starts later
    /// under the same name simply registers afresh.
    pub async fn forget_computer(&self, name: &ComputerName) -> Result<Forget, BusError> {
        let Some(status) = self.computer(name).await? else {
            let all = self.computers().await?;
            let known = all.iter().map(|c| c.info.name.as_str());
            return Ok(Forget::Unknown(telemux_proto::names::suggest(
                name.as_str(),
                known,
            )));
        };
        if status.online {
            return Ok(Forget::Online(status.info.name));
        }
        self.client()
            .hdel::<(), _, _>(keys::computers(), name.key())
            .await
            .map_err(|e| BusError::redis(&format!("forgetting {name}"), &e))?;
        Ok(Forget::Forgotten(status.info.name))
    }

    /// For each name in order: whether its liveness key exists, and its record if it decodes.
    async fn alive_records(
        &self,
        names: &[ComputerName],
    ) -> Result<Vec<(bool, Option<ComputerInfo>)>, BusError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = names.iter().map(keys::alive).collect();
        let v: Value = self
            .client()
            .mget(keys)
            .await
            .map_err(|e| BusError::redis("reading liveness keys", &e))?;
        let vals = match v {
            Value::Array(a) => a,
            other => vec![other],
        };
        Ok(vals
            .iter()
            .map(|v| (!v.is_null(), v.as_bytes().and_then(decode)))
            .collect())
    }
}
