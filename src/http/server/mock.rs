//! Mock API routes: `--route 'METHOD PATH [STATUS] [BODY|@FILE]'` and `--routes FILE`
//! (the seed's Flask `jsonify` example without writing Python).

use crate::error::usage;
use crate::http::header;
use crate::http::server::body::Body;
use crate::http::server::conn::Fields;
use crate::http::server::dispatch::every_response;
use crate::http::server::files::meta::content_type;
use anyhow::{Context, Result};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode};
use percent_encoding::percent_decode_str;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Seg {
    Lit(String),
    Param(String),
    /// A final `*`: matches the rest of the path.
    Rest,
}

/// One mock route: what it matches and what it answers.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    /// `None` for `*` (any method).
    method: Option<Method>,
    path: String,
    segs: Vec<Seg>,
    /// For a path of literals only (none with `/` or `%`): the one request path
    /// that names it as it is, compared before the segments are walked.
    exact: Option<String>,
    status: StatusCode,
    body: Bytes,
    /// `Content-Length` of `body`, made once (a template's is made per answer).
    length: HeaderValue,
    content_type: HeaderValue,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The body has `{{name}}` placeholders.
    template: bool,
    /// Its header fields with those every response gets, made once ([`Route::prebuild`]).
    fields: Option<Arc<Fields>>,
}

/// What the routes say about a request.
pub(crate) enum Match<'a> {
    /// This route answers, with these `:name` (and `*`) values.
    Hit(&'a Route, Vec<(String, String)>),
    /// The path is a route's, the method is not: 405 with these methods.
    WrongMethod(Vec<String>),
    /// No route has this path.
    Miss,
}

fn parse_path(path: &str, culprit: &str) -> Result<Vec<Seg>> {
    if !path.starts_with('/') {
        return Err(usage(format!(
            "route '{culprit}': the path must start with '/', like GET /api/data"
        )));
    }
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut segs = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        if *p == "*" {
            if i + 1 != parts.len() {
                return Err(usage(format!("route '{culprit}': '*' may only end a path")));
            }
            segs.push(Seg::Rest);
        } else if let Some(name) = p.strip_prefix(':') {
            segs.push(Seg::Param(name.to_string()));
        } else {
            segs.push(Seg::Lit(
                percent_decode_str(p).decode_utf8_lossy().into_owned(),
            ));
        }
    }
    Ok(segs)
}

/// The path that names `segs` as they are, if they are literals with no `/` or `%`.
fn exact(segs: &[Seg]) -> Option<String> {
    let mut path = String::new();
    for seg in segs {
        match seg {
            Seg::Lit(l) if !l.contains(['/', '%']) => {
                path.push('/');
                path.push_str(l);
            }
            _ => return None,
        }
    }
    Some(if path.is_empty() { "/".into() } else { path })
}

fn parse_method(m: &str, culprit: &str) -> Result<Option<Method>> {
    if m == "*" {
        return Ok(None);
    }
    Method::from_bytes(m.to_ascii_uppercase().as_bytes())
        .map(Some)
        .map_err(|_| usage(format!("route '{culprit}': '{m}' is not an HTTP method")))
}

/// A status a route may answer with: 100 to 599.
fn route_status(n: u16) -> Option<StatusCode> {
    StatusCode::from_u16(n)
        .ok()
        .filter(|s| (100..600).contains(&s.as_u16()))
}

/// Content type of an inline body: JSON when it parses as JSON.
fn inline_type(body: &[u8]) -> HeaderValue {
    if !body.is_empty() && serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        HeaderValue::from_static("application/json")
    } else {
        HeaderValue::from_static("text/plain; charset=utf-8")
    }
}

fn read_body_file(file: &str, base: &Path, culprit: &str) -> Result<(Bytes, HeaderValue)> {
    let path = base.join(file);
    let data = std::fs::read(&path).map_err(|e| {
        usage(format!(
            "route '{culprit}': cannot read body file {}: {e}; give a path relative to the current folder",
            path.display()
        ))
    })?;
    let ctype = content_type(&path);
    Ok((Bytes::from(data), ctype))
}

