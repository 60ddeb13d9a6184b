//! TLS for every server and client: rustls on the ring provider, TLS 1.2 and 1.3
//! only. Server configs (PEM chain + key, or an in-memory self-signed
//! certificate; optional client certificates), client configs (bundled Mozilla
//! roots plus `--cacert`, `--insecure`, `--sni`, `--alpn`, client certificates),
//! error messages that say what is wrong and what to do, and the stream type the
//! listener and connector hand out.

pub mod cert;
pub mod inspect;

use crate::error::usage;
use anyhow::{Context, Result, anyhow};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tracing::debug;

pub use tokio_rustls::{TlsAcceptor, TlsConnector};

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
}

/// The only protocol versions wirekit speaks.
pub static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The ring crypto provider, built once.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

// ---------------------------------------------------------------- PEM files

/// Every certificate in a PEM file (a chain: leaf first, then intermediates).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let data = std::fs::read(path)
        .with_context(|| format!("cannot read certificate file {}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow!(
                "{} is not a valid PEM certificate file: {e}",
                path.display()
            )
        })?;
    if certs.is_empty() {
        return Err(anyhow!(
            "{} holds no certificate (expected '-----BEGIN CERTIFICATE-----'); make one with `wirekit cert new`",
            path.display()
        ));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let data =
        std::fs::read(path).with_context(|| format!("cannot read key file {}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&data).map_err(|e| {
        anyhow!(
            "{} holds no usable private key (expected '-----BEGIN PRIVATE KEY-----' or an RSA/EC key): {e}",
            path.display()
        )
    })
}

/// A root store with the certificates of a PEM file.
fn roots_from(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    add_roots(&mut roots, path)?;
    Ok(roots)
}

/// Add the certificates of a PEM file to `roots` as trust anchors.
fn add_roots(roots: &mut RootCertStore, path: &Path) -> Result<()> {
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| {
            anyhow!(
                "{} holds a certificate that cannot be a trust anchor: {e}",
                path.display()
            )
        })?;
    }
    Ok(())
}

/// SHA-256 of a DER certificate as colon-separated upper-case hex (as openssl prints it).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Split `h2,http/1.1` style lists (already split by clap) into ALPN protocol ids.
fn alpn_ids(list: &[String]) -> Vec<Vec<u8>> {
    list.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

// ---------------------------------------------------------------- server

/// A self-signed certificate made in memory.
pub struct SelfSigned {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
    pub names: Vec<String>,
    pub fingerprint: String,
}

/// A self-signed ECDSA P-256 certificate for localhost, 127.0.0.1, ::1 and `host`.
pub fn self_signed(host: &str) -> Result<SelfSigned> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let host = host.trim_matches(|c| c == '[' || c == ']');
    let unspecified = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    if unspecified {
        // Bound to every interface: this machine's name is what clients will use.
        if let Ok(name) = dns_lookup::get_hostname() {
            names.push(name);
        }
    } else if !host.is_empty() {
        names.push(host.to_string());
    }
    let mut unique: Vec<String> = Vec::new();
    for n in names {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    let names = unique;
    let certified = crate::tls::cert::self_signed_leaf(&names, 30)?;
    let fingerprint = fingerprint(&certified.cert_der);
    Ok(SelfSigned {
        cert: certified.cert_der,
        key: certified.key_der,
        names,
        fingerprint,
    })
}

/// The server config for `args`: `--cert/--key` or a self-signed certificate for
/// `bind_host`; `--client-ca` for mTLS; ALPN from `--alpn`, else `default_alpn`
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
                "wirekit: clients must skip verification (--insecure) or pin that fingerprint; for a trusted one use `wirekit cert` and --cert/--key"
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
    config.alpn_protocols = if args.alpn.is_empty() {
        default_alpn.iter().map(|s| s.as_bytes().to_vec()).collect()
    } else {
        alpn_ids(&args.alpn)
    };
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

/// Why a server-side handshake failed, in words.
pub fn describe_server_error(err: &io::Error) -> String {
    match rustls_error(err) {
        Some(rustls::Error::NoCertificatesPresented) => {
            "the client sent no certificate, and --client-ca requires one".into()
        }
        Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            "the client's certificate was not issued by a CA in --client-ca".into()
        }
        Some(rustls::Error::InvalidCertificate(e)) => {
            format!("the client's certificate was refused: {e}")
        }
        Some(rustls::Error::AlertReceived(alert)) => format!(
            "the client refused the handshake ({alert:?}); it probably does not trust this certificate: give it the CA (--cacert) or use --cert/--key from a CA it trusts"
        ),
        Some(rustls::Error::InvalidMessage(_))
        | Some(rustls::Error::InappropriateMessage { .. }) => {
            "the client does not speak TLS (plain text on a --tls port?)".into()
        }
        Some(e) => e.to_string(),
        None if err.kind() == io::ErrorKind::UnexpectedEof => {
            "the client closed the connection during the handshake".into()
        }
        None => err.to_string(),
    }
}

