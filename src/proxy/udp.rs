//! `proxy --udp`: a UDP relay with one upstream socket per client address
//! (expired after an idle time), and UDP faults: `loss`, `duplicate`,
//! `reorder`, `corrupt` (each with a `rate`, the chance per datagram) and
//! `latency` (ms, with `jitter`), each on one `stream` (default downstream).

use super::capture::{Capture, CaptureTarget};
use super::toxic::Stream;
use crate::error::usage;
use crate::net::listen::bind_udp_at;
use crate::net::{Buffers, HostPort};
use anyhow::{Result, anyhow};
use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// What a UDP fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum UdpKind {
    /// Drop a datagram.
    Loss,
    /// Send a datagram twice.
    Duplicate,
    /// Hold a datagram back and send it after the next one.
    Reorder,
    /// Flip the bits of one random byte.
    Corrupt,
    /// Delay every datagram by `latency` ms ± `jitter` ms.
    Latency {
        /// Milliseconds.
        latency: u64,
        /// Milliseconds more or less, at random.
        jitter: u64,
    },
}

impl UdpKind {
    /// Its name in `--udp-fault` (and in packet comments).
    fn name(&self) -> &'static str {
        match self {
            UdpKind::Loss => "loss",
            UdpKind::Duplicate => "duplicate",
            UdpKind::Reorder => "reorder",
            UdpKind::Corrupt => "corrupt",
            UdpKind::Latency { .. } => "latency",
        }
    }
}

/// One UDP fault.
#[derive(Debug, Clone, PartialEq)]
pub struct UdpFault {
    /// What it does.
    pub kind: UdpKind,
    /// The chance per datagram, 0 to 1 (latency: always 1).
    pub rate: f64,
    /// Which way it acts.
    pub stream: Stream,
}

/// The longest latency or jitter, in ms: 366 days, as every wirekit duration.
const MAX_MS: u64 = 366 * 24 * 3600 * 1000;

/// The UDP fault types.
pub const UDP_TYPES: &[&str] = &["loss", "duplicate", "reorder", "corrupt", "latency"];

impl UdpFault {
    /// Parse `TYPE[:key=value,...]`: `rate=P` for loss/duplicate/reorder/corrupt,
    /// `latency=MS,jitter=MS` for latency, `stream=upstream|downstream` for all.
    pub fn parse(spec: &str) -> Result<UdpFault> {
        let (type_name, rest) = spec.trim().split_once(':').unwrap_or((spec.trim(), ""));
        let mut kind = match type_name {
            "loss" => UdpKind::Loss,
            "duplicate" => UdpKind::Duplicate,
            "reorder" => UdpKind::Reorder,
            "corrupt" => UdpKind::Corrupt,
            "latency" => UdpKind::Latency {
                latency: 0,
                jitter: 0,
            },
            other => {
                return Err(usage(format!(
                    "--udp-fault '{spec}': unknown UDP fault '{other}'; valid: {}",
                    UDP_TYPES.join(", ")
                )));
            }
        };
        let (mut rate, mut stream) = (1.0, Stream::Downstream);
        for pair in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |why: String| usage(format!("--udp-fault '{spec}': {why}"));
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| bad(format!("'{pair}' is not key=value, e.g. loss:rate=0.1")))?;
            match (&mut kind, key.trim()) {
                (_, "stream") => {
                    stream = Stream::parse(value.trim()).map_err(|e| bad(e.to_string()))?
                }
                (UdpKind::Latency { latency, .. }, "latency") => {
                    *latency = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|ms| *ms <= MAX_MS)
                        .ok_or_else(|| {
                            bad(format!("latency '{value}' is not a whole number of ms up to {MAX_MS} (366 days)"))
                        })?
                }
                (UdpKind::Latency { jitter, .. }, "jitter") => {
                    *jitter = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|ms| *ms <= MAX_MS)
                        .ok_or_else(|| {
                            bad(format!("jitter '{value}' is not a whole number of ms up to {MAX_MS} (366 days)"))
                        })?
                }
                (UdpKind::Latency { .. }, k) => {
                    return Err(bad(format!(
                        "latency has no attribute '{k}'; valid: latency, jitter, stream"
                    )));
                }
                (_, "rate") => {
                    rate = value
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| {
                            bad(format!(
                                "rate '{value}' is out of range; it is a probability from 0 to 1"
                            ))
                        })?
                }
                (_, k) => {
                    return Err(bad(format!(
                        "{type_name} has no attribute '{k}'; valid: rate, stream"
                    )));
                }
            }
        }
        Ok(UdpFault { kind, rate, stream })
    }
}

