//! `--upload`: PUT a file to its path, or POST multipart/form-data (the listing
//! page's form) to a folder. Bodies go to a temporary file beside the target and
//! are renamed into place only when complete; nothing is overwritten without
//! --overwrite, and nothing beyond --max-body is kept.

// The `Err` of a few helpers is the response to send: the rare path, moved once.
#![allow(clippy::result_large_err)]

use crate::http::server::body::Body;
use crate::http::server::files::{self, Deny};
use crate::http::server::{Config, error_page};
use bytes::Bytes;
use futures_util::TryStreamExt;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, BodyStream};
use hyper::body::Incoming;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Deletes the temporary file unless the upload completed (also when the
/// client goes away and the request future is dropped).
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

enum Failure {
    TooLarge,
    Io(io::Error),
    Client(String),
}

impl Failure {
    fn response(self, cfg: &Config) -> Response<Body> {
        match self {
            Failure::TooLarge => error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the body is over the limit of {} bytes (--max-body)",
                    cfg.max_body
                ),
            ),
            Failure::Io(e) => error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot save the upload: {e}"),
            ),
            Failure::Client(msg) => error_page(StatusCode::BAD_REQUEST, &msg),
        }
    }
}

fn too_large_by_header(cfg: &Config, req: &Parts) -> bool {
    req.headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > cfg.max_body)
}

/// Where the upload may go, or why not.
fn target(cfg: &Config, dir: &Path, name: &OsStr) -> Result<PathBuf, Response<Body>> {
    let path = dir.join(name);
    match std::fs::symlink_metadata(&path) {
        Ok(md) if md.is_dir() => Err(error_page(
            StatusCode::CONFLICT,
            "a folder of that name exists",
        )),
        Ok(md) if md.file_type().is_symlink() => Err(error_page(
            StatusCode::CONFLICT,
            "a symlink of that name exists",
        )),
        Ok(_) if !cfg.overwrite => Err(error_page(
            StatusCode::CONFLICT,
            "a file of that name exists; start the server with --overwrite to allow replacing it",
        )),
        _ => Ok(path),
    }
}

/// Put `tmp` in place at `dest`: without --overwrite by hard link (which fails
/// if `dest` appeared meanwhile) so a file is never replaced.
fn finish(tmp: &mut TempFile, dest: &Path, overwrite: bool) -> Result<(), Response<Body>> {
    let result = if overwrite {
        std::fs::rename(&tmp.path, dest)
    } else {
        match std::fs::hard_link(&tmp.path, dest) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(error_page(
                    StatusCode::CONFLICT,
                    "a file of that name exists",
                ));
            }
            // File systems without hard links: check, then rename.
            Err(_) if !dest.exists() => std::fs::rename(&tmp.path, dest),
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(()) => {
            if overwrite {
                tmp.keep = true; // renamed away: nothing left to remove
            }
            Ok(())
        }
        Err(e) => Err(error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot save the upload: {e}"),
        )),
    }
}

fn temp_path(dir: &Path, name: &OsStr) -> PathBuf {
    let mut t = std::ffi::OsString::from(".");
    t.push(name);
    t.push(format!(".{:016x}.part", fastrand::u64(..)));
    dir.join(t)
}

/// Stream chunks into a new temporary file; `total` counts across a request.
async fn write_chunks<S, E>(
    tmp: &Path,
    mut chunks: S,
    total: &mut u64,
    max: u64,
) -> Result<u64, Failure>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .await
        .map_err(Failure::Io)?;
    let mut n = 0u64;
    while let Some(chunk) = chunks
        .try_next()
        .await
        .map_err(|e| Failure::Client(format!("reading the body failed: {e}")))?
    {
        n += chunk.len() as u64;
        *total += chunk.len() as u64;
        if *total > max {
            return Err(Failure::TooLarge);
        }
        file.write_all(&chunk).await.map_err(Failure::Io)?;
    }
    file.flush().await.map_err(Failure::Io)?;
    Ok(n)
}

