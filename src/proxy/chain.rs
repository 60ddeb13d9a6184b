//! One direction of a relayed connection: a reader that takes chunks from one
//! side, and a writer that passes them through the chain of toxics (read anew
//! for every chunk, so toxics added, changed or removed act on open
//! connections) and on to the other side.
//!
//! Memory: the reader takes at most 64 KiB at a time and the queue between
//! reader and writer holds [`QUEUE_CHUNKS`] chunks, so a direction holds at
//! most 6 × 64 KiB (384 KiB) however slow its reader is: a slow reader slows
//! its writer (backpressure), as TCP does.

use super::capture::{Note, Side};
use super::toxic::{Kind, Stream, Toxic};
use crate::net::stream::read_chunk;
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};

/// Chunks queued between a direction's reader and its writer.
pub(crate) const QUEUE_CHUNKS: usize = 4;

/// The live list of a proxy's toxics; every open connection watches it.
pub(crate) type ToxicList = watch::Receiver<Arc<Vec<Toxic>>>;

/// What the reader hands the writer.
pub(crate) enum Msg {
    /// Bytes, with the time they arrived (latency counts from there).
    Data(Instant, Bytes),
    /// The side read from closed its sending half (FIN).
    Eof,
    /// The side read from reset the connection.
    Reset,
    /// Reading failed otherwise (idle timeout, ...).
    Failed(io::Error),
}

/// How a direction ended, and so what the connection does next.
#[derive(Debug)]
pub(crate) enum End {
    /// The stream ended and the write side was shut down; the other direction may go on.
    Eof,
    /// Reset both sides (a reset came in, a write failed, or `reset_peer`).
    Reset(String),
    /// Close both sides now (`timeout`, `limit_data`).
    Close(String),
    /// Reading or writing failed.
    Failed(io::Error),
}

/// Read chunks from `rd` and queue them until the end, which is queued too.
/// With a capture, what the peer sent is recorded on its leg as it arrives.
pub(crate) async fn reader<R: AsyncRead + Unpin>(
    mut rd: R,
    tx: mpsc::Sender<Msg>,
    source: Option<Side>,
) {
    loop {
        let msg = match read_chunk(&mut rd).await {
            Ok(chunk) if chunk.is_empty() => {
                source.iter().for_each(Side::peer_fin);
                Msg::Eof
            }
            Ok(chunk) => {
                if let Some(side) = &source {
                    side.peer_sent(&chunk);
                }
                Msg::Data(Instant::now(), chunk)
            }
            Err(e) if is_reset(&e) => {
                source.iter().for_each(Side::peer_rst);
                Msg::Reset
            }
            Err(e) => Msg::Failed(e),
        };
        let last = !matches!(msg, Msg::Data(..));
        if tx.send(msg).await.is_err() || last {
            return;
        }
    }
}

/// Whether an I/O error means the peer reset the connection.
pub(crate) fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// The state of one direction's chain on one connection.
pub(crate) struct Chain {
    stream: Stream,
    toxics: ToxicList,
    rng: fastrand::Rng,
    /// Whether each toxic (by name) acts on this connection: rolled once
    /// against its toxicity, when the connection first meets it.
    rolls: HashMap<String, bool>,
    /// When each active timer toxic (`timeout`, `reset_peer`) started on this connection.
    timers: HashMap<String, Instant>,
    /// Bytes written this way so far (for `limit_data`).
    passed: u64,
    /// `bandwidth`: the earliest time the next byte may leave.
    next_send: Option<Instant>,
    /// The names of the toxics that acted, for the close event.
    pub(crate) applied: BTreeSet<String>,
    /// With a capture: the leg written to, where sent data is recorded.
    sink: Option<Side>,
    /// The write side was shut down (its FIN is recorded).
    pub(crate) finished: bool,
    /// With a capture of a leg recorded below TLS: where the comment goes instead.
    note: Option<Note>,
}

impl Chain {
    /// The chain of `stream` on a new connection, with its own random numbers.
    pub(crate) fn new(
        stream: Stream,
        toxics: ToxicList,
        rng: fastrand::Rng,
        sink: Option<Side>,
    ) -> Chain {
        Chain {
            stream,
            toxics,
            rng,
            rolls: HashMap::new(),
            timers: HashMap::new(),
            passed: 0,
            next_send: None,
            applied: BTreeSet::new(),
            sink,
            finished: false,
            note: None,
        }
    }

    /// Name the toxics that act on each write in `note` (a leg recorded under TLS).
    pub(crate) fn with_note(mut self, note: Option<Note>) -> Chain {
        self.note = note;
        self
    }