/// How the UDP relay runs.
#[derive(Debug, Clone)]
pub struct UdpProxyOptions {
    /// Where the upstream is.
    pub upstream: HostPort,
    /// The faults, in order.
    pub faults: Vec<UdpFault>,
    /// A client's upstream socket is closed after this long without a datagram either way.
    pub idle: Duration,
    /// `--seed`: the same seed, the same choices.
    pub seed: Option<u64>,
    /// Kernel buffer sizes.
    pub buffers: Buffers,
    /// `--pcap` / `--pcap-dir`: every datagram, on the client's leg and the
    /// upstream's (one file per client session with `--pcap-dir`).
    pub capture: Option<CaptureTarget>,
}

/// Sends one datagram on, and records it; the comment names the faults that acted.
type Send = Arc<dyn Fn(Bytes, Option<&str>) + std::marker::Send + Sync>;

/// Apply the faults of `stream` to one datagram and send what results with `send`.
fn deliver(
    faults: &[UdpFault],
    stream: Stream,
    rng: &Mutex<fastrand::Rng>,
    held: &Mutex<Option<Bytes>>,
    data: Bytes,
    send: Send,
) {
    let Ok(mut rng) = rng.lock() else { return };
    let mut out = vec![data];
    let mut delay = Duration::ZERO;
    let mut acted = Vec::new();
    for f in faults.iter().filter(|f| f.stream == stream) {
        let hit = rng.f64() < f.rate;
        if hit || matches!(f.kind, UdpKind::Latency { .. }) {
            acted.push(f.kind.name());
        }
        match &f.kind {
            UdpKind::Loss if hit => out.clear(),
            UdpKind::Duplicate if hit => {
                out = out.iter().flat_map(|d| [d.clone(), d.clone()]).collect()
            }
            UdpKind::Corrupt if hit => {
                for d in &mut out {
                    if !d.is_empty() {
                        let mut v = d.to_vec();
                        let i = rng.usize(..v.len());
                        v[i] ^= 0xff;
                        *d = Bytes::from(v);
                    }
                }
            }
            UdpKind::Reorder if hit => {
                if let Ok(mut h) = held.lock()
                    && h.is_none()
                {
                    *h = out.pop();
                }
            }
            UdpKind::Latency { latency, jitter } => {
                let ms = if *jitter > 0 {
                    rng.u64(latency.saturating_sub(*jitter)..=latency.saturating_add(*jitter))
                } else {
                    *latency
                };
                delay += Duration::from_millis(ms);
            }
            _ => {}
        }
    }
    // A datagram held back by `reorder` goes after the next one that is sent.
    if !out.is_empty()
        && let Ok(mut h) = held.lock()
        && let Some(late) = h.take()
    {
        out.push(late);
    }
    drop(rng);
    let comment = (!acted.is_empty()).then(|| format!("wirekit udp faults: {}", acted.join(", ")));
    let go = move || out.into_iter().for_each(|d| send(d, comment.as_deref()));
    if delay.is_zero() {
        go();
    } else {
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            go();
        });
    }
}

