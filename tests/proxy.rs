//! `wirekit proxy` against real peers: Python sockets and requests, curl, and
//! `wirekit serve` / `tcp listen` as upstreams.

use crate::util::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

/// `wirekit proxy 127.0.0.1:0 127.0.0.1:UPSTREAM ARGS...`: the proxy and its port.
fn proxy(upstream: u16, args: &[&str]) -> (Proc, u16) {
    let up = format!("127.0.0.1:{upstream}");
    let mut all = vec!["proxy", "127.0.0.1:0", up.as_str()];
    all.extend_from_slice(args);
    Proc::server(&all)
}

/// An echo server for many clients.
fn echo() -> (Proc, u16) {
    Proc::server(&["tcp", "listen", "127.0.0.1:0", "-k", "--echo"])
}

/// A Python server that prints `listening on 127.0.0.1:PORT`, then runs
/// `handle(c)` for each client on a thread of its own.
fn python_upstream(handle: &str) -> (Proc, u16) {
    let code = format!(
        r#"
import socket, threading, struct, os, sys, time
{handle}
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0)); s.listen(16)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-u", "-c", &code]);
    let p = Proc::start(cmd);
    let port = p.port_after(Pipe::Stdout, "listening on ");
    (p, port)
}

/// `wirekit serve -q` (and `extra`) of a new folder holding `files`, on a free port.
fn serve_files(files: &[(&str, &[u8])], extra: &[&str]) -> (tempfile::TempDir, Proc, u16) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).expect("write");
    }
    let mut args = vec![
        "serve",
        dir.path().to_str().expect("utf-8"),
        "-p",
        "0",
        "-q",
    ];
    args.extend_from_slice(extra);
    let (p, port) = Proc::server(&args);
    (dir, p, port)
}

/// The curl command, bounded by its own --max-time.
fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-s", "--max-time", "20"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run curl")
}

// The full 256 MiB each way: about 3 s in a debug build on 2 shared cores.
#[test]
fn relays_random_bytes_both_ways_with_half_close() {
    // Both sides send SIZE random bytes in random chunk sizes at the same time,
    // then half-close; each reads to EOF. The SHA-256 of what each side sent
    // must be what the other received.
    const SIZE: usize = 256 << 20;
    let (server, up) = python_upstream(&format!(
        r#"
import hashlib, random
def handle(c):
    got = hashlib.sha256()
    def reader():
        while True:
            d = c.recv(1 << 20)
            if not d: break
            got.update(d)
    t = threading.Thread(target=reader); t.start()
    rng = random.Random(2); sent = hashlib.sha256(); left = {SIZE}
    while left:
        n = min(left, rng.randint(1, 200000)); d = os.urandom(n)
        c.sendall(d); sent.update(d); left -= n
    c.shutdown(socket.SHUT_WR)
    t.join()
    print("server sent", sent.hexdigest(), "received", got.hexdigest(), flush=True)
    c.close()
"#
    ));
    let (_proxy, port) = proxy(up, &[]);
    let client = python(
        &format!(
            r#"
import socket, os, random, hashlib, threading
c = socket.create_connection(('127.0.0.1', {port}))
got = hashlib.sha256()
def reader():
    while True:
        d = c.recv(1 << 20)
        if not d: break
        got.update(d)
t = threading.Thread(target=reader); t.start()
rng = random.Random(1); sent = hashlib.sha256(); left = {SIZE}
while left:
    n = min(left, rng.randint(1, 200000)); d = os.urandom(n)
    c.sendall(d); sent.update(d); left -= n
c.shutdown(socket.SHUT_WR)
t.join()
print("client sent", sent.hexdigest(), "received", got.hexdigest())
"#
        ),
        Duration::from_secs(300),
    );
    let line = stdout(&client);
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 5, "client: {line} {}", stderr(&client));
    let server_line = server.line(Pipe::Stdout, "server sent");
    let theirs: Vec<&str> = server_line.split_whitespace().collect();
    assert_eq!(words[2], theirs[4], "client to server bytes differ");
    assert_eq!(words[4], theirs[2], "server to client bytes differ");
}

