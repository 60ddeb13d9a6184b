//! What `serve` is told ([`ServeOptions`], plain values a Rust user can build)
//! and what each request reads ([`Config`], checked and fixed at start-up).

use crate::error::usage;
use crate::http::server::access_log::Format;
use crate::http::server::auth::Auth;
use crate::http::server::files::cache::FileCache;
use crate::http::server::mock::{self, Route};
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
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body: u64,
    /// CORS headers on every response, and answers to preflights.
    pub cors: bool,
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
            max_body: 1 << 30,
            cors: false,
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
    pub(crate) cors: bool,
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
            cors: opts.cors,
            headers: opts.headers.clone(),
            cache_control: opts.cache_control.clone(),
            compress: opts.compress,
            log: opts.access_log,
            cache: FileCache::default(),
        })
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
