//! Faults (issue 6, DESIGN.md §10 scenario 6): Redis restarted under running
//! nodes — they reconnect and re-register by themselves, and an exit code
//! produced while Redis was down is published once it is back; a 10 s outage
//! under two busy nodes and a gateway loses nothing; an outage longer than a
//! session's outbox drops the oldest output as an explicit gap but never an
//! exit code; a node killed with SIGKILL mid-flood adopts its sessions,
//! continues their sequence numbers and reports each exit exactly once.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use telemux_proto::now_ms;
use telemux_tests::telegram::{FakeTelegram, GatewayProcess};
use telemux_tests::{wait_until, Mesh, RedisOptions, RedisServer, TmuxServer};
use tokio::io::AsyncBufReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_loses_no_exit_code() {
    let mut m = Mesh::start(&["MozBook", "RasPi"]).await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    m.cli
        .run(&["new", "MozBook/job", "--", "sh -c 'read x; exit 5'"])
        .await
        .ok();
    m.cli.run(&["send", "RasPi/api", "true"]).await.ok();
    wait_until("first exit code", Duration::from_secs(20), || async {
        m.exit_codes("RasPi/api").await == vec![0]
    })
    .await;

    m.redis.stop();
    // While Redis is down: a command finishes in one session, a job exits in another.
    m.tmux[1]
        .run(&["send-keys", "-t", "=api:", "-l", "(exit 4)"])
        .unwrap();
    m.tmux[1]
        .run(&["send-keys", "-t", "=api:", "Enter"])
        .unwrap();
    m.tmux[0]
        .run(&["send-keys", "-t", "=job:", "Enter"])
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = m.cli.run(&["computers"]).await;
    assert_eq!(
        out.code(),
        Some(1),
        "with Redis down the CLI fails clearly: {out:?}"
    );
    assert!(
        out.stderr.contains("127.0.0.1"),
        "the error names the Redis it tried: {out:?}"
    );

    m.redis.start_again();
    m.wait_online("RasPi", true).await;
    m.wait_online("MozBook", true).await;
    // This Redis keeps nothing on disk, so the stream starts afresh: the exit
    // code produced during the outage must be in it.
    wait_until(
        "exit 4 published after the outage",
        Duration::from_secs(30),
        || async { m.exit_codes("RasPi/api").await.contains(&4) },
    )
    .await;
    let job = wait_until(
        "job exit published after the outage",
        Duration::from_secs(30),
        || async {
            m.records("MozBook/job")
                .await
                .into_iter()
                .find(|r| r["type"] == "session_exited")
        },
    )
    .await;
    assert_eq!(job["exit_status"], 5);
    // And the mesh works again end to end.
    m.cli.run(&["send", "RasPi/api", "(exit 6)"]).await.ok();
    wait_until(
        "new commands work after the outage",
        Duration::from_secs(20),
        || async { m.exit_codes("RasPi/api").await.contains(&6) },
    )
    .await;
}

/// Prints a numbered line every few milliseconds, forever.
const BUSY: &str = r#"i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.005; done"#;
const TG_TOKEN: &str = "123456:FAULTS-token";
const OWNER: i64 = 42;

/// Types `line` into `session`'s shell directly through tmux, as a user at
/// the keyboard would (the mesh may be unreachable), then Enter.
fn type_in(tmux: &TmuxServer, session: &str, line: &str) {
    let target = format!("={session}:");
    tmux.run(&["send-keys", "-t", &target, "-l", line]).unwrap();
    tmux.run(&["send-keys", "-t", &target, "Enter"]).unwrap();
}

/// Sequence numbers of the records a node wrote (records `tail` made up to
/// report a hole carry none).
fn seqs(records: &[Value]) -> Vec<u64> {
    records.iter().filter_map(|r| r["seq"].as_u64()).collect()
}

