//! `telemux doctor`: checks what telemux depends on and says how to fix each problem.
//!
//! Every check ends as ok, a warning (works, but insecure or incomplete) or a
//! failure (something will not work); each non-ok line carries its fix. The
//! exit code is 1 when any check failed, so scripts and install guides can
//! stop on it. A config file that does not parse never gets here: loading it
//! fails first, with exit code 2 and the nearest valid key (config.rs).

use std::path::Path;
use std::time::Duration;

use frankenstein::AsyncTelegramApi;
use serde_json::json;
use telemux_bus::{Bus, BusError, TlsOptions};
use telemux_gateway::telegram::{ApiError, BotClient};
use telemux_proto::{now_ms, PROTOCOL_VERSION};

use crate::config::Config;
use crate::out::outln;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

/// One check's outcome.
struct Check {
    name: &'static str,
    level: Level,
    detail: String,
    fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            level: Level::Ok,
            detail: detail.into(),
            fix: None,
        }
    }
    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            level: Level::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            level: Level::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

const INSTALL: &str = "install it: Debian/Ubuntu/Raspberry Pi OS `sudo apt-get install -y {p}`, macOS `brew install {p}`";

/// How long doctor waits for the Telegram Bot API before calling it unreachable.
const TELEGRAM_TIMEOUT: Duration = Duration::from_secs(15);

/// Clock difference from Redis beyond which doctor fails (signed commands allow `mesh.max_skew_ms`).
const MAX_CLOCK_SKEW_MS: i64 = 5_000;

fn install(p: &str) -> String {
    INSTALL.replace("{p}", p)
}

