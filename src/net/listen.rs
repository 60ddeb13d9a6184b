//! The one listener every server uses: socket options, access control, a limit
//! on connections, TLS, idle timeouts and graceful shutdown (modelled on mini-redis).

use super::socket::Buffers;
use super::{Access, BoxStream, Dump, HostPort, Meter, stream::Tap};
use crate::tls::{TlsAcceptor, TlsStream, describe_server_error};
use anyhow::{Context, Result, anyhow};
use socket2::{Domain, Protocol, Socket, Type};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

/// How the shared listener admits and keeps clients.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// Kernel buffer sizes of accepted sockets.
    pub buffers: Buffers,
    /// Who may connect; checked before a byte is read.
    pub access: Access,
    /// Connections the kernel queues before they are accepted.
    pub backlog: u32,
    /// At most this many clients at once; one beyond is refused.
    pub max_conns: Option<usize>,
    /// Close a connection that has sent and received nothing for this long.
    pub idle_timeout: Option<Duration>,
    /// On SIGINT/SIGTERM, how long open connections may finish before they are cut.
    pub shutdown_timeout: Duration,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            buffers: Buffers::default(),
            access: Access::default(),
            backlog: 1024,
            max_conns: None,
            idle_timeout: None,
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// One accepted, admitted client.
pub struct Conn {
    /// The connection, already counted, dumped and idle-timed.
    pub stream: BoxStream,
    /// The client's address.
    pub peer: SocketAddr,
    /// The address the client connected to.
    pub local: SocketAddr,
    /// Numbered from 1 in order of arrival.
    pub id: u64,
    /// Bytes moved each way so far.
    pub meter: Arc<Meter>,
    /// When the client was admitted.
    pub started: Instant,
    /// Becomes `true` when the server is shutting down; long-lived handlers
    /// (keep-alive HTTP) should finish their current work and stop.
    pub shutdown: watch::Receiver<bool>,
    /// The ALPN protocol the TLS handshake settled on (`b"h2"`), if any.
    pub alpn: Option<Vec<u8>>,
}

/// Bound and ready to accept; `run` drives it.
pub struct Listener {
    inner: TcpListener,
    local: SocketAddr,
    access: Access,
    /// Bounds concurrent clients; a client beyond the bound is refused.
    limit: Option<(usize, Arc<Semaphore>)>,
    idle: Option<Duration>,
    /// How long open connections may run on after a shutdown signal.
    grace: Duration,
    dump: Option<Dump>,
    /// With `--tls`: the handshake runs in each connection's task, before the tap.
    tls: Option<TlsAcceptor>,
    /// Set TCP_NODELAY on accepted sockets (request/response protocols such as HTTP).
    nodelay: bool,
}

