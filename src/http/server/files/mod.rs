//! Files: GET/HEAD of what a URL path names under the root (the one resolver in
//! [`resolve`]), with folders (index.html, listings, redirects), single-page
//! apps, conditional requests, ranges and compression.

pub(crate) mod archive;
pub(crate) mod cache;
pub(crate) mod compress;
pub(crate) mod conditional;
pub(crate) mod listing;
pub(crate) mod meta;
pub(crate) mod ranges;
pub(crate) mod resolve;
#[cfg(test)]
mod tests;

use crate::http::server::body::{Body, FileBody, Segment};
use crate::http::server::config::Config;
use crate::http::server::error::{Reply, ServeError};
use crate::http::server::response::redirect;
use cache::FileInfo;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode};
use ranges::Ranges;
use resolve::{resolve, segments};
use std::fs::{File, Metadata};
use std::path::Path;
use std::sync::Arc;

/// The file that stands for a folder.
const INDEX: &str = "index.html";

/// GET or HEAD of a URL path under the root (`Arc`: a folder's archive is
/// written by a thread of its own).
pub(crate) fn get(cfg: &Arc<Config>, req: &Parts) -> Reply {
    let raw = req.uri.path();
    let found = segments(raw, cfg.hidden).and_then(|segs| resolve(cfg, &segs));
    let (path, md) = match found {
        Ok(found) => found,
        Err(ServeError::NotFound) if cfg.spa && navigation(req) => return spa_index(cfg, req),
        Err(e) => return Err(e),
    };
    if md.is_dir() {
        if !raw.ends_with('/') {
            // One leading slash only: `//host/dir` must not become a redirect to another host.
            let mut location = format!("/{}/", raw.trim_start_matches('/'));
            if let Some(q) = req.uri.query() {
                location.push('?');
                location.push_str(q);
            }
            return Ok(redirect(StatusCode::MOVED_PERMANENTLY, &location));
        }
        if let Some(kind) = archive::asked(req.uri.query()) {
            if !cfg.listing {
                return Err(ServeError::Forbidden(
                    "folder listings are off (--no-listing), and folder archives with them",
                ));
            }
            if !cfg.archives {
                return Err(ServeError::Forbidden(
                    "folder archives are off (--no-archives)",
                ));
            }
            return archive::respond(cfg, req, &path, kind?);
        }
        match resolve::entry(cfg, &path, INDEX.as_ref()) {
            Ok((index, imd)) if imd.is_file() => return file(cfg, req, &index, &imd),
            Err(ServeError::ForbiddenPath) => return Err(ServeError::ForbiddenPath),
            _ => {}
        }
        if !cfg.listing {
            return Err(ServeError::Forbidden(
                "folder listings are off (--no-listing)",
            ));
        }
        return listing::respond(cfg, req, &path);
    }
    if !md.is_file() {
        return Err(ServeError::NotFound);
    }
    file(cfg, req, &path, &md)
}

/// Whether a request that found nothing is a browser navigation, which --spa
/// answers with index.html: its last segment has no file extension, or it
/// asks for HTML. A missing asset (`/assets/x.js`) stays 404.
fn navigation(req: &Parts) -> bool {
    let last = req.uri.path().rsplit('/').next().unwrap_or("");
    let no_extension = !last.contains('.');
    let wants_html = req
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("text/html")));
    no_extension || wants_html
}

fn spa_index(cfg: &Config, req: &Parts) -> Reply {
    match resolve::entry(cfg, &cfg.base, INDEX.as_ref()) {
        Ok((index, md)) if md.is_file() => file(cfg, req, &index, &md),
        Ok(_) => Err(ServeError::NotFound),
        Err(e) => Err(e),
    }
}

/// Open a file about to be sent.
fn open(path: &Path) -> Result<File, ServeError> {
    File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            ServeError::Forbidden("the server may not read this file")
        }
        _ => ServeError::NotFound,
    })
}

