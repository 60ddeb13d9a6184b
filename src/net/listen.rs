//! The one listener every server uses: socket options, access control, a limit
//! on connections, TLS, idle timeouts and graceful shutdown (modelled on mini-redis).

use super::addr::Lookup;
use super::socket::Buffers;
use super::{Access, BoxStream, Dump, HostPort, Meter, Session, stream::Tap};
use crate::tls::{TlsAcceptor, TlsStream, describe_server_error};
use anyhow::{Context, Result, anyhow};
use futures_util::FutureExt;
use socket2::{Domain, Protocol, Socket, Type};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
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
    /// Address family and whether names may be looked up (`-4`, `-6`, `-n`).
    pub lookup: Lookup,
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
            lookup: Lookup::default(),
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
    /// Kept while the client is connected (dropped with the rest of `Conn`).
    pub hold: Hold,
}

/// What a connection holds for as long as it is open, even past the task that
/// served it (a parked `serve` connection has none): its place under
/// `--max-conns`, and a part in the shutdown's wait for open connections.
pub struct Hold {
    _permit: Option<OwnedSemaphorePermit>,
    /// Never sends: the shutdown waits until every clone is dropped (mini-redis).
    _open: mpsc::Sender<()>,
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
    /// With TLS: what clients that do not speak TLS get, and who hears of failed handshakes.
    tls_gate: Arc<TlsGate>,
    /// `-o`: every session's bytes to one file.
    session: Option<Session>,
}

/// How a TLS listener treats clients whose handshake never happens (see
/// [`Listener::plain_text_reply`] and [`Listener::on_handshake_failure`]).
#[derive(Default)]
struct TlsGate {
    /// Sent, instead of a TLS alert, to a client whose first byte is not a TLS record.
    plain_reply: Option<Vec<u8>>,
    /// Told of every client that was not admitted because of TLS.
    on_failure: Option<HandshakeFailure>,
}

/// What a server is told of a client that was not admitted because of TLS: the
/// client, what it sent first if it was not TLS (its first line), whether the
/// plain-text reply went out, why, and how long it took.
pub type HandshakeFailure =
    Arc<dyn Fn(SocketAddr, Option<&str>, bool, &str, Duration) + Send + Sync>;

/// How long a client may take over its TLS handshake (unless --idle-timeout is shorter).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Listener {
    /// Bind `addr` with the socket options of `args`.
    pub async fn bind(
        addr: &HostPort,
        args: &ListenOptions,
        dump: Option<Dump>,
    ) -> Result<Listener> {
        let sockaddr = first_addr(addr, args.lookup).await?;
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
            tls_gate: Arc::default(),
            session: None,
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

    /// With TLS: a client whose first byte is not a TLS handshake record (plain
    /// HTTP sent to an HTTPS port) gets `reply` and a close instead of a TLS
    /// alert, as nginx answers it with a 400 page. One `peek` per connection.
    pub fn plain_text_reply(mut self, reply: Vec<u8>) -> Self {
        if let Some(gate) = Arc::get_mut(&mut self.tls_gate) {
            gate.plain_reply = Some(reply);
        }
        self
    }

    /// With TLS: `report` hears of each client not admitted because of TLS (a
    /// failed or timed-out handshake, plain text), e.g. for an access log.
    pub fn on_handshake_failure(mut self, report: HandshakeFailure) -> Self {
        if let Some(gate) = Arc::get_mut(&mut self.tls_gate) {
            gate.on_failure = Some(report);
        }
        self
    }

    /// Record every connection's bytes, both ways, to `session` (`-o`).
    pub fn with_session(mut self, session: Option<Session>) -> Self {
        self.session = session;
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
        // The accept loop is a task of its own, on a worker thread: awaited in
        // `block_on`, it ran on the main thread, and every accepted and every finished
        // connection cost a futex wake-up and a thread switch (2 futex calls per
        // connection; bench/RESULTS.md, TLS handshakes). Dropping this future still
        // stops the loop and its connections (a deleted proxy, an aborted task).
        let mut accepting = AbortOnDrop(tokio::spawn(self.accept_loop(once, handler)));
        match (&mut accepting.0).await {
            Ok(result) => result,
            Err(e) => Err(anyhow!("the accept loop failed: {e}")),
        }
    }

    async fn accept_loop<H, F>(self, once: bool, handler: H) -> Result<()>
    where
        H: Fn(Conn) -> F + Send + Sync + 'static,
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        // A task's result is `None` when its client failed the TLS handshake (never admitted).
        let mut tasks: Tasks = JoinSet::new();
        let (open_tx, open_rx) = mpsc::channel(1);
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
                        refuse(tcp);
                        continue;
                    };
                    if self.nodelay {
                        let _ = tcp.set_nodelay(true);
                    }
                    next_id += 1;
                    debug!(%peer, id = next_id, "connection from {peer}");
                    // The address this client reached (not `0.0.0.0` when bound to every
                    // address); bound to one address, it is that one (no getsockname call).
                    let local = if self.local.ip().is_unspecified() {
                        tcp.local_addr().unwrap_or(self.local)
                    } else {
                        self.local
                    };
                    let (id, shutdown) = (next_id, shutdown_rx.clone());
                    let hold = Hold { _permit: permit, _open: open_tx.clone() };
                    let (dump, idle, session) = (self.dump.clone(), self.idle, self.session.clone());
                    let Some(tls) = self.tls.clone() else {
                        let (stream, meter) = tap(tcp, peer, dump, idle, session);
                        let conn = Conn { stream, peer, local, id, meter, started: Instant::now(), shutdown, alpn: None, hold };
                        // A combinator, not an async block: the task then holds the handler's
                        // future once, not also a copy of all it captured (a parked `serve`
                        // connection's task: see bench/RESULTS.md, idle memory).
                        tasks.spawn(handler(conn).map(move |result| (peer, Some(result))));
                        if once {
                            listener = None; // like ncat: the first client is the only one
                        }
                        continue;
                    };
                    let gate = self.tls_gate.clone();
                    let handler = handler.clone();
                    tasks.spawn(async move {
                        // Boxed: the handshake's state is large, and the task would otherwise
                        // carry room for it for the connection's whole life.
                        let admitted = Box::pin(admit_tls(tcp, peer, tls, dump, idle, gate, session)).await;
                        let Some((stream, meter, alpn)) = admitted else {
                            return (peer, None);
                        };
                        let conn = Conn { stream, peer, local, id, meter, started: Instant::now(), shutdown, alpn, hold };
                        (peer, Some(handler(conn).await))
                    });
                    if once {
                        paused = true; // until the handshake is known to have succeeded
                    }
                }
            }
        }

        drop(listener);
        let _ = shutdown_tx.send(true);
        drain(tasks, (open_tx, open_rx), self.grace).await;
        Ok(())
    }
}