fn created(url: &str, bytes: u64, replaced: bool) -> Response<Body> {
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut r = Response::new(Body::text(format!("saved {bytes} bytes to {url}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(url) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// PUT /path/name: the body becomes DIR/path/name.
pub async fn put(cfg: &Config, req: &Parts, body: Incoming) -> Response<Body> {
    let segs = match files::segments(req.uri.path(), cfg.hidden) {
        Ok(s) => s,
        Err(d) => return d.response(),
    };
    let Some((name, parent)) = segs.split_last() else {
        return error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            "PUT needs a file name in the path",
        );
    };
    if req.uri.path().ends_with('/') {
        return error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            "PUT needs a file name, not a folder",
        );
    }
    let dir = match files::resolve(cfg, parent) {
        Ok((p, md)) if md.is_dir() => p,
        Ok(_) => return Deny::NotFound.response(),
        Err(d) => return d.response(),
    };
    if too_large_by_header(cfg, req) {
        return Failure::TooLarge.response(cfg);
    }
    let dest = match target(cfg, &dir, name) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let replaced = dest.exists();
    let mut tmp = TempFile {
        path: temp_path(&dir, name),
        keep: false,
    };
    let chunks = BodyStream::new(body).try_filter_map(|f| async move { Ok(f.into_data().ok()) });
    let mut total = 0;
    let n = match write_chunks(&tmp.path, Box::pin(chunks), &mut total, cfg.max_body).await {
        Ok(n) => n,
        Err(f) => return f.response(cfg),
    };
    if let Err(r) = finish(&mut tmp, &dest, cfg.overwrite) {
        return r;
    }
    created(req.uri.path(), n, replaced)
}

/// POST multipart/form-data to a folder: every file field is saved there.
pub async fn post(cfg: &Config, req: &Parts, body: Incoming) -> Response<Body> {
    let segs = match files::segments(req.uri.path(), cfg.hidden) {
        Ok(s) => s,
        Err(d) => return d.response(),
    };
    let dir = match files::resolve(cfg, &segs) {
        Ok((p, md)) if md.is_dir() => p,
        Ok(_) => {
            return error_page(
                StatusCode::METHOD_NOT_ALLOWED,
                "POST uploads go to a folder",
            );
        }
        Err(d) => return d.response(),
    };
    let boundary = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let Some(boundary) = boundary else {
        return error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST uploads must be multipart/form-data (curl -F file=@name)",
        );
    };
    if too_large_by_header(cfg, req) {
        return Failure::TooLarge.response(cfg);
    }
    let stream = body.into_data_stream();
    let mut form = multer::Multipart::new(stream, boundary);
    let mut total = 0u64;
    let mut saved = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Failure::Client(format!("bad multipart body: {e}")).response(cfg),
        };
        let Some(raw_name) = field.file_name().map(str::to_string) else {
            continue; // a plain form field
        };
        // A browser's file name, reduced to a safe single name; dot files only with --hidden.
        let rules = crate::disk::FileNameRules {
            last_component: true,
            portable: false,
            control: crate::disk::ControlChars::RefuseNul,
            leading_dots: if cfg.hidden {
                crate::disk::LeadingDots::Keep
            } else {
                crate::disk::LeadingDots::Refuse
            },
            max_chars: None,
        };
        let Some(name) = crate::disk::safe_file_name(&raw_name, &rules) else {
            return Failure::Client(format!("'{raw_name}' is not an allowed file name"))
                .response(cfg);
        };
        let name = OsStr::from_bytes(name.as_bytes()).to_owned();
        let dest = match target(cfg, &dir, &name) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let mut tmp = TempFile {
            path: temp_path(&dir, &name),
            keep: false,
        };
        let n = match write_chunks(&tmp.path, Box::pin(field), &mut total, cfg.max_body).await {
            Ok(n) => n,
            Err(f) => return f.response(cfg),
        };
        if let Err(r) = finish(&mut tmp, &dest, cfg.overwrite) {
            return r;
        }
        saved.push((name.to_string_lossy().into_owned(), n));
    }
    if saved.is_empty() {
        return Failure::Client("the form had no file".into()).response(cfg);
    }
    let browser = req
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if browser {
        return files::redirect(StatusCode::SEE_OTHER, req.uri.path());
    }
    let mut text = String::new();
    for (name, n) in &saved {
        text.push_str(&format!("saved {n} bytes to {}{}\n", req.uri.path(), name));
    }
    let mut r = Response::new(Body::text(text));
    *r.status_mut() = StatusCode::CREATED;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
