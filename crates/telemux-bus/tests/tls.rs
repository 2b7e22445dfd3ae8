//! `rediss://` against a real TLS redis-server with a throwaway CA, trusted
//! through `SSL_CERT_FILE` (read by the system certificate loader). Its own
//! test binary, because it sets a process-wide environment variable.

mod common;

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::info;
use telemux_bus::Bus;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn openssl(dir: &std::path::Path, args: &[&str]) {
    let st = tokio::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .expect("openssl in PATH");
    assert!(st.success(), "openssl {args:?}");
}

#[tokio::test]
async fn rediss_with_a_trusted_ca() {
    let dir = std::env::temp_dir().join(format!("telemux-bus-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=telemux test CA",
        ],
    )
    .await;
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    )
    .await;
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
    )
    .await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = Server(
        Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--tls-auth-clients",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .args([
                "--tls-cert-file",
                "server.pem",
                "--tls-key-file",
                "server.key",
            ])
            .args(["--tls-ca-cert-file", "ca.pem"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // SAFETY: this test binary has a single test; nothing reads the environment concurrently.
    unsafe { std::env::set_var("SSL_CERT_FILE", dir.join("ca.pem")) };

    let url = format!("rediss://localhost:{port}");
    let mut bus = None;
    for _ in 0..50 {
        match Bus::connect(&url).await {
            Ok(b) => {
                bus = Some(b);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let bus = bus.expect("TLS connection");
    bus.heartbeat(&info("RasPi", 1000)).await.unwrap();
    assert_eq!(bus.computers().await.unwrap().len(), 1);

    // Plain redis:// to the TLS port is refused at connect, not hung.
    let t = std::time::Instant::now();
    assert!(Bus::connect(&format!("redis://localhost:{port}"))
        .await
        .is_err());
    assert!(t.elapsed() < Duration::from_secs(4));
    let _ = std::fs::remove_dir_all(&dir);
}