/// Aborts the task when dropped, so that the task lives no longer than its awaiter.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
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

/// Close a refused client with a reset (SO_LINGER 0), as ncat does, so its
/// client reports a failure instead of reading a clean, empty answer.
fn refuse(tcp: TcpStream) {
    if let Err(e) = socket2::SockRef::from(&tcp).set_linger(Some(Duration::ZERO)) {
        debug!("cannot set SO_LINGER 0 on a refused client: {e}");
    }
    drop(tcp);
}

/// Connection tasks still running at shutdown.
type Tasks = JoinSet<(SocketAddr, Option<Result<()>>)>;

/// Let open connections finish for up to `grace`, then cut the rest; say how it went.
/// `open`: the channel whose senders the connections' [`Hold`]s are (some outlive
/// their tasks in `tasks`).
async fn drain(
    mut tasks: Tasks,
    (open_tx, mut open_rx): (mpsc::Sender<()>, mpsc::Receiver<()>),
    grace: Duration,
) {
    // Counted by their holds: a parked `serve` connection has no task.
    let holds = open_tx.downgrade();
    let open = holds.strong_count().saturating_sub(1);
    let drained = tokio::time::timeout(grace, async {
        while let Some(joined) = tasks.join_next().await {
            let _ = report(joined);
        }
        drop(open_tx);
        let _ = open_rx.recv().await; // None once no connection is open
    })
    .await;
    if drained.is_err() {
        let cut = holds.strong_count();
        tasks.abort_all();
        warn!(
            "shutdown: {} of {open} open connections finished, {cut} cut after {grace:?} (--shutdown-timeout)",
            open.saturating_sub(cut),
        );
    } else if open > 0 {
        info!("shutdown: all {open} open connections finished");
    }
}

/// A connection's stream behind the tap (counts, dumps, idle timeout, session).
fn tap<S: super::stream::AsyncStream>(
    stream: S,
    peer: SocketAddr,
    dump: Option<Dump>,
    idle: Option<Duration>,
    session: Option<Session>,
) -> (BoxStream, Arc<Meter>) {
    let tap = Tap::new(stream, peer, dump, idle).with_session(session);
    let meter = tap.meter();
    (Box::new(tap), meter)
}

