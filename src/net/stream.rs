//! The tap every connection passes through: byte counts each way, the hex dump,
//! and the idle timeout, in one wrapper so servers and clients share it.

use super::dump::{Direction, Dump};
use super::session::Session;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// Any byte stream a connection can be: plain TCP, TLS, or a test double.
/// (`Any`, so that a server can find the plain TCP stream under a `BoxStream`
/// and `sendfile` to it.)
pub trait AsyncStream: AsyncRead + AsyncWrite + Send + Unpin + std::any::Any {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncStream for T {}

/// A connection's stream, whatever is under it.
pub type BoxStream = Box<dyn AsyncStream>;

/// Bytes received from and sent to the peer, readable while the connection runs.
#[derive(Debug, Default)]
pub struct Meter {
    /// Bytes received from the peer.
    pub received: AtomicU64,
    /// Bytes sent to the peer.
    pub sent: AtomicU64,
}

impl Meter {
    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
    /// Bytes sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

struct Idle {
    limit: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
}

impl Idle {
    /// Ready(error) once nothing has moved for `limit`. The timer is re-armed lazily
    /// from `last` so a busy stream costs a clock read, not a timer reset, per chunk.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            ready!(self.timer.as_mut().poll(cx));
            let deadline = self.last + self.limit;
            if Instant::now() >= deadline {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("idle for {:?} (--idle-timeout)", self.limit),
                ));
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

/// Wraps a stream to count, dump and time out.
pub struct Tap<S> {
    inner: S,
    meter: Arc<Meter>,
    idle: Option<Idle>,
    /// TCP_CORK is on (see `Tap::cork`).
    corked: bool,
    /// Where every byte is also recorded, if anywhere. Boxed: rarely asked for,
    /// and every idle connection of a server would carry room for it (96 bytes).
    record: Option<Box<Record>>,
}

/// The copies a [`Tap`] makes of every byte.
#[derive(Default)]
struct Record {
    /// The hex dump, and the peer its lines name.
    dump: Option<(Dump, SocketAddr)>,
    /// `-o`: the session's bytes, both ways.
    session: Option<Session>,
}

impl<S: AsyncStream> Tap<S> {
    /// Wrap `inner` (connected to `peer`), dumping to `dump` and failing after `idle` without traffic.
    pub fn new(inner: S, peer: SocketAddr, dump: Option<Dump>, idle: Option<Duration>) -> Self {
        Tap {
            inner,
            meter: Arc::new(Meter::default()),
            idle: idle.map(|limit| Idle {
                limit,
                last: Instant::now(),
                timer: Box::pin(tokio::time::sleep(limit)),
            }),
            corked: false,
            record: dump.map(|dump| {
                Box::new(Record {
                    dump: Some((dump, peer)),
                    session: None,
                })
            }),
        }
    }

    /// Also record every byte, both ways, to `session` (`-o`).
    pub fn with_session(mut self, session: Option<Session>) -> Self {
        if let Some(session) = session {
            self.record.get_or_insert_default().session = Some(session);
        }
        self
    }

    /// The counters, to read while the stream is in use elsewhere.
    pub fn meter(&self) -> Arc<Meter> {
        self.meter.clone()
    }

    /// The wrapped stream (for socket options such as SO_LINGER).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    fn moved(&mut self, dir: Direction, data: &[u8]) {
        let counter = match dir {
            Direction::In => &self.meter.received,
            Direction::Out => &self.meter.sent,
        };
        let offset = counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        if let Some(record) = &self.record {
            if let Some((dump, peer)) = &record.dump {
                dump.record(dir, *peer, offset, data);
            }
            if let Some(session) = &record.session {
                session.record(data);
            }
        }
        if let Some(idle) = &mut self.idle {
            idle.last = Instant::now();
        }
    }

    /// `n` bytes went out without passing through [`Tap::moved`] (vectored or
    /// `sendfile` writes, never dumped).
    fn sent(&mut self, n: usize) {
        self.meter.sent.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(idle) = &mut self.idle {
            idle.last = Instant::now();
        }
    }

    /// The inner stream is not ready: stay pending, or fail once the idle timeout has passed.
    fn waiting<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match &mut self.idle {
            Some(idle) => idle.poll_expired(cx).map(Err),
            None => Poll::Pending,
        }
    }
}

impl<S: AsyncStream> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let filled = &buf.filled()[before..];
                if !filled.is_empty() {
                    this.moved(Direction::In, filled);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => this.waiting(cx),
            other => other,
        }
    }
}