/// A file: 304, 412, 206 (one range or multipart/byteranges), 416, compressed or plain 200.
pub(crate) fn file(cfg: &Config, req: &Parts, path: &Path, md: &Metadata) -> Reply {
    let len = md.len();
    let info = cfg.cache.get(path, md);
    let validators = &info.validators;
    let head = req.method == Method::HEAD;
    let range = req
        .headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| {
            conditional::range_applies(
                &req.headers,
                validators.current(false),
                validators.last_modified.as_ref().map(HeaderValue::as_bytes),
            )
        })
        .map(|r| ranges::parse(r, len));
    // The representation is chosen first: a 304 stands for it (its ETag, its Vary).
    let choice = if range.is_none() && cfg.compress {
        compress::choose(cfg, &req.headers, path, info.compressible, len)
    } else {
        None
    };

    let mut resp = Response::new(Body::Empty);
    let h = resp.headers_mut();
    // Room for every field of a file answer and the server's Date: growing the
    // map on the seventh cost ~2,000 instructions a request (h2c, callgrind 2026-12-02).
    h.reserve(12);
    h.insert(header::ETAG, validators.etag.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(lm) = &validators.last_modified {
        h.insert(header::LAST_MODIFIED, lm.clone());
    }
    if let Some(cc) = &cfg.cache_control {
        h.insert(header::CACHE_CONTROL, cc.clone());
    }
    if choice.is_some() {
        // The encoded bytes differ from the file's: the validator becomes weak, as nginx does.
        if let Ok(v) = HeaderValue::from_bytes(&[b"W/", validators.etag.as_bytes()].concat()) {
            h.insert(header::ETAG, v);
        }
    }
    if choice.is_some() || (range.is_none() && cfg.compress && info.compressible) {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    match conditional::evaluate(
        &req.headers,
        Some(validators.current(choice.is_some())),
        true,
    ) {
        conditional::Verdict::Proceed => {}
        conditional::Verdict::NotModified => {
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            return Ok(resp);
        }
        conditional::Verdict::Failed => return Err(ServeError::PreconditionFailed),
    }

    if let Some(choice) = choice {
        match choice.open(path, head) {
            Some(c) => {
                compressed(&mut resp, &info, c);
                return Ok(resp);
            }
            // Gone since it was chosen: the file as it is, under its strong tag.
            None => {
                resp.headers_mut()
                    .insert(header::ETAG, validators.etag.clone());
            }
        }
    }
    resp.headers_mut()
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    match range {
        Some(Ranges::Unsatisfiable) => Err(ServeError::RangeNotSatisfiable { len }),
        Some(Ranges::Some(list)) if list.len() == 1 => {
            let (first, last) = list[0];
            let n = last - first + 1;
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, info.ctype.clone());
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{len}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
            if !head {
                *resp.body_mut() = match &info.data {
                    Some(data) => Body::bytes(data.slice(first as usize..=last as usize)),
                    None => Body::File(FileBody::new(
                        open(path)?,
                        vec![Segment::File {
                            offset: first,
                            len: n,
                        }],
                    )),
                };
            }
            Ok(resp)
        }
        Some(Ranges::Some(list)) => {
            multipart(&mut resp, &info, &list, len, (!head).then_some(path))?;
            Ok(resp)
        }
        _ => {
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, info.ctype.clone());
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            if !head {
                *resp.body_mut() = match &info.data {
                    Some(data) => Body::bytes(data.clone()),
                    None => Body::File(FileBody::whole(open(path)?, len)),
                };
            }
            Ok(resp)
        }
    }
}

/// Make `resp` the compressed representation `c` of the file.
fn compressed(resp: &mut Response<Body>, info: &FileInfo, c: compress::Compressed) {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, info.ctype.clone());
    h.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(c.encoding),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(n) = c.len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    *resp.body_mut() = c.body;
}

/// Make `resp` a 206 multipart/byteranges of `list`; the body is read from
/// `path` unless that is `None` (HEAD).
fn multipart(
    resp: &mut Response<Body>,
    info: &FileInfo,
    list: &[(u64, u64)],
    len: u64,
    path: Option<&Path>,
) -> Result<(), ServeError> {
    let boundary = format!("{:016x}", fastrand::u64(..));
    let (segments, total) = ranges::multipart(
        list,
        len,
        info.ctype.to_str().unwrap_or("application/octet-stream"),
        &boundary,
    );
    *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}")) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    if let Some(path) = path {
        *resp.body_mut() = Body::File(FileBody::new(open(path)?, segments));
    }
    Ok(())
}
