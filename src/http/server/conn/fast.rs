//! The HTTP/1.1 fast path: simple requests (GET or HEAD, HTTP/1.1, no body, no
//! `Expect` or `Upgrade`, within the limits) are parsed with httparse, answered
//! by the same handler that hyper calls, and their responses written as hyper
//! writes them, several pipelined answers in one write. The first request that
//! is not simple, or a head that hyper would refuse, hands the connection with
//! the bytes read so far to hyper, which serves it from then on (until it is
//! parked), so behaviour there stays exactly hyper's.
//!
//! Code of our own because hyper's HTTP/1 dispatcher around the handler cost
//! ~10,000 instructions a request, 1.55x nginx's whole request (callgrind,
//! 2026-12-02; what this path saves is in bench/RESULTS.md).

use super::{Answer, H1End, PARK_AFTER, Protocols, Svc, linger, log_refused, poll_write, stopped};
use crate::http::server::body::{Logged, RequestBody};
use crate::net::BoxStream;
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use std::cell::Cell;
use std::io::{self, IoSlice, Write as _};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// Header fields a simple request may have (more go to hyper, which has its own limit).
const MAX_FIELDS: usize = 32;
/// Read at least this much at a time (hyper's first read buffer is 8 KiB too).
const READ_SIZE: usize = 8 * 1024;
/// hyper answers a longer request target with 414.
const MAX_URI_LEN: usize = (u16::MAX - 1) as usize;
/// Body chunks up to this size are copied behind their head (one write); larger
/// ones (file placeholders for `sendfile` are at least 64 KiB) are written as they are.
const COPY_MAX: usize = 16 * 1024;

/// What became of the connection on the fast path.
pub(super) enum Fast {
    /// The phase is over, as [`super::serve_h1`] reports it.
    End(H1End),
    /// A request that is not simple: hyper takes the connection, these bytes first.
    HandOff(Bytes, BoxStream),
}

/// A request head read from the buffer.
// Not boxed: it lives for one call, and a box would be an allocation a request.
#[allow(clippy::large_enum_variant)]
enum Parsed {
    /// A simple request, and whether the client keeps the connection open.
    Simple(Request<RequestBody>, bool),
    /// Not complete yet.
    Partial,
    /// For hyper: not simple, malformed, or over a limit.
    Other,
}