impl Route {
    /// Parse `METHOD PATH [STATUS] [BODY|@FILE]`; `@FILE` is relative to `base`.
    pub(crate) fn parse(text: &str, base: &Path) -> Result<Route> {
        let t = text.trim();
        let mut rest = t;
        let mut next_word = || {
            let r = rest.trim_start();
            let end = r.find(char::is_whitespace).unwrap_or(r.len());
            let (w, after) = r.split_at(end);
            rest = after;
            w
        };
        let method = next_word();
        let path = next_word();
        if method.is_empty() || path.is_empty() {
            return Err(usage(format!(
                "route '{text}' needs a method and a path, like 'GET /api/data {{\"message\": \"Hello\"}}'"
            )));
        }
        let method = parse_method(method, text)?;
        let segs = parse_path(path, text)?;
        let mut body_text = rest.trim_start();
        let mut status = StatusCode::OK;
        let word_end = body_text
            .find(char::is_whitespace)
            .unwrap_or(body_text.len());
        let first = &body_text[..word_end];
        if first.len() == 3 && first.bytes().all(|b| b.is_ascii_digit()) {
            status = first
                .parse::<u16>()
                .ok()
                .and_then(route_status)
                .ok_or_else(|| {
                    usage(format!(
                        "route '{text}': {first} is not a status from 100 to 599"
                    ))
                })?;
            body_text = body_text[word_end..].trim_start();
        }
        let (body, content_type) = match body_text.strip_prefix('@') {
            Some(file) => read_body_file(file.trim(), base, text)?,
            None => {
                let b = Bytes::copy_from_slice(body_text.as_bytes());
                let ct = inline_type(&b);
                (b, ct)
            }
        };
        Ok(Route::new(
            method,
            path.to_string(),
            segs,
            status,
            (body, content_type),
            Vec::new(),
        ))
    }

    /// A route from its parts, with what is derived from them made once (the
    /// exact path, whether the body is a template, its length); its header fields
    /// are made later, by [`Route::prebuild`].
    fn new(
        method: Option<Method>,
        path: String,
        segs: Vec<Seg>,
        status: StatusCode,
        (body, content_type): (Bytes, HeaderValue),
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Route {
        Route {
            method,
            path,
            exact: exact(&segs),
            segs,
            status,
            template: body.windows(2).any(|w| w == b"{{"),
            length: HeaderValue::from(body.len()),
            body,
            content_type,
            headers,
            fields: None,
        }
    }

    /// The `:name` (and `*`) values if this route matches `path` (raw, still
    /// percent-encoded); empty segments are skipped, as `//` in a path.
    #[allow(clippy::manual_pattern_char_comparison)] // the predicate is the point
    fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        // A walk of the segments cost ~390 instructions a request (callgrind, 2026-12-02).
        if self.exact.as_deref() == Some(path) {
            return Some(Vec::new());
        }
        // A predicate, not `split('/')`, whose searcher costs ~90 instructions a segment.
        let mut got = path.split(|c| c == '/').filter(|s| !s.is_empty());
        let mut params = Vec::new();
        for seg in &self.segs {
            match seg {
                Seg::Rest => {
                    params.push(("*".to_string(), got.collect::<Vec<_>>().join("/")));
                    return Some(params);
                }
                Seg::Lit(l) => {
                    let g = got.next()?;
                    // Decoding is the identity without a '%': compare as it is.
                    let same = if g.contains('%') {
                        percent_decode_str(g).decode_utf8_lossy() == l.as_str()
                    } else {
                        g == l
                    };
                    if !same {
                        return None;
                    }
                }
                Seg::Param(name) => {
                    let g = got.next()?;
                    params.push((
                        name.clone(),
                        percent_decode_str(g).decode_utf8_lossy().into_owned(),
                    ));
                }
            }
        }
        got.next().is_none().then_some(params)
    }

