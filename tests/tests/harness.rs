//! Proves the end-to-end harness itself: private redis-servers start, stop, restart
//! on the same address and stall; tmux guards kill their server; `wait_until` fails
//! with a useful message. If these fail, no scenario result can be trusted.

use std::time::Duration;

use telemux_tests::{telemux_bin, wait_until, wait_until_blocking, RedisServer, TmuxServer};

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the pid exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[test]
fn redis_starts_stops_and_starts_again_on_the_same_port() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    assert_ne!(port, 6379, "must never use the system redis port");
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}"));
    assert_eq!(redis.cli(&["SET", "k", "v"]), "OK");
    assert_eq!(redis.cli(&["GET", "k"]), "v");

    redis.stop();
    assert!(!redis.is_running());
    assert!(!redis.ping(Duration::from_millis(300)));

    redis.start_again();
    assert_eq!(redis.port(), port);
    assert!(redis.ping(Duration::from_secs(2)));
    // Not persistent: a restart is an empty Redis.
    assert_eq!(redis.cli(&["EXISTS", "k"]), "0");
}

#[test]
fn persistent_redis_keeps_data_across_a_crash() {
    let mut redis = RedisServer::start_persistent();
    redis.cli(&["XADD", "s", "*", "f", "1"]);
    redis.stop();
    redis.start_again();
    assert_eq!(redis.cli(&["XLEN", "s"]), "1");
}

#[test]
fn redis_on_a_unix_socket() {
    let mut redis = RedisServer::start_unix();
    let path = redis.socket_path().expect("unix socket").to_path_buf();
    assert_eq!(redis.url(), format!("redis+unix://{}", path.display()));
    assert_eq!(redis.cli(&["PING"]), "PONG");
    redis.stop();
    redis.start_again();
    assert_eq!(redis.cli(&["PING"]), "PONG");
}

#[test]
fn stalled_redis_accepts_but_does_not_answer_until_resumed() {
    let mut redis = RedisServer::start();
    redis.stall();
    assert!(redis.is_stalled());
    assert!(!redis.ping(Duration::from_millis(300)));
    redis.resume();
    assert!(redis.ping(Duration::from_secs(2)));
}

#[test]
fn dropping_redis_kills_it() {
    let redis = RedisServer::start();
    let pid = redis.pid().expect("running");
    assert!(alive(pid));
    drop(redis);
    assert!(!alive(pid), "redis-server {pid} survived its guard");
}

#[test]
fn dropping_a_stalled_redis_kills_it() {
    let mut redis = RedisServer::start();
    let pid = redis.pid().expect("running");
    redis.stall();
    drop(redis);
    assert!(!alive(pid), "stalled redis-server {pid} survived its guard");
}

#[test]
fn tmux_guard_kills_its_server_on_drop() {
    let tmux = TmuxServer::new();
    let name = tmux.name().to_string();
    assert!(name.starts_with("telemux-t-"), "{name}");
    assert!(!tmux.is_running());

    tmux.run(&["new-session", "-d", "-s", "work", "sleep 600"])
        .expect("new-session");
    assert_eq!(tmux.sessions(), vec!["work".to_string()]);
    let pid: u32 = tmux
        .run(&["display-message", "-p", "-t", "work", "#{pid}"])
        .expect("server pid")
        .trim()
        .parse()
        .expect("numeric pid");
    assert!(alive(pid));

    drop(tmux);
    wait_until_blocking("tmux server to exit", Duration::from_secs(5), || {
        !alive(pid)
    });
    let after = std::process::Command::new("tmux")
        .args(["-L", &name, "list-sessions"])
        .output()
        .expect("tmux");
    assert!(!after.status.success(), "server {name} still answers");
}

#[test]
fn tmux_socket_names_are_unique() {
    let a = TmuxServer::new();
    let b = TmuxServer::new();
    assert_ne!(a.name(), b.name());
}

#[test]
fn tmux_errors_carry_stderr() {
    let tmux = TmuxServer::new();
    let err = tmux.run(&["has-session", "-t", "nope"]).unwrap_err();
    assert!(err.contains("has-session"), "{err}");
}

#[tokio::test]
async fn wait_until_returns_the_ready_value() {
    let mut polls = 0;
    let got = wait_until("the third poll", Duration::from_secs(5), || {
        polls += 1;
        let n = polls;
        async move { (n >= 3).then_some(n) }
    })
    .await;
    assert_eq!(got, 3);
}

#[tokio::test]
#[should_panic(expected = "waiting for the impossible; last observed: \"still 42\"")]
async fn wait_until_timeout_names_what_and_last_value() {
    wait_until("the impossible", Duration::from_millis(200), || async {
        Err::<(), _>("still 42")
    })
    .await;
}

#[test]
#[should_panic(expected = "timed out after 0.")]
fn wait_until_blocking_times_out() {
    wait_until_blocking("never", Duration::from_millis(100), || false);
}

#[test]
fn telemux_binary_is_built_once() {
    let first = telemux_bin();
    assert!(first.is_file(), "{}", first.display());
    assert_eq!(telemux_bin(), first);
}
