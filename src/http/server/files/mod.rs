//! Files: mapping a URL path to a file under the root (and refusing everything
//! that would leave it), then GET/HEAD with conditional requests and ranges.

// The `Err` of a few helpers is the response to send: the rare path, moved once.
#![allow(clippy::result_large_err)]

pub mod cache;
pub mod compress;
pub mod listing;
pub mod ranges;

use crate::http::server::body::{Body, FileBody, Segment};
use crate::http::server::{Config, error_page};
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode};
use percent_encoding::percent_decode_str;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Why a URL path maps to nothing we will serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deny {
    /// The path tries to leave the root (`..`, encoded slashes, backslashes, NUL, escaping symlinks).
    Forbidden,
    /// Nothing there, or hidden.
    NotFound,
}

impl Deny {
    pub fn response(self) -> Response<Body> {
        match self {
            Deny::Forbidden => error_page(StatusCode::FORBIDDEN, "this path is not allowed"),
            Deny::NotFound => error_page(StatusCode::NOT_FOUND, "nothing here"),
        }
    }
}

/// Split a raw URL path into decoded segments, refusing any that could climb out
/// of the root or name something other than one directory entry.
pub fn segments(raw: &str, hidden: bool) -> Result<Vec<OsString>, Deny> {
    let mut out = Vec::new();
    for seg in raw.split('/') {
        if seg.is_empty() {
            continue;
        }
        let bytes: Vec<u8> = percent_decode_str(seg).collect();
        if bytes == b"." {
            continue;
        }
        if bytes == b".." || bytes.iter().any(|&b| b == b'/' || b == b'\\' || b == 0) {
            return Err(Deny::Forbidden);
        }
        if !hidden && bytes.first() == Some(&b'.') {
            return Err(Deny::NotFound);
        }
        out.push(OsString::from_vec(bytes));
    }
    Ok(out)
}

/// The file or folder that `segs` names under the root, with its metadata.
/// Without --follow-symlinks, a symlink anywhere on the way must resolve inside the root.
pub fn resolve(cfg: &Config, segs: &[OsString]) -> Result<(PathBuf, Metadata), Deny> {
    let mut path = cfg.base.clone();
    if cfg.follow_symlinks {
        for s in segs {
            path.push(s);
        }
        return std::fs::metadata(&path)
            .map(|m| (path, m))
            .map_err(|_| Deny::NotFound);
    }
    let mut last = None;
    for (i, s) in segs.iter().enumerate() {
        path.push(s);
        let md = std::fs::symlink_metadata(&path).map_err(|_| Deny::NotFound)?;
        if md.file_type().is_symlink() {
            for rest in &segs[i + 1..] {
                path.push(rest);
            }
            let real = std::fs::canonicalize(&path).map_err(|_| Deny::NotFound)?;
            if !real.starts_with(&cfg.root) {
                return Err(Deny::Forbidden);
            }
            let md = std::fs::metadata(&real).map_err(|_| Deny::NotFound)?;
            return Ok((real, md));
        }
        last = Some(md);
    }
    match last {
        Some(md) => Ok((path, md)),
        None => std::fs::metadata(&path)
            .map(|m| (path, m))
            .map_err(|_| Deny::NotFound),
    }
}

/// GET or HEAD of a URL path under the root.
pub fn get(cfg: &Config, req: &Parts) -> Response<Body> {
    let raw = req.uri.path();
    let found = segments(raw, cfg.hidden).and_then(|segs| resolve(cfg, &segs));
    let (path, md) = match found {
        Ok(found) => found,
        Err(Deny::NotFound) if cfg.spa => return spa_index(cfg, req),
        Err(deny) => return deny.response(),
    };
    if md.is_dir() {
        if !raw.ends_with('/') {
            // One leading slash only: `//host/dir` must not become a redirect to another host.
            let mut location = format!("/{}/", raw.trim_start_matches('/'));
            if let Some(q) = req.uri.query() {
                location.push('?');
                location.push_str(q);
            }
            return redirect(StatusCode::MOVED_PERMANENTLY, &location);
        }
        let index = path.join("index.html");
        if let Ok(imd) = std::fs::metadata(&index)
            && imd.is_file()
        {
            return file(cfg, req, &index, &imd);
        }
        if !cfg.listing {
            return error_page(
                StatusCode::FORBIDDEN,
                "folder listings are off (--no-listing)",
            );
        }
        return listing::respond(cfg, req, &path);
    }
    if !md.is_file() {
        return Deny::NotFound.response();
    }
    file(cfg, req, &path, &md)
}

fn spa_index(cfg: &Config, req: &Parts) -> Response<Body> {
    let index = cfg.base.join("index.html");
    match std::fs::metadata(&index) {
        Ok(md) if md.is_file() => file(cfg, req, &index, &md),
        _ => Deny::NotFound.response(),
    }
}

