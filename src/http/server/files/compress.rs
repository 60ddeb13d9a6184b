//! Compression negotiated by Accept-Encoding: precompressed siblings
//! (`x.js.br`, `x.js.zst`, `x.js.gz`) when present, else gzip, br or zstd on the fly
//! for compressible types.

use crate::http::server::body::{Body, FileBody};
use crate::http::server::config::Config;
use crate::http::server::files::resolve;
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

/// The representation of a file that [`choose`] picked: a precompressed
/// sibling of known length, or the file compressed on the fly.
pub(crate) enum Choice {
    /// `x.js.br` and the like, as it is on disk.
    Sibling {
        /// Its coding.
        enc: Encoding,
        /// The sibling, as the resolver found it.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The file itself, compressed as it is sent.
    OnTheFly(Encoding),
}

/// Choose a compressed representation of `path` (of `len` bytes), if the
/// client accepts one that we can give; nothing is opened yet, so a 304 or 412
/// decided afterwards costs no more than the `statx` of the siblings.
/// Siblings are found through the one resolver ([`resolve::entry`]): a sibling
/// that is a symlink out of the root is never chosen.
pub(crate) fn choose(
    cfg: &Config,
    headers: &HeaderMap,
    path: &Path,
    compressible: bool,
    len: u64,
) -> Option<Choice> {
    let accepted = accepted(headers);
    if accepted.is_empty() {
        return None;
    }
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
        for &enc in &accepted {
            let mut sib = name.to_owned();
            sib.push(".");
            sib.push(enc.suffix());
            if let Ok((path, md)) = resolve::entry(cfg, dir, &sib)
                && md.is_file()
            {
                return Some(Choice::Sibling {
                    enc,
                    path,
                    len: md.len(),
                });
            }
        }
    }
    if !compressible || len < MIN_LEN {
        return None;
    }
    Some(Choice::OnTheFly(accepted[0]))
}

impl Choice {
    /// The coding chosen.
    pub(crate) fn encoding(&self) -> Encoding {
        match self {
            Choice::Sibling { enc, .. } | Choice::OnTheFly(enc) => *enc,
        }
    }

    /// The compressed representation of `file`, ready to send (nothing to
    /// read for HEAD); `None` if it cannot be opened.
    pub(crate) fn open(self, file: &Path, head: bool) -> Option<Compressed> {
        let encoding = self.encoding().name();
        match self {
            Choice::Sibling { path, len, .. } => Some(Compressed {
                encoding,
                body: if head {
                    Body::Empty
                } else {
                    Body::File(FileBody::whole(std::fs::File::open(path).ok()?, len))
                },
                len: Some(len),
            }),
            Choice::OnTheFly(enc) => Some(Compressed {
                encoding,
                body: if head {
                    Body::Empty
                } else {
                    let f = std::fs::File::open(file).ok()?;
                    let reader = BufReader::with_capacity(64 * 1024, tokio::fs::File::from_std(f));
                    encode(enc, reader)
                },
                len: None,
            }),
        }
    }
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
