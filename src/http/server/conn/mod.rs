//! Driving one accepted connection: h2c (prior knowledge) or HTTP/1.1, graceful
//! shutdown, and parking of idle HTTP/1.1 keep-alive connections.
//!
//! hyper keeps an 8 KiB read buffer and an 8 KiB write buffer for the whole life
//! of an HTTP/1 connection (about 19 KB resident each). A keep-alive connection
//! that has been quiet for [`PARK_AFTER`] is therefore taken back from hyper
//! between requests (`graceful_shutdown` on an idle connection closes hyper's
//! side without touching the socket) and parked in the server's [`lot`]: only
//! the socket and its service remain, without a task, until the client speaks
//! again; then a fresh task and hyper connection pick up where the old one stopped. nginx frees its buffers on idle keep-alive
//! connections the same way; bench/serve.sh measures the effect.

pub(crate) mod activity;
mod batch;
mod fast;
pub(crate) use fast::Fields;
pub(crate) mod lot;
pub(crate) mod splice;
mod streams;

use crate::http::server::access_log::{self, Format};
use crate::http::server::body::{Logged, RequestBody};
use activity::{Activity, clock_ms};
use bytes::{Bytes, BytesMut};
use futures_util::future::Either;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioIo, TokioTimer};
use splice::Splices;
use std::convert::Infallible;
use std::future::{Future, Ready};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::sync::watch;

use crate::net::BoxStream;
use crate::net::listen::Hold;
use crate::net::stream::read_chunk;

/// A keep-alive connection quiet for this long is parked (hyper's buffers freed).
/// Short, so that few connections hold buffers at once: un-parking costs only a
/// new hyper connection object.
pub(crate) const PARK_AFTER: Duration = Duration::from_millis(250);
/// A connection without a request this long is closed, unless `--idle-timeout`
/// says otherwise (nginx: 75 s).
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(120);

/// A closed connection waits at most this long for the client's own close, and
/// at most [`LINGER_QUIET`] without hearing from it (nginx: 30 s and 5 s).
const LINGER_MAX: Duration = Duration::from_secs(30);
const LINGER_QUIET: Duration = Duration::from_secs(5);

/// Rounds of connection and stream polls in one poll of an HTTP/2 connection's task.
const STREAM_ROUNDS: usize = 4;

/// Concurrent streams an HTTP/2 client may open on one connection (nginx: 128).
const MAX_STREAMS: u32 = 100;

/// Bytes an HTTP/2 stream may have queued for sending (hyper: 400 KiB). A client
/// with large flow-control windows (h2load, browsers) lets every stream queue
/// that much: 64 connections × 10 streams of 1 MiB held ~240 MB. 128 KiB kept
/// the throughput of 400 KiB (h2load -c64 -m10, 1 MiB files; 64 KiB lost a
/// fifth of it over TLS).
const H2_SEND_BUF: usize = 128 * 1024;

/// At most this much of a refused request's first line goes into the log.
const MAX_LOGGED_LINE: usize = 1024;

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// When the heap was last trimmed ([`clock_ms`]).
static LAST_TRIM: AtomicU64 = AtomicU64::new(0);

/// Give freed heap pages back to the system, unless that was done less than a
/// second ago (by any server); whether it was done now.
///
/// Allocators keep the pages of freed buffers resident for a while; after many
/// connections have been parked (their hyper buffers freed), releasing them makes
/// the memory of idle connections really fall (measured in bench/serve.sh).
fn trim_heap() -> bool {
    let now = clock_ms();
    let last = LAST_TRIM.load(Ordering::Relaxed);
    if now.saturating_sub(last) < 1000
        || LAST_TRIM
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return false;
    }
    crate::net::heap::release_free_memory();
    true
}

/// A stream with bytes already read from it put back in front, and placeholder
/// bytes of file bodies replaced by `sendfile` (see [`crate::http::server::conn::splice`]).
pub(crate) struct Prefixed {
    prefix: Bytes,
    inner: BoxStream,
    /// The connection (HTTP/1.1): told when writes block; its splices, if any,
    /// say that file pieces go out by `sendfile`.
    activity: Option<Arc<Activity>>,
    /// The request head being read (HTTP/1.1), checked for bare LF line ends.
    head: Option<HeadScan>,
    /// A head had a bare LF (made a NUL, so hyper refuses it).
    bare_lf: bool,
    /// HTTP/2: the frames read, followed to see when a header block is open.
    frames: Option<FrameScan>,
}

