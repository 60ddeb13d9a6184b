//! Start-up and the accept loop: options become a [`Server`] (settings checked,
//! TLS ready), which binds the shared listener and then serves until shutdown.

use crate::http::server::access_log::{self, Format as AccessLogFormat};
use crate::http::server::body::Logged;
use crate::http::server::body::RequestBody;
use crate::http::server::config::{Config, ServeOptions};
use crate::http::server::conn::activity::Activity;
use crate::http::server::conn::{Answer, Handler, KEEP_ALIVE, Protocols, drive};
use crate::http::server::dispatch::{handle, refuse};
use crate::http::server::error::ServeError;
use crate::http::server::response::empty;
use crate::net::{Conn, Dump, HostPort, ListenOptions, Listener};
use crate::tls::{self, TlsAcceptor};
use anyhow::Result;
use futures_util::FutureExt;
use http::{Request, Response, StatusCode, Version};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tracing::{debug, info};

/// A server whose settings are checked, ready to bind ([`Server::bind`]).
pub struct Server {
    cfg: Config,
    protocols: Protocols,
    bind: HostPort,
    listen: ListenOptions,
    dump: Option<Dump>,
    /// With TLS: the acceptor, HTTP/2 offered by ALPN.
    tls: Option<TlsAcceptor>,
}

/// A server listening on its port; [`Bound::run`] answers requests.
pub struct Bound {
    cfg: Config,
    protocols: Protocols,
    listener: Listener,
    tls: bool,
}

fn protocols(opts: &ServeOptions) -> Result<Protocols> {
    if opts.max_header_size < 8192 {
        return Err(crate::error::usage(format!(
            "--max-header-size {} is below the minimum of 8K",
            opts.max_header_size
        )));
    }
    Ok(Protocols::new(
        opts.header_timeout,
        opts.max_header_size,
        opts.max_headers.max(1),
        opts.listen.idle_timeout.unwrap_or(KEEP_ALIVE),
        opts.access_log,
    ))
}

impl Server {
    /// Check `opts`, read the route files and prepare TLS; nothing is bound yet.
    pub fn new(opts: ServeOptions) -> Result<Server> {
        let cfg = Config::new(&opts)?;
        let protocols = protocols(&opts)?;
        // HTTP/2 by ALPN; the h2 preface check in `conn::drive` then picks the protocol.
        let tls = tls::acceptor(opts.tls.as_ref(), &opts.bind.host, &["h2", "http/1.1"])?;
        Ok(Server {
            cfg,
            protocols,
            bind: opts.bind,
            listen: opts.listen,
            dump: opts.dump,
            tls,
        })
    }

    /// Bind the listener. The process's working folder then becomes the served
    /// folder (request paths resolve from there).
    pub async fn bind(self) -> Result<Bound> {
        let Server {
            mut cfg,
            protocols,
            bind,
            listen,
            dump,
            tls,
        } = self;
        let secure = tls.is_some();
        let mut listener = Listener::bind(&bind, &listen, dump)
            .await?
            .nodelay(true)
            .with_tls(tls);
        if secure {
            listener = tls_gate(listener, cfg.log);
        }
        // Every file named in the options has been read by now. Inside the root,
        // each request's `statx` walks "./a.txt", not the root's whole path again
        // (1 KiB benchmark: ~18 → ~14 µs of server CPU per request).
        if std::env::set_current_dir(&cfg.root).is_ok() {
            cfg.base = PathBuf::from(".");
        }
        Ok(Bound {
            cfg,
            protocols,
            listener,
            tls: secure,
        })
    }
}

impl Bound {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// The served folder, canonical.
    pub fn root(&self) -> &Path {
        &self.cfg.root
    }

    /// Whether it serves TLS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// The URL of the root: `http://127.0.0.1:8000/`, `https://[::1]:8443/`.
    pub fn url(&self) -> String {
        root_url(self.local_addr(), self.tls)
    }

    /// Answer requests until SIGINT/SIGTERM.
    pub async fn run(self) -> Result<()> {
        let Bound {
            cfg,
            protocols,
            listener,
            ..
        } = self;
        for r in &cfg.routes {
            info!("route {r}");
        }
        if let Some(p) = &cfg.httpbin {
            info!("httpbin endpoints under {}/", p);
        }
        let cfg = Arc::new(cfg);
        let max_headers = protocols.max_headers;
        let max_head = protocols.max_head;
        let log = protocols.log;
        let protocols = Arc::new(protocols);
        // One handler for all connections; each request learns its client from `Activity`.
        let service: Handler = Arc::new(
            move |req: Request<RequestBody>,
                  activity: &Arc<Activity>,
                  own_fields: bool|
                  -> Answer {
                activity.begin();
                let h2 = req.version() == Version::HTTP_2;
                if h2 && let Some(why) = h2_head_too_large(&req, max_headers, max_head) {
                    return Answer::Now(head_too_large(&req, why, log, activity.clone()));
                }
                let ready = move |mut resp: Response<Logged>, activity| {
                    if h2 {
                        resp.body_mut().inner.for_h2();
                    }
                    resp.body_mut().activity = Some(activity);
                    resp
                };
                if activity.take_both_lengths() {
                    let why = ServeError::BadRequest(BOTH_LENGTHS.into());
                    let resp = refuse(&cfg, activity.peer, req, why);
                    return Answer::Now(ready(resp, activity.clone()));
                }
                match handle(&cfg, activity.peer, req, own_fields) {
                    Ok(resp) => Answer::Now(ready(resp, activity.clone())),
                    Err(waiting) => {
                        let (cfg, activity) = (cfg.clone(), activity.clone());
                        Answer::Later(Box::pin(async move {
                            let resp = waiting.answer(&cfg, activity.peer).await;
                            Ok(ready(resp, activity))
                        }))
                    }
                }
            },
        );
        listener
            .run(false, move |conn: Conn| {
                serve_conn(protocols.clone(), service.clone(), conn)
            })
            .await
    }
}

