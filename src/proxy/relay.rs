//! One relayed connection: connect to the upstream, run both directions (each
//! with its own chain of toxics), pass each half-close on as it comes and a
//! reset on as a reset (SO_LINGER 0), and report what happened.

use super::capture::{CaptureTarget, Side};
use super::chain::{Chain, End, QUEUE_CHUNKS, ToxicList, reader};
use super::splice::Spliced;
use super::toxic::Stream;
use super::{Event, Events};
use crate::net::stream::{AsyncStream, Tap};
use crate::net::{Conn, ConnectOptions, Dump, HostPort};
use crate::tls::{TlsClient, TlsStream};
use anyhow::{Result, anyhow};
use std::os::fd::AsFd;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// What every connection of one proxy shares.
pub(crate) struct Route {
    /// The proxy's name (for events and logs).
    pub(crate) name: String,
    /// Where connections go.
    pub(crate) upstream: HostPort,
    /// How to connect there.
    pub(crate) connect: ConnectOptions,
    /// The hex dump, for the upstream leg too.
    pub(crate) dump: Option<Dump>,
    /// The idle timeout, for the upstream leg too.
    pub(crate) idle: Option<Duration>,
    /// `--upstream-tls`: TLS to the upstream.
    pub(crate) upstream_tls: Option<TlsClient>,
    /// `--pcap` / `--pcap-dir`.
    pub(crate) capture: Option<CaptureTarget>,
    /// The proxy's live toxics.
    pub(crate) toxics: ToxicList,
    /// `--seed`: the base of every connection's random numbers.
    pub(crate) seed: Option<u64>,
    /// Where events go.
    pub(crate) events: Events,
}

/// A second handle on the TCP socket under `stream`, to set SO_LINGER on
/// while the stream itself is split between two tasks.
fn socket_of(stream: &dyn AsyncStream) -> Option<socket2::Socket> {
    let any: &dyn std::any::Any = stream;
    let tcp = if let Some(tap) = any.downcast_ref::<Tap<TcpStream>>() {
        tap.get_ref()
    } else if let Some(tap) = any.downcast_ref::<Tap<TlsStream<TcpStream>>>() {
        tap.get_ref().get_ref().get_ref().0
    } else {
        any.downcast_ref::<TcpStream>()?
    };
    tcp.as_fd()
        .try_clone_to_owned()
        .ok()
        .map(socket2::Socket::from)
}

/// Make the socket send RST instead of FIN when it is closed (SO_LINGER 0).
fn arm_reset(socket: Option<&socket2::Socket>) {
    if let Some(s) = socket {
        let _ = s.set_linger(Some(Duration::ZERO));
    }
}

/// The random numbers of one direction of connection `id`: from `--seed` when
/// given (the same seed, the same choices), else from the system.
fn rng(seed: Option<u64>, id: u64, stream: Stream) -> fastrand::Rng {
    match seed {
        Some(s) => fastrand::Rng::with_seed(
            s ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (stream == Stream::Upstream) as u64,
        ),
        None => fastrand::Rng::new(),
    }
}

