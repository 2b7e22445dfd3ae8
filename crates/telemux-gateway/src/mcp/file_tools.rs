//! The `read_file` and `write_file` tools: a file on a computer of the mesh,
//! within that computer's `files.roots` and `files.max_bytes` (the node
//! refuses anything else, naming its roots). Apart from `tools.rs` to keep
//! that file within its size; the server joins the routers.

use base64::Engine;
use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData as McpError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use telemux_client::MeshError;
use telemux_proto::files::MAX_FILE_CHUNK_BYTES;

use super::result::{encode, finish};
use super::McpServer;

/// Bytes `read_file` returns when the caller gives no `max_bytes`.
const DEFAULT_READ_BYTES: u32 = 64 * 1024;

/// Input of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadFileParams {
    /// Computer, e.g. `MozBook`.
    pub computer: String,
    /// Path there, e.g. `~/notes.txt` (relative paths are relative to its home).
    pub path: String,
    /// Byte offset to start at (default 0); use `next_offset` to continue.
    #[serde(default)]
    pub offset: Option<u64>,
    /// Most bytes to return (default 65536, at most 524288).
    #[serde(default)]
    pub max_bytes: Option<u32>,
}

/// Result of `read_file`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReadFileOut {
    /// `COMPUTER:PATH`, the path resolved.
    pub file: String,
    /// Where `content` starts.
    pub offset: u64,
    /// Bytes returned.
    pub bytes: usize,
    /// The file's size.
    pub size: u64,
    /// `utf-8` (content is the text) or `base64` (content is the bytes in base64).
    pub encoding: String,
    /// The bytes, as `encoding` says.
    pub content: String,
    /// Offset of the rest, when the file goes on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
}

/// Input of `write_file`: exactly one of `content` and `base64`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct WriteFileParams {
    /// Computer, e.g. `MozBook`.
    pub computer: String,
    /// Path there, e.g. `~/notes.txt`; its directory must exist. Replaces the file whole.
    pub path: String,
    /// The new contents as text.
    #[serde(default)]
    pub content: Option<String>,
    /// The new contents as base64 (binary files).
    #[serde(default)]
    pub base64: Option<String>,
}

/// Result of `write_file`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteFileOut {
    /// `COMPUTER:PATH`, the path resolved.
    pub file: String,
    /// Bytes written.
    pub bytes: u64,
    /// sha256 of the contents, verified by the node before it replaced the file.
    pub sha256: String,
}

/// `data` as text when it is UTF-8 (a character cut by the end of a chunk
/// is left for the next one), else base64; the second value is how many
/// bytes were used.
fn as_text_or_base64(data: &[u8], at_end: bool) -> (String, String, usize) {
    match std::str::from_utf8(data) {
        Ok(t) => ("utf-8".into(), t.to_string(), data.len()),
        Err(e) if e.error_len().is_none() && !at_end && e.valid_up_to() > 0 => {
            let n = e.valid_up_to();
            let t = std::str::from_utf8(&data[..n]).unwrap_or_default();
            ("utf-8".into(), t.to_string(), n)
        }
        Err(_) => (
            "base64".into(),
            base64::engine::general_purpose::STANDARD.encode(data),
            data.len(),
        ),
    }
}

#[tool_router(router = files_router, vis = "pub(crate)")]
impl McpServer {
    /// Reads part of a file on a computer.
    #[tool(
        name = "read_file",
        description = "Read a file on a computer (within its files.roots, default its home directory). Returns text when the bytes are UTF-8, else base64 (see `encoding`); `next_offset` continues a long file.",
        output_schema = schema_for_output::<ReadFileOut>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn read_file(
        &self,
        Parameters(p): Parameters<ReadFileParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let max = p
                    .max_bytes
                    .unwrap_or(DEFAULT_READ_BYTES)
                    .clamp(1, MAX_FILE_CHUNK_BYTES as u32);
                let offset = p.offset.unwrap_or(0);
                let (computer, c) = self
                    .mesh()
                    .read_file(&p.computer, &p.path, offset, max)
                    .await?;
                let at_end = c.eof();
                let (encoding, content, used) = as_text_or_base64(&c.data, at_end);
                let next = offset + used as u64;
                let out = ReadFileOut {
                    file: format!("{computer}:{}", c.path),
                    offset,
                    bytes: used,
                    size: c.size,
                    encoding,
                    content,
                    next_offset: (next < c.size).then_some(next),
                };
                let more = match out.next_offset {
                    Some(n) => format!("; more from offset {n}"),
                    None => String::new(),
                };
                let text = format!(
                    "{} bytes {offset}..{next} of {} ({}, {}){more}:\n{}",
                    out.file, out.size, out.bytes, out.encoding, out.content
                );
                encode(&out, text)
            }
            .await,
        )
    }

    /// Writes a whole file on a computer.
    #[tool(
        name = "write_file",
        description = "Write a file on a computer (within its files.roots), replacing it whole: give `content` (text) or `base64`. Verified by sha256 and renamed into place, never left half-written.",
        output_schema = schema_for_output::<WriteFileOut>(),
        annotations(read_only_hint = false, destructive_hint = true, open_world_hint = false)
    )]
    pub async fn write_file(
        &self,
        Parameters(p): Parameters<WriteFileParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let data = match (p.content, p.base64) {
                    (Some(t), None) => t.into_bytes(),
                    (None, Some(b)) => base64::engine::general_purpose::STANDARD
                        .decode(b.trim())
                        .map_err(|e| {
                        MeshError::BadInput(format!("base64 is not valid base64: {e}"))
                    })?,
                    _ => {
                        return Err(MeshError::BadInput(
                            "give exactly one of content (text) and base64".into(),
                        ))
                    }
                };
                let c = self.mesh().write_file(&p.computer, &p.path, data).await?;
                let out = WriteFileOut {
                    file: c.dst,
                    bytes: c.bytes,
                    sha256: c.sha256,
                };
                let text = format!(
                    "wrote {} bytes to {} (sha256 {})",
                    out.bytes, out.file, out.sha256
                );
                encode(&out, text)
            }
            .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_text_and_a_cut_character_waits_for_the_next_chunk() {
        assert_eq!(
            as_text_or_base64(b"hi", true),
            ("utf-8".into(), "hi".into(), 2)
        );
        let e = "é".as_bytes();
        assert_eq!(
            as_text_or_base64(&[b'a', e[0]], false),
            ("utf-8".into(), "a".into(), 1)
        );
        assert_eq!(as_text_or_base64(&[0xff, 0], true).0, "base64");
    }
}
