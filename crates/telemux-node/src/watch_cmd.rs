//! What operations ask of one session's watcher (`crate::session`), in a
//! leaf module so that the ops, the shared state and the watcher all import
//! it and none of them imports another for it.

use telemux_proto::SessionName;
use tokio::sync::oneshot;

use crate::error::OpError;

/// Requests waiting for one watcher, at most (renames are rare).
pub(crate) const QUEUE: usize = 4;

/// What operations ask of a session's watcher: changes that must be
/// ordered with the records it publishes.
pub(crate) enum WatchCmd {
    /// Rename the session to `to`, asked for by `by`; `over_pointer`: the
    /// new name's stream key holds only an earlier rename's pointer.
    Rename {
        to: SessionName,
        over_pointer: bool,
        by: String,
        reply: oneshot::Sender<Result<(), OpError>>,
    },
}
