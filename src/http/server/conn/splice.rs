//! Zero-copy file bodies for plain HTTP/1.1: the kernel moves file pages to the
//! socket with `sendfile(2)`, as nginx does, instead of `pread` into memory and
//! `writev` out again (two copies of every byte).
//!
//! hyper owns the socket, so a file body hands it *placeholder* bytes: slices of
//! one static zeroed block that nothing ever reads. Each placeholder chunk is
//! matched by a [`Splice`] (file, offset, length) queued on the connection. With
//! vectored writes hyper never copies body bytes, so the placeholders reach the
//! connection's writer ([`crate::http::server::conn::Prefixed`]) as they were given; the writer
//! recognises them by address and calls `sendfile` in their place. A placeholder
//! without its splice is an error that closes the connection, never a write of
//! zeros.

use crate::net::BoxStream;
use crate::net::stream::Tap;
use std::any::Any;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

/// The largest placeholder chunk (one `sendfile` call at most).
pub(crate) const MAX: usize = 1 << 20;
/// File pieces smaller than this are read and written as usual: for them a
/// copy costs less than the extra system call.
pub(crate) const MIN: u64 = 64 * 1024;

/// Never read: its address marks bytes that `sendfile` sends instead.
static PLACEHOLDER: [u8; MAX] = [0; MAX];

/// The placeholder for `len` bytes (at most [`MAX`]).
pub(crate) fn placeholder(len: usize) -> bytes::Bytes {
    bytes::Bytes::from_static(&PLACEHOLDER[..len.min(MAX)])
}

fn is_placeholder(buf: &[u8]) -> bool {
    let start = PLACEHOLDER.as_ptr() as usize;
    let p = buf.as_ptr() as usize;
    !buf.is_empty() && p >= start && p < start + MAX
}

/// The error for a file that ended before the length its response announced.
pub(crate) fn shrank() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being sent")
}

/// A piece of a file waiting to be sent in place of a placeholder chunk.
pub(crate) struct Splice {
    /// The open file.
    pub(crate) file: Arc<File>,
    /// Where the next byte to send is.
    pub(crate) offset: u64,
    /// Bytes still to send; equal to the placeholder's length.
    pub(crate) len: usize,
}

/// The splices of one connection, in the order their placeholders were handed to hyper.
#[derive(Default)]
pub(crate) struct Splices {
    queue: Mutex<VecDeque<Splice>>,
}

impl Splices {
    /// Queue the piece for the placeholder just handed to hyper.
    pub(crate) fn push(&self, s: Splice) {
        self.lock().push_back(s);
    }

    /// Forget pieces of a response that will never be written (a new hyper connection).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Splice>> {
        // Each update is one VecDeque call: a panic cannot leave it half done.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The plain TCP stream under `io`, if that is what it is.
fn tcp(io: &mut BoxStream) -> Option<&mut Tap<TcpStream>> {
    (&mut **io as &mut dyn Any).downcast_mut::<Tap<TcpStream>>()
}

/// Whether `io` is a plain TCP stream that `sendfile` can write to (no TLS, no dump).
pub(crate) fn supported(io: &BoxStream) -> bool {
    io.is_write_vectored()
        && (&**io as &dyn Any)
            .downcast_ref::<Tap<TcpStream>>()
            .is_some_and(Tap::can_sendfile)
}

/// Write `bufs` to `io`: ordinary slices as they are, placeholder slices by
/// `sendfile` from the splice queued for them.
pub(crate) fn poll_write(
    io: &mut BoxStream,
    splices: &Splices,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    let Some(k) = bufs.iter().position(|b| is_placeholder(b)) else {
        return Pin::new(&mut **io).poll_write_vectored(cx, bufs);
    };
    let out_of_step = || io::Error::other("zero-copy file body out of step with its placeholders");
    let Some(tap) = tcp(io) else {
        return Poll::Ready(Err(out_of_step()));
    };
    // Corked (as nginx's tcp_nopush): the head shares segments with the file data,
    // and the data leaves in full segments pushed from here rather than from the
    // client's ACKs (measured: the client's CPU per 1 MiB response fell to nginx's).
    tap.cork();
    if bufs[..k].iter().any(|b| !b.is_empty()) {
        // Ordinary bytes (the head, multipart boundaries) before the placeholder go first.
        return Pin::new(tap).poll_write_vectored(cx, &bufs[..k]);
    }
    let mut queue = splices.lock();
    let Some(splice) = queue.front_mut() else {
        return Poll::Ready(Err(out_of_step()));
    };
    if splice.len != bufs[k].len() {
        return Poll::Ready(Err(out_of_step()));
    }
    let n = std::task::ready!(tap.poll_sendfile(cx, &splice.file, splice.offset, splice.len))?;
    if n == 0 {
        return Poll::Ready(Err(shrank()));
    }
    splice.offset += n as u64;
    splice.len -= n;
    if splice.len == 0 {
        queue.pop_front();
        tap.uncork();
    }
    Poll::Ready(Ok(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tokio::io::AsyncReadExt;

    /// A connected pair: the server side as a plain-TCP `BoxStream`, and the client.
    async fn pair() -> (BoxStream, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, peer) = l.accept().await.unwrap();
        (Box::new(Tap::new(server, peer, None, None)), client)
    }

    fn write_all<'a>(
        io: &'a mut BoxStream,
        splices: &'a Splices,
        mut bufs: Vec<&'a [u8]>,
    ) -> impl std::future::Future<Output = io::Result<()>> + 'a {
        std::future::poll_fn(move |cx| {
            while !bufs.is_empty() {
                let slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
                let mut n = std::task::ready!(poll_write(io, splices, cx, &slices))?;
                while n > 0 {
                    let take = n.min(bufs[0].len());
                    bufs[0] = &bufs[0][take..];
                    n -= take;
                    if bufs[0].is_empty() {
                        bufs.remove(0);
                    }
                }
            }
            Poll::Ready(Ok(()))
        })
    }

    #[test]
    fn placeholders_are_known_by_address() {
        assert!(is_placeholder(&placeholder(10)));
        assert!(is_placeholder(&placeholder(MAX)[MAX - 1..]));
        assert!(!is_placeholder(&[0u8; 16]));
        assert!(!is_placeholder(&placeholder(0)));
    }

    #[tokio::test]
    async fn file_pieces_replace_their_placeholders() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&data).unwrap();
        let file = Arc::new(file);
        let (mut io, mut client) = pair().await;
        assert!(supported(&io));
        let splices = Splices::default();
        splices.push(Splice {
            file: file.clone(),
            offset: 1000,
            len: 200_000,
        });
        let p = placeholder(200_000);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            got
        });
        write_all(&mut io, &splices, vec![b"head:", &p, b":tail"])
            .await
            .unwrap();
        drop(io);
        let got = reader.await.unwrap();
        let mut want = b"head:".to_vec();
        want.extend_from_slice(&data[1000..201_000]);
        want.extend_from_slice(b":tail");
        assert!(got == want, "got {} bytes", got.len());
    }

    #[tokio::test]
    async fn a_placeholder_without_its_piece_is_an_error_not_zeros() {
        let (mut io, mut client) = pair().await;
        let splices = Splices::default();
        let p = placeholder(100);
        let err = write_all(&mut io, &splices, vec![&p]).await.unwrap_err();
        assert!(err.to_string().contains("out of step"), "{err}");
        drop(io);
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert!(got.is_empty(), "nothing may be sent: {got:?}");
    }
}
