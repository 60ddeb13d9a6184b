//! UDP like `ncat -u`: a server that hands each datagram to the caller and may
//! answer it (echo or fixed text), and a client that sends one datagram and
//! hands over the replies. Both check access, dump traffic and name failures.

use crate::error::exit_with;
use crate::net::dump::Direction;
use crate::net::listen::{bind_udp_at, shutdown_signal};
use crate::net::stdio::stdin_chunks;
use crate::net::{Access, Buffers, Dump, HostPort};
use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::warn;

/// The largest UDP payload over IPv4: 65,535 − 8 (UDP header) − 20 (IP header).
pub const MAX_DATAGRAM: usize = 65_507;

/// The largest UDP payload over IPv6: 65,535 (payload length) − 8 (UDP header),
/// jumbograms aside.
pub const MAX_DATAGRAM_V6: usize = 65_527;

/// The largest payload one datagram to `dest` carries (IPv4-mapped addresses count as IPv4).
pub fn max_payload(dest: SocketAddr) -> usize {
    match dest.ip().to_canonical() {
        IpAddr::V4(_) => MAX_DATAGRAM,
        IpAddr::V6(_) => MAX_DATAGRAM_V6,
    }
}

/// Room for any datagram, IPv6 jumbograms aside.
const RECV_BUF: usize = 65_536;

/// What a server sends back for each datagram.
#[derive(Debug, Clone, Default)]
pub enum Answer {
    /// Nothing.
    #[default]
    Nothing,
    /// The datagram itself.
    Echo,
    /// These bytes (the seed's server).
    Text(Bytes),
}

/// How `serve` treats datagrams.
#[derive(Debug, Clone, Default)]
pub struct UdpListenOptions {
    /// Who may send; other datagrams are dropped with a warning.
    pub access: Access,
    /// What to send back.
    pub answer: Answer,
    /// Stop after this many datagrams.
    pub count: Option<u64>,
    /// Hex dump of all traffic.
    pub dump: Option<Dump>,
    /// Send stdin, as datagrams, to the first peer that sends one (`ncat -u -l`);
    /// only with [`Answer::Nothing`].
    pub stdin_to_first_peer: bool,
}

/// Stdin as datagrams: each read of stdin is one datagram (split at `max` bytes),
/// as ncat sends them. `None` once stdin has ended.
async fn next_stdin_datagram(
    stdin: &mut Option<mpsc::Receiver<io::Result<Bytes>>>,
    pending: &mut Bytes,
    max: usize,
) -> Option<Result<Bytes>> {
    loop {
        if !pending.is_empty() {
            let n = pending.len().min(max);
            return Some(Ok(pending.split_to(n)));
        }
        let rx = stdin.as_mut()?;
        match rx.recv().await {
            Some(Ok(chunk)) => *pending = chunk,
            Some(Err(e)) => return Some(Err(anyhow::Error::new(e).context("reading stdin"))),
            None => {
                *stdin = None;
                return None;
            }
        }
    }
}

