//! Why a request gets an error page: one enum whose variants map to status codes
//! (as miniserve's `RuntimeError`), turned into the page in one place.

use crate::http::server::body::Body;
use crate::http::server::response::error_page;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use std::borrow::Cow;
use std::io;

/// What a handler answers instead of a response.
pub(crate) type Reply = Result<Response<Body>, ServeError>;

/// A request that cannot be answered as asked; [`ServeError::into_response`] makes the page.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    /// The path tries to leave the root (`..`, encoded slashes, backslashes, NUL,
    /// a symlink out of the root): 403.
    #[error("this path is not allowed")]
    ForbiddenPath,
    /// Nothing at this path, or something hidden: 404.
    #[error("nothing here")]
    NotFound,
    /// Refused for the reason given (listings off, a file the server may not read): 403.
    #[error("{0}")]
    Forbidden(&'static str),
    /// An httpbin path whose endpoint does not exist: 404.
    #[error("no such httpbin endpoint")]
    NoEndpoint,
    /// 405 with the methods that are served (the `Allow` header).
    #[error("{message}")]
    MethodNotAllowed {
        /// Why, for the page.
        message: &'static str,
        /// The value of `Allow`, when it can be written.
        allow: Option<HeaderValue>,
    },
    /// A Host this server does not answer for (DNS rebinding): 421, naming the flag.
    #[error(
        "this server, bound to a loopback address, answers only for localhost, *.localhost, 127.0.0.0/8 and [::1], not for Host '{0}'; if that name is meant to reach it, start it with --allowed-host NAME"
    )]
    MisdirectedHost(String),
    /// A write (this method) from another site: 403, naming the flag.
    #[error(
        "refusing a cross-site {0}: its Origin (or Sec-Fetch-Site) is another site; start the server with --cors to let other origins write"
    )]
    CrossSite(String),
    /// If-Match, If-Unmodified-Since or If-None-Match say no: 412.
    #[error(
        "a precondition of the request is false (If-Match, If-None-Match or If-Unmodified-Since)"
    )]
    PreconditionFailed,
    /// The upload would replace something it may not: 409.
    #[error("{0}")]
    Conflict(&'static str),
    /// A request body over `max_body`: 413. With the limit, the page names it.
    #[error("{}", too_large(*.limit))]
    TooLarge {
        /// The limit in bytes, when the page should say it.
        limit: Option<u64>,
    },
    /// A Range none of whose parts overlaps the file: 416 with `Content-Range: bytes */LEN`.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// The file's length.
        len: u64,
    },
    /// Missing or wrong credentials: 401 with a challenge per accepted scheme.
    #[error("credentials needed")]
    Unauthorized {
        /// Challenge for HTTP Basic.
        basic: bool,
        /// Challenge for a bearer token.
        bearer: bool,
    },
    /// A request the client got wrong: 400.
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// A body of a type this endpoint does not take: 415.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// The server failed at something (saving an upload): 500.
    #[error("{what}: {source}")]
    Io {
        /// What failed, for the page.
        what: &'static str,
        /// The cause.
        source: io::Error,
    },
}

fn too_large(limit: Option<u64>) -> String {
    match limit {
        Some(n) => format!("the body is over the limit of {n} bytes (--max-body)"),
        None => "the body is over --max-body".into(),
    }
}

impl ServeError {
    /// The status code this error is answered with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ServeError::ForbiddenPath | ServeError::Forbidden(_) | ServeError::CrossSite(_) => {
                StatusCode::FORBIDDEN
            }
            ServeError::MisdirectedHost(_) => StatusCode::MISDIRECTED_REQUEST,
            ServeError::NotFound | ServeError::NoEndpoint => StatusCode::NOT_FOUND,
            ServeError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ServeError::Conflict(_) => StatusCode::CONFLICT,
            ServeError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ServeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ServeError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ServeError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ServeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServeError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ServeError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error page, with the headers its status calls for.
    pub(crate) fn into_response(self) -> Response<Body> {
        let mut r = error_page(self.status(), &self.to_string());
        let h = r.headers_mut();
        match self {
            ServeError::MethodNotAllowed { allow: Some(v), .. } => {
                h.insert(header::ALLOW, v);
            }
            ServeError::RangeNotSatisfiable { len } => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    h.insert(header::CONTENT_RANGE, v);
                }
            }
            ServeError::Unauthorized { basic, bearer } => {
                if basic {
                    h.append(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"wirekit\", charset=\"UTF-8\""),
                    );
                }
                if bearer {
                    h.append(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer realm=\"wirekit\""),
                    );
                }
            }
            _ => {}
        }
        r
    }
}

/// The response to send: the handler's, or its error's page.
pub(crate) fn respond(reply: Reply) -> Response<Body> {
    reply.unwrap_or_else(ServeError::into_response)
}