/// The kernel buffers (`ss -tm`'s rb and tb) of the established sockets `filter` selects.
fn socket_buffers(filter: &str) -> Vec<String> {
    let out = Command::new("ss")
        .args(["-tmnH", "state", "established", filter])
        .output()
        .expect("ss runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split("skmem:(")
        .skip(1)
        .map(|m| {
            m.split(',')
                .filter(|f| f.starts_with("rb") || f.starts_with("tb"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

#[test]
fn sockets_to_local_peers_get_fixed_256k_buffers() {
    let (_echo, up) = echo();
    let (_px, port) = proxy(up, &[]);
    // Hold a connection open (after one echo, so the fast path has begun) while ss looks.
    let mut py = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import socket, sys\ns = socket.create_connection(('127.0.0.1', {port}))\n\
                 s.sendall(b'x'); assert s.recv(1) == b'x'\nprint('ok', flush=True); sys.stdin.read()"
            ),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(py.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("python answers");
    assert_eq!(line.trim(), "ok");
    // The kernel doubles SO_RCVBUF / SO_SNDBUF: 256 KiB reads 512 KiB.
    let want = vec!["rb524288,tb524288".to_string()];
    assert_eq!(
        socket_buffers(&format!("sport = :{port}")),
        want,
        "the client leg"
    );
    assert_eq!(
        socket_buffers(&format!("dport = :{up}")),
        want,
        "the upstream leg"
    );
    drop(py.stdin.take());
    let _ = py.wait();
}

#[test]
fn a_reset_from_the_client_reaches_the_server_as_a_reset() {
    let (server, up) = python_upstream(
        r#"
def handle(c):
    try:
        while c.recv(65536): pass
        print("eof", flush=True)
    except ConnectionResetError:
        print("ECONNRESET", flush=True)
"#,
    );
    let (mut px, port) = proxy(up, &[]);
    let out = python(
        &format!(
            r#"
import socket, struct, time
s = socket.create_connection(('127.0.0.1', {port}))
s.sendall(b"partial")
time.sleep(0.2)  # let the upstream connection be made before the reset
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
print("ok")
"#
        ),
        T,
    );
    assert_eq!(stdout(&out).trim(), "ok", "{}", stderr(&out));
    assert_eq!(server.line(Pipe::Stdout, "E").trim(), "ECONNRESET");
    assert!(px.alive());
}

#[test]
fn a_reset_from_the_server_reaches_the_client_as_a_reset() {
    let (_server, up) = python_upstream(
        r#"
def handle(c):
    c.recv(100)
    c.sendall(b"some answer")
    time.sleep(0.2)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    c.close()
"#,
    );
    let (mut px, port) = proxy(up, &[]);
    let out = python(
        &format!(
            r#"
import socket
s = socket.create_connection(('127.0.0.1', {port}))
s.sendall(b"hello")
got = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            print("eof after", got); break
        got += d
except ConnectionResetError:
    print("ECONNRESET after", got)
"#
        ),
        T,
    );
    assert_eq!(
        stdout(&out).trim(),
        "ECONNRESET after b'some answer'",
        "{}",
        stderr(&out)
    );
    assert!(px.alive());
}

/// Python: connect to `port`, send `hello`, and print what came back: the
/// bytes, then `eof`, or `ECONNRESET` (also for EPIPE or ENOTCONN: a reset
/// that came in before the probe's own send or shutdown).
fn probe(port: u16) -> String {
    let out = python(
        &format!(
            r#"
import socket, errno
s = socket.create_connection(('127.0.0.1', {port}))
got = b""
try:
    s.sendall(b"hello")
    s.shutdown(socket.SHUT_WR)
    while True:
        d = s.recv(65536)
        if not d:
            print(got.decode(), "eof"); break
        got += d
except (ConnectionResetError, BrokenPipeError):
    # EPIPE: the reset came in before our own send.
    print(got.decode(), "ECONNRESET")
except OSError as e:
    # ENOTCONN from shutdown: the connection was reset before it.
    print(got.decode(), "ECONNRESET" if e.errno == errno.ENOTCONN else repr(e))
"#
        ),
        T,
    );
    stdout(&out).trim().to_string()
}

#[test]
fn a_refused_upstream_resets_the_client_and_the_proxy_stays_up() {
    let closed = free_port();
    let (mut px, port) = proxy(closed, &[]);
    assert_eq!(probe(port), "ECONNRESET");
    let log = px.line(Pipe::Stderr, "refused");
    assert!(
        log.contains(&format!("connection to 127.0.0.1:{closed} refused"))
            && log.contains("reset the client"),
        "{log}"
    );
    // Once something listens there, the next client goes through.
    let listener = std::net::TcpListener::bind(("127.0.0.1", closed)).expect("bind the port");
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut c, _) = listener.accept().expect("accept");
        let mut got = Vec::new();
        c.read_to_end(&mut got).expect("read");
        c.write_all(&got).expect("write");
    });
    assert_eq!(probe(port), "hello eof");
    server.join().expect("server thread");
    assert!(px.alive());
}

#[test]
fn json_events_count_bytes_each_way_and_name_the_toxics() {
    let (_up, up) = echo();
    let (px, port) = proxy(up, &["--json", "--toxic", "latency:latency=10"]);
    assert_eq!(probe(port), "hello eof");
    let line = px.line(Pipe::Stdout, "\"close\"");
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    assert_eq!(v["event"], "close");
    assert_eq!(v["received"], 5);
    assert_eq!(v["sent"], 5);
    assert_eq!(v["upstream_sent"], 5);
    assert_eq!(v["upstream_received"], 5);
    assert_eq!(v["toxics"], serde_json::json!(["latency_downstream"]));
    assert_eq!(v["upstream"], format!("127.0.0.1:{up}"));
    assert!(v["duration_ms"].as_f64().unwrap_or(0.0) >= 10.0, "{line}");
    let open = px.line(Pipe::Stdout, "\"open\"");
    assert!(open.contains("\"id\":1"), "{open}");
}

#[test]
fn hex_dump_shows_both_legs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("dump.txt");
    let (_up, up) = echo();
    let (px, port) = proxy(up, &["--hex-dump", dump.to_str().expect("utf-8")]);
    assert_eq!(probe(port), "hello eof");
    drop(px);
    let text = std::fs::read_to_string(&dump).expect("dump");
    // From the client, to the upstream, back from the upstream, to the client.
    assert!(
        text.contains(&format!("> 127.0.0.1:{up} offset=0 length=5")),
        "{text}"
    );
    assert!(
        text.contains(&format!("< 127.0.0.1:{up} offset=0 length=5")),
        "{text}"
    );
    assert_eq!(text.matches("|hello|").count(), 4, "{text}");
}

#[test]
fn bad_toxic_specs_exit_2_naming_the_culprit() {
    let cases = [
        (
            "lag:latency=1",
            "unknown toxic type 'lag'; valid types: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data",
        ),
        (
            "latency:rate=5",
            "toxic latency has no attribute 'rate'; valid: latency, jitter",
        ),
        (
            "latency:stream=sideways",
            "unknown stream 'sideways'; valid streams: upstream",
        ),
        ("reset_peer:toxicity=1.5", "toxicity '1.5' is out of range"),
        (
            "bandwidth:rate=-1",
            "bandwidth rate='-1' is not a whole number from 0 up (in KB/s)",
        ),
    ];
    for (spec, want) in cases {
        let out = run(
            wirekit(&["proxy", "127.0.0.1:0", "127.0.0.1:1", "--toxic", spec]),
            None,
            T,
        );
        assert_eq!(code(&out), 2, "{spec}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{spec}: {}", stderr(&out));
    }
}

/// curl's `time_total` for `url`, in seconds.
fn curl_time(url: &str) -> f64 {
    let out = curl(&["-o", "/dev/null", "-w", "%{time_total}", url]);
    assert!(out.status.success(), "curl {url} failed");
    stdout(&out).trim().parse().expect("time_total")
}

#[test]
fn latency_adds_200_to_300_ms_to_a_curl_request() {
    let (_dir, _serve, up) = serve_files(&[("a.txt", b"hello\n")], &[]);
    let (_px, port) = proxy(up, &["--toxic", "latency:latency=200"]);
    let direct = curl_time(&format!("http://127.0.0.1:{up}/a.txt"));
    let through = curl_time(&format!("http://127.0.0.1:{port}/a.txt"));
    let added = through - direct;
    assert!((0.2..0.3).contains(&added), "latency added {added:.3} s");
}

#[test]
fn bandwidth_holds_a_download_within_20_percent_of_the_rate() {
    let (_dir, _serve, up) = serve_files(&[("big.bin", &[7u8; 300_000])], &[]);
    let (_px, port) = proxy(up, &["--toxic", "bandwidth:rate=100"]);
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{size_download} %{speed_download}",
        &format!("http://127.0.0.1:{port}/big.bin"),
    ]);
    let text = stdout(&out);
    let mut words = text.split_whitespace();
    assert_eq!(words.next(), Some("300000"), "{text}");
    let speed: f64 = words.next().and_then(|w| w.parse().ok()).expect("speed");
    assert!((80_000.0..=120_000.0).contains(&speed), "{speed} bytes/s");
}

#[test]
fn timeout_makes_requests_raise_its_timeout_error() {
    let (_dir, _serve, up) = serve_files(&[], &[]);
    let (_px, port) = proxy(up, &["--toxic", "timeout:timeout=0"]);
    python_ok(&format!(
        r#"
import requests, time
t = time.time()
try:
    requests.get("http://127.0.0.1:{port}/", timeout=1)
    print("answered")
except requests.exceptions.Timeout:
    assert 0.9 < time.time() - t < 3
    print("ok")
"#
    ));
}

#[test]
fn reset_peer_makes_the_client_see_econnreset() {
    let (_up, up) = echo();
    let (_px, port) = proxy(up, &["--toxic", "reset_peer:timeout=100"]);
    assert_eq!(probe(port), "ECONNRESET");
}

#[test]
fn limit_data_delivers_exactly_n_bytes() {
    let (_server, up) = python_upstream(
        r#"
def handle(c):
    c.recv(100)
    c.sendall(os.urandom(100000))
    time.sleep(1)
    c.close()
"#,
    );
    let (_px, port) = proxy(up, &["--toxic", "limit_data:bytes=1234"]);
    python_ok(&format!(
        r#"
import socket
s = socket.create_connection(('127.0.0.1', {port}))
s.sendall(b"go")
got = 0
while True:
    d = s.recv(65536)
    if not d: break
    got += len(d)
assert got == 1234, got
print("ok")
"#
    ));
}

#[test]
fn slicer_makes_a_receiver_see_many_small_reads() {
    let (_server, up) = python_upstream(
        r#"
def handle(c):
    c.recv(100)
    c.sendall(b"x" * 10000)
    c.close()
"#,
    );
    let (_px, port) = proxy(
        up,
        &[
            "--toxic",
            "slicer:average_size=100,size_variation=50,delay=2000",
        ],
    );
    python_ok(&format!(
        r#"
import socket
s = socket.create_connection(('127.0.0.1', {port}))
s.sendall(b"go")
reads = []
while True:
    d = s.recv(65536)
    if not d: break
    reads.append(len(d))
assert sum(reads) == 10000, sum(reads)
assert len(reads) >= 40, reads
# A busy receiver may take two pieces in one read now and then; most are one piece.
assert sorted(reads)[len(reads) // 2] <= 150, reads
print("ok")
"#
    ));
}

#[test]
fn toxicity_0_never_acts_and_1_always_does() {
    let (_up, up) = echo();
    let (_never, p0) = proxy(up, &["--toxic", "reset_peer:toxicity=0"]);
    let (_always, p1) = proxy(up, &["--toxic", "reset_peer:toxicity=1"]);
    for _ in 0..5 {
        assert_eq!(probe(p0), "hello eof");
        assert_eq!(probe(p1), "ECONNRESET");
    }
}

#[test]
fn seed_makes_toxicity_choices_repeat() {
    let (_up, up) = echo();
    let outcomes = || {
        let (_px, port) = proxy(up, &["--seed", "42", "--toxic", "reset_peer:toxicity=0.5"]);
        (0..12).map(|_| probe(port)).collect::<Vec<String>>()
    };
    let first = outcomes();
    let reset = first.iter().filter(|o| *o == "ECONNRESET").count();
    assert!(reset > 0 && reset < 12, "{first:?}");
    assert_eq!(outcomes(), first);
}

#[test]
fn upstream_toxics_act_on_the_client_to_server_stream() {
    // limit_data on the upstream stream: the server gets exactly 3 bytes of "hello".
    let (server, up) = python_upstream(
        r#"
def handle(c):
    got = b""
    while True:
        d = c.recv(100)
        if not d: break
        got += d
    print("server got", got, flush=True)
"#,
    );
    let (_px, port) = proxy(up, &["--toxic", "limit_data:bytes=3,stream=upstream"]);
    let _ = probe(port);
    assert_eq!(
        server.line(Pipe::Stdout, "server got").trim(),
        "server got b'hel'"
    );
}

#[test]
fn config_runs_several_proxies_and_a_disabled_one_refuses() {
    let (_up, up) = echo();
    let dir = tempfile::tempdir().expect("tempdir");
    let off = free_port();
    let file = dir.path().join("proxies.json");
    std::fs::write(
        &file,
        format!(
            r#"[
  {{"name": "plain", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:{up}"}},
  {{"name": "broken", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:{up}", "enabled": true,
    "toxics": [{{"type": "reset_peer", "attributes": {{"timeout": 0}}}}]}},
  {{"name": "down", "listen": "127.0.0.1:{off}", "upstream": "127.0.0.1:{up}", "enabled": false}}
]"#
        ),
    )
    .expect("write config");
    let px = Proc::start(wirekit(&[
        "proxy",
        "--config",
        file.to_str().expect("utf-8"),
    ]));
    let plain = px.port_after(Pipe::Stderr, "proxy plain listening on ");
    let broken = px.port_after(Pipe::Stderr, "proxy broken listening on ");
    px.line(Pipe::Stderr, "proxy down is disabled");
    assert_eq!(probe(plain), "hello eof");
    assert_eq!(probe(broken), "ECONNRESET");
    let refused = std::net::TcpStream::connect(("127.0.0.1", off));
    assert_eq!(
        refused.map(|_| ()).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionRefused)
    );
}

#[test]
fn bad_config_exits_2_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("p.json");
    let cases = [
        (
            "[{\"name\": \"a\"}]",
            "proxy 1: proxy a: missing field upstream",
        ),
        ("{not json", "not valid JSON"),
        (
            "[{\"name\": \"a\", \"upstream\": \"127.0.0.1:1\", \"toxics\": [{\"type\": \"latency\", \"attributes\": {\"delay\": 1}}]}]",
            "toxic latency has no attribute 'delay'",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&file, text).expect("write");
        let out = run(
            wirekit(&["proxy", "--config", file.to_str().expect("utf-8")]),
            None,
            T,
        );
        assert_eq!(code(&out), 2, "{text}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{text}: {}", stderr(&out));
    }
}

/// Run a Node.js script with the globally installed packages on its path
/// (scripts/test-deps.sh installs toxiproxy-node-client there).
fn node(script: &str) -> std::process::Output {
    let root = Command::new("npm")
        .args(["root", "-g"])
        .output()
        .expect("npm (scripts/test-deps.sh installs it)");
    let mut cmd = Command::new("node");
    cmd.args(["-e", script])
        .env("NODE_PATH", String::from_utf8_lossy(&root.stdout).trim());
    run(cmd, None, T)
}

#[test]
fn toxiproxy_node_client_drives_the_api() {
    let (_up, up) = echo();
    let px = Proc::start(wirekit(&["proxy", "--api", "127.0.0.1:0"]));
    let api = px.port_after(Pipe::Stderr, "api listening on ");
    // One connection stays open throughout: toxics added, updated and removed
    // through the API act on it, as in Toxiproxy.
    let out = node(&format!(
        r#"
const {{ Toxiproxy }} = require("toxiproxy-node-client");
const net = require("net");
const t = new Toxiproxy("http://127.0.0.1:{api}");
function rtt(sock) {{
  return new Promise((resolve) => {{
    const start = Date.now();
    sock.once("data", () => resolve(Date.now() - start));
    sock.write("ping");
  }});
}}
async function status(p) {{ try {{ await p; return "ok"; }} catch (e) {{ return e.message; }} }}
(async () => {{
  const r = {{}};
  const proxy = await t.createProxy({{ name: "svc", listen: "127.0.0.1:0", upstream: "127.0.0.1:{up}" }});
  const port = Number(proxy.listen.split(":").pop());
  const sock = net.connect(port, "127.0.0.1");
  await new Promise((ok) => sock.once("connect", ok));
  r.plain = await rtt(sock);
  const toxic = await proxy.addToxic({{ type: "latency", stream: "downstream", toxicity: 1, attributes: {{ latency: 300 }} }});
  r.name = toxic.name;
  r.slow = await rtt(sock);
  const updated = await toxic.update({{ attributes: {{ latency: 600 }} }});
  r.updated_latency = updated.attributes.latency;
  r.slower = await rtt(sock);
  await toxic.remove();
  r.removed = await rtt(sock);
  await proxy.addToxic({{ type: "latency", attributes: {{ latency: 300 }} }});
  await t.reset();
  r.after_reset = await rtt(sock);
  r.toxics_after_reset = (await t.get("svc")).toJson();
  r.missing = await status(t.get("nope"));
  r.taken = await status(t.createProxy({{ name: "svc", listen: "127.0.0.1:0", upstream: "127.0.0.1:{up}" }}));
  r.bad = await status(proxy.addToxic({{ type: "lag", attributes: {{}} }}));
  r.version = await t.getVersion();
  sock.destroy();
  await proxy.remove();
  r.gone = Object.keys(await t.getAll()).length;
  console.log(JSON.stringify(r));
}})().catch((e) => {{ console.error(e); process.exit(1); }});
"#
    ));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    let ms = |k: &str| r[k].as_f64().unwrap_or(-1.0);
    assert!(ms("plain") < 150.0, "{r}");
    assert_eq!(r["name"], "latency_downstream");
    assert!((300.0..450.0).contains(&ms("slow")), "{r}");
    assert_eq!(r["updated_latency"], 600);
    assert!((600.0..750.0).contains(&ms("slower")), "{r}");
    assert!(ms("removed") < 150.0, "{r}");
    assert!(ms("after_reset") < 150.0, "{r}");
    assert_eq!(r["toxics_after_reset"]["enabled"], true);
    assert_eq!(r["missing"], "Request failed with status code 404");
    assert_eq!(r["taken"], "Request failed with status code 409");
    assert_eq!(r["bad"], "Request failed with status code 400");
    assert!(
        r["version"].as_str().unwrap_or("").contains("wirekit"),
        "{r}"
    );
    assert_eq!(r["gone"], 0);
}

/// `curl -X METHOD URL -d BODY`: the status code and the body.
fn api_call(method: &str, url: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let mut args = vec!["-X", method, "-w", "\n%{http_code}", url];
    if let Some(b) = body {
        args.extend(["-H", "Content-Type: application/json", "-d", b]);
    }
    let out = curl(&args);
    let text = stdout(&out);
    let (body, status) = text.rsplit_once('\n').expect("status line");
    let value = if body.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(body).expect("JSON body")
    };
    (status.trim().parse().expect("status"), value)
}