/// Receive on `socket` until SIGINT/SIGTERM or `count` datagrams; each admitted
/// datagram goes to `received` (which returns `false` to stop), then is answered.
pub async fn serve<F>(socket: UdpSocket, opts: &UdpListenOptions, mut received: F) -> Result<()>
where
    F: FnMut(SocketAddr, &[u8]) -> Result<bool>,
{
    let local = socket.local_addr()?;
    let mut buf = vec![0u8; RECV_BUF];
    let (mut bytes_in, mut bytes_out, mut count) = (0u64, 0u64, 0u64);
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let piping = opts.stdin_to_first_peer && matches!(opts.answer, Answer::Nothing);
    let mut stdin = piping.then(|| stdin_chunks(false));
    let mut pending = Bytes::new();
    let mut first_peer: Option<SocketAddr> = None;
    loop {
        let (n, peer) = tokio::select! {
            _ = &mut signal => break,
            next = next_stdin_datagram(&mut stdin, &mut pending, max_payload(first_peer.unwrap_or(local))),
                if first_peer.is_some() && (stdin.is_some() || !pending.is_empty()) => {
                let Some(datagram) = next else { continue };
                let datagram = datagram?;
                let Some(to) = first_peer else { continue };
                match socket.send_to(&datagram, to).await {
                    Ok(_) => {
                        if let Some(d) = &opts.dump {
                            d.record(Direction::Out, to, bytes_out, &datagram);
                        }
                        bytes_out += datagram.len() as u64;
                    }
                    Err(e) => warn!("sending stdin to {to}: {e}"),
                }
                continue;
            }
            r = socket.recv_from(&mut buf) => match r {
                Ok(pair) => pair,
                Err(e) => {
                    // e.g. an ICMP error for an earlier reply: not fatal for a server
                    warn!("receive on {local}: {e}");
                    continue;
                }
            },
        };
        if !opts.access.permits(peer.ip()) {
            warn!(%peer, "dropped datagram from {peer}: not allowed by --allow/--deny");
            continue;
        }
        let data = &buf[..n];
        if piping && first_peer.is_none() {
            first_peer = Some(peer);
        }
        if let Some(d) = &opts.dump {
            d.record(Direction::In, peer, bytes_in, data);
        }
        bytes_in += n as u64;
        if !received(peer, data)? {
            break;
        }
        let back = match &opts.answer {
            Answer::Nothing => None,
            Answer::Echo => Some(data),
            Answer::Text(text) => Some(&text[..]),
        };
        if let Some(back) = back {
            match socket.send_to(back, peer).await {
                Ok(_) => {
                    if let Some(d) = &opts.dump {
                        d.record(Direction::Out, peer, bytes_out, back);
                    }
                    bytes_out += back.len() as u64;
                }
                Err(e) => warn!("reply to {peer}: {e}"),
            }
        }
        count += 1;
        if opts.count.is_some_and(|limit| count >= limit) {
            break;
        }
    }
    Ok(())
}

/// How `send` sends and how long it waits.
#[derive(Debug, Clone)]
pub struct UdpSendOptions {
    /// Bind the local end here first; `None`: any port on the unspecified address.
    pub source: Option<SocketAddr>,
    /// Kernel buffer sizes.
    pub buffers: Buffers,
    /// How long to wait for all the replies.
    pub timeout: Duration,
    /// How many replies to wait for; 0 sends without waiting.
    pub count: u64,
    /// Hex dump of all traffic.
    pub dump: Option<Dump>,
}

impl Default for UdpSendOptions {
    fn default() -> Self {
        UdpSendOptions {
            source: None,
            buffers: Buffers::default(),
            timeout: Duration::from_secs(2),
            count: 1,
            dump: None,
        }
    }
}

/// Send `data` as one datagram to `target`, then hand each of `count` replies
/// to `reply`; a timeout or an ICMP "port unreachable" is an error that says so.
pub async fn send<F>(
    target: &HostPort,
    data: &[u8],
    opts: &UdpSendOptions,
    mut reply: F,
) -> Result<()>
where
    F: FnMut(SocketAddr, &[u8]) -> Result<()>,
{
    let socket = connected(target, opts).await?;
    let dest = socket.peer_addr()?;
    let max = max_payload(dest);
    if data.len() > max {
        let family = if max == MAX_DATAGRAM { "IPv4" } else { "IPv6" };
        let shown = if data.len() > MAX_DATAGRAM_V6 {
            format!("over {} bytes", thousands(MAX_DATAGRAM_V6))
        } else {
            format!("{} bytes", thousands(data.len()))
        };
        return Err(crate::error::usage(format!(
            "the input is {shown}; a UDP datagram to {dest} ({family}) carries at most {} bytes: send less, or use `wirekit tcp`",
            thousands(max)
        )));
    }
    socket
        .send(data)
        .await
        .with_context(|| format!("sending to {dest}"))?;
    if let Some(d) = &opts.dump {
        d.record(Direction::Out, dest, 0, data);
    }
    let deadline = Instant::now() + opts.timeout;
    let mut buf = vec![0u8; RECV_BUF];
    let (mut got, mut received) = (0u64, 0u64);
    while got < opts.count {
        match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Err(_) => {
                return Err(exit_with(
                    1,
                    format!(
                        "timed out after {:?} waiting for a reply from {dest} (got {got} of {}); is a UDP server listening there? Raise --timeout, or use --count 0 to send without waiting",
                        opts.timeout, opts.count
                    ),
                ));
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(anyhow!(
                    "{dest} refused the datagram (ICMP port unreachable): no UDP server is listening there"
                ));
            }
            Ok(Err(e)) => return Err(anyhow!("receiving from {dest}: {e}")),
            Ok(Ok(n)) => {
                if let Some(d) = &opts.dump {
                    d.record(Direction::In, dest, received, &buf[..n]);
                }
                received += n as u64;
                got += 1;
                reply(dest, &buf[..n])?;
            }
        }
    }
    Ok(())
}

