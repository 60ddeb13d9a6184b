//! What `wirekit tls inspect` finds out about a server: complete the handshake
//! whatever the certificate, and report the protocol, the cipher suite, ALPN,
//! every certificate of the chain and whether (and why not) it verifies.
//!
//! The caller connects (with `net::connect`) and hands over the `TcpStream`, so
//! `tls/` needs nothing of `net/`.

use super::client::client_config;
use super::errors::{describe_certificate_error, describe_client_error};
use super::names::{alt_names, distinguished_name};
use super::pem::fingerprint;
use super::stream::version_name;
use super::verify::{Checker, Pin};
use super::{TlsClientOptions, errors::describe_tls_error};
use crate::text::{Keep, escape_str};
use anyhow::{Result, anyhow};
use rustls::pki_types::ServerName;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use x509_parser::prelude::*;

/// What to offer and whom to trust while inspecting.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// Also trust the CA certificates in this PEM file when verifying.
    pub cacert: Option<PathBuf>,
    /// The name to send and verify instead of the host.
    pub sni: Option<String>,
    /// ALPN protocols to offer.
    pub alpn: Vec<String>,
    /// Client certificate chain in PEM, for servers that require one; with `key`.
    pub cert: Option<PathBuf>,
    /// Private key in PEM of `cert`.
    pub key: Option<PathBuf>,
    /// Verify as `--pin`: exactly the certificate with this SHA-256 fingerprint.
    pub pin: Option<Pin>,
    /// Give up on the handshake after this long.
    pub handshake_timeout: Duration,
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            cacert: None,
            sni: None,
            alpn: vec!["h2".into(), "http/1.1".into()],
            cert: None,
            key: None,
            pin: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// One certificate of the chain, as reported. Every text field is escaped
/// ([`crate::text::escape`]; names with RFC 4514 escaping): a certificate is
/// peer-supplied text and must not forge a line of the report.
#[derive(Debug, Serialize)]
pub struct CertInfo {
    /// The subject's distinguished name.
    pub subject: String,
    /// Subject alternative names, as `DNS:name`, `IP:addr`, ...
    pub sans: Vec<String>,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// Key type and size, e.g. `ECDSA P-256`, `RSA 2048`.
    pub key: String,
    /// Serial number in hex.
    pub serial: String,
    /// SHA-256 fingerprint (see [`fingerprint`]).
    pub sha256: String,
    /// Whether it is a CA certificate.
    pub ca: bool,
}

/// What `tls inspect` found.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The server as given (`host:port`).
    pub host: String,
    /// The address connected to.
    pub address: String,
    /// The name sent as SNI and verified.
    pub server_name: String,
    /// `TLSv1.3` or `TLSv1.2`.
    pub protocol: String,
    /// The negotiated cipher suite.
    pub cipher: String,
    /// The negotiated ALPN protocol, if any.
    pub alpn: Option<String>,
    /// Whether the chain verifies against the trusted roots for `server_name`.
    pub verified: bool,
    /// Why verification failed, with the fix.
    pub error: Option<String>,
    /// The chain the server sent, leaf first.
    pub certificates: Vec<CertInfo>,
}

fn time_text(t: &ASN1Time) -> String {
    t.to_datetime()
        .format(&::time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn key_type(spki: &SubjectPublicKeyInfo) -> String {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "ECDSA P-256".into(),
                Some("1.3.132.0.34") => "ECDSA P-384".into(),
                Some("1.3.132.0.35") => "ECDSA P-521".into(),
                Some(other) => format!("ECDSA (curve {other})"),
                None => "ECDSA".into(),
            }
        }
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
            _ => "RSA".into(),
        },
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.113" => "Ed448".into(),
        other => format!("unknown ({other})"),
    }
}

