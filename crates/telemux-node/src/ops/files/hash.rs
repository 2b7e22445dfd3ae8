//! sha256 of a whole file, on the blocking pool (a 50 MiB file takes a
//! noticeable fraction of a second).

use std::io::Read;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// The sha256 (lowercase hex) of the file at `path`.
pub(crate) async fn file(path: PathBuf) -> std::io::Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut f = std::fs::File::open(&path)?;
        let mut h = Sha256::new();
        let mut buf = vec![0; 256 * 1024];
        loop {
            match f.read(&mut buf)? {
                0 => break,
                n => h.update(&buf[..n]),
            }
        }
        Ok(telemux_proto::files::hex(&h.finalize()))
    })
    .await
    .map_err(std::io::Error::other)?
}
