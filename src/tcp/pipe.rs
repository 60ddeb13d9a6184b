//! Moving bytes between a connection and its input and output: stdin, fixed
//! bytes, zeros; stdout, nowhere; with half-close, as ncat does.

use crate::net::stdio::{CHUNK, StdoutWriter, stdin_chunks};
use crate::net::stream::AsyncStream;
use anyhow::{Context, Result};
use bytes::{Bytes, BytesMut};
use std::io::{self, IsTerminal};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What goes to the peer.
#[derive(Debug, Clone)]
pub enum Input {
    /// Nothing: receive only.
    Nothing,
    /// stdin, read on its own thread (optionally LF → CRLF).
    Stdin {
        /// Turn LF into CRLF.
        crlf: bool,
    },
    /// Fixed bytes (`--send`, `--reply`).
    Bytes(Bytes),
    /// This many zero bytes, for throughput tests.
    Zeros(u64),
}

/// Where the peer's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Not read at all: send only.
    Ignore,
    /// Read and thrown away (still counted by the tap).
    Discard,
    /// Written to stdout in order.
    Stdout,
}

/// Move bytes both ways until both are done: the input ended (then the write side
/// is shut down, a half-close, unless `keep_open`) and the peer closed its side.
/// When the peer closes first and stdin is a terminal, stop waiting for typing.
pub async fn pipe<S: AsyncStream>(
    stream: S,
    input: Input,
    output: Output,
    keep_open: bool,
) -> Result<()> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let send_only = output == Output::Ignore;
    let interactive = matches!(input, Input::Stdin { .. }) && std::io::stdin().is_terminal();
    let upload = async move {
        if let Err(e) = send(&mut wr, input).await {
            // The peer stopped reading (EPIPE, reset): what it already sent
            // may still be on its way, so keep reading, as ncat does.
            if peer_gone(&e) && !send_only {
                return anyhow::Ok((wr, Some(e)));
            }
            return Err(e);
        }
        if (!keep_open || send_only)
            && let Err(e) = wr.shutdown().await
        {
            let e = anyhow::Error::new(e).context("closing the write side");
            if peer_gone(&e) && !send_only {
                return anyhow::Ok((wr, Some(e)));
            }
            return Err(e);
        }
        anyhow::Ok((wr, None))
    };
    let download = async move { receive(&mut rd, output).await };
    tokio::pin!(upload, download);
    tokio::select! {
        done = &mut download => {
            done?;
            if interactive {
                return Ok(());
            }
            match upload.await {
                // The peer answered and closed before taking all the input:
                // its answer is out; the lost input is reported.
                Ok((_, Some(e))) => Err(e),
                Ok((_, None)) => Ok(()),
                Err(e) => Err(e),
            }
        }
        sent = &mut upload => {
            let (_write_half, failed) = sent?; // kept open until the peer is done
            if send_only {
                return Ok(());
            }
            let received = download.await;
            match failed {
                Some(e) => received.and(Err(e)),
                None => received,
            }
        }
    }
}

/// `--discard`: read and drop everything the peer sends until it closes, keeping
/// the write side open (as [`pipe`] with [`Input::Nothing`] and [`Output::Discard`]).
/// Plain TCP that nothing dumps or records is dropped in the kernel, uncopied.
pub async fn discard(mut stream: crate::net::BoxStream) -> Result<()> {
    #[cfg(target_os = "linux")]
    if let Some(tap) = (&mut *stream as &mut dyn std::any::Any)
        .downcast_mut::<crate::net::stream::Tap<tokio::net::TcpStream>>()
        && tap.can_discard()
    {
        while std::future::poll_fn(|cx| tap.poll_discard(cx, DISCARD_CHUNK))
            .await
            .context("receiving")?
            > 0
        {}
        return Ok(());
    }
    pipe(stream, Input::Nothing, Output::Discard, true).await
}

/// Bytes dropped per `recv(MSG_TRUNC)`: more than a socket buffer holds, so one
/// call takes all that is queued.
#[cfg(target_os = "linux")]
const DISCARD_CHUNK: usize = 4 << 20;

/// Whether a send failed because the peer is gone (closed or reset), rather
/// than because of the input.
pub(crate) fn peer_gone(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::NotConnected
            )
        })
    })
}

async fn send<W: AsyncWrite + Unpin>(wr: &mut W, input: Input) -> Result<()> {
    match input {
        Input::Nothing => Ok(()),
        Input::Bytes(b) => Ok(wr.write_all(&b).await.context("sending")?),
        Input::Zeros(mut left) => {
            let zeros = vec![0u8; CHUNK];
            while left > 0 {
                let n = left.min(CHUNK as u64) as usize;
                wr.write_all(&zeros[..n]).await.context("sending")?;
                left -= n as u64;
            }
            Ok(())
        }
        Input::Stdin { crlf } => {
            let mut rx = stdin_chunks(crlf);
            while let Some(chunk) = rx.recv().await {
                let chunk = chunk.context("reading stdin")?;
                wr.write_all(&chunk).await.context("sending")?;
            }
            Ok(())
        }
    }
}

async fn receive<R: AsyncRead + Unpin>(rd: &mut R, output: Output) -> Result<()> {
    match output {
        Output::Ignore => std::future::pending().await,
        Output::Discard => {
            // Reads straight into one reused buffer: the fast path of `--discard`.
            let mut buf = vec![0u8; CHUNK];
            while rd.read(&mut buf).await.context("receiving")? > 0 {}
            Ok(())
        }
        Output::Stdout => {
            let out = StdoutWriter::new();
            let mut buf = BytesMut::with_capacity(CHUNK);
            let mut read_error = None;
            loop {
                buf.reserve(CHUNK);
                // A read error (reset) still lets everything received so far
                // reach stdout before it is reported.
                let got = match rd.read_buf(&mut buf).await {
                    Ok(n) => n,
                    Err(e) => {
                        read_error = Some(e);
                        break;
                    }
                };
                if got == 0 {
                    break;
                }
                if out.write(buf.split().freeze()).await.is_err() {
                    break; // stdout closed (`| head`): stop quietly, like ncat
                }
            }
            let finished = match out.finish().await {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("writing stdout"),
                _ => Ok(()),
            };
            match read_error {
                Some(e) => Err(e).context("receiving"),
                None => finished,
            }
        }
    }
}