/// One client's session: its upstream socket and when it was last used.
struct Session {
    upstream: Arc<UdpSocket>,
    last: Arc<Mutex<Instant>>,
    up_rng: Mutex<fastrand::Rng>,
    up_held: Mutex<Option<Bytes>>,
    /// Carries the upstream's datagrams back; stopped with the session.
    task: tokio::task::JoinHandle<()>,
    /// Where its datagrams are recorded, and its upstream socket's address there.
    capture: Option<Capture>,
    up_local: SocketAddr,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn rng_for(seed: Option<u64>, n: u64) -> fastrand::Rng {
    seed.map_or_else(fastrand::Rng::new, |s| {
        fastrand::Rng::with_seed(s ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    })
}

/// Relay datagrams between clients of `socket` and the upstream until SIGINT/SIGTERM.
pub async fn relay(socket: UdpSocket, options: UdpProxyOptions) -> Result<()> {
    let socket = Arc::new(socket);
    let target = options
        .upstream
        .resolve()
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("{} has no addresses", options.upstream))?;
    let faults: Arc<[UdpFault]> = options.faults.into();
    let here = socket.local_addr()?;
    let mut sessions: HashMap<SocketAddr, Session> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    let mut next = 0u64;
    let mut sweep = tokio::time::interval(options.idle.max(Duration::from_millis(100)) / 2);
    let signal = crate::net::listen::shutdown_signal();
    tokio::pin!(signal);
    loop {
        let (n, client) = tokio::select! {
            _ = &mut signal => return Ok(()),
            _ = sweep.tick() => {
                let idle = options.idle;
                sessions.retain(|peer, s| {
                    let fresh = s.last.lock().map(|l| l.elapsed() < idle).unwrap_or(false);
                    if !fresh {
                        info!("udp {peer}: idle for {idle:?}, upstream socket closed");
                    }
                    fresh
                });
                continue;
            }
            got = socket.recv_from(&mut buf) => match got {
                Ok(pair) => pair,
                Err(e) => {
                    debug!("udp receive: {e}"); // ICMP errors of earlier sends
                    continue;
                }
            },
        };
        let data = Bytes::copy_from_slice(&buf[..n]);
        if let std::collections::hash_map::Entry::Vacant(slot) = sessions.entry(client) {
            next += 1;
            // The kernel picks the source address for the upstream's route.
            let local: SocketAddr = if target.is_ipv4() {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let up = match bind_udp_at(local, &options.buffers) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    warn!("udp {client}: {}", crate::error::one_line(&e));
                    continue;
                }
            };
            if let Err(e) = up.connect(target).await {
                warn!("udp {client}: cannot reach {target}: {e}");
                continue;
            }
            info!("udp {client}: new session to {target}");
            let capture = options.capture.as_ref().and_then(|t| {
                t.for_connection("udp", next)
                    .map_err(|e| warn!("udp {client}: no capture: {}", crate::error::one_line(&e)))
                    .ok()
            });
            let up_local = up.local_addr().unwrap_or(local);
            let last = Arc::new(Mutex::new(Instant::now()));
            // Datagrams from the upstream back to this client, through the downstream faults.
            let (reader, back, faults2, last2, capture2) = (
                up.clone(),
                socket.clone(),
                faults.clone(),
                last.clone(),
                capture.clone(),
            );
            let down_rng = Mutex::new(rng_for(options.seed, next * 2));
            let task = tokio::spawn(async move {
                let held = Mutex::new(None);
                let mut buf = vec![0u8; 65536];
                let recorder = capture2.clone();
                let send: Send = Arc::new(move |d: Bytes, comment: Option<&str>| {
                    // Straight to the socket: tokio's try_send waits for a readiness
                    // it has not seen yet on a fresh socket; a full buffer drops, as UDP does.
                    if socket2::SockRef::from(&*back)
                        .send_to(&d, &client.into())
                        .is_ok()
                        && let Some(c) = &recorder
                    {
                        c.datagram(true, here, client, &d, comment);
                    }
                });
                while let Ok(n) = reader.recv(&mut buf).await {
                    if let Ok(mut l) = last2.lock() {
                        *l = Instant::now();
                    }
                    let d = Bytes::copy_from_slice(&buf[..n]);
                    if let Some(c) = &capture2 {
                        c.datagram(false, target, up_local, &d, None);
                    }
                    deliver(
                        &faults2,
                        Stream::Downstream,
                        &down_rng,
                        &held,
                        d,
                        send.clone(),
                    );
                }
            });
            slot.insert(Session {
                upstream: up,
                last,
                up_rng: Mutex::new(rng_for(options.seed, next * 2 + 1)),
                up_held: Mutex::new(None),
                task,
                capture,
                up_local,
            });
        }
        let Some(s) = sessions.get(&client) else {
            continue;
        };
        if let Ok(mut l) = s.last.lock() {
            *l = Instant::now();
        }
        if let Some(c) = &s.capture {
            c.datagram(true, client, here, &data, None);
        }
        let (up, recorder) = (s.upstream.clone(), s.capture.clone());
        let up_local = s.up_local;
        let send: Send = Arc::new(move |d: Bytes, comment: Option<&str>| {
            if socket2::SockRef::from(&*up).send(&d).is_ok()
                && let Some(c) = &recorder
            {
                c.datagram(false, up_local, target, &d, comment);
            }
        });
        deliver(&faults, Stream::Upstream, &s.up_rng, &s.up_held, data, send);
    }
}
