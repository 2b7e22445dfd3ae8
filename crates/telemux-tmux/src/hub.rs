//! [`ControlHub`]: ONE control-mode client for the whole tmux server, and
//! [`ControlClient`], a session's subscription to it.
//!
//! Why one client, not one per session: tmux 3.3a (Debian 12, Raspberry Pi
//! OS) dereferences a NULL `control_state` in `control_write` when a
//! notification (`%client-detached`, `%sessions-changed`, ...) fires while a
//! control client is between its first identify message and the last: the
//! identify messages that carry file descriptors end a socket read, so the
//! server runs its command queue in between. An ASAN build of 3.3a under the
//! churn test caught it (`control_write` ← `control_notify_client_detached`;
//! fixed in tmux 3.7: upstream commit e5a2a25f, tmux issue 4980). Attaching
//! a client for every new session while others detach hit that window every
//! few minutes; one client
//! attached when the server is set up leaves it open only at that moment. It
//! also halves the processes per session.
//!
//! How: tmux sends `%output` only for panes of windows in the client's own
//! session, so the hub attaches to a session of its own, [`HUB_SESSION`] (a
//! name telemux never gives a session, so listings skip it), and each watched
//! session's window is linked into it. Output is routed by pane id to that
//! session's [`Sink`]. A linked window outlives `kill-session`, so
//! [`Tmux::kill_session`] kills the session's windows, and windows left only
//! in the hub (a session killed with plain tmux) are killed when tmux says
//! the sessions changed. Only the panes a window had when it was subscribed
//! are routed (telemux sessions have one).

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use telemux_proto::SessionName;
use tokio::io::{AsyncRead, BufReader};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::command::target;
use crate::control::{read_line_capped, unescape_into, Batch, Sink};
use crate::{Result, Tmux, TmuxError};

/// The hub's own session: it holds a dead placeholder pane (so the session
/// exists with nothing linked) and a link to every watched session's window.
pub const HUB_SESSION: &str = "_telemux";

/// Window option marking the placeholder, so it is never collected as an orphan.
const PLACEHOLDER_MARK: &str = "@telemux_hub";

/// Retry delays while no tmux server runs or the hub cannot attach.
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// How long a subscription waits for the hub to be attached.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// Which sink each pane's output goes to, and which sinks each window ends.
#[derive(Default)]
struct Routes {
    panes: HashMap<String, Vec<Arc<Sink>>>,
    windows: HashMap<String, Vec<Arc<Sink>>>,
}

impl Routes {
    fn remove(&mut self, sink: &Arc<Sink>) {
        for map in [&mut self.panes, &mut self.windows] {
            map.retain(|_, v| {
                v.retain(|s| !Arc::ptr_eq(s, sink));
                !v.is_empty()
            });
        }
    }
}

struct Inner {
    tmux: Tmux,
    routes: Mutex<Routes>,
    /// `true` while the hub's client is attached.
    attached: watch::Sender<bool>,
    /// Poked on `%sessions-changed`: look for windows left only in the hub.
    collect: Notify,
}

/// The server-wide control client; cheap to clone. [`ControlHub::run`]
/// keeps it attached; [`ControlClient::attach`] subscribes a session.
#[derive(Clone)]
pub struct ControlHub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ControlHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlHub")
            .field("attached", &*self.inner.attached.borrow())
            .finish()
    }
}

