//! `--upload`: PUT a file to its path, or POST multipart/form-data (the listing
//! page's form) to a folder. Bodies go to a temporary file beside the target and
//! are renamed into place only when complete; nothing is overwritten without
//! --overwrite, and nothing beyond --max-body is kept.

use crate::http::server::body::Body;
use crate::http::server::body::RequestBody;
use crate::http::server::config::Config;
use crate::http::server::error::{Reply, ServeError};
use crate::http::server::files::conditional::{self, Verdict};
use crate::http::server::files::meta::Validators;
use crate::http::server::files::resolve::{self, resolve, segments};
use crate::http::server::response::redirect;
use bytes::Bytes;
use futures_util::TryStreamExt;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, BodyStream};
use std::ffi::OsStr;
use std::fs::Metadata;
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

/// The body is over `max_body`.
fn too_large(cfg: &Config) -> ServeError {
    ServeError::TooLarge {
        limit: Some(cfg.max_body),
    }
}

/// Saving failed on the server's side.
fn save_failed(source: io::Error) -> ServeError {
    ServeError::Io {
        what: "cannot save the upload",
        source,
    }
}

/// Refuse early a body whose announced length is over `max_body`.
fn check_length(cfg: &Config, req: &Parts) -> Result<(), ServeError> {
    let announced = req
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match announced {
        Some(n) if n > cfg.max_body => Err(too_large(cfg)),
        _ => Ok(()),
    }
}

/// Where the upload may go, or why not: the one resolver decides (a symlink
/// out of the root is 403), then what is there (a folder or a link: 409; a
/// file: 409 without --overwrite). The metadata of the file it would replace.
fn target(
    cfg: &Config,
    dir: &Path,
    name: &OsStr,
) -> Result<(PathBuf, Option<Metadata>), ServeError> {
    let (path, md) = resolve::target(cfg, dir, name)?;
    let link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
    match md {
        Some(md) if md.is_dir() => Err(ServeError::Conflict("a folder of that name exists")),
        Some(_) if link => Err(ServeError::Conflict("a symlink of that name exists")),
        Some(_) if !cfg.overwrite => Err(ServeError::Conflict(
            "a file of that name exists; start the server with --overwrite to allow replacing it",
        )),
        md => Ok((path, md)),
    }
}

