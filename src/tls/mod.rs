//! TLS for every server and client: rustls on the ring provider, TLS 1.2 and 1.3
//! only. One file per concern:
//! - [`server`]: server configs and the listener's acceptor;
//! - [`client`]: client configs and the connector's handshake ([`TlsClient`]);
//! - [`pem`]: PEM certificates and keys, trust anchors, fingerprints;
//! - [`verify`]: the one certificate check of every client (CA, `--pin`,
//!   `--insecure`, recording for `tls inspect`);
//! - [`names`]: distinguished and alternative names, escaped for people;
//! - [`errors`]: every TLS error sentence (what failed, what to do);
//! - [`stream`]: the stream type the listener and connector hand out;
//! - [`cert`]: the PKI behind `wirekit cert` and self-signed server certificates;
//! - [`inspect`]: what `wirekit tls inspect` reports of a server.
//!
//! `tls/` uses nothing of `net/` (which uses `tls/`): inspection takes a
//! connected `TcpStream`.

pub mod cert;
pub mod client;
pub(crate) mod errors;
pub mod inspect;
pub(crate) mod names;
pub mod pem;
pub mod server;
pub mod stream;
pub mod verify;

pub use client::{TlsClient, client_config_for, insecure_warning};
pub(crate) use errors::describe_server_error;
pub use pem::{fingerprint, load_certs, load_key};
pub use server::{acceptor, server_config};
pub use stream::{TlsStream, version_name};
pub use tokio_rustls::{TlsAcceptor, TlsConnector};
pub use verify::Pin;

use rustls::crypto::CryptoProvider;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// A server's TLS: its certificate, the client certificates it requires, ALPN.
#[derive(Debug, Clone, Default)]
pub struct TlsServerOptions {
    /// Certificate chain in PEM (leaf first); with `key`. Neither: a self-signed
    /// certificate made in memory, its fingerprint printed on stderr.
    pub cert: Option<PathBuf>,
    /// Private key in PEM of `cert`.
    pub key: Option<PathBuf>,
    /// Require client certificates issued by a CA in this PEM file (mutual TLS).
    pub client_ca: Option<PathBuf>,
    /// ALPN protocols to accept, by preference; empty: the server's default.
    pub alpn: Vec<String>,
}

/// A client's TLS: whom to trust, the name to verify, ALPN, a client certificate.
#[derive(Debug, Clone, Default)]
pub struct TlsClientOptions {
    /// Also trust the CA certificates in this PEM file (besides the bundled Mozilla roots).
    pub cacert: Option<PathBuf>,
    /// Verify nothing (a warning goes to stderr once per client).
    pub insecure: bool,
    /// The name to send and verify instead of the host connected to.
    pub sni: Option<String>,
    /// ALPN protocols to offer; empty: the client's default.
    pub alpn: Vec<String>,
    /// Client certificate chain in PEM (mutual TLS); with `key`.
    pub cert: Option<PathBuf>,
    /// Private key in PEM of `cert`.
    pub key: Option<PathBuf>,
    /// Accept exactly the certificate with this SHA-256 fingerprint (its dates
    /// and name still checked; no CA needed).
    pub pin: Option<Pin>,
}

/// The only protocol versions wirekit speaks.
pub(crate) static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The ring crypto provider, built once.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The ALPN ids of a config: `list` (blank entries dropped), or `default` when
/// `list` is empty. Shared by client and server configs.
fn alpn_protocols(list: &[String], default: &[&str]) -> Vec<Vec<u8>> {
    if list.is_empty() {
        return default.iter().map(|s| s.as_bytes().to_vec()).collect();
    }
    list.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
        .collect()
}