async fn version_of(cmd: &str, arg: &str) -> Option<String> {
    let out = tokio::process::Command::new(cmd)
        .arg(arg)
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn tmux_ok(v: &str) -> bool {
    // "tmux 3.3a" → (3, 3); control mode features we use need 3.2.
    let num: String = v
        .trim_start_matches("tmux ")
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut it = num.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (maj, min) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (maj, min) >= (3, 2)
}

/// The host name exactly as the node records it (`ComputerInfo::host`), so the
/// name-taken check applies the node's own rule.
async fn hostname() -> String {
    tokio::task::spawn_blocking(telemux_node::host_name)
        .await
        .unwrap_or_default()
}

/// Whether a `redis://` URL points at this machine (so plain text never leaves it).
fn redis_is_local(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if scheme.starts_with("redis+unix") || scheme == "unix" {
        return true;
    }
    let authority = rest.split('/').next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// "TLS, CA file X, client certificate Y" — which trust and identity a `rediss://` connection uses.
fn tls_summary(tls: &TlsOptions) -> String {
    let trust = match &tls.ca_file {
        Some(f) => format!("CA file {}", f.display()),
        None => "system CA store".to_string(),
    };
    let client = match &tls.cert_file {
        Some(f) if tls.has_client_cert() => format!("client certificate {}", f.display()),
        _ => "no client certificate".to_string(),
    };
    format!("TLS, {trust}, {client}")
}

fn tmux_check(v: Option<String>) -> Check {
    match v {
        Some(v) if tmux_ok(&v) => Check::ok("tmux", v),
        Some(v) => Check::fail(
            "tmux",
            format!("{v} is too old (need 3.2 or newer)"),
            install("tmux"),
        ),
        None => Check::fail("tmux", "not found on PATH", install("tmux")),
    }
}

/// Redis reachability, transport security, clock skew, the computer name and
/// the versions of the other nodes: everything that needs the connection.
async fn redis_checks(cfg: &Config, checks: &mut Vec<Check>) {
    let url = match cfg.redis_url() {
        Ok(u) => u,
        Err(e) => {
            checks.push(Check::fail(
                "redis",
                format!("{e:#}"),
                "start `telemux up` on this computer, or set redis.url (TELEMUX_REDIS__URL) to the mesh's Redis",
            ));
            return;
        }
    };
    let options = match cfg.connect_options() {
        Ok(o) => o,
        Err(e) => {
            checks.push(Check::fail(
                "redis tls",
                format!("{e:#}"),
                "set both redis.tls_cert_file and redis.tls_key_file (a client certificate and its key), or neither",
            ));
            return;
        }
    };
    let bus = match Bus::connect_with(&url, &options).await {
        Ok(b) => b,
        Err(e) => {
            let fix = match &e {
                BusError::TlsHandshake { hint, .. } => hint.clone(),
                BusError::TlsFile { setting, .. } => format!(
                    "fix {setting}: the path must name a readable PEM file (see docs/security.md, Redis over TLS)"
                ),
                BusError::Tls(_) => "fix the redis.tls_* settings (docs/security.md, Redis over TLS)".to_string(),
                _ => "check that Redis runs there (`redis-cli -u URL ping`), that its port is open to this computer, and that the URL's password and TLS (rediss://) settings are right".to_string(),
            };
            checks.push(Check::fail("redis", e.to_string(), fix));
            return;
        }
    };
    let rtt = bus
        .ping()
        .await
        .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
        .unwrap_or_else(|e| e.to_string());
    // INFO may be refused to a restricted ACL user; the version is then just not shown.
    let version = bus
        .server_version()
        .await
        .map(|v| format!("Redis {v}, "))
        .unwrap_or_default();
    let tls = url.starts_with("rediss");
    let transport = if tls {
        tls_summary(&options.tls)
    } else {
        "no TLS".to_string()
    };
    checks.push(Check::ok(
        "redis",
        format!(
            "{} reachable ({version}{transport}), round trip {rtt}",
            bus.redacted_url()
        ),
    ));
    if !tls && !redis_is_local(&url) {
        checks.push(Check::warn(
            "redis tls",
            "Redis is on another machine and the connection is not encrypted: commands and session output cross the network in plain text",
            "use a rediss:// URL with TLS enabled on the Redis server (see docs/install.md), or keep the network private (VPN, WireGuard, Tailscale)",
        ));
    }
    checks.push(match bus.server_time_ms().await {
        Ok(t) => {
            let skew = t as i64 - now_ms() as i64;
            let detail = format!("{skew:+} ms against the Redis server clock");
            if skew.abs() < MAX_CLOCK_SKEW_MS {
                Check::ok("clock", detail)
            } else {
                Check::fail(
                    "clock",
                    detail,
                    "synchronise the clock (e.g. enable NTP: `sudo timedatectl set-ntp true`); signed commands outside mesh.max_skew_ms are refused",
                )
            }
        }
        Err(e) => Check::fail("clock", e.to_string(), "check the Redis connection"),
    });
    if let Ok(name) = cfg.computer_name() {
        checks.push(name_check(&bus, &name).await);
    }
    if let Some(c) = versions_check(&bus).await {
        checks.push(c);
    }
    let _ = bus.quit().await;
}

/// Whether another live node already uses this computer's name (the node
/// refuses to start then: see `Node::run` in telemux-node).
async fn name_check(bus: &Bus, name: &telemux_proto::ComputerName) -> Check {
    let existing = match bus.computer(name).await {
        Ok(e) => e,
        Err(e) => {
            return Check::fail(
                "name in mesh",
                format!("cannot read the registry: {e}"),
                "check the Redis connection",
            )
        }
    };
    let host = hostname().await;
    match existing {
        None => Check::ok("name in mesh", format!("'{name}' is free")),
        Some(s) if !s.online => Check::ok(
            "name in mesh",
            format!(
                "'{name}' is registered but offline (last seen {}); a node started here takes it over",
                telemux_client::mesh::ago(s.info.last_seen_ms)
            ),
        ),
        Some(s) if s.info.host.is_empty() || s.info.host == host => Check::ok(
            "name in mesh",
            format!(
                "'{name}' is online from this host (pid {}): the node is running",
                s.info.pid
            ),
        ),
        Some(s) => Check::fail(
            "name in mesh",
            format!(
                "'{name}' is already used by a live node on host '{}' (pid {}, up {}); a node started here would refuse to start",
                s.info.host,
                s.info.pid,
                telemux_bus::human_duration(Duration::from_millis(
                    now_ms().saturating_sub(s.info.started_ms)
                ))
            ),
            "give this computer its own name: `computer = \"OtherName\"` in the config, or TELEMUX_COMPUTER=OtherName",
        ),
    }
}

/// Nodes that speak another protocol version: their commands would be dead-lettered.
async fn versions_check(bus: &Bus) -> Option<Check> {
    let all = bus.computers().await.ok()?;
    let odd: Vec<String> = all
        .iter()
        .filter(|c| c.online && c.info.proto != PROTOCOL_VERSION)
        .map(|c| {
            format!(
                "{} ({} speaks protocol v{})",
                c.info.name, c.info.version, c.info.proto
            )
        })
        .collect();
    Some(if odd.is_empty() {
        let online = all.iter().filter(|c| c.online).count();
        Check::ok(
            "versions",
            format!("{online} online node(s), all on protocol v{PROTOCOL_VERSION}"),
        )
    } else {
        Check::warn(
            "versions",
            format!(
                "this telemux ({}) speaks protocol v{PROTOCOL_VERSION}; incompatible: {}",
                env!("CARGO_PKG_VERSION"),
                odd.join(", ")
            ),
            "upgrade every computer to the same telemux release (docs/operations.md, Upgrading)",
        )
    })
}

/// Reads `telegram.token` or `telegram.token_file`; `Ok(None)` when Telegram is off.
async fn telegram_token(cfg: &Config) -> Result<Option<String>, String> {
    if let Some(t) = &cfg.telegram.token {
        return Ok(Some(t.trim().to_string()));
    }
    if let Some(f) = &cfg.telegram.token_file {
        return tokio::fs::read_to_string(f)
            .await
            .map(|t| Some(t.trim().to_string()))
            .map_err(|e| format!("cannot read telegram.token_file {}: {e}", f.display()));
    }
    Ok(None)
}

/// Token validity (getMe against `telegram.api_url`), allow-list and group privacy.
async fn telegram_checks(cfg: &Config, checks: &mut Vec<Check>) {
    let token = match telegram_token(cfg).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            checks.push(Check::ok(
                "telegram",
                "not configured (no telegram.token): no bot",
            ));
            return;
        }
        Err(e) => {
            checks.push(Check::fail(
                "telegram",
                e,
                "fix the path or permissions of telegram.token_file",
            ));
            return;
        }
    };
    let t = &cfg.telegram;
    let api = match BotClient::new(&t.api_url, &token, Duration::ZERO) {
        Ok(a) => a,
        Err(e) => {
            checks.push(Check::fail(
                "telegram",
                e.to_string(),
                "check telegram.api_url",
            ));
            return;
        }
    };
    match tokio::time::timeout(TELEGRAM_TIMEOUT, api.get_me()).await {
        Err(_) => checks.push(Check::fail(
            "telegram",
            format!("no answer from {} within {TELEGRAM_TIMEOUT:?}", t.api_url),
            "check this computer's internet access and telegram.api_url",
        )),
        Ok(Err(ApiError::Api {
            code, description, ..
        })) if code == 401 || code == 404 => checks.push(Check::fail(
            "telegram",
            format!("{} rejected the bot token: {description} (error {code})", t.api_url),
            "copy the token again from @BotFather (/mybots → your bot → API Token) into telegram.token or telegram.token_file",
        )),
        Ok(Err(e)) => checks.push(Check::fail(
            "telegram",
            e.to_string(),
            "check this computer's internet access and telegram.api_url",
        )),
        Ok(Ok(me)) => {
            let bot = me.result;
            let who = bot
                .username
                .map(|u| format!("@{u}"))
                .unwrap_or(bot.first_name);
            checks.push(Check::ok(
                "telegram",
                format!("token valid: bot {who} (getMe at {})", t.api_url),
            ));
            if bot.can_read_all_group_messages == Some(false) {
                checks.push(Check::warn(
                    "telegram privacy",
                    "the bot's Group Privacy is on: in the group it sees only commands, not text typed into a session's topic (unless it is an administrator)",
                    "@BotFather → /mybots → your bot → Bot Settings → Group Privacy → Turn off, or make the bot an administrator of the group",
                ));
            }
        }
    }
    if t.allowed_users.is_empty() {
        checks.push(Check::fail(
            "telegram users",
            "telegram.allowed_users is empty: the bot refuses to start",
            "add your numeric user id (ask @userinfobot): allowed_users = [123456789]",
        ));
    } else if t.chat_id.is_none() {
        checks.push(Check::warn(
            "telegram chat",
            "telegram.chat_id is not set: commands work in a private chat, but sessions get no topics and no live output",
            "set telegram.chat_id to the forum supergroup's id (docs/telegram.md, step 2)",
        ));
    }
}

