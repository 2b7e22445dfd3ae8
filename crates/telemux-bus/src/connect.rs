//! The connection to Redis: [`Bus`], a cheap-to-clone handle shared by every
//! part of a process, plus dedicated connections for blocking stream reads.
//!
//! fred multiplexes all commands of one client over one connection, so a
//! `XREAD BLOCK` on the shared client would stall every other command behind
//! it. Blocking readers therefore get their own [`Dedicated`] connection and
//! block at most [`MAX_BLOCK`] per call, so that dropping or cancelling them
//! is prompt. Both kinds reconnect by themselves forever with a backoff capped
//! at one second; only the very first connection fails fast, so a wrong URL is
//! reported at startup instead of retried silently.
//!
//! Every background task the bus starts (a dedicated connection's
//! first-connection retries, a [`crate::Requester`]'s reply listener, the
//! closing of a dropped dedicated connection) is spawned into the bus's own
//! [`TaskTracker`] under a child of its [`CancellationToken`]: dropping the last
//! [`Bus`] handle cancels them, and [`Bus::quit`] cancels them and waits for
//! them (bounded) before closing the shared connection.
//!
//! [`Bus::connect_with`] takes [`ConnectOptions`] for what a URL cannot say:
//! a private CA and a client certificate for `rediss://` ([`TlsOptions`]).
//! ACL users need nothing extra: `rediss://user:password@host:port` is sent
//! as `AUTH user password` (fred percent-decodes both).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use fred::{
    prelude::*,
    types::{ClusterHash, CustomCommand},
};

use tokio_util::{
    sync::{CancellationToken, DropGuard},
    task::TaskTracker,
};

use crate::{tls::TlsOptions, BusError};

/// Longest single `BLOCK` of a stream read; longer waits loop, so cancellation stays prompt.
pub(crate) const MAX_BLOCK: Duration = Duration::from_millis(1500);
/// How long the first connection may take before `connect` gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(2500);
/// Said when a `rediss://` connection times out: a plain Redis never answers a TLS hello.
const NOT_TLS_HINT: &str = " (if that port does not speak TLS, use redis:// or Redis' tls-port)";
/// Timeout of ordinary (non-blocking) commands, so a dead Redis yields an error rather than a hang.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Bus::quit`] waits for the bus's background tasks to end.
const TASKS_WAIT: Duration = Duration::from_secs(2);
/// How long a failed `connect` waits for fred to take its `QUIT`: the command is
/// queued on the first poll, so the wait only bounds the (unread) reply.
const ABANDON_WAIT: Duration = Duration::from_millis(100);

/// Handle to the telemux Redis. Clone it freely: clones share one connection.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<BusInner>,
}

struct BusInner {
    client: Client,
    redacted_url: String,
    config: Config,
    /// Owns every background task of this bus (see the module docs).
    tasks: TaskTracker,
    /// Parent of every background task's token; cancelled when the last handle goes.
    stop: CancellationToken,
}

impl Drop for BusInner {
    fn drop(&mut self) {
        // Drop-guard shutdown: nothing the bus started outlives the last handle.
        self.stop.cancel();
        self.tasks.close();
    }
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("url", &self.inner.redacted_url)
            .finish()
    }
}

/// How [`Bus::connect_with`] connects, beyond what the URL says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Private CA and client certificate for `rediss://`.
    pub tls: TlsOptions,
}

impl Bus {
    /// Connects to `url` (`redis://`, `rediss://`, `redis+unix://`, `unix://`), failing within ~3 s if unreachable.
    pub async fn connect(url: &str) -> Result<Bus, BusError> {
        Bus::connect_with(url, &ConnectOptions::default()).await
    }