/// Follows the frame headers of an HTTP/2 connection as they are read, to tell
/// the driver when a header block is open (HEADERS without END_HEADERS, and its
/// CONTINUATIONs not finished): hyper and h2 say nothing about a request until
/// its head is complete. Only the 9-byte frame headers are looked at; payloads
/// are skipped by length, so a 16 KiB DATA frame costs one header's parse.
struct FrameScan {
    activity: Arc<Activity>,
    /// Bytes still to skip: the rest of the preface, then of a frame's payload.
    skip: usize,
    /// The frame header being read, and how much of it has come.
    header: [u8; 9],
    have: usize,
}

impl FrameScan {
    fn new(activity: Arc<Activity>) -> FrameScan {
        FrameScan {
            activity,
            skip: H2_PREFACE.len(),
            header: [0; 9],
            have: 0,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        const HEADERS: u8 = 0x1;
        const CONTINUATION: u8 = 0x9;
        const END_HEADERS: u8 = 0x4;
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (9 - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have < 9 {
                return;
            }
            self.have = 0;
            let h = &self.header;
            self.skip = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
            if h[3] == HEADERS || h[3] == CONTINUATION {
                let open = h[4] & END_HEADERS == 0;
                // A block opens with HEADERS only; CONTINUATION can only end it.
                if h[3] == HEADERS || !open {
                    self.activity.h2_head(open);
                }
            }
        }
    }
}

/// A request head on its way, checked for line ends that are a bare LF.
///
/// hyper (httparse) takes a bare LF as a line end; RFC 9112 §2.2 lets a server
/// refuse it, and a front proxy that does not may see other requests in the same
/// bytes. A bare LF in a head is turned into a NUL before hyper sees it, so hyper
/// answers that head 400 and closes, as for any malformed head. Only the bytes
/// of a head are looked at, once, in the read that brings them (no second pass).
///
/// It also notes whether the head has both `Content-Length` and
/// `Transfer-Encoding` (hyper drops the first and reads the body as chunked):
/// such a request is refused with a 400 that says why (RFC 9112 §6.3 allows
/// it; nginx does the same), since a proxy in front may have framed it the
/// other way.
#[derive(Default)]
struct HeadScan {
    /// The byte before the bytes to scan next.
    prev: u8,
    /// Bytes on the current line so far.
    line: usize,
    /// A line with something on it has ended (so an empty line ends the head).
    seen_line: bool,
    /// The first bytes of the current line, enough to tell a length field.
    name: [u8; NAME_BYTES],
    /// How many of them have come; [`NOT_A_LENGTH`] once the line cannot be one.
    name_len: u8,
    /// Content-Length (bit 0) and Transfer-Encoding (bit 1) seen.
    lengths: u8,
}

/// The two fields that frame a request body, as they start a head's line.
const CONTENT_LENGTH: &[u8] = b"content-length:";
const TRANSFER_ENCODING: &[u8] = b"transfer-encoding:";
const NAME_BYTES: usize = TRANSFER_ENCODING.len();
const NOT_A_LENGTH: u8 = u8::MAX;

impl HeadScan {
    /// Look at the next bytes of the head; how it ended, once it has (the rest
    /// is body or a later request).
    fn feed(&mut self, bytes: &mut [u8]) -> Option<HeadEnd> {
        // memchr jumps from line end to line end; a loop over every byte cost
        // ~900 instructions per small request (callgrind, 2026-12-02).
        let mut start = 0;
        while let Some(off) = memchr::memchr(b'\n', &bytes[start..]) {
            let at = start + off;
            let prev = if at > 0 { bytes[at - 1] } else { self.prev };
            self.line += off;
            if prev != b'\r' {
                bytes[at] = 0;
                return Some(HeadEnd::BareLf);
            }
            if self.line == 1 && self.seen_line {
                return Some(HeadEnd::Blank);
            }
            self.name_part(&bytes[start..at]);
            self.end_line();
            self.seen_line |= self.line > 1;
            self.line = 0;
            start = at + 1;
        }
        self.name_part(&bytes[start..]);
        self.line += bytes.len() - start;
        if let Some(&last) = bytes.last() {
            self.prev = last;
        }
        None
    }

