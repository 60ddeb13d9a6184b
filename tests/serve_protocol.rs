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
        Some(b"GET /bad\x01line HTTP/1.1\r\nHost: localhost\r\n\r\n"),
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
head = b"GET /many HTTP/1.1\r\nHost: localhost\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(150)) + b"\r\n"
s.sendall(head)
got = s.recv(4096)
assert got.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), got
s = socket.create_connection(("127.0.0.1", {port})); s.settimeout(10)
s.sendall(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n")
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

/// The malformed-request corpus (issue 10): each form sent raw to one server is
/// answered with at most one response, never a second (smuggled) one, and a
/// normal client is served afterwards. Bare-LF line ends get one 400 and a
/// close (RFC 9112 §2.2). The body-framing forms run again with `--upload`, where
/// the request would reach a handler that reads the body. Content-Length with
/// Transfer-Encoding, in either order, gets a 400 that says why (RFC 9112 §6.3
/// allows refusing it), then the close.
#[test]
fn serve_malformed_request_corpus() {
    let d = site();
    let (_p, port) = serve(&[], d.path(), &[]);
    let (_u, uport) = serve(&[], d.path(), &["--upload"]);
    let py = format!(
        r#"
import socket, sys
S = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
CL_TE = b"Host: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
TE_CL = b"Host: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"
BIG = b"Host: localhost\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\nab\r\n0\r\n\r\n"
cases = {{
 "cl+te": b"POST / HTTP/1.1\r\n" + CL_TE + S,
 "te+cl": b"POST / HTTP/1.1\r\n" + TE_CL + S,
 "dup-cl": b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc" + S,
 "list-cl": b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3, 40\r\n\r\nabc" + S,
 "chunked-identity": b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + S,
 "big-chunk": b"POST / HTTP/1.1\r\n" + BIG + S,
 "obs-fold": b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n b\r\n\r\n" + S,
 "nul-header": b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b\r\n\r\n" + S,
 "ctl-line": b"GET /\x01 HTTP/1.1\r\nHost: localhost\r\n\r\n" + S,
 "http09": b"GET /\r\n\r\n" + S,
 "http20": b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n" + S,
 "bare-lf": b"GET /hello.txt HTTP/1.1\nHost: localhost\n\n" + S,
 "bare-lf-end": b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\n" + S,
 "bare-lf-header": b"GET /hello.txt HTTP/1.1\r\nHost: localhost\nX-A: b\r\n\r\n" + S,
}}
upload = {{
 "post-cl+te": b"POST / HTTP/1.1\r\n" + CL_TE + S,
 "post-te+cl": b"POST / HTTP/1.1\r\n" + TE_CL + S,
 "post-big-chunk": b"POST / HTTP/1.1\r\n" + BIG + S,
 "put-cl+te": b"PUT /a.txt HTTP/1.1\r\n" + CL_TE + S,
 "put-te+cl": b"PUT /b.txt HTTP/1.1\r\n" + TE_CL + S,
 "put-big-chunk": b"PUT /c.txt HTTP/1.1\r\n" + BIG + S,
}}
def exchange(port, data):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(3)
    s.sendall(data)
    got = b""
    closed = False
    try:
        while True:
            c = s.recv(65536)
            if not c:
                closed = True
                break
            got += c
    except socket.timeout:
        pass
    return got, closed
for port, forms in (({port}, cases), ({uport}, upload)):
    for name, data in forms.items():
        got, closed = exchange(port, data)
        n = got.count(b"HTTP/1.")
        assert n <= 1, (name, "a second (smuggled) response", got)
        head = got.split(b"\r\n\r\n", 1)[0].lower()
        assert n == 0 or got[9:10] == b"4" or (closed and b"connection: close" in head), (name, got[:300])
        if name.startswith("bare-lf"):
            assert got.startswith(b"HTTP/1.1 400 Bad Request\r\n") and closed, (name, got)
        if name.endswith(("cl+te", "te+cl")):
            assert got.startswith(b"HTTP/1.1 400 Bad Request\r\n") and closed, (name, got)
            assert b"both Content-Length and Transfer-Encoding" in got, (name, got)
# Bare LF alone, as a hand-typed request: one 400, then the close.
got, closed = exchange({port}, b"GET /hello.txt HTTP/1.0\n\n")
assert got.startswith(b"HTTP/1.1 400 Bad Request\r\n") and closed and got.count(b"HTTP/1.") == 1, got
print("ok")
"#
    );
    python_ok(&py);
    for p in [port, uport] {
        let out = run(
            {
                let mut c = Command::new("curl");
                c.args([
                    "-s",
                    "--max-time",
                    "10",
                    &format!("http://127.0.0.1:{p}/hello.txt"),
                ]);
                c
            },
            None,
            Duration::from_secs(15),
        );
        assert_eq!(
            stdout(&out),
            "hello, world\n",
            "the server stopped answering"
        );
    }
}

/// A Python h2 client over a plain socket or TLS with ALPN h2 (for
/// [`serve_h2_limits`]): `connect(port)`, `request(s, c, sid, headers)` that
/// returns the status (or "reset"), and `closed_after(s, c)`.
const H2_CLIENT: &str = r#"
import socket, ssl, time
import h2.connection, h2.config, h2.events, h2.exceptions
def connect(port, tls):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        s = ctx.wrap_socket(s, server_hostname="localhost")
        assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    c.initiate_connection()
    s.sendall(c.data_to_send())
    return s, c
def head(path, extra=()):
    return [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "localhost")] + list(extra)
