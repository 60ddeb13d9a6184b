//! `wirekit udp`: receive datagrams and print them with the sender (the seed's
//! server), or send one and print the replies (the seed's client).

use crate::cli::{UdpArgs, UdpCommand, UdpListenArgs, UdpSendArgs};
use crate::error::{exit_with, usage};
use crate::net::dump::Direction;
use crate::net::listen::{bind_udp_at, shutdown_signal};
use crate::net::{Access, Dump, HostPort, bind_udp};
use anyhow::{Context, Result, anyhow};
use serde_json::json;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::time::Instant;
use tracing::warn;

/// The largest UDP payload over IPv4: 65,535 − 8 (UDP header) − 20 (IP header).
pub const MAX_DATAGRAM: usize = 65_507;

pub async fn run(args: &UdpArgs) -> Result<()> {
    match &args.command {
        UdpCommand::Listen(a) => listen(a).await,
        UdpCommand::Send(a) => send(a).await,
    }
}

/// How datagrams are printed: the seed's `Received from ADDR: DATA`, JSON, or raw bytes.
#[derive(Clone, Copy)]
struct Printer {
    json: bool,
    raw: bool,
}

impl Printer {
    fn print(&self, peer: SocketAddr, data: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        if self.raw {
            out.write_all(data)?;
        } else {
            let text = String::from_utf8_lossy(data);
            if self.json {
                let line = json!({"peer": peer.to_string(), "bytes": data.len(), "data": text});
                writeln!(out, "{line}")?;
            } else {
                let text = text.strip_suffix('\n').unwrap_or(&text);
                writeln!(out, "Received from {peer}: {text}")?;
            }
        }
        out.flush()
    }
}

async fn listen(a: &UdpListenArgs) -> Result<()> {
    let addr = HostPort::parse(&a.addr, Some(8000))?;
    let socket = bind_udp(&addr, &a.buffers).await?;
    let local = socket.local_addr()?;
    // Always (even with -q), and stable: scripts and tests read the chosen port here.
    eprintln!("wirekit: listening on udp {local}");
    let access = Access::from_args(&a.access);
    let dump = Dump::from_args(&a.dump)?;
    let printer = Printer {
        json: a.json,
        raw: a.raw,
    };
    let answer = a.reply.as_ref().map(|t| t.as_bytes().to_vec());
    let mut buf = vec![0u8; 65_536];
    let (mut received, mut sent, mut count) = (0u64, 0u64, 0u64);
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        let (n, peer) = tokio::select! {
            _ = &mut signal => break,
            r = socket.recv_from(&mut buf) => match r {
                Ok(pair) => pair,
                Err(e) => {
                    // e.g. an ICMP error for an earlier reply: not fatal for a server
                    warn!("receive on {local}: {e}");
                    continue;
                }
            },
        };
        if !access.permits(peer.ip()) {
            warn!(%peer, "dropped datagram from {peer}: not allowed by --allow/--deny");
            continue;
        }
        let data = &buf[..n];
        if let Some(d) = &dump {
            d.record(Direction::In, peer, received, data);
        }
        received += n as u64;
        if let Err(e) = printer.print(peer, data) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(e).context("writing stdout");
        }
        let back = if a.echo {
            Some(data)
        } else {
            answer.as_deref()
        };
        if let Some(back) = back {
            match socket.send_to(back, peer).await {
                Ok(_) => {
                    if let Some(d) = &dump {
                        d.record(Direction::Out, peer, sent, back);
                    }
                    sent += back.len() as u64;
                }
                Err(e) => warn!("reply to {peer}: {e}"),
            }
        }
        count += 1;
        if a.count.is_some_and(|limit| count >= limit) {
            break;
        }
    }
    Ok(())
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut data = Vec::new();
    // Read one byte past the limit so oversize input is caught without reading it all.
    io::stdin()
        .lock()
        .take(MAX_DATAGRAM as u64 + 1)
        .read_to_end(&mut data)
        .context("reading stdin")?;
    Ok(data)
}

async fn send(a: &UdpSendArgs) -> Result<()> {
    let target = HostPort::parse(&a.addr, None)?;
    let data = match &a.text {
        Some(t) => t.as_bytes().to_vec(),
        None => tokio::task::spawn_blocking(read_stdin).await??,
    };
    if data.len() > MAX_DATAGRAM {
        let shown = if a.text.is_some() {
            format!("{} bytes", data.len())
        } else {
            "over 65,507 bytes".to_string()
        };
        return Err(usage(format!(
            "the input is {shown}; a UDP datagram carries at most 65,507 bytes: send less, or use `wirekit tcp`"
        )));
    }
    let dest = *target
        .resolve()
        .await?
        .first()
        .ok_or_else(|| anyhow!("{target} has no addresses"))?;
    let local = match &a.source {
        Some(s) => crate::net::connect::parse_source(s)?,
        None if dest.is_ipv4() => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        None => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    };
    let socket = bind_udp_at(local, &a.buffers)?;
    // Connected, so an ICMP "port unreachable" comes back as an error we can name.
    socket
        .connect(dest)
        .await
        .with_context(|| format!("cannot reach {dest}"))?;
    let dump = Dump::from_args(&a.dump)?;
    socket
        .send(&data)
        .await
        .with_context(|| format!("sending to {dest}"))?;
    if let Some(d) = &dump {
        d.record(Direction::Out, dest, 0, &data);
    }
    let printer = Printer {
        json: a.json,
        raw: a.raw,
    };
    let deadline = Instant::now() + a.timeout;
    let mut buf = vec![0u8; 65_536];
    let mut got = 0u64;
    let mut received = 0u64;
    while got < a.count {
        match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Err(_) => {
                return Err(exit_with(
                    1,
                    format!(
                        "timed out after {:?} waiting for a reply from {dest} (got {got} of {}); is a UDP server listening there? Raise --timeout, or use --count 0 to send without waiting",
                        a.timeout, a.count
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
                if let Some(d) = &dump {
                    d.record(Direction::In, dest, received, &buf[..n]);
                }
                received += n as u64;
                got += 1;
                printer.print(dest, &buf[..n]).context("writing stdout")?;
            }
        }
    }
    Ok(())
}