/// Put `tmp` in place at `dest`: without --overwrite by hard link (which fails
/// if `dest` appeared meanwhile) so a file is never replaced.
fn finish(tmp: &mut TempFile, dest: &Path, overwrite: bool) -> Result<(), ServeError> {
    let result = if overwrite {
        std::fs::rename(&tmp.path, dest)
    } else {
        match std::fs::hard_link(&tmp.path, dest) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(ServeError::Conflict("a file of that name exists"));
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
        Err(e) => Err(save_failed(e)),
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
    cfg: &Config,
    tmp: &Path,
    mut chunks: S,
    total: &mut u64,
) -> Result<u64, ServeError>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .await
        .map_err(save_failed)?;
    let mut n = 0u64;
    while let Some(chunk) = chunks
        .try_next()
        .await
        .map_err(|e| ServeError::BadRequest(format!("reading the body failed: {e}").into()))?
    {
        n += chunk.len() as u64;
        *total += chunk.len() as u64;
        if *total > cfg.max_body {
            return Err(too_large(cfg));
        }
        file.write_all(&chunk).await.map_err(save_failed)?;
    }
    file.flush().await.map_err(save_failed)?;
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

/// A 405 for an upload to the wrong kind of path.
fn wrong_target(message: &'static str) -> ServeError {
    ServeError::MethodNotAllowed {
        message,
        allow: None,
    }
}

/// If-Match, If-None-Match (`*`) and If-Unmodified-Since guard a write: 412
/// when false for the file that is there (`existing`) or for its absence.
fn preconditions(req: &Parts, existing: Option<&Metadata>) -> Result<(), ServeError> {
    let validators = existing.map(Validators::of);
    let current = validators.as_ref().map(|v| v.current(false));
    match conditional::evaluate(&req.headers, current, false) {
        Verdict::Proceed => Ok(()),
        _ => Err(ServeError::PreconditionFailed),
    }
}

/// Whether the request has a precondition that a write must honour.
fn guarded(req: &Parts) -> bool {
    [
        header::IF_MATCH,
        header::IF_NONE_MATCH,
        header::IF_UNMODIFIED_SINCE,
    ]
    .iter()
    .any(|h| req.headers.contains_key(h))
}

/// PUT /path/name: the body becomes DIR/path/name.
pub(crate) async fn put(cfg: &Config, req: &Parts, body: RequestBody) -> Reply {
    let segs = segments(req.uri.path(), cfg.hidden)?;
    let Some((name, parent)) = segs.split_last() else {
        return Err(wrong_target("PUT needs a file name in the path"));
    };
    if req.uri.path().ends_with('/') {
        return Err(wrong_target("PUT needs a file name, not a folder"));
    }
    let dir = match resolve(cfg, parent)? {
        (p, md) if md.is_dir() => p,
        _ => return Err(ServeError::NotFound),
    };
    check_length(cfg, req)?;
    let (dest, existing) = target(cfg, &dir, name)?;
    preconditions(req, existing.as_ref())?;
    let replaced = existing.is_some();
    let mut tmp = TempFile {
        path: temp_path(&dir, name),
        keep: false,
    };
    let chunks = BodyStream::new(body).try_filter_map(|f| async move { Ok(f.into_data().ok()) });
    let mut total = 0;
    let n = write_chunks(cfg, &tmp.path, Box::pin(chunks), &mut total).await?;
    if guarded(req) {
        // The file may have changed while the body came in: ask again just before replacing it.
        let (_, now) = target(cfg, &dir, name)?;
        preconditions(req, now.as_ref())?;
    }
    finish(&mut tmp, &dest, cfg.overwrite)?;
    Ok(created(req.uri.path(), n, replaced))
}

/// POST multipart/form-data to a folder: every file field is saved there.
pub(crate) async fn post(cfg: &Config, req: &Parts, body: RequestBody) -> Reply {
    let segs = segments(req.uri.path(), cfg.hidden)?;
    let dir = match resolve(cfg, &segs)? {
        (p, md) if md.is_dir() => p,
        _ => return Err(wrong_target("POST uploads go to a folder")),
    };
    let boundary = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let Some(boundary) = boundary else {
        return Err(ServeError::UnsupportedMediaType(
            "POST uploads must be multipart/form-data (curl -F file=@name)",
        ));
    };
    check_length(cfg, req)?;
    let saved = save_fields(
        cfg,
        &dir,
        multer::Multipart::new(body.into_data_stream(), boundary),
    )
    .await?;
    let browser = req
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if browser {
        return Ok(redirect(StatusCode::SEE_OTHER, req.uri.path()));
    }
    let mut text = String::new();
    for (name, n) in &saved {
        if name.ends_with('/') {
            text.push_str(&format!("created the folder {}{name}\n", req.uri.path()));
        } else {
            text.push_str(&format!("saved {n} bytes to {}{name}\n", req.uri.path()));
        }
    }
    let mut r = Response::new(Body::text(text));
    *r.status_mut() = StatusCode::CREATED;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(r)
}

/// Save every file field of `form` in `dir`; the names and sizes saved (at least one).
async fn save_fields(
    cfg: &Config,
    dir: &Path,
    mut form: multer::Multipart<'_>,
) -> Result<Vec<(String, u64)>, ServeError> {
    let mut total = 0u64;
    let mut saved = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ServeError::BadRequest(format!("bad multipart body: {e}").into()))?
    {
        let Some(raw_name) = field.file_name().map(str::to_string) else {
            if field.name() == Some("mkdir") {
                let name = mkdir(cfg, dir, field).await?;
                saved.push((format!("{name}/"), 0));
            }
            continue; // another plain form field
        };
        let name = safe_name(cfg, &raw_name)?;
        let (dest, _) = target(cfg, dir, &name)?;
        let mut tmp = TempFile {
            path: temp_path(dir, &name),
            keep: false,
        };
        let n = write_chunks(cfg, &tmp.path, Box::pin(field), &mut total).await?;
        finish(&mut tmp, &dest, cfg.overwrite)?;
        saved.push((name.to_string_lossy().into_owned(), n));
    }
    if saved.is_empty() {
        return Err(ServeError::BadRequest(
            "the form had no file (and no mkdir field)".into(),
        ));
    }
    Ok(saved)
}

/// A name from a form (a browser's file name, a new folder's), reduced to a
/// safe single name; dot names only with --hidden.
fn safe_name(cfg: &Config, raw: &str) -> Result<std::ffi::OsString, ServeError> {
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
    match crate::disk::safe_file_name(raw, &rules) {
        Some(name) => Ok(OsStr::from_bytes(name.as_bytes()).to_owned()),
        None => Err(ServeError::BadRequest(
            format!("'{raw}' is not an allowed file name").into(),
        )),
    }
}

/// The `mkdir` field of the listing page's form (--mkdir): a new folder in `dir`,
/// through the one resolver; 409 if anything of that name is there. Its name.
async fn mkdir(
    cfg: &Config,
    dir: &Path,
    mut field: multer::Field<'_>,
) -> Result<String, ServeError> {
    /// A folder name longer than this is not a name.
    const MAX: usize = 1024;
    if !cfg.mkdir {
        return Err(ServeError::Forbidden(
            "creating folders is off; start the server with --upload --mkdir",
        ));
    }
    let mut raw = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| ServeError::BadRequest(format!("bad multipart body: {e}").into()))?
    {
        raw.extend_from_slice(&chunk);
        if raw.len() > MAX {
            return Err(ServeError::BadRequest("the folder name is too long".into()));
        }
    }
    let raw = String::from_utf8_lossy(&raw);
    let raw = raw.trim();
    // A name that a browser's file name would lose (a/b, ..) is refused, not changed.
    if raw.contains(['/', '\\']) || raw == "." || raw == ".." {
        return Err(ServeError::BadRequest(
            format!("'{raw}' is not an allowed folder name (one name, no slashes)").into(),
        ));
    }
    let name = safe_name(cfg, raw)?;
    match resolve::target(cfg, dir, &name)? {
        (_, Some(_)) => Err(ServeError::Conflict("a file or folder of that name exists")),
        (path, None) => match std::fs::create_dir(&path) {
            Ok(()) => Ok(name.to_string_lossy().into_owned()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(ServeError::Conflict("a file or folder of that name exists"))
            }
            Err(e) => Err(ServeError::Io {
                what: "cannot create the folder",
                source: e,
            }),
        },
    }
}
