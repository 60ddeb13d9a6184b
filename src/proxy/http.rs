//! `proxy --http`: an HTTP/1.1 proxy (hyper in, the shared HTTP client out)
//! with HTTP faults: `abort` (answer a status instead of forwarding), `delay`
//! (hold a request), `throttle` (pace a response body) and `cut` (end a
//! response body early), each matched by method, path prefix or header and
//! gated by `percent=`, `first=N` (the first N matching requests) or `every=N`.

use super::capture::{Capture, CaptureTarget, Recorder, Side};
use crate::error::usage;
use crate::net::{ConnectOptions, Dump, HostPort, Listener};
use crate::tls::TlsClient;
use anyhow::Result;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{debug, warn};

/// What an HTTP fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpAction {
    /// Answer `status` (with `Retry-After: retry_after` when given) instead of forwarding.
    Abort {
        /// The status code.
        status: u16,
        /// Seconds for a Retry-After header.
        retry_after: Option<u64>,
    },
    /// Hold the request this many milliseconds before forwarding it.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// Send the response body at this many KB/s (1 KB = 1000 bytes).
    Throttle {
        /// KB per second.
        rate: u64,
    },
    /// End the response body after this many bytes.
    Cut {
        /// Bytes of the body let through.
        bytes: u64,
    },
}

/// When a matching request is hit.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Every matching request.
    Always,
    /// This percentage of them, at random (see `--seed`).
    Percent(f64),
    /// The first N, then none.
    First(u64),
    /// Every Nth (the Nth, 2Nth, ...).
    Every(u64),
}

/// One HTTP fault: what, on which requests, how often.
#[derive(Debug)]
pub struct HttpFault {
    /// What it does.
    pub action: HttpAction,
    /// Only requests with this method.
    pub method: Option<String>,
    /// Only requests whose path starts with this.
    pub path: Option<String>,
    /// Only requests with this header (and value, when given).
    pub header: Option<(String, Option<String>)>,
    /// How often it acts on matching requests.
    pub gate: Gate,
    /// Matching requests so far.
    seen: AtomicU64,
}

/// The HTTP fault types.
pub const HTTP_TYPES: &[&str] = &["abort", "delay", "throttle", "cut"];

impl HttpFault {
    /// Parse `TYPE:key=value,...`: `abort:status=503,retry_after=1`, `delay:ms=500`,
    /// `throttle:rate=10`, `cut:bytes=100`; matchers `method=GET`, `path=/api`,
    /// `header=Name` or `header=Name:value`; one gate of `percent=P` (0-100),
    /// `first=N`, `every=N`.
    pub fn parse(spec: &str) -> Result<HttpFault> {
        let bad = |why: String| usage(format!("--http-fault '{spec}': {why}"));
        let (type_name, rest) = spec.trim().split_once(':').unwrap_or((spec.trim(), ""));
        let mut action = match type_name {
            "abort" => HttpAction::Abort {
                status: 503,
                retry_after: None,
            },
            "delay" => HttpAction::Delay { ms: 0 },
            "throttle" => HttpAction::Throttle { rate: 0 },
            "cut" => HttpAction::Cut { bytes: 0 },
            other => {
                return Err(bad(format!(
                    "unknown HTTP fault '{other}'; valid: {}",
                    HTTP_TYPES.join(", ")
                )));
            }
        };
        let mut fault = HttpFault {
            action: action.clone(),
            method: None,
            path: None,
            header: None,
            gate: Gate::Always,
            seen: AtomicU64::new(0),
        };
        let mut gates = 0;
        for pair in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                bad(format!(
                    "'{pair}' is not key=value, e.g. abort:status=503,first=2"
                ))
            })?;
            let (key, value) = (key.trim(), value.trim());
            let count = || {
                value
                    .parse::<u64>()
                    .map_err(|_| bad(format!("{key}='{value}' is not a whole number from 0 up")))
            };
            match (&mut action, key) {
                (HttpAction::Abort { status, .. }, "status") => {
                    *status = value
                        .parse::<u16>()
                        .ok()
                        .filter(|s| (100..=599).contains(s))
                        .ok_or_else(|| {
                            bad(format!(
                                "status '{value}' is not an HTTP status from 100 to 599"
                            ))
                        })?
                }
                (HttpAction::Abort { retry_after, .. }, "retry_after") => {
                    *retry_after = Some(count()?)
                }
                (HttpAction::Delay { ms }, "ms") => *ms = count()?,
                (HttpAction::Throttle { rate }, "rate") => *rate = count()?.max(1),
                (HttpAction::Cut { bytes }, "bytes") => *bytes = count()?,
                (_, "method") => fault.method = Some(value.to_ascii_uppercase()),
                (_, "path") => fault.path = Some(value.to_string()),
                (_, "header") => {
                    fault.header = Some(match value.split_once(':') {
                        Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim().to_string())),
                        None => (value.to_ascii_lowercase(), None),
                    })
                }
                (_, "percent") => {
                    gates += 1;
                    fault.gate = Gate::Percent(
                        value
                            .parse::<f64>()
                            .ok()
                            .filter(|p| (0.0..=100.0).contains(p))
                            .ok_or_else(|| {
                                bad(format!("percent '{value}' is not from 0 to 100"))
                            })?,
                    )
                }
                (_, "first") => {
                    gates += 1;
                    fault.gate = Gate::First(count()?)
                }
                (_, "every") => {
                    gates += 1;
                    fault.gate = Gate::Every(count()?.max(1))
                }
                (_, k) => {
                    let own = match type_name {
                        "abort" => "status, retry_after",
                        "delay" => "ms",
                        "throttle" => "rate",
                        _ => "bytes",
                    };
                    return Err(bad(format!(
                        "{type_name} has no attribute '{k}'; valid: {own}, method, path, header, percent, first, every"
                    )));
                }
            }
        }
        if gates > 1 {
            return Err(bad("give one of percent=, first=, every=".into()));
        }
        fault.action = action;
        Ok(fault)
    }

    fn matches(&self, method: &str, path: &str, headers: &HeaderMap) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self.path.as_deref().is_none_or(|p| path.starts_with(p))
            && self.header.as_ref().is_none_or(|(name, value)| {
                headers.get_all(name.as_str()).iter().any(|v| {
                    value
                        .as_deref()
                        .is_none_or(|want| v.to_str().is_ok_and(|v| v == want))
                })
            })
    }

    /// Whether it acts on this matching request (counts it).
    fn hits(&self, rng: &Mutex<fastrand::Rng>) -> bool {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        match self.gate {
            Gate::Always => true,
            Gate::First(k) => n <= k,
            Gate::Every(k) => n.is_multiple_of(k),
            Gate::Percent(p) => rng.lock().map(|mut r| r.f64() * 100.0 < p).unwrap_or(false),
        }
    }
}

