//! The parking lot: idle HTTP/1.1 keep-alive connections held without a task
//! of their own.
//!
//! A tokio task costs its header, its trailer and room for the largest state of
//! its future (~0.8 KB for a connection, 128-byte aligned) plus its `JoinSet`
//! entry; a parked connection needs none of it. One task per server holds every
//! parked connection here as its socket, its service and its [`Hold`] (~0.2 KB
//! with the waker and the expiry queue), polls the socket of each that its waker
//! names, and hands a connection whose client spoke again to a fresh task
//! (measured: bench/RESULTS.md, idle memory).

use super::{Protocols, Svc, activity::clock_ms, h1, stopped, trim_heap};
use crate::net::BoxStream;
use crate::net::listen::Hold;
use crate::net::stream::poll_chunk;
use slab::Slab;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// A connection quiet between requests: what it needs to go on.
pub(super) struct Parked {
    pub(super) sock: BoxStream,
    pub(super) svc: Svc,
    pub(super) hold: Hold,
}

/// A server's lot, started with the first connection parked.
#[derive(Default)]
pub(crate) struct Lot {
    tx: OnceLock<mpsc::UnboundedSender<Parked>>,
}

/// Park `p` in its server's lot (started on first use). A lot that has ended
/// (the server is stopping) drops it, which closes the connection.
pub(super) fn park(protocols: &Arc<Protocols>, shutdown: &watch::Receiver<bool>, p: Parked) {
    let tx = protocols.lot.tx.get_or_init(|| {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(protocols.clone(), shutdown.clone(), rx));
        tx
    });
    let _ = tx.send(p);
}

/// Keys of the parked connections whose sockets woke, and the lot's own waker.
#[derive(Default)]
struct Woken {
    keys: Vec<usize>,
    lot: Option<Waker>,
}

/// The waker of one parked connection: notes its key and wakes the lot.
struct EntryWaker {
    key: usize,
    woken: Arc<Mutex<Woken>>,
}

impl Wake for EntryWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let lot = match self.woken.lock() {
            Ok(mut w) => {
                w.keys.push(self.key);
                w.lot.take()
            }
            Err(_) => None,
        };
        if let Some(lot) = lot {
            lot.wake();
        }
    }
}

struct Entry {
    parked: Parked,
    waker: Waker,
    /// Tells this entry from a later one under the same key.
    seq: u64,
}

/// The parked connections of one server.
struct Spaces {
    protocols: Arc<Protocols>,
    shutdown: watch::Receiver<bool>,
    entries: Slab<Entry>,
    woken: Arc<Mutex<Woken>>,
    /// (deadline by [`clock_ms`], key, seq) in parking order: every connection
    /// waits the same idle timeout, so the first is always the next to expire.
    expiry: VecDeque<(u64, usize, u64)>,
    next_seq: u64,
    /// When the first connection parked since the last heap trim came (the
    /// buffers it freed are not handed back yet).
    trim_since: Option<u64>,
}

impl Spaces {
    fn insert(&mut self, parked: Parked) {
        let now = clock_ms();
        let idle = u64::try_from(self.protocols.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        let seq = self.next_seq;
        self.next_seq += 1;
        let spot = self.entries.vacant_entry();
        let key = spot.key();
        let waker = Waker::from(Arc::new(EntryWaker {
            key,
            woken: self.woken.clone(),
        }));
        spot.insert(Entry { parked, waker, seq });
        self.expiry.push_back((now.saturating_add(idle), key, seq));
        // Connections that come back soon leave stale expiries: drop them now and then.
        if self.expiry.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.expiry
                .retain(|&(_, k, s)| entries.get(k).is_some_and(|e| e.seq == s));
        }
        self.trim_since.get_or_insert(now);
        // Bytes may have come already; polling also registers the waker.
        self.poll_entry(key);
    }

    /// Read from the connection under `key`, if it is still here: bytes send it
    /// back to work in a task of its own; EOF or an error closes it.
    fn poll_entry(&mut self, key: usize) {
        let Some(entry) = self.entries.get_mut(key) else {
            return; // gone already (a stale wake)
        };
        let mut cx = Context::from_waker(&entry.waker);
        let read = match poll_chunk(&mut entry.parked.sock, &mut cx) {
            Poll::Pending => return,
            Poll::Ready(read) => read,
        };
        let Parked { sock, svc, hold } = self.entries.remove(key).parked;
        if let Ok(bytes) = read
            && !bytes.is_empty()
        {
            let (protocols, shutdown) = (self.protocols.clone(), self.shutdown.clone());
            tokio::spawn(h1(protocols, bytes, sock, shutdown, svc, hold));
        }
        if self.entries.is_empty() {
            self.entries.shrink_to_fit();
            self.expiry.clear();
            self.expiry.shrink_to_fit();
        }
    }

    /// Poll the connections whose sockets woke; Ready when there were any.
    fn poll_woken(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let keys = match self.woken.lock() {
            Ok(mut w) if w.keys.is_empty() => {
                w.lot = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Ok(mut w) => std::mem::take(&mut w.keys),
            Err(_) => return Poll::Pending,
        };
        for key in keys {
            self.poll_entry(key);
        }
        Poll::Ready(())
    }

    /// Close the connections silent past the idle timeout, trim the heap when
    /// due; how long until there is more to do.
    fn tick(&mut self) -> Duration {
        let now = clock_ms();
        while let Some(&(deadline, key, seq)) = self.expiry.front() {
            if deadline > now {
                break;
            }
            self.expiry.pop_front();
            if self.entries.get(key).is_some_and(|e| e.seq == seq) {
                drop(self.entries.remove(key)); // closes the socket
            }
        }
        let mut next = self.expiry.front().map_or(u64::MAX, |&(d, ..)| d);
        if let Some(since) = self.trim_since {
            let due = since.saturating_add(TRIM_AFTER_MS);
            if now >= due {
                // Parked a while: a good moment to hand their freed buffers back
                // (connections parked from now on wait for the next trim).
                if trim_heap() {
                    self.trim_since = None;
                } else {
                    next = next.min(now + TRIM_AFTER_MS / 4);
                }
            } else {
                next = next.min(due);
            }
        }
        Duration::from_millis(next.saturating_sub(now).min(3_600_000))
    }
}

/// Connections parked this long trigger a (rate-limited) heap trim.
const TRIM_AFTER_MS: u64 = 1000;

/// Hold the parked connections of one server until the server stops (all of
/// them are then closed).
async fn run(
    protocols: Arc<Protocols>,
    mut shutdown: watch::Receiver<bool>,
    mut rx: mpsc::UnboundedReceiver<Parked>,
) {
    let mut lot = Spaces {
        protocols,
        shutdown: shutdown.clone(),
        entries: Slab::new(),
        woken: Arc::default(),
        expiry: VecDeque::new(),
        next_seq: 0,
        trim_since: None,
    };
    let mut timer = std::pin::pin!(tokio::time::sleep(Duration::from_secs(3600)));
    loop {
        tokio::select! {
            biased;
            () = stopped(&mut shutdown) => break,
            p = rx.recv() => match p {
                Some(p) => {
                    lot.insert(p);
                    let wait = lot.tick();
                    timer.as_mut().reset(tokio::time::Instant::now() + wait);
                }
                None => break,
            },
            () = std::future::poll_fn(|cx| lot.poll_woken(cx)) => {}
            () = &mut timer => {
                let wait = lot.tick();
                timer.as_mut().reset(tokio::time::Instant::now() + wait);
            }
        }
    }
    // Stopping: parked connections are between requests, so they close at once.
    rx.close();
    drop(lot);
}
