//! The small pieces of Redis state the Telegram gateway keeps: the poller
//! lease, the `getUpdates` offset, the session ↔ forum-topic map and each
//! session's live-message state.
//!
//! The gateway is otherwise stateless, so all of this lives here and a
//! restarted (or second) gateway continues where the previous one stopped.
//! The lease is a key with a TTL holding the holder's id; the offset is only
//! written by the current holder (checked atomically in a script), so a
//! gateway that lost its lease cannot move the offset under the new one.
//!
//! Hash fields cannot expire (Redis 7.0), so the per-session fields are
//! removed by [`Bus::tg_sweep`] once the session's output stream is gone
//! (after `output.retention`), which the gateway calls now and then.

use std::time::Duration;

use fred::{
    prelude::*,
    types::{ClusterHash, CustomCommand},
};
use telemux_proto::{keys, ComputerName, SessionName};

use crate::{Bus, BusError};

/// Takes the lease when free, or extends it when `ARGV[1]` already holds it.
const ACQUIRE: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"#;

/// Deletes the lease only when `ARGV[1]` holds it.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// Stores the offset only while `ARGV[1]` holds the lease.
const STORE_OFFSET: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"#;

impl Bus {
    async fn eval_int(
        &self,
        what: &str,
        script: &str,
        keys: &[String],
        args: &[String],
    ) -> Result<i64, BusError> {
        let cmd = CustomCommand::new_static("EVAL", ClusterHash::FirstKey, false);
        let mut argv: Vec<Value> = vec![script.into(), (keys.len() as i64).into()];
        argv.extend(keys.iter().map(|k| Value::from(k.as_str())));
        argv.extend(args.iter().map(|a| Value::from(a.as_str())));
        let v: Value = self
            .client()
            .custom(cmd, argv)
            .await
            .map_err(|e| BusError::redis(what, &e))?;
        Ok(v.as_i64().unwrap_or(0))
    }

    /// Takes or extends the Telegram poller lease for `holder`; `false` when another holds it.
    pub async fn tg_lease_acquire(&self, holder: &str, ttl: Duration) -> Result<bool, BusError> {
        let ttl = ttl.as_millis().max(1).to_string();
        let got = self
            .eval_int(
                "taking the Telegram lease",
                ACQUIRE,
                &[keys::tg_lease()],
                &[holder.to_string(), ttl],
            )
            .await?;
        Ok(got == 1)
    }

    /// Gives the lease up (only if `holder` has it), so another gateway can take over at once.
    pub async fn tg_lease_release(&self, holder: &str) -> Result<(), BusError> {
        self.eval_int(
            "releasing the Telegram lease",
            RELEASE,
            &[keys::tg_lease()],
            &[holder.to_string()],
        )
        .await
        .map(drop)
    }

    /// The next `getUpdates` offset, if one was stored.
    pub async fn tg_offset(&self) -> Result<Option<i64>, BusError> {
        let v: Option<String> = self
            .client()
            .get(keys::tg_offset())
            .await
            .map_err(|e| BusError::redis("reading the Telegram offset", &e))?;
        Ok(v.and_then(|s| decode_progress(&s)).map(|(o, _)| o))
    }

    /// Stores the next offset while `holder` has the lease; `false` when it lost it.
    pub async fn tg_store_offset(&self, holder: &str, offset: i64) -> Result<bool, BusError> {
        let ok = self
            .eval_int(
                "storing the Telegram offset",
                STORE_OFFSET,
                &[keys::tg_lease(), keys::tg_offset()],
                &[holder.to_string(), offset.to_string()],
            )
            .await?;
        Ok(ok == 1)
    }

    /// The poller's progress: the offset to poll from and the updates above it
    /// that were already started (handled out of order), so none runs twice.
    ///
    /// Stored in the offset key as `OFFSET` or `OFFSET:ID,ID,…`; a plain
    /// `OFFSET` (what [`Bus::tg_store_offset`] writes) reads with no ids.
    pub async fn tg_progress(&self) -> Result<Option<(i64, Vec<i64>)>, BusError> {
        let v: Option<String> = self
            .client()
            .get(keys::tg_offset())
            .await
            .map_err(|e| BusError::redis("reading the Telegram offset", &e))?;
        Ok(v.and_then(|s| decode_progress(&s)))
    }

