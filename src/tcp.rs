//! `wirekit tcp`: connect and listen like ncat. Every mode runs on the shared
//! listener and connector; this module only decides what to do with the bytes.

use crate::cli::{TcpArgs, TcpCommand, TcpConnectArgs, TcpListenArgs};
use crate::error::exit_with;
use crate::net::addr::parse_port_range;
use crate::net::stream::{AsyncStream, Tap, read_chunk};
use crate::net::tls::{self, TlsClient};
use crate::net::{self, Conn, Dump, HostPort, Listener};
use crate::stdio::{CHUNK, StdoutWriter, stdin_chunks, to_crlf};
use crate::util::{format_bitrate, format_bytes};
use anyhow::{Context, Result, anyhow};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::json;
use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::{info, warn};

pub async fn run(args: &TcpArgs) -> Result<()> {
    match &args.command {
        TcpCommand::Connect(a) => connect(a).await,
        TcpCommand::Listen(a) => listen(a).await,
    }
}

/// What goes to the peer.
pub enum Input {
    /// Nothing: receive only.
    Nothing,
    /// stdin, read on its own thread (optionally LF → CRLF).
    Stdin { crlf: bool },
    /// Fixed bytes (`--send`, `--reply`).
    Bytes(Bytes),
    /// This many zero bytes, for throughput tests.
    Zeros(u64),
}

/// Where the peer's bytes go.
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
    let send_only = matches!(output, Output::Ignore);
    let interactive = matches!(input, Input::Stdin { .. }) && std::io::stdin().is_terminal();
    let upload = async move {
        send(&mut wr, input).await?;
        if !keep_open || send_only {
            wr.shutdown().await.context("closing the write side")?;
        }
        anyhow::Ok(wr)
    };
    let download = async move { receive(&mut rd, output).await };
    tokio::pin!(upload, download);
    tokio::select! {
        done = &mut download => {
            done?;
            if interactive {
                return Ok(());
            }
            upload.await.map(drop)
        }
        sent = &mut upload => {
            let _write_half = sent?; // kept open until the peer is done
            if send_only {
                return Ok(());
            }
            download.await
        }
    }
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
            loop {
                buf.reserve(CHUNK);
                if rd.read_buf(&mut buf).await.context("receiving")? == 0 {
                    break;
                }
                if out.write(buf.split().freeze()).await.is_err() {
                    break; // stdout closed (`| head`): stop quietly, like ncat
                }
            }
            match out.finish().await {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("writing stdout"),
                _ => Ok(()),
            }
        }
    }
}

// ---------------------------------------------------------------- connect

async fn connect(a: &TcpConnectArgs) -> Result<()> {
    if a.scan {
        return scan(a).await;
    }
    let target = HostPort::parse(&a.addr, None)?;
    let dump = Dump::from_args(&a.dump)?;
    let tls = TlsClient::from_args(&a.tls, &[])?;
    let (stream, addr) = net::open(&target, &a.connect, tls.as_ref()).await?;
    info!("connected to {addr}");
    let tap = Tap::new(stream, addr, dump, None);
    let meter = tap.meter();
    let started = Instant::now();
    let (input, output) = if let Some(n) = a.zero_source {
        (Input::Zeros(n), Output::Discard)
    } else if let Some(text) = &a.send {
        let bytes = if a.crlf {
            to_crlf(text.as_bytes(), &mut false)
        } else {
            Bytes::copy_from_slice(text.as_bytes())
        };
        (Input::Bytes(bytes), Output::Stdout)
    } else if a.recv_only {
        (Input::Nothing, Output::Stdout)
    } else if a.send_only {
        (Input::Stdin { crlf: a.crlf }, Output::Ignore)
    } else {
        (Input::Stdin { crlf: a.crlf }, Output::Stdout)
    };
    pipe(tap, input, output, a.no_shutdown || a.recv_only).await?;
    let elapsed = started.elapsed();
    if a.zero_source.is_some() || a.json {
        let (sent, received) = (meter.sent(), meter.received());
        if a.json {
            println!(
                "{}",
                json!({"peer": addr.to_string(), "sent": sent, "received": received,
                       "duration_ms": elapsed.as_secs_f64() * 1000.0,
                       "send_bits_per_second": sent as f64 * 8.0 / elapsed.as_secs_f64().max(1e-9)})
            );
        } else {
            eprintln!(
                "sent {} in {:.3} s ({})",
                format_bytes(sent),
                elapsed.as_secs_f64(),
                format_bitrate(sent, elapsed)
            );
        }
    }
    Ok(())
}

