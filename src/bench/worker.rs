//! The generator's threads: one tokio current-thread runtime each (the shape of
//! wrk's one event loop per thread), keep-alive HTTP/1.1 connections on hyper,
//! and in the open loop a dispatcher that follows the schedule and grows the pool.

use super::h1;
use super::schedule::Schedule;
use super::stats::{ErrorKind, Stats};
use crate::tls::TlsClient;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper_util::rt::TokioIo;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// What every thread shares: the target, the request, the limits.
pub(crate) struct Shared {
    /// The addresses the target's host resolved to (the first is used).
    pub addr: SocketAddr,
    /// The host name for TLS.
    pub host: String,
    /// TLS for `https://`.
    pub tls: Option<TlsClient>,
    /// HTTP/2: the requests the connections send in turn (absolute URIs).
    pub requests: Vec<http::Request<Full<Bytes>>>,
    /// HTTP/1.1: the same requests, serialised once.
    pub h1: Vec<h1::Request>,
    /// The next of `requests`, round-robin over every thread.
    pub next: std::sync::atomic::AtomicUsize,
    /// HTTP/2 (h2c with prior knowledge, or h2 over TLS) instead of HTTP/1.1.
    pub h2: bool,
    /// HTTP/2: concurrent streams per connection (`-m`).
    pub streams: usize,
    /// Per request.
    pub timeout: Duration,
    /// When the run starts (every thread waits for it).
    pub start: Instant,
    /// Closed loop: requests claimed so far and the most there may be.
    pub issued: AtomicU64,
    /// `-n`: the closed loop's request count.
    pub limit: Option<u64>,
    /// `-d`: the closed loop stops at this moment; in-flight requests are abandoned.
    pub deadline: Option<Instant>,
    /// Open loop: a request not sent within this of its intended time is dropped.
    pub drop_after: Duration,
    /// Open loop: a request sent later than this after its intended time is late.
    pub late_after: Duration,
}

/// One thread's plan: its connections, and the open loop's schedule and pool bound.
pub(crate) struct ThreadPlan {
    /// This thread's number, from 0.
    pub index: usize,
    /// Where to publish live figures.
    pub progress: Option<Arc<super::Progress>>,
    /// Connections opened at the start.
    pub connections: usize,
    /// Open loop: the schedule and the most connections the pool may grow to.
    pub open: Option<(Schedule, usize)>,
}

/// Run one generator thread to the end of the run; its merged counts.
pub(crate) fn run_thread(
    shared: Arc<Shared>,
    plan: ThreadPlan,
    template: hdrhistogram::Histogram<u64>,
) -> anyhow::Result<Stats> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    Ok(local.block_on(&rt, thread_main(shared, plan, template)))
}

