//! `wirekit tcp` against real peers: the seed's Python snippets, Python socket clients.

use crate::util::*;
use std::fs::File;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// The seed's §2.1 TCP client, as written but for the port.
fn seed_tcp_client(port: u16) -> String {
    format!(
        r#"
import socket

# 创建客户端Socket
client_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# 连接服务器
client_socket.connect(('localhost', {port}))

# 发送数据
client_socket.send(b"Hello from client")

# 接收响应
response = client_socket.recv(1024)
print(response.decode())

# 关闭连接
client_socket.close()
"#
    )
}

#[test]
fn seed_client_against_listen_reply() {
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--reply",
        "Hello from server",
    ]);
    let out = python(&seed_tcp_client(port), T);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "Hello from server");
    let out = server.terminate(T);
    assert!(
        stdout(&out).contains("Hello from client"),
        "server printed: {}",
        stdout(&out)
    );
}

#[test]
fn connect_send_against_seed_server() {
    // The seed's server binds the port it is given and does not announce it.
    let port = free_port();
    let seed_server = format!(
        r#"
import socket

server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server_socket.bind(('localhost', {port}))
server_socket.listen(5)

while True:
    client_socket, address = server_socket.accept()
    print(f"Connection from {{address}}")
    data = client_socket.recv(1024)
    if not data:
        break
    client_socket.send(b"Hello from server")
    client_socket.close()
"#
    );
    let _server = python_server(&seed_server, port, false);
    let out = run(
        wirekit(&[
            "tcp",
            "connect",
            &format!(":{port}"),
            "--send",
            "Hello from client",
        ]),
        None,
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "Hello from server");
}

#[test]
fn connect_against_seed_asyncio_server() {
    // The seed's server binds the port it is given and does not announce it.
    let port = free_port();
    let seed_server = format!(
        r#"
import asyncio

async def handle_client(reader, writer):
    data = await reader.read(100)
    message = data.decode()
    addr = writer.get_extra_info('peername')

    print(f"Received {{message}} from {{addr}}", flush=True)

    response = f"Message received"
    writer.write(response.encode())
    await writer.drain()

    writer.close()

async def main():
    server = await asyncio.start_server(
        handle_client, 'localhost', {port})

    async with server:
        await server.serve_forever()

asyncio.run(main())
"#
    );
    let _server = python_server(&seed_server, port, false);
    let out = run(
        wirekit(&["tcp", "connect", &format!("localhost:{port}")]),
        Some(b"Hello asyncio"),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "Message received");
}

#[test]
fn keep_open_echo_serves_three_clients_at_once() {
    let (_server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "-k", "--echo"]);
    python_ok(&format!(
        r#"
import socket
clients = [socket.create_connection(('127.0.0.1', {port})) for _ in range(3)]
for i, c in enumerate(clients):
    c.sendall(f"client {{i}} says hi".encode() * 1000)
for i, c in enumerate(clients):
    want = f"client {{i}} says hi".encode() * 1000
    got = b""
    while len(got) < len(want):
        chunk = c.recv(65536)
        assert chunk, "closed early"
        got += chunk
    assert got == want, (i, len(got))
    c.close()
print("ok")
"#
    ));
}

#[test]
fn broker_relays_to_all_others() {
    let (server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "--broker"]);
    // The clients connect one by one; each goes on once the server says it joined,
    // so the first message reaches both others.
    let (py, mut go) = python_steps(&format!(
        r#"
import socket
clients = []
for n in (1, 2, 3):
    s = socket.create_connection(('127.0.0.1', {port}))
    s.settimeout(20)
    clients.append(s)
    print("client %d %s:%d" % ((n,) + s.getsockname()))
    input()  # until the server has logged the join
a, b, c = clients
def read_to(s, want):
    got = b""
    while not got.endswith(want):
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    return got
a.sendall(b"hello from a\n")
assert read_to(b, b"hello from a\n") == b"hello from a\n"
assert read_to(c, b"hello from a\n") == b"hello from a\n"
c.sendall(b"and from c\n")
# The first thing a hears is c's line: it did not hear itself.
got = read_to(a, b"and from c\n")
assert got == b"and from c\n", ("sender heard itself", got)
print("ok")
"#
    ));
    for n in 1..=3 {
        let line = py.line(Pipe::Stdout, &format!("client {n} "));
        let peer = line.rsplit(' ').next().unwrap_or_default();
        let members = if n == 1 { "member" } else { "members" };
        server.line(
            Pipe::Stderr,
            &format!("{peer} joined the broker ({n} {members})"),
        );
        writeln!(go).expect("let the client go on");
    }
    let out = py.wait(T);
    assert_eq!(
        stdout(&out).lines().last(),
        Some("ok"),
        "python said: {}",
        stderr(&out)
    );
}

#[test]
fn chat_prefixes_users_and_announces() {
    let (_server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "--chat"]);
    python_ok(&format!(
        r#"
import socket
def connect():
    s = socket.create_connection(('127.0.0.1', {port}))
    s.settimeout(20)
    f = s.makefile('rb')
    greeting = f.readline().decode()
    assert greeting.startswith("<announce> you are <user"), greeting
    return s, f, greeting
a, fa, ga = connect()
assert "nobody" in ga, ga
b, fb, gb = connect()
assert "<user1>" in gb, gb
line = fa.readline().decode()
assert line == "<announce> 127.0.0.1 is connected as <user2>.\n", line
c, fc, gc = connect()
assert fa.readline().decode().endswith("as <user3>.\n")
assert fb.readline().decode().endswith("as <user3>.\n")
a.sendall(b"hi all\n")
assert fb.readline() == b"<user1> hi all\n"
assert fc.readline() == b"<user1> hi all\n"
fc.close(); c.close()  # the makefile holds the socket open too
assert fa.readline() == b"<announce> <user3> is disconnected.\n"
print("ok")
"#
    ));
}

