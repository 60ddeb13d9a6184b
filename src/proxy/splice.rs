//! The relay's fast path: while a connection has no toxic, and no capture,
//! dump or TLS needs to see its bytes, each direction moves socket -> pipe ->
//! socket with splice(2), so the bytes never enter user memory. (Our own
//! loop, as no crate splices between tokio sockets; bench/proxy-cost.sh:
//! 4.8 K instructions and 8 system calls per MiB relayed, against 1.12 M and
//! 68 with 64 KiB read/write chunks; about half the CPU time per GiB.)
//!
//! Toxics that appear while it runs (through the API) are seen whenever a
//! direction waits for data, with its pipe empty: the connection then goes on
//! through the chains of toxics ([`Spliced::Switch`]).

use super::chain::{End, ToxicList, is_reset};
use crate::net::Meter;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Bytes a pipe holds (and so the most one splice moves): 256 KiB, four times
/// the default, for fewer system calls per megabyte; memory per direction
/// is bounded by it, as by the chain's queue on the other path.
const PIPE_SIZE: libc::c_int = 256 << 10;

/// SO_SNDBUF and SO_RCVBUF for a socket whose peer is on this host (the kernel
/// doubles it): at loopback round trips this holds far more than a
/// bandwidth-delay product, while autotuning's megabytes in flight only push
/// the bytes out of cache before the receiver copies them. bench/proxy.sh,
/// iperf3 on 2 cores: 0.70 -> 0.88x direct; the upstream iperf3's CPU per GB
/// halved (24 -> 12 ticks) and the proxy's fell by a third (27 -> 17).
const LOCAL_BUFFER: usize = 256 << 10;

/// A pipe, both ends non-blocking.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds: [libc::c_int; 2] = [-1; 2];
        // SAFETY: `fds` is an array of two ints for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both are new descriptors owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // A smaller pipe (the limit in /proc/sys/fs/pipe-max-size) still works.
        // SAFETY: F_SETPIPE_SZ on a descriptor we own.
        let _ = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
        Ok(Pipe { read, write })
    }
}

/// One splice(2) of up to `len` bytes, without blocking.
fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: both descriptors are open for the call; sockets and pipes take no offsets.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Splice what `from` holds into the empty `pipe`. (A short splice does not
/// mean the socket is drained: the pipe may have run out of slots for small
/// segments, so readiness is only cleared by EAGAIN.)
fn read_into(from: &TcpStream, pipe: &Pipe) -> io::Result<usize> {
    from.try_io(Interest::READABLE, || {
        splice(from.as_raw_fd(), pipe.write.as_raw_fd(), PIPE_SIZE as usize)
    })
}

/// How the fast path ended.
pub(crate) enum Spliced {
    /// The connection ended here (both half-closes, a reset, a failure).
    Done(End),
    /// Toxics appeared: go on through the chains; `true` for each direction
    /// (client to upstream, upstream to client) still open.
    Switch(bool, bool),
}

/// How one direction ended.
enum Way {
    Eof,
    Switch,
    End(End),
}

/// When either direction last moved bytes, in ms since `start` (for the idle
/// timeout; not kept without one).
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    kept: bool,
}

impl Activity {
    fn touch(&self) {
        if self.kept {
            let ms = self.start.elapsed().as_millis() as u64;
            self.last_ms.store(ms, Ordering::Relaxed);
        }
    }

    /// Ends once nothing moved for `limit`.
    async fn expired(&self, limit: Duration) -> End {
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            if Instant::now() >= last + limit {
                return End::Failed(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("idle for {limit:?} (--idle-timeout)"),
                ));
            }
            tokio::time::sleep_until(last + limit).await;
        }
    }
}

/// Whether the proxy now has toxics, which the chains must apply.
fn toxic(toxics: &mut ToxicList) -> bool {
    !toxics.borrow_and_update().is_empty()
}