pub fn redirect(status: StatusCode, location: &str) -> Response<Body> {
    let mut r = error_page(status, &format!("moved to {location}"));
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `Content-Type` for a path, with `charset=utf-8` for text.
pub fn content_type(path: &Path) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let essence = mime.essence_str();
    let texty = mime.type_() == mime_guess::mime::TEXT
        || matches!(
            essence,
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "application/manifest+json"
                | "image/svg+xml"
        );
    let value = if texty && mime.get_param("charset").is_none() {
        format!("{essence}; charset=utf-8")
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// Validators of a file: a strong ETag from mtime and size, and Last-Modified,
/// as ready header values.
pub struct Validators {
    pub etag: HeaderValue,
    pub mtime_secs: u64,
    pub last_modified: Option<HeaderValue>,
}

impl Validators {
    pub fn of(md: &Metadata) -> Validators {
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

    /// Whether If-None-Match / If-Modified-Since say the client's copy is current.
    pub fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
            let Ok(inm) = inm.to_str() else { return false };
            return inm
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == self.etag);
        }
        if let Some(ims) = headers.get(header::IF_MODIFIED_SINCE)
            && let Some(since) = ims
                .to_str()
                .ok()
                .and_then(|s| httpdate::parse_http_date(s).ok())
        {
            let since = since.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            return self.mtime_secs <= since;
        }
        false
    }

    /// Whether If-Range (absent, a strong ETag, or the exact Last-Modified date) lets a range apply.
    pub fn range_applies(&self, headers: &HeaderMap) -> bool {
        match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
            None => true,
            Some(v) if v.starts_with('"') => v == self.etag,
            Some(v) if v.starts_with("W/") => false,
            Some(v) => self.last_modified.as_ref().is_some_and(|lm| lm == v),
        }
    }
}

/// A file: 304, 206 (one range or multipart/byteranges), 416, compressed or plain 200.
pub fn file(cfg: &Config, req: &Parts, path: &Path, md: &Metadata) -> Response<Body> {
    let len = md.len();
    let info = cfg.cache.get(path, md);
    let validators = &info.validators;
    let ctype = info.ctype.clone();
    let mut resp = Response::new(Body::Empty);
    let h = resp.headers_mut();
    h.insert(header::ETAG, validators.etag.clone());
    if let Some(lm) = &validators.last_modified {
        h.insert(header::LAST_MODIFIED, lm.clone());
    }
    if let Some(cc) = &cfg.cache_control {
        h.insert(header::CACHE_CONTROL, cc.clone());
    }
    if validators.not_modified(&req.headers) {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return resp;
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let head = req.method == Method::HEAD;

    let range = req
        .headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| validators.range_applies(&req.headers))
        .map(|r| ranges::parse(r, len));

    if range.is_none() && cfg.compress {
        let root = (!cfg.follow_symlinks).then_some(cfg.root.as_path());
        if let Some(c) = compress::for_file(&req.headers, path, root, info.compressible, len, head)
        {
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, ctype);
            h.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(c.encoding),
            );
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            h.remove(header::ACCEPT_RANGES);
            // The encoded bytes differ from the file's: the validator becomes weak, as nginx does.
            if let Ok(v) = HeaderValue::from_bytes(&[b"W/", validators.etag.as_bytes()].concat()) {
                h.insert(header::ETAG, v);
            }
            if let Some(n) = c.len {
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            }
            *resp.body_mut() = c.body;
            return resp;
        }
        if info.compressible {
            resp.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
    }

    let open = || match File::open(path) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(error_page(
            StatusCode::FORBIDDEN,
            "the server may not read this file",
        )),
        Err(_) => Err(Deny::NotFound.response()),
    };

    match range {
        Some(ranges::Ranges::Unsatisfiable) => {
            let mut r = error_page(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r
        }
        Some(ranges::Ranges::Some(list)) if list.len() == 1 => {
            let (first, last) = list[0];
            let n = last - first + 1;
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, ctype);
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{len}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
            if !head {
                *resp.body_mut() = match &info.data {
                    Some(data) => Body::bytes(data.slice(first as usize..=last as usize)),
                    None => match open() {
                        Ok(f) => Body::File(FileBody::new(
                            f,
                            vec![Segment::File {
                                offset: first,
                                len: n,
                            }],
                        )),
                        Err(r) => return r,
                    },
                };
            }
            resp
        }
        Some(ranges::Ranges::Some(list)) => {
            let boundary = format!("{:016x}", fastrand::u64(..));
            let (segments, total) = ranges::multipart(
                &list,
                len,
                ctype.to_str().unwrap_or("application/octet-stream"),
                &boundary,
            );
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = resp.headers_mut();
            if let Ok(v) =
                HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}"))
            {
                h.insert(header::CONTENT_TYPE, v);
            }
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
            if !head {
                match open() {
                    Ok(f) => *resp.body_mut() = Body::File(FileBody::new(f, segments)),
                    Err(r) => return r,
                }
            }
            resp
        }
        _ => {
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, ctype);
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            if !head {
                *resp.body_mut() = match &info.data {
                    Some(data) => Body::bytes(data.clone()),
                    None => match open() {
                        Ok(f) => Body::File(FileBody::whole(f, len)),
                        Err(r) => return r,
                    },
                };
            }
            resp
        }
    }
}

/// Seconds since the epoch, for listings.
pub fn unix_secs(t: Option<SystemTime>) -> Option<u64> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
}