#[test]
fn exec_serves_three_clients_at_once() {
    let (_server, port) =
        Proc::server(&["tcp", "listen", "127.0.0.1:0", "-k", "--exec", "tr a-z A-Z"]);
    python_ok(&format!(
        r#"
import socket
clients = [socket.create_connection(('127.0.0.1', {port})) for _ in range(3)]
for i, c in enumerate(clients):
    c.sendall(f"shout {{i}}\n".encode())
    c.shutdown(socket.SHUT_WR)
for i, c in enumerate(clients):
    c.settimeout(10)
    got = b""
    while True:
        chunk = c.recv(4096)
        if not chunk:
            break
        got += chunk
    assert got == f"SHOUT {{i}}\n".encode(), got
print("ok")
"#
    ));
}

#[test]
fn sh_exec_sees_peer_address() {
    let (_server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--sh-exec",
        "echo peer=$WIREKIT_PEER_ADDR",
    ]);
    let out = run(
        wirekit(&["tcp", "connect", &format!(":{port}")]),
        Some(b""),
        T,
    );
    assert_eq!(stdout(&out), "peer=127.0.0.1\n", "{}", stderr(&out));
}

#[test]
fn transfer_256_mib_keeps_every_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("in.bin");
    let dst = dir.path().join("out.bin");
    let made = std::process::Command::new("sh")
        .args([
            "-c",
            &format!("head -c 268435456 /dev/urandom > {}", src.display()),
        ])
        .status()
        .expect("head");
    assert!(made.success());
    let mut listen = wirekit(&["tcp", "listen", "127.0.0.1:0"]);
    listen
        .stdin(Stdio::null())
        .stdout(File::create(&dst).expect("create out"))
        .stderr(Stdio::piped());
    let server = Proc::new(listen.spawn().expect("spawn listen"));
    let port = server.announced_port();
    let mut connect = wirekit(&["tcp", "connect", &format!(":{port}")]);
    connect
        .stdin(File::open(&src).expect("open in"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let client = Proc::new(connect.spawn().expect("spawn connect"));
    let c = client.wait(Duration::from_secs(120));
    assert_eq!(code(&c), 0, "{}", stderr(&c));
    let s = server.wait(Duration::from_secs(60));
    assert_eq!(code(&s), 0, "{}", stderr(&s));
    assert_eq!(std::fs::metadata(&dst).expect("out").len(), 268_435_456);
    assert_eq!(sha256_file(&src), sha256_file(&dst));
}

#[test]
fn half_close_request_then_response() {
    let server = r#"
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0)); s.listen(1)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
c, _ = s.accept()
data = b""
while True:
    chunk = c.recv(4096)
    if not chunk:
        break
    data += chunk
c.sendall(f"got {len(data)} bytes".encode())
c.close()
"#;
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-c", server]);
    let server = Proc::start(cmd);
    let port = server.port_after(Pipe::Stdout, "listening on ");
    let out = run(
        wirekit(&["tcp", "connect", &format!(":{port}")]),
        Some(b"request data"),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "got 12 bytes");
}

/// Python: connect, send, and report what came back before the close ("" if nothing).
fn probe(port: u16, payload: &str) -> String {
    let out = python(
        &format!(
            r#"
import socket
s = socket.create_connection(('127.0.0.1', {port}))
s.settimeout(5)
try:
    s.sendall(b"{payload}")
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
except OSError:  # reset, broken pipe, or already shut by the server
    got = b""
print(repr(got.decode()))
"#
        ),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

#[test]
fn deny_refuses_before_a_byte_and_allow_admits() {
    let (mut server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--deny",
        "127.0.0.1/32",
    ]);
    assert_eq!(probe(port, "secret"), "''");
    assert!(server.alive());
    drop(server);
    let (_server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--allow",
        "127.0.0.0/8",
    ]);
    assert_eq!(probe(port, "welcome"), "'welcome'");
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--allow",
        "10.0.0.0/8",
    ]);
    assert_eq!(probe(port, "outsider"), "''");
    let out = server.terminate(T);
    assert!(
        stderr(&out).contains("not allowed by --allow/--deny"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn max_conns_refuses_extra_clients() {
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--max-conns",
        "2",
    ]);
    let (py, mut go) = python_steps(&format!(
        r#"
import socket
def echoes(s, msg):
    s.sendall(msg)
    return s.recv(100) == msg
a = socket.create_connection(('127.0.0.1', {port})); a.settimeout(5)
b = socket.create_connection(('127.0.0.1', {port})); b.settimeout(5)
assert echoes(a, b"a") and echoes(b, b"b")
c = socket.create_connection(('127.0.0.1', {port})); c.settimeout(5)
try:
    c.sendall(b"c")
    refused = c.recv(100) == b""
except ConnectionResetError:
    refused = True
assert refused, "third client was served"
print("closing %s:%d" % a.getsockname())
a.close()
input()  # until the server has logged a's close
# A slot is free now, so a new client is served. (The server frees the slot just
# after it logs the close: a client refused in that moment tries again at once.)
for _ in range(100):
    d = socket.create_connection(('127.0.0.1', {port})); d.settimeout(5)
    try:
        if echoes(d, b"d"):
            break
    except ConnectionResetError:
        pass
    d.close()
else:
    raise SystemExit("no slot freed")
print("ok")
"#
    ));
    let line = py.line(Pipe::Stdout, "closing ");
    let peer = line.rsplit(' ').next().unwrap_or_default();
    server.line(Pipe::Stderr, &format!("{peer} closed: "));
    writeln!(go).expect("let the client go on");
    let out = py.wait(T);
    assert_eq!(
        stdout(&out).lines().last(),
        Some("ok"),
        "python said: {}",
        stderr(&out)
    );
}