/// The TLS handshake, then the tap, so counts and dumps are of plaintext. `None`
/// when the client failed the handshake (logged).
async fn admit_tls(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    dump: Option<Dump>,
    idle: Option<Duration>,
    gate: Arc<TlsGate>,
    session: Option<Session>,
) -> Option<(BoxStream, Arc<Meter>, Option<Vec<u8>>)> {
    let started = Instant::now();
    let limit = idle.map_or(HANDSHAKE_TIMEOUT, |d| d.min(HANDSHAKE_TIMEOUT));
    let fail = |first: Option<&str>, replied: bool, why: &str| {
        if let Some(report) = &gate.on_failure {
            report(peer, first, replied, why, started.elapsed());
        }
    };
    let mut tcp = tcp;
    if let Some(reply) = &gate.plain_reply {
        let mut first = [0u8; 1];
        // 0x16: a TLS handshake record; anything else is not TLS.
        if let Ok(Ok(1)) = tokio::time::timeout(limit, tcp.peek(&mut first)).await
            && first[0] != 0x16
        {
            let line = answer_plain_text(&mut tcp, reply).await;
            debug!(%peer, "{peer} sent plain text to the TLS port: {line:?}");
            fail(Some(&line), true, "plain HTTP sent to the HTTPS port");
            return None;
        }
    }
    let left = limit.saturating_sub(started.elapsed());
    let handshake = acceptor.accept(tcp).into_fallible();
    let stream = match tokio::time::timeout(left, handshake).await {
        Ok(Ok(s)) => TlsStream::from(tokio_rustls::TlsStream::Server(s)),
        Ok(Err((e, _))) if e.kind() == io::ErrorKind::UnexpectedEof => {
            // Port probes and health checks: not worth a warning.
            info!(%peer, "{peer} closed the connection during the TLS handshake");
            return None;
        }
        Ok(Err((e, tcp))) => {
            let why = describe_server_error(&e);
            warn!(%peer, "TLS handshake with {peer} failed: {why}");
            fail(None, false, &format!("TLS handshake failed: {why}"));
            crate::tls::server::linger_after_refusal(tcp).await;
            return None;
        }
        Err(_) => {
            warn!(%peer, "TLS handshake with {peer} timed out after {limit:?}");
            fail(None, false, "TLS handshake timed out");
            return None;
        }
    };
    let alpn = stream.alpn().map(<[u8]>::to_vec);
    let (stream, meter) = tap(stream, peer, dump, idle, session);
    Some((stream, meter, alpn))
}

/// Read what a plain-text client sent (a little of it), send `reply`, close, and
/// drain until the client closes too (at most 2 s), so the reply is not reset
/// away by unread bytes; the first line the client sent.
async fn answer_plain_text(tcp: &mut TcpStream, reply: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const QUIET: Duration = Duration::from_secs(2);
    let mut buf = vec![0u8; 4096];
    let n = match tokio::time::timeout(QUIET, tcp.read(&mut buf)).await {
        Ok(Ok(n)) => n,
        _ => 0,
    };
    let line = buf[..n]
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(&l[..l.len().min(1024)]).into_owned())
        .unwrap_or_default();
    let _ = tokio::time::timeout(QUIET, async {
        let _ = tcp.write_all(reply).await;
        let _ = tcp.shutdown().await;
        while let Ok(n) = tcp.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    line
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
    let _ = stop_signal().await;
}

/// The signal that asked a command to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl StopSignal {
    /// Its name: `SIGINT`, `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }

    /// The exit code of a command it stopped, as shells report it: 128 + the signal number.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }
}

/// Catch SIGINT and SIGTERM from this call on (the handlers are installed at once); the
/// future resolves with the first that arrives.
pub fn stop_signal() -> impl std::future::Future<Output = StopSignal> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt()).ok();
        let mut term = signal(SignalKind::terminate()).ok();
        async move {
            let int = async {
                match int.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            let term = async {
                match term.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = int => StopSignal::Interrupt,
                _ = term => StopSignal::Terminate,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        StopSignal::Interrupt
    }
}

/// A stop request that SIGINT/SIGTERM (or the caller) raises: long-running clients
/// (`fetch`, `http -d`) watch [`StopOnSignal::token`] and the command reports the signal.
#[derive(Debug, Clone)]
pub struct StopOnSignal {
    /// Cancelled when a signal arrives.
    pub token: tokio_util::sync::CancellationToken,
    received: Arc<std::sync::OnceLock<StopSignal>>,
}

impl StopOnSignal {
    /// Install the handlers now and cancel the token when a signal arrives (needs a runtime).
    pub fn install() -> StopOnSignal {
        let stop = StopOnSignal {
            token: tokio_util::sync::CancellationToken::new(),
            received: Arc::new(std::sync::OnceLock::new()),
        };
        let signal = stop_signal();
        let (token, received) = (stop.token.clone(), stop.received.clone());
        tokio::spawn(async move {
            let s = signal.await;
            let _ = received.set(s);
            token.cancel();
        });
        stop
    }

    /// The signal that arrived, if one did.
    pub fn received(&self) -> Option<StopSignal> {
        self.received.get().copied()
    }
}

async fn first_addr(addr: &HostPort, lookup: Lookup) -> Result<SocketAddr> {
    addr.resolve_with(lookup)
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
    let sockaddr = first_addr(addr, Lookup::default()).await?;
    let socket = bind_socket(sockaddr, Type::DGRAM, buffers)?;
    Ok(UdpSocket::from_std(socket.into())?)
}

/// A UDP socket bound to a concrete socket address (for clients: port 0).
pub(crate) fn bind_udp_at(addr: SocketAddr, buffers: &Buffers) -> Result<UdpSocket> {
    let socket = bind_socket(addr, Type::DGRAM, buffers)?;
    Ok(UdpSocket::from_std(socket.into())?)
}
