//! `wirekit udp` against the seed's UDP snippets.

use crate::util::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[test]
fn seed_client_against_listen_reply() {
    let (server, port) = Proc::server(&[
        "udp",
        "listen",
        "127.0.0.1:0",
        "--reply",
        "Hello from server",
        "--count",
        "1",
    ]);
    let client = format!(
        r#"
import socket

# 创建UDP Socket
client_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

# 发送数据
client_socket.sendto(b"Hello from client", ('localhost', {port}))

# 接收响应
data, server = client_socket.recvfrom(1024)
print(f"Received: {{data.decode()}}")
"#
    );
    let out = python(&client, T);
    assert_eq!(
        stdout(&out).trim(),
        "Received: Hello from server",
        "{}",
        stderr(&out)
    );
    let s = server.wait(T);
    assert!(
        stdout(&s).starts_with("Received from 127.0.0.1:"),
        "{}",
        stdout(&s)
    );
    assert!(
        stdout(&s).ends_with(": Hello from client\n"),
        "{}",
        stdout(&s)
    );
}

#[test]
fn send_against_seed_server() {
    // The seed's server binds the port it is given and does not announce it.
    let port = free_udp_port();
    let seed_server = format!(
        r#"
import socket

server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_socket.bind(('localhost', {port}))

while True:
    data, address = server_socket.recvfrom(1024)
    print(f"Received from {{address}}: {{data.decode()}}")
    server_socket.sendto(b"Hello from server", address)
"#
    );
    let _server = python_server(&seed_server, port, true);
    let out = run(
        wirekit(&[
            "udp",
            "send",
            &format!("localhost:{port}"),
            "Hello from client",
        ]),
        None,
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("Received from 127.0.0.1:{port}: Hello from server\n")
    );
}