#[test]
fn idle_timeout_closes_idle_clients_only() {
    let (_server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--idle-timeout",
        "400ms",
    ]);
    python_ok(&format!(
        r#"
import socket, time
busy = socket.create_connection(('127.0.0.1', {port})); busy.settimeout(5)
idle = socket.create_connection(('127.0.0.1', {port})); idle.settimeout(5)
start = time.time()
for i in range(8):            # 800 ms of steady traffic, 100 ms apart
    busy.sendall(b"x"); assert busy.recv(10) == b"x"
    time.sleep(0.1)
assert idle.recv(10) == b"", "idle client got data"
waited = time.time() - start
assert waited < 3, waited
busy.sendall(b"y"); assert busy.recv(10) == b"y", "busy client was closed"
print("ok")
"#
    ));
}

#[test]
fn graceful_shutdown_reports_cut_connections() {
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--shutdown-timeout",
        "300ms",
    ]);
    // An open client; one echoed byte shows the server has accepted it before the signal.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    use std::io::{Read, Write};
    s.write_all(b"z").expect("write");
    let mut b = [0u8; 1];
    s.read_exact(&mut b).expect("echo");
    let out = server.terminate(Duration::from_secs(10));
    assert_eq!(code(&out), 0);
    let err = stderr(&out);
    assert!(err.contains("1 cut after"), "{err}");
}

#[test]
fn hex_dump_marks_direction_peer_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("dump.txt");
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "--reply",
        "pong",
        "--hex-dump",
        dump.to_str().unwrap_or_default(),
    ]);
    let out = run(
        wirekit(&["tcp", "connect", &format!(":{port}"), "--send", "Hello"]),
        None,
        T,
    );
    assert_eq!(stdout(&out), "pong");
    let _ = server.wait(T);
    let text = std::fs::read_to_string(&dump).expect("dump written");
    assert!(text.contains("< 127.0.0.1:"), "{text}");
    assert!(text.contains("offset=0 length=5"), "{text}");
    assert!(text.contains("48 65 6c 6c 6f"), "{text}");
    assert!(text.contains("|Hello|"), "{text}");
    assert!(text.contains("> 127.0.0.1:"), "{text}");
    assert!(text.contains("|pong|"), "{text}");
}

#[test]
fn port_scan_reports_open_and_closed() {
    let (_server, open) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "-k", "--echo"]);
    let closed = free_port(); // nothing listens there: refused, so no server to announce it
    let out = run(
        wirekit(&["tcp", "connect", "-z", &format!("127.0.0.1:{open}")]),
        None,
        T,
    );
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out), format!("127.0.0.1:{open} open\n"));
    let out = run(
        wirekit(&[
            "tcp",
            "connect",
            "-z",
            &format!("127.0.0.1:{closed}-{closed}"),
        ]),
        None,
        T,
    );
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out), format!("127.0.0.1:{closed} closed\n"));
    assert!(stderr(&out).contains("no open port"));
}

#[test]
fn discard_and_zero_source_report_bytes() {
    let (server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "--discard", "--json"]);
    let out = run(
        wirekit(&["tcp", "connect", &format!(":{port}"), "--zero-source", "8M"]),
        None,
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("sent 8.00 MiB"), "{}", stderr(&out));
    let s = server.wait(T);
    let events: Vec<serde_json::Value> = stdout(&s)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(events.len(), 2, "{}", stdout(&s));
    assert_eq!(events[0]["event"], "open");
    assert_eq!(events[1]["event"], "close");
    assert_eq!(events[1]["received"], 8 * 1024 * 1024);
    assert!(
        events[1]["peer"]
            .as_str()
            .unwrap_or("")
            .starts_with("127.0.0.1:")
    );
}

/// `--discard` drops plain bytes in the kernel, but a hex dump still sees every
/// byte (then they are read), and the close event counts them either way.
#[test]
fn discard_with_a_hex_dump_still_dumps_the_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("dump.txt");
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "--discard",
        "--json",
        "--hex-dump",
        dump.to_str().unwrap_or_default(),
    ]);
    let out = run(
        wirekit(&["tcp", "connect", &format!(":{port}"), "--send", "Hello"]),
        None,
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s = server.wait(T);
    let close = stdout(&s)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .find(|e| e["event"] == "close")
        .expect("close event");
    assert_eq!(close["received"], 5, "{}", stdout(&s));
    let text = std::fs::read_to_string(&dump).expect("dump written");
    assert!(text.contains("offset=0 length=5"), "{text}");
    assert!(text.contains("|Hello|"), "{text}");
}

#[test]
fn listener_survives_a_client_that_resets() {
    let (mut server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "-k", "--echo"]);
    let out = python(
        &format!(
            r#"
import socket, struct
s = socket.create_connection(('127.0.0.1', {port}))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.sendall(b"partial")
s.close()   # RST
"#
        ),
        T,
    );
    assert_eq!(code(&out), 0);
    assert_eq!(probe(port, "still here"), "'still here'");
    assert!(server.alive());
}