/// Serve simple requests until the connection closes, is quiet for
/// [`PARK_AFTER`], or brings a request for hyper.
pub(super) async fn serve(
    protocols: &Protocols,
    prefix: Bytes,
    mut io: BoxStream,
    shutdown: &mut watch::Receiver<bool>,
    svc: &Svc,
) -> Result<Fast, Box<dyn std::error::Error + Send + Sync>> {
    let activity = &svc.activity;
    let max_head = usize::try_from(protocols.max_head).unwrap_or(usize::MAX);
    let max_fields = protocols.max_headers.min(MAX_FIELDS);
    let mut buf = BytesMut::with_capacity(READ_SIZE.max(prefix.len()));
    buf.extend_from_slice(&prefix);
    if !buf.is_empty() {
        activity.saw_bytes();
    }
    // Answers not yet written: pipelined requests get theirs in one write.
    let mut out = Vec::new();
    let mut check = std::pin::pin!(tokio::time::sleep(PARK_AFTER));
    // One wait for the stop for the whole phase: a new one each read cost ~400
    // instructions a request (callgrind, 2026-12-02).
    let mut stop_rx = shutdown.clone();
    let mut stop = std::pin::pin!(async move { stopped(&mut stop_rx).await });
    loop {
        while !buf.is_empty() {
            let (req, keep_alive) = match parse(&mut buf, max_fields, max_head) {
                Parsed::Simple(req, keep_alive) => (req, keep_alive),
                Parsed::Partial => break,
                Parsed::Other => {
                    write_all(&mut io, svc, &mut out, &[]).await?;
                    return Ok(Fast::HandOff(buf.freeze(), io));
                }
            };
            let is_head = req.method() == Method::HEAD;
            let resp = match (svc.service)(req, activity, true) {
                Answer::Now(resp) => resp,
                Answer::Later(fut) => {
                    let Ok(resp) = fut.await;
                    resp
                }
            };
            // A server that is stopping answers with `Connection: close`, as hyper does.
            let keep_alive = keep_alive && !*shutdown.borrow();
            if !respond(&mut io, svc, &mut out, resp, is_head, keep_alive).await? {
                write_all(&mut io, svc, &mut out, &[]).await?;
                let _ = io.shutdown().await;
                linger(io, shutdown).await;
                return Ok(Fast::End(H1End::Closed));
            }
        }
        write_all(&mut io, svc, &mut out, &[]).await?;
        if buf.capacity() - buf.len() < READ_SIZE / 2 {
            buf.reserve(READ_SIZE);
        }
        tokio::select! {
            biased;
            r = io.read_buf(&mut buf) => match r {
                Ok(0) if buf.is_empty() => {
                    // The client is done (hyper: read EOF while idle ends the connection).
                    let _ = io.shutdown().await;
                    return Ok(Fast::End(H1End::Closed));
                }
                // A head cut by the client's close: hyper reports and logs it.
                Ok(0) => return Ok(Fast::HandOff(buf.freeze(), io)),
                Ok(_) => {
                    activity.saw_bytes();
                }
                Err(e) => return Err(e.into()),
            },
            _ = &mut check => {
                // As `serve_h1`: a head on its way too long is cut; a quiet connection parked.
                if let Some(open) = activity.head_open_for() {
                    if open >= protocols.header_timeout {
                        let why = "request head not complete within --header-timeout";
                        log_refused(protocols.log, activity, None, why, false, &buf);
                        let _ = io.shutdown().await;
                        return Ok(Fast::End(H1End::Closed));
                    }
                    let wait = (protocols.header_timeout - open).min(PARK_AFTER);
                    check.as_mut().reset(tokio::time::Instant::now() + wait);
                    continue;
                }
                match activity.idle_for() {
                    Some(idle) if idle >= PARK_AFTER => {
                        return Ok(Fast::End(if buf.is_empty() {
                            H1End::Idle(io)
                        } else {
                            H1End::Resume(buf.freeze(), io)
                        }));
                    }
                    Some(idle) => check.as_mut().reset(tokio::time::Instant::now() + PARK_AFTER - idle),
                    None => check.as_mut().reset(tokio::time::Instant::now() + PARK_AFTER),
                }
            }
            () = &mut stop => {
                let _ = io.shutdown().await;
                return Ok(Fast::End(H1End::Closed));
            }
        }
    }
}

/// Offsets of a field's name and value in the head.
#[derive(Clone, Copy, Default)]
struct Field {
    name: (usize, usize),
    value: (usize, usize),
}