/// How the HTTP proxy runs.
pub struct HttpProxyOptions {
    /// Where requests go (`host:port`).
    pub upstream: HostPort,
    /// How to connect there (`--connect-timeout`, buffers).
    pub connect: ConnectOptions,
    /// `--upstream-tls`: HTTPS to the upstream.
    pub tls: Option<TlsClient>,
    /// `--pcap` / `--pcap-dir`: both legs of every connection.
    pub capture: Option<CaptureTarget>,
    /// `--hex-dump`: the upstream leg too (the listener dumps the client's).
    pub dump: Option<Dump>,
    /// `--upstream-timeout`: the longest wait for an upstream connection and
    /// its response head; then the client gets a 504.
    pub timeout: Duration,
    /// The faults, in order.
    pub faults: Vec<HttpFault>,
    /// `--seed`: the same seed, the same `percent=` choices.
    pub seed: Option<u64>,
}

/// The answer body type.
type Body = BoxBody<Bytes, std::io::Error>;

struct Shared {
    options: HttpProxyOptions,
    rng: Mutex<fastrand::Rng>,
}

/// One client connection: its capture, and its own upstream connection
/// (opened at its first forwarded request, again if the upstream closes it),
/// so the two legs in a capture pair up as the client's requests do.
struct Client {
    capture: Option<Capture>,
    upstream: tokio::sync::Mutex<Option<SendRequest<Incoming>>>,
}

/// Serve HTTP on `listener`, forwarding to the upstream through the faults,
/// until SIGINT/SIGTERM.
pub async fn serve(listener: Listener, options: HttpProxyOptions) -> Result<()> {
    let rng = options
        .seed
        .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
    let shared = Arc::new(Shared {
        options,
        rng: Mutex::new(rng),
    });
    listener
        .nodelay(true)
        .run(false, move |conn| {
            let shared = shared.clone();
            async move {
                let capture = shared.options.capture.as_ref().and_then(|target| {
                    target
                        .for_connection("http", conn.id)
                        .map_err(|e| warn!("proxy --http: no capture: {}", crate::error::one_line(&e)))
                        .ok()
                });
                let side = capture
                    .as_ref()
                    .map(|c| Side::client(c.clone(), conn.peer, conn.local));
                let (io, held) = Recorder::new(conn.stream, side.clone(), None);
                held.release(side.as_ref());
                let client = Arc::new(Client {
                    capture,
                    upstream: tokio::sync::Mutex::new(None),
                });
                let service = hyper::service::service_fn(move |req| {
                    let (shared, client) = (shared.clone(), client.clone());
                    async move {
                        Ok::<_, std::convert::Infallible>(handle(&shared, &client, req).await)
                    }
                });
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(io), service)
                    .await
                    .map_err(|e| anyhow::anyhow!("HTTP connection: {e}"))
            }
        })
        .await
}

/// Why a request could not be forwarded, as the client's status.
enum Upstream {
    /// 502: the upstream could not be reached or broke the exchange.
    Failed(String),
    /// 504: `--upstream-timeout` passed.
    TimedOut,
}