/// `-z`: which ports accept a connection. Exit 0 when any is open.
async fn scan(a: &TcpConnectArgs) -> Result<()> {
    let (host, ports) = parse_port_range(&a.addr)?;
    let checks = futures_util::stream::iter(ports.clone()).map(|port| {
        let target = HostPort {
            host: host.clone(),
            port,
        };
        async move {
            let result = net::connect(&target, &a.connect).await;
            (target, result)
        }
    });
    let mut results = checks.buffered(64);
    let mut open = 0;
    while let Some((target, result)) = results.next().await {
        let is_open = result.is_ok();
        open += usize::from(is_open);
        if a.json {
            let error = result.err().map(|e| crate::error::one_line(&e));
            println!(
                "{}",
                json!({"host": target.host, "port": target.port, "open": is_open, "error": error})
            );
        } else {
            println!("{target} {}", if is_open { "open" } else { "closed" });
        }
    }
    if open == 0 {
        return Err(exit_with(
            1,
            format!("no open port in {host}:{}-{}", ports.start(), ports.end()),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- listen

/// What a listener does with each client.
#[derive(Clone)]
enum Mode {
    Pipe,
    Echo,
    Reply(Bytes),
    Exec(Vec<String>),
    Broker(Hub),
    Chat(Hub),
    Discard,
}

async fn listen(a: &TcpListenArgs) -> Result<()> {
    let addr = HostPort::parse(&a.addr, Some(8000))?;
    let program = match (&a.exec, &a.sh_exec) {
        (Some(cmd), _) => {
            let words = shell_words::split(cmd).map_err(|e| {
                crate::error::usage(format!("--exec '{cmd}' cannot be split into words: {e}"))
            })?;
            if words.is_empty() {
                return Err(crate::error::usage("--exec needs a program to run"));
            }
            Some(words)
        }
        (None, Some(cmd)) => Some(vec!["sh".into(), "-c".into(), cmd.clone()]),
        _ => None,
    };
    let mode = if a.echo {
        Mode::Echo
    } else if let Some(text) = &a.reply {
        let bytes = if a.crlf {
            to_crlf(text.as_bytes(), &mut false)
        } else {
            Bytes::copy_from_slice(text.as_bytes())
        };
        Mode::Reply(bytes)
    } else if let Some(words) = program {
        Mode::Exec(words)
    } else if a.broker {
        Mode::Broker(Hub::default())
    } else if a.chat {
        Mode::Chat(Hub::default())
    } else if a.discard {
        Mode::Discard
    } else {
        Mode::Pipe
    };
    let keep_open = a.keep_open || a.broker || a.chat;
    let dump = Dump::from_args(&a.dump)?;
    let tls = tls::acceptor(&a.tls, &addr.host, &[])?;
    let listener = Listener::bind(&addr, &a.listen, dump).await?.with_tls(tls);
    // Always (even with -q), and stable: scripts and tests read the chosen port here.
    eprintln!("wirekit: listening on {}", listener.local_addr());

    let stdout = StdoutWriter::new();
    // Events go to stdout unless stdout carries the clients' data (pipe mode).
    let events = Events {
        json: a.json,
        discard: matches!(mode, Mode::Discard),
        out: if matches!(mode, Mode::Pipe) {
            None
        } else {
            stdout.sender()
        },
    };
    let data_out = stdout.sender();
    let stdin_hub = Hub::default(); // -k pipe mode: stdin goes to every client
    if keep_open && matches!(mode, Mode::Pipe) {
        let hub = stdin_hub.clone();
        let crlf = a.crlf;
        tokio::spawn(async move {
            let mut rx = stdin_chunks(crlf);
            while let Some(Ok(chunk)) = rx.recv().await {
                hub.publish(0, chunk).await;
            }
        });
    }
    let crlf = a.crlf;
    let result = listener
        .run(!keep_open, move |conn| {
            let (mode, events, data_out, stdin_hub) = (
                mode.clone(),
                events.clone(),
                data_out.clone(),
                stdin_hub.clone(),
            );
            async move {
                let (id, peer, meter, started) =
                    (conn.id, conn.peer, conn.meter.clone(), conn.started);
                info!("connection from {peer}");
                events.open(id, peer).await;
                let result = match mode {
                    Mode::Pipe if keep_open => {
                        member(conn, stdin_hub, Relay::Stdout(data_out)).await
                    }
                    Mode::Pipe => {
                        pipe(conn.stream, Input::Stdin { crlf }, Output::Stdout, false).await
                    }
                    Mode::Echo => echo(conn.stream).await,
                    Mode::Reply(text) => reply(conn.stream, peer, id, text, &events).await,
                    Mode::Exec(words) => exec(conn.stream, peer, &words).await,
                    Mode::Broker(hub) => member(conn, hub.clone(), Relay::Hub(hub)).await,
                    Mode::Chat(hub) => chat(conn, hub).await,
                    Mode::Discard => pipe(conn.stream, Input::Nothing, Output::Discard, true).await,
                };
                let elapsed = started.elapsed();
                let (received, sent) = (meter.received(), meter.sent());
                events
                    .close(id, peer, received, sent, elapsed, result.as_ref().err())
                    .await;
                info!(
                    "{peer} closed: received {received} bytes, sent {sent} bytes in {:.3} s",
                    elapsed.as_secs_f64()
                );
                result
            }
        })
        .await;
    let _ = stdout.finish().await;
    result
}

/// Per-connection reports: JSON events, and the `--discard` summary line.
#[derive(Clone)]
struct Events {
    json: bool,
    discard: bool,
    /// The ordered stdout queue, or `None` for stderr.
    out: Option<mpsc::Sender<Bytes>>,
}

impl Events {
    async fn emit(&self, line: String) {
        let line = line + "\n";
        match &self.out {
            Some(out) => {
                let _ = out.send(Bytes::from(line)).await;
            }
            None => {
                let _ = io::stderr().lock().write_all(line.as_bytes());
            }
        }
    }

    async fn open(&self, id: u64, peer: SocketAddr) {
        if self.json {
            self.emit(json!({"event": "open", "id": id, "peer": peer.to_string()}).to_string())
                .await;
        }
    }

    async fn message(&self, id: u64, peer: SocketAddr, data: &[u8]) {
        if self.json {
            let text = String::from_utf8_lossy(data);
            self.emit(
                json!({"event": "message", "id": id, "peer": peer.to_string(), "data": text})
                    .to_string(),
            )
            .await;
        } else if let Some(out) = &self.out {
            let mut line = data.to_vec();
            if !line.ends_with(b"\n") {
                line.push(b'\n'); // one message a line
            }
            let _ = out.send(Bytes::from(line)).await;
        }
    }

    async fn close(
        &self,
        id: u64,
        peer: SocketAddr,
        received: u64,
        sent: u64,
        elapsed: std::time::Duration,
        error: Option<&anyhow::Error>,
    ) {
        let secs = elapsed.as_secs_f64();
        if self.json {
            let error = error.map(crate::error::one_line);
            self.emit(
                json!({"event": "close", "id": id, "peer": peer.to_string(),
                       "received": received, "sent": sent, "duration_ms": secs * 1000.0,
                       "receive_bits_per_second": received as f64 * 8.0 / secs.max(1e-9),
                       "error": error})
                .to_string(),
            )
            .await;
        } else if self.discard {
            self.emit(format!(
                "{peer}: received {received} bytes ({}) in {secs:.3} s, {}",
                format_bytes(received),
                format_bitrate(received, elapsed)
            ))
            .await;
        }
    }
}

/// Clients of one listener that hear each other (`--broker`, `--chat`) or stdin (`-k`).
#[derive(Clone, Default)]
struct Hub {
    members: Arc<Mutex<HashMap<u64, mpsc::Sender<Bytes>>>>,
}

impl Hub {
    /// Add member `id`; its receiver and the number of members now.
    fn join(&self, id: u64) -> (mpsc::Receiver<Bytes>, usize) {
        let (tx, rx) = mpsc::channel(64);
        let mut n = 0;
        if let Ok(mut m) = self.members.lock() {
            m.insert(id, tx);
            n = m.len();
        }
        (rx, n)
    }

    fn leave(&self, id: u64) {
        if let Ok(mut m) = self.members.lock() {
            m.remove(&id);
        }
    }

    fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .members
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// Send to every member but `from`; waits for slow members rather than dropping data.
    async fn publish(&self, from: u64, data: Bytes) {
        let targets: Vec<mpsc::Sender<Bytes>> = self
            .members
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(id, _)| **id != from)
                    .map(|(_, tx)| tx.clone())
                    .collect()
            })
            .unwrap_or_default();
        for tx in targets {
            let _ = tx.send(data.clone()).await;
        }
    }
}

/// "1 member", "3 members".
fn count_members(n: usize) -> String {
    format!("{n} member{}", if n == 1 { "" } else { "s" })
}

/// Where a hub member's bytes go.
enum Relay {
    Hub(Hub),
    Stdout(Option<mpsc::Sender<Bytes>>),
}

/// A hub member: what the hub sends goes to the client; what the client sends is relayed.
async fn member(conn: Conn, hub: Hub, relay: Relay) -> Result<()> {
    let id = conn.id;
    let (mut rx, members) = hub.join(id);
    if matches!(relay, Relay::Hub(_)) {
        info!(
            "{} joined the broker ({})",
            conn.peer,
            count_members(members)
        );
    }
    let (mut rd, mut wr) = tokio::io::split(conn.stream);
    let writer = async move {
        while let Some(chunk) = rx.recv().await {
            wr.write_all(&chunk).await?;
        }
        anyhow::Ok(())
    };
    let reader = async {
        loop {
            let chunk = read_chunk(&mut rd).await?;
            if chunk.is_empty() {
                return anyhow::Ok(());
            }
            match &relay {
                Relay::Hub(hub) => hub.publish(id, chunk).await,
                Relay::Stdout(Some(out)) => {
                    let _ = out.send(chunk).await;
                }
                Relay::Stdout(None) => {}
            }
        }
    };
    let result = tokio::select! {
        r = reader => r,
        r = writer => r,
    };
    hub.leave(id);
    result
}

/// `--chat`: lines are prefixed with `<userN>`; joins and leaves are announced.
async fn chat(conn: Conn, hub: Hub) -> Result<()> {
    let (id, peer) = (conn.id, conn.peer);
    let name = format!("<user{id}>");
    let present: Vec<String> = hub.ids().iter().map(|i| format!("<user{i}>")).collect();
    let (mut rx, members) = hub.join(id);
    info!(
        "{peer} joined the chat as {name} ({})",
        count_members(members)
    );
    let (mut rd, mut wr) = tokio::io::split(conn.stream);
    let listing = if present.is_empty() {
        "nobody".to_string()
    } else {
        present.join(", ")
    };
    wr.write_all(format!("<announce> you are {name}; already connected: {listing}.\n").as_bytes())
        .await?;
    hub.publish(
        id,
        Bytes::from(format!(
            "<announce> {} is connected as {name}.\n",
            peer.ip()
        )),
    )
    .await;
    let writer = async move {
        while let Some(chunk) = rx.recv().await {
            wr.write_all(&chunk).await?;
        }
        anyhow::Ok(())
    };
    let reader = async {
        let mut buf = BytesMut::new();
        loop {
            let chunk = read_chunk(&mut rd).await?;
            let n = chunk.len();
            buf.extend_from_slice(&chunk);
            while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                let line = buf.split_to(pos + 1);
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\r', '\n']);
                hub.publish(id, Bytes::from(format!("{name} {text}\n")))
                    .await;
            }
            if n == 0 {
                if !buf.is_empty() {
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    hub.publish(id, Bytes::from(format!("{name} {text}\n")))
                        .await;
                }
                return anyhow::Ok(());
            }
        }
    };
    let result = tokio::select! {
        r = reader => r,
        r = writer => r,
    };
    hub.leave(id);
    hub.publish(
        id,
        Bytes::from(format!("<announce> {name} is disconnected.\n")),
    )
    .await;
    result
}