    /// Keep the first bytes of the current line, if it may be a length field
    /// (most lines are ruled out by their first byte).
    fn name_part(&mut self, part: &[u8]) {
        let have = usize::from(self.name_len);
        if have >= NAME_BYTES || part.is_empty() {
            return;
        }
        if have == 0 && !matches!(part[0] | 0x20, b'c' | b't') {
            self.name_len = NOT_A_LENGTH;
            return;
        }
        let n = (NAME_BYTES - have).min(part.len());
        self.name[have..have + n].copy_from_slice(&part[..n]);
        self.name_len += n as u8;
    }

    /// A line has ended: note it if it was a length field.
    fn end_line(&mut self) {
        if self.name_len != NOT_A_LENGTH {
            let name = &self.name[..usize::from(self.name_len)];
            let is = |field: &[u8]| {
                name.len() >= field.len() && name[..field.len()].eq_ignore_ascii_case(field)
            };
            if is(CONTENT_LENGTH) {
                self.lengths |= 1;
            } else if is(TRANSFER_ENCODING) {
                self.lengths |= 2;
            }
        }
        self.name_len = 0;
    }

    /// Whether the head had both Content-Length and Transfer-Encoding.
    fn both_lengths(&self) -> bool {
        self.lengths == 3
    }
}

/// How a request head ended, as far as [`HeadScan`] is concerned.
#[derive(PartialEq, Eq)]
enum HeadEnd {
    /// At its empty line.
    Blank,
    /// At a bare LF, turned into a NUL.
    BareLf,
}

impl Prefixed {
    fn write(&mut self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        poll_write(&mut self.inner, self.activity.as_deref(), cx, bufs)
    }
}

/// Write `bufs` to a connection's stream: file pieces by `sendfile` when it has
/// splices, and its [`Activity`] told whether the write blocked.
fn poll_write(
    inner: &mut BoxStream,
    activity: Option<&Activity>,
    cx: &mut Context<'_>,
    bufs: &[io::IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    let Some(activity) = activity else {
        return Pin::new(inner).poll_write_vectored(cx, bufs);
    };
    let polled = match &activity.splices {
        Some(splices) => splice::poll_write(inner, splices, cx, bufs),
        None => Pin::new(inner).poll_write_vectored(cx, bufs),
    };
    activity
        .write_blocked
        .store(polled.is_pending(), Ordering::Relaxed);
    polled
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = if self.prefix.is_empty() {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        } else {
            let n = self.prefix.len().min(buf.remaining());
            let head = self.prefix.split_to(n);
            buf.put_slice(&head);
            Poll::Ready(Ok(()))
        };
        let this = &mut *self;
        if let Some(f) = &mut this.frames {
            f.feed(&buf.filled()[before..]);
        }
        if let Some(a) = &this.activity
            && buf.filled().len() > before
        {
            if a.saw_bytes() {
                this.head = Some(HeadScan::default());
            }
            if let Some(scan) = &mut this.head
                && let Some(end) = scan.feed(&mut buf.filled_mut()[before..])
            {
                this.bare_lf |= end == HeadEnd::BareLf;
                if scan.both_lengths() {
                    a.both_lengths.store(true, Ordering::Relaxed);
                }
                this.head = None;
            }
        }
        polled
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write(cx, &[io::IoSlice::new(buf)])
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write(cx, bufs)
    }
    crate::forward::forward_write!(inner);
}

/// Protocol settings, fixed at start-up.
pub(crate) struct Protocols {
    /// HTTP/1.1 settings: header timeout, largest head, keep-alive.
    pub(crate) h1: http1::Builder,
    /// Largest HTTP/2 header list h2 itself accepts.
    h2_max_header_list: u32,
    /// How long a new connection may take to send its first bytes (and an
    /// HTTP/2 connection its first complete request head).
    pub(crate) header_timeout: Duration,
    /// A connection without a request for this long is closed (default 120 s;
    /// nginx: 75 s).
    pub(crate) idle_timeout: Duration,
    /// The access log's format, for requests answered or cut below the handler.
    pub(crate) log: Option<Format>,
    /// Most header fields in a request (hyper checks HTTP/1.1; the handler h2).
    pub(crate) max_headers: usize,
    /// Largest request head (hyper checks HTTP/1.1; the handler h2, whose own
    /// limit is [`H2_HEAD_ROOM`] times this).
    pub(crate) max_head: u64,
    /// Where idle keep-alive connections wait.
    lot: lot::Lot,
}

/// h2 answers a header list over its limit with a 431 of its own, which no
/// handler sees (so no log line): its limit is this many times `--max-header-size`,
/// and the handler refuses (and logs) what lies between. It still bounds the
/// memory of a header list.
const H2_HEAD_ROOM: u64 = 2;

impl Protocols {
    /// Settings for a header timeout and a largest request head of `max_head` bytes.
    pub(crate) fn new(
        header_timeout: Duration,
        max_head: u64,
        max_headers: usize,
        idle_timeout: Duration,
        log: Option<Format>,
    ) -> Protocols {
        // Never `pipeline_flush` or `writev(false)`: both make hyper copy body bytes
        // into one buffer, and the sendfile placeholders (`crate::http::server::conn::splice`) rely on
        // each body chunk reaching the stream as it was given.
        let mut h1 = http1::Builder::new();
        // The driver times request heads itself (`serve_h1`): hyper's own header
        // timeout allocates and registers a timer for every request (~1,380
        // instructions a request, callgrind 2026-12-02).
        h1.timer(TokioTimer::new())
            .header_read_timeout(None)
            .max_buf_size(max_head as usize)
            .max_headers(max_headers)
            .keep_alive(true)
            // A client that has sent its request and shut its side (SHUT_WR) still
            // gets the whole answer: read EOF ends the connection only once idle.
            .half_close(true);
        Protocols {
            h1,
            h2_max_header_list: max_head.saturating_mul(H2_HEAD_ROOM).min(u32::MAX as u64) as u32,
            header_timeout,
            idle_timeout,
            log,
            max_headers,
            max_head,
            lot: lot::Lot::default(),
        }
    }
}

impl Protocols {
    /// HTTP/2 settings for one connection, whose streams `spawner` collects (the
    /// builder owns its executor, so each connection has its own).
    fn h2(&self, spawner: streams::Spawner) -> http2::Builder<streams::Spawner> {
        let mut h2 = http2::Builder::new(spawner);
        h2.timer(TokioTimer::new())
            .max_header_list_size(self.h2_max_header_list)
            .max_concurrent_streams(MAX_STREAMS)
            .max_send_buf_size(H2_SEND_BUF);
        h2
    }
}

/// The future of one request's response.
pub(crate) type BoxFuture =
    Pin<Box<dyn Future<Output = Result<Response<Logged>, Infallible>> + Send>>;

/// A response, or (a request that reads its body) the future of one.
// Not boxed: it lives for one call, and a box would be an allocation a request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Answer {
    Now(Response<Logged>),
    Later(BoxFuture),
}

