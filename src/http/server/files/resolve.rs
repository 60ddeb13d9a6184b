//! The one path resolver: a URL path becomes a file or folder under the root,
//! and everything that would leave the root (or show what is hidden) is refused.
//! Every file `serve` touches (GET, uploads, listings, precompressed siblings)
//! goes through here.

use crate::http::server::config::Config;
use crate::http::server::error::ServeError;
use percent_encoding::percent_decode_str;
use std::ffi::{OsStr, OsString};
use std::fs::Metadata;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Split a raw URL path into decoded segments, refusing any that could climb out
/// of the root ([`ServeError::ForbiddenPath`]) or that names a dotfile while
/// they are hidden ([`ServeError::NotFound`]).
pub(crate) fn segments(raw: &str, hidden: bool) -> Result<Vec<OsString>, ServeError> {
    let mut out = Vec::new();
    for seg in raw.split('/') {
        if seg.is_empty() {
            continue;
        }
        // Decoding is the identity without a '%': copied at once, not byte by byte.
        let bytes: Vec<u8> = if seg.contains('%') {
            percent_decode_str(seg).collect()
        } else {
            seg.as_bytes().to_vec()
        };
        if bytes == b"." {
            continue;
        }
        if bytes == b".." || bytes.iter().any(|&b| b == b'/' || b == b'\\' || b == 0) {
            return Err(ServeError::ForbiddenPath);
        }
        if !hidden && bytes.first() == Some(&b'.') {
            return Err(ServeError::NotFound);
        }
        out.push(OsString::from_vec(bytes));
    }
    Ok(out)
}

/// The file or folder that `segs` names under the root, with its metadata.
/// Without `follow_symlinks`, a symlink anywhere on the way must resolve inside the root.
pub(crate) fn resolve(cfg: &Config, segs: &[OsString]) -> Result<(PathBuf, Metadata), ServeError> {
    // Room for the whole path at once: growing the root's clone segment by segment
    // reallocated on every request (h2c 1 KiB, callgrind: 31,820 → 31,231 a request).
    let room = cfg.base.as_os_str().len() + segs.iter().map(|s| s.len() + 1).sum::<usize>();
    let mut path = PathBuf::with_capacity(room);
    path.push(&cfg.base);
    if cfg.follow_symlinks {
        for s in segs {
            path.push(s);
        }
        return stat(path);
    }
    let mut last = None;
    for (i, s) in segs.iter().enumerate() {
        path.push(s);
        let md = std::fs::symlink_metadata(&path).map_err(|_| ServeError::NotFound)?;
        if md.file_type().is_symlink() {
            for rest in &segs[i + 1..] {
                path.push(rest);
            }
            return stat(real_inside(cfg, &path)?);
        }
        last = Some(md);
    }
    match last {
        Some(md) => Ok((path, md)),
        None => stat(path),
    }
}

/// The entry `name` of `dir`, a folder [`resolve`] already let through (a
/// folder's index.html, the --spa fallback, a precompressed sibling, a listing
/// entry, an upload target): the same rule as for a request path, so a symlink
/// out of the root is refused (403) unless --follow-symlinks. A name that could
/// climb (`..`, a slash, NUL) is refused too.
pub(crate) fn entry(
    cfg: &Config,
    dir: &Path,
    name: &OsStr,
) -> Result<(PathBuf, Metadata), ServeError> {
    let path = dir.join(checked_name(name)?);
    if !cfg.follow_symlinks {
        let md = std::fs::symlink_metadata(&path).map_err(|_| ServeError::NotFound)?;
        if md.file_type().is_symlink() {
            return inside(cfg, path);
        }
        return Ok((path, md));
    }
    stat(path)
}

/// Where a new file `name` in `dir` would be (an upload target): refused like
/// [`entry`] if something is there already that leads out of the root; `None`
/// for the metadata when nothing is there.
pub(crate) fn target(
    cfg: &Config,
    dir: &Path,
    name: &OsStr,
) -> Result<(PathBuf, Option<Metadata>), ServeError> {
    let path = dir.join(checked_name(name)?);
    match std::fs::symlink_metadata(&path) {
        Err(_) => Ok((path, None)),
        // A dangling link, or one out of the root, is not a place to write through.
        Ok(md) if md.file_type().is_symlink() && !cfg.follow_symlinks => {
            inside(cfg, path).map(|(p, md)| (p, Some(md)))
        }
        Ok(md) if md.file_type().is_symlink() => {
            let md = std::fs::metadata(&path).ok();
            Ok((path, md))
        }
        Ok(md) => Ok((path, Some(md))),
    }
}

/// A single path component: no `..`, `.`, slash or NUL.
fn checked_name(name: &OsStr) -> Result<&OsStr, ServeError> {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.iter().any(|&c| c == b'/' || c == 0) {
        return Err(ServeError::ForbiddenPath);
    }
    Ok(name)
}

/// The symlink `path` with its target's metadata, if the target is inside the
/// root (403 if not, 404 if it dangles). The name stays the link's (its
/// extension gives the content type).
fn inside(cfg: &Config, path: PathBuf) -> Result<(PathBuf, Metadata), ServeError> {
    let (_, md) = stat(real_inside(cfg, &path)?)?;
    Ok((path, md))
}

/// The real path of `path` (every symlink resolved), if it is inside the root:
/// the one containment check (403 outside, 404 when it dangles).
fn real_inside(cfg: &Config, path: &Path) -> Result<PathBuf, ServeError> {
    let real = std::fs::canonicalize(path).map_err(|_| ServeError::NotFound)?;
    if !real.starts_with(&cfg.root) {
        return Err(ServeError::ForbiddenPath);
    }
    Ok(real)
}

/// `path` with its metadata (symlinks followed), or 404.
fn stat(path: PathBuf) -> Result<(PathBuf, Metadata), ServeError> {
    std::fs::metadata(&path)
        .map(|m| (path, m))
        .map_err(|_| ServeError::NotFound)
}