def request(s, c, sid, headers):
    c.send_headers(sid, headers, end_stream=True)
    s.sendall(c.data_to_send())
    status = None
    body = b""
    while True:
        data = s.recv(65536)
        assert data, ("closed before the answer", sid)
        for e in c.receive_data(data):
            if isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid:
                status = dict(e.headers)[":status"]
            if isinstance(e, h2.events.DataReceived):
                body += e.data
                c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            if isinstance(e, h2.events.StreamReset) and e.stream_id == sid:
                return "reset", body
            if isinstance(e, h2.events.StreamEnded) and e.stream_id == sid:
                s.sendall(c.data_to_send())
                return status, body
        s.sendall(c.data_to_send())
def closed_after(s, c):
    start = time.monotonic()
    while True:
        try:
            data = s.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            return time.monotonic() - start
        try:
            c.receive_data(data)
            s.sendall(c.data_to_send())
        except (h2.exceptions.ProtocolError, OSError):
            pass
def open_head(s, c, sid):
    # HEADERS without END_HEADERS, its CONTINUATION never sent.
    c.send_headers(sid, head("/hello.txt"), end_stream=True)
    frames = bytearray(c.data_to_send())
    assert frames[3] == 1, "not a HEADERS frame"
    frames[4] &= ~0x4
    s.sendall(bytes(frames))
"#;

/// Issue 10 item 3: HTTP/2, over h2c and over TLS (ALPN h2): a header block
/// left open after a first complete request is cut at the header timeout (not
/// the 120 s idle timeout), `--max-headers` bounds the fields (431) and
/// `--max-header-size` the bytes (431, logged as well), the connection going on; an idle one closes
/// after `--idle-timeout`.
#[test]
fn serve_h2_limits() {
    let d = site();
    let limits = [
        "--header-timeout",
        "1s",
        "--max-headers",
        "20",
        "--max-header-size",
        "8K",
    ];
    let (h2c, h2c_port) = serve(&["--log-format", "json"], d.path(), &limits);
    let mut tls_args = limits.to_vec();
    tls_args.push("--tls");
    let (_tls, tls_port) = serve(&[], d.path(), &tls_args);
    let mut idle_args = tls_args.clone();
    idle_args.extend(["--idle-timeout", "2s"]);
    let (_idle, idle_port) = serve(&[], d.path(), &idle_args);
    let py = format!(
        r#"{H2_CLIENT}
for port, tls in (({h2c_port}, False), ({tls_port}, True)):
    s, c = connect(port, tls)
    st, body = request(s, c, 1, head("/hello.txt"))
    assert st == "200" and body == b"hello, world\n", (tls, st, body)
    # The bound on concurrent streams, as the server's SETTINGS announce it.
    assert c.remote_settings.max_concurrent_streams == 100, (tls, c.remote_settings.max_concurrent_streams)
    st, _ = request(s, c, 3, head("/hello.txt", [("x-%d" % i, "v") for i in range(19)]))
    assert st == "200", (tls, "19 fields", st)
    st, body = request(s, c, 5, head("/hello.txt", [("x-%d" % i, "v") for i in range(21)]))
    assert st == "431" and body == b"", (tls, "21 fields", st, body)
    st, body = request(s, c, 7, head("/big.txt", [("x-big", "v" * 9000)]))
    assert st == "431" and body == b"", (tls, "9000-byte field", st, body)
    st, _ = request(s, c, 11, head("/hello.txt"))
    assert st == "200", (tls, "after the 431s", st)
    open_head(s, c, 13)
    took = closed_after(s, c)
    assert 0.5 < took < 4, (tls, "open header block: closed after %.1f s" % took)
s, c = connect({idle_port}, True)
st, _ = request(s, c, 1, head("/hello.txt"))
assert st == "200", st
took = closed_after(s, c)
assert 1.5 < took < 5, "TLS idle timeout: closed after %.1f s" % took
print("ok")
"#
    );
    python_ok(&py);
    let line = h2c.line(Pipe::Stderr, "\"status\":431");
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    assert_eq!(v["request"], "GET /hello.txt HTTP/2.0");
    // The header list over --max-header-size is logged too (h2 alone would
    // answer it without a log line).
    let line = h2c.line(Pipe::Stderr, "GET /big.txt HTTP/2.0");
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    assert_eq!(v["status"], 431);
    assert_eq!(v["bytes"], 0);
    assert_eq!(v["peer"], "127.0.0.1");
    assert_eq!(
        v["error"],
        "request head too large or too many header fields"
    );
    let cut = h2c.line(Pipe::Stderr, "HTTP/2 request head not complete");
    let v: serde_json::Value = serde_json::from_str(&cut).expect("json");
    assert_eq!(v["status"], 0);
    let ms = v["duration_ms"].as_f64().expect("duration");
    assert!((900.0..4000.0).contains(&ms), "{cut}");
}