    /// Like [`Bus::connect`], with a private CA and/or client certificate for `rediss://`.
    ///
    /// TLS files with a URL that is not `rediss://` are an error rather than
    /// ignored: whoever set them expects the connection to be encrypted.
    pub async fn connect_with(url: &str, options: &ConnectOptions) -> Result<Bus, BusError> {
        let redacted = redact_url(url);
        let unreachable = |cause: String| BusError::Unreachable {
            url: redacted.clone(),
            cause,
        };
        let normalized = normalize_url(url);
        check_url(&normalized).map_err(|problem| BusError::BadUrl {
            url: redacted.clone(),
            problem: problem.to_string(),
        })?;
        let tls_url = normalized.starts_with("rediss");
        let tls = options.tls.clone();
        tls.check()?;
        if !tls.is_empty() && !tls_url {
            return Err(BusError::Tls(format!(
                "TLS files are configured ({}, {}, {}) but {redacted} does not use TLS: use a rediss:// URL",
                crate::tls::CA_FILE_KEY,
                crate::tls::CERT_FILE_KEY,
                crate::tls::KEY_FILE_KEY
            )));
        }
        if tls_url {
            // Another crate in the binary may enable a second rustls provider; pick ours
            // explicitly so rustls never has to guess (it panics when it cannot).
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        // Building a TLS config reads certificate files (or the system store) from disk.
        let (files, shown) = (tls.clone(), redacted.clone());
        let config = tokio::task::spawn_blocking(move || config_for(&normalized, &shown, &files))
            .await
            .map_err(|e| unreachable(e.to_string()))??;
        let client = build_client(config.clone());
        match tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_millis(500), client.init())
            .await
        {
            Ok(Ok(_task)) => {}
            Ok(Err(e)) => {
                let mut cause = crate::error::describe(&e);
                if tls_url {
                    if let Some((cause, hint)) = crate::tls::explain_handshake(&cause, &tls) {
                        return Err(BusError::TlsHandshake {
                            url: redacted,
                            cause,
                            hint,
                        });
                    }
                    if e.kind() == &fred::error::ErrorKind::Timeout {
                        cause.push_str(NOT_TLS_HINT);
                    }
                }
                return Err(unreachable(cause));
            }
            Err(_) => {
                // fred keeps reconnecting until told to quit; no bus exists to own a
                // task for that, so queue the QUIT here and wait only briefly.
                let _ = tokio::time::timeout(ABANDON_WAIT, client.quit()).await;
                let tls_hint = if tls_url { NOT_TLS_HINT } else { "" };
                return Err(unreachable(format!(
                    "no answer within {} ms{tls_hint}",
                    CONNECT_TIMEOUT.as_millis() + 500
                )));
            }
        }
        tracing::debug!(url = %redacted, "connected to Redis");
        Ok(Bus {
            inner: Arc::new(BusInner {
                client,
                redacted_url: redacted,
                config,
                tasks: TaskTracker::new(),
                stop: CancellationToken::new(),
            }),
        })
    }

    /// The URL this bus was opened with, password replaced by `***` (safe to log).
    pub fn redacted_url(&self) -> &str {
        &self.inner.redacted_url
    }

    /// Round-trip time of one `PING`.
    pub async fn ping(&self) -> Result<Duration, BusError> {
        let start = Instant::now();
        let _: String = self
            .client()
            .ping(None)
            .await
            .map_err(|e| BusError::redis("pinging Redis", &e))?;
        Ok(start.elapsed())
    }

    /// Redis server clock (`TIME`) in ms since the epoch; lets `doctor` measure clock skew.
    pub async fn server_time_ms(&self) -> Result<u64, BusError> {
        let cmd = CustomCommand::new_static("TIME", ClusterHash::Random, false);
        let v: Vec<Value> = self
            .client()
            .custom(cmd, Vec::<Value>::new())
            .await
            .map_err(|e| BusError::redis("reading the Redis clock", &e))?;
        let num = |i: usize| -> Option<u64> { v.get(i)?.as_str()?.parse().ok() };
        match (num(0), num(1)) {
            (Some(secs), Some(micros)) => Ok(secs * 1000 + micros / 1000),
            _ => Err(BusError::UnexpectedReply(format!(
                "Redis answered TIME with something unexpected: {v:?}"
            ))),
        }
    }

