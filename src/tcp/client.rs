//! The client side of `wirekit tcp`: connect (TCP, then TLS) and pipe, or scan
//! a range of ports.

use super::modes::exec;
use super::pipe::{Input, Output, peer_gone, pipe};
use crate::net::stream::Tap;
use crate::net::{self, ConnectOptions, Dump, HostPort, Session};
use crate::tls::{TlsClient, TlsClientOptions};
use anyhow::Result;
use futures_util::{Stream, StreamExt};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};
use tracing::info;

/// How `connect` connects and what it sends and prints.
#[derive(Debug, Clone)]
pub struct TcpConnectOptions {
    /// The shared connector's options.
    pub connect: ConnectOptions,
    /// TLS over the connection, or `None` for plain TCP.
    pub tls: Option<TlsClientOptions>,
    /// What goes to the peer.
    pub input: Input,
    /// Where the peer's bytes go.
    pub output: Output,
    /// At the end of the input keep the write side open (no half-close).
    pub keep_open: bool,
    /// Hex dump of all traffic.
    pub dump: Option<Dump>,
    /// Every byte of the session, both ways, to this file (`-o`).
    pub session: Option<Session>,
    /// Run this program (words: program, then arguments) with its stdin and stdout
    /// on the connection instead of piping `input` and `output` (`--exec`).
    pub program: Option<Vec<String>>,
}

impl Default for TcpConnectOptions {
    fn default() -> Self {
        TcpConnectOptions {
            connect: ConnectOptions::default(),
            tls: None,
            input: Input::Stdin { crlf: false },
            output: Output::Stdout,
            keep_open: false,
            dump: None,
            program: None,
            session: None,
        }
    }
}

/// What a finished connection moved.
#[derive(Debug, Clone, Copy)]
pub struct Transfer {
    /// The address connected to.
    pub peer: SocketAddr,
    /// Bytes sent to the peer.
    pub sent: u64,
    /// Bytes received from the peer.
    pub received: u64,
    /// From the end of the handshake to the end of the transfer.
    pub elapsed: Duration,
}

/// Connect to `target` and move bytes until both sides are done.
pub async fn connect(target: &HostPort, opts: &TcpConnectOptions) -> Result<Transfer> {
    let tls = opts
        .tls
        .as_ref()
        .map(|o| TlsClient::new(o, &[]))
        .transpose()?;
    let (stream, peer, local) = net::open_local(target, &opts.connect, tls.as_ref()).await?;
    info!("connected to {peer}");
    let tap = Tap::new(stream, peer, opts.dump.clone(), None).with_session(opts.session.clone());
    let meter = tap.meter();
    let started = Instant::now();
    let moved = match &opts.program {
        Some(words) => exec(Box::new(tap), peer, local, words).await,
        // On a runtime worker, not on the thread blocked on the command: the worker that
        // sees the socket ready then runs the transfer itself instead of waking another
        // thread (`--zero-source`: 885 futex calls a GiB before, strace -c).
        None => tokio::spawn(pipe(tap, opts.input.clone(), opts.output, opts.keep_open))
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("the transfer failed: {e}"))),
    };
    moved
        .map_err(|e| {
            if meter.received() == 0 && peer_gone(&e) {
                // A server that refuses a client after accepting it (ncat's and
                // wirekit's --allow/--deny and --max-conns) resets it at once.
                crate::error::exit_with(
                    1,
                    format!(
                        "{peer} reset the connection before sending anything (the server refused this client: an access list or a connection limit?): {}",
                        crate::error::one_line(&e)
                    ),
                )
            } else {
                e
            }
        })?;
    Ok(Transfer {
        peer,
        sent: meter.sent(),
        received: meter.received(),
        elapsed: started.elapsed(),
    })
}

/// How many ports a scan tries at once.
const SCAN_PARALLEL: usize = 64;

/// Try to connect to each port of `host` in `ports`; the results arrive in
/// port order (`Ok` for an open port, the connect error otherwise).
pub fn scan<'a>(
    host: &str,
    ports: RangeInclusive<u16>,
    opts: &'a ConnectOptions,
) -> impl Stream<Item = (HostPort, Result<()>)> + 'a {
    let host = host.to_string();
    futures_util::stream::iter(ports)
        .map(move |port| {
            let target = HostPort {
                host: host.clone(),
                port,
            };
            async move {
                let result = net::connect(&target, opts).await.map(drop);
                (target, result)
            }
        })
        .buffered(SCAN_PARALLEL)
}
