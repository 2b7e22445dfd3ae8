//! `telemux screenshot SESSION [-o FILE.png]`: the session's screen as a PNG,
//! written to a file (atomically: a temporary file renamed into place, so a
//! viewer never opens half a picture) or to stdout with `-o -`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde_json::json;
use telemux_client::{Mesh, MeshError, Screenshot};

use crate::out::{outln, write_bytes};

/// Takes the screenshot and writes it where `output` says; returns the exit code.
pub async fn run(
    mesh: &Mesh,
    session: &str,
    output: Option<&str>,
    json: bool,
) -> Result<i32, MeshError> {
    if output == Some("-") && std::io::stdout().is_terminal() {
        return Err(MeshError::BadInput(
            "-o - writes a PNG to stdout, which is a terminal; redirect it (> shot.png) or give -o FILE.png".into(),
        ));
    }
    let shot = mesh.screenshot(session).await?;
    let path = match output {
        Some("-") => {
            write_bytes(&shot.png);
            return Ok(0);
        }
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(format!("{}.png", shot.session)),
    };
    write_atomically(&path, &shot.png)
        .await
        .map_err(|e| MeshError::BadInput(format!("cannot write {}: {e}", path.display())))?;
    report(&path, &shot, json);
    Ok(0)
}

/// Writes `bytes` next to `path` under a temporary name, then renames it over
/// `path`; the temporary file is removed if anything fails.
async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = async {
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, path).await
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

fn report(path: &Path, shot: &Screenshot, json: bool) {
    let bytes = shot.png.len();
    if json {
        outln!(
            "{}",
            json!({"path": path.display().to_string(), "session": shot.addr(), "bytes": bytes, "width": shot.width, "height": shot.height, "cols": shot.cols, "rows": shot.rows})
        );
    } else {
        outln!(
            "{} ({}: {}x{} cells, {}x{} px, {:.1} KiB)",
            path.display(),
            shot.addr(),
            shot.cols,
            shot.rows,
            shot.width,
            shot.height,
            bytes as f64 / 1024.0
        );
    }
}