/// How long this thread has run or waited to run: on Linux its CPU time plus
/// its time runnable on a run queue (`/proc/thread-self/schedstat`), so that a
/// generator starved of CPU by other processes shows as busy too; else its CPU time.
fn demand() -> Duration {
    if let Ok(s) = std::fs::read_to_string("/proc/thread-self/schedstat") {
        let mut it = s.split_whitespace().map(str::parse::<u64>);
        if let (Some(Ok(run)), Some(Ok(wait))) = (it.next(), it.next()) {
            return Duration::from_nanos(run.saturating_add(wait));
        }
    }
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the struct we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        t.tv_sec.max(0) as u64,
        t.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// The open loop's due requests (their intended send times) and the thread's idle
/// connections. The most recently idle connection takes the next request (LIFO),
/// so a hot set of keep-alive connections carries the load and the rest of a grown
/// pool stays quiet, as a pool does.
#[derive(Default)]
struct Queue {
    state: RefCell<QueueState>,
}

#[derive(Default)]
struct QueueState {
    /// Due requests no connection was free for, oldest first.
    pending: VecDeque<Instant>,
    /// Connections waiting for a request, most recent last.
    idle: Vec<Rc<Mailbox>>,
    /// The schedule has ended: waiting connections finish.
    closed: bool,
}

/// Where the dispatcher leaves an idle connection's next request, and wakes it
/// (one per connection, reused: no channel made per request).
#[derive(Default)]
struct Mailbox {
    at: Cell<Option<Instant>>,
    waker: RefCell<Option<Waker>>,
}

impl Mailbox {
    fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

impl Queue {
    /// Hand `at` to an idle connection; false when every connection is busy (it waits).
    fn push(&self, at: Instant) -> bool {
        let mut s = self.state.borrow_mut();
        if let Some(m) = s.idle.pop() {
            m.at.set(Some(at));
            m.wake();
            return true;
        }
        s.pending.push_back(at);
        false
    }

    /// No more requests: idle connections end, busy ones end after the pending ones.
    fn close(&self) {
        let mut s = self.state.borrow_mut();
        s.closed = true;
        for m in s.idle.drain(..) {
            m.wake();
        }
    }

    /// The next request for the connection whose mailbox is `mine`, or `None` at the end.
    async fn pop(&self, mine: &Rc<Mailbox>) -> Option<Instant> {
        {
            let mut s = self.state.borrow_mut();
            if let Some(at) = s.pending.pop_front() {
                return Some(at);
            }
            if s.closed {
                return None;
            }
            s.idle.push(mine.clone());
        }
        std::future::poll_fn(|cx| {
            if let Some(at) = mine.at.take() {
                return Poll::Ready(Some(at));
            }
            if self.state.borrow().closed {
                return Poll::Ready(None);
            }
            *mine.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

async fn thread_main(
    shared: Arc<Shared>,
    plan: ThreadPlan,
    template: hdrhistogram::Histogram<u64>,
) -> Stats {
    // One set of counts per thread, shared by its connections (a histogram is
    // ~180 KB: one per connection would not scale to 10,000 connections).
    let total = Rc::new(RefCell::new(Stats::new(&template)));
    let mut tasks = Vec::new();
    let reporter = plan.progress.clone().map(|p| {
        let (total, index) = (total.clone(), plan.index);
        tokio::task::spawn_local(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let s = total.borrow();
                p.publish(index, s.responses, s.errors.iter().sum(), &s.latency);
            }
        })
    });
    let spawn = |queue: Option<Rc<Queue>>, tasks: &mut Vec<tokio::task::JoinHandle<()>>| {
        if shared.h2 {
            let slot: Slot = Rc::new(tokio::sync::Mutex::new(None));
            for _ in 0..shared.streams.max(1) {
                let (q, slot) = (queue.clone(), Some(slot.clone()));
                tasks.push(tokio::task::spawn_local(connection(
                    shared.clone(),
                    q,
                    total.clone(),
                    slot,
                )));
            }
        } else {
            tasks.push(tokio::task::spawn_local(connection(
                shared.clone(),
                queue,
                total.clone(),
                None,
            )));
        }
    };
    let queue = plan.open.as_ref().map(|_| Rc::new(Queue::default()));
    for _ in 0..plan.connections {
        spawn(queue.clone(), &mut tasks);
    }
    // The thread's demand for CPU is counted from the start (connecting comes before).
    tokio::time::sleep_until(shared.start).await;
    let before = demand();
    if let (Some((mut schedule, max_conns)), Some(queue)) = (plan.open, queue) {
        let mut open = plan.connections;
        let (mut now, mut batch) = (Instant::now(), 0);
        while let Some(offset) = schedule.next_offset() {
            let at = shared.start + offset;
            // Hand out the requests already due (64 at most at once), then let
            // the connections send them; sleep only when the next is not due yet.
            if at > now || batch == 64 {
                tokio::task::yield_now().await;
                (now, batch) = (Instant::now(), 0);
                if at > now {
                    tokio::time::sleep_until(at).await;
                    now = Instant::now();
                }
            }
            batch += 1;
            // Every connection busy: grow the pool, up to its bound.
            if !queue.push(at) && open < max_conns {
                open += 1;
                spawn(Some(queue.clone()), &mut tasks);
            }
        }
        queue.close();
    }
    for t in tasks {
        let _ = t.await;
    }
    let end = Instant::now();
    if let Some(r) = reporter {
        r.abort();
        let _ = r.await;
    }
    let mut stats =
        Rc::try_unwrap(total).map_or_else(|rc| rc.borrow().clone(), RefCell::into_inner);
    stats.span = end.saturating_duration_since(shared.start);
    stats.busy = demand().saturating_sub(before).min(stats.span);
    stats
}

/// A stream that counts the bytes read from it.
struct Counting<S> {
    inner: S,
    read: Rc<Cell<u64>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        self.read.set(self.read.get() + n);
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A plain or TLS connection.
trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// An HTTP/2 connection that `-m` stream loops share.
/// Locked while one loop (re)opens it, so the others wait and share it.
type Slot = Rc<tokio::sync::Mutex<Option<http2::SendRequest<Full<Bytes>>>>>;

/// Runs hyper's HTTP/2 connection tasks on this thread's `LocalSet` (they hold `Rc`s).
#[derive(Clone, Copy)]
struct LocalExec;

impl<F: std::future::Future + 'static> hyper::rt::Executor<F> for LocalExec {
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}

/// The sending half of an HTTP/1.1 or HTTP/2 connection.
enum Sender {
    H1(h1::Conn<Box<dyn Io>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    /// Whether the connection can take a request (false: the server closed it).
    async fn ready(&mut self) -> bool {
        match self {
            Sender::H1(c) => c.open(),
            Sender::H2(s) => s.ready().await.is_ok(),
        }
    }
}

/// Open a keep-alive HTTP/1.1 or an HTTP/2 connection; its sender, or why not.
async fn open(shared: &Shared, read: Rc<Cell<u64>>) -> Result<Sender, String> {
    let connect = async {
        let tcp = TcpStream::connect(shared.addr)
            .await
            .map_err(|e| format!("{}: {}", shared.addr, e))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match &shared.tls {
            Some(tls) => Box::new(
                tls.handshake(tcp, &shared.host)
                    .await
                    .map_err(|e| format!("{}: {}", shared.addr, crate::error::one_line(&e)))?,
            ),
            None => Box::new(tcp),
        };
        if !shared.h2 {
            return Ok(Sender::H1(h1::Conn::new(io)));
        }
        let io = TokioIo::new(Counting { inner: io, read });
        let (sender, conn) = http2::Builder::new(LocalExec)
            .handshake(io)
            .await
            .map_err(|e| format!("{}: HTTP/2: {}", shared.addr, crate::error::chain_text(&e)))?;
        tokio::task::spawn_local(conn);
        Ok(Sender::H2(sender))
    };
    match tokio::time::timeout(shared.timeout, connect).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{}: no connection within {:?} (--timeout)",
            shared.addr, shared.timeout
        )),
    }
}

/// A sender: HTTP/1.1 opens its own connection; an HTTP/2 stream loop takes the
/// shared one from `slot` while it is open, else opens it and leaves it there.
async fn connect(
    shared: &Shared,
    read: &Rc<Cell<u64>>,
    slot: Option<&Slot>,
) -> Result<Sender, String> {
    let Some(slot) = slot else {
        return open(shared, read.clone()).await;
    };
    let mut guard = slot.lock().await;
    if let Some(s) = guard.as_mut()
        && s.ready().await.is_ok()
    {
        return Ok(Sender::H2(s.clone()));
    }
    match open(shared, read.clone()).await? {
        Sender::H2(s) => {
            *guard = Some(s.clone());
            Ok(Sender::H2(s))
        }
        other => Ok(other),
    }
}

/// Run `work` until `deadline`; `None` when the deadline came first. `timer` is
/// the connection's one timer, moved on only when it fires before the deadline,
/// so a request costs no timer registration (as a `timeout_at` per request would).
async fn within<F: std::future::Future>(
    mut timer: Pin<&mut Sleep>,
    deadline: Instant,
    work: F,
) -> Option<F::Output> {
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            biased;
            out = &mut work => return Some(out),
            () = timer.as_mut() => {
                if Instant::now() >= deadline {
                    return None;
                }
                timer.as_mut().reset(deadline);
            }
        }
    }
}

