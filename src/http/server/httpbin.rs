//! `--httpbin`: httpbin.org-compatible endpoints for testing HTTP clients
//! (/get, /post, /put, /patch, /delete, /anything, /status/:code, /delay/:s,
//! /headers, /ip, /user-agent, /bytes/:n, /stream/:n, /redirect/:n,
//! /basic-auth/:user/:pass, /gzip), mounted under --httpbin-prefix.

use crate::http::server::auth::Auth;
use crate::http::server::body::Body;
use crate::http::server::body::RequestBody;
use crate::http::server::config::Config;
use crate::http::server::error::{Reply, ServeError};
use crate::http::server::files::compress::{Encoding, encode_bytes};
use crate::http::server::response::{empty, redirect, sized};
use bytes::Bytes;
use futures_util::stream;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Limited, StreamBody};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const ENDPOINTS: &[&str] = &[
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "anything",
    "status",
    "delay",
    "headers",
    "ip",
    "user-agent",
    "bytes",
    "stream",
    "redirect",
    "basic-auth",
    "gzip",
];

/// The endpoint path under the prefix when the request is for httpbin.
pub(crate) fn owns<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix.trim_end_matches('/'))?;
    if !rest.starts_with('/') {
        return None;
    }
    let first = rest[1..].split('/').next().unwrap_or("");
    ENDPOINTS.contains(&first).then_some(rest)
}

fn json_response(status: StatusCode, v: &Value, head: bool) -> Response<Body> {
    let mut text = serde_json::to_string_pretty(v).unwrap_or_default();
    text.push('\n');
    let mut r = sized(text, HeaderValue::from_static("application/json"), head);
    *r.status_mut() = status;
    r
}

fn headers_json(req: &Parts) -> Value {
    let mut m = Map::new();
    for (name, value) in &req.headers {
        let title = name
            .as_str()
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("-");
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match m.get_mut(&title) {
            Some(Value::String(s)) => {
                s.push(',');
                s.push_str(&v);
            }
            _ => {
                m.insert(title, Value::String(v));
            }
        }
    }
    Value::Object(m)
}

fn decode_component(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// `a=1&a=2&b=3` → {"a": ["1", "2"], "b": "3"}, as httpbin shows args and forms.
fn pairs_json(q: &str) -> Value {
    let mut m = Map::new();
    for kv in q.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        push_pair(&mut m, decode_component(k), decode_component(v));
    }
    Value::Object(m)
}

/// Add `k: v`; a repeated key becomes a list, as httpbin shows it.
fn push_pair(m: &mut Map<String, Value>, k: String, v: String) {
    let v = Value::String(v);
    match m.get_mut(&k) {
        Some(Value::Array(a)) => a.push(v),
        Some(old) => {
            let first = old.take();
            *old = Value::Array(vec![first, v]);
        }
        None => {
            m.insert(k, v);
        }
    }
}

/// A `multipart/form-data` body as httpbin shows it: fields without a file name
/// in `form`, files in `files` (their text, or a `data:` URL in base64 when it
/// is not UTF-8).
async fn multipart_json(data: Bytes, boundary: String) -> Result<(Value, Value), ServeError> {
    use base64::Engine;
    let bad = |e: multer::Error| ServeError::BadRequest(format!("bad multipart body: {e}").into());
    let body = stream::once(async move { Ok::<Bytes, std::convert::Infallible>(data) });
    let mut parts = multer::Multipart::new(body, boundary);
    let (mut form, mut files) = (Map::new(), Map::new());
    while let Some(field) = parts.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        let is_file = field.file_name().is_some();
        let ctype = field
            .content_type()
            .map_or("application/octet-stream".to_string(), |m| m.to_string());
        let bytes = field.bytes().await.map_err(bad)?;
        let text = match String::from_utf8(bytes.to_vec()) {
            Ok(t) => t,
            Err(_) => format!(
                "data:{ctype};base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            ),
        };
        push_pair(if is_file { &mut files } else { &mut form }, name, text);
    }
    Ok((Value::Object(form), Value::Object(files)))
}