impl<S: AsyncStream> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.moved(Direction::Out, &buf[..n]);
                Poll::Ready(Ok(n))
            }
            Poll::Pending => this.waiting(cx),
            other => other,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.record.is_some() {
            // The dump wants contiguous chunks; write the first non-empty slice.
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &**b);
            return self.poll_write(cx, first);
        }
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                this.sent(n);
                Poll::Ready(Ok(n))
            }
            Poll::Pending => this.waiting(cx),
            other => other,
        }
    }

    crate::forward::forward_write!(inner);
}

/// A file offset for the C API, or an error where `off_t` is too small (32-bit systems).
pub(crate) fn off_t(offset: u64) -> io::Result<libc::off_t> {
    libc::off_t::try_from(offset).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("file offset {offset} is too large for this system"),
        )
    })
}

impl Tap<TcpStream> {
    /// Whether [`Tap::poll_sendfile`] may be used: the dump wants to see every byte.
    pub fn can_sendfile(&self) -> bool {
        self.record.as_ref().is_none_or(|r| r.dump.is_none())
    }

    /// Hold back partial frames until [`Tap::uncork`] (`TCP_CORK`): a response head
    /// then leaves in the same full-sized segments as the file data after it.
    pub fn cork(&mut self) {
        if !self.corked {
            self.corked = socket2::SockRef::from(&self.inner)
                .set_tcp_cork(true)
                .is_ok();
        }
    }

    /// Let partial frames go again (`TCP_CORK` off), sending what was held back.
    pub fn uncork(&mut self) {
        if self.corked {
            self.corked = false;
            let _ = socket2::SockRef::from(&self.inner).set_tcp_cork(false);
        }
    }

    /// Whether [`Tap::poll_discard`] may be used: nothing wants to see the bytes.
    pub fn can_discard(&self) -> bool {
        cfg!(target_os = "linux") && self.record.is_none()
    }

    /// Receive and drop up to `len` bytes, counted as received; Ready(0) at EOF.
    /// On Linux `recv(MSG_TRUNC)` makes TCP drop them in the kernel, without the
    /// copy to user space (see `tcp listen --discard` in bench/RESULTS.md).
    #[cfg(target_os = "linux")]
    pub fn poll_discard(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<usize>> {
        use std::os::fd::AsRawFd;
        loop {
            match self.inner.poll_read_ready(cx) {
                Poll::Ready(r) => r?,
                Poll::Pending => return self.waiting(cx),
            }
            let got = self.inner.try_io(tokio::io::Interest::READABLE, || {
                // SAFETY: the descriptor is open; with MSG_TRUNC, TCP writes nothing to the (null) buffer.
                let n = unsafe {
                    libc::recv(
                        self.inner.as_raw_fd(),
                        std::ptr::null_mut(),
                        len,
                        libc::MSG_TRUNC,
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match got {
                Ok(n) => {
                    self.meter.received.fetch_add(n as u64, Ordering::Relaxed);
                    if let Some(idle) = &mut self.idle {
                        idle.last = Instant::now();
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Send up to `len` bytes of `file` from `offset` with `sendfile(2)`: file pages go
    /// to the socket without passing through user memory. Ready(0) means the file
    /// ended early.
    pub fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: &std::fs::File,
        offset: u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        use std::os::fd::AsRawFd;
        loop {
            match self.inner.poll_write_ready(cx) {
                Poll::Ready(r) => r?,
                Poll::Pending => return self.waiting(cx),
            }
            let sent = self.inner.try_io(tokio::io::Interest::WRITABLE, || {
                let mut off = off_t(offset)?;
                // SAFETY: both descriptors are open for the call; `off` is a valid pointer.
                let n = unsafe {
                    libc::sendfile(self.inner.as_raw_fd(), file.as_raw_fd(), &mut off, len)
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match sent {
                Ok(n) => {
                    self.sent(n);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Read what is there into a per-thread scratch buffer and return an exact-size copy.
/// A connection waiting here holds no read buffer of its own, so thousands of idle
/// clients cost little memory; the copy is cheap beside a socket read. Empty means EOF.
pub(crate) async fn read_chunk<R: AsyncRead + Unpin + ?Sized>(
    rd: &mut R,
) -> io::Result<bytes::Bytes> {
    std::future::poll_fn(|cx| poll_chunk(rd, cx)).await
}

/// [`read_chunk`] as a poll, for a caller that holds no future per stream.
pub(crate) fn poll_chunk<R: AsyncRead + Unpin + ?Sized>(
    rd: &mut R,
    cx: &mut Context<'_>,
) -> Poll<io::Result<bytes::Bytes>> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 64 * 1024]);
    }
    SCRATCH.with_borrow_mut(|scratch| {
        let mut buf = ReadBuf::new(scratch);
        match Pin::new(&mut *rd).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(bytes::Bytes::copy_from_slice(buf.filled()))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
}