// ---------------------------------------------------------------- client

/// A verifier that never fails the handshake: with `inner` it records whether
/// webpki would have accepted the chain (for `tls inspect`); without it,
/// `--insecure`. Handshake signatures are always checked.
#[derive(Debug)]
pub struct Lenient {
    inner: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    outcome: Mutex<Option<Result<(), rustls::Error>>>,
}

impl Lenient {
    /// The verdict of the real verifier, once the handshake has got that far.
    pub fn outcome(&self) -> Option<Result<(), rustls::Error>> {
        self.outcome.lock().ok().and_then(|o| o.clone())
    }
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(inner) = &self.inner {
            let verdict = inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
                .map(|_| ());
            if let Ok(mut o) = self.outcome.lock() {
                *o = Some(verdict);
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The trust anchors: the bundled Mozilla roots plus `--cacert`.
pub fn client_roots(cacert: Option<&Path>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = cacert {
        add_roots(&mut roots, path)?;
    }
    Ok(roots)
}

/// What to check of the server's certificate.
pub enum Verify {
    /// Refuse a chain that does not verify (the default).
    Strict,
    /// Check nothing (`--insecure`).
    Nothing,
    /// Complete the handshake whatever the chain, and record the verdict (`tls inspect`).
    Record(Arc<Lenient>),
}

/// A recording verifier for `tls inspect`, trusting the bundled roots and `cacert`.
pub fn recording_verifier(cacert: Option<&Path>) -> Result<Arc<Lenient>> {
    let inner =
        WebPkiServerVerifier::builder_with_provider(Arc::new(client_roots(cacert)?), provider())
            .build()
            .context("building the certificate verifier")?;
    Ok(Arc::new(Lenient {
        inner: Some(inner),
        algorithms: provider().signature_verification_algorithms,
        outcome: Mutex::new(None),
    }))
}

/// The client config for `args`; ALPN from `--alpn`, else `default_alpn`.
pub fn client_config(
    args: &TlsClientOptions,
    default_alpn: &[&str],
    verify: Verify,
) -> Result<Arc<ClientConfig>> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .context("TLS 1.2/1.3 with the ring provider")?;
    let builder = match verify {
        Verify::Strict => builder.with_root_certificates(client_roots(args.cacert.as_deref())?),
        Verify::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Lenient {
                inner: None,
                algorithms: provider().signature_verification_algorithms,
                outcome: Mutex::new(None),
            })),
        Verify::Record(v) => builder.dangerous().with_custom_certificate_verifier(v),
    };
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
    config.alpn_protocols = if args.alpn.is_empty() {
        default_alpn.iter().map(|s| s.as_bytes().to_vec()).collect()
    } else {
        alpn_ids(&args.alpn)
    };
    Ok(Arc::new(config))
}

/// The client config the flags ask for: strict verification, or none with
/// `--insecure` (refused together with `--cacert`). For clients that bring their
/// own connection code (e.g. an HTTP stack taking a rustls `ClientConfig`); they
/// should also print `insecure_warning` when `args.insecure`.
pub fn client_config_for(
    args: &TlsClientOptions,
    default_alpn: &[&str],
) -> Result<Arc<ClientConfig>> {
    if args.insecure && args.cacert.is_some() {
        return Err(usage(
            "--insecure checks nothing, so --cacert would be ignored; give one of them",
        ));
    }
    let verify = if args.insecure {
        Verify::Nothing
    } else {
        Verify::Strict
    };
    client_config(args, default_alpn, verify)
}

