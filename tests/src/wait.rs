//! Polling with a deadline, instead of `sleep` and hope.
//!
//! End-to-end tests observe other processes, so every "eventually" is a poll of a
//! predicate until it holds or a generous timeout passes. On timeout the test panics
//! with what it was waiting for and the last thing it saw, which is usually enough to
//! diagnose a failure from the CI log alone.
//!
//! A predicate returns anything that implements [`Probe`]: `bool`, `Option<T>` (ready
//! with `T` when `Some`), or `Result<T, E: Debug>` (ready with `T` when `Ok`; the last
//! `Err` is printed on timeout — use it to report what was observed).

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// How often predicates are polled: fast enough for "within tens of milliseconds"
/// checks to be meaningful, slow enough not to hog the 2 CI cores.
pub const POLL_EVERY: Duration = Duration::from_millis(25);

/// The outcome of one poll: ready with a value, or not yet (with what was observed).
pub trait Probe {
    /// What [`wait_until`] returns once the probe is ready.
    type Ready;
    /// `Ok` when ready; `Err(Some(observed))` or `Err(None)` when not yet.
    fn probe(self) -> Result<Self::Ready, Option<String>>;
}

impl Probe for bool {
    type Ready = ();
    fn probe(self) -> Result<(), Option<String>> {
        if self {
            Ok(())
        } else {
            Err(None)
        }
    }
}

impl<T> Probe for Option<T> {
    type Ready = T;
    fn probe(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T, E: Debug> Probe for Result<T, E> {
    type Ready = T;
    fn probe(self) -> Result<T, Option<String>> {
        self.map_err(|observed| Some(format!("{observed:?}")))
    }
}

/// Polls the async predicate `f` every [`POLL_EVERY`] until it is ready, and returns
/// its value; panics with `timed out after Xs waiting for <what>` after `timeout`.
pub async fn wait_until<F, Fut, P>(what: &str, timeout: Duration, mut f: F) -> P::Ready
where
    F: FnMut() -> Fut,
    Fut: Future<Output = P>,
    P: Probe,
{
    let start = Instant::now();
    loop {
        let last = match f().await.probe() {
            Ok(ready) => return ready,
            Err(last) => last,
        };
        if start.elapsed() >= timeout {
            timed_out(what, start, last);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// [`wait_until`] for synchronous predicates and non-async tests.
pub fn wait_until_blocking<F, P>(what: &str, timeout: Duration, mut f: F) -> P::Ready
where
    F: FnMut() -> P,
    P: Probe,
{
    let start = Instant::now();
    loop {
        let last = match f().probe() {
            Ok(ready) => return ready,
            Err(last) => last,
        };
        if start.elapsed() >= timeout {
            timed_out(what, start, last);
        }
        std::thread::sleep(POLL_EVERY);
    }
}

fn timed_out(what: &str, start: Instant, last: Option<String>) -> ! {
    let secs = start.elapsed().as_secs_f64();
    match last {
        Some(last) => {
            panic!("timed out after {secs:.1}s waiting for {what}; last observed: {last}")
        }
        None => panic!("timed out after {secs:.1}s waiting for {what}"),
    }
}
