//! Throwaway certificates for TLS scenarios, made in-process with rcgen.
//!
//! [`TlsFiles::generate`] makes a fresh CA, a server certificate for
//! `127.0.0.1` and `localhost`, and a client certificate, all signed by that
//! CA, as PEM files in a private temp directory that lives as long as any
//! clone of the guard. Two calls give two unrelated CAs, which is how the
//! "wrong CA" scenarios are built. Nothing here touches the system trust store.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tempfile::TempDir;

/// A CA with one server and one client certificate, as PEM files on disk.
#[derive(Clone)]
pub struct TlsFiles {
    dir: Arc<TempDir>,
}

impl TlsFiles {
    /// Generates a new CA and the certificates it signs; panics if that fails.
    pub fn generate() -> TlsFiles {
        let dir = tempfile::Builder::new()
            .prefix("telemux-tls-")
            .tempdir()
            .expect("creating a temp dir for certificates");
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("writing a PEM file");
        };

        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "telemux test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).expect("self-signing the CA");
        write("ca.pem", ca_cert.pem());
        let issuer = Issuer::new(ca, ca_key);

        let leaf = |cn: &str, names: Vec<String>, usage: ExtendedKeyUsagePurpose, base: &str| {
            let key = KeyPair::generate().expect("leaf key");
            let mut params = CertificateParams::new(names).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &issuer).expect("signing a leaf");
            write(&format!("{base}.pem"), cert.pem());
            write(&format!("{base}.key"), key.serialize_pem());
        };
        leaf(
            "localhost",
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
            "server",
        );
        leaf(
            "telemux test client",
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
            "client",
        );
        TlsFiles { dir: Arc::new(dir) }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The CA certificate (`--tls-ca-cert-file`, `redis.tls_ca_file`).
    pub fn ca(&self) -> PathBuf {
        self.file("ca.pem")
    }

    /// The server certificate, valid for `127.0.0.1` and `localhost`.
    pub fn server_cert(&self) -> PathBuf {
        self.file("server.pem")
    }

    /// The server's private key.
    pub fn server_key(&self) -> PathBuf {
        self.file("server.key")
    }

    /// The client certificate (`redis.tls_cert_file`).
    pub fn client_cert(&self) -> PathBuf {
        self.file("client.pem")
    }

    /// The client's private key (`redis.tls_key_file`).
    pub fn client_key(&self) -> PathBuf {
        self.file("client.key")
    }

    /// The environment that makes telemux trust this CA and present the client certificate.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            env("TELEMUX_REDIS__TLS_CA_FILE", self.ca()),
            env("TELEMUX_REDIS__TLS_CERT_FILE", self.client_cert()),
            env("TELEMUX_REDIS__TLS_KEY_FILE", self.client_key()),
        ]
    }

    /// Like [`TlsFiles::env`] without the client certificate.
    pub fn env_ca_only(&self) -> Vec<(String, String)> {
        vec![env("TELEMUX_REDIS__TLS_CA_FILE", self.ca())]
    }
}

fn env(key: &str, path: PathBuf) -> (String, String) {
    (key.to_string(), path.display().to_string())
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles")
            .field("dir", &self.dir.path())
            .finish()
    }
}
