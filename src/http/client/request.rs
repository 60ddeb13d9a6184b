//! The request `wirekit http` sends, built from what the user typed: the URL shortcuts,
//! `[METHOD] URL [ITEM...]`, the body the items make (JSON, form, multipart, raw, stdin)
//! and the default headers. No network.

use crate::error::chain_text;
use crate::error::usage;
use crate::http::client::builder::Auth;
use crate::http::client::items::{self, Item};
use anyhow::{Context, Result};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT,
};
use reqwest::{Client, Method, Request, Url};
use std::io::Read;

/// The User-Agent every wirekit client request carries unless told otherwise.
pub const USER_AGENT_VALUE: &str = concat!("wirekit/", env!("CARGO_PKG_VERSION"));

const FORM_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Turn what a user typed into a URL: `:8000/x` is `http://localhost:8000/x`,
/// `example.com` is `http://example.com/`.
pub fn normalize_url(text: &str) -> Result<Url> {
    let t = text.trim();
    let full = if let Some(rest) = t.strip_prefix(':') {
        // :8000/x, :/x, :
        let (port, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if port.is_empty() {
            format!("http://localhost{path}")
        } else {
            format!("http://localhost:{port}{path}")
        }
    } else if t.contains("://") {
        t.to_string()
    } else {
        format!("http://{t}")
    };
    let url = Url::parse(&full).map_err(|e| {
        usage(format!(
            "'{text}' is not a valid URL ({e}); write it like http://host:8080/path or :8080/path"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(usage(format!(
            "'{text}': scheme '{}' is not supported; use http:// or https://",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(usage(format!(
            "'{text}' has no host; write it like http://host/path"
        )));
    }
    Ok(url)
}

/// What to send: the words of `wirekit http` and how to turn data items into a body.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// `[METHOD] URL [ITEM...]`: the method defaults to GET, or POST with a body.
    pub args: Vec<String>,
    /// Data items make a urlencoded form (multipart with files), not JSON.
    pub form: bool,
    /// Data items make multipart/form-data.
    pub multipart: bool,
    /// The whole body as it is; no data items may be given with it.
    pub raw: Option<String>,
    /// Read the body from stdin when nothing else gives one.
    pub read_stdin: bool,
}

/// A request ready to send, plus what it was made from (for `--curl` and printing).
pub struct Prepared {
    /// The request, headers and body complete.
    pub request: Request,
    /// The request items, each with the text it was parsed from.
    pub items: Vec<(String, Item)>,
    /// What kind of body the request carries.
    pub body_kind: BodyKind,
}

/// The kind of body a request carries, which sets its Content-Type and Accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// A JSON object from data items.
    Json,
    /// An urlencoded form from data items.
    Form,
    /// multipart/form-data from data items and files.
    Multipart,
    /// Bytes given whole (`--raw` or stdin).
    Raw,
}

/// Split `[METHOD] URL [ITEM...]`.
fn split_args(args: &[String]) -> Result<(Option<Method>, &str, &[String])> {
    const KNOWN: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
    ];
    if let [first, url, rest @ ..] = args {
        let upper = first.to_ascii_uppercase();
        let looks = !first.is_empty()
            && first.chars().all(|c| c.is_ascii_alphabetic())
            && (first.chars().all(|c| c.is_ascii_uppercase()) || KNOWN.contains(&upper.as_str()));
        if looks && let Ok(m) = Method::from_bytes(upper.as_bytes()) {
            return Ok((Some(m), url, rest));
        }
    }
    match args {
        [url, rest @ ..] => Ok((None, url, rest)),
        [] => Err(usage("give a URL: wirekit http [METHOD] URL [ITEM...]")),
    }
}

/// The body the items (or `--raw`, or stdin) make, with its kind and Content-Type.
fn body(
    o: &RequestOptions,
    parsed: &[(String, Item)],
) -> Result<(Option<Vec<u8>>, BodyKind, Option<String>)> {
    let has_data = parsed.iter().any(|(_, i)| i.is_data());
    let has_files = parsed.iter().any(|(_, i)| matches!(i, Item::File { .. }));
    if o.raw.is_some() && has_data {
        return Err(usage(
            "--raw gives the whole body, so data items (key=value, key:=json, field@file) cannot be added; drop one",
        ));
    }
    let raw_type = || {
        Some(
            if o.form {
                FORM_TYPE
            } else {
                "application/json"
            }
            .to_string(),
        )
    };
    if let Some(raw) = &o.raw {
        return Ok((Some(raw.clone().into_bytes()), BodyKind::Raw, raw_type()));
    }
    if o.multipart || has_files {
        let (b, boundary) = items::multipart_body(parsed)?;
        let ct = format!("multipart/form-data; boundary={boundary}");
        return Ok((Some(b), BodyKind::Multipart, Some(ct)));
    }
    if has_data && o.form {
        let b = items::form_body(parsed).into_bytes();
        return Ok((Some(b), BodyKind::Form, Some(FORM_TYPE.into())));
    }
    if has_data {
        let b = items::json_body(parsed)?.into_bytes();
        return Ok((Some(b), BodyKind::Json, Some("application/json".into())));
    }
    if o.read_stdin {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read the request body from stdin (use -I to ignore stdin)")?;
        if !buf.is_empty() {
            return Ok((Some(buf), BodyKind::Raw, raw_type()));
        }
    }
    Ok((None, BodyKind::None, None))
}

/// Build the request (no network): URL and query items, body, credentials, default
/// headers, then the user's header items in order.
pub fn prepare(o: &RequestOptions, client: &Client, auth: Option<&Auth>) -> Result<Prepared> {
    let (method, url_text, rest) = split_args(&o.args)?;
    let mut url = normalize_url(url_text)?;
    let mut parsed = Vec::with_capacity(rest.len());
    for text in rest {
        parsed.push((text.clone(), items::parse_item(text)?));
    }
    let queries: Vec<(&str, &str)> = parsed
        .iter()
        .filter_map(|(_, i)| match i {
            Item::Query(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
        .collect();
    if !queries.is_empty() {
        url.query_pairs_mut().extend_pairs(queries);
    }
    let (body, kind, content_type) = body(o, &parsed)?;
    let method = method.unwrap_or(if body.is_some() {
        Method::POST
    } else {
        Method::GET
    });

    let mut rb = client.request(method, url);
    if let Some(auth) = auth {
        rb = rb.header(AUTHORIZATION, auth.header_value()?);
    }
    if let Some(b) = body {
        rb = rb.body(b);
    }
    let mut request = rb
        .build()
        .map_err(|e| usage(format!("cannot build the request: {}", chain_text(&e))))?;

    let h = request.headers_mut();
    h.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    h.insert(
        ACCEPT,
        HeaderValue::from_static(if kind == BodyKind::Json {
            "application/json, */*;q=0.5"
        } else {
            "*/*"
        }),
    );
    if let Some(ct) = content_type
        && let Ok(v) = HeaderValue::from_str(&ct)
    {
        h.insert(CONTENT_TYPE, v);
    }
    apply_header_items(h, &parsed)?;
    Ok(Prepared {
        request,
        items: parsed,
        body_kind: kind,
    })
}

/// The header items: the first of a name replaces a default, later ones add to it;
/// `Name:` removes it, `Name;` sends it empty.
fn apply_header_items(h: &mut HeaderMap, parsed: &[(String, Item)]) -> Result<()> {
    let mut seen: Vec<HeaderName> = Vec::new();
    let mut add = |h: &mut HeaderMap, name: HeaderName, value: HeaderValue| {
        if seen.contains(&name) {
            h.append(name, value);
        } else {
            h.insert(name.clone(), value);
            seen.push(name);
        }
    };
    for (text, item) in parsed {
        let name_of = |n: &str| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| {
                usage(format!(
                    "request item '{text}': '{n}' is not a valid header name"
                ))
            })
        };
        match item {
            Item::Header(n, v) => {
                let name = name_of(n)?;
                let value = HeaderValue::from_str(v).map_err(|_| {
                    usage(format!(
                        "request item '{text}': the header value has characters a header cannot carry"
                    ))
                })?;
                add(h, name, value);
            }
            Item::RemoveHeader(n) => {
                h.remove(name_of(n)?);
            }
            Item::EmptyHeader(n) => add(h, name_of(n)?, HeaderValue::from_static("")),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_shortcuts() {
        let u = |s: &str| normalize_url(s).map(|u| u.to_string()).ok();
        assert_eq!(u(":8000/x").as_deref(), Some("http://localhost:8000/x"));
        assert_eq!(u(":/x").as_deref(), Some("http://localhost/x"));
        assert_eq!(u("example.com").as_deref(), Some("http://example.com/"));
        assert_eq!(u("https://a.b/c").as_deref(), Some("https://a.b/c"));
        assert!(normalize_url("http://").is_err());
        assert!(normalize_url("ftp://x").is_err());
        assert!(normalize_url("http://exa mple.com").is_err());
    }

    #[test]
    fn method_split() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<String>>();
        let a = words(&["POST", ":1/x", "a=1"]);
        assert_eq!(split_args(&a).expect("args").0, Some(Method::POST));
        let a = words(&["example.com", "a=1"]);
        assert_eq!(split_args(&a).expect("args").0, None);
        let a = words(&["localhost"]);
        assert_eq!(split_args(&a).expect("args").1, "localhost");
        assert!(split_args(&[]).is_err());
    }
}
