//! What every request must pass before any handler sees it: a request target
//! and a `Host` as RFC 9112 §3.2 wants them (400), a host name this server
//! answers for (421: DNS rebinding), and no write from another site (403).

use crate::http::server::config::{Config, Hosts};
use crate::http::server::error::ServeError;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, Version};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Refuse `req` if its target or Host is malformed, its host is not one this
/// server answers for, or it is a write from another site.
pub(crate) fn request(cfg: &Config, req: &Parts) -> Result<(), ServeError> {
    target(req)?;
    let authority = authority(req)?;
    if let (Hosts::Loopback(allowed), Some((a, split))) = (&cfg.hosts, authority)
        && !split.is_some_and(|split| allowed_host(split, allowed))
    {
        return Err(ServeError::MisdirectedHost(
            String::from_utf8_lossy(&a[..a.len().min(200)]).into_owned(),
        ));
    }
    if !cfg.cors && !safe(&req.method) {
        cross_site(req, authority.map(|(a, _)| a))?;
    }
    Ok(())
}

/// The request target: origin-form (`/path`) for every method but CONNECT
/// (authority-form) and OPTIONS (also `*`); absolute-form with a scheme.
fn target(req: &Parts) -> Result<(), ServeError> {
    let uri = &req.uri;
    if uri.scheme().is_some() || req.method == Method::CONNECT {
        return Ok(());
    }
    let path = uri.path();
    if uri.authority().is_none()
        && (path.starts_with('/') || (path == "*" && req.method == Method::OPTIONS))
    {
        return Ok(());
    }
    Err(ServeError::BadRequest(
        "the request target must be a path that starts with '/', like GET /hello.txt".into(),
    ))
}

/// A host and port split by [`split_host`]: the host (IPv6 without brackets), the
/// port digits, and whether the host is IPv6.
type Split<'a> = (&'a [u8], &'a [u8], bool);

/// The raw authority bytes and their [`Split`] (`None` if not a valid host[:port]).
type Authority<'a> = (&'a [u8], Option<Split<'a>>);

/// The host (and port) the request is for, with its split (`None` if not a
/// valid host[:port]): the target's authority (HTTP/2, absolute-form) or the one
/// `Host` header, which HTTP/1.1 requires (400 when missing, repeated or
/// malformed). `None` for an HTTP/1.0 request without one.
fn authority(req: &Parts) -> Result<Option<Authority<'_>>, ServeError> {
    let mut hosts = req.headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(ServeError::BadRequest(
            "more than one Host header; send exactly one".into(),
        ));
    }
    if let Some(a) = req.uri.authority() {
        let a = a.as_str().as_bytes();
        return Ok(Some((a, split_host(a))));
    }
    match host.map(|h| (h.as_bytes(), split_host(h.as_bytes()))) {
        Some((h, Some(split))) => Ok(Some((h, Some(split)))),
        Some(_) => Err(ServeError::BadRequest(
            "the Host header is not a valid host[:port]".into(),
        )),
        None if req.version == Version::HTTP_11 => Err(ServeError::BadRequest(
            "an HTTP/1.1 request needs a Host header".into(),
        )),
        None => Ok(None),
    }
}

/// The bytes of a reg-name or IPv4 address: unreserved, pct-encoded and
/// sub-delims (RFC 3986 §3.2.2); a table, because a scan of the sub-delims for
/// every byte cost ~500 instructions a request (callgrind, 2026-12-02).
const REG_NAME: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"-._~%!$&'()*+,;=";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
};

/// `host[:port]` split into the host (IPv6 without its brackets) and the port
/// digits (empty when absent); `None` if it is not a valid Host value.
fn split_host(a: &[u8]) -> Option<Split<'_>> {
    let (host, rest, v6) = if let Some(inner) = a.strip_prefix(b"[") {
        let end = inner.iter().position(|&b| b == b']')?;
        (&inner[..end], &inner[end + 1..], true)
    } else {
        let colon = a.iter().position(|&b| b == b':').unwrap_or(a.len());
        (&a[..colon], &a[colon..], false)
    };
    let port = match rest {
        [] => &rest[..0],
        [b':', digits @ ..] if digits.iter().all(u8::is_ascii_digit) => digits,
        _ => return None,
    };
    let ok = if v6 {
        !host.is_empty()
            && host
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        // reg-name or IPv4: unreserved, pct-encoded and sub-delims (RFC 3986 §3.2.2).
        !host.is_empty() && host.iter().all(|&b| REG_NAME[usize::from(b)])
    };
    ok.then_some((host, port, v6))
}

/// Whether `authority` names this machine's loopback (localhost, *.localhost,
/// 127.0.0.0/8, [::1]) or one of the `allowed` names.
#[cfg(test)]
fn answers_for(authority: &[u8], allowed: &[String]) -> bool {
    split_host(authority).is_some_and(|split| allowed_host(split, allowed))
}