/// Take the request head at the front of `buf`, if it is simple.
fn parse(buf: &mut BytesMut, max_fields: usize, max_head: usize) -> Parsed {
    let mut slots = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_FIELDS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut slots[..max_fields]) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() < max_head && !bare_lf(buf) => {
            return Parsed::Partial;
        }
        _ => return Parsed::Other,
    };
    let (Some(verb), Some(path), Some(1)) = (req.method, req.path, req.version) else {
        return Parsed::Other;
    };
    let method = match verb {
        "GET" => Method::GET,
        "HEAD" => Method::HEAD,
        _ => return Parsed::Other,
    };
    if len >= max_head || path.len() >= MAX_URI_LEN {
        return Parsed::Other;
    }
    let at = |s: &[u8]| (s.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
    // hyper takes a bare LF as a line end, and the connection's head scan refuses
    // it (400): a head with any line not ending in CRLF (leading empty lines
    // included) goes to hyper. Checked at each line's end: a scan of the whole
    // head cost ~300 instructions a request (callgrind, 2026-12-02).
    let crlf = |end: usize| buf.get(end..end.saturating_add(2)) == Some(b"\r\n");
    let path = (at(path.as_bytes()), path.len());
    let version_end = path.0 + path.1 + " HTTP/1.1".len();
    if at(verb.as_bytes()) != 0 || !crlf(version_end) || !crlf(len.saturating_sub(2)) {
        return Parsed::Other;
    }
    let mut keep_alive = true;
    let mut fields = [Field::default(); MAX_FIELDS];
    for (f, h) in fields.iter_mut().zip(req.headers.iter()) {
        let name = h.name.as_bytes();
        let is = |n: &str| name.len() == n.len() && name.eq_ignore_ascii_case(n.as_bytes());
        // A body, an expectation or a protocol switch: hyper's to handle.
        if is("content-length") || is("transfer-encoding") || is("expect") || is("upgrade") {
            return Parsed::Other;
        }
        if is("connection") && has_close(h.value) {
            keep_alive = false;
        }
        *f = Field {
            name: (at(name), name.len()),
            value: (at(h.value), h.value.len()),
        };
        // httparse trims the value's trailing blanks.
        let mut end = f.value.0 + f.value.1;
        while matches!(buf.get(end), Some(b' ' | b'\t')) {
            end += 1;
        }
        if !crlf(end) {
            return Parsed::Other;
        }
    }
    let count = req.headers.len();
    let head = buf.split_to(len).freeze();
    match request(&head, method, path, &fields[..count]) {
        Some(req) => Parsed::Simple(req, keep_alive),
        None => {
            // Not expected after httparse's checks; hyper gets the bytes back as they were.
            let mut all = BytesMut::with_capacity(head.len() + buf.len());
            all.extend_from_slice(&head);
            all.extend_from_slice(buf);
            *buf = all;
            Parsed::Other
        }
    }
}

/// The request that `head` holds; names and values share its bytes, as hyper's do.
fn request(
    head: &Bytes,
    method: Method,
    path: (usize, usize),
    fields: &[Field],
) -> Option<Request<RequestBody>> {
    let range =
        |(at, len): (usize, usize)| (at.checked_add(len)? <= head.len()).then_some(at..at + len);
    let uri = Uri::from_maybe_shared(head.slice(range(path)?)).ok()?;
    let mut headers = HeaderMap::with_capacity(fields.len());
    for f in fields {
        let name = &head[range(f.name)?];
        let name = match common(name) {
            Some(n) => n,
            None => HeaderName::from_bytes(name).ok()?,
        };
        let value = HeaderValue::from_maybe_shared(head.slice(range(f.value)?)).ok()?;
        headers.append(name, value);
    }
    let mut req = Request::new(RequestBody::Empty);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_11;
    *req.headers_mut() = headers;
    Some(req)
}

/// The name of the most common request fields, matched directly: through
/// `HeaderName::from_bytes` each cost ~150 instructions (callgrind, 2026-12-02).
fn common(name: &[u8]) -> Option<HeaderName> {
    let known = match name.len() {
        4 => header::HOST,
        6 => header::ACCEPT,
        10 if name[0].eq_ignore_ascii_case(&b'u') => header::USER_AGENT,
        10 => header::CONNECTION,
        15 => header::ACCEPT_ENCODING,
        _ => return None,
    };
    name.eq_ignore_ascii_case(known.as_str().as_bytes())
        .then_some(known)
}

/// Whether a line of `head` ends in a bare LF.
fn bare_lf(head: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', head).any(|at| at == 0 || head[at - 1] != b'\r')
}

/// Whether a `Connection` value lists `close`.
fn has_close(value: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
}

/// How a response body is framed on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Exactly this many bytes (0: no body is sent).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes.
    Close,
}