/// Issue 10 item 10 (part) and item 8: plain HTTP sent to a `--tls` port gets a
/// readable 400 page instead of a TLS alert, HTTPS on the same port still works,
/// and both the plain request and a failed TLS handshake get a log line.
#[test]
fn serve_tls_port_answers_plain_http_with_400() {
    let d = site();
    let (p, port) = serve(&["--log-format", "json"], d.path(), &["--tls"]);
    let curl = |args: &[&str]| {
        let mut c = Command::new("curl");
        c.args(["-s", "--max-time", "10"]).args(args);
        run(c, None, Duration::from_secs(15))
    };
    let out = curl(&["-i", &format!("http://127.0.0.1:{port}/hello.txt")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let want = format!(
        "400 Bad Request: plain HTTP request sent to an HTTPS port; use https://127.0.0.1:{port}/\n"
    );
    assert_eq!(
        stdout(&out),
        format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{want}",
            want.len()
        )
    );
    let out = curl(&["-k", &format!("https://127.0.0.1:{port}/hello.txt")]);
    assert_eq!(stdout(&out), "hello, world\n");
    // A client that offers only a cipher suite rustls does not have.
    let mut o = Command::new("openssl");
    o.args([
        "s_client",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-tls1_3",
        "-ciphersuites",
        "TLS_AES_128_CCM_8_SHA256",
    ]);
    let out = run(o, Some(b""), Duration::from_secs(15));
    assert_ne!(code(&out), 0, "the handshake should fail");
    let plain: serde_json::Value =
        serde_json::from_str(&p.line(Pipe::Stderr, "plain HTTP sent")).expect("json");
    assert_eq!(plain["status"], 400);
    assert_eq!(plain["bytes"], want.len());
    assert_eq!(plain["request"], "GET /hello.txt HTTP/1.1");
    assert_eq!(plain["peer"], "127.0.0.1");
    let failed: serde_json::Value =
        serde_json::from_str(&p.line(Pipe::Stderr, "TLS handshake failed")).expect("json");
    assert_eq!(failed["status"], 0);
    assert_eq!(failed["request"], serde_json::Value::Null);
    let why = failed["error"].as_str().expect("error");
    assert!(why.contains("no cipher suite in common"), "{why}");
}

/// Issue 10 item 10 (part): `--httpbin` `/post`, `/put`, `/patch` and
/// `/anything` fill `form` and `files` from urlencoded and multipart bodies, as
/// httpbin.org does (and as Python requests' users read them), `data` empty.
#[test]
fn serve_httpbin_forms_and_files() {
    let d = site();
    std::fs::write(d.path().join("notes.txt"), "line one\nline two\n").expect("write");
    std::fs::write(d.path().join("blob.bin"), [0xffu8, 0x00, 0xfe]).expect("write");
    let (_p, port) = serve(&[], d.path(), &["--httpbin"]);
    let curl = |args: &[&str]| -> serde_json::Value {
        let mut c = Command::new("curl");
        c.current_dir(d.path())
            .args(["-s", "--max-time", "10"])
            .args(args);
        let out = run(c, None, Duration::from_secs(15));
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
    };
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let v = curl(&[
        "-F",
        "a=1",
        "-F",
        "a=2",
        "-F",
        "f=@notes.txt",
        &url("/post"),
    ]);
    assert_eq!(v["form"], serde_json::json!({"a": ["1", "2"]}));
    assert_eq!(v["files"], serde_json::json!({"f": "line one\nline two\n"}));
    assert_eq!(v["data"], "");
    assert_eq!(v["json"], serde_json::Value::Null);
    let v = curl(&["-F", "b=@blob.bin", "-X", "PUT", &url("/put")]);
    assert_eq!(
        v["files"],
        serde_json::json!({"b": "data:application/octet-stream;base64,/wD+"})
    );
    assert_eq!(v["form"], serde_json::json!({}));
    let v = curl(&["-d", "a=1", "-d", "b=x%20y", &url("/post")]);
    assert_eq!(v["form"], serde_json::json!({"a": "1", "b": "x y"}));
    assert_eq!(v["files"], serde_json::json!({}));
    assert_eq!(v["data"], "");
    let v = curl(&["-d", "k=v", "-X", "PATCH", &url("/anything/x")]);
    assert_eq!(v["form"], serde_json::json!({"k": "v"}));
    assert_eq!(v["method"], "PATCH");
    // A raw body still goes to `data`.
    let v = curl(&["-H", "Content-Type: text/plain", "-d", "a=1", &url("/post")]);
    assert_eq!(v["data"], "a=1");
    assert_eq!(v["form"], serde_json::json!({}));
    // Python requests, as its users check httpbin.
    python_ok(&format!(
        r#"
import requests
r = requests.post("http://127.0.0.1:{port}/post", data={{"a": "1"}},
                  files={{"f": ("n.txt", b"hello\n", "text/plain")}}, timeout=10)
assert r.status_code == 200, r.status_code
j = r.json()
assert j["form"] == {{"a": "1"}}, j
assert j["files"] == {{"f": "hello\n"}}, j
assert j["data"] == "" and j["json"] is None, j
r = requests.post("http://127.0.0.1:{port}/post", data={{"x": ["1", "2"]}}, timeout=10)
assert r.json()["form"] == {{"x": ["1", "2"]}}, r.text
print("ok")
"#
    ));
}

/// A certificate for localhost and 127.0.0.1 made by `wirekit cert` in `dir`:
/// (CA, cert, key) paths.
fn pki(dir: &std::path::Path) -> (String, String, String) {
    let out = dir.to_str().expect("utf-8 temp path");
    let limit = Duration::from_secs(30);
    let o = run(wirekit(&["cert", "ca", "--out", out]), None, limit);
    assert_eq!(code(&o), 0, "cert ca: {}", stderr(&o));
    let ca = format!("{out}/ca.pem");
    let ca_key = format!("{out}/ca-key.pem");
    let args = [
        "cert",
        "new",
        "localhost",
        "127.0.0.1",
        "--ca",
        &ca,
        "--ca-key",
        &ca_key,
        "--out",
        out,
    ];
    let o = run(wirekit(&args), None, limit);
    assert_eq!(code(&o), 0, "cert new: {}", stderr(&o));
    (
        ca,
        format!("{out}/localhost+1.pem"),
        format!("{out}/localhost+1-key.pem"),
    )
}

/// Issue 14 item 3: a client that sends an IP address as SNI (as wrk does; here
/// `openssl s_client -servername 127.0.0.1`) makes rustls warn; that warning
/// shows only from `-v` on, and under `-q` stderr stays empty.
#[test]
fn serve_tls_ip_sni_warns_only_with_verbose() {
    let d = site();
    let keys = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = pki(keys.path());
    for (global, warned) in [(&["-q"][..], false), (&[][..], false), (&["-v"][..], true)] {
        let (p, port) = serve(global, d.path(), &["--tls", "--cert", &cert, "--key", &key]);
        let mut o = Command::new("openssl");
        o.args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "127.0.0.1",
            "-CAfile",
            &ca,
            "-quiet",
            "-ign_eof",
        ]);
        let out = run(
            o,
            Some(b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
            Duration::from_secs(15),
        );
        assert!(
            stdout(&out).ends_with("\r\n\r\nhello, world\n"),
            "s_client got: {:?} {}",
            stdout(&out),
            stderr(&out)
        );
        if warned {
            p.line(Pipe::Stderr, "Illegal SNI extension");
        }
        let out = p.terminate(Duration::from_secs(15));
        let err = stderr(&out);
        assert_eq!(err.contains("Illegal SNI"), warned, "{global:?}: {err}");
        if global == ["-q"] {
            assert_eq!(err, "", "under -q");
        }
    }
}

