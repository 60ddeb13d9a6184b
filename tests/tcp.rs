//! `wirekit tcp` against real peers: the seed's Python snippets, Python socket clients.

use crate::util::*;
use std::fs::File;
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
    let port = free_port();
    let server = Proc::server(
        &[
            "tcp",
            "listen",
            &format!("127.0.0.1:{port}"),
            "-k",
            "--reply",
            "Hello from server",
        ],
        port,
    );
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
    let port = free_port();
    let _server = Proc::server(&["tcp", "listen", &port.to_string(), "-k", "--echo"], port);
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
    let port = free_port();
    let _server = Proc::server(&["tcp", "listen", &port.to_string(), "--broker"], port);
    // A client may be accepted but not yet joined when the first message goes out,
    // so the sender repeats until both others have it; receivers count it once.
    python_ok(&format!(
        r#"
import socket
a, b, c = [socket.create_connection(('127.0.0.1', {port})) for _ in range(3)]
for s in (a, b, c):
    s.settimeout(0.3)
def heard(s, want):
    try:
        return want in s.recv(65536)
    except socket.timeout:
        return False
ok_b = ok_c = False
for _ in range(30):
    a.sendall(b"hello from a\n")
    ok_b = ok_b or heard(b, b"hello from a")
    ok_c = ok_c or heard(c, b"hello from a")
    if ok_b and ok_c:
        break
assert ok_b and ok_c, (ok_b, ok_c)
assert not heard(a, b"hello"), "sender heard itself"
c.sendall(b"and from c\n")
a.settimeout(20)
assert heard(a, b"and from c")
print("ok")
"#
    ));
}

#[test]
fn chat_prefixes_users_and_announces() {
    let port = free_port();
    let _server = Proc::server(&["tcp", "listen", &port.to_string(), "--chat"], port);
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
    let port = free_port();
    let _server = Proc::server(
        &[
            "tcp",
            "listen",
            &port.to_string(),
            "-k",
            "--exec",
            "tr a-z A-Z",
        ],
        port,
    );
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
    let port = free_port();
    let _server = Proc::server(
        &[
            "tcp",
            "listen",
            &port.to_string(),
            "-k",
            "--sh-exec",
            "echo peer=$WIREKIT_PEER_ADDR",
        ],
        port,
    );
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
    let port = free_port();
    let mut listen = wirekit(&["tcp", "listen", &port.to_string()]);
    listen
        .stdin(Stdio::null())
        .stdout(File::create(&dst).expect("create out"))
        .stderr(Stdio::piped());
    let server = Proc::new(listen.spawn().expect("spawn listen"));
    wait_for_bound(port, false);
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
    let port = free_port();
    let server = format!(
        r#"
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', {port})); s.listen(1)
c, _ = s.accept()
data = b""
while True:
    chunk = c.recv(4096)
    if not chunk:
        break
    data += chunk
c.sendall(f"got {{len(data)}} bytes".encode())
c.close()
"#
    );
    let _server = python_server(&server, port, false);
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
    let port = free_port();
    let mut server = Proc::server(
        &[
            "tcp",
            "listen",
            &port.to_string(),
            "-k",
            "--echo",
            "--deny",
            "127.0.0.1/32",
        ],
        port,
    );
    assert_eq!(probe(port, "secret"), "''");
    assert!(server.alive());
    drop(server);
    let port = free_port();
    let _server = Proc::server(
        &[
            "tcp",
            "listen",
            &port.to_string(),
            "-k",
            "--echo",
            "--allow",
            "127.0.0.0/8",
        ],
        port,
    );
    assert_eq!(probe(port, "welcome"), "'welcome'");
    let port = free_port();
    let server = Proc::server(
        &[
            "tcp",
            "listen",
            &port.to_string(),
            "-k",
            "--echo",
            "--allow",
            "10.0.0.0/8",
        ],
        port,
    );
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
    let port = free_port();
    let _server = Proc::server(
        &[
            "tcp",
            "listen",
            &port.to_string(),
            "-k",
            "--echo",
            "--max-conns",
            "2",
        ],
        port,
    );
    python_ok(&format!(
        r#"
import socket, time
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
a.close()
# once a slot is free, a new client is served (the close takes a moment to reach the server)
for _ in range(100):
    d = socket.create_connection(('127.0.0.1', {port})); d.settimeout(5)
    try:
        if echoes(d, b"d"):
            break
    except ConnectionResetError:
        pass
    d.close()
    time.sleep(0.05)
else:
    raise SystemExit("no slot freed")
print("ok")
"#
    ));
}

#[test]
fn idle_timeout_closes_idle_clients_only() {
    let port = free_port();
    let _server = Proc::server(
        &[
            "tcp",
            "listen",
            &port.to_string(),
            "-k",
            "--echo",
            "--idle-timeout",
            "400ms",
        ],
        port,
    );
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
    let port = free_port();
    let server = Proc::server(
        &[
            "tcp",
            "listen",
            &port.to_string(),
            "-k",
            "--echo",
            "--shutdown-timeout",
            "300ms",
        ],
        port,
    );
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
    let port = free_port();
    let server = Proc::server(
        &[
            "tcp",
            "listen",
            &port.to_string(),
            "--reply",
            "pong",
            "--hex-dump",
            dump.to_str().unwrap_or_default(),
        ],
        port,
    );
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
    let open = free_port();
    let _server = Proc::server(&["tcp", "listen", &open.to_string(), "-k", "--echo"], open);
    let closed = free_port();
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
    let port = free_port();
    let server = Proc::server(
        &["tcp", "listen", &port.to_string(), "--discard", "--json"],
        port,
    );
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

#[test]
fn listener_survives_a_client_that_resets() {
    let port = free_port();
    let mut server = Proc::server(&["tcp", "listen", &port.to_string(), "-k", "--echo"], port);
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
    let port = free_port();
    let _holder = Proc::server(&["tcp", "listen", &port.to_string(), "-k", "--echo"], port);
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
    let closed = free_port();
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
    let port = free_port();
    let server = Proc::server(
        &[
            "tcp",
            "listen",
            &port.to_string(),
            "--exec",
            "no-such-program-xyz",
        ],
        port,
    );
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
    let port = free_port();
    let mut server = Proc::server(
        &[
            "tcp",
            "listen",
            &port.to_string(),
            "-k",
            "--exec",
            "no-such-program-xyz",
        ],
        port,
    );
    assert_eq!(probe(port, "x"), "''");
    assert_eq!(probe(port, "y"), "''");
    assert!(server.alive());
}

#[test]
fn ipv6_listen_and_connect() {
    let port = free_port();
    let addr = format!("[::1]:{port}");
    let server = Proc::server(&["tcp", "listen", &addr, "--reply", "six"], port);
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
    let port = free_port();
    let server = Proc::server(&["tcp", "listen", &port.to_string(), "-k", "--json"], port);
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