/// What answers a connection's requests: the request, the connection's
/// [`Activity`], and whether the caller writes [`Logged::fields`] itself (the
/// fast path), so that the response's map need not have them.
pub(crate) type Handler =
    Arc<dyn Fn(Request<RequestBody>, &Arc<Activity>, bool) -> Answer + Send + Sync>;

async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Read until the bytes are known to be (or not be) the HTTP/2 preface; `None` on EOF.
async fn first_bytes(io: &mut BoxStream) -> io::Result<Option<(Bytes, bool)>> {
    let mut buf = BytesMut::with_capacity(H2_PREFACE.len());
    loop {
        let n = io.read_buf(&mut buf).await?;
        if n == 0 {
            return Ok(if buf.is_empty() {
                None
            } else {
                Some((buf.freeze(), false))
            });
        }
        let len = buf.len().min(H2_PREFACE.len());
        if buf[..len] != H2_PREFACE[..len] {
            return Ok(Some((buf.freeze(), false)));
        }
        if buf.len() >= H2_PREFACE.len() {
            return Ok(Some((buf.freeze(), true)));
        }
    }
}

/// The request handler with its connection's [`Activity`], as a hyper service.
#[derive(Clone)]
struct Svc {
    service: Handler,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for Svc {
    type Response = Response<Logged>;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response<Logged>, Infallible>>, BoxFuture>;
    fn call(&self, req: Request<Incoming>) -> Self::Future {
        match (self.service)(req.map(RequestBody::Hyper), &self.activity, false) {
            Answer::Now(resp) => Either::Left(std::future::ready(Ok(resp))),
            Answer::Later(fut) => Either::Right(fut),
        }
    }
}

/// What became of an HTTP/1.1 connection handed to hyper.
enum H1End {
    /// Closed (by the client, by hyper, or because the server is stopping).
    Closed,
    /// Quiet between requests: hyper's state is gone, only the socket is kept.
    Idle(BoxStream),
    /// Quiet, but bytes of a next request were already read (pipelining).
    Resume(Bytes, BoxStream),
}

/// Serve one connection until the client leaves, goes quiet (HTTP/1.1: it is
/// parked) or the server shuts down.
///
/// The work of each phase runs in its own boxed future, so that the task holds
/// little beside it. A plain function returning an `async move` block, not an
/// `async fn`: the block uses the arguments where they are, where an `async fn`
/// would keep a second copy (measured: 1,184 → 624 bytes; bench/RESULTS.md, idle
/// memory).
#[allow(clippy::manual_async_fn)]
pub(crate) fn drive(
    protocols: Arc<Protocols>,
    peer: SocketAddr,
    mut io: BoxStream,
    mut shutdown: watch::Receiver<bool>,
    service: Handler,
    hold: Hold,
) -> impl Future<Output = ()> + Send {
    async move {
        let ended: Result<(), Box<dyn std::error::Error + Send + Sync>> = 'conn: {
            let first = Box::pin(async {
                tokio::select! {
                    r = tokio::time::timeout(protocols.header_timeout, first_bytes(&mut io)) => match r {
                        Ok(r) => r.map(Some),
                        Err(_) => Ok(None), // connected and said nothing
                    },
                    () = stopped(&mut shutdown) => Ok(None),
                }
            })
            .await;
            let (prefix, h2) = match first {
                Ok(Some(Some(first))) => first,
                Ok(_) => break 'conn Ok(()),
                Err(e) => break 'conn Err(e.into()),
            };
            // Vectored writes keep hyper from copying body bytes, which the placeholders need.
            let zero_copy = !h2 && splice::supported(&io);
            let svc = Svc {
                service,
                activity: Arc::new(Activity::new(peer, zero_copy.then(Splices::default))),
            };
            if h2 {
                break 'conn Box::pin(serve_h2(&protocols, prefix, io, &mut shutdown, svc)).await;
            }
            return Box::pin(h1(protocols, prefix, io, shutdown, svc, hold)).await;
        };
        log_end(peer, ended);
    }
}