/// MCP over HTTP: a listener off loopback needs a bearer token.
async fn mcp_check(cfg: &Config) -> Check {
    let Some(listen) = &cfg.mcp.listen else {
        return Check::ok(
            "mcp",
            "no mcp.listen: stdio only (`telemux mcp`), which needs no token",
        );
    };
    let has_token = cfg.mcp.token.is_some() || cfg.mcp.token_file.is_some();
    if let Some(f) = &cfg.mcp.token_file {
        if let Err(e) = tokio::fs::metadata(f).await {
            return Check::fail(
                "mcp",
                format!("cannot read mcp.token_file {}: {e}", f.display()),
                "fix the path or permissions of mcp.token_file",
            );
        }
    }
    let addrs: Vec<std::net::SocketAddr> = match tokio::net::lookup_host(listen.as_str()).await {
        Ok(a) => a.collect(),
        Err(e) => {
            return Check::fail(
                "mcp",
                format!("mcp.listen = {listen:?} is not a usable host:port ({e})"),
                "use e.g. listen = \"127.0.0.1:8765\"",
            )
        }
    };
    let loopback = addrs.iter().all(|a| a.ip().is_loopback());
    match (loopback, has_token) {
        (_, true) => Check::ok("mcp", format!("HTTP on {listen}, bearer token set")),
        (true, false) => Check::ok(
            "mcp",
            format!("HTTP on {listen} (loopback only), no token: any local process may use it"),
        ),
        (false, false) => Check::fail(
            "mcp",
            format!("mcp.listen = {listen} is reachable from other machines but mcp.token is not set: the gateway refuses to start"),
            "set mcp.token_file (e.g. `openssl rand -hex 32 > ~/.config/telemux/mcp-token`), or listen on 127.0.0.1",
        ),
    }
}