    /// The toxics acting on this direction of this connection now, in order.
    fn active(&mut self) -> Vec<Toxic> {
        let list = self.toxics.borrow_and_update().clone();
        let mut active = Vec::new();
        for t in list.iter().filter(|t| t.stream == self.stream) {
            let rng = &mut self.rng;
            let on = *self
                .rolls
                .entry(t.name.clone())
                .or_insert_with(|| rng.f64() < t.toxicity);
            if on {
                active.push(t.clone());
            }
        }
        // Timers of toxics that are gone or changed start again when they come back.
        self.timers.retain(|name, _| {
            active.iter().any(|t| {
                &t.name == name && matches!(t.kind, Kind::Timeout { .. } | Kind::ResetPeer { .. })
            })
        });
        active
    }

    /// When a timer toxic fires, and what it does then.
    fn next_timer(&mut self, active: &[Toxic]) -> Option<(Instant, End)> {
        let now = Instant::now();
        let mut next: Option<(Instant, End)> = None;
        for t in active {
            let (fires, end) = match t.kind {
                Kind::Timeout { timeout } if timeout > 0 => {
                    let start = *self.timers.entry(t.name.clone()).or_insert(now);
                    (
                        start + Duration::from_millis(timeout),
                        End::Close(format!("toxic {} closed the connection", t.name)),
                    )
                }
                Kind::ResetPeer { timeout } => match self.timers.get(&t.name) {
                    // Armed by the first data, as in Toxiproxy.
                    Some(start) => (
                        *start + Duration::from_millis(timeout),
                        End::Reset(format!("toxic {} reset the connection", t.name)),
                    ),
                    None => continue,
                },
                _ => continue,
            };
            if next.as_ref().is_none_or(|(at, _)| fires < *at) {
                next = Some((fires, end));
            }
        }
        next
    }

    /// Pass everything from `rx` to `wr` through the toxics, until the end.
    pub(crate) async fn writer<W: AsyncWrite + Unpin>(
        &mut self,
        mut rx: mpsc::Receiver<Msg>,
        mut wr: W,
    ) -> End {
        loop {
            let active = self.active();
            let timer = self.next_timer(&active);
            let msg = tokio::select! {
                msg = rx.recv() => msg,
                _ = sleep_until(timer.as_ref().map_or_else(far_future, |(at, _)| *at)), if timer.is_some() => {
                    return timer.map_or(End::Eof, |(_, end)| end);
                }
                changed = self.toxics.changed() => {
                    if changed.is_err() {
                        // The proxy is gone; its toxics with it.
                        self.toxics = watch::channel(Arc::new(Vec::new())).1;
                    }
                    continue;
                }
            };
            let (arrived, mut data) = match msg {
                Some(Msg::Data(at, data)) => (at, data),
                Some(Msg::Eof) | None => {
                    // An armed reset_peer still fires, as in Toxiproxy (it waits
                    // out its timeout once data came, whatever follows).
                    if let Some((at, end @ End::Reset(_))) = timer {
                        sleep_until(at).await;
                        return end;
                    }
                    return self.close(&active, wr).await;
                }
                Some(Msg::Reset) => return End::Reset("the peer reset the connection".into()),
                Some(Msg::Failed(e)) => return End::Failed(e),
            };
            let mut due = arrived;
            let mut slicer = None;
            let mut rate = None;
            let mut limit = None;
            let mut acted: Vec<&str> = Vec::new();
            for t in &active {
                match t.kind {
                    Kind::Timeout { .. } => {
                        self.applied.insert(t.name.clone());
                        data = Bytes::new(); // held back for ever: dropped
                    }
                    Kind::ResetPeer { timeout } => {
                        self.applied.insert(t.name.clone());
                        if timeout == 0 {
                            return End::Reset(format!("toxic {} reset the connection", t.name));
                        }
                        self.timers
                            .entry(t.name.clone())
                            .or_insert_with(Instant::now);
                        data = Bytes::new();
                    }
                    Kind::Latency { latency, jitter } => {
                        self.applied.insert(t.name.clone());
                        acted.push(&t.name);
                        let ms = if jitter > 0 {
                            let low = latency.saturating_sub(jitter);
                            self.rng.u64(low..=latency.saturating_add(jitter))
                        } else {
                            latency
                        };
                        due += Duration::from_millis(ms);
                    }
                    Kind::Bandwidth { rate: r } if r > 0 => {
                        self.applied.insert(t.name.clone());
                        acted.push(&t.name);
                        rate = Some(rate.map_or(r, |old: u64| old.min(r)));
                    }
                    Kind::Slicer {
                        average_size,
                        size_variation,
                        delay,
                    } => {
                        self.applied.insert(t.name.clone());
                        acted.push(&t.name);
                        slicer = Some((average_size, size_variation, delay));
                    }
                    Kind::LimitData { bytes } => {
                        limit = Some(limit.map_or(bytes, |old: u64| old.min(bytes)));
                    }
                    Kind::Bandwidth { .. } | Kind::SlowClose { .. } => {}
                }
            }
            if let Some(bytes) = limit {
                let left = bytes.saturating_sub(self.passed);
                if (data.len() as u64) >= left {
                    let name = active
                        .iter()
                        .find(|t| matches!(t.kind, Kind::LimitData { .. }))
                        .map_or_else(String::new, |t| t.name.clone());
                    self.applied.insert(name.clone());
                    data.truncate(left as usize);
                    acted.push(&name);
                    let comment = comment_of(&acted);
                    if let Err(e) = self
                        .send(&mut wr, data, slicer, rate, comment.as_deref())
                        .await
                    {
                        return End::Failed(e);
                    }
                    let _ = wr.flush().await;
                    return End::Close(format!(
                        "toxic {name} closed the connection after {bytes} bytes"
                    ));
                }
            }
            if data.is_empty() {
                continue;
            }
            if due > Instant::now() {
                // (A past deadline would still wait for the timer's next tick, ~1 ms.)
                sleep_until(due).await;
            }
            let comment = comment_of(&acted);
            if let Err(e) = self
                .send(&mut wr, data, slicer, rate, comment.as_deref())
                .await
            {
                return if is_reset(&e) {
                    End::Reset(format!("writing failed: {e}"))
                } else {
                    End::Failed(e)
                };
            }
        }
    }