#[test]
fn api_answers_bad_requests_with_toxiproxy_codes_and_json_errors() {
    let (_up, up) = echo();
    let px = Proc::start(wirekit(&["proxy", "--api", "127.0.0.1:0"]));
    let api = px.port_after(Pipe::Stderr, "api listening on ");
    let url = |p: &str| format!("http://127.0.0.1:{api}{p}");
    let create =
        format!(r#"{{"name": "db", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:{up}"}}"#);
    let (status, v) = api_call("POST", &url("/proxies"), Some(&create));
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["enabled"], true);
    assert_eq!(v["toxics"], serde_json::json!([]));
    assert_eq!(api_call("POST", &url("/proxies"), Some(&create)).0, 409);
    let (status, v) = api_call("POST", &url("/proxies"), Some("{not json"));
    assert_eq!(status, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("bad request body"),
        "{v}"
    );
    assert_eq!(v["status"], 400);
    let (status, v) = api_call("POST", &url("/proxies"), Some(r#"{"name": "x"}"#));
    assert_eq!(status, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("missing required field"),
        "{v}"
    );
    assert_eq!(api_call("GET", &url("/proxies/nope"), None).0, 404);
    assert_eq!(api_call("DELETE", &url("/proxies/nope"), None).0, 404);
    assert_eq!(
        api_call("GET", &url("/proxies/db/toxics/nope"), None).0,
        404
    );
    let cases = [
        (
            r#"{"type": "latency", "attributes": {"latency": -1}}"#,
            "not a whole number",
        ),
        (
            r#"{"type": "latency", "stream": "sideways"}"#,
            "valid streams: upstream",
        ),
        (
            r#"{"type": "latency", "attributes": {"rate": 1}}"#,
            "valid: latency, jitter",
        ),
        (r#"{"type": "latency", "toxicity": 3}"#, "from 0 to 1"),
    ];
    for (body, want) in cases {
        let (status, v) = api_call("POST", &url("/proxies/db/toxics"), Some(body));
        assert_eq!(status, 400, "{body}: {v}");
        assert!(
            v["error"].as_str().unwrap_or("").contains(want),
            "{body}: {v}"
        );
    }
    let toxic = r#"{"type": "slow_close", "name": "sc", "attributes": {"delay": 10}}"#;
    let (status, v) = api_call("POST", &url("/proxies/db/toxics"), Some(toxic));
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        serde_json::json!({"name": "sc", "type": "slow_close", "stream": "downstream",
                           "toxicity": 1.0, "attributes": {"delay": 10}})
    );
    assert_eq!(
        api_call("POST", &url("/proxies/db/toxics"), Some(toxic)).0,
        409
    );
    assert_eq!(
        api_call("POST", &url("/proxies/nope/toxics"), Some(toxic)).0,
        404
    );
    // Disabled: the port refuses; enabled again: it relays, toxics kept.
    let (_, v) = api_call("GET", &url("/proxies/db"), None);
    let port: u16 = v["listen"]
        .as_str()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .expect("port");
    let (status, v) = api_call("PATCH", &url("/proxies/db"), Some(r#"{"enabled": false}"#));
    assert_eq!(
        (status, v["enabled"].clone()),
        (200, serde_json::json!(false))
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    let (status, v) = api_call("POST", &url("/proxies/db"), Some(r#"{"enabled": true}"#));
    assert_eq!(status, 200, "{v}");
    let port: u16 = v["listen"]
        .as_str()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .expect("port");
    assert_eq!(probe(port), "hello eof");
    assert_eq!(v["toxics"][0]["name"], "sc");
    assert_eq!(
        api_call("DELETE", &url("/proxies/db/toxics/sc"), None).0,
        204
    );
    assert_eq!(api_call("POST", &url("/reset"), None).0, 204);
    let (status, v) = api_call(
        "POST",
        &url("/populate"),
        Some(&format!(
            r#"[{{"name": "p2", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:{up}"}}]"#
        )),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["proxies"][0]["name"], "p2");
    assert_eq!(api_call("DELETE", &url("/proxies/db"), None).0, 204);
}

/// Run tshark (or capinfos) and return stdout, checking it printed no warning
/// (beyond the note that it runs as root).
fn tshark(program: &str, args: &[&str]) -> String {
    let out = run(
        {
            let mut c = Command::new(program);
            c.args(args);
            c
        },
        None,
        T,
    );
    assert_eq!(code(&out), 0, "{program} {args:?}: {}", stderr(&out));
    let warnings: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| !l.contains("Running as user \"root\"") && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    assert!(warnings.is_empty(), "{program} warned: {warnings:?}");
    stdout(&out)
}

/// The bytes each side sent in TCP stream `n`, from `tshark -z follow,tcp,raw`:
/// (the side that connected, the side that accepted).
fn followed(file: &str, n: usize) -> (Vec<u8>, Vec<u8>) {
    let text = tshark(
        "tshark",
        &["-r", file, "-q", "-z", &format!("follow,tcp,raw,{n}")],
    );
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let body = text.split("Node 1:").nth(1).expect("follow output");
    for line in body.lines().skip(1) {
        if line.starts_with("====") {
            break;
        }
        let (into, hex) = match line.strip_prefix('\t') {
            Some(rest) => (&mut b, rest),
            None => (&mut a, line),
        };
        let hex = hex.trim();
        for i in (0..hex.len()).step_by(2) {
            into.push(u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"));
        }
    }
    (a, b)
}

#[test]
fn pcap_holds_both_legs_byte_exact_and_tshark_agrees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a_path, b_path) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
    let pcap = dir.path().join("cap.pcapng");
    let (_server, up) = python_upstream(&format!(
        r#"
def handle(c):
    while c.recv(65536): pass
    b = os.urandom(70001)
    open({b:?}, "wb").write(b)
    c.sendall(b)
    c.close()
"#,
        b = b_path.to_str().expect("utf-8")
    ));
    let (_px, port) = proxy(
        up,
        &[
            "--pcap",
            pcap.to_str().expect("utf-8"),
            "--toxic",
            "latency:latency=1",
        ],
    );
    python_ok(&format!(
        r#"
import socket, os
a = os.urandom(100003)
open({a:?}, "wb").write(a)
s = socket.create_connection(('127.0.0.1', {port}))
s.sendall(a)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    d = s.recv(65536)
    if not d: break
    got += d
assert got == open({b:?}, "rb").read()
print("ok")
"#,
        a = a_path.to_str().expect("utf-8"),
        b = b_path.to_str().expect("utf-8")
    ));
    let file = pcap.to_str().expect("utf-8");
    let (sent, received) = (
        std::fs::read(&a_path).expect("a"),
        std::fs::read(&b_path).expect("b"),
    );
    // Stream 0: client <-> proxy; stream 1: proxy <-> upstream.
    let (c, p) = followed(file, 0);
    assert!(
        c == sent && p == received,
        "client leg: {} / {} bytes",
        c.len(),
        p.len()
    );
    let (p, s) = followed(file, 1);
    assert!(
        p == sent && s == received,
        "upstream leg: {} / {} bytes",
        p.len(),
        s.len()
    );
    // Real ports, handshakes, FINs, MSS-sized segments and correct checksums.
    let fields = tshark(
        "tshark",
        &[
            "-r",
            file,
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
            "-e",
            "tcp.flags.str",
            "-e",
            "tcp.len",
            "-e",
            "tcp.checksum.status",
            "-e",
            "frame.interface_id",
            "-e",
            "ip.checksum.status",
        ],
    );
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('\t').collect()).collect();
    // 1 = good, for the TCP and the IPv4 header checksums.
    assert!(
        rows.iter().all(|r| r[4] == "1" && r[6] == "1"),
        "a checksum is not right: {fields}"
    );
    assert!(
        rows.iter()
            .all(|r| r[3].parse::<usize>().unwrap_or(9999) <= 1460),
        "{fields}"
    );
    let port_s = port.to_string();
    assert!(
        rows[0][1] == port_s && rows[0][2].contains('S') && rows[0][5] == "0",
        "{:?}",
        rows[0]
    );
    let up_s = up.to_string();
    assert!(
        rows.iter()
            .any(|r| r[1] == up_s && r[2].contains('S') && r[5] == "1"),
        "{fields}"
    );
    assert_eq!(
        rows.iter().filter(|r| r[2].contains('F')).count(),
        4,
        "{fields}"
    );
    let comments = tshark(
        "tshark",
        &[
            "-r",
            file,
            "-Y",
            "frame.comment",
            "-T",
            "fields",
            "-e",
            "frame.comment",
        ],
    );
    assert!(
        comments
            .lines()
            .all(|l| l == "wirekit toxics: latency_downstream")
            && !comments.is_empty(),
        "{comments}"
    );
    // capinfos counts the same packets.
    let info = tshark("capinfos", &["-c", "-M", file]);
    assert!(
        info.contains(&format!("Number of packets:   {}", rows.len())),
        "{info}\n{} rows",
        rows.len()
    );
}

#[test]
fn pcap_of_an_http_run_lists_its_requests() {
    let (dir, _serve, up) = serve_files(&[("a.txt", b"hello\n")], &[]);
    let pcap = dir.path().join("http.pcapng");
    let (px, port) = proxy(up, &["--pcap", pcap.to_str().expect("utf-8")]);
    for path in ["/a.txt", "/missing"] {
        assert!(
            curl(&["-o", "/dev/null", &format!("http://127.0.0.1:{port}{path}")])
                .status
                .success()
        );
    }
    drop(px);
    let text = tshark(
        "tshark",
        &[
            "-r",
            pcap.to_str().expect("utf-8"),
            "-d",
            &format!("tcp.port=={port},http"),
            "-d",
            &format!("tcp.port=={up},http"),
            "-Y",
            "http.request",
            "-T",
            "fields",
            "-e",
            "frame.interface_id",
            "-e",
            "http.request.uri",
        ],
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        ["0\t/a.txt", "1\t/a.txt", "0\t/missing", "1\t/missing"],
        "{text}"
    );
}

#[test]
fn pcap_dir_writes_one_file_per_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_up, up) = echo();
    let (px, port) = proxy(up, &["--pcap-dir", dir.path().to_str().expect("utf-8")]);
    assert_eq!(probe(port), "hello eof");
    assert_eq!(probe(port), "hello eof");
    drop(px);
    for id in [1, 2] {
        let file = dir.path().join(format!("proxy-{id}.pcapng"));
        let (c, p) = followed(file.to_str().expect("utf-8"), 0);
        assert_eq!((c.as_slice(), p.as_slice()), (&b"hello"[..], &b"hello"[..]));
    }
    let out = run(
        wirekit(&["proxy", ":0", ":1", "--pcap-dir", "/nonexistent/x"]),
        None,
        T,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--pcap-dir /nonexistent/x is not a folder"),
        "{}",
        stderr(&out)
    );
}

/// A self-signed certificate for localhost in `dir`: (cert, key) paths.
fn localhost_cert(dir: &std::path::Path) -> (String, String) {
    let out = run(
        wirekit(&[
            "cert",
            "new",
            "localhost",
            "--out",
            dir.to_str().expect("utf-8"),
        ]),
        None,
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let path = |f: &str| dir.join(f).to_str().expect("utf-8").to_string();
    (path("localhost.pem"), path("localhost-key.pem"))
}

#[test]
fn upstream_tls_leg_decrypts_in_tshark_from_the_embedded_keys_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = localhost_cert(dir.path());
    let pcap = dir.path().join("tls.pcapng");
    let (_server, up) = python_upstream(&format!(
        r#"
import ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain({cert:?}, {key:?})
def handle(c):
    t = ctx.wrap_socket(c, server_side=True)
    d = t.recv(1000)
    t.sendall(b"secret answer to " + d)
    t.close()
"#
    ));
    let (_px, port) = proxy(
        up,
        &[
            "--upstream-tls",
            "--cacert",
            &cert,
            "--sni",
            "localhost",
            "--pcap",
            pcap.to_str().expect("utf-8"),
        ],
    );
    python_ok(&format!(
        r#"
import socket
s = socket.create_connection(('127.0.0.1', {port}))
s.sendall(b"the question")
got = b""
while True:
    d = s.recv(1000)
    if not d: break
    got += d
assert got == b"secret answer to the question", got
print("ok")
"#
    ));
    let file = pcap.to_str().expect("utf-8");
    // On the wire to the upstream: TLS records only, no plaintext.
    let (to_up, from_up) = followed(file, 1);
    let wire = [to_up, from_up].concat();
    assert!(
        !wire.windows(12).any(|w| w == b"the question"),
        "plaintext on the TLS leg"
    );
    // With no key file, the keys in the capture decrypt it.
    let text = tshark("tshark", &["-r", file, "-q", "-z", "follow,tls,ascii,1"]);
    assert!(
        text.contains("the question") && text.contains("secret answer to the question"),
        "{text}"
    );
}

#[test]
fn tls_terminates_clients_and_relays_plaintext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = localhost_cert(dir.path());
    let (_up, up) = echo();
    let (_px, port) = proxy(up, &["--tls", "--cert", &cert, "--key", &key]);
    python_ok(&format!(
        r#"
import socket, ssl
ctx = ssl.create_default_context(cafile={cert:?})
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', {port})), server_hostname="localhost")
s.sendall(b"over tls")
assert s.recv(100) == b"over tls"
print("ok")
"#
    ));
    // A client that speaks plain TCP to the TLS port fails its handshake; the proxy stays up.
    assert_ne!(probe(port), "hello eof");
}

#[test]
fn a_failed_upstream_tls_handshake_resets_the_client() {
    let (_up, up) = echo(); // not a TLS server
    let (mut px, port) = proxy(up, &["--upstream-tls", "--connect-timeout", "2s"]);
    assert_eq!(probe(port), "ECONNRESET");
    assert!(px.alive());
}

/// Python: send `n` numbered datagrams to the UDP `port` one by one, and print
/// the replies that came within 0.3 s of each, as a JSON list of strings.
fn udp_exchange(port: u16, n: usize) -> Vec<String> {
    let out = python(
        &format!(
            r#"
import socket, json
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.3)
got = []
for i in range({n}):
    s.sendto(b"msg%03d" % i, ('127.0.0.1', {port}))
    while True:
        try:
            got.append(s.recv(2000).decode("latin-1"))
        except socket.timeout:
            break
print(json.dumps(got))
"#
        ),
        T,
    );
    serde_json::from_str(stdout(&out).trim()).unwrap_or_else(|_| panic!("python: {}", stderr(&out)))
}

/// A UDP proxy to an echo server, with `args`.
fn udp_proxy(args: &[&str]) -> (Proc, Proc, u16) {
    let (echo, up) = Proc::server(&["udp", "listen", "127.0.0.1:0", "--echo", "-q"]);
    let up = format!("127.0.0.1:{up}");
    let mut all = vec!["proxy", "127.0.0.1:0", up.as_str(), "--udp"];
    all.extend_from_slice(args);
    let (px, port) = Proc::server(&all);
    (echo, px, port)
}

#[test]
fn udp_relay_passes_every_datagram_each_way() {
    let (_echo, _px, port) = udp_proxy(&[]);
    let want: Vec<String> = (0..20).map(|i| format!("msg{i:03}")).collect();
    assert_eq!(udp_exchange(port, 20), want);
}

#[test]
fn udp_faults_loss_duplicate_corrupt_and_latency() {
    let (_e1, _p1, lossy) = udp_proxy(&["--udp-fault", "loss:rate=1"]);
    assert!(udp_exchange(lossy, 5).is_empty());
    let (_e2, _p2, dup) = udp_proxy(&["--udp-fault", "duplicate:rate=1,stream=upstream"]);
    assert_eq!(
        udp_exchange(dup, 2),
        ["msg000", "msg000", "msg001", "msg001"]
    );
    let (_e3, _p3, bad) = udp_proxy(&["--udp-fault", "corrupt:rate=1"]);
    let got = udp_exchange(bad, 3);
    assert_eq!(got.len(), 3);
    for (i, g) in got.iter().enumerate() {
        let want = format!("msg{i:03}");
        let differing = g.chars().zip(want.chars()).filter(|(a, b)| a != b).count();
        assert_eq!(differing, 1, "{g:?} vs {want:?}");
    }
    let (_e4, _p4, slow) = udp_proxy(&["--udp-fault", "latency:latency=200"]);
    python_ok(&format!(
        r#"
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
t = time.time(); s.sendto(b"x", ('127.0.0.1', {slow})); s.recv(10)
assert 0.2 <= time.time() - t < 0.35, time.time() - t
print("ok")
"#
    ));
}

#[test]
fn udp_seed_repeats_the_loss_pattern_and_bad_faults_exit_2() {
    let pattern = || {
        let (_e, _p, port) = udp_proxy(&["--seed", "9", "--udp-fault", "loss:rate=0.5"]);
        udp_exchange(port, 16)
    };
    let first = pattern();
    assert!(!first.is_empty() && first.len() < 16, "{first:?}");
    assert_eq!(pattern(), first);
    for (spec, want) in [
        (
            "drop:rate=1",
            "unknown UDP fault 'drop'; valid: loss, duplicate, reorder, corrupt, latency",
        ),
        ("loss:rate=2", "out of range"),
        (
            "loss:delay=1",
            "loss has no attribute 'delay'; valid: rate, stream",
        ),
    ] {
        let out = run(
            wirekit(&["proxy", ":0", ":1", "--udp", "--udp-fault", spec]),
            None,
            T,
        );
        assert_eq!(code(&out), 2, "{spec}");
        assert!(stderr(&out).contains(want), "{spec}: {}", stderr(&out));
    }
}

#[test]
fn a_slow_reader_slows_its_writer_and_memory_stays_bounded() {
    // The upstream pushes 100 MiB at once; the client reads nothing for 2 s.
    // Were the proxy to buffer, it would hold ~100 MiB; it holds a few chunks.
    let (_server, up) = python_upstream(
        r#"
def handle(c):
    c.recv(10)
    block = b"z" * (1 << 20)
    for _ in range(100):
        c.sendall(block)
    c.close()
"#,
    );
    let (px, port) = proxy(up, &[]);
    let (client, mut go) = python_steps(&format!(
        r#"
import socket
s = socket.create_connection(('127.0.0.1', {port}))
s.sendall(b"go")
print("stalled", flush=True)
input()
n = 0
while True:
    d = s.recv(1 << 20)
    if not d: break
    n += len(d)
print("received", n, flush=True)
"#
    ));
    client.line(Pipe::Stdout, "stalled");
    // A measurement window, not synchronisation: 2 s in which an unbounded
    // proxy would take in all 100 MiB.
    std::thread::sleep(Duration::from_secs(2));
    let stalled_peak = memory_kib(px.pid(), "VmHWM");
    use std::io::Write;
    go.write_all(b"\n").expect("let the client read");
    assert_eq!(
        client.line(Pipe::Stdout, "received").trim(),
        "received 104857600"
    );
    assert!(
        stalled_peak < 48 * 1024,
        "proxy peak RSS {stalled_peak} KiB while its client stalled"
    );
}

/// `wirekit serve` on a folder with `a.txt` ("hello\n") and `big.bin` (100 KB),
/// and an HTTP proxy in front of it with `args`: (serve, proxy, proxy port).
fn http_proxy(dir: &std::path::Path, args: &[&str]) -> (Proc, Proc, u16) {
    std::fs::write(dir.join("a.txt"), "hello\n").expect("write");
    std::fs::write(dir.join("big.bin"), vec![b'b'; 100_000]).expect("write");
    let (serve, up) = Proc::server(&["serve", dir.to_str().expect("utf-8"), "-p", "0", "-q"]);
    let up = format!("127.0.0.1:{up}");
    let mut all = vec!["proxy", "127.0.0.1:0", up.as_str(), "--http"];
    all.extend_from_slice(args);
    let (px, port) = Proc::server(&all);
    (serve, px, port)
}

#[test]
fn http_abort_first_2_is_outlasted_by_wirekit_http_retry_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_s, _px, port) = http_proxy(
        dir.path(),
        &["--http-fault", "abort:status=503,retry_after=0,first=2"],
    );
    let out = run(
        wirekit(&[
            "http",
            "--retry",
            "3",
            "--retry-delay",
            "10ms",
            &format!(":{port}/a.txt"),
        ]),
        None,
        T,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\n");
    assert_eq!(
        stderr(&out)
            .matches("failed (503 Service Unavailable)")
            .count(),
        2,
        "{}",
        stderr(&out)
    );
}