    /// Stores the poller's progress (see [`Bus::tg_progress`]) while `holder`
    /// has the lease; `false` when it lost it.
    pub async fn tg_store_progress(
        &self,
        holder: &str,
        offset: i64,
        started: &[i64],
    ) -> Result<bool, BusError> {
        let mut value = offset.to_string();
        if !started.is_empty() {
            let ids: Vec<String> = started.iter().map(i64::to_string).collect();
            value.push(':');
            value.push_str(&ids.join(","));
        }
        let ok = self
            .eval_int(
                "storing the Telegram offset",
                STORE_OFFSET,
                &[keys::tg_lease(), keys::tg_offset()],
                &[holder.to_string(), value],
            )
            .await?;
        Ok(ok == 1)
    }

    /// The forum topic of a session (`session_key` is the case-folded `computer/session`).
    pub async fn tg_topic(&self, session_key: &str) -> Result<Option<i64>, BusError> {
        let v: Option<String> = self
            .client()
            .hget(keys::tg_topics(), session_key)
            .await
            .map_err(|e| BusError::redis("reading the Telegram topic map", &e))?;
        Ok(v.and_then(|s| s.parse().ok()))
    }

    /// The session (`computer/session` as displayed) a forum topic belongs to.
    pub async fn tg_thread_session(&self, thread: i64) -> Result<Option<String>, BusError> {
        self.client()
            .hget(keys::tg_threads(), thread.to_string())
            .await
            .map_err(|e| BusError::redis("reading the Telegram topic map", &e))
    }

    /// Records that `display` (`computer/session`) lives in forum topic `thread`.
    pub async fn tg_put_topic(
        &self,
        session_key: &str,
        display: &str,
        thread: i64,
    ) -> Result<(), BusError> {
        let c = self.client();
        let a = c.hset::<(), _, _>(keys::tg_topics(), (session_key, thread.to_string()));
        let b = c.hset::<(), _, _>(keys::tg_threads(), (thread.to_string(), display));
        tokio::try_join!(a, b).map_err(|e| BusError::redis("storing a Telegram topic", &e))?;
        Ok(())
    }

    /// A session was renamed: its topic, and its live-message state, move
    /// from `old_key` to `new_key` (case-folded `computer/session`), the
    /// topic now showing `display`. Idempotent: the CLI that renamed and the
    /// gateway that sees the rename record both call it; whoever is second
    /// finds nothing under the old key.
    pub async fn tg_rename(
        &self,
        old_key: &str,
        new_key: &str,
        display: &str,
    ) -> Result<(), BusError> {
        if old_key == new_key {
            return Ok(());
        }
        let c = self.client();
        let what = "moving a renamed session's Telegram topic";
        let err = |e: fred::error::Error| BusError::redis(what, &e);
        if let Some(thread) = c
            .hget::<Option<String>, _, _>(keys::tg_topics(), old_key)
            .await
            .map_err(err)?
        {
            c.hset::<(), _, _>(keys::tg_topics(), (new_key, thread.as_str()))
                .await
                .map_err(err)?;
            c.hset::<(), _, _>(keys::tg_threads(), (thread.as_str(), display))
                .await
                .map_err(err)?;
            c.hdel::<(), _, _>(keys::tg_topics(), old_key)
                .await
                .map_err(err)?;
        }
        if let Some(live) = c
            .hget::<Option<String>, _, _>(keys::tg_live(), old_key)
            .await
            .map_err(err)?
        {
            c.hset::<(), _, _>(keys::tg_live(), (new_key, live.as_str()))
                .await
                .map_err(err)?;
            c.hdel::<(), _, _>(keys::tg_live(), old_key)
                .await
                .map_err(err)?;
        }
        Ok(())
    }

    /// Every session that has a topic: `(computer/session, thread)`.
    pub async fn tg_all_topics(&self) -> Result<Vec<(String, i64)>, BusError> {
        let v: Value = self
            .client()
            .hgetall(keys::tg_threads())
            .await
            .map_err(|e| BusError::redis("listing Telegram topics", &e))?;
        Ok(v.into_array()
            .chunks(2)
            .filter_map(|kv| match kv {
                [k, v] => Some((v.as_string()?, k.as_string()?.parse().ok()?)),
                _ => None,
            })
            .collect())
    }

    /// The stored live-message state of a session (opaque to the bus).
    pub async fn tg_live(&self, session_key: &str) -> Result<Option<String>, BusError> {
        self.client()
            .hget(keys::tg_live(), session_key)
            .await
            .map_err(|e| BusError::redis("reading Telegram live state", &e))
    }