#[test]
fn echo_json_and_stdin() {
    let (_server, port) = Proc::server(&["udp", "listen", "127.0.0.1:0", "--echo"]);
    let out = run(
        wirekit(&["udp", "send", &format!(":{port}"), "--json"]),
        Some(b"ping \xff"),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(v["bytes"], 6);
    assert_eq!(v["data"], "ping \u{fffd}");
    let out = run(
        wirekit(&["udp", "send", &format!(":{port}"), "--raw"]),
        Some(b"\x00\x01bin"),
        T,
    );
    assert_eq!(out.stdout, b"\x00\x01bin");
}

#[test]
fn largest_datagram_passes_and_larger_is_refused() {
    let (_server, port) = Proc::server(&["udp", "listen", "127.0.0.1:0", "--echo", "--raw"]);
    let big = vec![b'a'; 65_507];
    let out = run(
        wirekit(&["udp", "send", &format!(":{port}"), "--raw"]),
        Some(&big),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout.len(), 65_507);
    let too_big = vec![b'a'; 65_508];
    let out = run(
        wirekit(&["udp", "send", &format!(":{port}")]),
        Some(&too_big),
        T,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("at most 65,507 bytes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_reply_times_out_and_denied_datagrams_are_dropped() {
    let (_server, port) = Proc::server(&[
        "udp",
        "listen",
        "127.0.0.1:0",
        "--echo",
        "--deny",
        "127.0.0.1",
    ]);
    let out = run(
        wirekit(&[
            "udp",
            "send",
            &format!(":{port}"),
            "hi",
            "--timeout",
            "300ms",
        ]),
        None,
        T,
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("timed out after 300ms"),
        "{}",
        stderr(&out)
    );
    // Nothing listening: the ICMP error is named.
    let closed = free_udp_port(); // nothing listens there: unreachable
    let out = run(
        wirekit(&["udp", "send", &format!(":{closed}"), "hi"]),
        None,
        T,
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("no UDP server is listening"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn listen_escapes_control_bytes_so_no_datagram_forges_a_line() {
    let (server, port) = Proc::server(&["udp", "listen", "127.0.0.1:0", "--count", "1"]);
    python_ok(&format!(
        r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"hi\nReceived from 10.0.0.1:53: forged\x1b[2J\x07\n", ('127.0.0.1', {port}))
print("ok")
"#
    ));
    let out = server.wait(T);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text:?}");
    assert!(
        text.starts_with("Received from 127.0.0.1:")
            && text.ends_with(concat!(
                r": hi\nReceived from 10.0.0.1:53: forged\x1b[2J\x07",
                "\n"
            )),
        "{text:?}"
    );
    // --raw keeps the bytes as they came, for pipes.
    let (server, port) = Proc::server(&["udp", "listen", "127.0.0.1:0", "--count", "1", "--raw"]);
    let out = run(
        wirekit(&["udp", "send", &format!(":{port}"), "--count", "0"]),
        Some(b"a\x1b\nb"),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(server.wait(T).stdout, b"a\x1b\nb");
}

#[test]
fn json_carries_binary_payloads_losslessly_in_base64() {
    let (server, port) = Proc::server(&["udp", "listen", "127.0.0.1:0", "--count", "1", "--json"]);
    let out = run(
        wirekit(&["udp", "send", &format!(":{port}"), "--count", "0"]),
        Some(b"\x00\xff\xfebin\n"),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = server.wait(T);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(v["bytes"], 7);
    assert_eq!(v["data_base64"], "AP/+YmluCg==");
    // Python decodes it to the same bytes.
    python_ok(&format!(
        "import base64\nassert base64.b64decode({:?}) == b'\\x00\\xff\\xfebin\\n'\nprint('ok')",
        v["data_base64"].as_str().unwrap_or_default()
    ));
}

#[test]
fn ipv6_carries_65527_bytes_and_no_more() {
    let (_server, port) = Proc::server(&["udp", "listen", "[::1]:0", "--echo", "--raw"]);
    let big = vec![b'a'; 65_527];
    let out = run(
        wirekit(&["udp", "send", &format!("[::1]:{port}"), "--raw"]),
        Some(&big),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout.len(), 65_527);
    let out = run(
        wirekit(&["udp", "send", &format!("[::1]:{port}")]),
        Some(&vec![b'a'; 65_528]),
        T,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("(IPv6) carries at most 65,527 bytes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn zero_timeout_is_refused_and_hints_name_the_form() {
    let out = run(
        wirekit(&["udp", "send", "127.0.0.1:9", "x", "--timeout", "0"]),
        None,
        T,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("a timeout of 0 would give up before any reply")
            && !stderr(&out).contains("0ns"),
        "{}",
        stderr(&out)
    );
    let out = run(wirekit(&["udp", "send", "[::1]", "x"]), None, T);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("write it like [::1]:PORT") && !stderr(&out).contains("[[::1]]"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn connect_pipes_stdin_to_datagrams_and_replies_to_stdout() {
    // A Python UDP server that upper-cases each datagram back.
    let port = free_udp_port();
    let _server = python_server(
        &format!(
            r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', {port}))
while True:
    data, peer = s.recvfrom(65536)
    s.sendto(data.upper(), peer)
"#
        ),
        port,
        true,
    );
    let out = run(
        wirekit(&[
            "udp",
            "connect",
            &format!("127.0.0.1:{port}"),
            "--wait",
            "2s",
        ]),
        Some(b"one two\n"),
        T,
    );
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "ONE TWO\n"),
        "{}",
        stderr(&out)
    );
    // ncat -u -l receives what udp connect sends.
    let port = free_udp_port();
    let mut cmd = std::process::Command::new("ncat");
    cmd.args(["-u", "-l", "127.0.0.1", &port.to_string()]);
    let listener = Proc::start(cmd);
    wait_for_bound(port, true);
    let out = run(
        wirekit(&[
            "udp",
            "connect",
            &format!("127.0.0.1:{port}"),
            "--wait",
            "100ms",
        ]),
        Some(b"to ncat\n"),
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    listener.line(Pipe::Stdout, "to ncat");
    // Nothing listening: the ICMP error is named, exit 1.
    let closed = free_udp_port();
    let out = run(
        wirekit(&[
            "udp",
            "connect",
            &format!("127.0.0.1:{closed}"),
            "--wait",
            "2s",
        ]),
        Some(b"anyone?\n"),
        T,
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("no UDP server is listening"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn listen_without_a_mode_pipes_stdin_to_its_first_peer() {
    let (server, port) =
        server_with_stdin(&["udp", "listen", "127.0.0.1:0", "--count", "2"], b"pong\n");
    python_ok(&format!(
        r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(20)
s.sendto(b"ping", ('127.0.0.1', {port}))
data, _ = s.recvfrom(100)
assert data == b"pong\n", data
s.sendto(b"done", ('127.0.0.1', {port}))
print("ok")
"#
    ));
    let out = server.wait(T);
    let text = stdout(&out);
    assert!(
        text.contains(": ping\n") && text.contains(": done\n"),
        "{text}"
    );
}
