//! The TLS stream the listener and the connector hand out, client or server side.

use super::errors::explain_late_error;
use rustls::pki_types::CertificateDer;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tracing::debug;

/// A TLS stream, client or server side. A peer that closes the TCP connection
/// without a TLS close_notify (Python's `ssl` sockets, many servers) reads as an
/// ordinary end of stream, as ncat and socat treat it; it is logged at debug level.
pub struct TlsStream<S> {
    inner: tokio_rustls::TlsStream<S>,
}

impl<S> From<tokio_rustls::TlsStream<S>> for TlsStream<S> {
    fn from(inner: tokio_rustls::TlsStream<S>) -> Self {
        TlsStream { inner }
    }
}

impl<S> TlsStream<S> {
    fn common(&self) -> &rustls::CommonState {
        match &self.inner {
            tokio_rustls::TlsStream::Client(s) => s.get_ref().1,
            tokio_rustls::TlsStream::Server(s) => s.get_ref().1,
        }
    }

    /// The negotiated ALPN protocol, e.g. `b"h2"`.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.common().alpn_protocol()
    }

    /// `TLSv1.3` or `TLSv1.2`.
    pub fn version(&self) -> Option<&'static str> {
        self.common().protocol_version().map(version_name)
    }

    /// The negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub fn cipher(&self) -> Option<String> {
        self.common()
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
    }

    /// The peer's certificates (the client's, on a server with `--client-ca`).
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.common().peer_certificates()
    }

    /// The tokio-rustls stream underneath, for what this wrapper does not expose.
    pub fn get_ref(&self) -> &tokio_rustls::TlsStream<S> {
        &self.inner
    }
}

/// `TLSv1.3` for `TLSv1_3`: the names openssl prints.
pub fn version_name(v: rustls::ProtocolVersion) -> &'static str {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        _ => "unknown",
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                debug!(
                    "peer closed without TLS close_notify; treating it as the end of the stream"
                );
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(explain_late_error(e))),
            other => other,
        }
    }
}

/// Writes, flushes and shutdowns forward to rustls; a refusal that the server
/// sent as an alert (a client certificate refused after a TLS 1.3 handshake)
/// surfaces on whichever call meets it first, so each one explains it.
impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner)
            .poll_write(cx, buf)
            .map_err(explain_late_error)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner)
            .poll_write_vectored(cx, bufs)
            .map_err(explain_late_error)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner)
            .poll_flush(cx)
            .map_err(explain_late_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner)
            .poll_shutdown(cx)
            .map_err(explain_late_error)
    }
}
