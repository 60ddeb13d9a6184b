//! The pooled client every HTTP command sends with, built from [`ClientOptions`]:
//! timeouts, redirects, HTTP version, TLS (the shared rustls config of `crate::tls`),
//! proxies and fixed addresses for host names.

use crate::error::chain_text;
use crate::error::usage;
use crate::http::client::errors::io_reason;
use crate::http::client::retry::RetryPolicy;
use anyhow::{Result, anyhow};
use base64::Engine;
use reqwest::Client;
use reqwest::header::HeaderValue;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The HTTP version to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/1.1 only.
    Http11,
    /// HTTP/2 when ALPN agrees over TLS; plain http stays 1.1.
    Http2,
    /// HTTP/2 from the first byte, also h2c on plain http.
    Http2PriorKnowledge,
}

/// Whether and against what server certificates are checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Verify {
    /// Check against the bundled Mozilla roots (the safe default).
    #[default]
    Yes,
    /// Check nothing: anyone on the path can read and change the connection.
    No,
    /// Check against the bundled roots and the CA certificates in this PEM file.
    CaFile(PathBuf),
}

/// Which requests a [`Proxy`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyScheme {
    /// Requests to http:// URLs.
    Http,
    /// Requests to https:// URLs.
    Https,
    /// Every request.
    All,
}

/// A proxy to send requests through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The scheme it serves as the user wrote it (`http:`, `https:`, `all:`); none: every one.
    pub scheme: Option<ProxyScheme>,
    /// The proxy's own URL, e.g. `http://127.0.0.1:3128`.
    pub url: String,
}

impl Proxy {
    /// The reqwest proxy; fails when `url` is not a usable proxy URL.
    pub fn to_reqwest(&self) -> Result<reqwest::Proxy, reqwest::Error> {
        match self.scheme {
            Some(ProxyScheme::Http) => reqwest::Proxy::http(&self.url),
            Some(ProxyScheme::Https) => reqwest::Proxy::https(&self.url),
            Some(ProxyScheme::All) | None => reqwest::Proxy::all(&self.url),
        }
    }
}

/// As the user writes it: `[PROTOCOL:]URL`.
impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scheme {
            Some(ProxyScheme::Http) => f.write_str("http:")?,
            Some(ProxyScheme::Https) => f.write_str("https:")?,
            Some(ProxyScheme::All) => f.write_str("all:")?,
            None => {}
        }
        f.write_str(&self.url)
    }
}

/// Credentials sent with every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// HTTP Basic: the user and, if given, the password.
    Basic {
        /// The user name.
        user: String,
        /// The password; none sends `user:`.
        password: Option<String>,
    },
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
}

impl Auth {
    /// The Authorization header value, marked sensitive (kept out of logs and HPACK tables).
    pub fn header_value(&self) -> Result<HeaderValue> {
        let text = match self {
            Auth::Basic { user, password } => {
                let pair = format!("{user}:{}", password.as_deref().unwrap_or(""));
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
            Auth::Bearer(token) => format!("Bearer {token}"),
        };
        let mut value = HeaderValue::from_str(&text)
            .map_err(|_| usage("the bearer token has characters a header cannot carry"))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// How the client connects and what every request carries; `Default` is wirekit's
/// defaults (no timeouts, no redirects followed, certificates checked, no retries).
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Give up on a whole request (connect, send, receive) after this long.
    pub timeout: Option<Duration>,
    /// Give up on connecting after this long.
    pub connect_timeout: Option<Duration>,
    /// Follow redirects, at most `max_redirects` of them.
    pub follow: bool,
    /// Most redirects followed with `follow`.
    pub max_redirects: usize,
    /// The HTTP version; none: HTTP/2 when ALPN agrees, else 1.1.
    pub http_version: Option<HttpVersion>,
    /// Credentials for every request.
    pub auth: Option<Auth>,
    /// Server certificate checks.
    pub verify: Verify,
    /// Accept exactly the server certificate with this SHA-256 fingerprint (`--pin`).
    pub pin: Option<crate::tls::Pin>,
    /// Client certificate (PEM) for TLS client authentication.
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of `cert`, when it is not in the same file.
    pub cert_key: Option<PathBuf>,
    /// Proxies; none: HTTP_PROXY, HTTPS_PROXY and NO_PROXY are honoured.
    pub proxies: Vec<Proxy>,
    /// Connect to this address for this host name, skipping DNS.
    pub resolve: Vec<(String, SocketAddr)>,
    /// When and how often to retry a request.
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: None,
            connect_timeout: None,
            follow: false,
            max_redirects: 10,
            http_version: None,
            auth: None,
            verify: Verify::Yes,
            pin: None,
            cert: None,
            cert_key: None,
            proxies: Vec::new(),
            resolve: Vec::new(),
            retry: RetryPolicy::default(),
        }
    }
}

