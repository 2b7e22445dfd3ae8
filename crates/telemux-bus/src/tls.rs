//! TLS for `rediss://` beyond the system defaults: a private CA bundle and a
//! client certificate ([`TlsOptions`]), turned into the rustls `ClientConfig`
//! fred connects with, plus plain-words explanations of handshake failures.
//!
//! Every file problem names the setting and the file and says what is wrong
//! with it; the contents of a key file never appear in any message. A CA file
//! *replaces* the system trust store (like `redis-cli --cacert`): a mesh with
//! its own CA should not also trust every public CA for its Redis.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::BusError;

/// Config key of the CA bundle, as users write it.
pub const CA_FILE_KEY: &str = "redis.tls_ca_file";
/// Config key of the client certificate chain.
pub const CERT_FILE_KEY: &str = "redis.tls_cert_file";
/// Config key of the client private key.
pub const KEY_FILE_KEY: &str = "redis.tls_key_file";

/// TLS settings for a `rediss://` connection that a URL cannot carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM bundle of CA certificates to trust *instead of* the system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (chain, leaf first); requires `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate (PKCS#8, PKCS#1 or SEC1); requires `cert_file`.
    pub key_file: Option<PathBuf>,
}

impl TlsOptions {
    /// Whether nothing is set (then a `rediss://` URL uses fred's defaults: system roots, no client cert).
    pub fn is_empty(&self) -> bool {
        self.ca_file.is_none() && self.cert_file.is_none() && self.key_file.is_none()
    }

    /// Whether a client certificate is configured.
    pub fn has_client_cert(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }

    /// Checks that the settings make sense together (no files are read).
    pub fn check(&self) -> Result<(), BusError> {
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => Err(BusError::Tls(format!(
                "{CERT_FILE_KEY} is set but {KEY_FILE_KEY} is not: a client certificate needs its private key (set both or neither)"
            ))),
            (None, Some(_)) => Err(BusError::Tls(format!(
                "{KEY_FILE_KEY} is set but {CERT_FILE_KEY} is not: a client key needs its certificate (set both or neither)"
            ))),
            _ => Ok(()),
        }
    }

    /// Reads the files and builds the rustls client configuration (blocking file I/O).
    pub(crate) fn client_config(&self) -> Result<ClientConfig, BusError> {
        self.check()?;
        let roots = match &self.ca_file {
            Some(path) => ca_roots(path)?,
            None => system_roots()?,
        };
        // Our own provider, not the process default: another crate in the
        // binary may install a different one, and rustls must never guess.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| BusError::Tls(format!("cannot set up TLS: {e}")))?
            .with_root_certificates(roots);
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                let chain = client_chain(cert)?;
                let key_der = client_key(key)?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| match e {
                        rustls::Error::InconsistentKeys(_) => BusError::Tls(format!(
                            "the private key in {KEY_FILE_KEY} = {} does not belong to the certificate in {CERT_FILE_KEY} = {}",
                            key.display(),
                            cert.display()
                        )),
                        other => file_error(KEY_FILE_KEY, key, format!("cannot be used as the client certificate's key: {other}")),
                    })
            }
            _ => Ok(builder.with_no_client_auth()),
        }
    }
}

fn file_error(setting: &'static str, path: &Path, problem: String) -> BusError {
    BusError::TlsFile {
        setting,
        path: path.display().to_string(),
        problem,
    }
}

/// Reads a whole file, naming the setting when that fails.
fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, BusError> {
    std::fs::read(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "the file does not exist".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied (the file must be readable by the user telemux runs as)"
                    .to_string()
            }
            _ => format!("cannot read it: {e}"),
        };
        file_error(setting, path, why)
    })
}

/// A PEM parse error in words that never quote the file (it may be a key).
fn pem_problem(e: &rustls::pki_types::pem::Error, wanted: &str) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::NoItemsFound => format!("no {wanted} found in it (is it a PEM file?)"),
        Error::MissingSectionEnd { .. } => "a PEM section has no END line (file truncated?)".into(),
        Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".into(),
        Error::Base64Decode(_) => "a PEM section is not valid base64".into(),
        Error::SectionTooLarge => "a PEM section is too large".into(),
        _ => "it is not valid PEM".into(),
    }
}

fn certificates(
    setting: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, BusError> {
    let pem = read(setting, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(setting, path, pem_problem(&e, "certificate")))?;
    if certs.is_empty() {
        return Err(file_error(
            setting,
            path,
            "no certificate (-----BEGIN CERTIFICATE-----) found in it".into(),
        ));
    }
    Ok(certs)
}

fn ca_roots(path: &Path) -> Result<RootCertStore, BusError> {
    let certs = certificates(CA_FILE_KEY, path)?;
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(file_error(
            CA_FILE_KEY,
            path,
            format!("none of its {ignored} certificate(s) can be parsed as a CA certificate"),
        ));
    }
    if ignored > 0 {
        tracing::warn!(file = %path.display(), ignored, "some certificates in {CA_FILE_KEY} could not be parsed and are not trusted");
    }
    Ok(roots)
}

/// The system trust store, for a client certificate without a private CA.
fn system_roots() -> Result<RootCertStore, BusError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(BusError::Tls(format!(
            "no trusted CA certificates found in the system store{why}; set {CA_FILE_KEY} to the CA that signed the Redis server's certificate"
        )));
    }
    Ok(roots)
}

fn client_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, BusError> {
    certificates(CERT_FILE_KEY, path)
}

