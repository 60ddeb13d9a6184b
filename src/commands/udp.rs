//! `wirekit udp listen|send`: flags -> `udp` library options -> run, printing
//! each datagram with its sender (the seed's format), as JSON, or raw.

use crate::cli::{UdpArgs, UdpCommand, UdpConnectArgs, UdpListenArgs, UdpSendArgs};
use anyhow::{Context, Result};
use base64::Engine;
use bytes::Bytes;
use serde_json::json;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use wirekit::net::HostPort;
use wirekit::net::bind_udp;
use wirekit::text::{Keep, escape};
use wirekit::udp::{Answer, MAX_DATAGRAM_V6, UdpConnectOptions, UdpListenOptions, UdpSendOptions};

/// Run `udp listen` or `udp send`.
pub(crate) async fn run(args: &UdpArgs) -> Result<()> {
    match &args.command {
        UdpCommand::Listen(a) => listen(a).await,
        UdpCommand::Send(a) => send(a).await,
        UdpCommand::Connect(a) => connect(a).await,
    }
}

/// `udp connect`: stdin to datagrams, replies to stdout (raw, or JSON lines).
async fn connect(a: &UdpConnectArgs) -> Result<()> {
    let target = HostPort::parse(&a.addr, None)?;
    let options = UdpConnectOptions {
        source: a.source,
        buffers: a.buffers.buffers(),
        linger: a.wait,
        dump: a.dump.open()?,
    };
    let printer = Printer {
        json: a.json,
        raw: !a.json,
    };
    wirekit::udp::connect(&target, &options, |peer, reply| {
        printer.print(peer, reply).context("writing stdout")
    })
    .await
}

/// How datagrams are printed: the seed's `Received from ADDR: DATA` with control
/// characters and newlines escaped (so no datagram can forge a line), JSON
/// (`data` as text, `data_base64` lossless), or raw bytes.
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
        } else if self.json {
            let text = String::from_utf8_lossy(data);
            let b64 = base64::engine::general_purpose::STANDARD.encode(data);
            let line = json!({"peer": peer.to_string(), "bytes": data.len(), "data": text,
                              "data_base64": b64});
            writeln!(out, "{line}")?;
        } else {
            let data = data.strip_suffix(b"\n").unwrap_or(data);
            writeln!(out, "Received from {peer}: {}", escape(data, Keep::Nothing))?;
        }
        out.flush()
    }
}

async fn listen(a: &UdpListenArgs) -> Result<()> {
    let addr = HostPort::parse(&a.addr, Some(8000))?;
    let socket = bind_udp(&addr, &a.buffers.buffers()).await?;
    // Always (even with -q), and stable: scripts and tests read the chosen port here.
    eprintln!("wirekit: listening on udp {}", socket.local_addr()?);
    let answer = match &a.reply {
        _ if a.echo => Answer::Echo,
        Some(text) => Answer::Text(Bytes::copy_from_slice(text.as_bytes())),
        None => Answer::Nothing,
    };
    let options = UdpListenOptions {
        access: a.access.access(),
        dump: a.dump.open()?,
        // Without --echo/--reply, stdin goes to the first peer, as `ncat -u -l` does.
        stdin_to_first_peer: matches!(answer, Answer::Nothing),
        answer,
        count: a.count,
    };
    let printer = Printer {
        json: a.json,
        raw: a.raw,
    };
    wirekit::udp::serve(socket, &options, |peer, data| {
        match printer.print(peer, data) {
            Ok(()) => Ok(true),
            // A reader that went away (`| head`) ends the server quietly.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(e).context("writing stdout"),
        }
    })
    .await
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut data = Vec::new();
    // Read one byte past the limit so oversize input is caught without reading it all.
    io::stdin()
        .lock()
        .take(MAX_DATAGRAM_V6 as u64 + 1)
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
    let options = UdpSendOptions {
        source: a.source,
        buffers: a.buffers.buffers(),
        timeout: a.timeout,
        count: a.count,
        dump: a.dump.open()?,
    };
    let printer = Printer {
        json: a.json,
        raw: a.raw,
    };
    wirekit::udp::send(&target, &data, &options, |peer, reply| {
        printer.print(peer, reply).context("writing stdout")
    })
    .await
}
