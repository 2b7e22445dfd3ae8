//! Files across the mesh: the bodies of `Op::FileStat`, `Op::ReadFile` and
//! `Op::WriteFile` and their replies, and the sha256 helpers both ends use.
//!
//! A file travels in chunks of at most [`MAX_FILE_CHUNK_BYTES`], one request
//! each, so every chunk fits in one envelope. Integrity is end to end: the
//! reader of a remote file compares the sha256 it computed over the chunks
//! with the one the node computed over the file (`FileStat.sha256`); a writer
//! sends the sha256 of everything it sent with the last chunk, and the node
//! checks the file it assembled against it before renaming it into place. An
//! upload goes to `.NAME.telemux-UPLOAD_ID.part` next to the target, so the
//! target never holds a partial file.

use serde::{Deserialize, Serialize};

/// Largest chunk of file data in one request or reply (512 KiB): it fits in
/// one envelope ([`crate::limits::MAX_ENVELOPE_BYTES`]) with the path and
/// the envelope's own fields, with room to spare.
pub const MAX_FILE_CHUNK_BYTES: usize = 512 * 1024;

/// Longest upload id (it becomes part of a file name).
pub const MAX_UPLOAD_ID_LEN: usize = 64;

/// Longest path accepted in a file op, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// What a node says about a file (`Op::FileStat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// The resolved path on that computer (`~` expanded, symlinks followed).
    pub path: String,
    /// Size in bytes (0 for a directory).
    pub size: u64,
    /// Last modification, ms since the epoch.
    pub modified_ms: u64,
    /// Whether it is a directory (a copy into it keeps the source's name).
    pub is_dir: bool,
    /// sha256 of the contents (lowercase hex), when asked for and a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A part of a file (`Op::ReadFile`).
#[derive(PartialEq, Eq, Clone, Serialize, Deserialize)]
pub struct FileChunk {
    /// The resolved path on that computer.
    pub path: String,
    /// Where `data` starts in the file.
    pub offset: u64,
    /// The bytes, at most the `len` asked for and [`MAX_FILE_CHUNK_BYTES`].
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// The whole file's size when the chunk was read.
    pub size: u64,
    /// The file's modification time when read (a copier notices a file
    /// that changes under it).
    pub modified_ms: u64,
}

impl FileChunk {
    /// Whether this chunk reaches the end of the file.
    pub fn eof(&self) -> bool {
        self.offset + self.data.len() as u64 >= self.size
    }
}

impl std::fmt::Debug for FileChunk {
    // The data would flood a debug log with numbers: its length says enough.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileChunk")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .field("data_len", &self.data.len())
            .field("size", &self.size)
            .field("modified_ms", &self.modified_ms)
            .finish()
    }
}

/// One chunk of an upload (`Op::WriteFile`).
#[derive(PartialEq, Eq, Clone, Serialize, Deserialize)]
pub struct WriteChunk {
    /// The target path (`~` allowed); its directory must exist.
    pub path: String,
    /// Names this upload's temporary file: `[A-Za-z0-9_-]`, at most
    /// [`MAX_UPLOAD_ID_LEN`] bytes, the same for every chunk.
    pub upload_id: String,
    /// Where `data` goes; chunks arrive in order, the first at 0.
    pub offset: u64,
    /// The whole file's size, so a file too large is refused before any byte is written.
    pub size: u64,
    /// The bytes (at most [`MAX_FILE_CHUNK_BYTES`]).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// With the last chunk: the sha256 (lowercase hex) of the whole file.
    /// The node compares it with what it assembled, then renames the
    /// temporary file over the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<String>,
    /// Never replace an existing file: when the target's name is taken at
    /// the moment the upload is put in place, the node picks the first free
    /// one of `NAME-1.EXT`, `NAME-2.EXT`, ... (atomically: a taken name is
    /// never overwritten) and reports it as [`FileWritten::path`]. Absent
    /// (false) from older peers, which replace the target.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exclusive: bool,
    /// Create the target's missing parent directories (inside the node's
    /// `files.roots` only) with the first chunk. Absent (false) from older peers.
    #[serde(default, skip_serializing_if = "is_false")]
    pub make_dirs: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The `n`th alternative to file name `name` for an exclusive upload:
/// `report.pdf` → `report-1.pdf`, `report-2.pdf`; `notes` → `notes-1`;
/// `n` 0 is `name` itself.
pub fn numbered_name(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_string();
    }
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{}-{n}{}", &name[..i], &name[i..]),
        _ => format!("{name}-{n}"),
    }
}

