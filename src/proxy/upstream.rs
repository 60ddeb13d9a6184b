//! The upstream leg that the TCP relay and `--http` both open: the shared
//! connector, TLS when asked (`--upstream-tls`, the shared client config and
//! verifier), and with a capture its leg in the file (under TLS the records
//! themselves, with the session keys in the capture).

use super::capture::{Capture, KeyLogger, Note, Recorder, Side};
use crate::net::stream::Tap;
use crate::net::{BoxStream, ConnectOptions, Dump, HostPort, Meter};
use crate::tls::TlsClient;
use anyhow::anyhow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How to open an upstream leg.
pub(crate) struct Target<'a> {
    pub(crate) upstream: &'a HostPort,
    pub(crate) connect: &'a ConnectOptions,
    pub(crate) tls: Option<&'a TlsClient>,
    pub(crate) capture: Option<&'a Capture>,
    pub(crate) dump: Option<Dump>,
    pub(crate) idle: Option<Duration>,
    /// Record plain TCP as it passes (`--http`); `false` leaves it to the
    /// relay's chains, which name the toxics that acted.
    pub(crate) record_plain: bool,
}

/// An open upstream leg.
pub(crate) struct Leg {
    /// The stream, counted, dumped and idle-timed.
    pub(crate) stream: BoxStream,
    /// The upstream's address.
    pub(crate) addr: SocketAddr,
    /// Its byte counts.
    pub(crate) meter: Arc<Meter>,
    /// A handle on its TCP socket (SO_LINGER for resets).
    pub(crate) socket: Option<socket2::Socket>,
    /// Its flow in the capture.
    pub(crate) side: Option<Side>,
    /// Recorded as it passes (TLS, or `record_plain`): where the relay names the
    /// toxics that acted on what it writes next. `None`: the chains record.
    pub(crate) note: Option<Note>,
}

/// Why a leg could not be opened.
pub(crate) struct Failed {
    /// The upstream's address, when the TCP connection was made (TLS failed).
    pub(crate) addr: Option<SocketAddr>,
    /// The packet comment for the client's reset.
    pub(crate) comment: &'static str,
    pub(crate) error: anyhow::Error,
}

/// Connect to `t.upstream` (and shake hands over TLS when asked).
pub(crate) async fn open(t: Target<'_>) -> Result<Leg, Failed> {
    let (tcp, addr) = crate::net::connect(t.upstream, t.connect)
        .await
        .map_err(|e| Failed {
            addr: None,
            comment: "wirekit: the upstream could not be reached",
            error: e.context(format!("upstream {}", t.upstream)),
        })?;
    // Chunks leave as they come, as Toxiproxy (Go) sends them.
    let _ = tcp.set_nodelay(true);
    let socket = std::os::fd::AsFd::as_fd(&tcp)
        .try_clone_to_owned()
        .ok()
        .map(socket2::Socket::from);
    let side = match (t.capture, tcp.local_addr()) {
        (Some(c), Ok(local)) => Some(Side::upstream(c.clone(), local, addr)),
        _ => None,
    };
    let recorded = side.is_some() && (t.tls.is_some() || t.record_plain);
    let note = recorded.then(Note::default);
    let (stream, meter): (BoxStream, _) = match t.tls {
        None if !recorded => tap(tcp, addr, &t),
        None => {
            let (io, held) = Recorder::new(tcp, side.clone(), note.clone());
            held.release(side.as_ref());
            tap(io, addr, &t)
        }
        Some(tls) => {
            let client = match t.capture {
                Some(c) => tls.with_key_log(Arc::new(KeyLogger::new(c.clone()))),
                None => tls.clone(),
            };
            let (io, held) = Recorder::new(tcp, side.clone(), note.clone());
            let limit = t.connect.connect_timeout;
            let shaken =
                tokio::time::timeout(limit, client.handshake_over(io, &t.upstream.host)).await;
            held.release(side.as_ref());
            match shaken {
                Ok(Ok(s)) => tap(s, addr, &t),
                failed => {
                    let why = match failed {
                        Ok(Err(e)) => crate::error::one_line(&e),
                        _ => format!(
                            "the TLS handshake timed out after {limit:?} (is it a TLS server?)"
                        ),
                    };
                    return Err(Failed {
                        addr: Some(addr),
                        comment: "wirekit: the TLS handshake with the upstream failed",
                        error: anyhow!("upstream {}: {why}", t.upstream),
                    });
                }
            }
        }
    };
    Ok(Leg {
        stream,
        addr,
        meter,
        socket,
        side,
        note,
    })
}

/// The shared tap on a leg's stream.
fn tap<S: crate::net::stream::AsyncStream>(
    s: S,
    addr: SocketAddr,
    t: &Target<'_>,
) -> (BoxStream, Arc<Meter>) {
    let tap = Tap::new(s, addr, t.dump.clone(), t.idle);
    let meter = tap.meter();
    (Box::new(tap), meter)
}