/// `mesh.key`: without it, anyone who can write to Redis runs commands here.
fn mesh_key_check(cfg: &Config) -> Check {
    match cfg.mesh_key() {
        Ok(Some(_)) => Check::ok("mesh key", "set: commands are signed and checked"),
        Ok(None) => Check::warn(
            "mesh key",
            "mesh.key is not set: anyone who can write to this Redis can run commands on every computer",
            "set the same mesh.key_file on every computer (`openssl rand -hex 32`), see docs/security.md",
        ),
        Err(e) => Check::fail(
            "mesh key",
            format!("{e:#}"),
            "use at least 16 bytes, e.g. `openssl rand -hex 32`",
        ),
    }
}

/// Runs every check; exit code 0 when none failed, 1 otherwise.
pub async fn run(cfg: &Config, path: Option<&Path>, json: bool) -> i32 {
    let mut checks = vec![Check::ok(
        "config",
        match path {
            Some(p) => format!("loaded {} (no unknown keys)", p.display()),
            None => format!(
                "no file (defaults + environment); create {} from config/telemux.example.toml",
                crate::config::default_path().display()
            ),
        },
    )];
    checks.push(match cfg.computer_name() {
        Ok(n) => Check::ok("computer name", n.to_string()),
        Err(e) => Check::fail(
            "computer name",
            format!("{e:#}"),
            "set `computer = \"MyMac\"` in the config",
        ),
    });
    checks.push(tmux_check(version_of("tmux", "-V").await));
    if cfg.redis.url.is_none() && cfg.redis.url_file.is_none() {
        checks.push(match version_of("redis-server", "--version").await {
            Some(v) => Check::ok(
                "redis-server",
                v.split(" sha=").next().unwrap_or(&v).to_string(),
            ),
            None => Check::fail(
                "redis-server",
                "not found, and redis.url is not set (telemux up needs one of them)",
                format!(
                    "{}, or set redis.url to an existing Redis",
                    install("redis-server")
                        .replace("brew install redis-server", "brew install redis")
                ),
            ),
        });
    }
    redis_checks(cfg, &mut checks).await;
    checks.push(mesh_key_check(cfg));
    checks.push(mcp_check(cfg).await);
    telegram_checks(cfg, &mut checks).await;
    report(&checks, json)
}

/// Prints the checks and returns the exit code.
fn report(checks: &[Check], json: bool) -> i32 {
    let failed = checks.iter().filter(|c| c.level == Level::Fail).count();
    let warned = checks.iter().filter(|c| c.level == Level::Warn).count();
    if json {
        let v: Vec<_> = checks
            .iter()
            .map(|c| {
                let level = match c.level {
                    Level::Ok => "ok",
                    Level::Warn => "warn",
                    Level::Fail => "fail",
                };
                json!({"check": c.name, "ok": c.level != Level::Fail, "level": level, "detail": c.detail, "fix": c.fix})
            })
            .collect();
        outln!(
            "{}",
            json!({"ok": failed == 0, "warnings": warned, "checks": v})
        );
    } else {
        for c in checks {
            let tag = match c.level {
                Level::Ok => "ok",
                Level::Warn => "WARN",
                Level::Fail => "FAIL",
            };
            outln!("{tag:<5} {:<16} {}", c.name, c.detail);
            if let Some(f) = &c.fix {
                outln!("      {:<16} fix: {f}", "");
            }
        }
        match (failed, warned) {
            (0, 0) => outln!("all good"),
            (0, w) => outln!("no failures, {w} warning(s)"),
            (f, _) => outln!("{f} check(s) failed"),
        }
    }
    if failed == 0 {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmux_versions() {
        assert!(tmux_ok("tmux 3.3a"));
        assert!(tmux_ok("tmux 3.2"));
        assert!(!tmux_ok("tmux 3.1c"));
        assert!(tmux_ok("tmux 3.10"));
    }

    #[test]
    fn local_redis_urls() {
        assert!(redis_is_local("redis://127.0.0.1:6379"));
        assert!(redis_is_local("redis://:pw@localhost:6379/0"));
        assert!(redis_is_local("redis://[::1]:6379"));
        assert!(redis_is_local("redis+unix:///run/redis.sock"));
        assert!(!redis_is_local("redis://:pw@192.168.1.5:6379"));
        assert!(!redis_is_local("redis://pi.local"));
    }
}