/// How one request ended.
enum Outcome {
    Answer(u16),
    /// The connection broke or the answer was malformed: why.
    Failed(String),
    /// A kept-alive connection the server had closed: send again on a new one.
    Again,
    TimedOut,
}

/// One connection's life: take requests, send them, record the answers; reconnect
/// after a failure (or when the server closed a keep-alive connection).
/// With HTTP/2, `slot` holds the connection this loop shares with the other
/// streams: the first loop to find it missing or closed opens it again.
async fn connection(
    shared: Arc<Shared>,
    queue: Option<Rc<Queue>>,
    stats: Rc<RefCell<Stats>>,
    slot: Option<Slot>,
) {
    let read = Rc::new(Cell::new(0u64));
    let mut sender: Option<Sender> = None;
    let mut timer = std::pin::pin!(tokio::time::sleep_until(shared.start + shared.timeout));
    let open_loop = queue.is_some();
    if !open_loop {
        // Closed loop: connect before the start, as wrk does.
        sender = connect(&shared, &read, slot.as_ref()).await.ok();
        if sender.is_some() {
            stats.borrow_mut().opened += 1;
        }
        tokio::time::sleep_until(shared.start).await;
    }
    let since = |at: Instant| at.saturating_duration_since(shared.start);
    // The closed loop's clock: when the last request ended (one clock read per request).
    let mut clock = Instant::now();
    let mut again: Option<Instant> = None;
    let mailbox = Rc::new(Mailbox::default());
    loop {
        let intended = match (again.take(), queue.as_deref()) {
            (Some(at), _) => at,
            (None, Some(q)) => match q.pop(&mailbox).await {
                Some(at) => at,
                None => break,
            },
            (None, None) => {
                if shared.deadline.is_some_and(|d| clock >= d)
                    || shared
                        .limit
                        .is_some_and(|l| shared.issued.fetch_add(1, Ordering::Relaxed) >= l)
                {
                    break;
                }
                clock
            }
        };
        let mut sent = if open_loop { Instant::now() } else { intended };
        if open_loop && sent.saturating_duration_since(intended) > shared.drop_after {
            stats.borrow_mut().dropped += 1;
            continue;
        }
        // A keep-alive connection the server closed is reopened without an error.
        if let Some(s) = sender.as_mut()
            && !s.ready().await
        {
            sender = None;
        }
        if sender.is_none() {
            match connect(&shared, &read, slot.as_ref()).await {
                Ok(s) => {
                    stats.borrow_mut().opened += 1;
                    sender = Some(s);
                }
                Err(reason) => {
                    clock = Instant::now();
                    stats
                        .borrow_mut()
                        .fail(ErrorKind::Connect, || reason, since(clock));
                    continue;
                }
            }
            sent = Instant::now();
        }
        let Some(s) = sender.as_mut() else { continue };
        // The closed loop measures from the send, whatever the connecting took.
        let intended = if open_loop { intended } else { sent };
        if open_loop && sent.saturating_duration_since(intended) > shared.late_after {
            stats.borrow_mut().late += 1;
        }
        let i = match shared.h1.len().max(shared.requests.len()) {
            0 | 1 => 0,
            n => shared.next.fetch_add(1, Ordering::Relaxed) % n,
        };
        let mut limit = sent + shared.timeout;
        let cut = shared.deadline.is_some_and(|d| d < limit);
        if let Some(d) = shared.deadline {
            limit = limit.min(d);
        }
        let outcome = match s {
            Sender::H1(c) => {
                let Some(req) = shared.h1.get(i) else { break };
                let reused = c.reused;
                match within(timer.as_mut(), limit, c.exchange(req, &read)).await {
                    Some(Ok(status)) => Outcome::Answer(status),
                    Some(Err(h1::Failure::Closed)) if reused => Outcome::Again,
                    Some(Err(h1::Failure::Closed)) => Outcome::Failed(
                        "the server closed the connection without answering".to_string(),
                    ),
                    Some(Err(h1::Failure::Broken(why))) => Outcome::Failed(why),
                    None => Outcome::TimedOut,
                }
            }
            Sender::H2(s) => {
                let Some(req) = shared.requests.get(i).cloned() else {
                    break;
                };
                let exchange = async {
                    let response = s.send_request(req).await?;
                    let status = response.status().as_u16();
                    let mut body = response.into_body();
                    while let Some(frame) = body.frame().await {
                        frame?;
                    }
                    Ok::<u16, hyper::Error>(status)
                };
                match within(timer.as_mut(), limit, exchange).await {
                    Some(Ok(status)) => Outcome::Answer(status),
                    Some(Err(e)) => Outcome::Failed(crate::error::chain_text(&e)),
                    None => Outcome::TimedOut,
                }
            }
        };
        clock = Instant::now();
        match outcome {
            Outcome::Answer(status) => {
                let latency = clock.saturating_duration_since(intended);
                let split = open_loop.then(|| {
                    (
                        clock.saturating_duration_since(sent),
                        sent.saturating_duration_since(intended),
                    )
                });
                stats
                    .borrow_mut()
                    .answer(status, latency, split, since(clock));
            }
            Outcome::Again => {
                sender = None;
                again = Some(intended);
            }
            Outcome::Failed(why) => {
                sender = None;
                stats
                    .borrow_mut()
                    .fail(ErrorKind::Read, || why, since(clock));
            }
            Outcome::TimedOut if cut && clock >= limit => break,
            Outcome::TimedOut => {
                sender = None;
                let t = shared.timeout;
                stats.borrow_mut().fail(
                    ErrorKind::Timeout,
                    || format!("no complete answer within {t:?} (--timeout)"),
                    since(clock),
                );
            }
        }
    }
    stats.borrow_mut().bytes += read.get();
}