#[test]
fn errors_are_clear_with_the_right_exit_code() {
    // address in use → 1
    let (_holder, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "-k", "--echo"]);
    let out = run(wirekit(&["tcp", "listen", &port.to_string()]), None, T);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!("127.0.0.1:{port} is already in use")),
        "{}",
        stderr(&out)
    );
    // unparsable address → 2
    let out = run(wirekit(&["tcp", "connect", "localhost:http-alt"]), None, T);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("invalid port 'http-alt'"),
        "{}",
        stderr(&out)
    );
    // refused → 1, names the address
    let closed = free_port(); // nothing listens there: refused, so no server to announce it
    let out = run(
        wirekit(&["tcp", "connect", &format!("127.0.0.1:{closed}")]),
        Some(b"x"),
        T,
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!("connection to 127.0.0.1:{closed} refused")),
        "{}",
        stderr(&out)
    );
    // unresolvable → 1
    let out = run(wirekit(&["tcp", "connect", "nosuch.invalid:80"]), None, T);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("cannot resolve host 'nosuch.invalid'"),
        "{}",
        stderr(&out)
    );
    // unknown flag → 2 (clap)
    let out = run(wirekit(&["tcp", "listen", "--no-such-flag"]), None, T);
    assert_eq!(code(&out), 2);
}

#[test]
fn exec_of_missing_program_fails_but_listener_stays_up() {
    // Single-client mode: the failure is the exit status.
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "--exec",
        "no-such-program-xyz",
    ]);
    assert_eq!(probe(port, "x"), "''");
    let out = server.wait(T);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("cannot run 'no-such-program-xyz'"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("program not found"),
        "{}",
        stderr(&out)
    );
    // Keep-open mode: every client fails the same way, the listener stays.
    let (mut server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--exec",
        "no-such-program-xyz",
    ]);
    assert_eq!(probe(port, "x"), "''");
    assert_eq!(probe(port, "y"), "''");
    assert!(server.alive());
}

#[test]
fn ipv6_listen_and_connect() {
    let (server, port) = Proc::server(&["tcp", "listen", "[::1]:0", "--reply", "six"]);
    let addr = format!("[::1]:{port}");
    let out = run(
        wirekit(&["tcp", "connect", &addr, "--send", "hello"]),
        None,
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "six");
    let s = server.wait(T);
    assert_eq!(stdout(&s), "hello\n");
}

#[test]
fn keep_open_pipe_mode_prints_every_client() {
    let (server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "-k", "--json"]);
    for word in ["one", "two", "three"] {
        let out = run(
            wirekit(&["tcp", "connect", &format!(":{port}")]),
            Some(word.as_bytes()),
            T,
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let out = server.terminate(T);
    assert_eq!(stdout(&out), "onetwothree");
    // In pipe mode the JSON events go to stderr, where they do not mix with the data.
    let closes = stderr(&out)
        .lines()
        .filter(|l| l.contains(r#""event":"close""#))
        .count();
    assert_eq!(closes, 3, "{}", stderr(&out));
}

/// A Python TCP server bound to 127.0.0.1:`port` as `s`, then `rest`.
fn listening_python(port: u16, rest: &str) -> String {
    format!(
        "import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', {port}))
{rest}
"
    )
}

/// Issue 11, defect 1: a server that reads a little, answers and closes while
/// the client is still sending: the answer reaches stdout every time.
#[test]
fn early_answer_survives_failed_write() {
    let port = free_port();
    let server = listening_python(
        port,
        "s.listen(16)
for _ in range(10):
    c, _ = s.accept()
    c.recv(100)
    c.sendall(b'413 too large, goodbye\\n')
    c.close()",
    );
    let _server = python_server(&server, port, false);
    let input = vec![b'x'; 1 << 20];
    for round in 0..10 {
        let out = run(
            wirekit(&["tcp", "connect", &format!("127.0.0.1:{port}")]),
            Some(&input),
            T,
        );
        assert_eq!(
            stdout(&out),
            "413 too large, goodbye\n",
            "round {round}: {}",
            stderr(&out)
        );
    }
}

/// Issue 11, defect 1: `--sh-exec "echo REPLY"` with 256 bytes of stdin.
#[test]
fn sh_exec_reply_arrives_despite_unread_input() {
    let (_server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--sh-exec",
        "echo REPLY",
    ]);
    let input = vec![b'y'; 256];
    for round in 0..10 {
        let out = run(
            wirekit(&["tcp", "connect", &format!("127.0.0.1:{port}")]),
            Some(&input),
            T,
        );
        assert_eq!(stdout(&out), "REPLY\n", "round {round}: {}", stderr(&out));
    }
}

/// Issue 11, defect 1: a program that never reads its stdin still gets all of
/// its output to the client: the unread input is drained, so the close after
/// the last byte is a FIN, not a reset that would cut the tail.
#[test]
fn sh_exec_output_survives_unread_client_input() {
    let (_server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--sh-exec",
        "head -c 10000000 /dev/zero; sleep 1; echo END",
    ]);
    let input = vec![b'y'; 1 << 20];
    for round in 0..3 {
        let out = run(
            wirekit(&["tcp", "connect", &format!("127.0.0.1:{port}")]),
            Some(&input),
            T,
        );
        let got = &out.stdout;
        assert_eq!(got.len(), 10_000_004, "round {round}: {}", stderr(&out));
        assert!(got.ends_with(b"END\n"), "round {round}");
        assert!(got[..10_000_000].iter().all(|&b| b == 0), "round {round}");
    }
}

/// Issue 11, defect 4: `tcp connect --json` keeps stdout for the peer's bytes
/// and writes the report to stderr.
#[test]
fn connect_json_report_goes_to_stderr_when_stdout_has_data() {
    let port = free_port();
    let server = listening_python(
        port,
        "s.listen(1)
c, _ = s.accept()
c.sendall(b'payload')
c.close()",
    );
    let _server = python_server(&server, port, false);
    let out = run(
        wirekit(&["tcp", "connect", &format!("127.0.0.1:{port}"), "--json"]),
        Some(b""),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "payload");
    let report = stderr(&out)
        .lines()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .expect("a JSON report on stderr");
    assert_eq!(report["received"], 7, "{report}");
}

/// An ncat client whose stdin stays open (held by the test) and whose output is captured.
fn ncat_client(port: u16) -> (Proc, std::process::ChildStdin) {
    let mut child = std::process::Command::new("ncat")
        .args(["127.0.0.1", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start ncat (scripts/test-deps.sh installs it)");
    let stdin = child.stdin.take().expect("ncat's stdin");
    (Proc::new(child), stdin)
}

#[test]
fn chat_escapes_terminal_sequences_between_ncat_clients() {
    let (_server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "--chat"]);
    let (listener, _keep) = ncat_client(port);
    listener.line(Pipe::Stdout, "you are <user1>");
    let (_talker, mut talk) = ncat_client(port);
    listener.line(Pipe::Stdout, "connected as <user2>");
    talk.write_all(b"\x1b[2J\x1b]0;owned\x07 hi\tthere\r\n")
        .expect("ncat's stdin");
    let line = listener.line(Pipe::Stdout, "<user2> ");
    assert_eq!(line, r"<user2> \x1b[2J\x1b]0;owned\x07 hi	there");
    let all = listener.so_far(Pipe::Stdout);
    assert!(
        !all.contains('\x1b') && !all.contains('\x07'),
        "raw control bytes reached the other client: {all:?}"
    );
}

#[test]
fn refused_clients_are_reset_so_ncat_and_connect_fail() {
    let (_server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--deny",
        "127.0.0.1",
    ]);
    let out = run(ncat(&["127.0.0.1", &port.to_string()]), None, T);
    assert_eq!(code(&out), 1, "ncat: {}", stderr(&out));
    assert!(
        stderr(&out).contains("Connection reset by peer"),
        "{}",
        stderr(&out)
    );
    for args in [vec![], vec!["--send", "hello"]] {
        let addr = format!("127.0.0.1:{port}");
        let mut all = vec!["tcp", "connect", addr.as_str()];
        all.extend(args);
        let out = run(wirekit(&all), None, T);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("{addr} reset the connection"))
                && stderr(&out).contains("the server refused this client"),
            "{}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "");
    }
}

