//! `wirekit serve`: hyper (HTTP/1.1 keep-alive and h2c) on the shared listener,
//! with the request pipeline: CORS preflight → auth → mock routes → httpbin →
//! uploads → files; then extra headers and the access log.

pub mod access_log;
pub mod auth;
pub mod body;
pub mod conn;
pub mod files;
pub mod httpbin;
pub mod mock;
pub mod upload;

use crate::cli::{GlobalArgs, LogFormat, ServeArgs};
use crate::error::usage;
use crate::http::server::access_log::{Entry, Format};
use crate::http::server::auth::Auth;
use crate::http::server::body::{Body, Logged};
use crate::http::server::conn::{Activity, BoxFuture, Handler, Protocols, drive};
use crate::http::server::files::cache::FileCache;
use crate::net::{Conn, HostPort, Listener};
use crate::tls;
use anyhow::{Context, Result};
use http::header::{self, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use mock::Route;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tracing::{debug, info};

/// Everything a request needs to know, fixed at start-up.
pub struct Config {
    /// The served folder, canonical (symlinks resolved) so containment checks are exact.
    pub root: PathBuf,
    /// Where request paths are resolved from: `.` once the server runs inside the
    /// root, so each lookup walks only the path's own components, else the root.
    pub base: PathBuf,
    pub listing: bool,
    pub hidden: bool,
    pub follow_symlinks: bool,
    pub spa: bool,
    pub routes: Vec<Route>,
    pub httpbin: Option<String>,
    pub auth: Option<Auth>,
    pub upload: bool,
    pub max_body: u64,
    pub overwrite: bool,
    pub cors: bool,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub cache_control: Option<HeaderValue>,
    pub compress: bool,
    pub log: Option<Format>,
    /// What is known about the files served lately.
    pub cache: FileCache,
}

impl Config {
    pub fn from_args(args: &ServeArgs, global: &GlobalArgs) -> Result<Config> {
        let root = std::fs::canonicalize(&args.dir).map_err(|e| {
            usage(format!(
                "cannot serve {}: {e}; give an existing folder as DIR",
                args.dir.display()
            ))
        })?;
        if !root.is_dir() {
            return Err(usage(format!(
                "{} is not a folder; give a folder as DIR",
                args.dir.display()
            )));
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let mut routes = Vec::new();
        if let Some(file) = &args.routes {
            routes.extend(mock::load(file)?);
        }
        for r in &args.route {
            routes.push(Route::parse(r, &cwd)?);
        }
        let mut headers = Vec::new();
        for h in &args.headers {
            let Some((name, value)) = h.split_once(':') else {
                return Err(usage(format!(
                    "--header '{h}' has no ':'; write it like 'X-Frame-Options: DENY'"
                )));
            };
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                usage(format!(
                    "--header '{h}': '{}' is not a header name",
                    name.trim()
                ))
            })?;
            let value = HeaderValue::from_str(value.trim()).map_err(|_| {
                usage(format!(
                    "--header '{h}': the value has characters a header cannot carry"
                ))
            })?;
            headers.push((name, value));
        }
        let cache_control = match &args.cache_control {
            None => None,
            Some(v) => Some(HeaderValue::from_str(v).map_err(|_| {
                usage(format!(
                    "--cache-control '{v}' has characters a header cannot carry"
                ))
            })?),
        };
        let prefix = args.httpbin_prefix.trim_end_matches('/');
        if !prefix.is_empty() && !prefix.starts_with('/') {
            return Err(usage(format!(
                "--httpbin-prefix '{}' must start with '/', like /httpbin",
                args.httpbin_prefix
            )));
        }
        let log_on = !args.no_access_log && tracing::enabled!(tracing::Level::INFO);
        Ok(Config {
            base: root.clone(),
            root,
            listing: !args.no_listing,
            hidden: args.hidden,
            follow_symlinks: args.follow_symlinks,
            spa: args.spa,
            routes,
            httpbin: args.httpbin.then(|| prefix.to_string()),
            auth: Auth::new(args.auth.as_deref(), args.token.as_deref())?,
            upload: args.upload,
            max_body: args.max_body,
            overwrite: args.overwrite,
            cors: args.cors,
            headers,
            cache_control,
            compress: !args.no_compress,
            log: log_on.then_some(match global.log_format {
                LogFormat::Text => Format::Combined,
                LogFormat::Json => Format::Json,
            }),
            cache: FileCache::default(),
        })
    }
}

/// A plain-text error or notice page.
pub fn error_page(status: StatusCode, message: &str) -> Response<Body> {
    let text = format!(
        "{} {}: {message}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    *r.body_mut() = Body::text(text);
    r
}

fn allow_value(cfg: &Config) -> HeaderValue {
    HeaderValue::from_static(if cfg.upload {
        "GET, HEAD, PUT, POST, OPTIONS"
    } else {
        "GET, HEAD, OPTIONS"
    })
}

fn preflight(req: &Parts) -> Response<Body> {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    if let Some(v) = req.headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

async fn dispatch(
    cfg: &Config,
    peer: SocketAddr,
    req: &Parts,
    body: Incoming,
    user: &mut Option<String>,
) -> Response<Body> {
    if cfg.cors
        && req.method == Method::OPTIONS
        && req
            .headers
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(req);
    }
    if let Some(auth) = &cfg.auth {
        match auth.check(&req.headers) {
            Ok(u) => *user = u,
            Err(_) => return auth.challenge(),
        }
    }
    let head = req.method == Method::HEAD;
    match mock::find(&cfg.routes, &req.method, req.uri.path()) {
        mock::Match::Hit(route, params) => return route.respond(&params, head),
        mock::Match::WrongMethod(allowed) => {
            let mut r = error_page(StatusCode::METHOD_NOT_ALLOWED, "no route for this method");
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                r.headers_mut().insert(header::ALLOW, v);
            }
            return r;
        }
        mock::Match::Miss => {}
    }
    if let Some(prefix) = &cfg.httpbin
        && let Some(rest) = httpbin::owns(prefix, req.uri.path())
    {
        return httpbin::handle(cfg, prefix, peer, req, body, rest).await;
    }
    match req.method {
        Method::GET | Method::HEAD => files::get(cfg, req),
        Method::PUT if cfg.upload => upload::put(cfg, req, body).await,
        Method::POST if cfg.upload => upload::post(cfg, req, body).await,
        Method::OPTIONS => {
            let mut r = Response::new(Body::Empty);
            *r.status_mut() = StatusCode::NO_CONTENT;
            r.headers_mut().insert(header::ALLOW, allow_value(cfg));
            r
        }
        _ => {
            let hint = if cfg.upload {
                "this method is not served here"
            } else {
                "this method is not served here (uploads need --upload)"
            };
            let mut r = error_page(StatusCode::METHOD_NOT_ALLOWED, hint);
            r.headers_mut().insert(header::ALLOW, allow_value(cfg));
            r
        }
    }
}

