//! Compression negotiated by Accept-Encoding: precompressed siblings
//! (`x.js.br`, `x.js.zst`, `x.js.gz`) when present, else gzip, br or zstd on the fly
//! for compressible types.

use crate::http::server::body::{Body, FileBody};
use crate::http::server::files::resolve::link_inside;
use async_compression::Level;
use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZstdEncoder};
use bytes::Bytes;
use futures_util::TryStreamExt;
use http::header::{self, HeaderMap};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, BufReader};
use tokio_util::io::ReaderStream;

/// Files smaller than this are not worth compressing on the fly.
const MIN_LEN: u64 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// A content coding that `serve` speaks, best first.
pub(crate) enum Encoding {
    /// Brotli.
    Br,
    /// Zstandard.
    Zstd,
    /// gzip.
    Gzip,
}

impl Encoding {
    /// Its name in Accept-Encoding and Content-Encoding.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Encoding::Br => "br",
            Encoding::Zstd => "zstd",
            Encoding::Gzip => "gzip",
        }
    }
    fn suffix(self) -> &'static str {
        match self {
            Encoding::Br => "br",
            Encoding::Zstd => "zst",
            Encoding::Gzip => "gz",
        }
    }
}

/// The encodings the client accepts, best first (by q, then br > zstd > gzip).
pub(crate) fn accepted(headers: &HeaderMap) -> Vec<Encoding> {
    let mut out: Vec<(Encoding, u32)> = Vec::new();
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let q = (q.clamp(0.0, 1.0) * 1000.0) as u32;
            let enc = match name.as_str() {
                "br" => Encoding::Br,
                "zstd" => Encoding::Zstd,
                "gzip" | "x-gzip" => Encoding::Gzip,
                _ => continue,
            };
            if q > 0 {
                out.push((enc, q));
            }
        }
    }
    out.sort_by_key(|&(e, q)| (std::cmp::Reverse(q), e as u8));
    out.into_iter().map(|(e, _)| e).collect()
}

/// A compressed representation of a file.
pub(crate) struct Compressed {
    /// The Content-Encoding value.
    pub(crate) encoding: &'static str,
    /// The encoded bytes (nothing for HEAD).
    pub(crate) body: Body,
    /// Known for precompressed siblings; unknown (chunked) on the fly.
    pub(crate) len: Option<u64>,
}

fn sibling(path: &Path, enc: Encoding) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(enc.suffix());
    PathBuf::from(s)
}

/// A precompressed sibling may be a symlink; without --follow-symlinks (`root`
/// given) it must resolve inside the root, like any served path.
fn sibling_allowed(sib: &Path, root: Option<&Path>) -> bool {
    match (root, std::fs::symlink_metadata(sib)) {
        (_, Err(_)) => false,
        (Some(root), Ok(md)) if md.file_type().is_symlink() => link_inside(sib, root),
        _ => true,
    }
}

/// Choose a compressed representation of `path`, if the client accepts one that
/// we can give. `root`: the served folder, when symlinks must stay inside it.
pub(crate) fn for_file(
    headers: &HeaderMap,
    path: &Path,
    root: Option<&Path>,
    compressible: bool,
    len: u64,
    head: bool,
) -> Option<Compressed> {
    let accepted = accepted(headers);
    if accepted.is_empty() {
        return None;
    }
    for &enc in &accepted {
        let sib = sibling(path, enc);
        if sibling_allowed(&sib, root)
            && let Ok(md) = std::fs::metadata(&sib)
            && md.is_file()
        {
            let body = if head {
                Body::Empty
            } else {
                let file = std::fs::File::open(&sib).ok()?;
                Body::File(FileBody::whole(file, md.len()))
            };
            return Some(Compressed {
                encoding: enc.name(),
                body,
                len: Some(md.len()),
            });
        }
    }
    if !compressible || len < MIN_LEN {
        return None;
    }
    let enc = accepted[0];
    let body = if head {
        Body::Empty
    } else {
        let file = std::fs::File::open(path).ok()?;
        let reader = BufReader::with_capacity(64 * 1024, tokio::fs::File::from_std(file));
        encode(enc, reader)
    };
    Some(Compressed {
        encoding: enc.name(),
        body,
        len: None,
    })
}

/// A streaming body of `reader`'s bytes compressed with `enc`.
pub(crate) fn encode<R: tokio::io::AsyncBufRead + Send + Unpin + 'static>(
    enc: Encoding,
    reader: R,
) -> Body {
    let r: Box<dyn AsyncRead + Send + Unpin> = match enc {
        Encoding::Gzip => Box::new(GzipEncoder::with_quality(reader, Level::Default)),
        // Quality 4 keeps brotli near gzip's speed; 11 (the default) is for build steps.
        Encoding::Br => Box::new(BrotliEncoder::with_quality(reader, Level::Precise(4))),
        Encoding::Zstd => Box::new(ZstdEncoder::with_quality(reader, Level::Default)),
    };
    let stream = ReaderStream::with_capacity(r, 64 * 1024).map_ok(Frame::data);
    Body::Stream(StreamBody::new(stream).boxed_unsync())
}

/// Compress bytes in memory (for small generated bodies such as httpbin's /gzip).
pub(crate) fn encode_bytes(enc: Encoding, data: Bytes) -> Body {
    encode(enc, std::io::Cursor::new(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn negotiation() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br, zstd"),
        );
        assert_eq!(
            accepted(&h),
            vec![Encoding::Br, Encoding::Zstd, Encoding::Gzip]
        );
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br;q=0.5, gzip"),
        );
        assert_eq!(accepted(&h), vec![Encoding::Gzip, Encoding::Br]);
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity, gzip;q=0"),
        );
        assert!(accepted(&h).is_empty());
    }
}
