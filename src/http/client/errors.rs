//! Error sentences of the HTTP client: what failed, with which host, and what to do.
//! The leaf of `http/client/`: every other client module words its errors here.

use crate::error::chain_text;
use crate::error::exit_with;
use anyhow::Result;
use reqwest::{Request, StatusCode, Url};
use std::time::Duration;

/// The request a failure is about, named in its sentence: the URL and the total time
/// limit it ran under (a per-request timeout; see [`Target::of`]).
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL requested.
    pub url: Url,
    /// The limit on the whole request, if one was set.
    pub timeout: Option<Duration>,
}

impl Target {
    /// The URL and per-request timeout of `request`.
    pub fn of(request: &Request) -> Target {
        Target {
            url: request.url().clone(),
            timeout: request.timeout().copied(),
        }
    }
}

/// The kind of the I/O error somewhere in the chain (refused, reset...), if any.
fn io_kind(e: &reqwest::Error) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

/// The TLS error in the chain, if any (hyper-rustls wraps it in I/O errors,
/// whose `source` skips the error they wrap, so look inside them).
fn rustls_error(e: &reqwest::Error) -> Option<&rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// How the HTTP client's flags are spelt in the shared TLS sentences.
const HTTP_FLAGS: crate::tls::errors::Flags = crate::tls::errors::Flags {
    cacert: "--verify CAFILE",
    insecure: "--verify no",
    sni: "--resolve NAME:PORT:ADDR (to reach the address by that name)",
};

/// `host` and `host:port` of `url`, for the sentence.
fn host_of(url: &Url) -> (String, String) {
    let h = url.host_str().unwrap_or("?").to_string();
    let hp = match url.port_or_known_default() {
        Some(p) => format!("{h}:{p}"),
        None => h.clone(),
    };
    (h, hp)
}

/// Whether the timeout was the connect timeout (the connection never came up).
fn is_connect_timeout(e: &reqwest::Error) -> bool {
    e.is_connect() && e.is_timeout()
}

/// A one-line explanation of a failed request to `target` that names it (the URL for a
/// timeout, with the limit) and suggests the fix.
pub fn describe_error(e: &reqwest::Error, target: &Target) -> String {
    let url = e.url().unwrap_or(&target.url);
    let (host, hostport) = host_of(url);
    if e.is_timeout() {
        if is_connect_timeout(e) {
            return format!("connecting to {hostport} timed out (raise --connect-timeout)");
        }
        return match target.timeout {
            Some(t) => format!(
                "request to {} timed out after {} (raise --timeout)",
                target.url,
                humantime::format_duration(t)
            ),
            None => format!("request to {} timed out", target.url),
        };
    }
    let text = chain_text(e);
    let lower = text.to_lowercase();
    if e.is_redirect() {
        return format!("too many redirects from {hostport} (raise --max-redirects): {text}");
    }
    if lower.contains("dns error") || lower.contains("failed to lookup address") {
        return format!("cannot resolve host '{host}': check the name (or map it with --resolve)");
    }
    match io_kind(e) {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            return format!("connection to {hostport} refused: is a server listening there?");
        }
        Some(std::io::ErrorKind::ConnectionReset) => {
            return format!("connection to {hostport} was reset by the server");
        }
        _ => {}
    }
    if let Some(r) = rustls_error(e) {
        return format!(
            "TLS with {hostport} failed: {}",
            crate::tls::errors::describe_tls_error_for(&host, r, &HTTP_FLAGS)
        );
    }
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return format!(
            "TLS with {hostport} failed: {}; trust its CA with --verify CAFILE, or skip checks with --verify no",
            tls_reason(&text, &host)
        );
    }
    if e.is_body() || e.is_decode() {
        return format!("{hostport} broke off the response body: {text}");
    }
    format!("request to {hostport} failed: {text}")
}

/// The last, most specific part of a TLS failure, in words for the common ones.
fn tls_reason(text: &str, host: &str) -> String {
    let last = text.rsplit(": ").next().unwrap_or(text);
    if last.contains("UnknownIssuer") {
        "its certificate is signed by an unknown CA (UnknownIssuer)".to_string()
    } else if last.contains("NotValidForName") {
        format!("its certificate is not valid for the name '{host}' (NotValidForName)")
    } else if last.contains("Expired") {
        "its certificate has expired (Expired)".to_string()
    } else {
        last.to_string()
    }
}

/// A short reason for a file error: "no such file", "permission denied".
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        _ => e.to_string(),
    }
}

/// "503 Service Unavailable".
pub fn status_text(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_string()
}

/// The exit code `--check-status` gives an answer: 3 for 3xx, 4 for 4xx, 5 for 5xx.
pub fn status_exit_code(status: StatusCode) -> Option<u8> {
    match status.as_u16() {
        300..=399 => Some(3),
        400..=499 => Some(4),
        500..=599 => Some(5),
        _ => None,
    }
}

/// `--check-status`: an error carrying [`status_exit_code`] for a 3xx, 4xx or 5xx answer.
pub fn check_status(status: StatusCode) -> Result<()> {
    match status_exit_code(status) {
        Some(code) => Err(exit_with(code, format!("HTTP {}", status_text(status)))),
        None => Ok(()),
    }
}
