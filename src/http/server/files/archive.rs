//! `?download=tar.gz` and `?download=zip`: a folder as one archive, made while it
//! is sent. A blocking thread walks the folder and writes the archive into a
//! bounded channel that the response body drains, so memory stays a few chunks
//! whatever the size, and nothing is written to disk. The archive holds exactly
//! what the listings show: each entry passes [`listing::visible`] (dotfiles only
//! with --hidden; a symlink only through the one resolver, so none out of the root).

use crate::http::server::body::Body;
use crate::http::server::config::Config;
use crate::http::server::error::{Reply, ServeError};
use crate::http::server::files::listing;
use bytes::Bytes;
use flate2::write::GzEncoder;
use futures_util::TryStreamExt;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, Response};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Bytes handed to the body at a time, and how many such chunks may wait: the
/// memory an archive in flight holds (besides the compressor's window).
const CHUNK: usize = 64 * 1024;
const QUEUED: usize = 4;

/// The archive formats offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A gzip-compressed tar (GNU long names).
    TarGz,
    /// A zip written as a stream (sizes and CRCs in data descriptors).
    Zip,
}

impl Kind {
    fn extension(self) -> &'static str {
        match self {
            Kind::TarGz => "tar.gz",
            Kind::Zip => "zip",
        }
    }
}

/// The archive `query` asks for with `download=`, if it asks for one.
pub(crate) fn asked(query: Option<&str>) -> Option<Result<Kind, ServeError>> {
    let value = query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("download="))?;
    Some(match value {
        "tar.gz" | "tgz" => Ok(Kind::TarGz),
        "zip" => Ok(Kind::Zip),
        _ => Err(ServeError::BadRequest(
            "?download= takes tar.gz or zip".into(),
        )),
    })
}

/// The archive of `dir` (the folder `req` names), streamed.
pub(crate) fn respond(cfg: &Arc<Config>, req: &Parts, dir: &Path, kind: Kind) -> Reply {
    let top =
        std::fs::metadata(dir).map_err(|_| ServeError::Forbidden("this folder cannot be read"))?;
    std::fs::read_dir(dir).map_err(|_| ServeError::Forbidden("this folder cannot be read"))?;
    let name = dir
        .file_name()
        .or_else(|| cfg.root.file_name())
        .map_or_else(|| "files".to_string(), |n| n.to_string_lossy().into_owned());
    let file_name = format!("{name}.{}", kind.extension());
    let mut resp = Response::new(Body::Empty);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(match kind {
            Kind::TarGz => "application/gzip",
            Kind::Zip => "application/zip",
        }),
    );
    // An ASCII fallback, and the exact name in RFC 8187 form.
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(&file_name, NON_ALPHANUMERIC)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if req.method == Method::HEAD {
        return Ok(resp);
    }
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(QUEUED);
    let cfg = cfg.clone();
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let out = Channel {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        if let Err(e) = write_archive(&cfg, &dir, Path::new(&name), &top, kind, out) {
            // The client went away, or a read failed: the body ends with an error
            // (the connection is cut), so a partial archive is never taken for whole.
            tracing::debug!("archive of {} stopped: {e}", dir.display());
            let _ = tx.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).map_ok(Frame::data);
    *resp.body_mut() = Body::Stream(StreamBody::new(stream).boxed_unsync());
    Ok(resp)
}

/// Write the archive of `dir` (named `top_name` inside it) to `out`, finished.
fn write_archive(
    cfg: &Config,
    dir: &Path,
    top_name: &Path,
    top: &Metadata,
    kind: Kind,
    out: Channel,
) -> io::Result<()> {
    // The folder and every folder above it up to the root: a link to one of them
    // (`up -> ..`) would put the tree inside itself, so it is not followed.
    let mut seen = vec![(top.dev(), top.ino())];
    if let Ok(real) = std::fs::canonicalize(dir) {
        for above in real.ancestors().skip(1) {
            if !above.starts_with(&cfg.root) {
                break;
            }
            if let Ok(md) = std::fs::metadata(above) {
                seen.push((md.dev(), md.ino()));
            }
        }
    }
    match kind {
        Kind::TarGz => {
            let mut sink = Tar(tar::Builder::new(GzEncoder::new(
                out,
                flate2::Compression::fast(),
            )));
            sink.dir(top_name, top)?;
            walk(cfg, dir, top_name, &mut sink, &mut seen)?;
            sink.0.into_inner()?.finish()?.flush()
        }
        Kind::Zip => {
            let mut sink = Zip(zip::ZipWriter::new_stream(out));
            sink.dir(top_name, top)?;
            walk(cfg, dir, top_name, &mut sink, &mut seen)?;
            sink.0.finish().map_err(io::Error::other)?.flush()
        }
    }
}

