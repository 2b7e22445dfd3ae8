//! Moving a session's Redis state to its new name (`rename`): the output
//! stream (entry ids kept, so every cursor a reader holds stays valid), the
//! exit bookkeeping, and the one-record pointer left under the old name for
//! readers still following it.

use std::time::Duration;

use fred::prelude::*;
use telemux_proto::{keys, ComputerName, Envelope, SessionName};

use crate::{Bus, BusError};

impl Bus {
    /// Moves `from`'s output stream and exit bookkeeping to `to` (on
    /// computer `c`). The stream moves with `RENAMENX`, so a stream already
    /// under `to` (an ended session's output, kept for its retention) is
    /// never overwritten: that is refused. A session that printed nothing
    /// yet has no stream to move. `over_pointer`: `to`'s key holds only the
    /// pointer an earlier rename away from `to` left; it is replaced.
    pub async fn rename_session_state(
        &self,
        c: &ComputerName,
        from: &SessionName,
        to: &SessionName,
        over_pointer: bool,
    ) -> Result<(), BusError> {
        let client = self.client();
        if over_pointer {
            client
                .del::<(), _>(keys::output(c, to))
                .await
                .map_err(|e| BusError::redis(&format!("renaming {c}/{from}"), &e))?;
        }
        let moved: Result<bool, _> = client
            .renamenx(keys::output(c, from), keys::output(c, to))
            .await;
        match moved {
            Ok(true) => {}
            Ok(false) => {
                return Err(BusError::Refused(format!(
                    "{c}/{to} still has the output of an ended session of that name (kept for output.retention); `telemux clean {c}` removes it, or pick another name"
                )))
            }
            // RENAMENX of a missing key: nothing was printed yet.
            Err(e) if e.details().contains("no such key") => {}
            Err(e) => return Err(BusError::redis(&format!("renaming {c}/{from}"), &e)),
        }
        let exits = keys::exits_seen(c);
        let seen: Option<u64> = client
            .hget(&exits, from.key())
            .await
            .map_err(|e| BusError::redis(&format!("renaming {c}/{from}"), &e))?;
        if let Some(n) = seen {
            let set = client.hset::<(), _, _>(&exits, (to.key(), n));
            let del = client.hdel::<(), _, _>(&exits, from.key());
            tokio::try_join!(set, del)
                .map_err(|e| BusError::redis(&format!("renaming {c}/{from}"), &e))?;
        }
        Ok(())
    }

    /// Leaves the rename record `env` (stream id `id`, the same entry the
    /// renamed stream holds) as the only entry under `from`'s old key,
    /// expiring after `keep`: a reader following the old name reads it and
    /// moves to the new key, where its cursor is still valid.
    pub async fn leave_rename_pointer(
        &self,
        c: &ComputerName,
        from: &SessionName,
        id: &str,
        env: &Envelope,
        keep: Duration,
    ) -> Result<(), BusError> {
        let key = keys::output(c, from);
        let client = self.client();
        let ctx = || format!("leaving a pointer under {c}/{from}");
        let _: Value = client
            .xadd(&key, false, None, id, (keys::FIELD, env.encode()))
            .await
            .map_err(|e| BusError::redis(&ctx(), &e))?;
        let ms = keep.as_millis().clamp(1, i64::MAX as u128) as i64;
        client
            .pexpire::<(), _>(&key, ms, None)
            .await
            .map_err(|e| BusError::redis(&ctx(), &e))
    }
}
