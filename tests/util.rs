//! Helpers for driving the built binary against real peers.

#![allow(dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The wirekit binary cargo built for these tests, or `$WIREKIT_BIN` when set
/// (worktrees sharing one CARGO_TARGET_DIR overwrite each other's `debug/wirekit`;
/// point this at the worktree's own `debug/deps/wirekit-HASH`).
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("WIREKIT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_wirekit").to_string())
    })
}

/// A `wirekit` command with arguments.
pub fn wirekit(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    cmd
}

/// A TCP port that was free a moment ago. Only for a port that must be known
/// before a process starts: a closed port ("connection refused"), or a peer that
/// binds the port it is given and cannot announce it (the seed's servers). Servers
/// that announce their port start on port 0 instead ([`Proc::server`]).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free TCP port")
}

/// A UDP port that was free a moment ago (the same rules as [`free_port`]).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("no free UDP port")
}

/// Wait until something accepts TCP connections on `port`, or panic after 20 s.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listening on port {port} after 20 s");
}

/// A child process that is killed when dropped, so a failing test leaves nothing behind.
pub struct Proc {
    pub child: Child,
    /// What the process has written to stdout and stderr so far.
    output: Arc<Captured>,
    /// Readers that drain stdout and stderr while the process runs, so a chatty
    /// process never blocks on a full pipe.
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// One of a process's output pipes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipe {
    Stdout = 0,
    Stderr = 1,
}

/// Output so far, shared by the draining threads and the test that waits on it.
#[derive(Default)]
struct Captured {
    state: Mutex<Streams>,
    grew: Condvar,
}

#[derive(Default)]
struct Streams {
    /// Bytes of stdout and stderr so far.
    data: [Vec<u8>; 2],
    /// Whether each pipe has reached its end (or was never piped).
    closed: [bool; 2],
}

fn drain(
    pipe: Option<impl Read + Send + 'static>,
    which: Pipe,
    into: Arc<Captured>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        if let Some(mut p) = pipe {
            loop {
                match p.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if let Ok(mut s) = into.state.lock() {
                            s.data[which as usize].extend_from_slice(&buf[..n]);
                        }
                        into.grew.notify_all();
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        }
        if let Ok(mut s) = into.state.lock() {
            s.closed[which as usize] = true;
        }
        into.grew.notify_all();
    })
}

impl Proc {
    /// Start `cmd` with stdin null, stdout and stderr piped.
    pub fn start(mut cmd: Command) -> Proc {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start process");
        Proc::new(child)
    }

    /// Take charge of a spawned child: drain its piped output, kill it on drop.
    pub fn new(mut child: Child) -> Proc {
        let output = Arc::new(Captured::default());
        let readers = vec![
            drain(child.stdout.take(), Pipe::Stdout, output.clone()),
            drain(child.stderr.take(), Pipe::Stderr, output.clone()),
        ];
        Proc {
            child,
            output,
            readers,
        }
    }

    /// Start a wirekit server on port 0 (`ARGS` hold `-p 0` or `HOST:0`) and read
    /// the port it announces: `serve`'s `Serving DIR on http://HOST:PORT/` on stdout,
    /// or `wirekit: listening on [udp ]HOST:PORT` from `tcp`/`udp listen` on stderr.
    /// No connection is made (a single-client server must not spend its one
    /// client on a check), and no other process can take the port meanwhile.
    pub fn server(args: &[&str]) -> (Proc, u16) {
        let p = Proc::start(wirekit(args));
        let port = p.announced_port();
        (p, port)
    }

    /// The port a wirekit server announces (see [`Proc::server`]), waiting up to 20 s.
    pub fn announced_port(&self) -> u16 {
        self.wait_until("a wirekit server's announcement", ANNOUNCE_LIMIT, |s| {
            let stdout = complete_lines(&s.data[0]).find_map(|l| {
                let rest = l.strip_prefix("Serving ")?;
                rest.contains(" on http")
                    .then(|| rest.trim_end_matches('/'))
            });
            let stderr =
                complete_lines(&s.data[1]).find_map(|l| l.strip_prefix("wirekit: listening on "));
            stdout.or(stderr).map(port_of)
        })
    }

    /// The port in the first line on `pipe` that starts with `prefix` and ends
    /// with `HOST:PORT` (for peers that announce their port, like `openssl
    /// s_server`'s `ACCEPT [::]:PORT`), waiting up to 20 s.
    pub fn port_after(&self, pipe: Pipe, prefix: &str) -> u16 {
        let line = self.line(pipe, prefix);
        port_of(&line)
    }

    /// Wait up to 20 s for a complete line on `pipe` that contains `needle`; the
    /// first such line. Panics (showing the output so far) on timeout or when the
    /// pipe ends without one.
    pub fn line(&self, pipe: Pipe, needle: &str) -> String {
        self.wait_until(
            &format!("a line with {needle:?} on {pipe:?}"),
            ANNOUNCE_LIMIT,
            |s| {
                complete_lines(&s.data[pipe as usize])
                    .find(|l| l.contains(needle))
                    .map(str::to_string)
            },
        )
    }

    /// What the process has written to `pipe` so far.
    pub fn so_far(&self, pipe: Pipe) -> String {
        self.output
            .state
            .lock()
            .map(|s| String::from_utf8_lossy(&s.data[pipe as usize]).into_owned())
            .unwrap_or_default()
    }