fn client_key(path: &Path) -> Result<PrivateKeyDer<'static>, BusError> {
    let pem = read(KEY_FILE_KEY, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        file_error(
            KEY_FILE_KEY,
            path,
            pem_problem(
                &e,
                "private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)",
            ),
        )
    })
}

/// A failed first connection in words, if it was a TLS handshake failure:
/// `(what happened, with the TLS library's reason; the setting that fixes it)`.
pub(crate) fn explain_handshake(cause: &str, tls: &TlsOptions) -> Option<(String, String)> {
    let (what, hint) = handshake_hint(cause, tls)?;
    // fred passes rustls' error on as `Custom { kind: InvalidData, error: AlertReceived(..) }`.
    let reason = cause
        .split_once("error: ")
        .map(|(_, r)| r.trim_end_matches(" }"))
        .unwrap_or(cause);
    Some((format!("{what} (TLS error: {reason})"), hint))
}

/// What went wrong in a TLS handshake, judged from the error text fred passes
/// on from rustls, with the setting that fixes it; `None` if it is no TLS failure.
fn handshake_hint(cause: &str, tls: &TlsOptions) -> Option<(String, String)> {
    let has = |s: &str| cause.contains(s);
    let ca_fix = if tls.ca_file.is_some() {
        format!("point {CA_FILE_KEY} at the CA that signed the Redis server's certificate (redis.conf tls-cert-file was issued by it)")
    } else {
        format!("set {CA_FILE_KEY} to the CA that signed the Redis server's certificate, or trust that CA system-wide")
    };
    let found = if has("UnknownIssuer")
        || has("BadSignature")
        || (has("UnknownCA") && !has("AlertReceived"))
    {
        (
            "the Redis server's certificate is not signed by a CA this computer trusts".to_string(),
            ca_fix,
        )
    } else if has("NotValidForName") {
        (
            "the Redis server's certificate is not valid for the host name in redis.url".to_string(),
            "use a host name or IP address listed in the certificate's subjectAltName in redis.url, or reissue the certificate with it".to_string(),
        )
    } else if has("Expired") {
        (
            "the Redis server's certificate has expired".to_string(),
            "renew the server certificate (tls-cert-file in redis.conf)".to_string(),
        )
    } else if has("NotValidYet") {
        (
            "the Redis server's certificate is not valid yet".to_string(),
            "check this computer's clock, or the certificate's start date".to_string(),
        )
    } else if has("CertificateRequired") || (has("HandshakeFailure") && !tls.has_client_cert()) {
        (
            "Redis requires a client certificate (tls-auth-clients yes) and none is configured".to_string(),
            format!("set {CERT_FILE_KEY} and {KEY_FILE_KEY} to a client certificate signed by the CA in Redis' tls-ca-cert-file"),
        )
    } else if has("AlertReceived")
        && (has("BadCertificate")
            || has("UnknownCA")
            || has("DecryptError")
            || has("CertificateUnknown"))
    {
        (
            "Redis rejected this computer's client certificate".to_string(),
            format!("use a client certificate ({CERT_FILE_KEY}) signed by the CA in Redis' tls-ca-cert-file"),
        )
    } else if has("InvalidContentType") || has("corrupt message") || has("InvalidMessage") {
        (
            "the server does not speak TLS on that port".to_string(),
            "use the Redis tls-port in the rediss:// URL, or redis:// if that Redis has no TLS"
                .to_string(),
        )
    } else if has("InvalidCertificate") || has("AlertReceived") || has("PeerIncompatible") {
        (
            "the TLS handshake was refused".to_string(),
            format!("check {CA_FILE_KEY}, {CERT_FILE_KEY}/{KEY_FILE_KEY} and the Redis TLS settings (tls-cert-file, tls-ca-cert-file, tls-auth-clients)"),
        )
    } else {
        return None;
    };
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fred's texts for real handshake failures (seen against redis-server 7.0).
    const NO_CLIENT_CERT: &str = "connection failed: Custom { kind: InvalidData, error: AlertReceived(CertificateRequired) }";
    const WRONG_CA: &str =
        "connection failed: Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) }";

    #[test]
    fn handshake_failures_name_the_setting_to_fix() {
        let none = TlsOptions::default();
        let (cause, hint) = explain_handshake(NO_CLIENT_CERT, &none).unwrap();
        assert!(
            cause.starts_with("Redis requires a client certificate"),
            "{cause}"
        );
        assert!(
            cause.ends_with("(TLS error: AlertReceived(CertificateRequired))"),
            "{cause}"
        );
        assert!(
            hint.contains(CERT_FILE_KEY) && hint.contains(KEY_FILE_KEY),
            "{hint}"
        );

        let with_ca = TlsOptions {
            ca_file: Some("/etc/telemux/ca.pem".into()),
            ..TlsOptions::default()
        };
        let (cause, hint) = explain_handshake(WRONG_CA, &with_ca).unwrap();
        assert!(
            cause.contains("not signed by a CA this computer trusts"),
            "{cause}"
        );
        assert!(hint.starts_with("point redis.tls_ca_file at"), "{hint}");
        let (_, hint) = explain_handshake(WRONG_CA, &none).unwrap();
        assert!(hint.starts_with("set redis.tls_ca_file"), "{hint}");

        assert!(explain_handshake("connection failed: Connection refused", &none).is_none());
    }

    #[test]
    fn half_a_client_certificate_is_refused() {
        let half = TlsOptions {
            key_file: Some("/k".into()),
            ..TlsOptions::default()
        };
        assert!(half
            .check()
            .unwrap_err()
            .to_string()
            .contains("set both or neither"));
        assert!(!half.has_client_cert());
        assert!(TlsOptions::default().is_empty());
    }
}
