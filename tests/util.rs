//! Helpers for driving the built binary against real peers.

#![allow(dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
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

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free TCP port")
}

/// A UDP port that was free a moment ago.
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
    /// Readers that drain stdout and stderr while the process runs, so a chatty
    /// process never blocks on a full pipe.
    readers: Vec<std::thread::JoinHandle<Vec<u8>>>,
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
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
        let readers = vec![drain(child.stdout.take()), drain(child.stderr.take())];
        Proc { child, readers }
    }

    /// Start a wirekit server and wait for its TCP port to listen (without connecting:
    /// a single-client server must not spend its one client on the check).
    pub fn server(args: &[&str], port: u16) -> Proc {
        let p = Proc::start(wirekit(args));
        wait_for_bound(port, false);
        p
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
        let mut outputs = std::mem::take(&mut self.readers)
            .into_iter()
            .map(|r| r.join().unwrap_or_default());
        let stdout = outputs.next().unwrap_or_default();
        let stderr = outputs.next().unwrap_or_default();
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
