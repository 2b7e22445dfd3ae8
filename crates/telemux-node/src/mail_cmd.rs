//! What operations ask of the mailbox task ([`crate::mailbox`]), in a leaf
//! module so that the ops, the shared state and the mailbox all import it
//! and none of them imports another for it.

use telemux_proto::{Delivery, ErrorCode, Letter};
use tokio::sync::{mpsc, oneshot};

use crate::error::OpError;

/// Requests waiting for the mailbox task, at most.
pub(crate) const QUEUE: usize = 64;
/// What operations ask of the mailbox task.
pub(crate) enum MailCmd {
    /// Queue a letter sent by `by`.
    Enqueue {
        letter: Letter,
        by: String,
        reply: oneshot::Sender<Result<Delivery, OpError>>,
    },
    /// Entries, of one session or all.
    List {
        session: Option<String>,
        reply: oneshot::Sender<Vec<Delivery>>,
    },
    /// Retry a dead or expired entry.
    Retry {
        id: String,
        reply: oneshot::Sender<Result<Delivery, OpError>>,
    },
    /// A session is being renamed: leave its messages alone until
    /// `Renamed` (answered once no step on them is under way).
    Hold {
        session: String,
        reply: oneshot::Sender<()>,
    },
    /// The rename of `from` is over: its messages follow it to `to`
    /// (`None`: the rename failed), and are looked at again.
    Renamed {
        from: String,
        to: Option<String>,
        reply: oneshot::Sender<()>,
    },
    /// Drop an entry not delivered yet.
    Drop {
        id: String,
        reply: oneshot::Sender<Result<Delivery, OpError>>,
    },
}

/// Sends a request to the mailbox task through `mailbox` and waits for its answer.
pub(crate) async fn ask<T>(
    mailbox: &mpsc::Sender<MailCmd>,
    make: impl FnOnce(oneshot::Sender<T>) -> MailCmd,
) -> Result<T, OpError> {
    let (tx, rx) = oneshot::channel();
    let gone = || OpError::new(ErrorCode::Internal, "the mailbox is shutting down");
    mailbox.send(make(tx)).await.map_err(|_| gone())?;
    rx.await.map_err(|_| gone())
}