/// Issue 10: an upload PUT with both Content-Length and Transfer-Encoding (curl
/// sends what it is told) gets 400 naming the conflict, nothing is written, the
/// connection closes, and the answer has its access-log line.
#[test]
fn serve_upload_refuses_content_length_with_transfer_encoding() {
    let d = site();
    let (p, port) = serve(&[], d.path(), &["--upload"]);
    let mut c = Command::new("curl");
    c.current_dir(d.path()).args([
        "-s",
        "-i",
        "--max-time",
        "10",
        "-T",
        "hello.txt",
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Content-Length: 13",
        &format!("http://127.0.0.1:{port}/new.txt"),
    ]);
    let out = run(c, None, Duration::from_secs(15));
    let got = stdout(&out);
    assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
    assert!(got.contains("\r\nconnection: close\r\n"), "{got}");
    let body = "400 Bad Request: the request has both Content-Length and Transfer-Encoding, so its length is ambiguous (RFC 9112 §6.3); send only one of them\n";
    assert!(got.ends_with(&format!("\r\n\r\n{body}")), "{got}");
    assert!(!d.path().join("new.txt").exists(), "nothing is written");
    let line = p.line(Pipe::Stderr, "\"PUT /new.txt HTTP/1.1\"");
    assert!(line.contains(&format!("\" 400 {} ", body.len())), "{line}");
    // Content-Length first, from Python's http.client: the same answer.
    python_ok(&format!(
        r#"
import http.client
c = http.client.HTTPConnection("127.0.0.1", {port}, timeout=10)
c.putrequest("PUT", "/other.txt")
c.putheader("Content-Length", "4")
c.putheader("Transfer-Encoding", "chunked")
c.endheaders()
c.send(b"0\r\n\r\n")
r = c.getresponse()
assert r.status == 400, r.status
assert b"both Content-Length and Transfer-Encoding" in r.read()
assert r.getheader("connection") == "close"
print("ok")
"#
    ));
    assert!(!d.path().join("other.txt").exists(), "nothing is written");
    // One of the two alone still uploads.
    let mut c = Command::new("curl");
    c.current_dir(d.path()).args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
        "-T",
        "hello.txt",
        "-H",
        "Transfer-Encoding: chunked",
        &format!("http://127.0.0.1:{port}/chunked.txt"),
    ]);
    let out = run(c, None, Duration::from_secs(15));
    assert_eq!(stdout(&out), "201");
    assert_eq!(
        std::fs::read_to_string(d.path().join("chunked.txt")).expect("uploaded"),
        "hello, world\n"
    );
}

