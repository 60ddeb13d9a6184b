//! Many targets: `--urls FILE` (one URL per line) and vegeta-style targets files
//! (`METHOD URL`, then `Name: value` header lines and an optional `@body-file`,
//! blocks separated by blank lines). Requests go round-robin over them.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use std::path::Path;

/// One request to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its method.
    pub method: http::Method,
    /// Its URL (every target of a run has the same scheme, host and port).
    pub url: url::Url,
    /// Its headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Its body.
    pub body: Bytes,
}

fn parse_url(text: &str, place: &str) -> Result<url::Url, String> {
    url::Url::parse(text.trim())
        .ok()
        .filter(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        })
        .ok_or_else(|| {
            format!(
                "{place}: '{}' is not an http:// or https:// URL with a host",
                text.trim()
            )
        })
}

/// `--urls`: one URL per line (blank lines and `#` comments skipped), each a GET
/// with `headers` and `body`.
pub fn parse_urls(
    text: &str,
    name: &str,
    method: &http::Method,
    headers: &[(HeaderName, HeaderValue)],
    body: &Bytes,
) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        out.push(Target {
            method: method.clone(),
            url: parse_url(t, &format!("{name} line {}", i + 1))?,
            headers: headers.to_vec(),
            body: body.clone(),
        });
    }
    if out.is_empty() {
        return Err(format!("{name} holds no URLs; write one per line"));
    }
    Ok(out)
}

/// A vegeta-style targets file; `@file` bodies are read relative to `dir`.
pub fn parse_targets(text: &str, name: &str, dir: &Path) -> Result<Vec<Target>, String> {
    let mut out: Vec<Target> = Vec::new();
    let mut current: Option<Target> = None;
    for (i, line) in text.lines().enumerate() {
        let place = format!("{name} line {}", i + 1);
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        if t.is_empty() {
            out.extend(current.take());
            continue;
        }
        match current.as_mut() {
            None => {
                let (method, url) = t.split_once(char::is_whitespace).ok_or_else(|| {
                    format!("{place}: '{t}' is not 'METHOD URL', like 'GET http://127.0.0.1:8000/'")
                })?;
                let method = http::Method::from_bytes(method.as_bytes())
                    .map_err(|_| format!("{place}: '{method}' is not an HTTP method"))?;
                current = Some(Target {
                    method,
                    url: parse_url(url, &place)?,
                    headers: Vec::new(),
                    body: Bytes::new(),
                });
            }
            Some(target) => {
                if let Some(file) = t.strip_prefix('@') {
                    let path = dir.join(file);
                    let body = std::fs::read(&path).map_err(|e| {
                        format!("{place}: cannot read body file '{}': {e}", path.display())
                    })?;
                    target.body = Bytes::from(body);
                } else {
                    let pair = crate::http::header::line(t).map_err(|e| format!("{place}: {e}"))?;
                    target.headers.push(pair);
                }
            }
        }
    }
    out.extend(current);
    if out.is_empty() {
        return Err(format!(
            "{name} holds no targets; write 'METHOD URL' blocks"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vegeta_targets_parse_with_headers_and_bodies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.json"), b"{\"a\":1}").unwrap();
        let text = "GET http://127.0.0.1:1/a\nX-A: 1\n\nPOST http://127.0.0.1:1/b\nContent-Type: application/json\n@b.json\n";
        let t = parse_targets(text, "t", dir.path()).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].headers.len(), 1);
        assert_eq!(t[1].method, http::Method::POST);
        assert_eq!(&t[1].body[..], b"{\"a\":1}");
        assert!(parse_targets("GETX", "t", dir.path()).is_err());
        assert!(parse_targets("GET ftp://x/", "t", dir.path()).is_err());
    }
}
