//! `wirekit serve`'s connection layer against real peers: what happens below the
//! request handler (heads refused or cut, HTTP/2 limits, TLS), and the log
//! lines of those answers.

use crate::util::*;
use std::process::Command;
use std::time::Duration;

/// Start `wirekit [GLOBAL...] serve DIR -p 0 ARGS...`.
fn serve(global: &[&str], dir: &std::path::Path, args: &[&str]) -> (Proc, u16) {
    let mut all: Vec<&str> = global.to_vec();
    all.extend(["serve", dir.to_str().expect("utf-8 temp path"), "-p", "0"]);
    all.extend_from_slice(args);
    Proc::server(&all)
}

fn site() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("hello.txt"), "hello, world\n").expect("write");
    d
}

/// Send the three heads that never reach the handler: a malformed request line
/// (ncat, answered 400), a head with too many fields (Python, 431) and a head
/// that never ends (Python, cut at the 1 s header timeout).
fn refused_heads(port: u16) {
    let mut n = Command::new("ncat");
    n.args(["-w", "5", "-i", "5", "127.0.0.1", &port.to_string()]);
    let out = run(
        n,
        Some(b"GET /bad\x01line HTTP/1.1\r\nHost: x\r\n\r\n"),
        Duration::from_secs(15),
    );
    assert!(
        stdout(&out).starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "ncat got: {:?}",
        stdout(&out)
    );
    python_ok(&format!(
        r#"
import socket, time
s = socket.create_connection(("127.0.0.1", {port})); s.settimeout(10)
head = b"GET /many HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(150)) + b"\r\n"
s.sendall(head)
got = s.recv(4096)
assert got.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), got
s = socket.create_connection(("127.0.0.1", {port})); s.settimeout(10)
s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
start = time.monotonic()
got = s.recv(4096)
took = time.monotonic() - start
assert got == b"", got
assert 0.8 < took < 5, took
print("ok")
"#
    ));
}

/// Issue 10 item 8: 400s, 431s and header-timeout cuts made below the handler
/// get an access-log line like any other answer, in the text format...
#[test]
fn serve_protocol_errors_are_logged_as_text() {
    let d = site();
    let (p, port) = serve(&[], d.path(), &["--header-timeout", "1s"]);
    refused_heads(port);
    let bad = p.line(Pipe::Stderr, "/bad");
    let many = p.line(Pipe::Stderr, "/many");
    let slow = p.line(Pipe::Stderr, "/slow");
    // PEER - USER [TIME] "REQUEST" STATUS BYTES "REFERER" "UA" SECONDS
    let fields = |line: &str| -> (String, String, f64) {
        let (start, rest) = line.split_once(" [").expect("time");
        let (_, rest) = rest.split_once("] ").expect("time end");
        let (rest, secs) = rest.rsplit_once(' ').expect("duration");
        (
            start.to_string(),
            rest.to_string(),
            secs.parse().expect("seconds"),
        )
    };
    let (who, what, secs) = fields(&bad);
    assert_eq!(who, "127.0.0.1 - -");
    assert_eq!(what, r#""GET /bad\x01line HTTP/1.1" 400 0 "-" "-""#);
    assert!(secs < 1.0, "{bad}");
    let (who, what, _) = fields(&many);
    assert_eq!(who, "127.0.0.1 - -");
    assert_eq!(what, r#""GET /many HTTP/1.1" 431 0 "-" "-""#);
    let (who, what, secs) = fields(&slow);
    assert_eq!(who, "127.0.0.1 - -");
    assert_eq!(what, r#""GET /slow HTTP/1.1" - 0 "-" "-""#);
    assert!((0.9..5.0).contains(&secs), "{slow}");
    // The server still answers, and logs that as before.
    let out = run(
        {
            let mut c = Command::new("curl");
            c.args([
                "-s",
                "--max-time",
                "10",
                &format!("http://127.0.0.1:{port}/hello.txt"),
            ]);
            c
        },
        None,
        Duration::from_secs(15),
    );
    assert_eq!(stdout(&out), "hello, world\n");
    let ok = p.line(Pipe::Stderr, "\"GET /hello.txt HTTP/1.1\" 200 13 ");
    assert!(ok.starts_with("127.0.0.1 - - ["), "{ok}");
}

/// ...and in the JSON format, with the raw first line and the reason; an HTTP/2
/// connection cut at the header timeout is logged too.
#[test]
fn serve_protocol_errors_are_logged_as_json() {
    let d = site();
    let (p, port) = serve(
        &["--log-format", "json"],
        d.path(),
        &["--header-timeout", "1s"],
    );
    refused_heads(port);
    // h2c: the preface and nothing else.
    python_ok(&format!(
        r#"
import socket, time
s = socket.create_connection(("127.0.0.1", {port})); s.settimeout(10)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
start = time.monotonic()
while s.recv(4096):
    pass
took = time.monotonic() - start
assert 0.8 < took < 5, took
print("ok")
"#
    ));
    let json = |needle: &str| -> serde_json::Value {
        serde_json::from_str(&p.line(Pipe::Stderr, needle)).expect("a JSON log line")
    };
    let bad = json("/bad");
    assert_eq!(bad["peer"], "127.0.0.1");
    assert_eq!(bad["status"], 400);
    assert_eq!(bad["bytes"], 0);
    assert_eq!(bad["request"], "GET /bad\u{1}line HTTP/1.1");
    assert_eq!(bad["error"], "malformed request head");
    assert_eq!(bad["method"], serde_json::Value::Null);
    assert!(bad["duration_ms"].as_f64().expect("duration") < 1000.0);
    let many = json("/many");
    assert_eq!(many["status"], 431);
    assert_eq!(many["request"], "GET /many HTTP/1.1");
    assert_eq!(
        many["error"],
        "request head too large or too many header fields"
    );
    let slow = json("/slow");
    assert_eq!(slow["status"], 0);
    assert_eq!(slow["bytes"], 0);
    assert_eq!(
        slow["error"],
        "request head not complete within --header-timeout"
    );
    let ms = slow["duration_ms"].as_f64().expect("duration");
    assert!((900.0..5000.0).contains(&ms), "{slow}");
    let h2 = json("HTTP/2 request head");
    assert_eq!(h2["peer"], "127.0.0.1");
    assert_eq!(h2["status"], 0);
    assert_eq!(h2["request"], serde_json::Value::Null);
    let ms = h2["duration_ms"].as_f64().expect("duration");
    assert!((900.0..5000.0).contains(&ms), "{h2}");
}