/// Issue 14: simple requests (GET/HEAD without a body) take the server's own
/// HTTP/1.1 path, the rest hyper's; on one connection, in one write, they are
/// answered in order with exact answers, a request for hyper (a POST with a
/// body) hands the connection over mid-pipeline, and `Connection: close` closes
/// it. A head split over two writes is still answered, a bare-LF head after a
/// simple request gets its 400, and every answer has its access-log line.
#[test]
fn serve_pipeline_mixes_simple_requests_and_hyper() {
    let d = site();
    let (p, port) = serve(&[], d.path(), &["--route", "POST /api/x {\"ok\": 1}"]);
    python_ok(&format!(
        r#"
import socket, time
def conn():
    s = socket.create_connection(("127.0.0.1", {port})); s.settimeout(5)
    return s
def read_all(s):
    got = b""
    while True:
        try:
            c = s.recv(65536)
        except socket.timeout:
            return got, False
        if not c:
            return got, True
        got += c
def answers(got, heads):
    out = []
    for is_head in heads:
        head, _, got = got.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        fields = dict(l.lower().split(b": ", 1) for l in lines[1:])
        n = 0 if is_head else int(fields[b"content-length"])
        out.append((lines[0], fields, got[:n]))
        got = got[n:]
    assert got == b"", ("more than the answers", got)
    return out
H = b"Host: localhost\r\n"
s = conn()
s.sendall(b"GET /hello.txt HTTP/1.1\r\n" + H + b"\r\n"
          + b"HEAD /hello.txt HTTP/1.1\r\n" + H + b"\r\n"
          + b"POST /api/x HTTP/1.1\r\n" + H + b"Content-Length: 2\r\n\r\nhi"
          + b"GET /hello.txt HTTP/1.1\r\n" + H + b"\r\n"
          + b"GET /nothing HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
          + b"GET /hello.txt HTTP/1.1\r\n" + H + b"\r\n")
got, closed = read_all(s)
assert closed, "Connection: close must close"
a = answers(got, [False, True, False, False, False])
assert [x[0] for x in a] == [b"HTTP/1.1 200 OK"] * 4 + [b"HTTP/1.1 404 Not Found"], a
assert a[0][2] == b"hello, world\n" and a[3][2] == b"hello, world\n", a
assert a[1][1][b"content-length"] == b"13" and a[1][2] == b"", a
assert a[2][2] == b'{{"ok": 1}}', a
assert a[4][1][b"connection"] == b"close", a
assert all(b"date" in x[1] for x in a), a
# A head in two writes, then a bare-LF head behind a simple one.
s = conn()
s.sendall(b"GET /hello.txt HTTP/1.1\r\nHo")
time.sleep(0.3)
s.sendall(b"st: localhost\r\n\r\n")
head = s.recv(4096)
assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\nhello, world\n"), head
s.sendall(b"GET /hello.txt HTTP/1.1\r\n" + H + b"\r\nGET /hello.txt HTTP/1.1\nHost: localhost\n\n")
got, closed = read_all(s)
assert closed and got.count(b"HTTP/1.1 ") == 2, got
assert got.startswith(b"HTTP/1.1 200 OK\r\n"), got
assert got[got.index(b"hello, world\n"):].startswith(b"hello, world\nHTTP/1.1 400 Bad Request\r\n"), got
print("ok")
"#
    ));
    p.line(Pipe::Stderr, "\"HEAD /hello.txt HTTP/1.1\" 200 0 ");
    p.line(Pipe::Stderr, "\"POST /api/x HTTP/1.1\" 200 9 ");
    p.line(Pipe::Stderr, "\"GET /nothing HTTP/1.1\" 404 ");
    p.line(Pipe::Stderr, "\"GET /hello.txt HTTP/1.1\" 400 0 ");
}

