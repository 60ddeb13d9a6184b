//! The request pipeline: target, Host and cross-site checks → CORS preflight → auth → mock routes → httpbin →
//! uploads → files; then the headers every response gets, and the access-log entry.

use crate::http::server::access_log::Entry;
use crate::http::server::body::RequestBody;
use crate::http::server::body::{Body, Logged};
use crate::http::server::config::Config;
use crate::http::server::conn::Fields;
use crate::http::server::error::{Reply, ServeError, respond};
use crate::http::server::response::empty;
use crate::http::server::{checks, files, httpbin, mock, upload};
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, Version};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

fn allow_value(cfg: &Config) -> HeaderValue {
    HeaderValue::from_static(if cfg.upload {
        "GET, HEAD, PUT, POST, OPTIONS"
    } else {
        "GET, HEAD, OPTIONS"
    })
}

fn preflight(req: &Parts) -> Response<Body> {
    let mut r = empty(StatusCode::NO_CONTENT);
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

/// What the pipeline decided for one request, before the headers every response gets.
enum Step {
    /// Answered without waiting (every request but httpbin's and uploads).
    Done(Reply),
    /// To be answered once the body is read.
    Wait(Wait),
}

/// The requests that read their body before they are answered.
enum Wait {
    /// httpbin's endpoint; its path goes on at byte `rest` after the prefix.
    Httpbin { rest: usize },
    /// An upload with `--upload`.
    Put,
    /// A form upload with `--upload`.
    Post,
}

/// Where the headers every response gets (`--cors`, `--header`) come from.
enum Common {
    /// [`finish`] adds them to the map.
    Add,
    /// They are in the map already (a route's made-once map).
    InMap,
    /// The caller writes a route's made-once fields, these among them ([`Logged::fields`]).
    Caller(Arc<Fields>),
}

/// Run the pipeline as far as it goes without waiting: checks, CORS, auth,
/// routes, files; httpbin and uploads, which read the body, are left to [`Waiting`].
fn dispatch(
    cfg: &Arc<Config>,
    req: &Parts,
    user: &mut Option<String>,
    fields: &mut Option<Arc<Fields>>,
) -> Step {
    if let Err(e) = checks::request(cfg, req) {
        return Step::Done(Err(e));
    }
    if cfg.cors
        && req.method == Method::OPTIONS
        && req
            .headers
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return Step::Done(Ok(preflight(req)));
    }
    if let Some(auth) = &cfg.auth {
        match auth.check(&req.headers) {
            Ok(who) => *user = who,
            Err(_) => return Step::Done(Err(auth.challenge())),
        }
    }
    let head = req.method == Method::HEAD;
    match mock::find(&cfg.routes, &req.method, req.uri.path()) {
        mock::Match::Hit(route, params) => {
            *fields = route.fields(&params).cloned();
            return Step::Done(Ok(route.respond(&params, head)));
        }
        mock::Match::WrongMethod(allowed) => {
            return Step::Done(Err(ServeError::MethodNotAllowed {
                message: "no route for this method",
                allow: HeaderValue::from_str(&allowed.join(", ")).ok(),
            }));
        }
        mock::Match::Miss => {}
    }
    if let Some(prefix) = &cfg.httpbin
        && let Some(rest) = httpbin::owns(prefix, req.uri.path())
    {
        let rest = req.uri.path().len() - rest.len();
        return Step::Wait(Wait::Httpbin { rest });
    }
    Step::Done(match req.method {
        Method::GET | Method::HEAD => files::get(cfg, req),
        Method::PUT if cfg.upload => return Step::Wait(Wait::Put),
        Method::POST if cfg.upload => return Step::Wait(Wait::Post),
        Method::OPTIONS => {
            let mut r = empty(StatusCode::NO_CONTENT);
            r.headers_mut().insert(header::ALLOW, allow_value(cfg));
            Ok(r)
        }
        _ => Err(ServeError::MethodNotAllowed {
            message: if cfg.upload {
                "this method is not served here"
            } else {
                "this method is not served here (uploads need --upload)"
            },
            allow: Some(allow_value(cfg)),
        }),
    })
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

/// What the access log says about `parts`, answered with `status`.
fn log_entry(
    cfg: &Config,
    peer: SocketAddr,
    parts: &Parts,
    user: Option<String>,
    status: StatusCode,
    started: Option<Instant>,
) -> Option<Box<Entry>> {
    let started = started?;
    cfg.log.map(|format| {
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
            referer: header_text(parts, header::REFERER),
            user_agent: header_text(parts, header::USER_AGENT),
            status: status.as_u16(),
            time: SystemTime::now(),
            started,
        })
    })
}

