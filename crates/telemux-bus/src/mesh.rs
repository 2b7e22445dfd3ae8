//! Per-node bookkeeping kept in Redis so it survives node restarts: how many
//! shell exit records of each session were already published, so a restarted
//! node reports commands that finished while it was down exactly once.

use fred::prelude::*;
use telemux_proto::{keys, ComputerName, SessionName};

use crate::{Bus, BusError};

impl Bus {
    /// Number of exit records of `c/s` already published (0 if none).
    pub async fn exits_seen(&self, c: &ComputerName, s: &SessionName) -> Result<u64, BusError> {
        let v: Option<u64> = self
            .client()
            .hget(keys::exits_seen(c), s.key())
            .await
            .map_err(|e| BusError::redis(&format!("reading exit bookkeeping of {c}/{s}"), &e))?;
        Ok(v.unwrap_or(0))
    }

    /// Records that `n` exit records of `c/s` have been published.
    pub async fn set_exits_seen(
        &self,
        c: &ComputerName,
        s: &SessionName,
        n: u64,
    ) -> Result<(), BusError> {
        self.client()
            .hset::<(), _, _>(keys::exits_seen(c), (s.key(), n.to_string()))
            .await
            .map_err(|e| BusError::redis(&format!("writing exit bookkeeping of {c}/{s}"), &e))
    }
}

impl Bus {
    /// Drops the bookkeeping of a session that no longer exists, so the hash does not grow forever.
    pub async fn forget_exits_seen(
        &self,
        c: &ComputerName,
        s: &SessionName,
    ) -> Result<(), BusError> {
        self.client()
            .hdel::<(), _, _>(keys::exits_seen(c), s.key())
            .await
            .map_err(|e| BusError::redis(&format!("removing exit bookkeeping of {c}/{s}"), &e))
    }
}