/// Panics unless the node's records go up by exactly one sequence number
/// each time — nothing reused (a record stored twice), nothing skipped — a
/// gap record standing for the records `from_seq..=to_seq` it replaced.
fn assert_consecutive(what: &str, records: &[Value]) {
    let mine: Vec<&Value> = records.iter().filter(|r| r["seq"].is_u64()).collect();
    let last = |r: &Value| {
        r["seq"]
            .as_u64()
            .unwrap()
            .max(r["to_seq"].as_u64().unwrap_or(0))
    };
    if let Some(w) = mine
        .windows(2)
        .find(|w| w[1]["seq"].as_u64() != Some(last(w[0]) + 1))
    {
        let brief = |r: &Value| {
            format!(
                "seq {} id {} ts {} {}",
                r["seq"], r["cursor"], r["ts_ms"], r["type"]
            )
        };
        panic!(
            "{what}: sequence goes from [{}] to [{}]",
            brief(w[0]),
            brief(w[1])
        );
    }
}

/// The rendered text lines of `lines` records, in order.
fn lines(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .filter(|r| r["type"] == "lines")
        .flat_map(|r| r["lines"].as_array().cloned().unwrap_or_default())
        .filter_map(|l| l.as_str().map(str::to_string))
        .collect()
}

/// The numbers of `tick N` lines printed by [`BUSY`].
fn ticks(records: &[Value]) -> Vec<u64> {
    lines(records)
        .iter()
        .filter_map(|l| l.trim().strip_prefix("tick ")?.parse().ok())
        .collect()
}

/// Texts of the bot's messages to the owner, oldest first.
fn replies(tg: &FakeTelegram) -> Vec<String> {
    tg.messages(OWNER, None)
        .into_iter()
        .map(|m| m.text)
        .collect()
}

