//! Server configs: a PEM chain and key, or an in-memory self-signed
//! certificate; optional client certificates (mutual TLS); ALPN.

use super::cert::self_signed;
use super::pem::{load_certs, load_key, roots_from};
use super::{TlsServerOptions, VERSIONS, alpn_protocols, provider};
use crate::error::usage;
use anyhow::{Context, Result, anyhow};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// How long a refused client may go on sending before the connection is dropped.
const LINGER: Duration = Duration::from_secs(1);
/// How much of what it sends meanwhile is read (and thrown away).
const LINGER_BYTES: usize = 1 << 20;

/// The server config for `args`: `cert`/`key` or a self-signed certificate for
/// `bind_host`; `client_ca` for mTLS; ALPN from `alpn`, else `default_alpn`
/// (e.g. `&["h2", "http/1.1"]` for HTTP servers).
pub fn server_config(
    args: &TlsServerOptions,
    bind_host: &str,
    default_alpn: &[&str],
) -> Result<Arc<ServerConfig>> {
    let (chain, key) = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => (load_certs(cert)?, load_key(key)?),
        (None, None) => {
            let made = self_signed(bind_host)?;
            eprintln!(
                "wirekit: TLS with a self-signed certificate for {}; SHA-256 fingerprint {}",
                made.names.join(", "),
                made.fingerprint
            );
            eprintln!(
                "wirekit: clients must pin that fingerprint (--pin sha256:{}) or skip verification (--insecure); for a trusted one use `wirekit cert` and --cert/--key",
                made.fingerprint
            );
            (vec![made.cert], made.key)
        }
        _ => {
            return Err(usage(
                "--cert and --key go together: give both, or neither for a self-signed certificate",
            ));
        }
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .context("TLS 1.2/1.3 with the ring provider")?;
    let builder = match &args.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let roots = roots_from(ca)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| anyhow!("cannot use --client-ca {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        anyhow!(
            "the key {} does not fit the certificate {} ({e}); give the key that belongs to the certificate",
            args.key.as_deref().unwrap_or(Path::new("(generated)")).display(),
            args.cert.as_deref().unwrap_or(Path::new("(generated)")).display()
        )
    })?;
    config.alpn_protocols = alpn_protocols(&args.alpn, default_alpn);
    Ok(Arc::new(config))
}

/// The acceptor for the shared listener, or `None` for plain TCP.
pub fn acceptor(
    args: Option<&TlsServerOptions>,
    bind_host: &str,
    default_alpn: &[&str],
) -> Result<Option<TlsAcceptor>> {
    args.map(|a| {
        Ok(TlsAcceptor::from(server_config(
            a,
            bind_host,
            default_alpn,
        )?))
    })
    .transpose()
}

/// After a refused handshake (the alert is already written): half-close and read
/// what the client still sends, bounded in time and bytes, before dropping the
/// connection. Closing with the client's bytes unread would make the kernel send
/// a reset, which can overtake the alert, so that the client (a TLS 1.3 client
/// whose certificate is refused has already sent data) sees "broken pipe" instead
/// of the reason.
pub(crate) async fn linger_after_refusal(mut tcp: TcpStream) {
    let _ = tcp.shutdown().await;
    let mut buf = vec![0u8; 16 * 1024];
    let _ = tokio::time::timeout(LINGER, async {
        let mut total = 0;
        while let Ok(n) = tcp.read(&mut buf).await {
            total += n;
            if n == 0 || total > LINGER_BYTES {
                break;
            }
        }
    })
    .await;
}