fn log_end(peer: SocketAddr, ended: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(e) = ended {
        // Clients that reset, time out or send garbage are routine for a server.
        tracing::debug!(%peer, "connection from {peer} ended: {e}");
    }
}

/// Serve HTTP/1.1 requests from `prefix` on, until the connection closes (or
/// goes quiet: then it is parked, and the lot calls this again, in a new task,
/// when the client speaks).
async fn h1(
    protocols: Arc<Protocols>,
    mut prefix: Bytes,
    mut io: BoxStream,
    mut shutdown: watch::Receiver<bool>,
    svc: Svc,
    hold: Hold,
) {
    let peer = svc.activity.peer;
    let ended = loop {
        match serve_h1(&protocols, prefix, io, &mut shutdown, svc.clone()).await {
            Err(e) => break Err(e),
            Ok(H1End::Closed) => break Ok(()),
            Ok(H1End::Resume(more, sock)) => (prefix, io) = (more, sock),
            Ok(H1End::Idle(sock)) => {
                // Stable text (-v shows it): the tests check that parking happens.
                tracing::debug!("parked connection from {peer}");
                let parked = lot::Parked { sock, svc, hold };
                lot::park(&protocols, &shutdown, parked);
                return;
            }
        }
    };
    log_end(peer, ended);
}