/// Relay between `client` and `upstream` by splice until the end or until
/// toxics appear; `None` when this connection cannot take the fast path (no
/// pipes, or toxics already). Bytes are counted on the two meters (in `Tap`'s
/// sense: received from and sent to each peer).
pub(crate) async fn relay(
    client: &TcpStream,
    upstream: &TcpStream,
    meters: (&Meter, &Meter),
    toxics: &ToxicList,
    idle: Option<Duration>,
) -> Option<Spliced> {
    let (mut up_toxics, mut down_toxics) = (toxics.clone(), toxics.clone());
    if toxic(&mut up_toxics) || toxic(&mut down_toxics) {
        return None;
    }
    let (up_pipe, down_pipe) = (Pipe::new().ok()?, Pipe::new().ok()?);
    for socket in [client, upstream] {
        size_for_local_peer(socket);
    }
    let (client_meter, up_meter) = meters;
    let activity = Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
        kept: idle.is_some(),
    };
    let upward = one_way(
        client,
        upstream,
        &up_pipe,
        &mut up_toxics,
        (&client_meter.received, &up_meter.sent),
        &activity,
    );
    let downward = one_way(
        upstream,
        client,
        &down_pipe,
        &mut down_toxics,
        (&up_meter.received, &client_meter.sent),
        &activity,
    );
    let idle = async {
        match idle {
            Some(limit) => activity.expired(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(upward, downward, idle);
    // The first direction to end decides, unless it ended by EOF or by switching:
    // then the other goes on to its own end.
    let (first_up, first) = tokio::select! {
        way = &mut upward => (true, way),
        way = &mut downward => (false, way),
        end = &mut idle => return Some(Spliced::Done(end)),
    };
    if let Way::End(end) = first {
        return Some(Spliced::Done(end));
    }
    let second = tokio::select! {
        way = async { if first_up { (&mut downward).await } else { (&mut upward).await } } => way,
        end = &mut idle => return Some(Spliced::Done(end)),
    };
    let (up_way, down_way) = if first_up {
        (first, second)
    } else {
        (second, first)
    };
    Some(match (up_way, down_way) {
        (Way::End(end), _) | (_, Way::End(end)) => Spliced::Done(end),
        (Way::Eof, Way::Eof) => Spliced::Done(End::Eof),
        (up, down) => Spliced::Switch(matches!(up, Way::Switch), matches!(down, Way::Switch)),
    })
}

/// One direction, `from` to `to` through `pipe`, until EOF (passed on as a
/// half-close), a reset or failure, or toxics appearing.
async fn one_way(
    from: &TcpStream,
    to: &TcpStream,
    pipe: &Pipe,
    toxics: &mut ToxicList,
    (read, written): (&AtomicU64, &AtomicU64),
    activity: &Activity,
) -> Way {
    let mut watching = true;
    loop {
        // Wait for data with the pipe empty, so the chains can take over here.
        let got = tokio::select! {
            biased;
            changed = toxics.changed(), if watching => {
                match changed {
                    Ok(()) if toxic(toxics) => return Way::Switch,
                    Ok(()) => {}
                    Err(_) => watching = false, // the proxy is gone, and its toxics
                }
                continue;
            }
            ready = from.readable() => ready.and_then(|()| read_into(from, pipe)),
        };
        let n = match got {
            Ok(0) => {
                let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
                return Way::Eof;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Way::End(failed(e, "the peer reset the connection")),
        };
        read.fetch_add(n as u64, Ordering::Relaxed);
        activity.touch();
        let mut left = n;
        while left > 0 {
            let sent = to.writable().await.and_then(|()| {
                to.try_io(Interest::WRITABLE, || {
                    splice(pipe.read.as_raw_fd(), to.as_raw_fd(), left)
                })
            });
            match sent {
                Ok(m) => {
                    left -= m;
                    written.fetch_add(m as u64, Ordering::Relaxed);
                    activity.touch();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let why = format!("writing failed: {e}");
                    return Way::End(failed(e, &why));
                }
            }
        }
    }
}

/// Fixed, smaller kernel buffers on a socket to a peer on this host
/// ([`LOCAL_BUFFER`]); a remote peer keeps autotuning, which a long round trip needs.
fn size_for_local_peer(socket: &TcpStream) {
    if socket
        .peer_addr()
        .is_ok_and(|a| a.ip().to_canonical().is_loopback())
    {
        let s = socket2::SockRef::from(socket);
        let _ = s.set_send_buffer_size(LOCAL_BUFFER);
        let _ = s.set_recv_buffer_size(LOCAL_BUFFER);
    }
}

/// A reset (either side's) resets the connection, as the chains do; anything else fails it.
fn failed(e: io::Error, reset: &str) -> End {
    if is_reset(&e) {
        End::Reset(reset.to_string())
    } else {
        End::Failed(e)
    }
}