#[test]
fn http_abort_first_2_is_outlasted_by_requests_with_urllib3_retry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_s, _px, port) = http_proxy(
        dir.path(),
        &["--http-fault", "abort:status=503,retry_after=0,first=2"],
    );
    python_ok(&format!(
        r#"
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
s = requests.Session()
s.mount("http://", HTTPAdapter(max_retries=Retry(total=3, status_forcelist=[503], backoff_factor=0)))
r = s.get("http://127.0.0.1:{port}/a.txt", timeout=10)
assert r.status_code == 200 and r.text == "hello\n", (r.status_code, r.text)
# Without retries the first two answers were the injected 503s with Retry-After.
r = requests.get("http://127.0.0.1:{port}/a.txt", timeout=10)
assert r.status_code == 200
print("ok")
"#
    ));
    let (_s2, _px2, fresh) = http_proxy(
        dir.path(),
        &["--http-fault", "abort:status=503,retry_after=1,first=1"],
    );
    let out = curl(&["-i", &format!("http://127.0.0.1:{fresh}/a.txt")]);
    let text = stdout(&out);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
}

#[test]
fn http_percent_with_seed_repeats_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let statuses = || {
        let (_s, _px, port) = http_proxy(
            dir.path(),
            &["--seed", "5", "--http-fault", "abort:status=500,percent=50"],
        );
        (0..16)
            .map(|_| {
                let out = curl(&[
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    &format!("http://127.0.0.1:{port}/a.txt"),
                ]);
                stdout(&out)
            })
            .collect::<Vec<String>>()
    };
    let first = statuses();
    assert!(
        first.iter().any(|s| s == "500") && first.iter().any(|s| s == "200"),
        "{first:?}"
    );
    assert_eq!(statuses(), first);
}

