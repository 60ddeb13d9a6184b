//! Responses that every handler builds the same way: plain-text error and notice
//! pages, redirects, and small bodies of known length.

use crate::http::server::body::Body;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

/// A plain-text error or notice page: `404 Not Found: nothing here`.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response<Body> {
    let text = format!(
        "{} {}: {message}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut r = sized(
        text,
        HeaderValue::from_static("text/plain; charset=utf-8"),
        false,
    );
    *r.status_mut() = status;
    r
}

/// A redirect to `location`, with a page that names it for clients that do not follow.
pub(crate) fn redirect(status: StatusCode, location: &str) -> Response<Body> {
    let mut r = error_page(status, &format!("moved to {location}"));
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A 200 whose body is `text` of type `ctype`, its length announced; for HEAD,
/// the headers only.
pub(crate) fn sized(
    text: impl Into<bytes::Bytes>,
    ctype: HeaderValue,
    head: bool,
) -> Response<Body> {
    let text = text.into();
    let mut r = Response::new(Body::Empty);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, ctype);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    if !head {
        *r.body_mut() = Body::bytes(text);
    }
    r
}

/// An empty response with this status.
pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = status;
    r
}