    /// Wait until `found` finds something in the output, up to `limit`.
    fn wait_until<T>(
        &self,
        what: &str,
        limit: Duration,
        mut found: impl FnMut(&Streams) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        let mut s = self.output.state.lock().expect("output lock");
        loop {
            if let Some(t) = found(&s) {
                return t;
            }
            let now = Instant::now();
            if now >= deadline || s.closed.iter().all(|&c| c) {
                panic!(
                    "no {what} {}; stdout: {}\nstderr: {}",
                    if now >= deadline {
                        format!("within {limit:?}")
                    } else {
                        "before the output ended".to_string()
                    },
                    String::from_utf8_lossy(&s.data[0]),
                    String::from_utf8_lossy(&s.data[1])
                );
            }
            s = self
                .output
                .grew
                .wait_timeout(s, deadline - now)
                .expect("output lock")
                .0;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait up to `limit` for exit; panics on timeout. Returns the output.
    pub fn wait(mut self, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = self.child.kill();
                    panic!("process did not exit within {limit:?}");
                }
            }
        }
        let status = self.child.wait().expect("wait");
        for r in std::mem::take(&mut self.readers) {
            let _ = r.join();
        }
        let [stdout, stderr] = self
            .output
            .state
            .lock()
            .map(|mut s| std::mem::take(&mut s.data))
            .unwrap_or_default();
        Output {
            status,
            stdout,
            stderr,
        }
    }

    /// Send SIGTERM (graceful shutdown) and wait for the output.
    pub fn terminate(self, limit: Duration) -> Output {
        signal(self.child.id(), "TERM");
        self.wait(limit)
    }
}

/// How long a process may take to announce itself or print an awaited line.
const ANNOUNCE_LIMIT: Duration = Duration::from_secs(20);

/// The complete (newline-ended) lines of `data`, without their line ends.
fn complete_lines(data: &[u8]) -> impl Iterator<Item = &str> {
    let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    data[..end]
        .split(|&b| b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .map(|l| l.trim_end_matches('\r'))
}

/// The port at the end of `HOST:PORT` (`[::1]:PORT`, `0.0.0.0:PORT`, ...).
fn port_of(addr: &str) -> u16 {
    let text = addr.trim();
    let digits = text.len() - text.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    text[text.len() - digits..]
        .parse()
        .unwrap_or_else(|_| panic!("no port at the end of {addr:?}"))
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Signal a process we started, by PID, with the system `kill`.
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status();
}

/// Run a command to completion with a time limit, stdin null unless given.
pub fn run(mut cmd: Command, stdin: Option<&[u8]>, limit: Duration) -> Output {
    use std::io::Write;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cannot start process");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    Proc::new(child).wait(limit)
}

/// Run a Python snippet with `python3 -c`.
pub fn python(code: &str, limit: Duration) -> Output {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", code]);
    run(cmd, None, limit)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code, or -1 if killed by a signal.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// A memory figure of process `pid` from /proc/PID/status, in KiB: `"VmRSS"`
/// (resident now) or `"VmHWM"` (the peak).
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).expect("open for hashing");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read for hashing");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    format!("{:x}", h.finalize())
}

/// Whether a command exists on PATH (for peers such as openssl or chromium).
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Wait until a socket is bound on `port` (TCP in LISTEN state, or UDP bound),
/// read from /proc so no connection is made (the seed's servers stop on an empty one).
pub fn wait_for_bound(port: u16, udp: bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let files: &[&str] = if udp {
        &["/proc/net/udp", "/proc/net/udp6"]
    } else {
        &["/proc/net/tcp", "/proc/net/tcp6"]
    };
    let want = format!(":{port:04X}");
    while Instant::now() < deadline {
        for f in files {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            for line in text.lines().skip(1) {
                let cols: Vec<&str> = line.split_whitespace().collect();
                if cols.len() > 3 && cols[1].ends_with(&want) && (udp || cols[3] == "0A") {
                    return;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing bound on port {port} after 20 s");
}

/// Run a Python snippet that prints `ok` when all its own asserts hold.
pub fn python_ok(code_text: &str) {
    let out = python(code_text, Duration::from_secs(60));
    assert_eq!(stdout(&out).trim(), "ok", "python said: {}", stderr(&out));
}

/// Start a Python server snippet and wait until it has bound `port`.
pub fn python_server(code_text: &str, port: u16, udp: bool) -> Proc {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", code_text]);
    let p = Proc::start(cmd);
    wait_for_bound(port, udp);
    p
}

/// Start a Python snippet that runs step by step: the test reads what it prints
/// (`Proc::line(Pipe::Stdout, ..)`) and lets it past each `input()` by writing a
/// line to the returned stdin. Unbuffered (`-u`), so every print arrives at once.
pub fn python_steps(code_text: &str) -> (Proc, std::process::ChildStdin) {
    let mut child = Command::new("python3")
        .args(["-u", "-c", code_text])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start python3");
    let stdin = child.stdin.take().expect("python's stdin");
    (Proc::new(child), stdin)
}

/// A wirekit server whose stdin is `input` (then closed), and its announced port.
pub fn server_with_stdin(args: &[&str], input: &[u8]) -> (Proc, u16) {
    use std::io::Write;
    let mut child = wirekit(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wirekit");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("server stdin");
    drop(stdin);
    let p = Proc::new(child);
    let port = p.announced_port();
    (p, port)
}