/// Send `req` on the client's upstream connection (opening one first if
/// needed) and wait for the response head.
async fn forward(
    shared: &Shared,
    client: &Client,
    req: Request<Incoming>,
) -> Result<Response<Incoming>, Upstream> {
    let o = &shared.options;
    let exchange = async {
        let mut slot = client.upstream.lock().await;
        let usable = match slot.as_mut() {
            Some(s) => s.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            *slot = None;
            let target = super::upstream::Target {
                upstream: &o.upstream,
                connect: &o.connect,
                tls: o.tls.as_ref(),
                capture: client.capture.as_ref(),
                dump: o.dump.clone(),
                idle: None,
                record_plain: true,
            };
            let leg = super::upstream::open(target)
                .await
                .map_err(|f| Upstream::Failed(crate::error::chain_text(&*f.error)))?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(leg.stream))
                .await
                .map_err(|e| Upstream::Failed(e.to_string()))?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    debug!("proxy --http: upstream connection: {e}");
                }
            });
            *slot = Some(sender);
        }
        let Some(sender) = slot.as_mut() else {
            return Err(Upstream::Failed("no upstream connection".into()));
        };
        sender
            .send_request(req)
            .await
            .map_err(|e| Upstream::Failed(crate::error::chain_text(&e)))
    };
    tokio::time::timeout(o.timeout, exchange)
        .await
        .unwrap_or(Err(Upstream::TimedOut))
}

fn text(status: u16, body: String) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Headers that belong to one connection, not to the message.
fn hop_by_hop(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

async fn handle(shared: &Shared, client: &Client, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let mut throttle = None;
    let mut cut = None;
    for f in &shared.options.faults {
        if !f.matches(&method, &path, req.headers()) || !f.hits(&shared.rng) {
            continue;
        }
        match f.action {
            HttpAction::Abort {
                status,
                retry_after,
            } => {
                let mut r = text(
                    status,
                    format!("wirekit proxy: injected {status} (--http-fault abort)\n"),
                );
                if let Some(s) = retry_after {
                    r.headers_mut().insert(http::header::RETRY_AFTER, s.into());
                }
                return r;
            }
            HttpAction::Delay { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
            HttpAction::Throttle { rate } => throttle = Some(rate),
            HttpAction::Cut { bytes } => cut = Some(bytes),
        }
    }
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let (mut parts, body) = req.into_parts();
    parts.uri = target.parse().unwrap_or_default();
    parts.version = http::Version::HTTP_11;
    let hop: Vec<_> = parts
        .headers
        .keys()
        .filter(|n| hop_by_hop(n))
        .cloned()
        .collect();
    for name in hop {
        parts.headers.remove(name);
    }
    if let Ok(host) = http::HeaderValue::from_str(&shared.options.upstream.to_string()) {
        parts.headers.insert(http::header::HOST, host);
    }
    let resp = match forward(shared, client, Request::from_parts(parts, body)).await {
        Ok(r) => r,
        Err(Upstream::Failed(why)) => {
            return text(
                502,
                format!(
                    "wirekit proxy: upstream {} failed: {why}\n",
                    shared.options.upstream
                ),
            );
        }
        Err(Upstream::TimedOut) => {
            return text(
                504,
                format!(
                    "wirekit proxy: upstream {} did not answer within {:?} (--upstream-timeout)\n",
                    shared.options.upstream, shared.options.timeout
                ),
            );
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let resp = resp.into_body().into_data_stream();
    let mut left = cut;
    let pace = throttle.map(|r| r as f64 * 1000.0);
    let stream = resp.map(|c| c.map_err(std::io::Error::other));
    let stream = futures_util::stream::unfold(
        (
            Box::pin(stream),
            left.take(),
            tokio::time::Instant::now(),
            Bytes::new(),
        ),
        move |(mut s, mut left, mut next, mut pending)| async move {
            if left == Some(0) {
                // Cut: the body ends here, short of its Content-Length, so the client
                // sees a truncated answer. The pause lets hyper flush what went before
                // (it drops unflushed bytes when a body ends early).
                tokio::time::sleep(Duration::from_millis(50)).await;
                return None;
            }
            if pending.is_empty() {
                pending = match s.next().await? {
                    Ok(c) => c,
                    Err(e) => return Some((Err(e), (s, Some(0), next, Bytes::new()))),
                };
            }
            let mut n = pending.len();
            if let Some(rate) = pace {
                // Pieces of a tenth of a second's worth, as the bandwidth toxic sends them.
                n = n.min(((rate / 10.0) as usize).max(1));
            }
            if let Some(l) = left.as_mut() {
                n = n.min(*l as usize);
                *l -= n as u64;
            }
            let chunk = pending.split_to(n);
            if let Some(rate) = pace {
                let now = tokio::time::Instant::now();
                if next > now {
                    tokio::time::sleep_until(next).await;
                }
                next = next.max(now) + Duration::from_secs_f64(chunk.len() as f64 / rate);
            }
            Some((Ok(Frame::data(chunk)), (s, left, next, pending)))
        },
    );
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    *r.status_mut() = status;
    for (name, value) in &headers {
        if !hop_by_hop(name) {
            r.headers_mut().append(name, value.clone());
        }
    }
    r
}