fn lock(m: &Mutex<Routes>) -> MutexGuard<'_, Routes> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ControlHub {
    /// A hub for `tmux`'s server; it attaches once [`ControlHub::run`] runs.
    pub fn new(tmux: Tmux) -> ControlHub {
        ControlHub {
            inner: Arc::new(Inner {
                tmux,
                routes: Mutex::default(),
                attached: watch::channel(false).0,
                collect: Notify::new(),
            }),
        }
    }

    /// Keeps the hub attached until `shutdown`: sets up the server and the
    /// hub session when missing, attaches, routes output, and attaches again
    /// (with backoff) after the client or the server went away. Every
    /// subscription ends when the client does, so its watcher re-checks its
    /// session and subscribes again.
    pub async fn run(self, shutdown: CancellationToken) {
        let collector = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
            self.clone().collect_loop(shutdown.clone()),
        ));
        let mut delay = RETRY_MIN;
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            match self.attach_once(&shutdown).await {
                Ok(()) => {
                    delay = RETRY_MIN;
                    failures = 0;
                }
                Err(e) => {
                    failures += 1;
                    // Once, then every ~30 tries: a server away for long is not news.
                    if failures == 1 || failures.is_multiple_of(30) {
                        tracing::warn!(socket = self.inner.tmux.socket(), error = %e, "control hub cannot attach");
                    }
                }
            }
            self.detached();
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
        self.detached();
        drop(collector);
    }

    /// One attachment, from set-up to the client's end.
    async fn attach_once(&self, shutdown: &CancellationToken) -> Result<()> {
        let tmux = &self.inner.tmux;
        tmux.ensure_server().await?;
        self.ensure_session().await?;
        let mut child = tmux
            .command()
            .args(["-C", "attach-session", "-t", &format!("={HUB_SESSION}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(TmuxError::Spawn)?;
        // Held open: a control client exits when its stdin closes.
        let _stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or_else(|| TmuxError::Io {
            what: "control hub stdout".into(),
            source: std::io::Error::other("not piped"),
        })?;
        tokio::select! {
            _ = shutdown.cancelled() => {}
            r = self.read(stdout) => r?,
        }
        let _ = child.kill().await;
        Ok(())
    }

    /// Creates the hub session with its dead placeholder pane, unless it exists.
    async fn ensure_session(&self) -> Result<()> {
        let tmux = &self.inner.tmux;
        let hub = format!("={HUB_SESSION}");
        if tmux.run(&["has-session", "-t", &hub]).await.is_ok() {
            return Ok(());
        }
        let made = tmux
            .run(&[
                "new-session",
                "-d",
                "-s",
                HUB_SESSION,
                "-n",
                "hub",
                "-x",
                "80",
                "-y",
                "24",
                "exit 0",
                ";",
                "set-option",
                "-w",
                "-t",
                &format!("{hub}:"),
                PLACEHOLDER_MARK,
                "1",
            ])
            .await;
        match made {
            Err(TmuxError::Command { stderr, .. }) if stderr.contains("duplicate session") => {
                Ok(())
            }
            r => r.map(drop),
        }
    }

    /// Reads the client's lines until it ends; `Err` if tmux refused the attach.
    async fn read(&self, stdout: impl AsyncRead + Unpin) -> Result<()> {
        let mut reader = BufReader::with_capacity(64 * 1024, stdout);
        let mut line = Vec::with_capacity(8 * 1024);
        let mut bytes = Vec::with_capacity(8 * 1024);
        loop {
            line.clear();
            match read_line_capped(&mut reader, &mut line).await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => {
                    return Err(TmuxError::Io {
                        what: "control hub output".into(),
                        source: e,
                    })
                }
            }
            if let Some(rest) = line.strip_prefix(b"%output ") {
                // `%output %<pane> <escaped bytes>`
                let Some(i) = rest.iter().position(|&b| b == b' ') else {
                    continue;
                };
                let pane = String::from_utf8_lossy(&rest[..i]);
                bytes.clear();
                unescape_into(&rest[i + 1..], &mut bytes);
                let routes = lock(&self.inner.routes);
                for sink in routes.panes.get(pane.as_ref()).into_iter().flatten() {
                    sink.push(&bytes);
                }
            } else if let Some(w) = line
                .strip_prefix(b"%window-close ")
                .or_else(|| line.strip_prefix(b"%unlinked-window-close "))
            {
                self.window_closed(&String::from_utf8_lossy(w));
            } else if line.starts_with(b"%sessions-changed") {
                self.inner.collect.notify_one();
            } else if line.starts_with(b"%end ") {
                // The attach command's reply: from now on output is routed.
                self.inner.attached.send_replace(true);
            } else if line.starts_with(b"%error ") && !*self.inner.attached.borrow() {
                return Err(TmuxError::Command {
                    subcommand: format!("-C attach-session -t ={HUB_SESSION}"),
                    stderr: "tmux refused the control hub's attach".into(),
                });
            } else if line.starts_with(b"%exit") {
                return Ok(());
            }
        }
    }

    /// Ends the subscriptions of a window that closed.
    fn window_closed(&self, window: &str) {
        let mut routes = lock(&self.inner.routes);
        if let Some(sinks) = routes.windows.remove(window) {
            for sink in &sinks {
                sink.end();
                routes.remove(sink);
            }
        }
    }

    /// The client is gone: every subscription ends (its watcher re-checks).
    fn detached(&self) {
        self.inner.attached.send_replace(false);
        let routes = std::mem::take(&mut *lock(&self.inner.routes));
        for sink in routes.windows.values().flatten() {
            sink.end();
        }
    }

    /// Kills windows that only the hub still holds (their session was killed
    /// with plain tmux), each time tmux says the sessions changed.
    async fn collect_loop(self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.inner.collect.notified() => {}
            }
            let tmux = &self.inner.tmux;
            let format =
                format!("#{{window_id}} #{{window_linked_sessions}} #{{{PLACEHOLDER_MARK}}}");
            let Ok(out) = tmux
                .run(&[
                    "list-windows",
                    "-t",
                    &format!("={HUB_SESSION}"),
                    "-F",
                    &format,
                ])
                .await
            else {
                continue;
            };
            let mut args: Vec<&str> = Vec::new();
            for l in out.lines() {
                let f: Vec<&str> = l.split(' ').collect();
                if let [id, "1", ""] = f[..] {
                    if !args.is_empty() {
                        args.push(";");
                    }
                    args.extend(["kill-window", "-t", id]);
                }
            }
            if !args.is_empty() {
                tracing::debug!(socket = tmux.socket(), windows = ?args, "killing windows left only in the control hub");
                let _ = tmux.run(&args).await;
            }
        }
    }

    /// Waits (bounded) until the client is attached.
    async fn wait_attached(&self) -> Result<()> {
        let mut rx = self.inner.attached.subscribe();
        let attached = tokio::time::timeout(CONNECT_WAIT, rx.wait_for(|a| *a))
            .await
            .map(|r| r.is_ok());
        match attached {
            Ok(true) => Ok(()),
            _ => Err(TmuxError::Io {
                what: "control hub".into(),
                source: std::io::Error::other(format!(
                    "not attached to the tmux server within {} s",
                    CONNECT_WAIT.as_secs()
                )),
            }),
        }
    }
}

