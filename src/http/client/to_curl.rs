//! `wirekit http --curl`: the curl command line that sends the same request.

use crate::http::client::builder::{ClientOptions, HttpVersion, Verify};
use crate::http::client::items::Item;
use crate::http::client::request::{BodyKind, Prepared};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use std::net::SocketAddr;

fn quote(s: &str) -> String {
    shell_words::quote(s).into_owned()
}

/// The curl command line that sends the request `p` with the client `o` describes.
pub fn curl_command(p: &Prepared, o: &ClientOptions) -> String {
    let mut cmd = vec!["curl".to_string()];
    request_words(&mut cmd, p);
    client_words(&mut cmd, o);
    cmd.join(" ")
}

/// Method, URL, headers and body.
fn request_words(cmd: &mut Vec<String>, p: &Prepared) {
    let r = &p.request;
    let implied = if p.body_kind == BodyKind::None {
        Method::GET
    } else {
        Method::POST
    };
    if r.method() != implied {
        cmd.push("-X".into());
        cmd.push(r.method().to_string());
    }
    cmd.push(quote(r.url().as_str()));
    for (name, value) in r.headers() {
        // curl writes the multipart Content-Type (and its boundary) itself.
        if p.body_kind == BodyKind::Multipart && name == CONTENT_TYPE {
            continue;
        }
        let v = String::from_utf8_lossy(value.as_bytes());
        cmd.push("-H".into());
        cmd.push(if v.is_empty() {
            quote(&format!("{name};"))
        } else {
            quote(&format!("{name}: {v}"))
        });
    }
    match p.body_kind {
        BodyKind::Multipart => {
            for (_, item) in &p.items {
                match item {
                    Item::Text(k, v) | Item::Json(k, v) => {
                        cmd.push("--form-string".into());
                        cmd.push(quote(&format!("{k}={v}")));
                    }
                    Item::File { field, path, mime } => {
                        let mut s = format!("{field}=@{}", path.display());
                        if let Some(m) = mime {
                            s.push_str(&format!(";type={m}"));
                        }
                        cmd.push("-F".into());
                        cmd.push(quote(&s));
                    }
                    _ => {}
                }
            }
        }
        BodyKind::None => {}
        _ => {
            if let Some(b) = r.body().and_then(|b| b.as_bytes()) {
                cmd.push("--data-raw".into());
                cmd.push(quote(&String::from_utf8_lossy(b)));
            }
        }
    }
}

/// `--resolve` as curl writes it: `HOST:PORT:ADDR`.
fn resolve_word(host: &str, addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{host}:{}:{}", a.port(), a.ip()),
        SocketAddr::V6(a) => format!("{host}:{}:[{}]", a.port(), a.ip()),
    }
}

/// Redirects, timeouts, retries, version, TLS, proxies and fixed addresses.
fn client_words(cmd: &mut Vec<String>, o: &ClientOptions) {
    if o.follow {
        cmd.push("-L".into());
        cmd.push(format!("--max-redirs {}", o.max_redirects));
    }
    if let Some(t) = o.timeout {
        cmd.push(format!("--max-time {}", t.as_secs_f64()));
    }
    if let Some(t) = o.connect_timeout {
        cmd.push(format!("--connect-timeout {}", t.as_secs_f64()));
    }
    if o.retry.retries > 0 {
        cmd.push(format!("--retry {}", o.retry.retries));
        if o.retry.retry_all {
            cmd.push("--retry-all-errors".into());
        }
    }
    match o.http_version {
        Some(HttpVersion::Http11) => cmd.push("--http1.1".into()),
        Some(HttpVersion::Http2) => cmd.push("--http2".into()),
        Some(HttpVersion::Http2PriorKnowledge) => cmd.push("--http2-prior-knowledge".into()),
        None => {}
    }
    match &o.verify {
        Verify::Yes => {}
        Verify::No => cmd.push("--insecure".into()),
        Verify::CaFile(path) => cmd.push(format!("--cacert {}", quote(&path.to_string_lossy()))),
    }
    if let Some(c) = &o.cert {
        cmd.push(format!("--cert {}", quote(&c.to_string_lossy())));
    }
    if let Some(k) = &o.cert_key {
        cmd.push(format!("--key {}", quote(&k.to_string_lossy())));
    }
    for p in &o.proxies {
        cmd.push(format!("--proxy {}", quote(&p.to_string())));
    }
    for (host, addr) in &o.resolve {
        cmd.push(format!("--resolve {}", quote(&resolve_word(host, addr))));
    }
}