async fn serve_h2(
    protocols: &Protocols,
    prefix: Bytes,
    io: BoxStream,
    shutdown: &mut watch::Receiver<bool>,
    svc: Svc,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let svc_activity = svc.activity.clone();
    let (io, drain) = batch::new(io);
    let spawner = streams::Spawner::default();
    let mut streams = streams::Streams::new(&spawner);
    let h2 = protocols.h2(spawner);
    let mut conn = std::pin::pin!(h2.serve_connection(
        TokioIo::new(Prefixed {
            prefix,
            inner: Box::new(io),
            activity: None,
            head: None,
            bare_lf: false,
            frames: Some(FrameScan::new(svc.activity.clone())),
        }),
        svc
    ));
    // hyper has no header timeout or idle close for HTTP/2: a connection whose
    // first request head is not complete within the header timeout, or that has
    // had no request for the idle timeout, is closed (GOAWAY, then the socket).
    let activity = svc_activity;
    let mut limit = protocols.header_timeout;
    let mut check = std::pin::pin!(tokio::time::sleep(limit));
    loop {
        tokio::select! {
            r = std::future::poll_fn(|cx| poll_sending(conn.as_mut(), &mut streams, &drain, cx)) => {
                // What the last poll gathered (h2 normally sent it when it shut down).
                let sent = std::future::poll_fn(|cx| drain.poll_send(cx));
                let _ = tokio::time::timeout(protocols.header_timeout, sent).await;
                return r;
            }
            () = stopped(shutdown) => break,
            _ = &mut check => {
                let header_timeout = protocols.header_timeout;
                if activity.served() {
                    limit = protocols.idle_timeout;
                }
                // A header block open too long, or (before the first request) no
                // complete head within the header timeout: cut, and logged.
                let (cut, wait) = match (activity.h2_head_open_for(), activity.idle_for()) {
                    (Some(open), _) if open >= header_timeout => (true, Duration::ZERO),
                    (Some(open), _) => (false, header_timeout - open),
                    (None, Some(idle)) if idle >= limit => (!activity.served(), Duration::ZERO),
                    (None, Some(idle)) => (false, limit - idle),
                    (None, None) => (false, limit),
                };
                if wait.is_zero() {
                    if cut && let Some(format) = protocols.log {
                        let started = match activity.h2_head_open_for() {
                            Some(open) => tokio::time::Instant::now().into_std().checked_sub(open),
                            None => None,
                        };
                        access_log::protocol_error(
                            format,
                            activity.peer.ip().to_canonical(),
                            None,
                            None,
                            0,
                            started.unwrap_or_else(|| activity.head_started()),
                            "HTTP/2 request head not complete within --header-timeout",
                        );
                    }
                    break;
                }
                // Never later than a header timeout away: a header block may open meanwhile.
                check.as_mut().reset(tokio::time::Instant::now() + wait.min(header_timeout));
            }
        }
    }
    conn.as_mut().graceful_shutdown();
    drain.release();
    // A client that ignores GOAWAY is not waited for longer than the header timeout.
    let ending = std::future::poll_fn(|cx| poll_sending(conn.as_mut(), &mut streams, &drain, cx));
    match tokio::time::timeout(protocols.header_timeout, ending).await {
        Ok(r) => r,
        Err(_) => Ok(()),
    }
}