#[test]
fn clients_beyond_max_conns_are_reset() {
    let (_server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--max-conns",
        "1",
    ]);
    // One client holds the only place (its echo proves it was admitted).
    let (holder, mut go) = python_steps(&format!(
        r#"
import socket
a = socket.create_connection(('127.0.0.1', {port})); a.settimeout(10)
a.sendall(b"a")
assert a.recv(10) == b"a"
print("holding")
input()
"#
    ));
    holder.line(Pipe::Stdout, "holding");
    let out = run(ncat(&["127.0.0.1", &port.to_string()]), None, T);
    assert_eq!(code(&out), 1, "ncat: {}", stderr(&out));
    let out = run(
        wirekit(&[
            "tcp",
            "connect",
            &format!("127.0.0.1:{port}"),
            "--send",
            "x",
        ]),
        None,
        T,
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("reset the connection"),
        "{}",
        stderr(&out)
    );
    let _ = writeln!(go);
}

#[test]
fn quiet_listen_on_port_0_still_announces_the_port() {
    let (server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "-q", "--echo", "-k"]);
    assert_ne!(port, 0);
    let out = server.terminate(T);
    assert_eq!(
        stderr(&out),
        format!("wirekit: listening on 127.0.0.1:{port}\n")
    );
}

#[test]
fn connect_without_port_suggests_the_form() {
    let out = run(wirekit(&["tcp", "connect", "127.0.0.1"]), None, T);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("write it like 127.0.0.1:PORT"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("[127.0.0.1]"), "{}", stderr(&out));
}

/// An `ncat` command (scripts/test-deps.sh installs ncat).
fn ncat(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new("ncat");
    cmd.args(args);
    cmd
}