/// `65527` as `65,527`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A socket connected to the first address of `target`, so that an ICMP "port
/// unreachable" comes back as an error we can name.
async fn connected(target: &HostPort, opts: &UdpSendOptions) -> Result<UdpSocket> {
    let dest = *target
        .resolve()
        .await?
        .first()
        .ok_or_else(|| anyhow!("{target} has no addresses"))?;
    let local = match opts.source {
        Some(s) => s,
        None if dest.is_ipv4() => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        None => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    };
    let socket = bind_udp_at(local, &opts.buffers)?;
    socket
        .connect(dest)
        .await
        .with_context(|| format!("cannot reach {dest}"))?;
    Ok(socket)
}

/// How `connect` pipes stdin and replies.
#[derive(Debug, Clone)]
pub struct UdpConnectOptions {
    /// Bind the local end here first; `None`: any port on the unspecified address.
    pub source: Option<SocketAddr>,
    /// Kernel buffer sizes.
    pub buffers: Buffers,
    /// After stdin ends, how long to wait for more replies before returning.
    pub linger: Duration,
    /// Hex dump of all traffic.
    pub dump: Option<Dump>,
}

impl Default for UdpConnectOptions {
    fn default() -> Self {
        UdpConnectOptions {
            source: None,
            buffers: Buffers::default(),
            linger: Duration::from_secs(1),
            dump: None,
        }
    }
}

/// `ncat -u ADDR`: each read of stdin goes to `target` as a datagram (split at
/// the family's largest payload), and each reply goes to `reply`, until stdin has
/// ended and no reply came for `linger`. An ICMP "port unreachable" is an error.
pub async fn connect<F>(target: &HostPort, opts: &UdpConnectOptions, mut reply: F) -> Result<()>
where
    F: FnMut(SocketAddr, &[u8]) -> Result<()>,
{
    let send_opts = UdpSendOptions {
        source: opts.source,
        buffers: opts.buffers,
        ..UdpSendOptions::default()
    };
    let socket = connected(target, &send_opts).await?;
    let dest = socket.peer_addr()?;
    let max = max_payload(dest);
    let mut stdin = Some(stdin_chunks(false));
    let mut pending = Bytes::new();
    let mut buf = vec![0u8; RECV_BUF];
    let (mut sent, mut received) = (0u64, 0u64);
    let mut quiet_since = Instant::now();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        let input_open = stdin.is_some() || !pending.is_empty();
        let linger_end = quiet_since + opts.linger;
        tokio::select! {
            _ = &mut signal => return Ok(()),
            next = next_stdin_datagram(&mut stdin, &mut pending, max), if input_open => {
                let Some(datagram) = next else {
                    quiet_since = Instant::now();
                    continue;
                };
                let datagram = datagram?;
                match socket.send(&datagram).await {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        return Err(unreachable(dest));
                    }
                    Err(e) => return Err(anyhow!("sending to {dest}: {e}")),
                }
                if let Some(d) = &opts.dump {
                    d.record(Direction::Out, dest, sent, &datagram);
                }
                sent += datagram.len() as u64;
            }
            r = socket.recv(&mut buf) => match r {
                Ok(n) => {
                    if let Some(d) = &opts.dump {
                        d.record(Direction::In, dest, received, &buf[..n]);
                    }
                    received += n as u64;
                    quiet_since = Instant::now();
                    reply(dest, &buf[..n])?;
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(unreachable(dest)),
                Err(e) => return Err(anyhow!("receiving from {dest}: {e}")),
            },
            _ = tokio::time::sleep_until(linger_end), if !input_open => return Ok(()),
        }
    }
}

/// The error for an ICMP "port unreachable" from `dest`.
fn unreachable(dest: SocketAddr) -> anyhow::Error {
    anyhow!("{dest} refused the datagram (ICMP port unreachable): no UDP server is listening there")
}
