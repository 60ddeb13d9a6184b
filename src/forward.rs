//! The one pass-through of `AsyncWrite` that every wrapper stream shares (the
//! tap in `net::stream`, `tls::TlsStream`, the HTTP server's prefixed stream):
//! each wrapper writes out only the methods it changes and forwards the rest
//! to its inner stream with [`forward_write!`]. A macro, not a generic wrapper
//! type, so the forwarding is inlined into each impl: no extra boxing and no
//! dynamic dispatch on the hot path.

/// Inside an `impl AsyncWrite for Wrapper`, forward methods to `self.$field`
/// (which must be `AsyncWrite + Unpin`):
/// - `forward_write!(field)`: `poll_flush`, `poll_shutdown` and `is_write_vectored`;
/// - `forward_write!(field, writes)`: those and `poll_write`, `poll_write_vectored`.
macro_rules! forward_write {
    ($field:ident) => {
        fn poll_flush(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            ::tokio::io::AsyncWrite::poll_flush(::std::pin::Pin::new(&mut self.$field), cx)
        }

        fn poll_shutdown(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            ::tokio::io::AsyncWrite::poll_shutdown(::std::pin::Pin::new(&mut self.$field), cx)
        }

        fn is_write_vectored(&self) -> bool {
            ::tokio::io::AsyncWrite::is_write_vectored(&self.$field)
        }
    };
    ($field:ident, writes) => {
        fn poll_write(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            buf: &[u8],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            ::tokio::io::AsyncWrite::poll_write(::std::pin::Pin::new(&mut self.$field), cx, buf)
        }

        fn poll_write_vectored(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            bufs: &[::std::io::IoSlice<'_>],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            ::tokio::io::AsyncWrite::poll_write_vectored(
                ::std::pin::Pin::new(&mut self.$field),
                cx,
                bufs,
            )
        }

        $crate::forward::forward_write!($field);
    };
}

pub(crate) use forward_write;