async fn echo(stream: crate::net::BoxStream) -> Result<()> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    loop {
        let chunk = read_chunk(&mut rd).await?;
        if chunk.is_empty() {
            break;
        }
        wr.write_all(&chunk).await?;
    }
    wr.shutdown().await?;
    Ok(())
}

/// The seed's server: read one message, answer, close.
async fn reply(
    mut stream: crate::net::BoxStream,
    peer: SocketAddr,
    id: u64,
    text: Bytes,
    events: &Events,
) -> Result<()> {
    let mut buf = vec![0u8; 65536];
    let n = stream.read(&mut buf).await?;
    if n == 0 {
        return Ok(()); // closed without a message: nothing to answer
    }
    events.message(id, peer, &buf[..n]).await;
    stream.write_all(&text).await?;
    stream.shutdown().await?;
    // Lingering close: read what the client still sends so our reply is not lost to a reset.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    Ok(())
}

/// `--exec` / `--sh-exec`: the program's stdin and stdout become the connection.
async fn exec(stream: crate::net::BoxStream, peer: SocketAddr, words: &[String]) -> Result<()> {
    let program = &words[0];
    let mut child = tokio::process::Command::new(program)
        .args(&words[1..])
        .env("WIREKIT_PEER_ADDR", peer.ip().to_string())
        .env("WIREKIT_PEER_PORT", peer.port().to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => anyhow!(
                "cannot run '{program}' for {peer}: program not found; check the name or PATH"
            ),
            io::ErrorKind::PermissionDenied => {
                anyhow!("cannot run '{program}' for {peer}: permission denied; is it executable?")
            }
            _ => anyhow!("cannot run '{program}' for {peer}: {e}"),
        })?;
    let (Some(mut child_in), Some(mut child_out)) = (child.stdin.take(), child.stdout.take())
    else {
        return Err(anyhow!("'{program}' started without pipes"));
    };
    let (mut rd, mut wr) = tokio::io::split(stream);
    let to_child = async move {
        let _ = tokio::io::copy(&mut rd, &mut child_in).await;
        // dropping child_in closes the program's stdin: it sees EOF
    };
    let from_child = async move {
        let copied = tokio::io::copy(&mut child_out, &mut wr).await;
        let _ = wr.shutdown().await;
        copied
    };
    tokio::pin!(to_child, from_child);
    // The connection ends when the program's output ends, as with ncat.
    let copied = tokio::select! {
        r = &mut from_child => r,
        _ = &mut to_child => from_child.await,
    };
    let status = child.wait().await?;
    if !status.success() {
        warn!("'{program}' for {peer} exited with {status}");
    }
    copied
        .map(|_| ())
        .map_err(|e| anyhow!("relaying '{program}' output to {peer}: {e}"))
}