/// One request, answered at once (no future, no box: ~800 instructions a
/// request less than an `async` handler, callgrind 2026-12-02), unless it waits
/// for its body. With `own_fields`, fields made once are left to the caller to
/// write (in [`Logged::fields`]), else they are in the map.
pub(crate) fn handle(
    cfg: &Arc<Config>,
    peer: SocketAddr,
    req: Request<RequestBody>,
    own_fields: bool,
) -> Result<Response<Logged>, Box<Waiting>> {
    // Only the access log needs the time.
    let started = cfg.log.is_some().then(Instant::now);
    let (parts, body) = req.into_parts();
    let (mut user, mut fields) = (None, None);
    let reply = match dispatch(cfg, &parts, &mut user, &mut fields) {
        Step::Done(reply) => reply,
        Step::Wait(wait) => {
            return Err(Box::new(Waiting {
                wait,
                parts,
                body,
                user,
                started,
            }));
        }
    };
    let mut resp = respond(reply);
    let common = match fields {
        None => Common::Add,
        Some(f) if own_fields => Common::Caller(f),
        Some(f) => {
            *resp.headers_mut() = f.map.clone();
            Common::InMap
        }
    };
    Ok(finish(cfg, peer, &parts, user, resp, started, common))
}

/// A request that waits for its body (httpbin, uploads), past the checks.
pub(crate) struct Waiting {
    wait: Wait,
    parts: Parts,
    body: RequestBody,
    user: Option<String>,
    started: Option<Instant>,
}

impl Waiting {
    /// Read the body and answer.
    pub(crate) async fn answer(
        self: Box<Self>,
        cfg: &Config,
        peer: SocketAddr,
    ) -> Response<Logged> {
        let Waiting {
            wait,
            parts,
            body,
            user,
            started,
        } = *self;
        let reply = match wait {
            Wait::Put => upload::put(cfg, &parts, body).await,
            Wait::Post => upload::post(cfg, &parts, body).await,
            Wait::Httpbin { rest } => {
                let path = parts.uri.path();
                let (prefix, rest) = path.split_at_checked(rest).unwrap_or((path, ""));
                httpbin::handle(cfg, prefix, peer, &parts, body, rest).await
            }
        };
        finish(
            cfg,
            peer,
            &parts,
            user,
            respond(reply),
            started,
            Common::Add,
        )
    }
}

/// A request refused before the pipeline (its head breaks a rule the
/// connection layer found), answered and logged like any other.
pub(crate) fn refuse(
    cfg: &Config,
    peer: SocketAddr,
    req: Request<RequestBody>,
    why: ServeError,
) -> Response<Logged> {
    // The body is left unread: its framing is what is in doubt.
    let (parts, _) = req.into_parts();
    let started = cfg.log.is_some().then(Instant::now);
    finish(
        cfg,
        peer,
        &parts,
        None,
        why.into_response(),
        started,
        Common::Add,
    )
}

/// The headers every response gets (where `common` says so), and its access-log entry.
fn finish(
    cfg: &Config,
    peer: SocketAddr,
    parts: &Parts,
    user: Option<String>,
    mut resp: Response<Body>,
    started: Option<Instant>,
    common: Common,
) -> Response<Logged> {
    let fields = match common {
        Common::Add => {
            every_response(cfg.cors, &cfg.headers, resp.headers_mut());
            None
        }
        Common::InMap => None,
        Common::Caller(f) => Some(f),
    };
    let entry = log_entry(cfg, peer, parts, user, resp.status(), started);
    resp.map(|inner| Logged {
        inner,
        sent: 0,
        entry,
        activity: None,
        fields,
    })
}

/// Add the headers every response gets (`--cors`, `--header`) to `h`.
pub(crate) fn every_response(
    cors: bool,
    headers: &[(header::HeaderName, HeaderValue)],
    h: &mut HeaderMap,
) {
    if cors {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("*"),
        );
    }
    for (k, v) in headers {
        h.insert(k.clone(), v.clone());
    }
}
