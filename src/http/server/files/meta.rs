//! What a response says about a file before any byte of it: its content type,
//! whether it compresses, and its validators (ETag, Last-Modified).

use crate::http::server::files::conditional::Current;
use http::header::HeaderValue;
use std::fs::Metadata;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// Types outside `text/*` that shrink under compression. All of them are text
/// (they get `charset=utf-8`) except wasm: binary, but it compresses well
/// (typically to a third), so it is compressed too.
const COMPRESSIBLE: &[&str] = &[
    "application/javascript",
    "application/json",
    "application/xml",
    "application/manifest+json",
    "image/svg+xml",
    "application/wasm",
];

/// The one binary type in [`COMPRESSIBLE`].
const WASM: &str = "application/wasm";

/// `Content-Type` for a path, with `charset=utf-8` for text.
pub(crate) fn content_type(path: &Path) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let essence = mime.essence_str();
    let texty = mime.type_() == mime_guess::mime::TEXT
        || (essence != WASM && COMPRESSIBLE.contains(&essence));
    let value = if texty && mime.get_param("charset").is_none() {
        format!("{essence}; charset=utf-8")
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// Whether a body of this `Content-Type` is worth compressing: text, scripts,
/// JSON, XML, SVG, wasm.
pub(crate) fn compressible(ctype: &HeaderValue) -> bool {
    let t = ctype.to_str().unwrap_or("");
    let essence = t.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/") || COMPRESSIBLE.contains(&essence)
}

/// Validators of a file: a strong ETag from mtime and size, and Last-Modified,
/// as ready header values.
#[derive(Clone)]
pub(crate) struct Validators {
    /// The strong ETag.
    pub(crate) etag: HeaderValue,
    /// Modification time in whole seconds, as If-Modified-Since compares it.
    pub(crate) mtime_secs: u64,
    /// Last-Modified, when the file system gives a time.
    pub(crate) last_modified: Option<HeaderValue>,
}

impl Validators {
    /// The validators of the file version `md` describes.
    pub(crate) fn of(md: &Metadata) -> Validators {
        let mtime = md.modified().ok();
        let d = mtime
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        Validators {
            // Hex digits and quotes only: always a valid header value.
            etag: HeaderValue::try_from(format!(
                "\"{:x}.{:x}-{:x}\"",
                d.as_secs(),
                d.subsec_nanos(),
                md.len()
            ))
            .unwrap_or(HeaderValue::from_static("\"0\"")),
            mtime_secs: d.as_secs(),
            last_modified: mtime
                .and_then(|t| HeaderValue::try_from(httpdate::fmt_http_date(t)).ok()),
        }
    }

    /// The representation these validators describe, for the conditional-request
    /// evaluator; `weak` for a compressed variant (`ETag: W/"..."`).
    pub(crate) fn current(&self, weak: bool) -> Current<'_> {
        Current {
            tag: self.etag.as_bytes(),
            weak,
            mtime_secs: self.last_modified.as_ref().map(|_| self.mtime_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_compressibility() {
        let ct = |p: &str| content_type(Path::new(p));
        assert_eq!(ct("a.html"), "text/html; charset=utf-8");
        assert_eq!(
            ct("a.js")
                .to_str()
                .ok()
                .map(|s| s.ends_with("charset=utf-8")),
            Some(true)
        );
        assert_eq!(ct("a.svg"), "image/svg+xml; charset=utf-8");
        assert_eq!(ct("a.wasm"), "application/wasm");
        assert!(compressible(&ct("a.wasm")));
        assert!(compressible(&ct("a.json")));
        assert!(!compressible(&ct("a.png")));
        assert!(!compressible(&ct("a.bin")));
    }
}