/// [`answers_for`] of an authority already split by [`split_host`].
fn allowed_host((host, _, v6): Split<'_>, allowed: &[String]) -> bool {
    let host = host.strip_suffix(b".").unwrap_or(host);
    // The usual two first: parsing the address cost ~300 instructions a request
    // (callgrind, 2026-12-02).
    if !v6 && (host == b"127.0.0.1" || host.eq_ignore_ascii_case(b"localhost")) {
        return true;
    }
    let Ok(text) = std::str::from_utf8(host) else {
        return false;
    };
    if v6 {
        return text.parse::<Ipv6Addr>().is_ok_and(|ip| {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        });
    }
    if let Ok(ip) = text.parse::<Ipv4Addr>() {
        return ip.is_loopback() || allowed.iter().any(|a| a == text);
    }
    let lower_ends = |suffix: &str| {
        text.len() >= suffix.len() && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    text.eq_ignore_ascii_case("localhost")
        || lower_ends(".localhost")
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(text))
}

/// GET, HEAD, OPTIONS and TRACE change nothing (RFC 9110 §9.2.1).
fn safe(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Refuse a write that a browser says comes from another site
/// (`Sec-Fetch-Site: cross-site`) or whose `Origin` is not this server.
fn cross_site(req: &Parts, authority: Option<&[u8]>) -> Result<(), ServeError> {
    let refused = || ServeError::CrossSite(req.method.to_string());
    if req
        .headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return Err(refused());
    }
    match req.headers.get(header::ORIGIN) {
        None => Ok(()),
        Some(origin) if same_origin(origin, authority) => Ok(()),
        Some(_) => Err(refused()),
    }
}

/// Whether `Origin` (`scheme://host[:port]`) names the host and port the request went to.
fn same_origin(origin: &HeaderValue, authority: Option<&[u8]>) -> bool {
    let o = origin.as_bytes();
    let (rest, default) = if let Some(r) = o.strip_prefix(b"http://") {
        (r, &b"80"[..])
    } else if let Some(r) = o.strip_prefix(b"https://") {
        (r, &b"443"[..])
    } else {
        return false; // "null" (a sandboxed page, a file) and anything else
    };
    let (Some((oh, op, _)), Some((ah, ap, _))) = (split_host(rest), authority.and_then(split_host))
    else {
        return false;
    };
    let op = if op.is_empty() { default } else { op };
    let ap = if ap.is_empty() { default } else { ap };
    oh.eq_ignore_ascii_case(ah) && op == ap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_allowed_hosts() {
        let none: &[String] = &[];
        for ok in [
            "localhost",
            "LOCALHOST:8000",
            "app.localhost",
            "a.b.localhost:1",
            "localhost.",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:8000",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(answers_for(ok.as_bytes(), none), "{ok}");
        }
        for bad in [
            "rebind.attacker.example",
            "localhost.attacker.example",
            "evillocalhost",
            "10.0.0.1",
            "[::2]",
            "0.0.0.0",
            "128.0.0.1",
            "",
            "[::1",
            "localhost:x",
        ] {
            assert!(!answers_for(bad.as_bytes(), none), "{bad}");
        }
        let allowed = vec!["dev.example".to_string(), "192.168.1.5".to_string()];
        assert!(answers_for(b"DEV.example:8000", &allowed));
        assert!(answers_for(b"192.168.1.5", &allowed));
        assert!(!answers_for(b"other.example", &allowed));
    }

    #[test]
    fn host_values() {
        assert!(split_host(b"a b").is_none());
        assert!(split_host(b"user@host").is_none());
        assert!(split_host(b"host:80:80").is_none());
        assert!(
            split_host(b"host:").is_some(),
            "an empty port is allowed (RFC 3986)"
        );
        assert_eq!(split_host(b"[::1]:8"), Some((&b"::1"[..], &b"8"[..], true)));
    }

    #[test]
    fn origins() {
        let o = |s: &'static str| HeaderValue::from_static(s);
        assert!(same_origin(
            &o("http://127.0.0.1:8000"),
            Some(b"127.0.0.1:8000")
        ));
        assert!(same_origin(
            &o("http://LOCALHOST:8000"),
            Some(b"localhost:8000")
        ));
        assert!(same_origin(&o("http://localhost"), Some(b"localhost:80")));
        assert!(!same_origin(
            &o("http://localhost:3000"),
            Some(b"localhost:8000")
        ));
        assert!(!same_origin(
            &o("http://evil.example"),
            Some(b"127.0.0.1:8000")
        ));
        assert!(!same_origin(&o("null"), Some(b"127.0.0.1:8000")));
        assert!(!same_origin(&o("http://127.0.0.1:8000"), None));
    }
}