    /// Replaces the live-message state of a session.
    pub async fn tg_put_live(&self, session_key: &str, state: &str) -> Result<(), BusError> {
        self.client()
            .hset::<(), _, _>(keys::tg_live(), (session_key, state))
            .await
            .map_err(|e| BusError::redis("storing Telegram live state", &e))
    }

    /// Forgets the live-message state of a session (it is gone).
    pub async fn tg_del_live(&self, session_key: &str) -> Result<(), BusError> {
        self.client()
            .hdel::<(), _, _>(keys::tg_live(), session_key)
            .await
            .map_err(|e| BusError::redis("removing Telegram live state", &e))
    }

    /// Forgets the Telegram state (topic map both ways, live-message state)
    /// of every session whose output stream no longer exists — it ended and
    /// its `output.retention` passed — unless `alive(session_key)` says it
    /// runs (a live session that printed nothing has no stream yet).
    /// `session_key` is the case-folded `computer/session`. Returns how many
    /// sessions were forgotten.
    pub async fn tg_sweep(&self, alive: impl Fn(&str) -> bool) -> Result<usize, BusError> {
        let c = self.client();
        let what = "sweeping Telegram state";
        let topics: Vec<(String, String)> = pairs(
            c.hgetall(keys::tg_topics())
                .await
                .map_err(|e| BusError::redis(what, &e))?,
        );
        let live: Vec<(String, String)> = pairs(
            c.hgetall(keys::tg_live())
                .await
                .map_err(|e| BusError::redis(what, &e))?,
        );
        let mut keys_seen: Vec<&str> = topics.iter().map(|(k, _)| k.as_str()).collect();
        keys_seen.extend(live.iter().map(|(k, _)| k.as_str()));
        keys_seen.sort_unstable();
        keys_seen.dedup();
        let mut forgotten = 0;
        for key in keys_seen {
            if alive(key) {
                continue;
            }
            let Some(stream) = output_key(key) else {
                continue;
            };
            let exists: i64 = c
                .exists(&stream)
                .await
                .map_err(|e| BusError::redis(what, &e))?;
            if exists > 0 {
                continue;
            }
            let thread = topics.iter().find(|(k, _)| k == key).map(|(_, t)| t);
            let a = c.hdel::<(), _, _>(keys::tg_topics(), key);
            let b = c.hdel::<(), _, _>(keys::tg_live(), key);
            tokio::try_join!(a, b).map_err(|e| BusError::redis(what, &e))?;
            if let Some(t) = thread {
                c.hdel::<(), _, _>(keys::tg_threads(), t.as_str())
                    .await
                    .map_err(|e| BusError::redis(what, &e))?;
            }
            forgotten += 1;
        }
        Ok(forgotten)
    }
}

/// A hash reply as `(field, value)` pairs.
fn pairs(v: Value) -> Vec<(String, String)> {
    v.into_array()
        .chunks(2)
        .filter_map(|kv| match kv {
            [k, v] => Some((k.as_string()?, v.as_string()?)),
            _ => None,
        })
        .collect()
}

/// The output stream of a case-folded `computer/session` field; `None` for
/// a field that names no session (left alone).
fn output_key(session_key: &str) -> Option<String> {
    let (c, s) = session_key.split_once('/')?;
    Some(keys::output(
        &ComputerName::new(c).ok()?,
        &SessionName::new(s).ok()?,
    ))
}

/// `OFFSET` or `OFFSET:ID,ID,…` → the offset and the ids; `None` when garbled.
fn decode_progress(s: &str) -> Option<(i64, Vec<i64>)> {
    let (offset, ids) = s.split_once(':').unwrap_or((s, ""));
    let offset = offset.trim().parse().ok()?;
    let ids = ids
        .split(',')
        .filter(|i| !i.is_empty())
        .map(|i| i.trim().parse().ok())
        .collect::<Option<Vec<i64>>>()?;
    Some((offset, ids))
}

#[cfg(test)]
mod tests {
    use super::decode_progress;

    #[test]
    fn progress_values_decode() {
        assert_eq!(decode_progress("77"), Some((77, vec![])));
        assert_eq!(decode_progress("77:79,81"), Some((77, vec![79, 81])));
        assert_eq!(decode_progress("x"), None);
        assert_eq!(decode_progress("7:a"), None);
    }
}