/// Relay one client to the upstream until both directions are done.
pub(crate) async fn relay(conn: Conn, route: &Route) -> Result<()> {
    let (id, peer, started) = (conn.id, conn.peer, conn.started);
    let client_meter = conn.meter.clone();
    route
        .events
        .send(Event::Open {
            proxy: route.name.clone(),
            id,
            peer,
        })
        .await;
    let client_socket = socket_of(&*conn.stream);
    let capture = route.capture.as_ref().and_then(|target| {
        target
            .for_connection(&route.name, id)
            .map_err(|e| {
                warn!(
                    "proxy {}: no capture: {}",
                    route.name,
                    crate::error::one_line(&e)
                )
            })
            .ok()
    });
    let client_leg = capture
        .as_ref()
        .map(|c| Side::client(c.clone(), peer, conn.local));
    let mut upstream_addr = None;
    let mut upstream_bytes = (0, 0);
    let mut toxics = Vec::new();
    let outcome: Result<Option<String>> = async {
        if let Some(s) = &client_socket {
            let _ = s.set_tcp_nodelay(true); // chunks leave as they come, as Toxiproxy's do
        }
        let target = super::upstream::Target {
            upstream: &route.upstream,
            connect: &route.connect,
            tls: route.upstream_tls.as_ref(),
            capture: capture.as_ref(),
            dump: route.dump.clone(),
            idle: route.idle,
            record_plain: false,
        };
        let leg = match super::upstream::open(target).await {
            Ok(leg) => leg,
            Err(failed) => {
                // The client learns of it as a reset, as from an unreachable server.
                upstream_addr = failed.addr;
                arm_reset(client_socket.as_ref());
                if let Some(leg) = &client_leg {
                    leg.proxy_rst(Some(failed.comment));
                }
                return Err(failed.error.context(format!("proxy {}", route.name)));
            }
        };
        upstream_addr = Some(leg.addr);
        let (up, up_meter, upstream_socket, upstream_leg) = (leg.stream, leg.meter, leg.socket, leg.side);
        // Recorded under TLS (the note carries the toxics' comments), or by the chains.
        let chain_leg = if leg.note.is_some() { None } else { upstream_leg.clone() };
        // The fast path while nothing needs to see the bytes; the chains after it,
        // for the directions still open, if toxics appear.
        let mut open = (true, true);
        let mut fast = None;
        if route.dump.is_none()
            && capture.is_none()
            && let (Some(c), Some(u)) = (tcp_of(&*conn.stream), tcp_of(&*up))
        {
            match super::splice::relay(c, u, (&client_meter, &up_meter), &route.toxics, route.idle)
                .await
            {
                Some(Spliced::Done(end)) => fast = Some(end),
                Some(Spliced::Switch(up_open, down_open)) => open = (up_open, down_open),
                None => {}
            }
        }
        let mut to_server = Chain::new(
            Stream::Upstream,
            route.toxics.clone(),
            rng(route.seed, id, Stream::Upstream),
            chain_leg.clone(),
        )
        .with_note(leg.note);
        let mut to_client = Chain::new(
            Stream::Downstream,
            route.toxics.clone(),
            rng(route.seed, id, Stream::Downstream),
            client_leg.clone(),
        );
        let end = match fast {
            Some(end) => end,
            None => {
                let (client_rd, client_wr) = tokio::io::split(conn.stream);
                let (up_rd, up_wr) = tokio::io::split(up);
                let (up_tx, up_rx) = mpsc::channel(QUEUE_CHUNKS);
                let (down_tx, down_rx) = mpsc::channel(QUEUE_CHUNKS);
                let upward = direction(open.0, reader(client_rd, up_tx, client_leg.clone()), to_server.writer(up_rx, up_wr));
                let downward = direction(open.1, reader(up_rd, down_tx, chain_leg), to_client.writer(down_rx, client_wr));
                tokio::pin!(upward, downward);
                tokio::select! {
                    end = &mut upward => match end { End::Eof => (&mut downward).await, other => other },
                    end = &mut downward => match end { End::Eof => (&mut upward).await, other => other },
                }
            }
        };
        upstream_bytes = (up_meter.sent(), up_meter.received());
        toxics = to_server.applied.iter().chain(&to_client.applied).cloned().collect();
        match end {
            End::Eof => Ok(None),
            End::Reset(why) => {
                arm_reset(client_socket.as_ref());
                arm_reset(upstream_socket.as_ref());
                let comment = format!("wirekit: {why}");
                for leg in client_leg.iter().chain(&upstream_leg) {
                    leg.proxy_rst(Some(&comment));
                }
                Ok(Some(format!("reset: {why}")))
            }
            End::Close(why) => {
                // Both sides are closed now; record the FINs not yet sent.
                if !to_client.finished {
                    client_leg.iter().for_each(Side::proxy_fin);
                }
                if !to_server.finished {
                    upstream_leg.iter().for_each(Side::proxy_fin);
                }
                Ok(Some(why))
            }
            End::Failed(e) => Err(anyhow!(e).context(format!("proxy {}: relaying", route.name))),
        }
    }
    .await;
    let elapsed = started.elapsed();
    let (received, sent) = (client_meter.received(), client_meter.sent());
    let (error, note) = match &outcome {
        Ok(note) => (None, note.clone()),
        Err(e) => (Some(crate::error::one_line(e)), None),
    };
    if let Some(note) = &note {
        info!(%peer, "{}: {peer}: {note}", route.name);
    }
    route
        .events
        .send(Event::Close {
            proxy: route.name.clone(),
            id,
            peer,
            upstream: upstream_addr,
            received,
            sent,
            upstream_sent: upstream_bytes.0,
            upstream_received: upstream_bytes.1,
            toxics,
            elapsed,
            note,
            error,
        })
        .await;
    if let Err(e) = &outcome
        && upstream_addr.is_none()
    {
        warn!(%peer, "{}; reset the client {peer}", crate::error::one_line(e));
        return Ok(()); // logged here, with what was done about it
    }
    outcome.map(|_| ())
}

/// One direction: its reader and its writer run together; the direction ends
/// with its writer (which sees the reader's end in the queue). A direction
/// not `open` (it ended on the fast path) is already done.
async fn direction(
    open: bool,
    reader: impl std::future::Future<Output = ()>,
    writer: impl std::future::Future<Output = End>,
) -> End {
    if !open {
        return End::Eof;
    }
    tokio::pin!(reader, writer);
    tokio::select! {
        end = &mut writer => end,
        () = &mut reader => writer.await,
    }
}

/// The TCP stream under a connection's tap, when it is plain TCP.
fn tcp_of(stream: &dyn AsyncStream) -> Option<&TcpStream> {
    let any: &dyn std::any::Any = stream;
    any.downcast_ref::<Tap<TcpStream>>().map(Tap::get_ref)
}