    /// The Redis server's version (`INFO server` → `redis_version`), e.g. `7.0.15`.
    pub async fn server_version(&self) -> Result<String, BusError> {
        let cmd = CustomCommand::new_static("INFO", ClusterHash::Random, false);
        let info: String = self
            .client()
            .custom(cmd, vec!["server"])
            .await
            .map_err(|e| BusError::redis("reading the Redis server version", &e))?;
        info.lines()
            .find_map(|l| l.trim().strip_prefix("redis_version:"))
            .map(str::to_string)
            .ok_or_else(|| BusError::UnexpectedReply("INFO server has no redis_version".into()))
    }

    /// Closes the connection gracefully (pending commands finish first).
    ///
    /// First cancels the bus's background tasks (reply listeners, connection
    /// retries) and waits up to two seconds for them to end.
    pub async fn quit(&self) -> Result<(), BusError> {
        self.inner.stop.cancel();
        self.inner.tasks.close();
        if tokio::time::timeout(TASKS_WAIT, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::debug!(url = %self.inner.redacted_url, "bus tasks still running at quit");
        }
        self.client()
            .quit()
            .await
            .map_err(|e| BusError::redis("closing the Redis connection", &e))
    }

    /// The shared, multiplexed client for ordinary commands.
    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    /// A token for a new background task: cancelled with the bus, or earlier by its own owner.
    pub(crate) fn child_token(&self) -> CancellationToken {
        self.inner.stop.child_token()
    }

