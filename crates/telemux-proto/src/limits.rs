//! Size limits shared by every component, so that a sender refuses what a
//! receiver would refuse, with the same words.

/// Largest encoded envelope accepted from Redis (1 MiB).
pub const MAX_ENVELOPE_BYTES: usize = 1024 * 1024;
/// Largest text accepted by `send` / `send_text` (64 KiB).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Most key names in one `keys` request.
pub const MAX_KEYS: usize = 64;
/// Largest command line (all argv bytes) for `new` and `run` (16 KiB).
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;
/// Largest stdin `run` carries to the remote command (512 KiB). It travels in
/// the request envelope, so it must fit in [`MAX_ENVELOPE_BYTES`] together with
/// the command line and the envelope's own fields, with room to spare.
pub const MAX_STDIN_BYTES: usize = 512 * 1024;
/// Longest computer or session name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Most scrollback lines `read` returns.
pub const MAX_READ_LINES: u32 = 100_000;
/// Default number of entries kept per output stream (`XADD MAXLEN ~`).
pub const DEFAULT_OUTPUT_MAXLEN: usize = 10_000;
/// Entries kept in the global event stream.
pub const EVENTS_MAXLEN: usize = 10_000;
/// Entries kept in the presence stream (heartbeats): watchers need only the
/// newest beat of each computer, so a short stream is enough.
pub const PRESENCE_MAXLEN: usize = 2_000;
/// Largest raw chunk carried in one output delta; bigger bursts are split.
pub const MAX_DELTA_RAW_BYTES: usize = 256 * 1024;

/// Returns `Err` with a [`crate::ProtoError::TooLarge`] when `size > limit`.
pub fn check(what: &'static str, size: usize, limit: usize) -> Result<(), crate::ProtoError> {
    if size > limit {
        Err(crate::ProtoError::TooLarge { what, size, limit })
    } else {
        Ok(())
    }
}