fn url(req: &Parts) -> String {
    let host = req
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    let pq = req.uri.path_and_query().map_or("/", |p| p.as_str());
    format!("http://{host}{pq}")
}

fn base(req: &Parts, peer: SocketAddr) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("args".into(), pairs_json(req.uri.query().unwrap_or("")));
    m.insert("headers".into(), headers_json(req));
    m.insert(
        "origin".into(),
        Value::String(peer.ip().to_canonical().to_string()),
    );
    m.insert("url".into(), Value::String(url(req)));
    m
}

/// `/post`, `/put`, ... and `/anything`: the request echoed, its body read up to `max_body`.
async fn with_body(
    cfg: &Config,
    req: &Parts,
    body: RequestBody,
    peer: SocketAddr,
    method: bool,
) -> Reply {
    let data = match Limited::new(body, cfg.max_body as usize).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(ServeError::TooLarge { limit: None });
        }
        Err(e) => {
            return Err(ServeError::BadRequest(
                format!("reading the body failed: {e}").into(),
            ));
        }
    };
    let ctype = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut m = base(req, peer);
    let parsed = if ctype.contains("json") {
        serde_json::from_slice::<Value>(&data).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    // A form (urlencoded or multipart) fills `form` and `files`, `data` empty.
    let (text, form, files) = if ctype.starts_with("application/x-www-form-urlencoded") {
        (
            String::new(),
            pairs_json(&String::from_utf8_lossy(&data)),
            json!({}),
        )
    } else if let Some(boundary) = ctype
        .starts_with("multipart/form-data")
        .then(|| multer::parse_boundary(ctype).ok())
        .flatten()
    {
        let (form, files) = multipart_json(data, boundary).await?;
        (String::new(), form, files)
    } else {
        (
            String::from_utf8_lossy(&data).into_owned(),
            json!({}),
            json!({}),
        )
    };
    m.insert("data".into(), Value::String(text));
    m.insert("files".into(), files);
    m.insert("form".into(), form);
    m.insert("json".into(), parsed);
    if method {
        m.insert("method".into(), Value::String(req.method.to_string()));
    }
    Ok(json_response(
        StatusCode::OK,
        &Value::Object(m),
        req.method == Method::HEAD,
    ))
}

/// 405 unless the request's method is `m` (HEAD counts as GET).
fn method_is(req: &Parts, m: &Method) -> Result<(), ServeError> {
    if req.method == *m || (*m == Method::GET && req.method == Method::HEAD) {
        return Ok(());
    }
    Err(ServeError::MethodNotAllowed {
        message: "wrong method for this endpoint",
        allow: HeaderValue::from_str(m.as_str()).ok(),
    })
}

/// A count in a path segment, or 400 saying what to give.
fn count(s: &str, what: &'static str) -> Result<u64, ServeError> {
    s.parse().map_err(|_| ServeError::BadRequest(what.into()))
}

