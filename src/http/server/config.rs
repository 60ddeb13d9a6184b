//! What `serve` is told ([`ServeOptions`], plain values a Rust user can build)
//! and what each request reads ([`Config`], checked and fixed at start-up).

use crate::error::usage;
use crate::http::server::access_log::Format;
use crate::http::server::auth::Auth;
use crate::http::server::files::cache::FileCache;
use crate::http::server::mock::{self, Route};
use crate::http::server::qr::PageQr;
use crate::net::{Dump, HostPort, ListenOptions};
use crate::tls::TlsServerOptions;
use anyhow::Result;
use http::header::{HeaderName, HeaderValue};
use std::path::PathBuf;
use std::time::Duration;

/// Everything `serve` can be told; `Default` serves `.` on 127.0.0.1:8000 with
/// listings and compression on, and no access log.
pub struct ServeOptions {
    /// The folder to serve.
    pub root: PathBuf,
    /// Where to listen (port 0 picks a free one).
    pub bind: HostPort,
    /// List folders without index.html (else 403).
    pub listing: bool,
    /// Serve and list dotfiles.
    pub hidden: bool,
    /// Follow symlinks that point outside the root.
    pub follow_symlinks: bool,
    /// Answer unknown paths with the root's index.html (single-page apps).
    pub spa: bool,
    /// Mock routes, `METHOD PATH [STATUS] [BODY|@FILE]`; `@FILE` is relative to the current folder.
    pub routes: Vec<String>,
    /// A JSON or TOML file of mock routes, read before `routes`.
    pub routes_file: Option<PathBuf>,
    /// Answer httpbin endpoints under this prefix (`""` for the top).
    pub httpbin: Option<String>,
    /// Require HTTP Basic auth: `USER:PASS` or `USER:sha256:HEX`.
    pub auth: Option<String>,
    /// Require this bearer token (with `auth`, either is enough).
    pub token: Option<String>,
    /// Accept uploads (PUT to a path, multipart POST to a folder).
    pub upload: bool,
    /// Let uploads replace existing files.
    pub overwrite: bool,
    /// Let the listing page (a multipart field `mkdir`) create folders; needs `upload`.
    pub mkdir: bool,
    /// Offer folders as one archive (`?download=tar.gz` or `zip`), with listings on.
    pub archives: bool,
    /// Show a QR code of the page's URL on listing pages.
    pub qr: bool,
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body: u64,
    /// CORS headers on every response, and answers to preflights; also lets
    /// other origins write (POST, PUT, DELETE, PATCH), which is refused otherwise.
    pub cors: bool,
    /// Host names (or addresses) accepted in `Host` besides the loopback ones,
    /// when bound to a loopback address; `*` accepts any.
    pub allowed_hosts: Vec<String>,
    /// Headers added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Cache-Control for files.
    pub cache_control: Option<HeaderValue>,
    /// Compress responses the client accepts compressed.
    pub compress: bool,
    /// The access log on stderr in this format, or none.
    pub access_log: Option<Format>,
    /// How long a client may take to send its request head.
    pub header_timeout: Duration,
    /// Largest request head in bytes; at least 8 KiB.
    pub max_header_size: u64,
    /// Most header fields in a request (HTTP/1.1 and HTTP/2); 431 beyond.
    pub max_headers: usize,
    /// The shared listener's limits, access rules and timeouts.
    pub listen: ListenOptions,
    /// Serve TLS (HTTP/2 by ALPN) with these settings.
    pub tls: Option<TlsServerOptions>,
    /// A hex dump of all traffic.
    pub dump: Option<Dump>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            root: PathBuf::from("."),
            bind: HostPort {
                host: "127.0.0.1".into(),
                port: 8000,
            },
            listing: true,
            hidden: false,
            follow_symlinks: false,
            spa: false,
            routes: Vec::new(),
            routes_file: None,
            httpbin: None,
            auth: None,
            token: None,
            upload: false,
            overwrite: false,
            mkdir: false,
            archives: true,
            qr: false,
            max_body: 1 << 30,
            cors: false,
            allowed_hosts: Vec::new(),
            headers: Vec::new(),
            cache_control: None,
            compress: true,
            access_log: None,
            header_timeout: Duration::from_secs(10),
            max_header_size: 16 * 1024,
            max_headers: 100,
            listen: ListenOptions::default(),
            tls: None,
            dump: None,
        }
    }
}

/// Which `Host` values are answered.
pub(crate) enum Hosts {
    /// Any (bound to a non-loopback address, or `--allowed-host '*'`).
    Any,
    /// Loopback names and addresses, and these names (a server bound to
    /// loopback must not answer a page that rebinds its own name to 127.0.0.1).
    Loopback(Vec<String>),
}

impl Hosts {
    /// The rule for a server bound to `bind` with `--allowed-host` values `allowed`.
    fn new(bind: &str, allowed: &[String]) -> Result<Hosts> {
        for a in allowed {
            if a != "*" && (a.is_empty() || a.contains([':', '/', ' ', '[', ']'])) {
                return Err(usage(format!(
                    "--allowed-host '{a}' is not a host name or IPv4 address; give a name like dev.example, without port or scheme"
                )));
            }
        }
        if allowed.iter().any(|a| a == "*") || !loopback_bind(bind) {
            return Ok(Hosts::Any);
        }
        let mut names: Vec<String> = allowed.to_vec();
        // The name the server was told to bind is its own name too.
        if bind.parse::<std::net::IpAddr>().is_err() {
            names.push(bind.to_string());
        }
        Ok(Hosts::Loopback(names))
    }
}