/// What `--insecure` prints on stderr (once per client), naming the server.
pub fn insecure_warning(server: &str) -> String {
    format!(
        "wirekit: warning: --insecure: the certificate of {server} is NOT verified; anyone on the path can read and change this connection"
    )
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

    /// The name sent as SNI and verified: `--sni`, else `host`.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>> {
        let name = self.sni.as_deref().unwrap_or(host);
        let bare = name.trim_matches(|c| c == '[' || c == ']');
        ServerName::try_from(bare.to_string()).map_err(|_| {
            usage(format!(
                "'{name}' is not a valid TLS server name; give a host name or address with --sni"
            ))
        })
    }

    /// Run the handshake over `tcp` to `host` (the name in the address the user gave).
    pub async fn handshake(&self, tcp: TcpStream, host: &str) -> Result<TlsStream<TcpStream>> {
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

/// The rustls error inside an I/O error from tokio-rustls, if any.
pub fn rustls_error(err: &io::Error) -> Option<&rustls::Error> {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn date(t: &UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.as_secs() as i64)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{} (UNIX time)", t.as_secs()))
}

/// Why the server's certificate was refused, naming `host` and the fix.
pub fn describe_certificate_error(host: &str, err: &CertificateError) -> String {
    let fix = "pass the CA that issued it with --cacert FILE, or skip checks with --insecure";
    match err {
        CertificateError::ExpiredContext { time, not_after } => format!(
            "the certificate of {host} expired on {} (it is now {}); renew it on the server (e.g. `wirekit cert new`), or skip checks with --insecure",
            date(not_after),
            date(time)
        ),
        CertificateError::Expired => format!(
            "the certificate of {host} has expired; renew it on the server (e.g. `wirekit cert new`), or skip checks with --insecure"
        ),
        CertificateError::NotValidYetContext { not_before, .. } => format!(
            "the certificate of {host} is not valid before {} (check this machine's clock), or skip checks with --insecure",
            date(not_before)
        ),
        CertificateError::NotValidYet => format!(
            "the certificate of {host} is not valid yet (check this machine's clock), or skip checks with --insecure"
        ),
        CertificateError::NotValidForNameContext { presented, .. } => format!(
            "wrong host name: the certificate of {host} is for {}, not {host}; connect by one of those names or set the expected one with --sni NAME (or skip checks with --insecure)",
            if presented.is_empty() {
                "no name at all".to_string()
            } else {
                presented.join(", ")
            }
        ),
        CertificateError::NotValidForName => format!(
            "wrong host name: the certificate of {host} is not for {host}; connect by a name it is for or set it with --sni NAME (or skip checks with --insecure)"
        ),
        CertificateError::UnknownIssuer => format!(
            "the certificate of {host} was issued by an unknown authority (self-signed or a private CA); {fix}"
        ),
        CertificateError::BadSignature => format!(
            "the certificate of {host} has a bad signature (not signed by the CA it names); {fix}"
        ),
        other => format!("the certificate of {host} was refused: {other}; {fix}"),
    }
}

/// Why a client-side handshake with `host` failed.
pub fn describe_client_error(host: &str, err: &io::Error) -> String {
    match rustls_error(err) {
        Some(rustls::Error::InvalidCertificate(c)) => describe_certificate_error(host, c),
        Some(rustls::Error::AlertReceived(alert)) => {
            use rustls::AlertDescription as A;
            match alert {
                A::CertificateRequired => format!(
                    "{host} requires a client certificate; give one with --cert FILE --key FILE"
                ),
                A::UnknownCA | A::BadCertificate | A::CertificateUnknown => format!(
                    "{host} refused our client certificate ({alert:?}); give one issued by a CA it trusts with --cert/--key"
                ),
                A::NoApplicationProtocol => {
                    format!("{host} speaks none of the ALPN protocols offered; change --alpn")
                }
                A::ProtocolVersion => format!("{host} does not speak TLS 1.2 or 1.3"),
                _ => format!("TLS handshake with {host} failed: the server sent alert {alert:?}"),
            }
        }
        Some(rustls::Error::InvalidMessage(_))
        | Some(rustls::Error::InappropriateMessage { .. }) => {
            format!("{host} does not answer with TLS (a plain-text server? drop --tls)")
        }
        Some(e) => format!("TLS handshake with {host} failed: {e}"),
        None if err.kind() == io::ErrorKind::UnexpectedEof => format!(
            "{host} closed the connection during the TLS handshake (not a TLS server, or it refused our certificate or protocol)"
        ),
        None => format!("TLS handshake with {host} failed: {err}"),
    }
}

// ---------------------------------------------------------------- stream

/// A TLS stream, client or server side. A peer that closes the TCP connection
/// without a TLS close_notify (Python's `ssl` sockets, many servers) reads as an
/// ordinary end of stream, as ncat and socat treat it; it is logged at debug level.
pub struct TlsStream<S> {
    inner: tokio_rustls::TlsStream<S>,
}

impl<S> From<tokio_rustls::TlsStream<S>> for TlsStream<S> {
    fn from(inner: tokio_rustls::TlsStream<S>) -> Self {
        TlsStream { inner }
    }
}

impl<S> TlsStream<S> {
    fn common(&self) -> &rustls::CommonState {
        match &self.inner {
            tokio_rustls::TlsStream::Client(s) => s.get_ref().1,
            tokio_rustls::TlsStream::Server(s) => s.get_ref().1,
        }
    }

    /// The negotiated ALPN protocol, e.g. `b"h2"`.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.common().alpn_protocol()
    }

    /// `TLSv1.3` or `TLSv1.2`.
    pub fn version(&self) -> Option<&'static str> {
        self.common().protocol_version().map(version_name)
    }

    /// The negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub fn cipher(&self) -> Option<String> {
        self.common()
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
    }

    /// The peer's certificates (the client's, on a server with `--client-ca`).
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.common().peer_certificates()
    }

    pub fn get_ref(&self) -> &tokio_rustls::TlsStream<S> {
        &self.inner
    }
}