    /// Spawns a background task owned by this bus (tracked; awaited by [`Bus::quit`]).
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.inner.tasks.spawn(task);
    }

    /// A new connection of its own, for blocking reads; it connects in the background.
    ///
    /// With `fail_fast` off fred would sleep one reconnect delay before even
    /// the first attempt, and a CLI's reply listener waits for this
    /// connection. So the first attempt goes out at once (`fail_fast` on), and
    /// while Redis is away (we are past startup, it may be restarting) we keep
    /// retrying here. Once connected, fred's policy handles every later drop.
    /// Commands issued meanwhile wait in fred's queue.
    pub(crate) fn dedicated(&self) -> Dedicated {
        let mut config = self.inner.config.clone();
        config.fail_fast = true;
        let client = build_client(config);
        let stop = self.child_token();
        let (c, s) = (client.clone(), stop.clone());
        self.spawn(async move {
            let mut delay = Duration::from_millis(5);
            loop {
                let attempt = tokio::select! {
                    _ = s.cancelled() => return,
                    r = c.init() => r,
                };
                let Err(e) = attempt else { return };
                tracing::debug!(error = %e, "dedicated Redis connection: first attempt failed; retrying");
                tokio::select! {
                    _ = s.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        });
        Dedicated {
            client,
            bus: self.clone(),
            _stop: stop.drop_guard(),
        }
    }
}

/// fred's config for `url`, with our own TLS connector when TLS files are set.
///
/// `Config::from_url` would build fred's default TLS config for `rediss://`
/// (system store, no client certificate; failing when the store is empty), so
/// when TLS files are set the URL is parsed as `redis://` and our TLS config
/// set afterwards.
fn config_for(url: &str, redacted: &str, tls: &TlsOptions) -> Result<Config, BusError> {
    let invalid = |e: fred::error::Error| BusError::Unreachable {
        url: redacted.to_string(),
        cause: format!("invalid Redis URL: {}", e.details()),
    };
    if tls.is_empty() {
        return Config::from_url(url).map_err(invalid);
    }
    let plain = match url.strip_prefix("rediss") {
        Some(rest) => format!("redis{rest}"),
        None => url.to_string(),
    };
    let mut config = Config::from_url(&plain).map_err(invalid)?;
    let client_config = tls.client_config()?;
    config.tls = Some(fred::types::config::TlsConnector::from(client_config).into());
    Ok(config)
}

fn build_client(config: Config) -> Client {
    let mut builder = Builder::from_config(config);
    // Reconnects after a drop: quick at first (a Redis restart takes a
    // moment), doubling to one attempt a second during a longer outage.
    let mut policy = ReconnectPolicy::new_exponential(0, 5, 1000, 2);
    policy.set_jitter(10);
    builder
        .set_policy(policy)
        .with_connection_config(|c| {
            c.connection_timeout = CONNECT_TIMEOUT;
            c.internal_command_timeout = CONNECT_TIMEOUT;
            c.tcp.nodelay = Some(true);
            // Blocking reads last at most MAX_BLOCK, so anything silent far longer is a dead link.
            c.unresponsive.max_timeout = Some(MAX_BLOCK + Duration::from_secs(10));
            c.unresponsive.interval = Duration::from_secs(2);
        })
        .with_performance_config(|p| {
            p.default_command_timeout = COMMAND_TIMEOUT;
        });
    // Only the config can make build() fail, and Config::from_url already checked it.
    builder.build().expect("fred client from a parsed config")
}

/// A private connection used by one blocking reader; closed when dropped.
pub(crate) struct Dedicated {
    client: Client,
    /// Owns the retry and closing tasks; kept so the bus outlives its readers.
    bus: Bus,
    /// Ends the first-connection retries when the reader goes away.
    _stop: DropGuard,
}

impl Dedicated {
    /// The client of this connection.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Per-command options for a read blocking up to `block`.
    pub(crate) fn blocking_options(block: Duration) -> Options {
        Options {
            timeout: Some(block + COMMAND_TIMEOUT),
            ..Options::default()
        }
    }
}

impl Drop for Dedicated {
    fn drop(&mut self) {
        // Without quit() fred's connection task (unlimited reconnects) would live forever.
        // Not selected on the bus's token: closing is short and must happen anyway.
        if tokio::runtime::Handle::try_current().is_ok() {
            let c = self.client.clone();
            self.bus.spawn(async move {
                let _ = c.quit().await;
            });
        }
    }
}

/// Rewrites URL spellings fred does not know (`unix:///path`) into ones it does.
fn normalize_url(url: &str) -> String {
    match url.strip_prefix("unix://") {
        Some(rest) => format!("redis+unix://{rest}"),
        None => url.to_string(),
    }
}

/// Why a `redis.url` cannot be a telemux Redis URL, in words; fred's own parse
/// errors name Rust internals, and some mistakes (`http://`, an IPv4 address
/// like `256.1.1.1`) it does not catch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    /// Not even a scheme (`garbage`).
    #[error("it has no scheme such as redis://")]
    NoScheme,
    /// A dotted-number host that is no IPv4 address.
    #[error("{0} is not a valid IPv4 address")]
    BadIpv4(String),
    /// A port outside 1–65535.
    #[error("the port is not a number from 1 to 65535")]
    BadPort,
    /// Any other parse failure.
    #[error("it does not parse as a URL ({0})")]
    Unparsable(url::ParseError),
    /// `redis://` or `rediss://` without a host.
    #[error("it names no host")]
    NoHost,
    /// `redis+unix://` without a path.
    #[error("it names no socket path")]
    NoSocketPath,
    /// A scheme telemux does not speak (`http`).
    #[error("telemux does not speak {0}://")]
    Scheme(String),
}