/// Write `resp` (its head into `out`, its body after it); whether the
/// connection stays open.
async fn respond(
    io: &mut BoxStream,
    svc: &Svc,
    out: &mut Vec<u8>,
    resp: Response<Logged>,
    is_head: bool,
    keep_alive: bool,
) -> io::Result<bool> {
    let (mut parts, mut body) = resp.into_parts();
    let length = if body.is_end_stream() {
        None
    } else {
        Some(body.size_hint().exact())
    };
    let fields = body.fields.take();
    let (framing, last) = encode_head(out, &mut parts, fields, is_head, length, keep_alive)?;
    if framing == Framing::Length(0) {
        // Nothing to send (HEAD, 204, 304, empty): the body ends here, and logs.
        drop(body);
        return Ok(!last);
    }
    let mut left = match framing {
        Framing::Length(n) => n,
        _ => u64::MAX,
    };
    let mut body = Some(body);
    loop {
        let frame = match &mut body {
            Some(b) => std::future::poll_fn(|cx| Pin::new(&mut *b).poll_frame(cx)).await,
            None => None,
        };
        let data = match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue, // trailers: this server sends none
            },
            Some(Err(e)) => return Err(e),
            None => {
                drop(body);
                return match framing {
                    Framing::Chunked => {
                        out.extend_from_slice(b"0\r\n\r\n");
                        Ok(!last)
                    }
                    Framing::Close => Ok(false),
                    Framing::Length(_) => Err(io::Error::other(
                        "response body ended before its Content-Length",
                    )),
                };
            }
        };
        // As hyper: never more than the length announced.
        let data = if data.len() as u64 > left {
            data.slice(..left as usize)
        } else {
            data
        };
        left -= data.len() as u64;
        if left == 0 || body.as_ref().is_some_and(|b| b.is_end_stream()) {
            // As hyper: the body (and so its log line) ends when its last chunk is taken.
            body = None;
        }
        if data.is_empty() {
            continue;
        }
        if framing == Framing::Chunked {
            let _ = write!(out, "{:X}\r\n", data.len());
        }
        if data.len() <= COPY_MAX {
            out.extend_from_slice(&data);
        } else {
            write_all(io, svc, out, &data).await?;
        }
        if framing == Framing::Chunked {
            out.extend_from_slice(b"\r\n");
        }
        if left == 0 {
            return Ok(!last);
        }
    }
}