    /// Write `data`, in slicer pieces and at the bandwidth rate when those act.
    async fn send<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        mut data: Bytes,
        slicer: Option<(u64, u64, u64)>,
        rate: Option<u64>,
        comment: Option<&str>,
    ) -> io::Result<()> {
        while !data.is_empty() {
            let mut n = data.len();
            if let Some((avg, var, _)) = slicer {
                let size = if var > 0 {
                    self.rng
                        .u64(avg.saturating_sub(var)..=avg.saturating_add(var))
                } else {
                    avg
                };
                n = n.min(size.max(1) as usize);
            }
            if let Some(r) = rate {
                // Pieces of at most a tenth of a second's worth, as Toxiproxy sends them.
                n = n.min(
                    usize::try_from(r.saturating_mul(100))
                        .unwrap_or(usize::MAX)
                        .max(1),
                );
            }
            let piece = data.split_to(n);
            if let Some(r) = rate {
                let now = Instant::now();
                let at = self.next_send.filter(|t| *t > now).unwrap_or(now);
                if at > now {
                    sleep_until(at).await;
                }
                self.next_send = Some(at + Duration::from_secs_f64(n as f64 / (r as f64 * 1000.0)));
            }
            if let Some(note) = &self.note {
                note.set(comment);
            }
            wr.write_all(&piece).await?;
            if let Some(side) = &self.sink {
                side.proxy_sent(&piece, comment);
            }
            self.passed += n as u64;
            if let Some((_, _, delay)) = slicer
                && !data.is_empty()
            {
                wr.flush().await?;
                tokio::time::sleep(Duration::from_micros(delay)).await;
            }
        }
        Ok(())
    }

    /// The stream ended: after `slow_close`'s delay, pass the half-close on.
    async fn close<W: AsyncWrite + Unpin>(&mut self, active: &[Toxic], mut wr: W) -> End {
        for t in active {
            if let Kind::SlowClose { delay } = t.kind {
                self.applied.insert(t.name.clone());
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
        }
        self.finished = true;
        self.sink.iter().for_each(Side::proxy_fin);
        match wr.shutdown().await {
            Ok(()) => End::Eof,
            Err(e) if is_reset(&e) || e.kind() == io::ErrorKind::NotConnected => End::Eof,
            Err(e) => End::Failed(e),
        }
    }
}

/// The packet comment naming the toxics that acted on a chunk.
fn comment_of(acted: &[&str]) -> Option<String> {
    (!acted.is_empty()).then(|| format!("wirekit toxics: {}", acted.join(", ")))
}

/// A deadline that never comes (for a disabled `select!` branch).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365)
}
