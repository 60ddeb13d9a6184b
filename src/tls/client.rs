//! Client configs (bundled Mozilla roots plus a CA file, `--insecure`, SNI,
//! ALPN, client certificates) and the handshake every client command shares.

use super::errors::describe_client_error;
use super::pem::{load_certs, load_key};
use super::stream::TlsStream;
use super::verify::Checker;
use super::{TlsClientOptions, VERSIONS, alpn_protocols, provider};
use crate::error::usage;
use anyhow::{Context, Result, anyhow};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tracing::debug;

/// The client config for `args` checking with `checker` (the one verifier of
/// every client); ALPN from `args.alpn`, else `default_alpn`.
pub(crate) fn client_config(
    args: &TlsClientOptions,
    default_alpn: &[&str],
    checker: Arc<Checker>,
) -> Result<Arc<ClientConfig>> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .context("TLS 1.2/1.3 with the ring provider")?
        .dangerous()
        .with_custom_certificate_verifier(checker);
    let mut config = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| {
                anyhow!(
                    "the key {} does not fit the client certificate {} ({e})",
                    key.display(),
                    cert.display()
                )
            })?,
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(usage(
                "--cert and --key go together: give both for a client certificate",
            ));
        }
    };
    config.alpn_protocols = alpn_protocols(&args.alpn, default_alpn);
    Ok(Arc::new(config))
}

/// The client config the options ask for: strict verification (or `pin`), or
/// none with `insecure` (refused together with `cacert` or `pin`). For clients that bring their
/// own connection code (e.g. an HTTP stack taking a rustls `ClientConfig`); they
/// should also print [`insecure_warning`] when `args.insecure`.
pub fn client_config_for(
    args: &TlsClientOptions,
    default_alpn: &[&str],
) -> Result<Arc<ClientConfig>> {
    if args.insecure && args.cacert.is_some() {
        return Err(usage(
            "--insecure checks nothing, so --cacert would be ignored; give one of them",
        ));
    }
    if args.insecure && args.pin.is_some() {
        return Err(usage(
            "--insecure checks nothing, so --pin would be ignored; give one of them",
        ));
    }
    client_config(args, default_alpn, Checker::new(args, false)?)
}

/// What `--insecure` prints on stderr (once per client), naming the server.
pub fn insecure_warning(server: &str) -> String {
    format!(
        "wirekit: warning: --insecure: the certificate of {server} is NOT verified; anyone on the path can read and change this connection"
    )
}

/// The name sent as SNI and verified: `sni`, else `host` (brackets of an IPv6
/// literal removed); a usage error when it is not a valid name.
pub(crate) fn server_name(sni: Option<&str>, host: &str) -> Result<ServerName<'static>> {
    let name = sni.unwrap_or(host);
    let bare = name.trim_matches(|c| c == '[' || c == ']');
    ServerName::try_from(bare.to_string()).map_err(|_| {
        usage(format!(
            "'{name}' is not a valid TLS server name; give a host name or address with --sni"
        ))
    })
}

/// The client half every client command shares: a config and the name to verify.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    /// `--sni`: the name to send and verify instead of the connect host.
    sni: Option<String>,
    /// `--insecure`; the flag inside says whether the warning was shown (once per client).
    insecure: Option<Arc<AtomicBool>>,
}

impl TlsClient {
    /// The client for `args`. With `insecure`, the first handshake warns on stderr.
    pub fn new(args: &TlsClientOptions, default_alpn: &[&str]) -> Result<TlsClient> {
        Ok(TlsClient {
            connector: TlsConnector::from(client_config_for(args, default_alpn)?),
            sni: args.sni.clone(),
            insecure: args.insecure.then(|| Arc::new(AtomicBool::new(false))),
        })
    }

    /// The name sent as SNI and verified: `sni`, else `host`.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>> {
        server_name(self.sni.as_deref(), host)
    }

    /// The same client, also handing its session secrets to `log` (for
    /// `proxy --pcap`, which stores them beside the packets).
    pub fn with_key_log(&self, log: Arc<dyn rustls::KeyLog>) -> TlsClient {
        let mut config = ClientConfig::clone(self.connector.config());
        config.key_log = log;
        TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            ..self.clone()
        }
    }

    /// Run the handshake over `tcp` to `host` (the name in the address the user gave).
    pub async fn handshake(&self, tcp: TcpStream, host: &str) -> Result<TlsStream<TcpStream>> {
        self.handshake_over(tcp, host).await
    }

    /// [`TlsClient::handshake`] over any byte stream (a recording wrapper, ...).
    pub async fn handshake_over<IO>(&self, tcp: IO, host: &str) -> Result<TlsStream<IO>>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let name = self.server_name(host)?;
        let shown = name.to_str().into_owned();
        if let Some(warned) = &self.insecure
            && !warned.swap(true, Ordering::Relaxed)
        {
            eprintln!("{}", insecure_warning(&shown));
        }
        match self.connector.connect(name, tcp).await {
            Ok(s) => {
                let s = TlsStream::from(tokio_rustls::TlsStream::Client(s));
                debug!(
                    "TLS with {shown}: {} {}, ALPN {}",
                    s.version().unwrap_or("?"),
                    s.cipher().unwrap_or("?".into()),
                    s.alpn()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .unwrap_or("none".into())
                );
                Ok(s)
            }
            Err(e) => Err(anyhow!(describe_client_error(&shown, &e))),
        }
    }
}