/// The contents of a file a flag names; unreadable is bad usage (exit 2), named with the flag.
fn read_flag_file(flag: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        usage(format!(
            "{flag}: cannot read '{}': {}",
            path.display(),
            io_reason(&e)
        ))
    })
}

/// The rustls client config of the shared TLS module (ring, TLS 1.2/1.3, bundled Mozilla
/// roots plus a CA file, client certificate), with ALPN for the HTTP version.
fn tls_config(o: &ClientOptions) -> Result<rustls::ClientConfig> {
    let (cacert, insecure) = match &o.verify {
        Verify::Yes => (None, false),
        Verify::No => (None, true),
        Verify::CaFile(path) => {
            let pem = read_flag_file("--verify", path)?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(usage(format!(
                    "--verify: '{}' holds no PEM certificates; give a CA file, yes or no",
                    path.display()
                )));
            }
            (Some(path.clone()), false)
        }
    };
    if let Some(c) = &o.cert {
        read_flag_file("--cert", c)?;
    }
    if let Some(k) = &o.cert_key {
        read_flag_file("--cert-key", k)?;
    }
    let alpn: &[&str] = match o.http_version {
        Some(HttpVersion::Http11) => &["http/1.1"],
        Some(HttpVersion::Http2PriorKnowledge) => &["h2"],
        Some(HttpVersion::Http2) | None => &["h2", "http/1.1"],
    };
    let tls = crate::tls::TlsClientOptions {
        cacert,
        insecure,
        sni: None,
        alpn: Vec::new(),
        cert: o.cert.clone(),
        // A key in the certificate's own file is found there.
        key: o
            .cert
            .as_ref()
            .map(|c| o.cert_key.as_ref().unwrap_or(c).clone()),
        pin: o.pin,
    };
    let config = crate::tls::client_config_for(&tls, alpn)?;
    Ok((*config).clone())
}

/// A pooled client with wirekit's defaults ([`ClientOptions::default`]), for library
/// users of [`crate::http::client::fetch::fetch_all`].
pub fn default_client() -> Result<Client> {
    build_client(&ClientOptions::default(), None)
}

/// Build the pooled client. `idle_per_host` bounds idle pooled connections per host
/// (fetch sets it to its concurrency). Unreadable certificate files are bad usage.
pub fn build_client(o: &ClientOptions, idle_per_host: Option<usize>) -> Result<Client> {
    // One crypto provider for the process: ring (no aws-lc-rs, no cmake). Installing it a
    // second time fails harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = Client::builder().tcp_nodelay(true).redirect(if o.follow {
        reqwest::redirect::Policy::limited(o.max_redirects)
    } else {
        reqwest::redirect::Policy::none()
    });
    if let Some(n) = idle_per_host {
        b = b.pool_max_idle_per_host(n);
    }
    if let Some(t) = o.timeout {
        b = b.timeout(t);
    }
    if let Some(t) = o.connect_timeout {
        b = b.connect_timeout(t);
    }
    match o.http_version {
        Some(HttpVersion::Http11) => b = b.http1_only(),
        Some(HttpVersion::Http2PriorKnowledge) => b = b.http2_prior_knowledge(),
        Some(HttpVersion::Http2) | None => {}
    }
    b = b.tls_backend_preconfigured(tls_config(o)?);
    for p in &o.proxies {
        let proxy = p.to_reqwest().map_err(|e| {
            usage(format!(
                "--proxy '{p}': {e}; write it like http://127.0.0.1:3128 or https:http://127.0.0.1:3128"
            ))
        })?;
        b = b.proxy(proxy);
    }
    for (host, addr) in &o.resolve {
        b = b.resolve(host, *addr);
    }
    b.build()
        .map_err(|e| anyhow!("cannot set up the HTTP client: {}", chain_text(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_header_values() {
        let basic = Auth::Basic {
            user: "ann".into(),
            password: Some("pw".into()),
        };
        let v = basic.header_value().expect("basic");
        assert_eq!(v.to_str().ok(), Some("Basic YW5uOnB3"));
        assert!(v.is_sensitive());
        let bare = Auth::Basic {
            user: "ann".into(),
            password: None,
        };
        assert_eq!(
            bare.header_value().expect("basic").to_str().ok(),
            Some("Basic YW5uOg==")
        );
        assert!(Auth::Bearer("a\nb".into()).header_value().is_err());
    }

    #[test]
    fn proxy_text_round_trips() {
        let p = Proxy {
            scheme: Some(ProxyScheme::Https),
            url: "http://127.0.0.1:3128".into(),
        };
        assert_eq!(p.to_string(), "https:http://127.0.0.1:3128");
        assert!(p.to_reqwest().is_ok());
    }
}
