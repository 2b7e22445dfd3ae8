//! Which output streams of a computer exist (`SCAN MATCH`), and removing one
//! whose session is gone: what a node's `clean` needs.

use fred::{
    prelude::*,
    types::{ClusterHash, CustomCommand},
};
use telemux_proto::{keys, ComputerName, SessionName};

use crate::{Bus, BusError};

/// Keys asked for per `SCAN` step.
const SCAN_COUNT: i64 = 500;

impl Bus {
    /// The (case-folded) session names of every output stream of `c`.
    pub async fn output_sessions(&self, c: &ComputerName) -> Result<Vec<String>, BusError> {
        let pattern = keys::output_pattern(c);
        let cmd = CustomCommand::new_static("SCAN", ClusterHash::Random, false);
        let mut cursor = "0".to_string();
        let mut out = Vec::new();
        loop {
            let v: Value = self
                .client()
                .custom(
                    cmd.clone(),
                    vec![
                        Value::from(cursor.as_str()),
                        "MATCH".into(),
                        pattern.as_str().into(),
                        "COUNT".into(),
                        SCAN_COUNT.into(),
                    ],
                )
                .await
                .map_err(|e| BusError::redis(&format!("listing output streams of {c}"), &e))?;
            let Value::Array(mut parts) = v else {
                return Err(BusError::UnexpectedReply(
                    "unexpected Redis reply to SCAN".into(),
                ));
            };
            let (Some(Value::Array(found)), Some(next)) = (parts.pop(), parts.pop()) else {
                return Err(BusError::UnexpectedReply(
                    "unexpected Redis reply to SCAN".into(),
                ));
            };
            for k in found {
                if let Some(k) = k.as_string() {
                    if let Some(s) = keys::output_session(c, &k) {
                        out.push(s.to_string());
                    }
                }
            }
            cursor = next.as_string().unwrap_or_else(|| "0".into());
            if cursor == "0" {
                break;
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Deletes a session's output stream (`DEL`).
    pub async fn delete_output(&self, c: &ComputerName, s: &SessionName) -> Result<(), BusError> {
        self.client()
            .del::<(), _>(keys::output(c, s))
            .await
            .map_err(|e| BusError::redis(&format!("deleting output of {c}/{s}"), &e))
    }
}
