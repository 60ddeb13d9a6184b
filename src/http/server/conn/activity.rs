//! What a connection's driver, its writer and its response bodies share: the
//! client, requests in flight, the time of the last response, whether a write
//! is blocked, and the file pieces waiting for `sendfile`. The driver reads it
//! to decide when an idle connection may be parked.

use super::splice::Splices;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Requests in flight, the time of the last response and whether a write is
/// waiting for the client, shared by a connection's driver, its stream and its
/// response bodies.
pub(crate) struct Activity {
    /// The client.
    pub(crate) peer: SocketAddr,
    /// Pieces of files waiting to be sent by `sendfile` (plain HTTP/1.1 only).
    pub(crate) splices: Option<Splices>,
    in_flight: AtomicU32,
    /// A request has arrived at some point.
    served: AtomicBool,
    /// Bytes have been read since the last request began or ended: a request
    /// head may be on its way. Parking then would make hyper answer it with
    /// `Connection: close` and yet keep the connection (RFC 9112 §9.6).
    pub(super) reading: AtomicBool,
    /// When `reading` last became true ([`clock_ms`]): the start of the head
    /// being read, for the log line of one that never becomes a request.
    head_ms: AtomicU64,
    /// HTTP/2: since when a header block has been open (a HEADERS frame without
    /// END_HEADERS whose last CONTINUATION has not come), by [`clock_ms`]; 0: none.
    h2_head_ms: AtomicU64,
    /// When the last response finished (or the connection began), by [`clock_ms`].
    last_ms: AtomicU64,
    /// The last write to the client could not finish (its socket buffer is full).
    /// A response is "finished" when hyper has taken its last bytes, not when they
    /// are sent; parking then would drop what hyper has not sent yet.
    pub(super) write_blocked: AtomicBool,
    /// HTTP/1.1: the head of the request being answered had both Content-Length
    /// and Transfer-Encoding (refused with 400; see `conn::HeadScan`).
    pub(super) both_lengths: AtomicBool,
}

impl Activity {
    /// A connection from `peer` that has done nothing yet.
    pub(super) fn new(peer: SocketAddr, splices: Option<Splices>) -> Activity {
        Activity {
            peer,
            splices,
            in_flight: AtomicU32::new(0),
            served: AtomicBool::new(false),
            reading: AtomicBool::new(false),
            head_ms: AtomicU64::new(clock_ms()),
            h2_head_ms: AtomicU64::new(0),
            last_ms: AtomicU64::new(clock_ms()),
            write_blocked: AtomicBool::new(false),
            both_lengths: AtomicBool::new(false),
        }
    }
    /// A request has arrived.
    pub(crate) fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.reading.store(false, Ordering::Relaxed);
        if !self.served.load(Ordering::Relaxed) {
            self.served.store(true, Ordering::Relaxed);
        }
    }
    /// A response is done (sent, or given up).
    pub(crate) fn end(&self) {
        self.last_ms.store(clock_ms(), Ordering::Relaxed);
        self.reading.store(false, Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
    /// Bytes have been read: the first of a request head, unless one is already
    /// on its way or a request is being answered. True when they begin a head.
    pub(super) fn saw_bytes(&self) -> bool {
        if self.reading.load(Ordering::Relaxed) {
            return false;
        }
        self.head_ms.store(clock_ms(), Ordering::Relaxed);
        self.reading.store(true, Ordering::Relaxed);
        self.in_flight.load(Ordering::Relaxed) == 0
    }
    /// Whether the request just begun had both Content-Length and
    /// Transfer-Encoding in its head (then forgotten: one answer per head).
    pub(crate) fn take_both_lengths(&self) -> bool {
        self.both_lengths.load(Ordering::Relaxed)
            && self.both_lengths.swap(false, Ordering::Relaxed)
    }
    /// When the head being read began (the connection's start at the latest).
    pub(super) fn head_started(&self) -> Instant {
        let ago = clock_ms().saturating_sub(self.head_ms.load(Ordering::Relaxed));
        Instant::now()
            .checked_sub(Duration::from_millis(ago))
            .unwrap_or_else(Instant::now)
    }
    /// HTTP/1.1: how long the request head being read has been on its way, if
    /// one is (bytes came while no request was being answered).
    pub(super) fn head_open_for(&self) -> Option<Duration> {
        if !self.reading.load(Ordering::Relaxed) || self.in_flight.load(Ordering::Relaxed) != 0 {
            return None;
        }
        let since = self.head_ms.load(Ordering::Relaxed);
        Some(Duration::from_millis(clock_ms().saturating_sub(since)))
    }
    /// HTTP/2: a header block has begun (`true`) or ended (`false`).
    pub(super) fn h2_head(&self, open: bool) {
        let now = if open { clock_ms() } else { 0 };
        self.h2_head_ms.store(now, Ordering::Relaxed);
    }
    /// HTTP/2: how long the open header block has been open, if one is.
    pub(super) fn h2_head_open_for(&self) -> Option<Duration> {
        match self.h2_head_ms.load(Ordering::Relaxed) {
            0 => None,
            since => Some(Duration::from_millis(clock_ms().saturating_sub(since))),
        }
    }
    /// Whether a request has ever arrived on the connection.
    pub(super) fn served(&self) -> bool {
        self.served.load(Ordering::Relaxed)
    }
    /// How long the connection has been without a request, if it is idle.
    pub(super) fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Relaxed) != 0
            || self.write_blocked.load(Ordering::Relaxed)
            || self.reading.load(Ordering::Relaxed)
        {
            return None;
        }
        let last = self.last_ms.load(Ordering::Relaxed);
        Some(Duration::from_millis(clock_ms().saturating_sub(last)))
    }
}

/// Milliseconds of a monotonic clock (plus one second, so 0 means "never").
///
/// Read straight from `clock_gettime` (on Linux the coarse clock, a few ms fine,
/// plenty for timeouts in seconds): `Instant::elapsed().as_millis()`, with its
/// checked subtraction and 128-bit division, cost ~150 instructions a request
/// (callgrind, 2026-12-02).
pub(crate) fn clock_ms() -> u64 {
    #[cfg(target_os = "linux")]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC_COARSE;
    #[cfg(not(target_os = "linux"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given; a monotonic
    // clock always exists, and on failure `ts` stays 0 (still a valid time).
    unsafe {
        libc::clock_gettime(CLOCK, &mut ts);
    }
    ts.tv_sec.max(0) as u64 * 1000 + ts.tv_nsec.max(0) as u64 / 1_000_000 + 1000
}
