//! The generator's own HTTP/1.1 client: each target's request is serialised once
//! and written as it is; answers are parsed with httparse straight from one read
//! buffer per thread, their bodies counted and dropped, so a connection holds no
//! buffer of its own between reads. Against hyper's client conn (a Request built
//! per call, a conn task and buffers per connection) it took the generator from
//! 42,200 to 10,400 instructions per request (callgrind) and ~28 KB to 2.6 KB of RSS per connection.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The longest answer head (or chunk-size line, or trailer line) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The most header fields in an answer head.
const MAX_FIELDS: usize = 100;

thread_local! {
    /// Every connection of a thread reads into this buffer (one at a time: the
    /// thread's runtime runs one task at once and no borrow crosses an await).
    static READ_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; 64 * 1024].into_boxed_slice());
}

/// One request, ready to write.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The request line, the header fields and the body, as they go on the wire.
    pub bytes: bytes::Bytes,
    /// A HEAD request: its answer has no body whatever its head says.
    pub head: bool,
}

impl Request {
    /// Serialise `req` (origin-form URI, `Host` among its headers) once.
    pub fn new(req: &http::Request<http_body_util::Full<bytes::Bytes>>, body: &[u8]) -> Request {
        let mut out = Vec::with_capacity(128 + body.len());
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        out.extend_from_slice(req.method().as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in req.headers() {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        Request {
            bytes: out.into(),
            head: req.method() == http::Method::HEAD,
        }
    }
}

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server closed the connection before sending a byte of the answer
    /// (on a kept-alive connection: it closed it while idle; send again on a new one).
    Closed,
    /// The connection broke, or the answer was not HTTP/1.x.
    Broken(String),
}

/// Where the parser is in an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Head,
    /// A `Content-Length` body: bytes still to come.
    Body(u64),
    ChunkSize,
    /// Bytes of the current chunk still to come.
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    Trailers,
    /// No length given: the body ends when the server closes.
    UntilClose,
    Done,
}

/// A keep-alive HTTP/1.1 connection: the stream and where its answer stands.
pub(crate) struct Conn<S> {
    io: S,
    part: Part,
    status: u16,
    /// The server keeps the connection open after this answer.
    keep_alive: bool,
    /// A head or line split across reads waits here for the rest (almost always empty).
    partial: Vec<u8>,
    /// A request has been answered on it (a close before the next answer is not an error).
    pub reused: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(io: S) -> Self {
        Conn {
            io,
            part: Part::Done,
            status: 0,
            keep_alive: true,
            partial: Vec::new(),
            reused: false,
        }
    }

    /// Whether another request may be sent on this connection.
    pub fn open(&self) -> bool {
        self.keep_alive
    }