/// What an archive format does with a folder and with a file.
trait Sink {
    /// A folder entry at `rel`.
    fn dir(&mut self, rel: &Path, md: &Metadata) -> io::Result<()>;
    /// A file at `rel` whose bytes are `data` (exactly `md.len()` of them).
    fn file(&mut self, rel: &Path, md: &Metadata, data: &mut dyn Read) -> io::Result<()>;
}

/// Everything visible under `dir` into `sink`, by name; `seen` holds the
/// folders above, so a symlink back up the tree is not followed.
fn walk(
    cfg: &Config,
    dir: &Path,
    rel: &Path,
    sink: &mut dyn Sink,
    seen: &mut Vec<(u64, u64)>,
) -> io::Result<()> {
    // A folder that cannot be read is left empty, as its listing would be refused.
    let Ok(read) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut items: Vec<(OsString, Metadata)> = read
        .filter_map(Result::ok)
        .filter_map(|item| {
            let name = item.file_name();
            listing::visible(cfg, dir, &item, &name).map(|md| (name, md))
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, md) in items {
        let path = dir.join(&name);
        let rel: PathBuf = rel.join(&name);
        if md.is_dir() {
            let id = (md.dev(), md.ino());
            if seen.contains(&id) {
                continue;
            }
            sink.dir(&rel, &md)?;
            seen.push(id);
            walk(cfg, &path, &rel, sink, seen)?;
            seen.pop();
        } else {
            // Gone or unreadable since it was listed: left out.
            let Ok(file) = File::open(&path) else {
                continue;
            };
            // Exactly the announced length: a file that shrank meanwhile is padded, one that grew is cut.
            let len = md.len();
            let mut data = file.take(len).chain(io::repeat(0)).take(len);
            sink.file(&rel, &md, &mut data)?;
        }
    }
    Ok(())
}

struct Tar(tar::Builder<GzEncoder<Channel>>);

impl Tar {
    fn header(md: &Metadata, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(md.mtime().max(0) as u64);
        h
    }
}

impl Sink for Tar {
    fn dir(&mut self, rel: &Path, md: &Metadata) -> io::Result<()> {
        let mut h = Tar::header(md, tar::EntryType::Directory, 0o755, 0);
        self.0.append_data(&mut h, rel, io::empty())
    }
    fn file(&mut self, rel: &Path, md: &Metadata, data: &mut dyn Read) -> io::Result<()> {
        let mut h = Tar::header(md, tar::EntryType::Regular, 0o644, md.len());
        self.0.append_data(&mut h, rel, data)
    }
}

struct Zip(zip::ZipWriter<zip::write::StreamWriter<Channel>>);

impl Zip {
    fn options(md: &Metadata, mode: u32) -> zip::write::SimpleFileOptions {
        let time = md
            .modified()
            .ok()
            .and_then(listing::civil)
            .and_then(|(y, mo, d, h, mi, s)| {
                zip::DateTime::from_date_and_time(
                    y.clamp(1980, 2107) as u16,
                    mo as u8,
                    d as u8,
                    h as u8,
                    mi as u8,
                    s as u8,
                )
                .ok()
            })
            .unwrap_or_default();
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1))
            .last_modified_time(time)
            .unix_permissions(mode)
            .large_file(md.len() >= u64::from(u32::MAX))
    }
}

impl Sink for Zip {
    fn dir(&mut self, rel: &Path, md: &Metadata) -> io::Result<()> {
        self.0
            .add_directory(rel.to_string_lossy(), Zip::options(md, 0o755))
            .map_err(io::Error::other)
    }
    fn file(&mut self, rel: &Path, md: &Metadata, data: &mut dyn Read) -> io::Result<()> {
        self.0
            .start_file(rel.to_string_lossy(), Zip::options(md, 0o644))
            .map_err(io::Error::other)?;
        io::copy(data, &mut self.0)?;
        Ok(())
    }
}

/// A `Write` that hands the body chunks of [`CHUNK`] bytes, waiting while
/// [`QUEUED`] are unsent: the back-pressure that bounds an archive's memory.
struct Channel {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Channel {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for Channel {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_values() {
        assert_eq!(asked(None).map(Result::ok), None);
        assert_eq!(asked(Some("sort=size")).map(Result::ok), None);
        assert_eq!(
            asked(Some("download=zip")).map(Result::ok),
            Some(Some(Kind::Zip))
        );
        assert_eq!(
            asked(Some("a=1&download=tar.gz")).map(Result::ok),
            Some(Some(Kind::TarGz))
        );
        assert!(matches!(asked(Some("download=rar")), Some(Err(_))));
    }
}