#[test]
fn http_delay_cut_and_matchers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_s, _px, port) = http_proxy(
        dir.path(),
        &[
            "--http-fault",
            "delay:ms=300,path=/a.txt",
            "--http-fault",
            "cut:bytes=1000,path=/big",
            "--http-fault",
            "abort:status=418,header=X-Break:yes",
            "--http-fault",
            "abort:status=405,method=DELETE",
        ],
    );
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let t = curl_time(&url("/a.txt"));
    assert!((0.3..1.0).contains(&t), "{t}");
    let out = curl(&["-o", "-", "-w", "\n%{size_download}", &url("/big.bin")]);
    assert!(
        stdout(&out).ends_with("\n1000"),
        "cut: {:?}",
        &stdout(&out)[stdout(&out).len().saturating_sub(20)..]
    );
    assert_eq!(
        out.status.code(),
        Some(18),
        "curl sees the body end early (partial file)"
    );
    let status = |args: &[&str]| {
        let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
        all.extend_from_slice(args);
        stdout(&curl(&all))
    };
    assert_eq!(status(&["-H", "X-Break: yes", &url("/big.bin")]), "418");
    assert_eq!(status(&["-H", "X-Break: no", &url("/missing")]), "404");
    assert_eq!(status(&["-X", "DELETE", &url("/big.bin")]), "405");
}

