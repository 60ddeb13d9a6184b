//! The one connector every client uses: resolve, try each address in turn with
//! a timeout, keepalive, source address, buffer sizes, then TLS when asked;
//! errors that name the address.

use super::addr::Lookup;
use super::socket::Buffers;
use super::tunnel::Tunnel;
use super::{BoxStream, HostPort};
use crate::tls::TlsClient;
use anyhow::{Result, anyhow};
use socket2::{SockRef, TcpKeepalive};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tracing::debug;

/// How the shared connector connects.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Give up on one address after this long, then try the next.
    pub connect_timeout: Duration,
    /// Bind the local end to this address first (port 0: any port).
    pub source: Option<SocketAddr>,
    /// TCP keepalive probe interval; `None` turns keepalive off.
    pub keepalive: Option<Duration>,
    /// Kernel buffer sizes.
    pub buffers: Buffers,
    /// Address family and whether names may be looked up (`-4`, `-6`, `-n`).
    pub lookup: Lookup,
    /// Connect through this proxy (`--proxy`); the target is then reached by the proxy.
    pub tunnel: Option<Tunnel>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            source: None,
            keepalive: Some(Duration::from_secs(60)),
            buffers: Buffers::default(),
            lookup: Lookup::default(),
            tunnel: None,
        }
    }
}

/// Connect to `target`, trying each of its addresses in turn; with a tunnel,
/// connect to the proxy the same way and have it connect to `target`.
pub async fn connect(target: &HostPort, args: &ConnectOptions) -> Result<(TcpStream, SocketAddr)> {
    let Some(tunnel) = &args.tunnel else {
        return connect_direct(target, args).await;
    };
    let (tcp, addr) = connect_direct(&tunnel.proxy, args).await.map_err(|e| {
        e.context(format!(
            "connecting to the {} proxy {}",
            tunnel.kind, tunnel.proxy
        ))
    })?;
    let tcp = tokio::time::timeout(args.connect_timeout, tunnel.open(tcp, target))
        .await
        .map_err(|_| {
            anyhow!(
                "the {} proxy {} did not connect to {target} within {:?}; raise --connect-timeout",
                tunnel.kind,
                tunnel.proxy,
                args.connect_timeout
            )
        })??;
    debug!(
        "connected to {target} through the {} proxy {addr}",
        tunnel.kind
    );
    Ok((tcp, addr))
}

/// Connect to `target` itself, trying each of its addresses in turn.
async fn connect_direct(
    target: &HostPort,
    args: &ConnectOptions,
) -> Result<(TcpStream, SocketAddr)> {
    let source = args.source;
    let addrs = target.resolve_with(args.lookup).await?;
    let mut last_err = None;
    for addr in &addrs {
        if source.is_some_and(|src| src.is_ipv4() != addr.is_ipv4()) {
            continue;
        }
        match connect_one(*addr, source, args).await {
            Ok(stream) => return Ok((stream, *addr)),
            Err(e) => {
                debug!("connect to {addr} failed: {e}");
                last_err = Some((*addr, e));
            }
        }
    }
    let Some((addr, e)) = last_err else {
        return Err(anyhow!(
            "{target} has no address of the same family as --source {}",
            source.map(|s| s.ip().to_string()).unwrap_or_default()
        ));
    };
    let shown = if target.host.parse::<IpAddr>().is_ok() {
        addr.to_string()
    } else {
        format!("{target} ({addr})")
    };
    Err(match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            anyhow!("connection to {shown} refused (is a server listening there?)")
        }
        io::ErrorKind::ConnectionReset => anyhow!(
            "{shown} reset the connection at once (the server refused this client: an access list or a connection limit?)"
        ),
        io::ErrorKind::TimedOut => anyhow!(
            "connecting to {shown} timed out after {:?}; check the address or raise --connect-timeout",
            args.connect_timeout
        ),
        io::ErrorKind::AddrNotAvailable => anyhow!(
            "cannot connect to {shown} from --source {}: not an address of this machine",
            source.map(|s| s.ip().to_string()).unwrap_or_default()
        ),
        _ => anyhow!("cannot connect to {shown}: {e}"),
    })
}

/// Connect to `target` and, with `tls`, run the TLS handshake (bounded by
/// `--connect-timeout`): the byte stream every client command starts from.
pub async fn open(
    target: &HostPort,
    args: &ConnectOptions,
    tls: Option<&TlsClient>,
) -> Result<(BoxStream, SocketAddr)> {
    let (stream, addr, _local) = open_local(target, args, tls).await?;
    Ok((stream, addr))
}

/// [`open`], also returning the local end's address (for programs run on the
/// connection, which are told both ends).
pub async fn open_local(
    target: &HostPort,
    args: &ConnectOptions,
    tls: Option<&TlsClient>,
) -> Result<(BoxStream, SocketAddr, SocketAddr)> {
    let (tcp, addr) = connect(target, args).await?;
    let local = tcp.local_addr()?;
    let Some(tls) = tls else {
        return Ok((Box::new(tcp), addr, local));
    };
    match tokio::time::timeout(args.connect_timeout, tls.handshake(tcp, &target.host)).await {
        Ok(stream) => Ok((Box::new(stream?), addr, local)),
        Err(_) => Err(anyhow!(
            "the TLS handshake with {target} timed out after {:?} (is it a TLS server?); raise --connect-timeout or drop --tls",
            args.connect_timeout
        )),
    }
}

async fn connect_one(
    addr: SocketAddr,
    source: Option<SocketAddr>,
    args: &ConnectOptions,
) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    args.buffers
        .apply(&SockRef::from(&socket))
        .map_err(io::Error::other)?;
    if let Some(src) = source {
        socket.bind(src)?;
    }
    let stream = tokio::time::timeout(args.connect_timeout, socket.connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    if let Some(every) = args.keepalive {
        SockRef::from(&stream).set_tcp_keepalive(&TcpKeepalive::new().with_time(every))?;
    }
    Ok(stream)
}
