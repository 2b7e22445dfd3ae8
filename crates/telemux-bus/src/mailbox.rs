//! A computer's mailbox in Redis: one hash, field = message id, value = the
//! message's [`Delivery`] in MessagePack. Only that computer's node writes
//! it; `telemux inbox` reads it through the node. Finished entries are
//! removed by the node after `mailbox::KEEP_FINISHED_MS`, so the hash stays
//! bounded by `mailbox::MAX_PENDING` plus a day's worth of finished ones.

use fred::prelude::*;
use telemux_proto::{keys, ComputerName, Delivery, ProtoError};

use crate::{Bus, BusError};

impl Bus {
    /// Stores (or replaces) one entry of `computer`'s mailbox.
    pub async fn mailbox_put(&self, computer: &ComputerName, d: &Delivery) -> Result<(), BusError> {
        let bytes = rmp_serde::to_vec_named(d).map_err(|e| {
            BusError::Proto(ProtoError::BadBody {
                kind: "delivery".into(),
                reason: e.to_string(),
            })
        })?;
        self.client()
            .hset::<(), _, _>(keys::mailbox(computer), (d.letter.id.as_str(), bytes))
            .await
            .map_err(|e| BusError::redis("storing a queued message", &e))
    }

    /// Removes one entry.
    pub async fn mailbox_remove(&self, computer: &ComputerName, id: &str) -> Result<(), BusError> {
        self.client()
            .hdel::<(), _, _>(keys::mailbox(computer), id)
            .await
            .map_err(|e| BusError::redis("removing a queued message", &e))
    }

    /// Every entry; one that does not decode is returned as its id and why.
    pub async fn mailbox_all(
        &self,
        computer: &ComputerName,
    ) -> Result<Vec<Result<Delivery, (String, String)>>, BusError> {
        let v: Value = self
            .client()
            .hgetall(keys::mailbox(computer))
            .await
            .map_err(|e| BusError::redis("reading the mailbox", &e))?;
        Ok(v.into_array()
            .chunks(2)
            .filter_map(|kv| match kv {
                [k, v] => {
                    let id = k.as_string().unwrap_or_default();
                    let bytes = v.as_bytes()?;
                    Some(rmp_serde::from_slice::<Delivery>(bytes).map_err(|e| (id, e.to_string())))
                }
                _ => None,
            })
            .collect())
    }
}