#[test]
fn http_bad_fault_specs_exit_2() {
    for (spec, want) in [
        (
            "explode",
            "unknown HTTP fault 'explode'; valid: abort, delay, throttle, cut",
        ),
        ("abort:status=99", "not an HTTP status from 100 to 599"),
        (
            "abort:first=1,every=2",
            "give one of percent=, first=, every=",
        ),
        (
            "delay:rate=1",
            "delay has no attribute 'rate'; valid: ms, method, path",
        ),
        ("abort:percent=120", "percent '120' is not from 0 to 100"),
    ] {
        let out = run(
            wirekit(&["proxy", ":0", ":1", "--http", "--http-fault", spec]),
            None,
            T,
        );
        assert_eq!(code(&out), 2, "{spec}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{spec}: {}", stderr(&out));
    }
}

#[test]
fn http_throttle_holds_a_body_within_20_percent_of_the_rate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_s, _px, port) = http_proxy(dir.path(), &["--http-fault", "throttle:rate=50"]);
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{size_download} %{speed_download}",
        &format!("http://127.0.0.1:{port}/big.bin"),
    ]);
    let text = stdout(&out);
    let mut words = text.split_whitespace();
    assert_eq!(words.next(), Some("100000"), "{text}");
    let speed: f64 = words.next().and_then(|w| w.parse().ok()).expect("speed");
    assert!((40_000.0..=60_000.0).contains(&speed), "{speed} bytes/s");
}

#[test]
fn slow_close_delays_the_fin_but_not_the_data() {
    let (_up, up) = echo();
    let (_px, port) = proxy(up, &["--toxic", "slow_close:delay=500"]);
    python_ok(&format!(
        r#"
import socket, time
s = socket.create_connection(('127.0.0.1', {port}))
t = time.time()
s.sendall(b"hello"); s.shutdown(socket.SHUT_WR)
assert s.recv(100) == b"hello"
data_at = time.time() - t
assert s.recv(100) == b""
eof_at = time.time() - t
assert data_at < 0.4 and 0.5 <= eof_at < 1.5, (data_at, eof_at)
print("ok")
"#
    ));
}