impl std::fmt::Debug for WriteChunk {
    // As for FileChunk: the request is logged at debug level.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteChunk")
            .field("path", &self.path)
            .field("upload_id", &self.upload_id)
            .field("offset", &self.offset)
            .field("size", &self.size)
            .field("data_len", &self.data.len())
            .field("done", &self.done)
            .field("exclusive", &self.exclusive)
            .field("make_dirs", &self.make_dirs)
            .finish()
    }
}

/// A node's answer to a [`WriteChunk`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWritten {
    /// The target's resolved path.
    pub path: String,
    /// Bytes received so far (the file's size once `sha256` is set).
    pub size: u64,
    /// Set once the file was verified and renamed into place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Lowercase hex of `bytes` (a sha256 digest, here).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Whether `s` looks like a sha256 digest in lowercase hex.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `id` is usable as an upload id (it becomes part of a file name).
pub fn valid_upload_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_UPLOAD_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The temporary file an upload is assembled in, next to the target `name`:
/// `.NAME.telemux-UPLOAD_ID.part`.
pub fn part_name(name: &str, upload_id: &str) -> String {
    format!(".{name}.telemux-{upload_id}.part")
}

/// Whether a file name is an upload's temporary file ([`part_name`]).
pub fn is_part_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".part") && name.contains(".telemux-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Envelope, Op, Reply, ReplyBody, Request};

    #[test]
    fn a_full_chunk_fits_in_an_envelope_both_ways() {
        let req = Request {
            to: None,
            reply_to: "r".repeat(100),
            deadline_ms: 1,
            op: Op::WriteFile(WriteChunk {
                path: "p".repeat(MAX_PATH_BYTES),
                upload_id: "u".repeat(MAX_UPLOAD_ID_LEN),
                offset: u64::MAX,
                size: u64::MAX,
                data: vec![0xff; MAX_FILE_CHUNK_BYTES],
                done: Some("a".repeat(64)),
                exclusive: true,
                make_dirs: true,
            }),
        };
        let env = Envelope::seal("sender", &req).expect("a full write chunk fits");
        assert_eq!(
            Envelope::decode(&env.encode())
                .unwrap()
                .open::<Request>()
                .unwrap(),
            req
        );
        let reply = Reply {
            request_id: uuid::Uuid::nil(),
            result: ReplyBody::FileChunk(FileChunk {
                path: "p".repeat(MAX_PATH_BYTES),
                offset: u64::MAX,
                data: vec![0xff; MAX_FILE_CHUNK_BYTES],
                size: u64::MAX,
                modified_ms: u64::MAX,
            }),
        };
        Envelope::seal("node", &reply).expect("a full read chunk fits");
    }

    #[test]
    fn hex_and_names() {
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert!(is_sha256_hex(&"0f".repeat(32)));
        assert!(!is_sha256_hex(&"0F".repeat(32)));
        assert!(valid_upload_id("0190a-b_c"));
        assert!(!valid_upload_id("../x") && !valid_upload_id(""));
        assert_eq!(part_name("a.txt", "u1"), ".a.txt.telemux-u1.part");
        assert!(is_part_name(&part_name("a.txt", "u1")));
        assert!(!is_part_name("a.txt"));
        assert_eq!(numbered_name("a.txt", 0), "a.txt");
        assert_eq!(numbered_name("a.tar.gz", 2), "a.tar-2.gz");
        assert_eq!(numbered_name("notes", 1), "notes-1");
    }

    #[test]
    fn an_old_peer_without_the_new_flags_still_parses() {
        #[derive(Serialize)]
        struct Old {
            path: String,
            upload_id: String,
            offset: u64,
            size: u64,
            #[serde(with = "serde_bytes")]
            data: Vec<u8>,
        }
        let old = Old {
            path: "p".into(),
            upload_id: "u".into(),
            offset: 0,
            size: 1,
            data: vec![1],
        };
        let bytes = rmp_serde::to_vec_named(&old).unwrap();
        let c: WriteChunk = rmp_serde::from_slice(&bytes).unwrap();
        assert!(!c.exclusive && !c.make_dirs);
        // And a plain chunk does not send them at all.
        let plain = rmp_serde::to_vec_named(&c).unwrap();
        assert!(!String::from_utf8_lossy(&plain).contains("exclusive"));
    }

    #[test]
    fn chunk_debug_does_not_print_the_data() {
        let c = FileChunk {
            path: "p".into(),
            offset: 0,
            data: vec![7; 1000],
            size: 1000,
            modified_ms: 1,
        };
        assert!(format!("{c:?}").contains("data_len: 1000"));
        assert!(c.eof());
    }
}