/// Describe a DER certificate; an unparsable one still gets its fingerprint.
pub fn describe(der: &[u8]) -> CertInfo {
    let sha256 = fingerprint(der);
    let Ok((_, x)) = parse_x509_certificate(der) else {
        return CertInfo {
            subject: "(unparsable certificate)".into(),
            sans: vec![],
            issuer: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            key: String::new(),
            serial: String::new(),
            sha256,
            ca: false,
        };
    };
    let sans = alt_names(&x)
        .into_iter()
        .map(|(kind, name)| format!("{kind}:{name}"))
        .collect();
    CertInfo {
        subject: distinguished_name(x.subject()),
        sans,
        issuer: distinguished_name(x.issuer()),
        not_before: time_text(&x.validity().not_before),
        not_after: time_text(&x.validity().not_after),
        key: key_type(x.public_key()),
        serial: escape_str(&x.raw_serial_as_string(), Keep::Nothing).into_owned(),
        sha256,
        ca: x.is_ca(),
    }
}

/// A server to inspect, with everything that can fail before connecting
/// (files, the server name) already checked.
pub struct Inspector {
    /// `host:port`, for reports and messages.
    target: String,
    /// The name sent and verified (brackets of an IPv6 literal removed).
    bare: String,
    name: ServerName<'static>,
    verifier: Arc<Checker>,
    config: Arc<rustls::ClientConfig>,
    handshake_timeout: Duration,
}

impl Inspector {
    /// Prepare to inspect `host` at `port`: load the CA and client certificate
    /// files and check the server name, before any connection is made.
    pub fn new(host: &str, port: u16, opts: &InspectOptions) -> Result<Inspector> {
        let client = TlsClientOptions {
            cacert: opts.cacert.clone(),
            insecure: false,
            sni: opts.sni.clone(),
            alpn: opts.alpn.clone(),
            cert: opts.cert.clone(),
            key: opts.key.clone(),
            pin: opts.pin,
        };
        let verifier = Checker::new(&client, true)?;
        let config = client_config(&client, &[], verifier.clone())?;
        let name_text = opts.sni.clone().unwrap_or_else(|| host.to_string());
        let bare = name_text.trim_matches(|c| c == '[' || c == ']').to_string();
        let name = ServerName::try_from(bare.clone()).map_err(|_| {
            crate::error::usage(format!(
                "'{name_text}' is not a valid TLS server name; set one with --sni"
            ))
        })?;
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(Inspector {
            target,
            bare,
            name,
            verifier,
            config,
            handshake_timeout: opts.handshake_timeout,
        })
    }

    /// Run the handshake over `tcp` (connected to the server) and report.
    pub async fn inspect(self, tcp: TcpStream) -> Result<Report> {
        let address = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        let target = &self.target;
        let handshake = TlsConnector::from(self.config).connect(self.name, tcp);
        let mut tls = match tokio::time::timeout(self.handshake_timeout, handshake).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(anyhow!(describe_client_error(target, &e))),
            Err(_) => {
                return Err(anyhow!(
                    "the TLS handshake with {target} timed out after {:?} (is it a TLS server?)",
                    self.handshake_timeout
                ));
            }
        };
        let (_, conn) = tls.get_ref();
        let certificates: Vec<CertInfo> = conn
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .map(|c| describe(c))
            .collect();
        let bare = self.bare;
        let (verified, error) = match self.verifier.outcome() {
            Some(Ok(())) => (true, None),
            Some(Err(rustls::Error::InvalidCertificate(e))) => {
                (false, Some(describe_certificate_error(&bare, &e)))
            }
            Some(Err(e)) => (false, Some(describe_tls_error(&bare, &e))),
            None => (
                false,
                Some("the server sent no certificate to verify".into()),
            ),
        };
        let report = Report {
            host: self.target,
            address,
            server_name: bare,
            protocol: conn
                .protocol_version()
                .map(version_name)
                .unwrap_or("unknown")
                .into(),
            cipher: conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default(),
            alpn: conn
                .alpn_protocol()
                .map(|p| crate::text::escape(p, Keep::Nothing).into_owned()),
            verified,
            error,
            certificates,
        };
        // Say goodbye politely; the server's answer does not matter.
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
        Ok(report)
    }
}