#[test]
fn connect_exec_runs_a_program_on_the_connection_with_ncat_env() {
    // ncat listens on a port it is given (it cannot announce port 0) and prints what arrives.
    let port = free_port();
    let mut cmd = ncat(&["-l", "127.0.0.1", &port.to_string(), "--recv-only"]);
    cmd.stdin(Stdio::null());
    let listener = Proc::start(cmd);
    wait_for_bound(port, false);
    let out = run(
        wirekit(&[
            "tcp",
            "connect",
            &format!("127.0.0.1:{port}"),
            "-c",
            "echo \"$NCAT_REMOTE_ADDR $NCAT_REMOTE_PORT $NCAT_LOCAL_ADDR $NCAT_PROTO $WIREKIT_PEER_PORT\"; echo local=$NCAT_LOCAL_PORT",
        ]),
        None,
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = stdout(&listener.wait(T));
    let mut lines = got.lines();
    assert_eq!(
        lines.next(),
        Some(format!("127.0.0.1 {port} 127.0.0.1 TCP {port}").as_str()),
        "{got:?}"
    );
    let local: u16 = lines
        .next()
        .and_then(|l| l.strip_prefix("local="))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{got:?}"));
    assert_ne!(local, 0);
    // -e splits words itself: `tr` upper-cases what ncat sends.
    let port = free_port();
    let mut cmd = ncat(&["-l", "127.0.0.1", &port.to_string()]);
    cmd.stdin(Stdio::piped());
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ncat");
    let mut to_ncat = child.stdin.take().expect("stdin");
    let listener = Proc::new(child);
    wait_for_bound(port, false);
    let client = Proc::start(wirekit(&[
        "tcp",
        "connect",
        &format!("127.0.0.1:{port}"),
        "-e",
        "tr a-z A-Z",
    ]));
    // tr answers at the end of its input: ncat half-closes when its stdin ends.
    to_ncat.write_all(b"shout\n").expect("to ncat");
    drop(to_ncat);
    listener.line(Pipe::Stdout, "SHOUT");
    let out = client.wait(T);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn listen_exec_gives_ncat_env_to_the_program() {
    let (_server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "-c",
        "echo \"$NCAT_REMOTE_ADDR $NCAT_LOCAL_ADDR $NCAT_LOCAL_PORT $NCAT_PROTO\"",
    ]);
    let out = run(ncat(&["127.0.0.1", &port.to_string()]), None, T);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("127.0.0.1 127.0.0.1 {port} TCP\n"));
}

#[test]
fn ncat_short_flags_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("dump.txt");
    let (_server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "-e",
        "tr a-z A-Z",
        "-m",
        "4",
        "-i",
        "10s",
    ]);
    let out = run(
        wirekit(&[
            "tcp",
            "connect",
            &format!("127.0.0.1:{port}"),
            "-w",
            "2s",
            "-C",
            "-x",
            dump.to_str().expect("utf-8 path"),
        ]),
        Some(b"hi\n"),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"HI\r\n");
    let text = std::fs::read_to_string(&dump).expect("dump file");
    assert!(text.contains("|hi..|"), "{text}");
}