fn version_text(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

fn header_text(req: &Parts, name: header::HeaderName) -> Option<String> {
    req.headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// One request, start to finish.
pub async fn handle(cfg: &Config, peer: SocketAddr, req: Request<Incoming>) -> Response<Logged> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let mut user = None;
    let mut resp = dispatch(cfg, peer, &parts, body, &mut user).await;
    let h = resp.headers_mut();
    if cfg.cors {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("*"),
        );
    }
    for (k, v) in &cfg.headers {
        h.insert(k.clone(), v.clone());
    }
    let entry = cfg.log.map(|format| {
        Box::new(Entry {
            format,
            peer: peer.ip().to_canonical(),
            user,
            method: parts.method.to_string(),
            target: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.to_string(), |p| p.to_string()),
            version: version_text(parts.version),
            referer: header_text(&parts, header::REFERER),
            user_agent: header_text(&parts, header::USER_AGENT),
            status: resp.status().as_u16(),
            time: SystemTime::now(),
            started,
        })
    });
    resp.map(|inner| Logged {
        inner,
        sent: 0,
        entry,
        activity: None,
    })
}

fn protocols(args: &ServeArgs) -> Result<Protocols> {
    if args.max_header_size < 8192 {
        return Err(usage(format!(
            "--max-header-size {} is below the minimum of 8K",
            args.max_header_size
        )));
    }
    Ok(Protocols::new(args.header_timeout, args.max_header_size))
}

/// Serve one connection. Only what the connection's task needs across awaits is
/// kept: the rest of `Conn` is dropped before the first await.
fn serve_conn(
    protocols: Arc<Protocols>,
    service: Handler,
    conn: Conn,
) -> impl Future<Output = Result<()>> + Send {
    let Conn {
        stream,
        peer,
        shutdown,
        ..
    } = conn;
    async move {
        if let Err(e) = drive(protocols, peer, stream, shutdown, service).await {
            // Clients that reset, time out or send garbage are routine for a server.
            debug!(%peer, "connection from {peer} ended: {e}");
        }
        Ok(())
    }
}

/// Run `wirekit serve` until SIGINT/SIGTERM. The process's working folder becomes
/// the served folder once the listener is up (request paths resolve from there).
pub async fn run(args: &ServeArgs, global: &GlobalArgs) -> Result<()> {
    let mut cfg = Config::from_args(args, global)?;
    let protocols = Arc::new(protocols(args)?);
    let host = args
        .bind
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addr = HostPort {
        host,
        port: args.port,
    };
    let dump = args.dump.open()?;
    let listener = Listener::bind(&addr, &args.listen.options(), dump)
        .await
        .map_err(|e| {
            if args.port == 8000 {
                e.context("wirekit serve listens on port 8000 by default; choose another with -p")
            } else {
                e
            }
        })?
        .nodelay(true)
        // HTTP/2 by ALPN; the h2 preface check in `conn::drive` then picks the protocol.
        .with_tls(tls::acceptor(
            args.tls.options().as_ref(),
            &addr.host,
            &["h2", "http/1.1"],
        )?);
    // Every file named on the command line has been read by now. Inside the root,
    // each request's `statx` walks "./a.txt", not the root's whole path again
    // (1 KiB benchmark: ~18 → ~14 µs of server CPU per request).
    if std::env::set_current_dir(&cfg.root).is_ok() {
        cfg.base = PathBuf::from(".");
    }
    let cfg = Arc::new(cfg);
    let local = listener.local_addr();
    let scheme = if args.tls.tls { "https" } else { "http" };
    let shown = if local.is_ipv6() {
        format!("[{}]:{}", local.ip(), local.port())
    } else {
        local.to_string()
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "Serving {} on {scheme}://{shown}/", cfg.root.display())
            .and_then(|_| out.flush())
            .context("writing to stdout")?;
    }
    for r in &cfg.routes {
        info!("route {r}");
    }
    if let Some(p) = &cfg.httpbin {
        info!("httpbin endpoints under {}/", p);
    }
    // One handler for all connections; each request learns its client from `Activity`.
    let service: Handler = Arc::new(
        move |req: Request<Incoming>, activity: Arc<Activity>| -> BoxFuture {
            let cfg = cfg.clone();
            Box::pin(async move {
                activity.begin();
                let mut resp = handle(&cfg, activity.peer, req).await;
                resp.body_mut().activity = Some(activity);
                Ok(resp)
            })
        },
    );
    listener
        .run(false, move |conn: Conn| {
            serve_conn(protocols.clone(), service.clone(), conn)
        })
        .await
}
