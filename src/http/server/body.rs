//! Response bodies of `wirekit serve`: nothing, bytes in memory, file segments
//! read in large chunks, or any boxed stream (compression); and the wrapper that
//! writes the access-log line once the body is done.

use crate::http::server::access_log::Entry;
use crate::http::server::conn::Fields;
use crate::http::server::conn::activity::Activity;
use crate::http::server::conn::splice::{self, Splice, Splices, shrank};
use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Bytes read from a file per frame: 512 KiB, for fewer syscalls per byte (server CPU
/// per 1 MiB response measured 11% below 256 KiB's; 128 KiB was slower).
pub(crate) const CHUNK: usize = 512 * 1024;

/// Bytes read per frame of an HTTP/2 response: h2 sends the 16 KiB DATA frames
/// of all streams in turn while hyper keeps each stream's chunks queued, so
/// small chunks hold less per stream. With 16 KiB (and `conn::H2_SEND_BUF`),
/// 64 connections × 10 streams of 1 MiB (h2load) held 69 MiB instead of 580
/// MiB, and the server's CPU per MB fell from 650 to 564 µs over h2c (758 to
/// 709 over TLS), 2026-12-02.
pub(crate) const H2_CHUNK: usize = 16 * 1024;

/// HTTP/2 chunks are cut from blocks of this size: 16 KiB is a "large" size
/// for jemalloc, whose extent bookkeeping for one such allocation per chunk
/// cost ~50,000 instructions per MiB sent (h2c, callgrind 2026-12-02).
const H2_BLOCK: usize = 4 * H2_CHUNK;

/// A response body of `serve`: one enum, so the hot path neither boxes nor
/// dispatches dynamically (only compression streams are boxed).
pub(crate) enum Body {
    /// No bytes (HEAD, 204, 304).
    Empty,
    /// Bytes in memory, taken on the first poll.
    Full(Option<Bytes>),
    /// Pieces of an open file.
    File(FileBody),
    /// Anything else, e.g. a compressor's output.
    Stream(UnsyncBoxBody<Bytes, io::Error>),
}

impl Body {
    /// A body of text.
    pub(crate) fn text(s: impl Into<String>) -> Body {
        Body::Full(Some(Bytes::from(s.into())))
    }
    /// A body of bytes already in memory.
    pub(crate) fn bytes(b: impl Into<Bytes>) -> Body {
        Body::Full(Some(b.into()))
    }
    /// Read files in the smaller chunks that suit an HTTP/2 stream.
    pub(crate) fn for_h2(&mut self) {
        if let Body::File(f) = self {
            f.chunk = H2_CHUNK;
        }
    }
}

/// One piece of a file response: literal bytes (multipart headers) or a byte range of the file.
pub(crate) enum Segment {
    /// Literal bytes.
    Bytes(Bytes),
    /// `len` bytes of the file from `offset`.
    File {
        /// Where the piece starts in the file.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
}

/// Segments of one open file, read with `pread` on the runtime thread.
///
/// Reads go straight into the spare capacity of one `BytesMut`; once hyper has
/// written and dropped a chunk, `reserve` reclaims the same allocation. Reads are
/// done inline rather than through `spawn_blocking`: a page-cache read of at most
/// 512 KiB takes microseconds, while a hand-off to the blocking pool and back costs
/// two thread wake-ups per chunk (the benchmark pins the server to one CPU).
pub(crate) struct FileBody {
    file: Arc<File>,
    segments: VecDeque<Segment>,
    remaining: u64,
    buf: BytesMut,
    /// Bytes read at a time: [`CHUNK`], or [`H2_CHUNK`] for HTTP/2 ([`Body::for_h2`]).
    chunk: usize,
}

impl FileBody {
    /// `segments` of `file`, in order.
    pub(crate) fn new(file: File, segments: Vec<Segment>) -> FileBody {
        let remaining = segments
            .iter()
            .map(|s| match s {
                Segment::Bytes(b) => b.len() as u64,
                Segment::File { len, .. } => *len,
            })
            .sum();
        FileBody {
            file: Arc::new(file),
            segments: segments.into(),
            remaining,
            buf: BytesMut::new(),
            chunk: CHUNK,
        }
    }

    /// The whole of a file of `len` bytes.
    pub(crate) fn whole(file: File, len: u64) -> FileBody {
        FileBody::new(file, vec![Segment::File { offset: 0, len }])
    }

    /// The next piece; with `splices` (plain HTTP/1.1), large pieces become
    /// placeholders that the connection sends by `sendfile`.
    fn next_chunk(&mut self, splices: Option<&Splices>) -> Option<io::Result<Bytes>> {
        loop {
            match (self.segments.front_mut()?, splices) {
                (Segment::Bytes(_), _) => {
                    if let Some(Segment::Bytes(b)) = self.segments.pop_front() {
                        self.remaining -= b.len() as u64;
                        return Some(Ok(b));
                    }
                }
                (Segment::File { len: 0, .. }, _) => {
                    self.segments.pop_front();
                }
                (Segment::File { offset, len }, Some(splices)) if *len >= splice::MIN => {
                    let n = (*len).min(splice::MAX as u64) as usize;
                    splices.push(Splice {
                        file: self.file.clone(),
                        offset: *offset,
                        len: n,
                    });
                    *offset += n as u64;
                    *len -= n as u64;
                    self.remaining -= n as u64;
                    return Some(Ok(splice::placeholder(n)));
                }
                (Segment::File { offset, len }, _) => {
                    let want = (*len).min(self.chunk as u64) as usize;
                    let off = match crate::net::stream::off_t(*offset) {
                        Ok(off) => off,
                        Err(e) => return Some(Err(e)),
                    };
                    if self.chunk == H2_CHUNK && self.buf.capacity() < want {
                        self.buf.reserve(H2_BLOCK);
                    } else {
                        self.buf.reserve(want);
                    }
                    let spare = self.buf.spare_capacity_mut();
                    // SAFETY: pread writes at most `want` bytes into the spare capacity,
                    // which `reserve` made at least `want` long; we only mark as
                    // initialised the `got` bytes the kernel reports it wrote.
                    let got = unsafe {
                        libc::pread(self.file.as_raw_fd(), spare.as_mut_ptr().cast(), want, off)
                    };
                    if got < 0 {
                        let e = io::Error::last_os_error();
                        if e.kind() == io::ErrorKind::Interrupted {
                            continue;
                        }
                        return Some(Err(e));
                    }
                    if got == 0 {
                        return Some(Err(shrank()));
                    }
                    let got = got as usize;
                    unsafe { self.buf.set_len(self.buf.len() + got) };
                    *offset += got as u64;
                    *len -= got as u64;
                    self.remaining -= got as u64;
                    return Some(Ok(self.buf.split().freeze()));
                }
            }
        }
    }
}

impl Body {
    /// The next frame; with `splices`, large file pieces go out by `sendfile`.
    fn poll_next(
        &mut self,
        splices: Option<&Splices>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self {
            Body::Empty => Poll::Ready(None),
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::File(f) => Poll::Ready(f.next_chunk(splices).map(|r| r.map(Frame::data))),
            Body::Stream(s) => http_body::Body::poll_frame(Pin::new(s), cx),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.poll_next(None, cx)
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(b) => b.is_none(),
            Body::File(f) => f.remaining == 0,
            Body::Stream(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::File(f) => SizeHint::with_exact(f.remaining),
            Body::Stream(s) => s.size_hint(),
        }
    }
}

/// A response body that counts what was sent and writes the access-log line
/// when it is dropped (after the last byte, or when the client went away).
pub(crate) struct Logged {
    /// The response's own body.
    pub(crate) inner: Body,
    /// Bytes handed to hyper so far, for the log line.
    pub(crate) sent: u64,
    /// The access-log line to write at the end, when the log is on.
    pub(crate) entry: Option<Box<Entry>>,
    /// Told when the response is done, so an idle connection can be parked.
    pub(crate) activity: Option<Arc<Activity>>,
    /// The response's header fields made once, when they were (a mock route's).
    pub(crate) fields: Option<Arc<Fields>>,
}

impl http_body::Body for Logged {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        let splices = this.activity.as_ref().and_then(|a| a.splices.as_ref());
        let polled = this.inner.poll_next(splices, cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.sent += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        if let Some(a) = self.activity.take() {
            a.end();
        }
        if let Some(entry) = self.entry.take() {
            entry.write(self.sent);
        }
    }
}

/// A request body: hyper's, or none at all for the requests that the
/// connection's own HTTP/1.1 fast path answers (`conn::fast`), which have none.
pub(crate) enum RequestBody {
    /// The body hyper reads from the connection.
    Hyper(hyper::body::Incoming),
    /// No body.
    Empty,
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            RequestBody::Hyper(b) => Pin::new(b).poll_frame(cx),
            RequestBody::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Hyper(b) => b.is_end_stream(),
            RequestBody::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Hyper(b) => b.size_hint(),
            RequestBody::Empty => SizeHint::with_exact(0),
        }
    }
}