/// Poll an HTTP/2 connection and its streams until neither has more to do now,
/// then send in one write what the connection wrote meanwhile (see [`batch`]).
fn poll_sending<F: Future<Output = hyper::Result<()>>>(
    mut conn: Pin<&mut F>,
    streams: &mut streams::Streams,
    drain: &batch::Drain,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Box<dyn std::error::Error + Send + Sync>>> {
    let mut polled = conn.as_mut().poll(cx);
    // Streams the poll started answer now, and the connection sends their answers
    // in the same write. Bounded: a busy connection yields to other tasks.
    for _ in 0..STREAM_ROUNDS {
        if polled.is_ready() || !streams.poll(cx) {
            break;
        }
        polled = conn.as_mut().poll(cx);
    }
    // A send that cannot finish now resumes on the next poll (the socket wakes the task).
    let sent = drain.poll_send(cx);
    match (polled, sent) {
        (Poll::Ready(r), _) => Poll::Ready(r.map_err(Into::into)),
        (Poll::Pending, Poll::Ready(Err(e))) => Poll::Ready(Err(e.into())),
        (Poll::Pending, _) => Poll::Pending,
    }
}

/// Let hyper serve HTTP/1.1 requests until the connection closes or has been
/// quiet for [`PARK_AFTER`].
async fn serve_h1(
    protocols: &Protocols,
    prefix: Bytes,
    io: BoxStream,
    shutdown: &mut watch::Receiver<bool>,
    svc: Svc,
) -> Result<H1End, Box<dyn std::error::Error + Send + Sync>> {
    let activity = svc.activity.clone();
    if let Some(s) = &activity.splices {
        s.clear();
    }
    let (prefix, io) = match fast::serve(protocols, prefix, io, shutdown, &svc).await? {
        fast::Fast::End(end) => return Ok(end),
        fast::Fast::HandOff(prefix, io) => (prefix, io),
    };
    // Bytes handed over begin a head (the fast path answered all before them): scan it.
    let head = (!prefix.is_empty()).then(HeadScan::default);
    let mut conn = protocols.h1.serve_connection(
        TokioIo::new(Prefixed {
            prefix,
            inner: io,
            activity: Some(activity.clone()),
            head,
            bare_lf: false,
            frames: None,
        }),
        svc,
    );
    let mut check = std::pin::pin!(tokio::time::sleep(PARK_AFTER));
    let mut stopping = false;
    let mut parking = false;
    let mut head_cut = false;
    let ended = loop {
        tokio::select! {
            // Unless parking, hyper ends the connection itself, sending what it still
            // holds first (it may close with a response unsent, e.g. when a request
            // body was left unread). Parking takes the socket back instead.
            r = std::future::poll_fn(|cx| if parking {
                conn.poll_without_shutdown(cx)
            } else {
                Pin::new(&mut conn).poll(cx)
            }) => break r,
            _ = &mut check => {
                // A request head on its way for longer than the header timeout: cut.
                if let Some(open) = activity.head_open_for() {
                    if open >= protocols.header_timeout {
                        head_cut = true;
                        break Ok(());
                    }
                    let wait = (protocols.header_timeout - open).min(PARK_AFTER);
                    check.as_mut().reset(tokio::time::Instant::now() + wait);
                    continue;
                }
                match activity.idle_for() {
                    Some(idle) if idle >= PARK_AFTER => {
                        // Closes hyper's side at once when it is between requests.
                        parking = true;
                        Pin::new(&mut conn).graceful_shutdown();
                        check.as_mut().reset(tokio::time::Instant::now() + protocols.idle_timeout);
                    }
                    Some(idle) => check.as_mut().reset(tokio::time::Instant::now() + PARK_AFTER - idle),
                    None => check.as_mut().reset(tokio::time::Instant::now() + PARK_AFTER),
                }
            }
            () = stopped(shutdown), if !stopping => {
                stopping = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
        }
    };
    let parts = conn.into_parts();
    if head_cut {
        let inner = parts.io.into_inner();
        let why = "request head not complete within --header-timeout";
        log_refused(
            protocols.log,
            &activity,
            None,
            why,
            inner.bare_lf,
            &parts.read_buf,
        );
        let mut sock = inner.inner;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut sock).await;
        return Ok(H1End::Closed);
    }
    if let Err(e) = ended {
        // hyper gave up on a request head: it answered (400, 414, 431) or cut it.
        let inner = parts.io.into_inner();
        let answered = log_head_error(protocols.log, &activity, &e, inner.bare_lf, &parts.read_buf);
        let mut sock = inner.inner;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut sock).await;
        if answered {
            // So that the unread rest of the request does not reset the answer away.
            linger(sock, shutdown).await;
        }
        return Err(e.into());
    }
    if !parking {
        // hyper ended it (the client closed, asked for close, or broke the
        // protocol; or the server is stopping) and has shut our side down.
        linger(parts.io.into_inner().inner, shutdown).await;
        return Ok(H1End::Closed);
    }
    let mut inner = parts.io.into_inner();
    if stopping || *shutdown.borrow() {
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut inner.inner).await;
        return Ok(H1End::Closed);
    }
    // The leftover bytes share hyper's read buffer: keep a copy only if there are any.
    if !inner.prefix.is_empty() || !parts.read_buf.is_empty() {
        let mut b = BytesMut::from(&parts.read_buf[..]);
        b.extend_from_slice(&inner.prefix);
        return Ok(H1End::Resume(b.freeze(), inner.inner));
    }
    Ok(H1End::Idle(inner.inner))
}

/// Write the access-log line (with a log) of a request head that hyper refused
/// or cut before any handler saw it; whether hyper answered it.
fn log_head_error(
    log: Option<Format>,
    activity: &Activity,
    e: &hyper::Error,
    bare_lf: bool,
    read_buf: &[u8],
) -> bool {
    let (status, why) = if bare_lf && e.is_parse() {
        (
            Some(400),
            "a line of the request head ends in a bare LF, not CRLF",
        )
    } else if e.is_parse_too_large() {
        // hyper's two "too large" kinds: the URI alone (414), or the whole head (431).
        if e.to_string().contains("URI") {
            (Some(414), "request URI too long")
        } else {
            (
                Some(431),
                "request head too large or too many header fields",
            )
        }
    } else if e.is_parse() {
        (Some(400), "malformed request head")
    } else if e.is_timeout() {
        (None, "request head not complete within --header-timeout")
    } else if e.is_incomplete_message() {
        (
            None,
            "client closed the connection in the middle of a request head",
        )
    } else {
        return false; // not about a head (an I/O error while answering)
    };
    log_refused(log, activity, status, why, bare_lf, read_buf);
    status.is_some()
}