/// Checks `url` (already through [`normalize_url`]).
fn check_url(url: &str) -> Result<(), UrlProblem> {
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => return Err(UrlProblem::NoScheme),
        Err(url::ParseError::InvalidIpv4Address) => {
            return Err(UrlProblem::BadIpv4("the host".into()))
        }
        Err(url::ParseError::InvalidPort) => return Err(UrlProblem::BadPort),
        Err(e) => return Err(UrlProblem::Unparsable(e)),
    };
    match parsed.scheme() {
        "redis" | "rediss" => {
            let host = parsed.host_str().unwrap_or_default();
            if host.is_empty() {
                return Err(UrlProblem::NoHost);
            }
            // redis:// is not a "special" scheme to the url crate, so it
            // does not check dotted numbers; a resolver would then fail with
            // an obscure lookup error.
            let dotted = host.chars().all(|c| c.is_ascii_digit() || c == '.');
            if dotted && host.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(UrlProblem::BadIpv4(host.to_string()));
            }
            Ok(())
        }
        "redis+unix" => {
            if parsed.path().is_empty() || parsed.path() == "/" {
                return Err(UrlProblem::NoSocketPath);
            }
            Ok(())
        }
        other => Err(UrlProblem::Scheme(other.to_string())),
    }
}

/// Replaces the password of a Redis URL by `***`, so it can be shown and logged.
///
/// The password may contain `/`, `?` or `#` unencoded (the URL is then invalid,
/// and exactly then it is printed in an error), so the user info ends at the
/// last `@`, not at the first `/`. Query parameters naming a password
/// (`password=`, `sentinelPassword=`) are masked too.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // A unix socket path (`redis+unix:///run/a@b.sock`) has no user info.
    let (authority, tail) = match rest.rfind('@').filter(|_| !rest.starts_with('/')) {
        Some(at) => rest.split_at(at),
        None => ("", rest),
    };
    let masked = match authority.split_once(':') {
        _ if authority.is_empty() => String::new(),
        Some((user, _password)) => format!("{user}:***"),
        // `redis://secret@host` is a common way to give only a password.
        None => "***".to_string(),
    };
    format!("{scheme}://{masked}{}", redact_query(tail))
}

/// Masks the values of query parameters whose name mentions a password.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.to_ascii_lowercase().contains("pass") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_urls_are_explained() {
        for ok in [
            "redis://127.0.0.1:6379",
            "redis://u:p@h/2",
            "rediss://h:6380",
            "redis+unix:///tmp/r.sock",
        ] {
            assert_eq!(check_url(&normalize_url(ok)), Ok(()), "{ok}");
        }
        assert_eq!(check_url(&normalize_url("unix:///tmp/r.sock")), Ok(()));
        let why = |u: &str| check_url(&normalize_url(u)).unwrap_err().to_string();
        assert!(why("garbage").contains("no scheme"));
        assert!(why("redis://256.1.1.1:5").contains("IPv4"));
        assert!(why("http://127.0.0.1:6379").contains("http://"));
        assert!(why("redis://h:99999").contains("port"));
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_url("redis://user:pa:ss@h:6379/2"),
            "redis://user:***@h:6379/2"
        );
        assert_eq!(redact_url("rediss://:pw@h"), "rediss://:***@h");
        assert_eq!(redact_url("redis://pw@h"), "redis://***@h");
        assert_eq!(redact_url("redis://h:1/0"), "redis://h:1/0");
        assert_eq!(
            redact_url("redis+unix:///tmp/r.sock"),
            "redis+unix:///tmp/r.sock"
        );
        assert_eq!(normalize_url("unix:///tmp/x"), "redis+unix:///tmp/x");
        // Unencoded `/ ? #` in a password, and passwords in the query.
        assert_eq!(
            redact_url("redis://:se/cr?et#x@h:1/0"),
            "redis://:***@h:1/0"
        );
        assert_eq!(redact_url("redis://u:a@b@h"), "redis://u:***@h");
        assert_eq!(
            redact_url("redis+unix:///run/a@b.sock?db=1&password=pw"),
            "redis+unix:///run/a@b.sock?db=1&password=***"
        );
        assert_eq!(
            redact_url("redis-sentinel://h:1/0?sentinelServiceName=m&sentinelPassword=pw"),
            "redis-sentinel://h:1/0?sentinelServiceName=m&sentinelPassword=***"
        );
    }
}