    fn method_ok(&self, m: &Method) -> bool {
        match &self.method {
            None => true,
            Some(r) => r == m || (*r == Method::GET && *m == Method::HEAD),
        }
    }

    /// Make the header fields of the answer once, with those every response
    /// gets (`cors`, `headers`: see [`every_response`]), when they do not
    /// change from one answer to the next.
    pub(crate) fn prebuild(&mut self, cors: bool, headers: &[(HeaderName, HeaderValue)]) {
        // `respond` leaves out the fields while made ones are set: unset them first.
        self.fields = None;
        if self.no_body() {
            return;
        }
        let mut map = self.respond(&[], false).into_parts().0.headers;
        every_response(cors, headers, &mut map);
        self.fields = Fields::new(map).map(Arc::new);
    }

    /// The fields made once, if they are this answer's (`params` fill no template).
    pub(crate) fn fields(&self, params: &[(String, String)]) -> Option<&Arc<Fields>> {
        self.fields
            .as_ref()
            .filter(|_| !self.template || params.is_empty())
    }

    /// No body, nor its fields: 1xx, 204, 304.
    fn no_body(&self) -> bool {
        self.status == StatusCode::NO_CONTENT
            || self.status == StatusCode::NOT_MODIFIED
            || self.status.is_informational()
    }

    /// The response, `{{name}}` placeholders filled from `params`; without
    /// header fields when [`Route::fields`] gives them.
    pub(crate) fn respond(&self, params: &[(String, String)], head: bool) -> Response<Body> {
        let filled = self.template && !params.is_empty();
        let body = if filled {
            let json = self
                .content_type
                .as_bytes()
                .starts_with(b"application/json");
            let mut text = String::from_utf8_lossy(&self.body).into_owned();
            for (k, v) in params {
                let value = if json {
                    // Inside a JSON string: escape as JSON, without the quotes.
                    let q = serde_json::Value::String(v.clone()).to_string();
                    q[1..q.len() - 1].to_string()
                } else {
                    v.clone()
                };
                text = text.replace(&format!("{{{{{k}}}}}"), &value);
            }
            Bytes::from(text)
        } else {
            self.body.clone()
        };
        let mut resp = Response::new(Body::Empty);
        *resp.status_mut() = self.status;
        let no_body = self.no_body();
        // Fields made once are the caller's to add or write (`dispatch::handle`).
        if self.fields(params).is_none() {
            let h = resp.headers_mut();
            if !no_body {
                h.insert(CONTENT_TYPE, self.content_type.clone());
                let length = if filled {
                    HeaderValue::from(body.len())
                } else {
                    self.length.clone()
                };
                h.insert(CONTENT_LENGTH, length);
            }
            for (k, v) in &self.headers {
                h.insert(k.clone(), v.clone());
            }
        }
        if !head && !no_body {
            *resp.body_mut() = Body::bytes(body);
        }
        resp
    }
}

/// Find the route for a request path (raw, still percent-encoded).
pub(crate) fn find<'a>(routes: &'a [Route], method: &Method, path: &str) -> Match<'a> {
    if routes.is_empty() {
        return Match::Miss;
    }
    // Each route walks the path itself: collecting its segments first cost an
    // allocation and ~700 instructions a request (callgrind, 2026-12-02).
    let mut allowed = Vec::new();
    for r in routes {
        if let Some(params) = r.matches(path) {
            if r.method_ok(method) {
                return Match::Hit(r, params);
            }
            if let Some(m) = &r.method {
                allowed.push(m.to_string());
            }
        }
    }
    if allowed.is_empty() {
        Match::Miss
    } else {
        allowed.dedup();
        Match::WrongMethod(allowed)
    }
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum RoutesFile {
    List(Vec<RouteSpec>),
    Wrapped { routes: Vec<RouteSpec> },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    #[serde(default = "default_method")]
    method: String,
    path: String,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    body: Option<serde_json::Value>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    content_type: Option<String>,
}