    /// Send `req` and read its whole answer; its status. `read` counts the bytes read.
    pub async fn exchange(&mut self, req: &Request, read: &Cell<u64>) -> Result<u16, Failure> {
        let broken = |e: std::io::Error| Failure::Broken(e.to_string());
        self.io.write_all(&req.bytes).await.map_err(broken)?;
        self.io.flush().await.map_err(broken)?;
        self.part = Part::Head;
        self.status = 0;
        self.partial.clear();
        let mut got_any = false;
        let head_request = req.head;
        poll_fn(|cx| {
            loop {
                let step = READ_BUF.with_borrow_mut(|buf| {
                    let mut rb = ReadBuf::new(buf);
                    match Pin::new(&mut self.io).poll_read(cx, &mut rb) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(Err(e)) => Poll::Ready(Some(Err(broken(e)))),
                        Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                            Poll::Ready(Some(self.eof(got_any)))
                        }
                        Poll::Ready(Ok(())) => {
                            let data = rb.filled();
                            got_any = true;
                            read.set(read.get() + data.len() as u64);
                            Poll::Ready(match self.feed(data, head_request) {
                                Ok(true) => Some(Ok(self.status)),
                                Ok(false) => None,
                                Err(why) => Some(Err(Failure::Broken(why))),
                            })
                        }
                    }
                });
                match step {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(done)) => {
                        if done.is_err() {
                            self.keep_alive = false;
                        }
                        self.reused = true;
                        return Poll::Ready(done);
                    }
                    Poll::Ready(None) => {}
                }
            }
        })
        .await
    }

    /// The server closed its side.
    fn eof(&mut self, got_any: bool) -> Result<u16, Failure> {
        self.keep_alive = false;
        match self.part {
            Part::UntilClose => Ok(self.status),
            Part::Head if !got_any && self.partial.is_empty() => Err(Failure::Closed),
            _ => Err(Failure::Broken(
                "the server closed the connection in the middle of an answer".to_string(),
            )),
        }
    }

    /// Take `data` read from the server; true when the answer is complete.
    fn feed(&mut self, data: &[u8], head_request: bool) -> Result<bool, String> {
        if self.partial.is_empty() {
            let used = self.parse(data, head_request)?;
            if self.part != Part::Done {
                self.stash(&data[used..])?;
            }
            return self.finish(data.len() - used);
        }
        let mut joined = std::mem::take(&mut self.partial);
        joined.extend_from_slice(data);
        let used = self.parse(&joined, head_request)?;
        if self.part != Part::Done {
            self.stash(&joined[used..])?;
        }
        self.finish(joined.len() - used)
    }

    fn stash(&mut self, rest: &[u8]) -> Result<(), String> {
        if rest.len() > MAX_HEAD {
            return Err(format!(
                "an answer head or chunk line longer than {} KiB",
                MAX_HEAD / 1024
            ));
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    fn finish(&self, left: usize) -> Result<bool, String> {
        match (self.part, left) {
            (Part::Done, 0) => Ok(true),
            (Part::Done, n) => Err(format!(
                "the server sent {n} bytes after the end of the answer"
            )),
            _ => Ok(false),
        }
    }

    /// Parse as much of `buf` as makes whole units; the bytes used (the rest is an
    /// incomplete head or line, or follows the answer).
    fn parse(&mut self, buf: &[u8], head_request: bool) -> Result<usize, String> {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            match self.part {
                Part::Done => return Ok(pos),
                Part::Head => match self.head(rest, head_request)? {
                    Some(n) => pos += n,
                    None => return Ok(pos),
                },
                Part::Body(left) | Part::ChunkData(left) => {
                    let n = left.min(rest.len() as u64);
                    pos += n as usize;
                    let left = left - n;
                    self.part = match (self.part, left) {
                        (Part::Body(_), 0) => Part::Done,
                        (Part::Body(_), _) => Part::Body(left),
                        (_, 0) => Part::ChunkEnd,
                        _ => Part::ChunkData(left),
                    };
                    if left > 0 {
                        return Ok(pos);
                    }
                }
                Part::ChunkSize => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((n, 0))) => {
                        pos += n;
                        self.part = Part::Trailers;
                    }
                    Ok(httparse::Status::Complete((n, size))) => {
                        pos += n;
                        self.part = Part::ChunkData(size);
                    }
                    Ok(httparse::Status::Partial) => return Ok(pos),
                    Err(_) => return Err("a malformed chunk size in a chunked answer".into()),
                },
                Part::ChunkEnd => {
                    if rest.len() < 2 {
                        return Ok(pos);
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err("a chunk of a chunked answer is longer than its size".into());
                    }
                    pos += 2;
                    self.part = Part::ChunkSize;
                }
                Part::Trailers => match memchr::memmem::find(rest, b"\r\n") {
                    Some(0) => {
                        pos += 2;
                        self.part = Part::Done;
                    }
                    Some(n) => pos += n + 2,
                    None => return Ok(pos),
                },
                Part::UntilClose => return Ok(buf.len()),
            }
        }
    }

    /// Parse an answer head at the start of `buf`: its length, or `None` when incomplete.
    fn head(&mut self, buf: &[u8], head_request: bool) -> Result<Option<usize>, String> {
        // Uninitialised fields: filling 100 empty ones cost ~900 instructions a request (callgrind).
        let mut fields = [const { std::mem::MaybeUninit::uninit() }; MAX_FIELDS];
        let mut res = httparse::Response::new(&mut []);
        let config = httparse::ParserConfig::default();
        let n = match config.parse_response_with_uninit_headers(&mut res, buf, &mut fields) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(format!("a malformed answer head ({e})")),
        };
        let status = res.code.unwrap_or(0);
        if (100..200).contains(&status) {
            if status == 101 {
                return Err("the server switched protocols (101), not an HTTP/1.1 answer".into());
            }
            return Ok(Some(n)); // an interim answer: the final one follows
        }
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut keep_alive = res.version == Some(1);
        for f in res.headers.iter() {
            if f.name.eq_ignore_ascii_case("content-length") {
                let v = std::str::from_utf8(f.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or("an answer with a malformed Content-Length")?;
                if length.is_some_and(|l| l != v) {
                    return Err("an answer with two different Content-Lengths".into());
                }
                length = Some(v);
            } else if f.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = f
                    .value
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if f.name.eq_ignore_ascii_case("connection") {
                for token in f.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if token.eq_ignore_ascii_case(b"close") {
                        keep_alive = false;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") && res.version == Some(0) {
                        keep_alive = true;
                    }
                }
            }
        }
        self.status = status;
        self.keep_alive = keep_alive;
        self.part = if head_request || status == 204 || status == 304 {
            Part::Done
        } else if chunked {
            Part::ChunkSize
        } else {
            match length {
                Some(0) => Part::Done,
                Some(l) => Part::Body(l),
                None => {
                    self.keep_alive = false;
                    Part::UntilClose
                }
            }
        };
        Ok(Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `answer` in pieces of `step` bytes; the status, or the error.
    fn answer(answer: &[u8], step: usize, head: bool) -> Result<(u16, bool), String> {
        let mut c = Conn::new(tokio::io::duplex(64).0);
        c.part = Part::Head;
        for piece in answer.chunks(step) {
            if c.feed(piece, head)? {
                return Ok((c.status, c.keep_alive));
            }
        }
        match c.eof(true) {
            Ok(s) => Ok((s, c.keep_alive)),
            Err(Failure::Broken(why)) => Err(why),
            Err(Failure::Closed) => Err("closed".into()),
        }
    }

    #[test]
    fn content_length_chunked_and_close_delimited_answers_in_any_pieces() {
        let cl = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n";
        let close = b"HTTP/1.0 200 OK\r\n\r\nall of it";
        let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        for step in [1, 2, 3, 7, 1000] {
            assert_eq!(answer(cl, step, false), Ok((200, true)));
            assert_eq!(answer(chunked, step, false), Ok((201, true)));
            assert_eq!(answer(close, step, false), Ok((200, false)));
            assert_eq!(answer(interim, step, false), Ok((204, true)));
        }
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n";
        assert_eq!(answer(head, 4, true), Ok((200, false)));
    }

    #[test]
    fn broken_answers_are_named() {
        let bad = |a: &[u8]| answer(a, 1000, false).unwrap_err();
        assert!(bad(b"SSH-2.0-OpenSSH\r\n\r\n").contains("malformed answer head"));
        assert!(bad(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhi").contains("middle"));
        assert!(bad(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").contains("Content-Length"));
        assert!(bad(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab").contains("after the end"));
        let chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n";
        assert!(bad(chunk).contains("longer than its size"));
        assert!(bad(b"HTTP/1.1 101 Switching\r\n\r\n").contains("101"));
    }
}