#[test]
fn ncat_spellings_are_answered_with_wirekits() {
    for (args, said) in [
        (
            vec!["tcp", "connect", "localhost:1", "--ssl"],
            "ncat's --ssl is --tls here",
        ),
        (
            vec!["tcp", "connect", ":1", "--wait", "3"],
            "ncat's --wait is --connect-timeout (-w) here",
        ),
        (
            vec!["tcp", "connect", ":1", "-l"],
            "ncat's -l is `wirekit tcp listen ADDR`",
        ),
        (
            vec!["tcp", "connect", ":1", "--ssl-trustfile", "ca.pem"],
            "ncat's --ssl-trustfile is --cacert here",
        ),
        (
            vec!["tcp", "listen", ":0", "--nodns"],
            "ncat's --nodns is --no-dns (-n) here",
        ),
    ] {
        let out = run(wirekit(&args), None, T);
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(stderr(&out).contains(said), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn no_dns_and_address_families() {
    let (_server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "-k", "--echo"]);
    let out = run(
        wirekit(&[
            "tcp",
            "connect",
            &format!("localhost:{port}"),
            "-n",
            "--send",
            "x",
        ]),
        None,
        T,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("'localhost' is a name, and --no-dns (-n) turns name lookups off"),
        "{}",
        stderr(&out)
    );
    let out = run(
        wirekit(&[
            "tcp",
            "connect",
            &format!("127.0.0.1:{port}"),
            "-n",
            "-4",
            "--send",
            "x",
        ]),
        None,
        T,
    );
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "x"),
        "{}",
        stderr(&out)
    );
    let out = run(
        wirekit(&[
            "tcp",
            "connect",
            &format!("127.0.0.1:{port}"),
            "-6",
            "--send",
            "x",
        ]),
        None,
        T,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(&format!("127.0.0.1:{port} has no IPv6 address; drop -6")),
        "{}",
        stderr(&out)
    );
    let (_server6, port6) = Proc::server(&["tcp", "listen", "[::1]:0", "-6", "-k", "--echo"]);
    let out = run(ncat(&["-6", "::1", &port6.to_string()]), Some(b"six"), T);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "six"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn listen_recv_only_and_send_only() {
    let (server, port) =
        server_with_stdin(&["tcp", "listen", "127.0.0.1:0", "--recv-only"], b"SECRET");
    python_ok(&format!(
        r#"
import socket
s = socket.create_connection(('127.0.0.1', {port})); s.settimeout(20)
s.sendall(b"data")
s.shutdown(socket.SHUT_WR)
got = s.recv(100)
assert got == b"", got
print("ok")
"#
    ));
    let out = server.wait(T);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "data"),
        "{}",
        stderr(&out)
    );

    let (server, port) =
        server_with_stdin(&["tcp", "listen", "127.0.0.1:0", "--send-only"], b"hello");
    // (ncat sends nothing: unread bytes at close would make the kernel reset.)
    let out = run(
        ncat(&["127.0.0.1", &port.to_string(), "--recv-only"]),
        None,
        T,
    );
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "hello"),
        "{}",
        stderr(&out)
    );
    let out = server.wait(T);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, ""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn host_names_and_access_files() {
    let ncat_echo = |port: u16| run(ncat(&["127.0.0.1", &port.to_string()]), Some(b"hi"), T);
    let (_s, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--allow",
        "localhost",
    ]);
    let out = ncat_echo(port);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "hi"),
        "{}",
        stderr(&out)
    );
    let (_s, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--deny",
        "localhost",
    ]);
    assert_eq!(code(&ncat_echo(port)), 1);

    let dir = tempfile::tempdir().expect("tempdir");
    let deny = dir.path().join("deny.txt");
    std::fs::write(&deny, "# who may not come in\n\n127.0.0.1   # this host\n").expect("write");
    let allow = dir.path().join("allow.txt");
    std::fs::write(&allow, "10.0.0.0/8\nlocalhost\n").expect("write");
    let (deny, allow) = (deny.to_str().expect("path"), allow.to_str().expect("path"));
    let (_s, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--denyfile",
        deny,
    ]);
    let out = ncat_echo(port);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let (_s, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--echo",
        "--allowfile",
        allow,
    ]);
    let out = ncat_echo(port);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "hi"),
        "{}",
        stderr(&out)
    );

    let out = run(
        wirekit(&["tcp", "listen", ":0", "--allowfile", "/nonexistent/list"]),
        None,
        T,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read the access list /nonexistent/list"),
        "{}",
        stderr(&out)
    );
    let out = run(
        wirekit(&["tcp", "listen", ":0", "--deny", "nosuch.invalid"]),
        None,
        T,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("looking it up as a host name failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn broker_drops_a_stalled_member_and_the_others_go_on() {
    let (server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "--broker"]);
    let (py, mut go) = python_steps(&format!(
        r#"
import hashlib, socket, threading
def member(rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(('127.0.0.1', {port})); s.settimeout(30)
    return s
stalled = member(4096)   # never reads
live = [member(), member()]
sender = member()
print("stalled %s:%d" % stalled.getsockname())
input()  # until the server has logged all four joins
TOTAL = 48 << 20
block = bytes(range(256)) * 256
want = hashlib.sha256(block * (TOTAL // len(block))).hexdigest()
got = {{}}
def read_all(i, s):
    h, n = hashlib.sha256(), 0
    while n < TOTAL:
        chunk = s.recv(1 << 16)
        assert chunk, ("closed early", i, n)
        h.update(chunk); n += len(chunk)
    got[i] = (n, h.hexdigest())
readers = [threading.Thread(target=read_all, args=(i, s)) for i, s in enumerate(live)]
for t in readers: t.start()
for _ in range(TOTAL // len(block)):
    sender.sendall(block)
for t in readers: t.join(60)
assert got == {{0: (TOTAL, want), 1: (TOTAL, want)}}, got
print("ok")
"#
    ));
    let line = py.line(Pipe::Stdout, "stalled ");
    let stalled = line.rsplit(' ').next().unwrap_or_default().to_string();
    server.line(Pipe::Stderr, "(4 members)");
    writeln!(go).expect("let the clients go on");
    let out = py.wait(Duration::from_secs(120));
    assert_eq!(
        stdout(&out).lines().last(),
        Some("ok"),
        "python said: {}",
        stderr(&out)
    );
    let dropped = server.line(Pipe::Stderr, "dropped ");
    assert!(
        dropped.contains(&format!(
            "dropped {stalled}: it fell behind by more than 64 chunks"
        )),
        "{dropped}"
    );
}

#[test]
fn output_records_the_session_like_ncat_and_appends() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "-k", "--echo"]);
    let theirs = dir.path().join("ncat.log");
    let out = run(
        ncat(&[
            "127.0.0.1",
            &port.to_string(),
            "-o",
            theirs.to_str().expect("path"),
        ]),
        Some(b"hello\n"),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let ours = dir.path().join("wirekit.log");
    let ours_s = ours.to_str().expect("path");
    let out = run(
        wirekit(&["tcp", "connect", &format!("127.0.0.1:{port}"), "-o", ours_s]),
        Some(b"hello\n"),
        T,
    );
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "hello\n"),
        "{}",
        stderr(&out)
    );
    let ncat_bytes = std::fs::read(&theirs).expect("ncat's log");
    assert_eq!(std::fs::read(&ours).expect("our log"), ncat_bytes);
    assert_eq!(ncat_bytes, b"hello\nhello\n");
    let mode = std::fs::metadata(&ours).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let out = run(
        wirekit(&[
            "tcp",
            "connect",
            &format!("127.0.0.1:{port}"),
            "--send",
            "again",
            "-o",
            ours_s,
            "--append-output",
        ]),
        None,
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&ours).expect("log"),
        b"hello\nhello\nagainagain"
    );
    // The server side records too.
    let log = dir.path().join("server.log");
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "--reply",
        "bye",
        "-o",
        log.to_str().expect("path"),
    ]);
    let out = run(ncat(&["127.0.0.1", &port.to_string()]), Some(b"hi"), T);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "bye"),
        "{}",
        stderr(&out)
    );
    let _ = server.wait(T);
    assert_eq!(std::fs::read(&log).expect("log"), b"hibye");
}

/// Start a proxy that takes the port it is given (it cannot announce port 0).
fn proxy_on(program: &str, args: &[&str], port: u16) -> Proc {
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    let p = Proc::start(cmd);
    wait_for_bound(port, false);
    p
}