/// How long a client may take over its TLS handshake (unless --idle-timeout is shorter).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Listener {
    /// Bind `addr` with the socket options of `args`.
    pub async fn bind(
        addr: &HostPort,
        args: &ListenOptions,
        dump: Option<Dump>,
    ) -> Result<Listener> {
        let sockaddr = first_addr(addr).await?;
        let socket = bind_socket(sockaddr, Type::STREAM, &args.buffers)?;
        socket
            .listen(args.backlog.min(i32::MAX as u32) as i32)
            .map_err(|e| bind_error(sockaddr, e))?;
        let inner = TcpListener::from_std(socket.into())?;
        let local = inner.local_addr()?;
        if args.max_conns == Some(0) {
            return Err(crate::error::usage("--max-conns must be at least 1"));
        }
        Ok(Listener {
            inner,
            local,
            access: args.access.clone(),
            limit: args.max_conns.map(|n| (n, Arc::new(Semaphore::new(n)))),
            idle: args.idle_timeout,
            grace: args.shutdown_timeout,
            dump,
            tls: None,
            nodelay: false,
        })
    }

    /// Turn Nagle's algorithm off on every accepted connection, so small responses
    /// leave at once instead of waiting for the peer's delayed ACK.
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// Serve TLS with this acceptor (see `tls::acceptor`); `None` keeps plain TCP.
    pub fn with_tls(mut self, tls: Option<TlsAcceptor>) -> Self {
        self.tls = tls;
        self
    }

    /// The bound address (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Accept clients and run `handler` for each until SIGINT/SIGTERM; with `once`,
    /// serve the first admitted client only and return its result.
    pub async fn run<H, F>(self, once: bool, handler: H) -> Result<()>
    where
        H: Fn(Conn) -> F + Send + Sync + 'static,
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        // A task's result is `None` when its client failed the TLS handshake (never admitted).
        let mut tasks: Tasks = JoinSet::new();
        let mut listener = Some(self.inner);
        // With `once` and TLS, accepting pauses while the first client's handshake runs,
        // and resumes if it fails: a bad handshake does not end the server.
        let mut paused = false;
        let mut next_id = 0u64;
        let mut backoff = Duration::from_millis(5);
        let signal = shutdown_signal();
        tokio::pin!(signal);

        loop {
            tokio::select! {
                _ = &mut signal => {
                    info!("shutting down: no new clients");
                    break;
                }
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    let admitted = !matches!(joined, Ok((_, None)));
                    let result = report(joined);
                    if once && admitted {
                        return result;
                    }
                    paused = false;
                }
                accepted = accept(&listener), if listener.is_some() && !paused => {
                    let (tcp, peer) = match accepted {
                        Ok(pair) => { backoff = Duration::from_millis(5); pair }
                        Err(e) => {
                            // Out of file descriptors and the like: wait, then go on.
                            warn!("accept failed on {}: {e}; retrying in {backoff:?}", self.local);
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(1));
                            continue;
                        }
                    };
                    let Some(permit) = admission(&self.access, self.limit.as_ref(), peer) else {
                        continue;
                    };
                    if self.nodelay {
                        let _ = tcp.set_nodelay(true);
                    }
                    next_id += 1;
                    debug!(%peer, id = next_id, "connection from {peer}");
                    let (id, local, shutdown) = (next_id, self.local, shutdown_rx.clone());
                    let (tls, dump, idle) = (self.tls.clone(), self.dump.clone(), self.idle);
                    let handler = handler.clone();
                    tasks.spawn(async move {
                        let Some((stream, meter, alpn)) = admit(tcp, peer, tls, dump, idle).await else {
                            return (peer, None);
                        };
                        let conn = Conn { stream, peer, local, id, meter, started: Instant::now(), shutdown, alpn };
                        let result = handler(conn).await;
                        drop(permit);
                        (peer, Some(result))
                    });
                    if once {
                        if self.tls.is_some() {
                            paused = true; // until the handshake is known to have succeeded
                        } else {
                            listener = None; // like ncat: the first client is the only one
                        }
                    }
                }
            }
        }

        drop(listener);
        let _ = shutdown_tx.send(true);
        drain(tasks, self.grace).await;
        Ok(())
    }
}

/// Whether `peer` may come in: allowed by the access rules, and (with a
/// limit) a free place, whose permit the connection holds while it runs.
/// `None`: refused (logged).
fn admission(
    access: &Access,
    limit: Option<&(usize, Arc<Semaphore>)>,
    peer: SocketAddr,
) -> Option<Option<OwnedSemaphorePermit>> {
    if !access.permits(peer.ip()) {
        warn!(%peer, "refused {peer}: not allowed by --allow/--deny");
        return None;
    }
    let Some((n, sem)) = limit else {
        return Some(None);
    };
    match sem.clone().try_acquire_owned() {
        Ok(p) => Some(Some(p)),
        Err(_) => {
            warn!(%peer, "refused {peer}: {n} clients already connected (--max-conns)");
            None
        }
    }
}

/// Connection tasks still running at shutdown.
type Tasks = JoinSet<(SocketAddr, Option<Result<()>>)>;

/// Let open connections finish for up to `grace`, then cut the rest; say how it went.
async fn drain(mut tasks: Tasks, grace: Duration) {
    let open = tasks.len();
    let drained = tokio::time::timeout(grace, async {
        while let Some(joined) = tasks.join_next().await {
            let _ = report(joined);
        }
    })
    .await;
    if drained.is_err() {
        let cut = tasks.len();
        tasks.abort_all();
        warn!(
            "shutdown: {} of {open} open connections finished, {cut} cut after {grace:?} (--shutdown-timeout)",
            open - cut,
        );
    } else if open > 0 {
        info!("shutdown: all {open} open connections finished");
    }
}

