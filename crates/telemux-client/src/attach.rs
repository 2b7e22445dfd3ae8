//! Mesh calls `attach` makes on a session already resolved: its screen with
//! cursor and modes, typed bytes, and the window's size while attached.
//! They take resolved names so a keystroke costs no registry lookup.

use telemux_proto::{ComputerName, Op, ReplyBody, SessionName, Snapshot};

use crate::mesh::{Mesh, MeshError};

impl Mesh {
    /// The session's screen, cursor, size and modes, and the output cursor
    /// live output continues from.
    pub async fn snapshot(&self, c: &ComputerName, s: &SessionName) -> Result<Snapshot, MeshError> {
        match self
            .call(
                c,
                Op::Snapshot {
                    session: s.to_string(),
                },
            )
            .await?
        {
            ReplyBody::Snapshot(snap) => Ok(snap),
            other => Err(MeshError::unexpected(&other)),
        }
    }

    /// Types `bytes` as a terminal sent them (escape sequences included).
    pub async fn send_bytes(
        &self,
        c: &ComputerName,
        s: &SessionName,
        bytes: &[u8],
    ) -> Result<(), MeshError> {
        telemux_proto::limits::check("input", bytes.len(), telemux_proto::limits::MAX_TEXT_BYTES)?;
        self.call(
            c,
            Op::SendBytes {
                session: s.to_string(),
                bytes: bytes.to_vec(),
            },
        )
        .await
        .map(drop)
    }

    /// Claims the window's size for the attached terminal `client`
    /// (`Some((width, height))`), or releases that claim (`None`).
    pub async fn resize(
        &self,
        c: &ComputerName,
        s: &SessionName,
        client: &str,
        size: Option<(u16, u16)>,
    ) -> Result<(), MeshError> {
        self.call(
            c,
            Op::Resize {
                session: s.to_string(),
                client: client.to_string(),
                size,
            },
        )
        .await
        .map(drop)
    }
}