/// A session's subscription to the hub: its output live, bounded.
#[derive(Debug)]
pub struct ControlClient {
    sink: Arc<Sink>,
    hub: ControlHub,
    cancel: CancellationToken,
}

impl ControlClient {
    /// Subscribes session `s`: routes its panes' output here and links its
    /// window into the hub (once). Output printed before this returns is not
    /// delivered (the wrapper holds a new command until the node says go).
    ///
    /// The subscription ends (`exited`) when the window closes, when the hub
    /// loses its client, or when `cancel` fires; dropping it unsubscribes.
    pub async fn attach(
        hub: &ControlHub,
        s: &SessionName,
        cancel: CancellationToken,
    ) -> Result<ControlClient> {
        // Not past `cancel`: at shutdown the hub is gone and will not come back.
        tokio::select! {
            r = hub.wait_attached() => r?,
            _ = cancel.cancelled() => return Err(TmuxError::Io {
                what: "control hub".into(),
                source: std::io::Error::other("the node is stopping"),
            }),
        }
        let tmux = &hub.inner.tmux;
        let format = "#{window_id} #{pane_id} #{window_linked_sessions_list}";
        let out = tmux
            .run_on(s, &["list-panes", "-t", &target(s), "-F", format])
            .await?;
        let mut window = None;
        let mut panes = Vec::new();
        let mut linked = false;
        for l in out.lines() {
            let mut f = l.splitn(3, ' ');
            let (Some(w), Some(p)) = (f.next(), f.next()) else {
                continue;
            };
            linked |= f.next().unwrap_or("").split(',').any(|n| n == HUB_SESSION);
            window = Some(w.to_string());
            panes.push(p.to_string());
        }
        let window = window.ok_or_else(|| TmuxError::NoSession(s.to_string()))?;
        let sink = Arc::new(Sink::default());
        {
            let mut routes = lock(&hub.inner.routes);
            for p in panes {
                routes.panes.entry(p).or_default().push(sink.clone());
            }
            routes
                .windows
                .entry(window.clone())
                .or_default()
                .push(sink.clone());
        }
        let client = ControlClient {
            sink,
            hub: hub.clone(),
            cancel,
        };
        if !linked {
            let to = format!("={HUB_SESSION}:");
            tmux.run_on(s, &["link-window", "-d", "-s", &window, "-t", &to])
                .await?;
        }
        if !*hub.inner.attached.borrow() {
            // Detached between the wait and the routes: a clean end now.
            client.sink.end();
        }
        Ok(client)
    }

    /// Waits until output is pending (or the subscription ended) and takes
    /// all of it. After the end, every call returns at once with `exited`.
    pub async fn next_batch(&self) -> Batch {
        tokio::select! {
            b = self.sink.next_batch() => b,
            _ = self.cancel.cancelled() => {
                self.sink.end();
                self.sink.try_batch().unwrap_or_default()
            }
        }
    }

    /// Takes pending output without waiting; `None` when there is nothing new.
    pub fn try_batch(&self) -> Option<Batch> {
        self.sink.try_batch()
    }
}

impl Drop for ControlClient {
    fn drop(&mut self) {
        lock(&self.hub.inner.routes).remove(&self.sink);
    }
}