/// Write the head of a response into `out` as hyper does (its `Server::encode`:
/// status line, fields in order, the framing field, `date`), and say how the
/// body is framed and whether the connection closes after it. `length` is
/// `None` for a body that has ended, else its exact length if known. With
/// `fields` (the same as `parts.headers`), their lines are copied as they are.
fn encode_head(
    out: &mut Vec<u8>,
    parts: &mut http::response::Parts,
    fields: Option<Arc<Fields>>,
    is_head: bool,
    length: Option<Option<u64>>,
    keep_alive: bool,
) -> io::Result<(Framing, bool)> {
    let mut last = !keep_alive;
    if parts.status.is_informational() {
        // hyper sends no 1xx response of a service: a bare 500, then closes.
        *parts = Response::new(()).into_parts().0;
        parts.status = StatusCode::INTERNAL_SERVER_ERROR;
        last = true;
    }
    let http10 = parts.version == Version::HTTP_10;
    let fields = match fields {
        Some(f) if parts.status.is_informational() || length == Some(None) => {
            // Not for the lines below (not expected of a mock route): the map has them.
            parts.headers = f.map.clone();
            None
        }
        f => f,
    };
    if last && !http10 && fields.is_none() {
        // hyper's `enforce_version`: a connection that will close says so.
        match parts.headers.entry(header::CONNECTION) {
            header::Entry::Occupied(mut e) => {
                if !e.iter().any(|v| has_close(v.as_bytes())) {
                    e.append(HeaderValue::from_static("close"));
                }
            }
            header::Entry::Vacant(e) => {
                e.insert(HeaderValue::from_static("close"));
            }
        }
    }
    let reason = parts.extensions.get::<hyper::ext::ReasonPhrase>();
    if !http10 && parts.status == StatusCode::OK && reason.is_none() {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(if http10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
        out.extend_from_slice(parts.status.as_str().as_bytes());
        out.push(b' ');
        match reason {
            Some(r) => out.extend_from_slice(r.as_bytes()),
            None => out.extend_from_slice(
                parts
                    .status
                    .canonical_reason()
                    .unwrap_or("<none>")
                    .as_bytes(),
            ),
        }
        out.extend_from_slice(b"\r\n");
    }
    let no_content = matches!(
        parts.status,
        StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
    );
    let can_length = !no_content;
    let can_body = !no_content && !is_head;
    let can_chunk = can_body && !http10;
    let mut framing = Framing::Length(0);
    let mut wrote_len = false;
    let mut wrote_date = false;
    let mut prev_len = None;
    // A field whose values are joined on one line (hyper does so for these three).
    let mut open: Option<&HeaderName> = None;
    let mut chunked_last = true;
    if let Some(f) = &fields {
        // As the loop below would write them: `Fields` has no field it treats apart
        // but one `content-length`, the body's.
        out.extend_from_slice(&f.wire);
        if last && !http10 {
            out.extend_from_slice(b"connection: close\r\n");
        }
        wrote_len = true;
        if let Some(Some(n)) = length {
            framing = Framing::Length(n);
        }
    }
    let map = if fields.is_some() {
        None
    } else {
        Some(&parts.headers)
    };
    for (name, value) in map.into_iter().flatten() {
        if let Some(o) = open
            && o != name
        {
            end_line(out, o, chunked_last);
            open = None;
        }
        match *name {
            header::CONTENT_LENGTH => match length {
                Some(Some(n)) => {
                    if !wrote_len {
                        framing = Framing::Length(n);
                        field(out, name, value);
                        wrote_len = true;
                    }
                    continue;
                }
                Some(None) => {
                    let Some(n) = content_length(value) else {
                        return Err(io::Error::other("illegal Content-Length in a response"));
                    };
                    match prev_len {
                        Some(p) if p != n => {
                            return Err(io::Error::other(
                                "two Content-Length values in a response",
                            ));
                        }
                        Some(_) => {}
                        None => {
                            framing = Framing::Length(n);
                            field(out, name, value);
                            wrote_len = true;
                            prev_len = Some(n);
                        }
                    }
                    continue;
                }
                // No body: only the length a HEAD's GET would have is kept.
                None if is_head => wrote_len = true,
                None => continue,
            },
            header::TRANSFER_ENCODING => {
                if !can_chunk {
                    continue;
                }
                wrote_len = true;
                framing = Framing::Chunked;
                chunked_last = is_chunked(value.as_bytes());
                join(out, &mut open, name, value);
                continue;
            }
            header::CONNECTION => {
                if has_close(value.as_bytes()) {
                    last = true;
                }
                join(out, &mut open, name, value);
                continue;
            }
            header::TRAILER => {
                if can_chunk {
                    join(out, &mut open, name, value);
                }
                continue;
            }
            header::DATE => wrote_date = true,
            _ => {}
        }
        field(out, name, value);
    }
    if let Some(o) = open {
        end_line(out, o, chunked_last);
    }
    if !wrote_len {
        framing = match length {
            Some(None) if can_chunk => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                Framing::Chunked
            }
            Some(None) => Framing::Close,
            None | Some(Some(0)) => {
                if can_length && !is_head {
                    out.extend_from_slice(b"content-length: 0\r\n");
                }
                Framing::Length(0)
            }
            Some(Some(n)) if can_length => {
                let _ = write!(out, "content-length: {n}\r\n");
                Framing::Length(n)
            }
            Some(Some(_)) => Framing::Length(0),
        };
    }
    if !can_body {
        framing = Framing::Length(0);
    }
    if framing == Framing::Close {
        last = true;
    }
    if !wrote_date {
        out.extend_from_slice(b"date: ");
        push_date(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok((framing, last))
}

/// Response header fields made once (a mock route's, with those every response
/// gets) and their lines as [`encode_head`] writes them, so that a request of the
/// fast path copies them instead of building and writing a `HeaderMap`
/// (callgrind: ~900 instructions a mock-route request, 2026-12-02).
#[derive(Debug)]
pub(crate) struct Fields {
    /// The fields, for hyper (and any other path).
    pub(crate) map: HeaderMap,
    /// `name: value\r\n` lines in the map's order.
    wire: Box<[u8]>,
}

impl Fields {
    /// `map` with its lines, if none of its fields is one that the writing of a
    /// head treats apart (framing, `connection`, `date`) other than one `content-length`.
    pub(crate) fn new(map: HeaderMap) -> Option<Fields> {
        let apart = [
            header::TRANSFER_ENCODING,
            header::CONNECTION,
            header::TRAILER,
            header::DATE,
        ];
        if map.keys().any(|k| apart.contains(k))
            || map.get_all(header::CONTENT_LENGTH).iter().count() != 1
        {
            return None;
        }
        let mut wire = Vec::new();
        for (name, value) in &map {
            field(&mut wire, name, value);
        }
        Some(Fields {
            map,
            wire: wire.into(),
        })
    }
}

/// A value of a field whose values share one line (`open`: the field whose line is open).
fn join<'a>(
    out: &mut Vec<u8>,
    open: &mut Option<&'a HeaderName>,
    name: &'a HeaderName,
    value: &HeaderValue,
) {
    if open.is_some() {
        out.extend_from_slice(b", ");
    } else {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        *open = Some(name);
    }
    out.extend_from_slice(value.as_bytes());
}

/// One `name: value` line.
fn field(out: &mut Vec<u8>, name: &HeaderName, value: &HeaderValue) {
    out.extend_from_slice(name.as_str().as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// End a joined line; a transfer coding list not ending in `chunked` gets it (as hyper).
fn end_line(out: &mut Vec<u8>, name: &HeaderName, chunked_last: bool) {
    if name == header::TRANSFER_ENCODING && !chunked_last {
        out.extend_from_slice(b", chunked");
    }
    out.extend_from_slice(b"\r\n");
}

/// A `Content-Length` value: digits only.
fn content_length(value: &HeaderValue) -> Option<u64> {
    let v = value.as_bytes();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Whether a transfer coding list ends in `chunked`.
fn is_chunked(value: &[u8]) -> bool {
    value
        .rsplit(|&b| b == b',')
        .next()
        .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

thread_local! {
    /// The `date` value of the current second, and that second (hyper caches it too).
    static DATE: Cell<(u64, [u8; 29])> = const { Cell::new((0, [0; 29])) };
}

/// The current time as an HTTP date (`Wed, 02 Dec 2026 07:41:54 GMT`).
fn push_date(out: &mut Vec<u8>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (secs, mut text) = DATE.get();
    if secs != now {
        let fresh = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(now));
        if fresh.len() == text.len() {
            text.copy_from_slice(fresh.as_bytes());
            DATE.set((now, text));
        } else {
            out.extend_from_slice(fresh.as_bytes());
            return;
        }
    }
    out.extend_from_slice(&text);
}

/// Write `out`, then `extra`, to the client (file placeholders by `sendfile`),
/// and flush; `out` is empty afterwards.
async fn write_all(
    io: &mut BoxStream,
    svc: &Svc,
    out: &mut Vec<u8>,
    extra: &[u8],
) -> io::Result<()> {
    if out.is_empty() && extra.is_empty() {
        return Ok(());
    }
    let (mut a, mut b) = (0, 0);
    std::future::poll_fn(|cx| {
        while a < out.len() || b < extra.len() {
            let bufs = [IoSlice::new(&out[a..]), IoSlice::new(&extra[b..])];
            let n = std::task::ready!(poll_write(io, Some(&svc.activity), cx, &bufs))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero)));
            }
            let from_out = n.min(out.len() - a);
            a += from_out;
            b += n - from_out;
        }
        Poll::Ready(Ok(()))
    })
    .await?;
    out.clear();
    io.flush().await
}
