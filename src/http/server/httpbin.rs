//! `--httpbin`: httpbin.org-compatible endpoints for testing HTTP clients
//! (/get, /post, /put, /patch, /delete, /anything, /status/:code, /delay/:s,
//! /headers, /ip, /user-agent, /bytes/:n, /stream/:n, /redirect/:n,
//! /basic-auth/:user/:pass, /gzip), mounted under --httpbin-prefix.

use crate::http::server::body::Body;
use crate::http::server::files::compress::{Encoding, encode_bytes};
use crate::http::server::{Config, error_page};
use bytes::Bytes;
use futures_util::stream;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::Incoming;
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
pub fn owns<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
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
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    if !head {
        *r.body_mut() = Body::text(text);
    }
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
        let (k, v) = (decode_component(k), Value::String(decode_component(v)));
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
    Value::Object(m)
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

async fn with_body(
    cfg: &Config,
    req: &Parts,
    body: Incoming,
    peer: SocketAddr,
    method: bool,
) -> Response<Body> {
    let data = match Limited::new(body, cfg.max_body as usize).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return error_page(StatusCode::PAYLOAD_TOO_LARGE, "the body is over --max-body");
        }
        Err(e) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!("reading the body failed: {e}"),
            );
        }
    };
    let ctype = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let text = String::from_utf8_lossy(&data).into_owned();
    let mut m = base(req, peer);
    let form = if ctype.starts_with("application/x-www-form-urlencoded") {
        pairs_json(&text)
    } else {
        json!({})
    };
    let parsed = if ctype.contains("json") {
        serde_json::from_slice::<Value>(&data).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    m.insert(
        "data".into(),
        Value::String(if form.as_object().is_some_and(|f| !f.is_empty()) {
            String::new()
        } else {
            text
        }),
    );
    m.insert("files".into(), json!({}));
    m.insert("form".into(), form);
    m.insert("json".into(), parsed);
    if method {
        m.insert("method".into(), Value::String(req.method.to_string()));
    }
    json_response(
        StatusCode::OK,
        &Value::Object(m),
        req.method == Method::HEAD,
    )
}

fn method_is(req: &Parts, m: &Method) -> Option<Response<Body>> {
    if req.method == *m || (*m == Method::GET && req.method == Method::HEAD) {
        return None;
    }
    let mut r = error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "wrong method for this endpoint",
    );
    if let Ok(v) = HeaderValue::from_str(m.as_str()) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    Some(r)
}

fn number(s: Option<&&str>) -> Option<u64> {
    s.and_then(|s| s.parse().ok())
}

/// Answer one httpbin endpoint; `rest` is the path below the prefix.
pub async fn handle(
    cfg: &Config,
    prefix: &str,
    peer: SocketAddr,
    req: &Parts,
    body: Incoming,
    rest: &str,
) -> Response<Body> {
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let head = req.method == Method::HEAD;
    let not_found = || error_page(StatusCode::NOT_FOUND, "no such httpbin endpoint");
    let prefix = prefix.trim_end_matches('/');
    match segs.as_slice() {
        ["get"] => method_is(req, &Method::GET).unwrap_or_else(|| {
            json_response(StatusCode::OK, &Value::Object(base(req, peer)), head)
        }),
        [m @ ("post" | "put" | "patch" | "delete")] => {
            let want =
                Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap_or(Method::POST);
            match method_is(req, &want) {
                Some(r) => r,
                None => with_body(cfg, req, body, peer, false).await,
            }
        }
        ["anything", ..] => with_body(cfg, req, body, peer, true).await,
        ["headers"] => json_response(
            StatusCode::OK,
            &json!({ "headers": headers_json(req) }),
            head,
        ),
        ["ip"] => json_response(
            StatusCode::OK,
            &json!({ "origin": peer.ip().to_canonical().to_string() }),
            head,
        ),
        ["user-agent"] => {
            let ua = req
                .headers
                .get(header::USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            json_response(StatusCode::OK, &json!({ "user-agent": ua }), head)
        }
        ["status", code] => match code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(s) if s.as_u16() >= 200 => {
                let mut r = Response::new(Body::Empty);
                *r.status_mut() = s;
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
                r
            }
            _ => error_page(
                StatusCode::BAD_REQUEST,
                "give a status code from 200 to 599",
            ),
        },
        ["delay", secs] => {
            let Ok(s) = secs.parse::<f64>() else {
                return error_page(StatusCode::BAD_REQUEST, "give a delay in seconds");
            };
            tokio::time::sleep(Duration::from_secs_f64(s.clamp(0.0, 10.0))).await;
            json_response(StatusCode::OK, &Value::Object(base(req, peer)), head)
        }
        ["bytes", n] => {
            let Some(n) = number(Some(n)) else {
                return error_page(StatusCode::BAD_REQUEST, "give a byte count");
            };
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
        ["stream", n] => {
            let Some(n) = number(Some(n)) else {
                return error_page(StatusCode::BAD_REQUEST, "give a line count");
            };
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
        ["redirect", n] => {
            let Some(n) = number(Some(n)).filter(|&n| n >= 1) else {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "give a redirect count of at least 1",
                );
            };
            let to = if n == 1 {
                format!("{prefix}/get")
            } else {
                format!("{prefix}/redirect/{}", n - 1)
            };
            crate::http::server::files::redirect(StatusCode::FOUND, &to)
        }
        ["basic-auth", user, pass] => {
            let expected =
                crate::http::server::auth::Auth::new(Some(&format!("{user}:{pass}")), None);
            match expected {
                Ok(Some(a)) if a.check(&req.headers).is_ok() => json_response(
                    StatusCode::OK,
                    &json!({ "authenticated": true, "user": user }),
                    head,
                ),
                Ok(Some(a)) => a.challenge(),
                _ => not_found(),
            }
        }
        ["gzip"] => {
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
        _ => not_found(),
    }
}