#[test]
fn connect_through_http_socks4_and_socks5_proxies() {
    let (_server, port) =
        Proc::server(&["tcp", "listen", "127.0.0.1:0", "-k", "--reply", "tunnelled"]);
    let target = format!("127.0.0.1:{port}");
    // The proxies close both ways at the client's half-close: keep the write side open.
    let by_name = format!("localhost:{port}");
    let to = |dest: &str, extra: &[&str]| {
        let mut args = vec!["tcp", "connect", dest, "--send", "hi", "--no-shutdown"];
        args.extend_from_slice(extra);
        run(wirekit(&args), None, T)
    };
    let through = |extra: &[&str]| to(&target, extra);
    let tunnelled = |out: &std::process::Output| {
        assert_eq!(
            (code(out), stdout(out).as_str()),
            (0, "tunnelled"),
            "{}",
            stderr(out)
        );
    };
    let hp = free_port();
    let _http = proxy_on(
        "ncat",
        &["-l", "--proxy-type", "http", "127.0.0.1", &hp.to_string()],
        hp,
    );
    let out = through(&["--proxy", &format!("127.0.0.1:{hp}")]);
    tunnelled(&out);

    let ap = free_port();
    let _auth = proxy_on(
        "ncat",
        &[
            "-l",
            "--proxy-type",
            "http",
            "--proxy-auth",
            "bob:pw",
            "127.0.0.1",
            &ap.to_string(),
        ],
        ap,
    );
    let out = through(&["--proxy", &format!("127.0.0.1:{ap}")]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!(
            "the HTTP proxy 127.0.0.1:{ap} wants a user name and password"
        )) && stderr(&out).contains("--proxy-auth USER:PASS"),
        "{}",
        stderr(&out)
    );
    let out = through(&[
        "--proxy",
        &format!("127.0.0.1:{ap}"),
        "--proxy-auth",
        "bob:pw",
    ]);
    tunnelled(&out);

    let sp = free_port();
    let _socks = proxy_on(
        "microsocks",
        &["-i", "127.0.0.1", "-p", &sp.to_string()],
        sp,
    );
    let out = through(&[
        "--proxy",
        &format!("127.0.0.1:{sp}"),
        "--proxy-type",
        "socks5",
    ]);
    tunnelled(&out);
    // A name is resolved by the SOCKS5 proxy.
    let out = to(
        &by_name,
        &[
            "--proxy",
            &format!("127.0.0.1:{sp}"),
            "--proxy-type",
            "socks5",
        ],
    );
    tunnelled(&out);

    let up = free_port();
    let _socks_auth = proxy_on(
        "microsocks",
        &[
            "-i",
            "127.0.0.1",
            "-p",
            &up.to_string(),
            "-u",
            "alice",
            "-P",
            "secret",
        ],
        up,
    );
    let proxy = format!("127.0.0.1:{up}");
    let out = through(&[
        "--proxy",
        &proxy,
        "--proxy-type",
        "socks5",
        "--proxy-auth",
        "alice:secret",
    ]);
    tunnelled(&out);
    let out = through(&[
        "--proxy",
        &proxy,
        "--proxy-type",
        "socks5",
        "--proxy-auth",
        "alice:wrong",
    ]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!(
            "the SOCKS5 proxy {proxy} did not connect to {target}"
        )) && stderr(&out).contains("check --proxy-auth USER:PASS"),
        "{}",
        stderr(&out)
    );
    // SOCKS4 (pproxy from PyPI; the name is resolved here, the user id sent).
    let p4 = free_port();
    let _socks4 = proxy_on(
        "python3",
        &["-m", "pproxy", "-l", &format!("socks4://127.0.0.1:{p4}")],
        p4,
    );
    let out = through(&[
        "--proxy",
        &format!("127.0.0.1:{p4}"),
        "--proxy-type",
        "socks4",
    ]);
    tunnelled(&out);
    let out = to(
        &by_name,
        &[
            "--proxy",
            &format!("127.0.0.1:{p4}"),
            "--proxy-type",
            "socks4",
            "--proxy-auth",
            "me:x",
        ],
    );
    tunnelled(&out);
    let out = run(
        wirekit(&["tcp", "connect", &target, "--proxy-auth", "x:y"]),
        None,
        T,
    );
    assert_eq!(code(&out), 2, "--proxy-auth without --proxy");
}

#[test]
fn help_is_one_page_per_command_with_global_options_last() {
    let page = |args: &[&str]| {
        let out = run(wirekit(args), None, T);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let tcp = page(&["tcp", "--help"]);
    assert!(
        tcp.contains("connect  Connect to ADDR") && tcp.contains("listen   Listen on ADDR"),
        "{tcp}"
    );
    assert!(tcp.contains("wirekit tcp connect --help"), "{tcp}");
    for (cmd, own) in [
        (
            "connect",
            &[
                "--send <TEXT>",
                "-e, --exec <CMD>",
                "-c, --sh-exec <CMD>",
                "-w, --connect-timeout",
                "-4, --ipv4",
                "-n, --no-dns",
                "-o, --output <FILE>",
                "--append-output",
                "--proxy <HOST:PORT>",
                "--proxy-type",
                "--proxy-auth",
                "-x, --hex-dump",
                "-C, --crlf",
                "--tls",
            ][..],
        ),
        (
            "listen",
            &[
                "-k, --keep-open",
                "--broker",
                "--chat",
                "-e, --exec <CMD>",
                "-m, --max-conns <N>",
                "-i, --idle-timeout",
                "--allowfile <FILE>",
                "--denyfile <FILE>",
                "--send-only",
                "--recv-only",
                "-o, --output <FILE>",
                "--tls",
            ][..],
        ),
    ] {
        let text = page(&["tcp", cmd, "--help"]);
        let global = text
            .find("\nGlobal options:\n")
            .unwrap_or_else(|| panic!("{text}"));
        for flag in own {
            let at = text
                .find(flag)
                .unwrap_or_else(|| panic!("{cmd} --help lacks {flag}: {text}"));
            assert!(at < global, "{flag} is under the global heading: {text}");
        }
        assert!(
            text[global..].contains("-v, --verbose") && text[global..].contains("-q, --quiet"),
            "{text}"
        );
    }
}