/// Issue 14: a mock route's header fields (with `--cors` and `--header`) are made
/// once, and the server's own HTTP/1.1 path copies them: its answers to GET, HEAD
/// and `Connection: close` are byte for byte hyper's (a request with
/// `Content-Length: 0` goes to hyper) but for a current `date`, a route of a
/// routes file keeps its own fields, a template route fills its body, and every
/// answer has its access-log line; over h2c the fields are the same.
#[test]
fn serve_route_answers_match_hyper() {
    let d = site();
    std::fs::write(
        d.path().join("routes.json"),
        r#"[{"path": "/file", "body": {"a": 1}, "headers": {"X-Route": "yes"}}]"#,
    )
    .expect("write");
    let routes = d.path().join("routes.json");
    let (p, port) = serve(
        &[],
        d.path(),
        &[
            "--route",
            r#"GET /api/data {"message": "Hello, World!"}"#,
            "--route",
            r#"GET /u/:id {"id": "{{id}}"}"#,
            "--routes",
            routes.to_str().expect("utf-8 temp path"),
            "--cors",
            "--header",
            "X-Extra: 1",
        ],
    );
    python_ok(&format!(
        r#"
import socket, re, time, email.utils
def ask(req):
    s = socket.create_connection(("127.0.0.1", {port})); s.settimeout(5)
    s.sendall(req)
    got = b""
    while True:
        try:
            c = s.recv(65536)
        except socket.timeout:
            break
        if not c:
            break
        got += c
        if not req.startswith(b"HEAD") and b"\r\n\r\n" in got:
            head, _, body = got.partition(b"\r\n\r\n")
            n = int(re.search(rb"content-length: (\d+)", head).group(1))
            if len(body) >= n and b"connection: close" not in head:
                break
        if req.startswith(b"HEAD") and got.endswith(b"\r\n\r\n") and b"connection: close" not in got:
            break
    s.close()
    m = re.search(rb"\r\ndate: ([^\r]*)\r\n", got)
    assert m, got
    when = email.utils.parsedate_to_datetime(m.group(1).decode()).timestamp()
    assert abs(when - time.time()) < 5, m.group(1)
    return got[:m.start()] + b"\r\ndate: D\r\n" + got[m.end():]
H = b"Host: localhost\r\n"
def both(line, extra=b""):
    fast = ask(line + H + extra + b"\r\n")
    hyper = ask(line + H + extra + b"Content-Length: 0\r\n\r\n")
    assert fast == hyper, (fast, hyper)
    return fast
common = b"access-control-allow-origin: *\r\naccess-control-expose-headers: *\r\nx-extra: 1\r\n"
data = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 28\r\n" + common
body = b'{{"message": "Hello, World!"}}'
got = both(b"GET /api/data HTTP/1.1\r\n")
assert got == data + b"date: D\r\n\r\n" + body, got
got = both(b"HEAD /api/data HTTP/1.1\r\n")
assert got == data + b"date: D\r\n\r\n", got
got = both(b"GET /api/data HTTP/1.1\r\n", b"Connection: close\r\n")
assert got == data + b"connection: close\r\ndate: D\r\n\r\n" + body, got
got = both(b"GET /file HTTP/1.1\r\n")
assert got.startswith(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 7\r\nx-route: yes\r\n" + common), got
assert got.endswith(b'\r\n\r\n{{"a":1}}'), got
got = both(b"GET /u/a%22b HTTP/1.1\r\n")
assert got.startswith(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 14\r\n" + common), got
assert got.endswith(b'\r\n\r\n{{"id": "a\\"b"}}'), got
print("ok")
"#
    ));
    p.line(Pipe::Stderr, "\"GET /api/data HTTP/1.1\" 200 28 ");
    p.line(Pipe::Stderr, "\"HEAD /api/data HTTP/1.1\" 200 0 ");
    p.line(Pipe::Stderr, "\"GET /file HTTP/1.1\" 200 7 ");
    // Over h2c (hyper's path), the same fields in the map.
    let mut c = Command::new("curl");
    c.args([
        "-s",
        "-i",
        "--max-time",
        "10",
        "--http2-prior-knowledge",
        "-H",
        "Host: localhost",
        &format!("http://127.0.0.1:{port}/api/data"),
    ]);
    let got = stdout(&run(c, None, Duration::from_secs(15)));
    let want = "HTTP/2 200 \r\ncontent-type: application/json\r\ncontent-length: 28\r\naccess-control-allow-origin: *\r\naccess-control-expose-headers: *\r\nx-extra: 1\r\ndate: ";
    assert!(got.starts_with(want), "{got}");
    assert!(
        got.ends_with("\r\n\r\n{\"message\": \"Hello, World!\"}"),
        "{got}"
    );
}

/// Issue 14 item 4: a connection's HTTP/2 streams are polled by the connection's
/// own task, each still on its own. Over h2c and TLS: a 1 MiB file stalled by its
/// stream window and a `/delay/2` answer in flight do not hold up twenty small
/// answers on the same connection; the client's RST_STREAM of the delayed stream
/// leaves the others going; the stalled file finishes byte for byte once its
/// window opens; and SIGTERM sends GOAWAY while a stream is in flight, which
/// still gets its whole answer before the connection closes.
#[test]
fn serve_h2_streams_progress_on_their_own() {
    let d = site();
    let big: Vec<u8> = (0..1_048_576u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(d.path().join("big.bin"), &big).expect("write");
    let (_h2c, h2c_port) = serve(&[], d.path(), &["--httpbin"]);
    let (_tls, tls_port) = serve(&[], d.path(), &["--httpbin", "--tls"]);
    let (stop, stop_port) = serve(&[], d.path(), &["--httpbin"]);
    let stop_pid = stop.pid();
    let py = format!(
        r#"{H2_CLIENT}
import os, signal
def pump(s, c, want, bodies, status, ended, ack=()):
    # Read until every stream in `want` has ended; DATA acknowledged only for `ack`.
    while not want <= ended:
        data = s.recv(65536)
        assert data, ("closed", want - ended)
        for e in c.receive_data(data):
            if isinstance(e, h2.events.ResponseReceived):
                status[e.stream_id] = dict(e.headers)[":status"]
            if isinstance(e, h2.events.DataReceived):
                bodies[e.stream_id] = bodies.get(e.stream_id, b"") + e.data
                if e.stream_id in ack:
                    c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                else:
                    # The connection's window stays open; the stream's does not.
                    c.increment_flow_control_window(e.flow_controlled_length)
            if isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)):
                ended.add(e.stream_id)
        s.sendall(c.data_to_send())
big = bytes((i * 7 % 251) for i in range(1048576))
for port, tls in (({h2c_port}, False), ({tls_port}, True)):
    s, c = connect(port, tls)
    bodies, status, ended = {{}}, {{}}, set()
    c.send_headers(1, head("/big.bin"), end_stream=True)
    c.send_headers(3, head("/delay/2"), end_stream=True)
    small = list(range(5, 45, 2))
    for sid in small:
        c.send_headers(sid, head("/hello.txt"), end_stream=True)
    s.sendall(c.data_to_send())
    t0 = time.monotonic()
    pump(s, c, set(small), bodies, status, ended)
    took = time.monotonic() - t0
    assert took < 1.5, (tls, "small answers took %.2f s" % took)
    for sid in small:
        assert status[sid] == "200" and bodies[sid] == b"hello, world\n", (tls, sid, status.get(sid), bodies.get(sid))
    assert 1 not in ended and 3 not in ended, (tls, ended)
    assert len(bodies.get(1, b"")) == 65535, (tls, len(bodies.get(1, b"")))
    c.reset_stream(3)
    c.send_headers(45, head("/hello.txt"), end_stream=True)
    s.sendall(c.data_to_send())
    pump(s, c, {{45}}, bodies, status, ended)
    assert bodies[45] == b"hello, world\n", (tls, bodies[45])
    # Open the big stream's window: it goes on from where it stopped.
    c.increment_flow_control_window(len(big), stream_id=1)
    s.sendall(c.data_to_send())
    pump(s, c, {{1}}, bodies, status, ended, ack=(1,))
    assert status[1] == "200" and bodies[1] == big, (tls, status[1], len(bodies[1]))
    assert 3 not in bodies, (tls, "the reset stream answered", bodies.get(3))
    s.close()
s, c = connect({stop_port}, False)
bodies, status, ended = {{}}, {{}}, set()
request(s, c, 1, head("/hello.txt"))
c.send_headers(3, head("/delay/1"), end_stream=True)
s.sendall(c.data_to_send())
time.sleep(0.3)
os.kill({stop_pid}, signal.SIGTERM)
# Python h2 takes no frame after a GOAWAY: read the rest as raw frames.
import hyperframe.frame as hf
buf = b""
goaways, body, got = [], b"", set()
while True:
    while len(buf) >= 9:
        f, n = hf.Frame.parse_frame_header(memoryview(buf[:9]))
        if len(buf) < 9 + n:
            break
        f.parse_body(memoryview(buf[9:9 + n]))
        buf = buf[9 + n:]
        if isinstance(f, hf.GoAwayFrame):
            goaways.append(f.error_code)
        if isinstance(f, hf.PingFrame) and "ACK" not in f.flags:
            s.sendall(hf.PingFrame(0, opaque_data=f.opaque_data, flags=["ACK"]).serialize())
        if isinstance(f, hf.HeadersFrame) and f.stream_id == 3:
            status[3] = dict(c.decoder.decode(f.data, raw=False))[":status"]
        if isinstance(f, hf.DataFrame) and f.stream_id == 3:
            body += f.data
            if "END_STREAM" in f.flags:
                got.add(3)
    data = s.recv(65536)
    if not data:
        break
    buf += data
assert goaways and set(goaways) == {{0}}, goaways
assert 3 in got and status.get(3) == "200" and body.startswith(b"{{"), (got, status, body)
print("ok")
"#
    );
    python_ok(&py);
    let out = stop.wait(Duration::from_secs(15));
    assert!(out.status.success(), "{out:?}");
}