/// Whether `bind` (an address or a name) means loopback only: a loopback
/// address, localhost, or a name that resolves to loopback addresses only.
fn loopback_bind(bind: &str) -> bool {
    use std::net::ToSocketAddrs;
    if let Ok(ip) = bind.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let lower = bind.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return true;
    }
    // A one-time look-up at start-up; the listener resolves the name the same way.
    (bind, 0)
        .to_socket_addrs()
        .is_ok_and(|mut addrs| addrs.all(|a| a.ip().is_loopback()))
}

/// Everything a request needs to know, fixed at start-up. The fields not
/// described here are those of [`ServeOptions`], checked and parsed.
pub(crate) struct Config {
    /// The served folder, canonical (symlinks resolved) so containment checks are exact.
    pub(crate) root: PathBuf,
    /// Where request paths are resolved from: `.` once the server runs inside the
    /// root, so each lookup walks only the path's own components, else the root.
    pub(crate) base: PathBuf,
    pub(crate) listing: bool,
    pub(crate) hidden: bool,
    pub(crate) follow_symlinks: bool,
    pub(crate) spa: bool,
    pub(crate) routes: Vec<Route>,
    /// The httpbin prefix, without a trailing `/`.
    pub(crate) httpbin: Option<String>,
    pub(crate) auth: Option<Auth>,
    pub(crate) upload: bool,
    pub(crate) max_body: u64,
    pub(crate) overwrite: bool,
    pub(crate) mkdir: bool,
    pub(crate) archives: bool,
    /// `--qr`: how listing pages name their own URL.
    pub(crate) qr: Option<PageQr>,
    pub(crate) cors: bool,
    /// Which Host values are answered (421 otherwise).
    pub(crate) hosts: Hosts,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) cache_control: Option<HeaderValue>,
    pub(crate) compress: bool,
    pub(crate) log: Option<Format>,
    /// What is known about the files served lately.
    pub(crate) cache: FileCache,
}

impl Config {
    /// Check `opts` and read what start-up reads (the root, route files).
    pub(crate) fn new(opts: &ServeOptions) -> Result<Config> {
        let root = std::fs::canonicalize(&opts.root).map_err(|e| {
            usage(format!(
                "cannot serve {}: {e}; give an existing folder as DIR",
                opts.root.display()
            ))
        })?;
        if !root.is_dir() {
            return Err(usage(format!(
                "{} is not a folder; give a folder as DIR",
                opts.root.display()
            )));
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let mut routes = Vec::new();
        if let Some(file) = &opts.routes_file {
            routes.extend(mock::load(file)?);
        }
        for r in &opts.routes {
            routes.push(Route::parse(r, &cwd)?);
        }
        for r in &mut routes {
            r.prebuild(opts.cors, &opts.headers);
        }
        let httpbin = match &opts.httpbin {
            None => None,
            Some(raw) => {
                let prefix = raw.trim_end_matches('/');
                if !prefix.is_empty() && !prefix.starts_with('/') {
                    return Err(usage(format!(
                        "--httpbin-prefix '{raw}' must start with '/', like /httpbin"
                    )));
                }
                Some(prefix.to_string())
            }
        };
        Ok(Config {
            base: root.clone(),
            root,
            listing: opts.listing,
            hidden: opts.hidden,
            follow_symlinks: opts.follow_symlinks,
            spa: opts.spa,
            routes,
            httpbin,
            auth: Auth::new(opts.auth.as_deref(), opts.token.as_deref())?,
            upload: opts.upload,
            max_body: opts.max_body,
            overwrite: opts.overwrite,
            mkdir: opts.upload && opts.mkdir,
            archives: opts.archives,
            qr: opts
                .qr
                .then(|| PageQr::new(&opts.bind.host, opts.tls.is_some())),
            cors: opts.cors,
            hosts: Hosts::new(&opts.bind.host, &opts.allowed_hosts)?,
            headers: opts.headers.clone(),
            cache_control: opts.cache_control.clone(),
            compress: opts.compress,
            log: opts.access_log,
            cache: FileCache::default(),
        })
    }

    /// The Host rule for `bind` and `--allowed-host` values.
    #[cfg(test)]
    pub(crate) fn hosts_for(bind: &str, allowed: &[&str]) -> Result<Hosts> {
        Hosts::new(
            bind,
            &allowed.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        )
    }

    /// A configuration over `root` with everything else at its default, for
    /// handler tests without a socket.
    #[cfg(test)]
    pub(crate) fn for_tests(root: &std::path::Path) -> Config {
        let opts = ServeOptions {
            root: root.to_path_buf(),
            ..ServeOptions::default()
        };
        #[allow(clippy::expect_used)] // tests pass an existing folder
        Config::new(&opts).expect("a test root")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rule_follows_the_bind_address() {
        let names = |h: Hosts| match h {
            Hosts::Loopback(n) => Some(n),
            Hosts::Any => None,
        };
        assert_eq!(
            names(Config::hosts_for("127.0.0.1", &[]).unwrap()),
            Some(vec![])
        );
        assert_eq!(
            names(Config::hosts_for("::1", &["dev.example"]).unwrap()),
            Some(vec!["dev.example".to_string()])
        );
        assert_eq!(
            names(Config::hosts_for("localhost", &[]).unwrap()),
            Some(vec!["localhost".to_string()])
        );
        assert_eq!(names(Config::hosts_for("0.0.0.0", &[]).unwrap()), None);
        assert_eq!(names(Config::hosts_for("::", &[]).unwrap()), None);
        assert_eq!(names(Config::hosts_for("127.0.0.1", &["*"]).unwrap()), None);
        assert!(Config::hosts_for("127.0.0.1", &["x.example:80"]).is_err());
        assert!(Config::hosts_for("127.0.0.1", &[""]).is_err());
    }
}