/// `--pin` on the upstream leg: the upstream's own certificate by its SHA-256
/// (as `openssl x509 -fingerprint -sha256` prints it) is trusted with no CA;
/// any other fingerprint resets the client and the proxy stays up.
#[test]
fn upstream_tls_pin_accepts_exactly_that_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = localhost_cert(dir.path());
    let out = Command::new("openssl")
        .args(["x509", "-in", &cert, "-noout", "-fingerprint", "-sha256"])
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let fingerprint = text
        .trim()
        .rsplit('=')
        .next()
        .expect("fingerprint")
        .to_string();
    let (_server, up) = python_upstream(&format!(
        r#"
import ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain({cert:?}, {key:?})
def handle(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
        t.sendall(b"pinned " + t.recv(100))
        t.close()
    except Exception:
        c.close()
"#
    ));
    let pin = format!("sha256:{fingerprint}");
    let (_px, port) = proxy(up, &["--upstream-tls", "--sni", "localhost", "--pin", &pin]);
    python_ok(&format!(
        r#"
import socket
s = socket.create_connection(('127.0.0.1', {port}))
s.sendall(b"hello")
got = b""
while True:
    d = s.recv(100)
    if not d: break
    got += d
assert got == b"pinned hello", got
print("ok")
"#
    ));
    let wrong = format!("sha256:{}", "00".repeat(32));
    let (mut px, port) = proxy(
        up,
        &["--upstream-tls", "--sni", "localhost", "--pin", &wrong],
    );
    assert_eq!(probe(port), "ECONNRESET");
    assert!(px.alive());
}

/// tshark's fields `fields` (`-T fields -e ...`) of the packets in `file` that
/// match `filter`, one line per packet.
fn tshark_fields(file: &str, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut args = vec!["-r", file, "-Y", filter, "-T", "fields"];
    for f in fields {
        args.extend_from_slice(&["-e", f]);
    }
    tshark("tshark", &args)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn udp_pcap_records_each_datagram_on_both_legs_for_tshark() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("udp.pcapng");
    let file = pcap.to_str().expect("utf-8");
    let (_echo, _px, port) = udp_proxy(&["--pcap", file, "--udp-fault", "duplicate:rate=1"]);
    let got = udp_exchange(port, 3);
    assert_eq!(got.len(), 6, "{got:?}"); // each echo comes back twice
    // Each datagram: client -> proxy, proxy -> upstream, upstream -> proxy, and
    // (duplicated) proxy -> client twice: 5 UDP packets, payloads as sent.
    let rows = tshark_fields(
        file,
        "udp",
        &[
            "frame.interface_id",
            "udp.srcport",
            "udp.dstport",
            "udp.payload",
            "frame.comment",
        ],
    );
    assert_eq!(rows.len(), 15, "{rows:?}");
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    for i in 0..3 {
        let payload = hex(&format!("msg{i:03}"));
        let with: Vec<&String> = rows.iter().filter(|r| r.contains(&payload)).collect();
        assert_eq!(with.len(), 5, "msg{i:03}: {with:?}");
        let on = |iface: &str| with.iter().filter(|r| r.starts_with(iface)).count();
        assert_eq!((on("0\t"), on("1\t")), (3, 2), "{with:?}");
        // The duplicates going back to the client carry the fault's name.
        let to_client: Vec<_> = with
            .iter()
            .filter(|r| r.starts_with("0\t") && r.split('\t').nth(1) == Some(&port.to_string()))
            .collect();
        assert_eq!(to_client.len(), 2, "{with:?}");
        assert!(
            to_client
                .iter()
                .all(|r| r.contains("wirekit udp faults: duplicate")),
            "{to_client:?}"
        );
    }
    let count = tshark("capinfos", &["-c", "-M", file]);
    assert!(
        count.contains("Number of packets:   15") || count.contains("Number of packets = 15"),
        "{count}"
    );
}

#[test]
fn udp_reorder_sends_a_held_datagram_after_the_next() {
    let (_echo, _px, port) = udp_proxy(&["--udp-fault", "reorder:rate=1"]);
    let got = udp_exchange(port, 6);
    assert_eq!(
        got,
        ["msg001", "msg000", "msg003", "msg002", "msg005", "msg004"],
        "each odd reply overtakes the even one held back"
    );
}

#[test]
fn udp_idle_closes_a_quiet_session_so_the_next_datagram_gets_a_new_socket() {
    // The upstream prints the source port of each datagram it gets.
    let up = free_udp_port();
    let mut server = python_server(
        &format!(
            r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', {up}))
while True:
    d, peer = s.recvfrom(2000)
    print("from", peer[1], d.decode(), flush=True)
    s.sendto(d, peer)
"#
        ),
        up,
        true,
    );
    let up = format!("127.0.0.1:{up}");
    let (_px, port) = Proc::server(&["proxy", "127.0.0.1:0", &up, "--udp", "--udp-idle", "300ms"]);
    let send = |text: &str, pause: f64| {
        python_ok(&format!(
            r#"
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.bind(('127.0.0.1', 0))
for word in {text:?}.split():
    s.sendto(word.encode(), ('127.0.0.1', {port}))
    assert s.recv(100) == word.encode()
    time.sleep({pause})
print("ok")
"#
        ))
    };
    send("a b", 0.05); // within the idle time: one session
    send("c", 0.0);
    std::thread::sleep(Duration::from_millis(1200)); // past it (the sweep runs every 150 ms)
    send("d", 0.0);
    let port_of = |word: &str| {
        server
            .line(Pipe::Stdout, &format!(" {word}"))
            .split_whitespace()
            .nth(1)
            .expect("port")
            .to_string()
    };
    let (a, b, c, d) = (port_of("a"), port_of("b"), port_of("c"), port_of("d"));
    assert_eq!(a, b, "two datagrams 50 ms apart share the upstream socket");
    assert_ne!(
        c, d,
        "after --udp-idle the client gets a new upstream socket"
    );
    assert!(server.alive());
}

#[test]
fn http_every_3_fails_every_third_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_s, _px, port) = http_proxy(dir.path(), &["--http-fault", "abort:status=500,every=3"]);
    let url = format!("http://127.0.0.1:{port}/a.txt");
    let codes: Vec<String> = (0..7)
        .map(|_| stdout(&curl(&["-o", "/dev/null", "-w", "%{http_code}", &url])))
        .collect();
    assert_eq!(codes, ["200", "200", "500", "200", "200", "500", "200"]);
}

#[test]
fn http_upstream_that_never_answers_gets_a_504_after_upstream_timeout() {
    let (_server, up) = python_upstream(
        r#"
def handle(c):
    time.sleep(30)  # accepts, reads nothing, never answers
"#,
    );
    let up = format!("127.0.0.1:{up}");
    let (mut px, port) = Proc::server(&[
        "proxy",
        "127.0.0.1:0",
        &up,
        "--http",
        "--upstream-timeout",
        "1s",
    ]);
    let started = std::time::Instant::now();
    let out = curl(&["-i", &format!("http://127.0.0.1:{port}/x")]);
    let took = started.elapsed();
    let text = stdout(&out);
    assert!(text.starts_with("HTTP/1.1 504"), "{text}");
    assert!(
        text.contains("did not answer within 1s (--upstream-timeout)"),
        "{text}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert!(px.alive());
}

/// `wirekit serve --tls` with a localhost certificate made in `dir`, serving
/// `a.txt` holding `text`: (serve, its port, the certificate's PEM path).
fn tls_serve(dir: &std::path::Path, text: &str) -> (Proc, u16, String) {
    let (cert, key) = localhost_cert(dir);
    let site = dir.join("site");
    std::fs::create_dir(&site).expect("mkdir");
    std::fs::write(site.join("a.txt"), text).expect("write");
    let site = site.to_str().expect("utf-8");
    let (serve, port) = Proc::server(&[
        "serve", site, "-p", "0", "-q", "--tls", "--cert", &cert, "--key", &key,
    ]);
    (serve, port, cert)
}

#[test]
fn http_to_an_upstream_tls_serve_works_and_both_legs_are_captured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_serve, up, cert) = tls_serve(dir.path(), "over https\n");
    let pcap = dir.path().join("http.pcapng");
    let file = pcap.to_str().expect("utf-8");
    let up = format!("localhost:{up}");
    let (_px, port) = Proc::server(&[
        "proxy",
        "127.0.0.1:0",
        &up,
        "--http",
        "--upstream-tls",
        "--cacert",
        &cert,
        "--pcap",
        file,
    ]);
    for path in ["/a.txt", "/a.txt?again"] {
        let out = curl(&["-f", &format!("http://127.0.0.1:{port}{path}")]);
        assert_eq!(stdout(&out), "over https\n", "{}", stderr(&out));
    }
    // Two requests on each leg: plain on the client's, decrypted from the embedded keys on the upstream's.
    let rows = tshark_fields(
        file,
        "http.request",
        &["frame.interface_id", "http.request.uri"],
    );
    assert_eq!(
        rows,
        [
            "0\t/a.txt",
            "1\t/a.txt",
            "0\t/a.txt?again",
            "1\t/a.txt?again"
        ],
        "{rows:?}"
    );
    let tls = tshark_fields(file, "tls.record", &["frame.interface_id"]);
    assert!(!tls.is_empty() && tls.iter().all(|i| i == "1"), "{tls:?}");
}

