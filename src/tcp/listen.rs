//! The server side of `wirekit tcp`: what the shared listener does with each
//! client (pipe, echo, reply, exec, broker, chat, discard), and the events it
//! reports per connection.

use super::broker::{Hub, Relay, STALL_LIMIT, chat, member};
use super::modes::{echo, exec, reply};
use super::pipe::{Input, Output, discard, pipe};
use crate::net::stdio::{StdoutWriter, stdin_chunks};
use crate::net::{Conn, Listener};
use anyhow::Result;
use bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::info;

/// What a listener does with each client.
#[derive(Debug, Clone, Default)]
pub enum ListenMode {
    /// The client's bytes to stdout, stdin to the client (to every client with `keep_open`).
    #[default]
    Pipe,
    /// Send every byte back to the client that sent it.
    Echo,
    /// Read one message (reported as [`Event::Message`]), answer these bytes, close.
    Reply(Bytes),
    /// Run this program (words: program, then arguments) with its stdin and
    /// stdout on the connection.
    Exec(Vec<String>),
    /// Relay every client's bytes to all the other clients (implies `keep_open`).
    Broker,
    /// A broker with `<userN>` prefixes and join/leave lines (implies `keep_open`).
    Chat,
    /// Read and throw away (the bytes are counted in [`Event::Close`]).
    Discard,
}

/// How `serve` treats clients.
#[derive(Debug, Clone, Default)]
pub struct TcpListenOptions {
    /// What to do with each client.
    pub mode: ListenMode,
    /// Keep serving after the first client, many at once.
    pub keep_open: bool,
    /// Turn LF from stdin into CRLF (pipe mode).
    pub crlf: bool,
    /// Pipe mode: only send stdin to clients; what they send is not read.
    pub send_only: bool,
    /// Pipe mode: only print what clients send; stdin is not read.
    pub recv_only: bool,
}

/// What happened to a connection, in order: open, messages, close.
#[derive(Debug, Clone)]
pub enum Event {
    /// A client was admitted.
    Open {
        /// The connection's number, from 1.
        id: u64,
        /// The client.
        peer: SocketAddr,
    },
    /// A client's message in [`ListenMode::Reply`].
    Message {
        /// The connection's number.
        id: u64,
        /// The client.
        peer: SocketAddr,
        /// What it sent.
        data: Bytes,
    },
    /// A connection ended.
    Close {
        /// The connection's number.
        id: u64,
        /// The client.
        peer: SocketAddr,
        /// Bytes received from the client.
        received: u64,
        /// Bytes sent to the client.
        sent: u64,
        /// How long the connection lasted.
        elapsed: Duration,
        /// Why it failed, on one line, if it did.
        error: Option<String>,
    },
}

/// Where this listener's events go.
pub(crate) type Events = crate::net::events::Events<Event>;

/// A mode with what its clients share (a hub for broker, chat and `-k` pipe).
#[derive(Clone)]
enum Role {
    Pipe {
        input: Input,
        output: Output,
    },
    Fanout {
        stdin: Hub,
        out: Option<mpsc::Sender<Bytes>>,
    },
    Echo,
    Reply(Bytes),
    Exec(Arc<[String]>),
    Broker(Hub),
    Chat(Hub),
    Discard,
}

/// Serve clients of `listener` as `opts` says until the first client is done
/// (without `keep_open`) or SIGINT/SIGTERM; `events`, if given, hears of each
/// connection.
pub async fn serve(
    listener: Listener,
    opts: &TcpListenOptions,
    events: Option<mpsc::Sender<Event>>,
) -> Result<()> {
    let keep_open = opts.keep_open || matches!(opts.mode, ListenMode::Broker | ListenMode::Chat);
    let mut stdout = None;
    let role = match &opts.mode {
        ListenMode::Pipe if keep_open => {
            // -k pipe mode: stdin goes to every client, every client to stdout.
            let out = if opts.send_only {
                None
            } else {
                let writer = StdoutWriter::new();
                let out = writer.sender();
                stdout = Some(writer);
                out
            };
            let stdin = if opts.recv_only {
                Hub::default()
            } else {
                stdin_to_hub(opts.crlf)
            };
            Role::Fanout { stdin, out }
        }
        ListenMode::Pipe => Role::Pipe {
            input: if opts.recv_only {
                Input::Nothing
            } else {
                Input::Stdin { crlf: opts.crlf }
            },
            output: if opts.send_only {
                Output::Ignore
            } else {
                Output::Stdout
            },
        },
        ListenMode::Echo => Role::Echo,
        ListenMode::Reply(text) => Role::Reply(text.clone()),
        ListenMode::Exec(words) => Role::Exec(words.as_slice().into()),
        ListenMode::Broker => Role::Broker(Hub::dropping_stalled(STALL_LIMIT)),
        ListenMode::Chat => Role::Chat(Hub::dropping_stalled(STALL_LIMIT)),
        ListenMode::Discard => Role::Discard,
    };
    let events = Events::new(events);
    let result = listener
        .run(!keep_open, move |conn| {
            handle(conn, role.clone(), events.clone())
        })
        .await;
    if let Some(writer) = stdout {
        let _ = writer.finish().await;
    }
    result
}

/// A hub that every stdin chunk is published to, read on its own task.
fn stdin_to_hub(crlf: bool) -> Hub {
    let hub = Hub::default();
    let publisher = hub.clone();
    tokio::spawn(async move {
        let mut rx = stdin_chunks(crlf);
        while let Some(Ok(chunk)) = rx.recv().await {
            publisher.publish(0, chunk).await;
        }
    });
    hub
}

/// One client, from its open event to its close event. A plain function returning
/// an `async move` block: the block uses its captures in place, where an `async fn`
/// would hold a second copy of its arguments for the connection's whole life.
#[allow(clippy::manual_async_fn)]
fn handle(conn: Conn, role: Role, events: Events) -> impl Future<Output = Result<()>> + Send {
    async move {
        let (id, peer, meter, started) = (conn.id, conn.peer, conn.meter.clone(), conn.started);
        info!("connection from {peer}");
        events.send(Event::Open { id, peer }).await;
        let result = match role {
            // --recv-only keeps the write side open, as ncat does: the client ends the session.
            Role::Pipe { input, output } => {
                let keep_open = matches!(input, Input::Nothing);
                pipe(conn.stream, input, output, keep_open).await
            }
            Role::Fanout { stdin, out } => member(conn, stdin, Relay::Stdout(out)).await,
            Role::Echo => echo(conn.stream).await,
            Role::Reply(text) => reply(conn.stream, peer, id, text, &events).await,
            Role::Exec(words) => exec(conn.stream, peer, conn.local, &words).await,
            Role::Broker(hub) => member(conn, hub.clone(), Relay::Hub(hub)).await,
            Role::Chat(hub) => chat(conn, hub).await,
            Role::Discard => discard(conn.stream).await,
        };
        let elapsed = started.elapsed();
        let (received, sent) = (meter.received(), meter.sent());
        let error = result.as_ref().err().map(crate::error::one_line);
        events
            .send(Event::Close {
                id,
                peer,
                received,
                sent,
                elapsed,
                error,
            })
            .await;
        info!(
            "{peer} closed: received {received} bytes, sent {sent} bytes in {:.3} s",
            elapsed.as_secs_f64()
        );
        result
    }
}