/// Write the access-log line (with a log) of a request head refused with
/// `status` (`None`: cut without an answer) because of `why`; its first line
/// is taken from `read_buf`, what was read of it.
fn log_refused(
    log: Option<Format>,
    activity: &Activity,
    status: Option<u16>,
    why: &str,
    bare_lf: bool,
    read_buf: &[u8],
) {
    if let Some(format) = log {
        let first = read_buf
            .split(|&b| b == b'\r' || b == b'\n' || (bare_lf && b == 0))
            .next()
            .filter(|l| !l.is_empty())
            .map(|l| String::from_utf8_lossy(&l[..l.len().min(MAX_LOGGED_LINE)]));
        access_log::protocol_error(
            format,
            activity.peer.ip().to_canonical(),
            first.as_deref(),
            status,
            0,
            activity.head_started(),
            why,
        );
    }
}

/// Read and drop what the client still sends after our side is shut down, until
/// it closes too (nginx's lingering close): closing a socket with unread bytes
/// resets the connection, and the reset destroys the end of a response still on
/// its way (a request body the server did not read, a client that keeps sending).
async fn linger(mut sock: BoxStream, shutdown: &mut watch::Receiver<bool>) {
    let deadline = tokio::time::Instant::now() + LINGER_MAX;
    loop {
        let wait =
            LINGER_QUIET.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        tokio::select! {
            r = tokio::time::timeout(wait, read_chunk(&mut sock)) => match r {
                Ok(Ok(b)) if !b.is_empty() => continue,
                _ => return, // closed, failed, or quiet/too long
            },
            () = stopped(shutdown) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(parts: &[&[u8]]) -> (Option<HeadEnd>, Vec<u8>) {
        let mut s = HeadScan::default();
        let mut out = Vec::new();
        for p in parts {
            let mut b = p.to_vec();
            let end = s.feed(&mut b);
            out.extend_from_slice(&b);
            if end.is_some() {
                return (end, out);
            }
        }
        (None, out)
    }

    #[test]
    fn head_scan_finds_bare_lf_only_in_the_head() {
        let ok: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody\nwith\nLF";
        let (end, out) = scan(&[ok]);
        assert!(end == Some(HeadEnd::Blank));
        assert_eq!(out, ok, "a clean head is left as it is");
        // Split anywhere, even between CR and LF.
        let (end, _) = scan(&[b"GET / HTTP/1.1\r", b"\nHost: x\r\n\r", b"\n"]);
        assert!(end == Some(HeadEnd::Blank));
        for bad in [
            &b"GET / HTTP/1.1\nHost: x\n\n"[..],
            b"GET / HTTP/1.1\r\nHost: x\r\n\n",
            b"\nGET / HTTP/1.1\r\n\r\n",
        ] {
            let (end, out) = scan(&[bad]);
            assert!(end == Some(HeadEnd::BareLf), "{bad:?}");
            assert!(out.contains(&0), "{bad:?}");
        }
        // An unfinished head is still being scanned.
        assert!(scan(&[b"GET / HTTP/1.1\r\nHost"]).0.is_none());
    }

    fn both_lengths(parts: &[&[u8]]) -> bool {
        let mut s = HeadScan::default();
        for p in parts {
            if s.feed(&mut p.to_vec()).is_some() {
                break;
            }
        }
        s.both_lengths()
    }

    #[test]
    fn head_scan_sees_content_length_with_transfer_encoding() {
        let both: &[u8] = b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTRANSFER-encoding: chunked\r\n\r\n";
        assert!(both_lengths(&[both]));
        // Split anywhere, names included, in either order.
        for cut in 1..both.len() {
            assert!(both_lengths(&[&both[..cut], &both[cut..]]), "cut at {cut}");
        }
        assert!(both_lengths(&[
            b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length:4\r\n\r\n"
        ]));
        for one in [
            &b"PUT /a HTTP/1.1\r\nContent-Length: 4\r\nContent-Type: x\r\n\r\n"[..],
            b"PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            // Only in a value, or after the head: not a field of this head.
            b"GET / HTTP/1.1\r\nX-A: content-length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 4\r\n\r\nTransfer-Encoding: chunked\r\n",
            b"GET / HTTP/1.1\r\nContent-Lengthy: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(!both_lengths(&[one]), "{one:?}");
        }
    }
}