#[test]
fn upstream_tls_insecure_reaches_a_self_signed_serve_with_a_warning() {
    let (_dir, _serve, up) = serve_files(&[("a.txt", b"self-signed\n")], &["--tls"]);
    // Without --insecure the self-signed certificate is refused: the client is reset.
    let (_strict, strict) = proxy(up, &["--upstream-tls"]);
    let out = curl(&[&format!("http://127.0.0.1:{strict}/a.txt")]);
    assert_ne!(code_of_curl(&out), 0);
    for mode in [
        &["--upstream-tls", "--insecure"][..],
        &["--http", "--upstream-tls", "--insecure"],
    ] {
        let (px, port) = proxy(up, mode);
        let out = curl(&[
            "-f",
            "-H",
            "Host: localhost",
            &format!("http://127.0.0.1:{port}/a.txt"),
        ]);
        assert_eq!(stdout(&out), "self-signed\n", "{mode:?}: {}", stderr(&out));
        let warning = px.line(Pipe::Stderr, "insecure");
        assert!(
            warning.to_lowercase().contains("not verif") || warning.contains("--insecure"),
            "{warning}"
        );
    }
}

fn code_of_curl(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

#[test]
fn tls_without_a_cert_serves_the_announced_self_signed_certificate() {
    let (_up, up) = echo();
    let (px, port) = proxy(up, &["--tls"]);
    let line = px.line(Pipe::Stderr, "self-signed certificate");
    let announced = line
        .rsplit("fingerprint ")
        .next()
        .expect("fingerprint")
        .replace(':', "")
        .to_lowercase();
    let seen = python(
        &format!(
            r#"
import socket, ssl, hashlib
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', {port})), server_hostname="localhost")
s.sendall(b"ping")
assert s.recv(100) == b"ping"
print(hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest())
"#
        ),
        T,
    );
    assert_eq!(
        stdout(&seen).trim(),
        announced.trim(),
        "{line} / {}",
        stderr(&seen)
    );
}

#[test]
fn reset_peer_shows_as_rst_in_the_pcap_on_both_legs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("rst.pcapng");
    let file = pcap.to_str().expect("utf-8");
    let (_up, up) = echo();
    let (_px, port) = proxy(
        up,
        &[
            "--pcap",
            file,
            "--toxic",
            "reset_peer:timeout=0,stream=upstream",
        ],
    );
    assert_eq!(probe(port), "ECONNRESET");
    std::thread::sleep(Duration::from_millis(300)); // the proxy writes the RSTs as it resets
    let rows = tshark_fields(
        file,
        "tcp.flags.reset == 1",
        &["frame.interface_id", "frame.comment"],
    );
    let on = |iface: &str| rows.iter().filter(|r| r.starts_with(iface)).count();
    assert!(on("0") >= 1 && on("1") >= 1, "{rows:?}");
    assert!(
        rows.iter().any(|r| r.contains("reset_peer_upstream")),
        "{rows:?}"
    );
}

#[test]
fn ipv6_connections_are_ipv6_packets_in_the_pcap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("v6.pcapng");
    let file = pcap.to_str().expect("utf-8");
    let (_up, up) = Proc::server(&["tcp", "listen", "[::1]:0", "-k", "--echo"]);
    let up = format!("[::1]:{up}");
    let (_px, port) = Proc::server(&["proxy", "[::1]:0", &up, "--pcap", file]);
    python_ok(&format!(
        r#"
s = __import__("socket").create_connection(('::1', {port}))
s.sendall(b"over ipv6"); s.shutdown(1)
got = b""
while True:
    d = s.recv(100)
    if not d: break
    got += d
assert got == b"over ipv6", got
print("ok")
"#
    ));
    std::thread::sleep(Duration::from_millis(300));
    let rows = tshark_fields(
        file,
        "ipv6 && tcp.len > 0",
        &["frame.interface_id", "ipv6.src", "ipv6.dst"],
    );
    assert_eq!(rows.len(), 4, "{rows:?}"); // the bytes there and back, on each leg
    assert!(rows.iter().all(|r| r.contains("::1\t::1")), "{rows:?}");
    assert!(
        tshark_fields(file, "ip", &["frame.number"]).is_empty(),
        "no IPv4 packets"
    );
    let (sent, back) = followed(file, 0);
    assert_eq!(
        (sent.as_slice(), back.as_slice()),
        (&b"over ipv6"[..], &b"over ipv6"[..])
    );
}

#[test]
fn upstream_tls_leg_records_name_the_toxics_that_acted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_serve, up, cert) = tls_serve(dir.path(), "x\n");
    let pcap = dir.path().join("c.pcapng");
    let file = pcap.to_str().expect("utf-8");
    let (_px, port) = proxy(
        up,
        &[
            "--upstream-tls",
            "--cacert",
            &cert,
            "--sni",
            "localhost",
            "--pcap",
            file,
            "--toxic",
            "latency:latency=1,stream=upstream",
        ],
    );
    let out = curl(&[
        "-f",
        "-H",
        "Host: localhost",
        &format!("http://127.0.0.1:{port}/a.txt"),
    ]);
    assert_eq!(stdout(&out), "x\n", "{}", stderr(&out));
    // The request's TLS record to the upstream names the toxic, as the plain leg would.
    let rows = tshark_fields(
        file,
        "frame.interface_id == 1 && http.request",
        &["frame.comment"],
    );
    assert_eq!(rows, ["wirekit toxics: latency_upstream"], "{rows:?}");
}

#[test]
fn pcap_that_cannot_be_written_is_reported() {
    let (_up, up) = echo();
    // Cannot be created, or takes no header (/dev/full): exit 1 at start, naming the file.
    for (path, says) in [
        (
            "/nonexistent/x.pcapng",
            "cannot create capture file /nonexistent/x.pcapng",
        ),
        (
            "/dev/full",
            "cannot write capture file /dev/full: No space left on device",
        ),
    ] {
        let up = format!("127.0.0.1:{up}");
        let out = run(
            wirekit(&["proxy", "127.0.0.1:0", &up, "--pcap", path]),
            None,
            T,
        );
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
    // Full while running (a 4 KiB file size limit, SIGXFSZ ignored): logged once,
    // capturing stops, relaying goes on.
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("small.pcapng");
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        &format!(
            "trap '' XFSZ; ulimit -f 8; exec {} proxy 127.0.0.1:0 127.0.0.1:{up} --pcap {}",
            bin(),
            pcap.display()
        ),
    ]);
    let px = Proc::start(cmd);
    let port = px.announced_port();
    for _ in 0..4 {
        let out = python(
            &format!(
                r#"
import socket
s = socket.create_connection(('127.0.0.1', {port}))
s.sendall(b"y" * 3000); s.shutdown(1)
got = b""
while True:
    d = s.recv(65536)
    if not d: break
    got += d
print(len(got))
"#
            ),
            T,
        );
        assert_eq!(stdout(&out).trim(), "3000", "{}", stderr(&out));
    }
    let out = px.terminate(T);
    let log = stderr(&out);
    assert_eq!(log.matches("cannot write capture file").count(), 1, "{log}");
    assert!(log.contains("capturing stopped, relaying goes on"), "{log}");
    assert!(std::fs::metadata(&pcap).expect("pcap").len() <= 8 * 512 + 8 * 1024);
}

#[test]
fn udp_and_http_refuse_flags_they_cannot_honour() {
    for (args, says) in [
        (
            &["--udp", "--json"][..],
            "--udp has no connections to report with --json",
        ),
        (
            &["--udp", "--hex-dump", "-"],
            "--udp does not hex-dump datagrams",
        ),
        (
            &["--udp", "--toxic", "latency"],
            "for --udp use --udp-fault",
        ),
        (&["--http", "--json"], "--json reports TCP connections"),
        (
            &["--http", "--toxic", "latency"],
            "with --http use --http-fault",
        ),
        (
            &["--http", "--api", "127.0.0.1:0"],
            "run the --http proxy as a wirekit proxy process of its own",
        ),
    ] {
        let mut all = vec!["proxy", "127.0.0.1:0", "127.0.0.1:9"];
        all.extend_from_slice(args);
        let out = run(wirekit(&all), None, T);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}
