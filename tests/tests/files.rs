//! Files across the mesh, end to end: `telemux cp` between this computer and
//! real nodes and between two nodes, sha256 compared at every hop; paths
//! outside a node's `files.roots` (absolute, `..`, symlinks leading out)
//! refused with the roots named, through the CLI and through MCP (the
//! Python SDK, tests/mcp/mcp_files_check.py); `files.max_bytes`; a wrong
//! sha256 or an abandoned upload never puts a file in place; and Redis
//! stopped mid-copy leaves no target file at either end.
//!
//! The nodes' HOME is a private temp dir, and the default `files.roots` is
//! the home directory, so each node serves exactly its own temp HOME.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use telemux_bus::{Bus, Requester};
use telemux_proto::files::hex;
use telemux_proto::{ComputerName, ErrorCode, Op, ReplyBody, WriteChunk};
use telemux_tests::pymcp::{self, run_script};
use telemux_tests::{telemux_bin, wait_until, Mesh, RedisServer};
use tokio_util::sync::CancellationToken;

/// Deterministic bytes that do not compress or repeat (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn sha_of(path: &Path) -> String {
    sha(&std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display())))
}

/// Temporary upload files (`.NAME.telemux-ID.part`) in `dir`.
fn parts(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy().into_owned();
                    n.contains(".telemux-") && n.ends_with(".part")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `telemux --json cp SRC DST`, parsed; panics unless it succeeded.
async fn cp(m: &Mesh, src: &str, dst: &str) -> Value {
    let out = m.cli.run(&["--json", "cp", src, dst]).await;
    serde_json::from_str(out.ok())
        .unwrap_or_else(|e| panic!("cp --json is not JSON ({e}): {out:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_file_goes_round_the_mesh_unchanged() {
    let m = Mesh::start(&["RasPi", "MozBook"]).await;
    let data = noise(5 * 1024 * 1024 + 12345, 7);
    let want = sha(&data);
    let local = m.cli.home().join("data.bin");
    std::fs::write(&local, &data).unwrap();
    let (raspi, mozbook) = (m.nodes[0].home(), m.nodes[1].home());

    // local → RasPi (a relative remote path is relative to the node's home).
    let r = cp(&m, "data.bin", "RasPi:data.bin").await;
    assert_eq!(r["sha256"], want, "{r}");
    assert_eq!(r["bytes"], data.len() as u64, "{r}");
    assert_eq!(sha_of(&raspi.join("data.bin")), want);
    // RasPi → MozBook → RasPi, through this process.
    let r = cp(&m, "RasPi:data.bin", "MozBook:~/copy.bin").await;
    assert_eq!(r["sha256"], want, "{r}");
    assert_eq!(sha_of(&mozbook.join("copy.bin")), want);
    let r = cp(&m, "mozbook:copy.bin", "RasPi:~/").await;
    assert_eq!(r["sha256"], want, "{r}");
    assert!(
        r["dst"].as_str().unwrap().ends_with("/copy.bin"),
        "a directory keeps the name: {r}"
    );
    assert_eq!(sha_of(&raspi.join("copy.bin")), want);
    // RasPi → local, into a directory.
    std::fs::create_dir(m.cli.home().join("back")).unwrap();
    let r = cp(&m, "RasPi:copy.bin", "back").await;
    assert_eq!(r["sha256"], want, "{r}");
    assert_eq!(
        std::fs::read(m.cli.home().join("back/copy.bin")).unwrap(),
        data
    );
    // Overwriting keeps the target's mode; nothing temporary is left anywhere.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        raspi.join("data.bin"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(m.cli.home().join("small.txt"), "hello\n").unwrap();
    cp(&m, "small.txt", "RasPi:data.bin").await;
    assert_eq!(std::fs::read(raspi.join("data.bin")).unwrap(), b"hello\n");
    let mode = std::fs::metadata(raspi.join("data.bin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "an overwritten file keeps its mode");
    for dir in [raspi, mozbook, m.cli.home(), &m.cli.home().join("back")] {
        assert!(
            parts(dir).is_empty(),
            "temporary files left in {}: {:?}",
            dir.display(),
            parts(dir)
        );
    }
    // A local path with a colon is written ./a:b.
    std::fs::write(m.cli.home().join("a:b"), "colon").unwrap();
    cp(&m, "./a:b", "RasPi:colon.txt").await;
    assert_eq!(std::fs::read(raspi.join("colon.txt")).unwrap(), b"colon");
    let out = m.cli.run(&["cp", "small.txt", "./elsewhere.txt"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("COMPUTER:PATH"), "{out:?}");
}

/// Asserts `out` failed with exit 2 and a message naming `home` as the roots.
fn refused(out: &telemux_tests::Output, home: &Path) {
    assert_eq!(out.code(), Some(2), "{out:?}");
    let roots = format!("files.roots: {}", home.display());
    assert!(
        out.stderr.contains(&roots),
        "the error names the roots ({roots}): {out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_outside_the_roots_are_refused_naming_them() {
    let m = Mesh::start(&["RasPi"]).await;
    let home = m.nodes[0].home();
    std::os::unix::fs::symlink("/etc", home.join("etc-link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", home.join("pw")).unwrap();
    std::os::unix::fs::symlink("/tmp", home.join("tmp-link")).unwrap();
    std::fs::write(m.cli.home().join("x.txt"), "x").unwrap();
    for src in [
        "RasPi:/etc/passwd",
        "RasPi:etc-link/passwd",
        "RasPi:pw",
        "RasPi:../../etc/passwd",
        "RasPi:/etc/no-such-file",
    ] {
        let out = m.cli.run(&["cp", src, "got.txt"]).await;
        refused(&out, home);
        assert!(
            !m.cli.home().join("got.txt").exists(),
            "{src}: nothing written here"
        );
    }
    let stray = format!("telemux-files-test-{}", std::process::id());
    for dst in [
        format!("RasPi:/tmp/{stray}"),
        format!("RasPi:tmp-link/{stray}"),
        format!("RasPi:../{stray}"),
    ] {
        let out = m.cli.run(&["cp", "x.txt", &dst]).await;
        refused(&out, home);
    }
    assert!(
        !Path::new("/tmp").join(&stray).exists(),
        "nothing written outside the roots"
    );
    assert!(!home.parent().unwrap().join(&stray).exists());
    // And through MCP, with the Python SDK.
    let Some(py) = pymcp::python(Path::new(env!("CARGO_TARGET_TMPDIR"))) else {
        return;
    };
    std::fs::write(home.join("hello.txt"), "héllo wörld\n").unwrap();
    std::fs::write(home.join("blob.bin"), [0u8, 159, 146, 150, 255]).unwrap();
    let bin = telemux_bin();
    let home_s = home.display().to_string();
    let args = [
        "--telemux",
        bin.to_str().unwrap(),
        "--computer",
        "RasPi",
        "--roots",
        &home_s,
        "--stray",
        &stray,
    ];
    let out = run_script(
        &m.cli,
        &m.redis.url(),
        &py,
        &pymcp::script("mcp_files_check.py"),
        &args,
    )
    .await;
    assert!(
        out.success && out.stdout.contains("mcp files check: all steps passed"),
        "Python MCP client failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        std::fs::read(home.join("written.txt")).unwrap(),
        "from mcp ✓".as_bytes()
    );
    assert_eq!(
        std::fs::read(home.join("written.bin")).unwrap(),
        [0u8, 1, 2, 255]
    );
    assert!(
        !Path::new("/tmp").join(&stray).exists(),
        "MCP wrote nothing outside the roots"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_max_bytes_is_refused() {
    let m = Mesh::start_with(RedisServer::start(), &["RasPi"], |o| {
        o.env("TELEMUX_FILES__MAX_BYTES", "1000")
    })
    .await;
    let home = m.nodes[0].home();
    std::fs::write(m.cli.home().join("big.bin"), noise(1001, 3)).unwrap();
    std::fs::write(home.join("big.bin"), noise(1001, 4)).unwrap();
    std::fs::write(m.cli.home().join("ok.bin"), noise(1000, 5)).unwrap();
    let out = m.cli.run(&["cp", "big.bin", "RasPi:up.bin"]).await;
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("1001 bytes") && out.stderr.contains("files.max_bytes"),
        "{out:?}"
    );
    assert!(!home.join("up.bin").exists() && parts(home).is_empty());
    let out = m.cli.run(&["cp", "RasPi:big.bin", "down.bin"]).await;
    assert!(out.stderr.contains("files.max_bytes"), "{out:?}");
    assert!(!m.cli.home().join("down.bin").exists() && parts(m.cli.home()).is_empty());
    // The limit itself is allowed.
    cp(&m, "ok.bin", "RasPi:ok.bin").await;
    assert_eq!(std::fs::read(home.join("ok.bin")).unwrap(), noise(1000, 5));
}

/// Sends one raw `WriteFile` chunk to `computer`, as a sender of another
/// version (or a faulty one) would.
async fn write_chunk(m: &Mesh, computer: &str, chunk: WriteChunk) -> ReplyBody {
    let bus = Bus::connect(&m.redis.url()).await.unwrap();
    let req = Requester::start(bus, "test@files".into(), CancellationToken::new());
    req.request_resolved(
        &ComputerName::new(computer).unwrap(),
        Op::WriteFile(chunk),
        Duration::from_secs(10),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_sha256_or_an_abandoned_upload_puts_nothing_in_place() {
    let m = Mesh::start(&["RasPi"]).await;
    let home = m.nodes[0].home();
    std::fs::write(home.join("kept.txt"), "old").unwrap();
    let chunk = |id: &str, data: &[u8], done: Option<String>| WriteChunk {
        path: "~/kept.txt".into(),
        upload_id: id.into(),
        offset: 0,
        size: data.len() as u64,
        data: data.to_vec(),
        done,
        exclusive: false,
        make_dirs: false,
    };
    let r = write_chunk(
        &m,
        "RasPi",
        chunk("u1", b"new contents", Some(sha(b"other contents"))),
    )
    .await;
    assert!(
        matches!(
            r,
            ReplyBody::Error {
                code: ErrorCode::Checksum,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(
        std::fs::read(home.join("kept.txt")).unwrap(),
        b"old",
        "the target is untouched"
    );
    assert!(
        parts(home).is_empty(),
        "the damaged upload is removed: {:?}",
        parts(home)
    );
    // The first half of an upload, never finished: the target is untouched.
    let mut first = chunk("u2", b"half", None);
    first.size = 8;
    let r = write_chunk(&m, "RasPi", first).await;
    assert!(matches!(r, ReplyBody::FileWritten(_)), "{r:?}");
    assert_eq!(std::fs::read(home.join("kept.txt")).unwrap(), b"old");
    assert_eq!(
        parts(home).len(),
        1,
        "the upload waits in its temporary file"
    );
    // The right sha256 replaces it.
    let r = write_chunk(&m, "RasPi", chunk("u3", b"new", Some(sha(b"new")))).await;
    assert!(
        matches!(r, ReplyBody::FileWritten(ref w) if w.sha256.as_deref() == Some(sha(b"new").as_str())),
        "{r:?}"
    );
    assert_eq!(std::fs::read(home.join("kept.txt")).unwrap(), b"new");
}

/// Starts `cp SRC DST` in slow chunks, waits for its temporary file in
/// `part_dir`, stops Redis, and checks the copy fails and `target` does not exist.
async fn stop_redis_mid_copy(m: &mut Mesh, src: &str, dst: &str, part_dir: &Path, target: &Path) {
    let chunk = 4096.to_string();
    let child = m
        .cli
        .command(&["cp", "--chunk-bytes", &chunk, src, dst])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(
        "the copy to be under way",
        Duration::from_secs(20),
        || async { !parts(part_dir).is_empty() },
    )
    .await;
    m.redis.stop();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("cp ends once Redis is gone")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "cp must fail: {stderr}");
    assert!(stderr.contains("telemux:"), "one error line: {stderr}");
    assert!(
        !target.exists(),
        "no target file after a failed copy: {}",
        target.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_copy_leaves_no_target_file() {
    let mut m = Mesh::start(&["RasPi"]).await;
    let home = m.nodes[0].home().to_path_buf();
    let data = noise(5 * 1024 * 1024, 11);
    std::fs::write(m.cli.home().join("big.bin"), &data).unwrap();
    std::fs::write(home.join("remote.bin"), &data).unwrap();
    // local → remote: the node's temporary file stays until swept, never under the target's name.
    stop_redis_mid_copy(
        &mut m,
        "big.bin",
        "RasPi:big.bin",
        &home,
        &home.join("big.bin"),
    )
    .await;
    m.redis.start_again();
    m.wait_online("RasPi", true).await;
    // remote → local: the local temporary file is removed too.
    let cli_home = m.cli.home().to_path_buf();
    stop_redis_mid_copy(
        &mut m,
        "RasPi:remote.bin",
        "got.bin",
        &cli_home,
        &cli_home.join("got.bin"),
    )
    .await;
    assert!(
        parts(&cli_home).is_empty(),
        "local temporary file removed: {:?}",
        parts(&cli_home)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_changes_while_copied_is_not_put_in_place() {
    let m = Mesh::start(&["RasPi"]).await;
    let home = m.nodes[0].home().to_path_buf();
    std::fs::write(home.join("moving.bin"), noise(4 * 1024 * 1024, 13)).unwrap();
    let child = m
        .cli
        .command(&["cp", "--chunk-bytes", "4096", "RasPi:moving.bin", "got.bin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cli_home = m.cli.home().to_path_buf();
    wait_until(
        "the copy to be under way",
        Duration::from_secs(20),
        || async { !parts(&cli_home).is_empty() },
    )
    .await;
    std::fs::write(home.join("moving.bin"), noise(4 * 1024 * 1024, 14)).unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("changed while it was copied"),
        "{stderr}"
    );
    assert!(!cli_home.join("got.bin").exists() && parts(&cli_home).is_empty());
}