/// The URL of the root on `local`: `http://127.0.0.1:8000/`, `https://[::1]:8443/`.
fn root_url(local: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let shown = if local.is_ipv6() {
        format!("[{}]:{}", local.ip(), local.port())
    } else {
        local.to_string()
    };
    format!("{scheme}://{shown}/")
}

/// A TLS listener answers plain HTTP with a readable 400 page (as nginx does)
/// instead of a TLS alert, and its refused clients get access-log lines.
fn tls_gate(listener: Listener, log: Option<AccessLogFormat>) -> Listener {
    let url = root_url(listener.local_addr(), true);
    let page = format!("400 Bad Request: plain HTTP request sent to an HTTPS port; use {url}\n");
    let reply = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    let listener = listener.plain_text_reply(reply.into_bytes());
    let sent = page.len() as u64;
    let Some(format) = log else {
        return listener;
    };
    listener.on_handshake_failure(Arc::new(
        move |peer: SocketAddr, first: Option<&str>, replied: bool, why: &str, took| {
            let started = Instant::now()
                .checked_sub(took)
                .unwrap_or_else(Instant::now);
            let (status, bytes) = if replied {
                (Some(400), sent)
            } else {
                (None, 0)
            };
            let peer = peer.ip().to_canonical();
            access_log::protocol_error(format, peer, first, status, bytes, started, why);
        },
    ))
}

/// Why an HTTP/1.1 request with both framing fields gets 400.
const BOTH_LENGTHS: &str = "the request has both Content-Length and Transfer-Encoding, so its length is ambiguous (RFC 9112 §6.3); send only one of them";

/// Why an HTTP/2 request head is over the limits, if it is: more than
/// `--max-headers` fields, or a header list (RFC 9113 §6.5.2: each field's
/// name and value plus 32 bytes, the pseudo-fields included) over
/// `--max-header-size`. h2 would answer the second itself, unlogged, so it is
/// given room (see `conn::Protocols::new`) and the limit is kept here.
fn h2_head_too_large(
    req: &Request<RequestBody>,
    max_headers: usize,
    max_head: u64,
) -> Option<String> {
    if req.headers().len() > max_headers {
        return Some(format!(
            "more than {max_headers} header fields (--max-headers)"
        ));
    }
    let uri = req.uri();
    let pseudo = [
        (":method", req.method().as_str().len()),
        (":scheme", uri.scheme_str().map_or(0, str::len)),
        (
            ":authority",
            uri.authority().map_or(0, |a| a.as_str().len()),
        ),
        (
            ":path",
            uri.path_and_query().map_or(0, |p| p.as_str().len()),
        ),
    ];
    let size = pseudo.iter().map(|(n, v)| n.len() + v + 32).sum::<usize>()
        + req
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 32)
            .sum::<usize>();
    (size as u64 > max_head)
        .then(|| format!("a header list of {size} bytes, over {max_head} (--max-header-size)"))
}

/// The 431 for an HTTP/2 request head over the limits (empty, as HTTP/1.1
/// gets from hyper), logged like the refusals below the handler.
fn head_too_large(
    req: &Request<RequestBody>,
    why: String,
    log: Option<AccessLogFormat>,
    activity: Arc<Activity>,
) -> Response<Logged> {
    if let Some(format) = log {
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let line = format!("{} {target} HTTP/2.0", req.method());
        access_log::protocol_error(
            format,
            activity.peer.ip().to_canonical(),
            Some(&line),
            Some(431),
            0,
            Instant::now(),
            "request head too large or too many header fields",
        );
    }
    debug!(peer = %activity.peer, "HTTP/2 request with {why}");
    // Empty, as hyper's HTTP/1.1 431.
    empty(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).map(|inner| Logged {
        inner,
        sent: 0,
        entry: None,
        activity: Some(activity),
        fields: None,
    })
}

/// Serve `opts` until SIGINT/SIGTERM, announcing nothing.
pub async fn run(opts: ServeOptions) -> Result<()> {
    Server::new(opts)?.bind().await?.run().await
}

/// Serve one connection. Only what the connection's task needs across awaits is
/// kept: the rest of `Conn` is dropped at once, and `drive`'s future is the task's
/// whole state (it logs its own end).
fn serve_conn(
    protocols: Arc<Protocols>,
    service: Handler,
    conn: Conn,
) -> impl Future<Output = Result<()>> + Send {
    let Conn {
        stream,
        peer,
        shutdown,
        hold,
        ..
    } = conn;
    drive(protocols, peer, stream, shutdown, service, hold).map(Ok)
}