fn default_method() -> String {
    "GET".into()
}

/// Load routes from a JSON file (or TOML, by its `.toml` extension); `file`
/// bodies are relative to the file's folder.
pub(crate) fn load(path: &Path) -> Result<Vec<Route>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read routes file {}", path.display()))
        .map_err(|e| usage(crate::error::one_line(&e)))?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let parsed: RoutesFile = if is_toml {
        toml::from_str(&text).map_err(|e| {
            usage(format!(
                "routes file {}: {e}; expected [[routes]] tables with method, path, status, body (see wirekit serve --help)",
                path.display()
            ))
        })?
    } else {
        serde_json::from_str(&text).map_err(|e| {
            usage(format!(
                "routes file {}: {e}; expected a JSON array of {{\"method\", \"path\", \"status\", \"body\"}} objects (see wirekit serve --help)",
                path.display()
            ))
        })?
    };
    let specs = match parsed {
        RoutesFile::List(l) => l,
        RoutesFile::Wrapped { routes } => routes,
    };
    let base = path.parent().unwrap_or(Path::new("."));
    specs
        .into_iter()
        .map(|spec| from_spec(spec, base, path))
        .collect()
}

/// One route of the routes file `file`; its body file is relative to `base`.
fn from_spec(spec: RouteSpec, base: &Path, file: &Path) -> Result<Route> {
    let culprit = format!("{} {} in {}", spec.method, spec.path, file.display());
    let (body, mut content_type) = match (&spec.body, &spec.file) {
        (Some(_), Some(_)) => {
            return Err(usage(format!(
                "route {culprit}: give either \"body\" or \"file\", not both"
            )));
        }
        (_, Some(f)) => read_body_file(f, base, &culprit)?,
        (Some(serde_json::Value::String(s)), None) => {
            let b = Bytes::from(s.clone());
            let ct = inline_type(&b);
            (b, ct)
        }
        (Some(v), None) => (
            Bytes::from(v.to_string()),
            HeaderValue::from_static("application/json"),
        ),
        (None, None) => (
            Bytes::new(),
            HeaderValue::from_static("text/plain; charset=utf-8"),
        ),
    };
    if let Some(ct) = &spec.content_type {
        content_type = HeaderValue::from_str(ct)
            .map_err(|_| usage(format!("route {culprit}: invalid content_type '{ct}'")))?;
    }
    let headers = spec
        .headers
        .iter()
        .map(|(k, v)| header::pair(k, v).map_err(|e| usage(format!("route {culprit}: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let status = match spec.status {
        None => StatusCode::OK,
        Some(n) => route_status(n).ok_or_else(|| {
            usage(format!(
                "route {culprit}: {n} is not a status from 100 to 599"
            ))
        })?,
    };
    let segs = parse_path(&spec.path, &culprit)?;
    let method = parse_method(&spec.method, &culprit)?;
    Ok(Route::new(
        method,
        spec.path,
        segs,
        status,
        (body, content_type),
        headers,
    ))
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.method {
            Some(m) => write!(f, "{m} {}", self.path),
            None => write!(f, "* {}", self.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_match() {
        let base = Path::new(".");
        let r = Route::parse(r#"GET /api/data {"message": "Hello, World!"}"#, base).unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.content_type, "application/json");
        let r = Route::parse("POST /users/:id 201 {\"id\": \"{{id}}\"}", base).unwrap();
        assert_eq!(r.status, StatusCode::CREATED);
        let routes = vec![r];
        match find(&routes, &Method::POST, "/users/a%22b") {
            Match::Hit(r, p) => {
                assert_eq!(p, vec![("id".to_string(), "a\"b".to_string())]);
                let resp = r.respond(&p, false);
                assert_eq!(resp.status(), 201);
            }
            _ => panic!("no match"),
        }
        assert!(matches!(
            find(&routes, &Method::GET, "/users/1"),
            Match::WrongMethod(_)
        ));
        assert!(matches!(find(&routes, &Method::GET, "/users"), Match::Miss));
        assert!(Route::parse("GET", base).is_err());
        assert!(Route::parse("GET api", base).is_err());
        assert!(Route::parse("GET /x 999", base).is_err());
        let r = Route::parse("DELETE /x 204", base).unwrap();
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert!(r.body.is_empty());
    }

    mod props {
        use super::*;
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        use proptest::prelude::*;

        /// A pattern segment: a literal, a `:name`, or (last only) `*`.
        #[derive(Debug, Clone)]
        enum Gen {
            Lit(String),
            Param(String),
        }

        fn seg() -> impl Strategy<Value = Gen> {
            prop_oneof![
                "[a-z0-9._~-]{1,6}"
                    .prop_filter("not * or a dot segment", |s| s != "." && s != "..")
                    .prop_map(Gen::Lit),
                "[a-z]{1,6}".prop_map(Gen::Param),
            ]
        }

        proptest! {
            #[test]
            fn parse_and_find_never_panic(
                text in prop_oneof![
                    "\\PC{0,60}",
                    "(GET|\\*|post|X|DELETE) /[a-z:*/%0-9{}]{0,20}( [0-9]{3})?( \\PC{0,20})?",
                ],
                path in prop_oneof!["\\PC{0,40}", "/[a-z:*/%0-9.]{0,20}"],
            ) {
                if let Ok(r) = Route::parse(&text, Path::new(".")) {
                    let routes = vec![r];
                    for m in [Method::GET, Method::POST, Method::HEAD] {
                        if let Match::Hit(r, p) = find(&routes, &m, &path) {
                            let _ = r.respond(&p, false);
                        }
                    }
                }
            }

            #[test]
            fn a_pattern_matches_what_it_was_built_from(
                segs in prop::collection::vec(seg(), 0..6),
                values in prop::collection::vec("\\PC{1,8}", 6),
                rest in prop::option::of(prop::collection::vec("[a-z0-9]{1,4}", 0..3)),
            ) {
                let mut pattern = String::new();
                let mut path = String::new();
                let mut want = Vec::new();
                for (i, s) in segs.iter().enumerate() {
                    match s {
                        Gen::Lit(l) => {
                            pattern.push_str(&format!("/{l}"));
                            path.push_str(&format!("/{}", utf8_percent_encode(l, NON_ALPHANUMERIC)));
                        }
                        Gen::Param(n) => {
                            pattern.push_str(&format!("/:{n}"));
                            path.push_str(&format!("/{}", utf8_percent_encode(&values[i], NON_ALPHANUMERIC)));
                            want.push((n.clone(), values[i].clone()));
                        }
                    }
                }
                if let Some(rest) = &rest {
                    pattern.push_str("/*");
                    for r in rest {
                        path.push_str(&format!("/{r}"));
                    }
                    want.push(("*".to_string(), rest.join("/")));
                }
                if pattern.is_empty() {
                    pattern.push('/');
                }
                if path.is_empty() {
                    path.push('/');
                }
                let route = Route::parse(&format!("PUT {pattern} 201 {{\"ok\": \"{{{{x}}}}\"}}"), Path::new("."));
                prop_assert!(route.is_ok(), "{pattern}: {:?}", route.err());
                let routes = vec![route.unwrap()];
                match find(&routes, &Method::PUT, &path) {
                    Match::Hit(_, got) => prop_assert_eq!(got, want, "{} {}", pattern, path),
                    _ => prop_assert!(false, "{pattern} does not match {path}"),
                }
                let wrong_method = matches!(find(&routes, &Method::GET, &path), Match::WrongMethod(_));
                prop_assert!(wrong_method);
            }
        }
    }
}