/// Waits until the bot has sent the owner at least `n` messages.
async fn wait_replies(tg: &FakeTelegram, what: &str, n: usize) {
    wait_until(what, Duration::from_secs(30), || async {
        let r = replies(tg);
        if r.len() >= n {
            Ok(())
        } else {
            Err(r)
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_for_ten_seconds_under_two_busy_nodes_and_a_gateway() {
    const NAMES: [&str; 2] = ["MozBook", "RasPi"];
    // Redis with its append-only file, as `telemux up` runs it: streams, the
    // registry and the Telegram offset survive the restart, keys with a TTL
    // (heartbeats, the Telegram lease) expire during the outage. Streams are
    // not trimmed here, so whole histories can be checked.
    let mut m = Mesh::start_with(RedisServer::start_persistent(), &NAMES, |o| {
        o.env("TELEMUX_NODE__OUTPUT_MAXLEN", "100000")
    })
    .await;
    let tg = FakeTelegram::start(TG_TOKEN).await;
    // Never restarted in this test: it must recover by itself.
    let _gw = GatewayProcess::start(&m.redis.url(), tg.gateway_env(OWNER, -100777));
    for c in NAMES {
        m.cli
            .run(&["new", &format!("{c}/busy"), "--", "sh", "-c", BUSY])
            .await
            .ok();
        m.cli.run(&["new", &format!("{c}/api")]).await.ok();
        m.cli.run(&["send", &format!("{c}/api"), "true"]).await.ok();
    }
    let mut last_before = Vec::new();
    for c in NAMES {
        wait_until(
            &format!("{c}: first exit code"),
            Duration::from_secs(20),
            || async { m.exit_codes(&format!("{c}/api")).await == vec![0] },
        )
        .await;
        let last = wait_until(
            &format!("{c}: busy output"),
            Duration::from_secs(20),
            || async {
                let r = m.records(&format!("{c}/busy")).await;
                (ticks(&r).len() >= 20).then(|| *seqs(&r).last().unwrap())
            },
        )
        .await;
        last_before.push(last);
    }
    tg.inject_message(OWNER, OWNER, None, "/computers");
    wait_replies(&tg, "the gateway answers /computers", 1).await;
    assert_eq!(
        replies(&tg)[0].matches("online").count(),
        2,
        "{:?}",
        replies(&tg)
    );

    m.redis.stop();
    let down = Instant::now();
    // Commands finish on both computers while Redis is away: at once, and halfway.
    type_in(&m.tmux[0], "api", "(exit 3)");
    type_in(&m.tmux[1], "api", "(exit 13)");
    tg.inject_message(OWNER, OWNER, None, "/computers");
    let out = m.cli.run(&["computers"]).await;
    assert_eq!(
        out.code(),
        Some(1),
        "with Redis down the CLI fails: {out:?}"
    );
    assert!(
        out.stderr.contains("cannot reach Redis") && out.stderr.contains("127.0.0.1"),
        "the error says Redis is unreachable and where it looked: {out:?}"
    );
    tokio::time::sleep_until((down + Duration::from_secs(5)).into()).await;
    type_in(&m.tmux[0], "api", "(exit 4)");
    type_in(&m.tmux[1], "api", "(exit 14)");
    tokio::time::sleep_until((down + Duration::from_secs(10)).into()).await;
    let restart_ms = now_ms();
    m.redis.start_again();

    // "Offline during the outage" has no observer (nobody can read Redis
    // then); what is observable is that the liveness keys (TTL 3 heartbeats
    // = 0.9 s) expired, so the registry Redis reloads from disk would list
    // both computers offline, last seen ~10 s ago. They come back online only
    // because each node re-registers by itself: a heartbeat newer than the
    // restart.
    wait_until(
        "both computers re-registered after the restart",
        Duration::from_secs(30),
        || async {
            let all = m.computers().await;
            let fresh = NAMES.iter().all(|n| {
                all.iter().any(|c| {
                    c["name"] == *n
                        && c["online"] == true
                        && c["last_seen_ms"].as_u64().unwrap_or(0) >= restart_ms
                })
            });
            if fresh {
                Ok(())
            } else {
                Err(all)
            }
        },
    )
    .await;

    // No exit code is lost, none is doubled: each arrives before one sent later.
    for (c, codes) in [("MozBook", [0, 3, 4]), ("RasPi", [0, 13, 14])] {
        let session = format!("{c}/api");
        wait_until(
            &format!("{c}: exits of the outage"),
            Duration::from_secs(30),
            || async {
                let got = m.exit_codes(&session).await;
                if got == codes {
                    Ok(())
                } else {
                    Err(got)
                }
            },
        )
        .await;
        m.cli.run(&["send", &session, "(exit 6)"]).await.ok();
        wait_until(
            &format!("{c}: a new exit after the outage"),
            Duration::from_secs(30),
            || async {
                let got = m.exit_codes(&session).await;
                if got.len() > 3 {
                    Ok(got)
                } else {
                    Err(got)
                }
            },
        )
        .await;
        let got = m.exit_codes(&session).await;
        assert_eq!(got, [&codes[..], &[6]].concat(), "{c}");
    }

    // The busy sessions' streams continue across the outage: consecutive
    // sequence numbers from 0, no gap (the outbox was never full), and every
    // line printed while Redis was down is there.
    for (c, last) in NAMES.iter().zip(&last_before) {
        let session = format!("{c}/busy");
        let r = wait_until(
            &format!("{c}: busy output after the outage"),
            Duration::from_secs(30),
            || async {
                let r = m.records(&session).await;
                let s = seqs(&r);
                (s.last().copied().unwrap_or(0) > last + 20).then_some(r)
            },
        )
        .await;
        let s = seqs(&r);
        assert_eq!(s.first(), Some(&0), "{c}");
        assert_consecutive(c, &r);
        assert!(!r.iter().any(|x| x["type"] == "gap"), "{c}: unexpected gap");
        let t = ticks(&r);
        assert_eq!(t.first(), Some(&1), "{c}");
        if let Some(w) = t.windows(2).find(|w| w[1] != w[0] + 1) {
            panic!(
                "{c}: lines tick {} .. tick {} are missing or repeated",
                w[0], w[1]
            );
        }
        assert!(t.len() > 300, "{c}: only {} lines", t.len());
    }

    // The same gateway process serves again: the /computers typed during the
    // outage is answered once, and a new one lists both online.
    wait_replies(&tg, "the outage /computers answered", 2).await;
    tg.inject_message(OWNER, OWNER, None, "/computers");
    wait_replies(&tg, "a /computers after the outage", 3).await;
    let r = replies(&tg);
    assert_eq!(r.len(), 3, "each /computers answered exactly once: {r:?}");
    assert_eq!(r[2].matches("online").count(), 2, "{r:?}");
}

/// Runs `tail SESSION --follow --json` and collects its lines in the background.
fn follow(m: &Mesh, session: &str) -> (tokio::process::Child, Arc<Mutex<Vec<Value>>>) {
    let mut child = m
        .cli
        .command(&["tail", session, "--follow", "--json"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let sink = seen.clone();
    tokio::spawn(async move {
        while let Ok(Some(l)) = out.next_line().await {
            let v = serde_json::from_str(&l).unwrap_or_else(|e| panic!("bad tail line {l:?}: {e}"));
            sink.lock().unwrap().push(v);
        }
    });
    (child, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_outbox_drops_oldest_output_as_a_gap_never_an_exit() {
    // A small outbox (node.outbox_records) so a few seconds of output overflow it.
    let mut m = Mesh::start_with(RedisServer::start_persistent(), &["RasPi"], |o| {
        o.env("TELEMUX_NODE__OUTBOX_RECORDS", "32")
    })
    .await;
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    m.cli.run(&["send", "RasPi/api", "true"]).await.ok();
    wait_until("first exit code", Duration::from_secs(20), || async {
        m.exit_codes("RasPi/api").await == vec![0]
    })
    .await;
    let (mut follower, followed) = follow(&m, "RasPi/api");
    wait_until("the follower reads", Duration::from_secs(20), || async {
        followed
            .lock()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "command_finished")
    })
    .await;

    // Slow floods: one line per record, hundreds of records. The first one
    // is being published when Redis goes away, so records are in flight.
    let flood = |tag: &str, code: i32| {
        format!("for i in $(seq 1 300); do echo {tag}-$i; sleep 0.005; done; (exit {code})")
    };
    type_in(&m.tmux[0], "api", &flood("a", 3));
    wait_until(
        "the first flood streams",
        Duration::from_secs(20),
        || async {
            lines(&m.records("RasPi/api").await)
                .iter()
                .any(|l| l == "a-20")
        },
    )
    .await;
    m.redis.stop();
    // A send in flight when Redis went away waits out its timeout; once the
    // node has given up on it (its log says so), it only queues.
    wait_until(
        "the node to notice the outage",
        Duration::from_secs(20),
        || async {
            m.nodes[0].log().lines().any(|l| {
                l.contains("session=api")
                    && (l.contains("keeping output") || l.contains("cannot publish output"))
            })
        },
    )
    .await;
    // Typed while Redis is down: more output, exit codes between and after.
    type_in(&m.tmux[0], "api", "(exit 4)");
    type_in(&m.tmux[0], "api", &flood("b", 5));
    type_in(&m.tmux[0], "api", "echo done-$((40+2))");
    wait_until(
        "the floods to finish in tmux",
        Duration::from_secs(40),
        || async {
            let screen = m.tmux[0]
                .run(&["capture-pane", "-p", "-t", "=api:"])
                .unwrap_or_default();
            screen.lines().any(|l| l == "done-42")
        },
    )
    .await;
    m.redis.start_again();
    m.wait_online("RasPi", true).await;

    let codes = [0, 3, 4, 5, 0];
    wait_until(
        "every exit code after the outage",
        Duration::from_secs(30),
        || async {
            let got = m.exit_codes("RasPi/api").await;
            if got == codes {
                Ok(())
            } else {
                Err(got)
            }
        },
    )
    .await;
    let r = m.records("RasPi/api").await;
    assert_consecutive("api", &r);
    let gaps: Vec<&Value> = r.iter().filter(|x| x["type"] == "gap").collect();
    assert!(!gaps.is_empty(), "no gap record: {r:?}");
    for g in &gaps {
        assert!(g["seq"].is_u64(), "the node itself reports the gap: {g}");
        let (from, to) = (
            g["from_seq"].as_u64().unwrap(),
            g["to_seq"].as_u64().unwrap(),
        );
        assert_eq!(g["seq"].as_u64(), Some(from), "{g}");
        let reason = g["reason"].as_str().unwrap();
        assert!(reason.contains("while Redis was unreachable"), "{reason}");
        assert!(
            reason.contains("at most 32 records"),
            "the key was applied: {reason}"
        );
        let n: u64 = reason.split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(
            n,
            to - from + 1,
            "the gap counts the records it replaced: {g}"
        );
        let bytes: u64 = reason
            .split('(')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(bytes > 0, "{g}");
    }
    // The oldest output of the outage went, the newest stayed.
    let text = lines(&r);
    // Which flood loses lines depends on how much of the first one was out
    // before Redis went away (on a loaded machine, possibly all of it).
    let a_kept = text.iter().filter(|l| l.starts_with("a-")).count();
    let b_kept = text.iter().filter(|l| l.starts_with("b-")).count();
    assert!(
        a_kept + b_kept < 600,
        "nothing of the floods was dropped ({a_kept} a, {b_kept} b)"
    );
    for newest in ["b-300", "done-42"] {
        assert!(
            text.iter().any(|l| l == newest),
            "{newest} is missing: {text:?}"
        );
    }

    // A reader that followed from before the outage sees the same: the gap,
    // then every exit code.
    let seen = wait_until(
        "the follower catches up",
        Duration::from_secs(30),
        || async {
            let seen = followed.lock().unwrap().clone();
            let n = seen
                .iter()
                .filter(|x| x["type"] == "command_finished")
                .count();
            if n == codes.len() {
                Ok(seen)
            } else {
                Err(n)
            }
        },
    )
    .await;
    assert!(
        seen.iter().any(|x| x["type"] == "gap" && x["seq"].is_u64()),
        "{seen:?}"
    );
    let exits: Vec<i64> = seen
        .iter()
        .filter(|x| x["type"] == "command_finished")
        .map(|x| x["exit_code"].as_i64().unwrap())
        .collect();
    assert_eq!(exits, codes);
    let _ = follower.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_flood_adopts_sessions_continues_seqs_and_reports_exits_once() {
    let mut m = Mesh::start_with(RedisServer::start(), &["RasPi"], |o| {
        o.env("TELEMUX_NODE__OUTPUT_MAXLEN", "100000")
    })
    .await;
    // About 10 000 lines a second, in bursts.
    let flood = r#"i=0; while :; do seq $i $((i+199)); i=$((i+200)); sleep 0.02; done"#;
    m.cli
        .run(&["new", "RasPi/flood", "--", "sh", "-c", flood])
        .await
        .ok();
    m.cli.run(&["new", "RasPi/api"]).await.ok();
    m.cli
        .run(&["new", "RasPi/job", "--", "sh -c 'read x; exit 6'"])
        .await
        .ok();
    m.cli.run(&["send", "RasPi/api", "true"]).await.ok();
    wait_until("first exit code", Duration::from_secs(20), || async {
        m.exit_codes("RasPi/api").await == vec![0]
    })
    .await;
    let last_before = wait_until("the flood streams", Duration::from_secs(20), || async {
        let s = seqs(&m.records("RasPi/flood").await);
        (s.len() >= 20).then(|| *s.last().unwrap())
    })
    .await;

    m.nodes[0].kill9();
    type_in(&m.tmux[0], "api", "(exit 3)");
    type_in(&m.tmux[0], "api", "(exit 4)");
    m.tmux[0]
        .run(&["send-keys", "-t", "=job:", "Enter"])
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    m.nodes[0].start_again();
    m.wait_online("RasPi", true).await;

    let mut names: Vec<String> = m
        .sessions(Some("RasPi"))
        .await
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["api", "flood", "job"],
        "every session adopted under its name"
    );

    // Each exit of the dead time exactly once, before one made afterwards.
    wait_until(
        "exits of the dead time",
        Duration::from_secs(30),
        || async {
            let got = m.exit_codes("RasPi/api").await;
            if got == [0, 3, 4] {
                Ok(())
            } else {
                Err(got)
            }
        },
    )
    .await;
    m.cli.run(&["send", "RasPi/api", "(exit 9)"]).await.ok();
    wait_until(
        "a new exit after the restart",
        Duration::from_secs(30),
        || async {
            let got = m.exit_codes("RasPi/api").await;
            if got.len() > 3 {
                Ok(())
            } else {
                Err(got)
            }
        },
    )
    .await;
    assert_eq!(m.exit_codes("RasPi/api").await, [0, 3, 4, 9]);
    let job = wait_until("the job's exit", Duration::from_secs(20), || async {
        let r = m.records("RasPi/job").await;
        let exits: Vec<Value> = r
            .into_iter()
            .filter(|x| x["type"] == "session_exited")
            .collect();
        (!exits.is_empty()).then_some(exits)
    })
    .await;
    assert_eq!(job.len(), 1, "{job:?}");
    assert_eq!(job[0]["exit_status"], 6);

    // The flood's sequence continues: no reset, no reuse, and the dead time
    // is reported as one gap record, not hidden.
    let r = wait_until(
        "the flood streams again",
        Duration::from_secs(30),
        || async {
            let r = m.records("RasPi/flood").await;
            (seqs(&r).last().copied().unwrap_or(0) > last_before + 20).then_some(r)
        },
    )
    .await;
    assert_eq!(seqs(&r).first(), Some(&0));
    assert_consecutive("flood", &r);
    let gaps: Vec<&Value> = r.iter().filter(|x| x["type"] == "gap").collect();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(gaps[0]["seq"].as_u64().unwrap() > last_before, "{gaps:?}");
    assert!(
        gaps[0]["reason"]
            .as_str()
            .unwrap()
            .contains("node was down"),
        "{gaps:?}"
    );
}

/// Issue 12 row 8: with Redis full (`maxmemory` reached, `noeviction`), a
/// command on a bare session name says that Redis is out of memory (exit 1);
/// resolving the name must not turn the failed request into "no session".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_redis_is_reported_not_turned_into_not_found() {
    let redis = RedisServer::start_with(RedisOptions {
        config: vec![
            ("maxmemory".into(), "24mb".into()),
            ("maxmemory-policy".into(), "noeviction".into()),
        ],
        ..RedisOptions::default()
    });
    let m = Mesh::start_with(redis, &["RasPi"], |o| o).await;
    m.cli.run(&["new", "RasPi/flood"]).await.ok();
    let filled = m.redis.fill_until_oom();
    assert!(filled > 0, "Redis was full before it was filled");

    for target in ["flood", "RasPi/flood"] {
        let out = m.cli.run(&["send", target, "echo x"]).await;
        assert_eq!(out.code(), Some(1), "send {target}: {out:?}");
        assert!(
            out.stderr.contains("Redis is out of memory"),
            "send {target}: {out:?}"
        );
        assert!(!out.stderr.contains("no session"), "send {target}: {out:?}");
    }
}
