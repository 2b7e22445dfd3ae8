//! [`Mesh::rename`]: a session gets a new name on its computer. The node
//! moves tmux's session, the output stream (cursors stay valid), the exit
//! bookkeeping and the inbox; this side moves the session's Telegram topic
//! entry, so the topic follows even while no gateway runs (a running
//! gateway also retitles the topic when it reads the rename record).

use telemux_proto::{ComputerName, Op, ReplyBody, SessionAddr};

use crate::mesh::{Mesh, MeshError};

/// What a rename did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// The session's computer.
    pub computer: ComputerName,
    /// Its old name, as tmux spelled it.
    pub from: String,
    /// Its new name.
    pub to: String,
}

impl Mesh {
    /// Renames `addr` to `new_name`: a bare name, or `COMPUTER/NAME` on the
    /// session's own computer (a session cannot move to another computer).
    pub async fn rename(&self, addr: &str, new_name: &str) -> Result<Renamed, MeshError> {
        let (c, s) = self.resolve_session(addr).await?;
        let to = match SessionAddr::parse(new_name) {
            Ok(SessionAddr {
                computer: Some(other),
                ..
            }) if other.key() != c.key() => {
                return Err(MeshError::BadInput(format!(
                    "'{new_name}' names computer {other}, but {c}/{s} lives on {c}; a session keeps its computer when renamed (give the new name alone)"
                )))
            }
            Ok(a) => a.session.to_string(),
            // The node says what is wrong with the name.
            Err(_) => new_name.to_string(),
        };
        let op = Op::Rename {
            session: s.to_string(),
            to,
        };
        let (from, to) = match self.call(&c, op).await? {
            ReplyBody::Renamed { from, to } => (from, to),
            other => return Err(MeshError::unexpected(&other)),
        };
        let old_key = format!("{}/{}", c.key(), from.to_ascii_lowercase());
        let new_key = format!("{}/{}", c.key(), to.to_ascii_lowercase());
        if let Err(e) = self
            .bus()
            .tg_rename(&old_key, &new_key, &format!("{c}/{to}"))
            .await
        {
            tracing::warn!(computer = %c, session = %to, error = %e, "renamed, but the Telegram topic entry did not move; the gateway moves it when it reads the rename");
        }
        Ok(Renamed {
            computer: c,
            from,
            to,
        })
    }
}