/// In TLS 1.3 a server checks the client's certificate after the client's side
/// of the handshake is done, so its refusal arrives on the first read: say what it means.
fn explain_late_error(e: io::Error) -> io::Error {
    use rustls::AlertDescription as A;
    let text = match rustls_error(&e) {
        Some(rustls::Error::AlertReceived(A::CertificateRequired)) => {
            "the server requires a client certificate; give one with --cert FILE --key FILE"
                .to_string()
        }
        Some(rustls::Error::AlertReceived(
            a @ (A::UnknownCA | A::BadCertificate | A::CertificateUnknown | A::DecryptError),
        )) => {
            format!(
                "the server refused our client certificate ({a:?}); give one issued by a CA it trusts with --cert/--key"
            )
        }
        _ => return e,
    };
    io::Error::new(e.kind(), text)
}

/// `TLSv1.3` for `TLSv1_3`.
pub fn version_name(v: rustls::ProtocolVersion) -> &'static str {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        _ => "unknown",
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                debug!(
                    "peer closed without TLS close_notify; treating it as the end of the stream"
                );
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(explain_late_error(e))),
            other => other,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_names_and_fingerprint() {
        let made = self_signed("myhost.test").expect("self-signed");
        assert_eq!(made.names, ["localhost", "127.0.0.1", "::1", "myhost.test"]);
        assert_eq!(made.fingerprint.len(), 32 * 3 - 1);
        assert!(
            made.fingerprint
                .chars()
                .all(|c| c == ':' || c.is_ascii_hexdigit())
        );
        let made = self_signed("127.0.0.1").expect("self-signed");
        assert_eq!(made.names, ["localhost", "127.0.0.1", "::1"]);
    }

    #[test]
    fn certificate_errors_name_host_and_fix() {
        let e = describe_certificate_error("h.test", &CertificateError::UnknownIssuer);
        assert!(e.contains("h.test") && e.contains("--cacert FILE") && e.contains("--insecure"));
        let e = describe_certificate_error(
            "h.test",
            &CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("h.test").expect("name").to_owned(),
                presented: vec!["other.test".into()],
            },
        );
        assert!(
            e.starts_with("wrong host name") && e.contains("other.test") && e.contains("--sni")
        );
    }
}
