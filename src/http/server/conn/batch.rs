//! HTTP/2 writes gathered per turn of the connection.
//!
//! h2 writes and flushes every DATA frame on its own: one `writev` (and, over
//! TLS, one record) per 1 KiB response, where nginx sends the ten answers of a
//! client's burst at once. Below h2, [`Batched`] keeps what h2 writes in one
//! buffer and treats h2's flushes as no-ops; the connection's driver sends the
//! buffer once h2 has done all it can in a poll ([`Drain`]), and writes also go
//! out as soon as the buffer is full, so nothing waits for more than one poll.

use crate::net::BoxStream;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes gathered before they are sent without waiting for the poll to end.
const CAP: usize = 64 * 1024;

/// Writes this large (a full DATA frame of a big file) are not copied: what was
/// gathered goes first, then they go as they are. Copying them cost more than
/// the system calls it saved (callgrind counts glibc's `rep movsb` per byte, so
/// this is judged by CPU time: bench/RESULTS.md).
const DIRECT: usize = 4 * 1024;

struct State {
    io: BoxStream,
    /// Bytes written by h2 and not yet sent; `out[at..]` is still to go.
    out: Vec<u8>,
    at: usize,
    /// Written to since the last flush of `io` (TLS may hold records of a
    /// direct write until flushed).
    dirty: bool,
    /// While set, h2's flushes leave the buffer to the driver; cleared for the
    /// connection's shutdown, when the driver no longer drains after each poll.
    hold: bool,
}

impl State {
    /// Send the whole buffer.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.at < self.out.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.out[self.at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.at += n;
        }
        self.out.clear();
        self.at = 0;
        Poll::Ready(Ok(()))
    }
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> MutexGuard<'_, State> {
    // Every update leaves the state whole (a length, then a position): a panic
    // elsewhere cannot leave it half done.
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// The stream h2 reads and writes: `io` with its writes gathered.
pub(crate) struct Batched(Shared);

/// The driver's handle: sends what h2 wrote during a poll.
pub(crate) struct Drain(Shared);

/// `io` as h2's stream, and the handle that sends its gathered writes.
pub(crate) fn new(io: BoxStream) -> (Batched, Drain) {
    let s = Arc::new(Mutex::new(State {
        io,
        out: Vec::new(),
        at: 0,
        dirty: false,
        hold: true,
    }));
    (Batched(s.clone()), Drain(s))
}

impl Drain {
    /// Send what has been gathered, and flush the stream (TLS records).
    pub(crate) fn poll_send(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = lock(&self.0);
        if !s.dirty {
            return Poll::Ready(Ok(()));
        }
        ready!(s.poll_send(cx))?;
        ready!(Pin::new(&mut s.io).poll_flush(cx))?;
        s.dirty = false;
        Poll::Ready(Ok(()))
    }

    /// From now on h2's flushes send at once (the driver stops draining).
    pub(crate) fn release(&self) {
        lock(&self.0).hold = false;
    }
}

impl AsyncRead for Batched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(&self.0).io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Batched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut s = lock(&self.0);
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        s.dirty = true;
        if (total >= DIRECT || s.out.len() + total > CAP) && !s.out.is_empty() {
            ready!(s.poll_send(cx))?;
        }
        if total >= DIRECT {
            return Pin::new(&mut s.io).poll_write_vectored(cx, bufs);
        }
        for b in bufs {
            s.out.extend_from_slice(b);
        }
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = lock(&self.0);
        if s.hold {
            return Poll::Ready(Ok(()));
        }
        ready!(s.poll_send(cx))?;
        Pin::new(&mut s.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = lock(&self.0);
        ready!(s.poll_send(cx))?;
        Pin::new(&mut s.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn writes_wait_for_the_drain_then_go_in_order() {
        let (server, mut client) = tokio::io::duplex(1 << 20);
        let (mut b, drain) = new(Box::new(server));
        b.write_all(b"one ").await.unwrap();
        b.flush().await.unwrap();
        b.write_all(b"two").await.unwrap();
        let mut got = [0u8; 7];
        // Nothing has gone yet: h2's flush is left to the driver.
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(50), client.read(&mut got)).await;
        assert!(early.is_err(), "sent before the drain");
        std::future::poll_fn(|cx| drain.poll_send(cx))
            .await
            .unwrap();
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"one two");
        // A large write goes out at once, after what was gathered.
        b.write_all(b"x").await.unwrap();
        let big = vec![7u8; DIRECT];
        b.write_all(&big).await.unwrap();
        let mut all = vec![0u8; DIRECT + 1];
        client.read_exact(&mut all).await.unwrap();
        assert_eq!(all[0], b'x');
        assert!(all[1..].iter().all(|&c| c == 7));
        // Released (shutdown): a flush sends at once.
        drain.release();
        b.write_all(b"end").await.unwrap();
        b.flush().await.unwrap();
        let mut end = [0u8; 3];
        client.read_exact(&mut end).await.unwrap();
        assert_eq!(&end, b"end");
    }
}