/// A connection's stream: TLS first (when configured), then the tap, so counts and
/// dumps are of plaintext. `None` when the client failed the TLS handshake (logged).
async fn admit(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    dump: Option<Dump>,
    idle: Option<Duration>,
) -> Option<(BoxStream, Arc<Meter>, Option<Vec<u8>>)> {
    match tls {
        None => {
            let tap = Tap::new(tcp, peer, dump, idle);
            let meter = tap.meter();
            Some((Box::new(tap), meter, None))
        }
        // Boxed: the handshake's state is large, and every plain connection's task
        // would otherwise carry room for it (measured: 54.8-55.6 MB → 50.3-52.1 MB RSS
        // for 10,000 idle `serve` keep-alive clients).
        Some(acceptor) => Box::pin(admit_tls(tcp, peer, acceptor, dump, idle)).await,
    }
}

async fn admit_tls(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    dump: Option<Dump>,
    idle: Option<Duration>,
) -> Option<(BoxStream, Arc<Meter>, Option<Vec<u8>>)> {
    let limit = idle.map_or(HANDSHAKE_TIMEOUT, |d| d.min(HANDSHAKE_TIMEOUT));
    let stream = match tokio::time::timeout(limit, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => TlsStream::from(tokio_rustls::TlsStream::Server(s)),
        Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            // Port probes and health checks: not worth a warning.
            info!(%peer, "{peer} closed the connection during the TLS handshake");
            return None;
        }
        Ok(Err(e)) => {
            warn!(%peer, "TLS handshake with {peer} failed: {}", describe_server_error(&e));
            return None;
        }
        Err(_) => {
            warn!(%peer, "TLS handshake with {peer} timed out after {limit:?}");
            return None;
        }
    };
    let alpn = stream.alpn().map(<[u8]>::to_vec);
    let tap = Tap::new(stream, peer, dump, idle);
    let meter = tap.meter();
    Some((Box::new(tap), meter, alpn))
}

async fn accept(listener: &Option<TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Log a finished handler's failure; a panic becomes an error too.
fn report(joined: Result<(SocketAddr, Option<Result<()>>), tokio::task::JoinError>) -> Result<()> {
    match joined {
        Ok((_, Some(Ok(())) | None)) => Ok(()),
        Ok((peer, Some(Err(e)))) => {
            warn!(%peer, "{peer}: {}", crate::error::one_line(&e));
            Err(e)
        }
        Err(e) => {
            warn!("connection handler failed: {e}");
            Err(anyhow!("connection handler failed: {e}"))
        }
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

async fn first_addr(addr: &HostPort) -> Result<SocketAddr> {
    addr.resolve()
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("{addr} has no addresses"))
}

/// A socket bound to `addr` with SO_REUSEADDR (TCP), dual-stack on `[::]`, and buffer sizes.
fn bind_socket(addr: SocketAddr, ty: Type, buffers: &Buffers) -> Result<Socket> {
    let proto = if ty == Type::STREAM {
        Protocol::TCP
    } else {
        Protocol::UDP
    };
    let socket = Socket::new(Domain::for_address(addr), ty, Some(proto))
        .with_context(|| format!("cannot create a socket for {addr}"))?;
    if ty == Type::STREAM {
        socket.set_reuse_address(true)?;
    }
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        let _ = socket.set_only_v6(false);
    }
    buffers.apply(&socket)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into()).map_err(|e| bind_error(addr, e))?;
    Ok(socket)
}

/// Bind errors that say what to do.
fn bind_error(addr: SocketAddr, e: io::Error) -> anyhow::Error {
    match e.kind() {
        io::ErrorKind::AddrInUse => {
            anyhow!("{addr} is already in use (another server?); choose another address or port")
        }
        io::ErrorKind::PermissionDenied => anyhow!(
            "binding {addr} was refused (ports below 1024 need privileges); choose a port above 1023"
        ),
        io::ErrorKind::AddrNotAvailable => anyhow!(
            "{addr} is not an address of this machine; use 127.0.0.1, 0.0.0.0 or an interface's address (see `wirekit resolve --local`)"
        ),
        _ => anyhow!("cannot bind {addr}: {e}"),
    }
}

/// A UDP socket bound to `addr` with the given buffer sizes.
pub async fn bind_udp(addr: &HostPort, buffers: &Buffers) -> Result<UdpSocket> {
    let sockaddr = first_addr(addr).await?;
    let socket = bind_socket(sockaddr, Type::DGRAM, buffers)?;
    Ok(UdpSocket::from_std(socket.into())?)
}

/// A UDP socket bound to a concrete socket address (for clients: port 0).
pub(crate) fn bind_udp_at(addr: SocketAddr, buffers: &Buffers) -> Result<UdpSocket> {
    let socket = bind_socket(addr, Type::DGRAM, buffers)?;
    Ok(UdpSocket::from_std(socket.into())?)
}