/// Answer one httpbin endpoint; `rest` is the path below the prefix.
pub(crate) async fn handle(
    cfg: &Config,
    prefix: &str,
    peer: SocketAddr,
    req: &Parts,
    body: RequestBody,
    rest: &str,
) -> Reply {
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let head = req.method == Method::HEAD;
    let prefix = prefix.trim_end_matches('/');
    let ok = |v: Value| Ok(json_response(StatusCode::OK, &v, head));
    match segs.as_slice() {
        ["get"] => {
            method_is(req, &Method::GET)?;
            ok(Value::Object(base(req, peer)))
        }
        [m @ ("post" | "put" | "patch" | "delete")] => {
            let want =
                Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap_or(Method::POST);
            method_is(req, &want)?;
            with_body(cfg, req, body, peer, false).await
        }
        ["anything", ..] => with_body(cfg, req, body, peer, true).await,
        ["headers"] => ok(json!({ "headers": headers_json(req) })),
        ["ip"] => ok(json!({ "origin": peer.ip().to_canonical().to_string() })),
        ["user-agent"] => {
            let ua = req
                .headers
                .get(header::USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            ok(json!({ "user-agent": ua }))
        }
        ["status", code] => status(prefix, code),
        ["delay", secs] => {
            // NaN, infinities and negatives are refused (Duration would panic on them);
            // a finite delay beyond 10 s waits 10 s, as httpbin does.
            let s = secs
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .ok_or_else(|| {
                    ServeError::BadRequest(
                        "give a delay in seconds, a number from 0 to 10 (like /delay/2.5)".into(),
                    )
                })?;
            tokio::time::sleep(Duration::from_secs_f64(s.min(10.0))).await;
            ok(Value::Object(base(req, peer)))
        }
        ["bytes", n] => Ok(random_bytes(count(n, "give a byte count")?, head)),
        ["stream", n] => Ok(stream_lines(
            req,
            peer,
            count(n, "give a line count")?,
            head,
        )),
        ["redirect", n] => {
            let n = count(n, "give a redirect count of at least 1")?;
            if n == 0 {
                return Err(ServeError::BadRequest(
                    "give a redirect count of at least 1".into(),
                ));
            }
            let to = if n == 1 {
                format!("{prefix}/get")
            } else {
                format!("{prefix}/redirect/{}", n - 1)
            };
            Ok(redirect(StatusCode::FOUND, &to))
        }
        ["basic-auth", user, pass] => basic_auth(req, user, pass, head),
        ["gzip"] => Ok(gzip(req, peer, head)),
        _ => Err(ServeError::NoEndpoint),
    }
}

/// `/status/:code`: an empty response with that status (a Location for redirects,
/// a challenge for 401, as httpbin does).
fn status(prefix: &str, code: &str) -> Reply {
    let s = code
        .parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .filter(|s| s.as_u16() >= 200)
        .ok_or_else(|| ServeError::BadRequest("give a status code from 200 to 599".into()))?;
    let mut r = empty(s);
    if s.is_redirection()
        && let Ok(v) = HeaderValue::from_str(&format!("{prefix}/redirect/1"))
    {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if s == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Fake Realm\""),
        );
    }
    Ok(r)
}

/// `/bytes/:n`: n random bytes (at most 10 MiB).
fn random_bytes(n: u64, head: bool) -> Response<Body> {
    let n = n.min(10 * 1024 * 1024) as usize;
    let mut rng = fastrand::Rng::new();
    let mut data = vec![0u8; n];
    rng.fill(&mut data);
    let mut r = Response::new(if head { Body::Empty } else { Body::bytes(data) });
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    r
}

/// `/stream/:n`: n JSON lines (at most 100), each the request with its `id`.
fn stream_lines(req: &Parts, peer: SocketAddr, n: u64, head: bool) -> Response<Body> {
    let n = n.min(100);
    let mut m = base(req, peer);
    let lines: Vec<Result<Frame<Bytes>, std::io::Error>> = (0..n)
        .map(|i| {
            m.insert("id".into(), json!(i));
            let mut line = Value::Object(m.clone()).to_string();
            line.push('\n');
            Ok(Frame::data(Bytes::from(line)))
        })
        .collect();
    let mut r = Response::new(if head {
        Body::Empty
    } else {
        Body::Stream(StreamBody::new(stream::iter(lines)).boxed_unsync())
    });
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// `/basic-auth/:user/:pass`: 200 with those credentials, else the challenge.
fn basic_auth(req: &Parts, user: &str, pass: &str, head: bool) -> Reply {
    match Auth::new(Some(&format!("{user}:{pass}")), None) {
        Ok(Some(a)) if a.check(&req.headers).is_ok() => Ok(json_response(
            StatusCode::OK,
            &json!({ "authenticated": true, "user": user }),
            head,
        )),
        Ok(Some(a)) => Err(a.challenge()),
        _ => Err(ServeError::NoEndpoint),
    }
}

/// `/gzip`: the request echoed as gzip-encoded JSON.
fn gzip(req: &Parts, peer: SocketAddr, head: bool) -> Response<Body> {
    let mut m = base(req, peer);
    m.insert("gzipped".into(), json!(true));
    m.insert("method".into(), Value::String(req.method.to_string()));
    let text = serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_default();
    let mut r = Response::new(if head {
        Body::Empty
    } else {
        encode_bytes(Encoding::Gzip, Bytes::from(text))
    });
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    r
}
