//! `wirekit http` against a recording Python server (stdlib http.server) and curl.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// The recording peer (tests/http_peer.py) on port 0, serving `data` for downloads;
/// the peer and the port it announces.
pub fn peer(data: Option<&Path>) -> (Proc, u16) {
    peer_with(data, &[])
}

/// The peer with environment settings (PEER_CERT/PEER_KEY for TLS, PEER_CLIENT_CA).
fn peer_with(data: Option<&Path>, envs: &[(&str, &Path)]) -> (Proc, u16) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http_peer.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg("0");
    if let Some(d) = data {
        cmd.arg(d);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let p = Proc::start(cmd);
    let port = p.port_after(Pipe::Stdout, "listening on ");
    (p, port)
}

fn http(args: &[&str]) -> std::process::Output {
    let mut full = vec!["http"];
    full.extend_from_slice(args);
    run(wirekit(&full), None, LIMIT)
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            stdout(out),
            stderr(out)
        )
    })
}

fn body_of(doc: &Value) -> Vec<u8> {
    use std::io::Read;
    // base64 decode with Python, to keep the test free of extra crates.
    let b64 = doc["body"].as_str().unwrap_or("");
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import base64,sys;sys.stdout.buffer.write(base64.b64decode(sys.stdin.read()))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    {
        use std::io::Write;
        let mut w = child.stdin.take().expect("stdin");
        w.write_all(b64.as_bytes()).expect("write");
    }
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut out)
        .expect("read");
    child.wait().expect("wait");
    out
}

fn header<'a>(doc: &'a Value, name: &str) -> Option<&'a str> {
    doc["headers"].as_array()?.iter().find_map(|h| {
        (h[0].as_str()?.eq_ignore_ascii_case(name))
            .then(|| h[1].as_str())
            .flatten()
    })
}

/// Headers as (lowercase name, value), sorted: what two clients can be compared on.
fn header_set(doc: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = doc["headers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap_or("").to_ascii_lowercase(),
                        h[1].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn curl(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS"]).args(args);
    run(cmd, None, LIMIT)
}

#[test]
fn json_items_match_curl_on_the_wire() {
    let (_p, port) = peer(None);
    let url = format!("http://127.0.0.1:{port}/echo");
    let out = http(&[
        &url,
        "name=Ada",
        "age:=36",
        "tags:=[\"x\", \"y\"]",
        "a[b][0]=deep",
        "a[b][1]:=true",
        "q==1 2",
        "X-Trace:abc",
        "X-Empty;",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["method"], "POST");
    assert_eq!(doc["path"], "/echo?q=1+2");
    let body = body_of(&doc);
    assert_eq!(
        String::from_utf8_lossy(&body),
        r#"{"name":"Ada","age":36,"tags":["x","y"],"a":{"b":["deep",true]}}"#
    );
    assert_eq!(header(&doc, "content-type"), Some("application/json"));
    assert_eq!(header(&doc, "x-trace"), Some("abc"));
    assert_eq!(header(&doc, "x-empty"), Some(""));

    // The same request from curl: same body bytes, same headers.
    let c = curl(&[
        "-X",
        "POST",
        &format!("{url}?q=1+2"),
        "-H",
        "User-Agent: wirekit/0.1.0",
        "-H",
        "Accept: application/json, */*;q=0.5",
        "-H",
        "Content-Type: application/json",
        "-H",
        "X-Trace: abc",
        "-H",
        "X-Empty;",
        "--data-raw",
        &String::from_utf8_lossy(&body),
    ]);
    assert_eq!(code(&c), 0, "{}", stderr(&c));
    let cdoc = json(&c);
    assert_eq!(body_of(&cdoc), body);
    assert_eq!(cdoc["path"], doc["path"]);
    assert_eq!(header_set(&cdoc), header_set(&doc));
}

#[test]
fn form_multipart_and_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let up = dir.path().join("up.txt");
    std::fs::write(&up, b"file body\n").expect("write");
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "from a file").expect("write");
    let obj = dir.path().join("obj.json");
    std::fs::write(&obj, "{\"k\": [1, 2]}").expect("write");
    let (_p, port) = peer(None);
    let url = format!("http://127.0.0.1:{port}/echo");

    // -f: urlencoded, the same bytes as curl --data-urlencode.
    let out = http(&["-f", &url, "a=1", "b=x y&z"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(body_of(&doc), b"a=1&b=x+y%26z");
    assert!(
        header(&doc, "content-type")
            .unwrap_or("")
            .starts_with("application/x-www-form-urlencoded")
    );
    let c = curl(&[
        &url,
        "--data-urlencode",
        "a=1",
        "--data-urlencode",
        "b=x y&z",
    ]);
    let cbody = body_of(&json(&c));
    assert_eq!(
        String::from_utf8_lossy(&cbody).replace("%20", "+"),
        "a=1&b=x+y%26z"
    );

    // key=@file and key:=@file.json
    let out = http(&[
        &url,
        &format!("note=@{}", note.display()),
        &format!("obj:=@{}", obj.display()),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&body_of(&json(&out))),
        r#"{"note":"from a file","obj":{"k":[1,2]}}"#
    );

    // field@path: multipart, parsed by Python's email parser like curl -F.
    let out = http(&[&url, "title=hi", &format!("doc@{}", up.display())]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    let c = curl(&[
        &url,
        "-F",
        "title=hi",
        "-F",
        &format!("doc=@{}", up.display()),
    ]);
    let cdoc = json(&c);
    assert_eq!(
        doc["parts"], cdoc["parts"],
        "wirekit vs curl multipart parts"
    );
    assert_eq!(doc["parts"][1][0], "doc");
    assert_eq!(doc["parts"][1][1], "up.txt");
    assert_eq!(doc["parts"][1][2], "text/plain");

    // --multipart without files.
    let out = http(&["--multipart", &url, "x=1"]);
    let doc = json(&out);
    assert_eq!(doc["parts"][0][0], "x");
}

#[test]
fn methods_shortcuts_stdin_and_raw() {
    let (_p, port) = peer(None);
    let out = http(&[&format!(":{port}/echo/get")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["method"], "GET");
    assert_eq!(doc["path"], "/echo/get");
    assert_eq!(header(&doc, "user-agent"), Some("wirekit/0.1.0"));

    let out = http(&["put", &format!("localhost:{port}/echo"), "a=1"]);
    assert_eq!(json(&out)["method"], "PUT");

    // Removing a default header.
    let out = http(&[&format!(":{port}/echo"), "User-Agent:"]);
    assert_eq!(header(&json(&out), "user-agent"), None);

    // Body from stdin (not a terminal, no data items): POST, bytes as given.
    let mut cmd = wirekit(&["http", &format!(":{port}/echo")]);
    cmd.env("NO_COLOR", "1");
    let out = run(cmd, Some(b"raw\x00bytes\n"), LIMIT);
    let doc = json(&out);
    assert_eq!(doc["method"], "POST");
    assert_eq!(body_of(&doc), b"raw\x00bytes\n");

    let out = http(&["PATCH", &format!(":{port}/echo"), "--raw", "plain text"]);
    let doc = json(&out);
    assert_eq!(doc["method"], "PATCH");
    assert_eq!(body_of(&doc), b"plain text");
}

#[test]
fn printing_and_check_status() {
    let (_p, port) = peer(None);
    let url = format!("http://127.0.0.1:{port}/json");
    // Piped: the body byte for byte.
    let out = http(&[&url]);
    assert_eq!(out.stdout, br#"{"b":1,"a":[true,null,"x"]}"#);
    // Indented, key order kept.
    let out = http(&["--pretty", "format", &url]);
    assert_eq!(
        stdout(&out),
        "{\n    \"b\": 1,\n    \"a\": [\n        true,\n        null,\n        \"x\"\n    ]\n}\n"
    );
    let out = http(&["--pretty", "all", &url]);
    assert!(stdout(&out).contains("\x1b["), "colours with --pretty all");
    // -p: request head and response head.
    let out = http(&["-p", "Hh", &url]);
    let text = stdout(&out);
    assert!(text.starts_with("GET /json HTTP/1.1\n"), "{text}");
    assert!(text.contains(&format!("Host: 127.0.0.1:{port}")));
    assert!(text.contains("HTTP/1.1 200 OK\n"));
    assert!(!text.contains("\"b\""));
    // -v: everything.
    let out = http(&["-v", &format!(":{port}/echo"), "k=v"]);
    let text = stdout(&out);
    assert!(text.starts_with("POST /echo HTTP/1.1\n"), "{text}");
    assert!(text.contains("{\"k\":\"v\"}"));
    assert!(text.contains("HTTP/1.1 200 OK"));
    // meta
    let out = http(&["-p", "m", &url]);
    assert!(stdout(&out).contains("Elapsed time:"), "{}", stdout(&out));

    // --check-status: 3, 4, 5; without it 0.
    for (status, want) in [("302", 3), ("404", 4), ("503", 5), ("200", 0)] {
        let out = http(&[
            "--check-status",
            &format!("http://127.0.0.1:{port}/status/{status}"),
        ]);
        assert_eq!(code(&out), want, "status {status}: {}", stderr(&out));
    }
    let out = http(&[&format!("http://127.0.0.1:{port}/status/500")]);
    assert_eq!(code(&out), 0);
}

#[test]
fn redirects_offline_and_curl() {
    let (_p, port) = peer(None);
    let url = format!("http://127.0.0.1:{port}/redirect");
    let out = http(&["-p", "h", &url]);
    assert!(stdout(&out).starts_with("HTTP/1.1 302"), "{}", stdout(&out));
    let out = http(&["-F", &url]);
    assert_eq!(json(&out)["path"], "/echo/landed");
    let out = http(&["-F", "--max-redirects", "0", &url]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("redirect"), "{}", stderr(&out));

    // --offline prints and sends nothing.
    let out = http(&["--offline", &format!(":{port}/echo"), "a=1"]);
    let text = stdout(&out);
    assert!(text.starts_with("POST /echo HTTP/1.1\n"), "{text}");
    assert!(text.contains("{\"a\":\"1\"}"));

    // --curl: running the printed command makes the same request.
    let out = http(&[
        "--curl",
        &format!("http://127.0.0.1:{port}/echo"),
        "a=1",
        "X-K:v",
    ]);
    assert_eq!(code(&out), 0);
    let line = stdout(&out);
    let c = run(
        {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("{} -sS", line.trim())]);
            c
        },
        None,
        LIMIT,
    );
    let cdoc = json(&c);
    let wdoc = json(&http(&[
        &format!("http://127.0.0.1:{port}/echo"),
        "a=1",
        "X-K:v",
    ]));
    assert_eq!(body_of(&cdoc), body_of(&wdoc));
    assert_eq!(header_set(&cdoc), header_set(&wdoc));
}

#[test]
fn retries_with_backoff_and_retry_after() {
    let (_p, port) = peer(None);
    let url = format!("http://127.0.0.1:{port}/flaky");
    let started = Instant::now();
    let out = http(&["--retry", "3", "--retry-delay", "20ms", &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Two dropped connections, a 503, then the answer on the fourth attempt.
    assert_eq!(json(&out)["attempt"], 4, "{}", stdout(&out));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was not honoured"
    );
    let err = stderr(&out);
    assert!(err.contains("503"), "{err}");
    assert_eq!(err.matches("retrying").count(), 3, "{err}");
}

#[test]
fn retry_max_time_bounds_the_waiting() {
    let (_p, port) = peer(None);
    let started = Instant::now();
    let out = http(&[
        "--check-status",
        "--retry",
        "5",
        "--retry-delay",
        "10s",
        "--retry-max-time",
        "1s",
        &format!("http://127.0.0.1:{port}/status/503"),
    ]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(!stderr(&out).contains("retrying in 1"), "{}", stderr(&out));
}

#[test]
fn post_is_not_retried_without_retry_all() {
    let (_p, port) = peer(None);
    let url = format!("http://127.0.0.1:{port}/flaky");
    let out = http(&["--retry", "3", "--retry-delay", "20ms", "POST", &url, "a=1"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("127.0.0.1:{port}")),
        "{}",
        stderr(&out)
    );
    let count = http(&[&format!("http://127.0.0.1:{port}/count")]);
    assert_eq!(stdout(&count), "1", "one connection only");

    let (_p2, port2) = peer(None);
    let url = format!("http://127.0.0.1:{port2}/flaky");
    let out = http(&[
        "--retry",
        "3",
        "--retry-delay",
        "20ms",
        "--retry-all",
        "POST",
        &url,
        "a=1",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

fn data_file(dir: &Path, len: usize) -> PathBuf {
    let path = dir.join("source.bin");
    let mut data = Vec::with_capacity(len);
    let mut x: u32 = 12345;
    for _ in 0..len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        data.push((x >> 16) as u8);
    }
    std::fs::write(&path, &data).expect("write source");
    path
}

#[test]
fn download_interrupted_then_resumed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = data_file(dir.path(), 3 << 20);
    let (_p, port) = peer(Some(&src));
    let out_file = dir.path().join("out.bin");
    let part = dir.path().join("out.bin.part");
    let url = format!("http://127.0.0.1:{port}/half");
    let out = http(&["-o", out_file.to_str().expect("path"), &url]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        !out_file.exists(),
        "a broken download must not look complete"
    );
    let got = std::fs::metadata(&part).expect("partial data kept").len();
    assert!(got > 0 && got < 3 << 20, "partial size {got}");
    assert!(stderr(&out).contains("-c"), "{}", stderr(&out));

    let out = http(&["-c", "-o", out_file.to_str().expect("path"), &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!part.exists());
    assert_eq!(sha256_file(&out_file), sha256_file(&src));

    // Resuming a complete file: 416, nothing changes.
    let out = http(&["-c", "-o", out_file.to_str().expect("path"), &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sha256_file(&out_file), sha256_file(&src));
}

#[test]
fn download_names_file_from_content_disposition_or_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = data_file(dir.path(), 100_000);
    let (_p, port) = peer(Some(&src));
    let work = dir.path().join("dl");
    std::fs::create_dir(&work).expect("mkdir");
    let mut cmd = wirekit(&["http", "-d", &format!("http://127.0.0.1:{port}/named")]);
    cmd.current_dir(&work);
    let out = run(cmd, None, LIMIT);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sha256_file(&work.join("report.bin")), sha256_file(&src));
    let mut cmd = wirekit(&["http", "-d", &format!("http://127.0.0.1:{port}/blob")]);
    cmd.current_dir(&work);
    let out = run(cmd, None, LIMIT);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sha256_file(&work.join("blob")), sha256_file(&src));
    // A 404 saves nothing and fails.
    let mut cmd = wirekit(&[
        "http",
        "-d",
        &format!("http://127.0.0.1:{port}/nothing.txt"),
    ]);
    cmd.current_dir(&work);
    let out = run(cmd, None, LIMIT);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(!work.join("nothing.txt").exists());
}

#[test]
fn bad_input_exits_2_naming_the_culprit() {
    let cases: &[(&[&str], &str)] = &[
        (&["http://exa mple.com/"], "exa mple.com"),
        (&["ftp://127.0.0.1/"], "ftp"),
        (&[":1/", "novalue"], "novalue"),
        (&[":1/", "n:={oops"], "n:={oops"),
        (&[":1/", "f@/no/such/file.txt"], "/no/such/file.txt"),
        (&[":1/", "k=@/no/such/data"], "/no/such/data"),
        (&["-p", "Hz", ":1/"], "z"),
        (&["--retry", "x", ":1/"], "x"),
    ];
    for (args, culprit) in cases {
        let out = http(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(culprit), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn network_failures_exit_1_naming_the_host() {
    let out = http(&["http://nosuch.invalid/"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("nosuch.invalid"), "{}", stderr(&out));

    let port = free_port(); // nothing listens there: refused
    let out = http(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("refused"),
        "{err}"
    );

    let (_p, port) = peer(None);
    let out = http(&[
        "--timeout",
        "200ms",
        &format!("http://127.0.0.1:{port}/slow"),
    ]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        stderr(&out),
        format!(
            "wirekit: request to http://127.0.0.1:{port}/slow timed out after 200ms (raise --timeout)\n"
        )
    );
}

#[test]
fn auth_proxy_and_resolve() {
    let (_p, port) = peer(None);
    let out = http(&["-a", "ada:secret", &format!(":{port}/echo")]);
    // base64("ada:secret")
    assert_eq!(
        header(&json(&out), "authorization"),
        Some("Basic YWRhOnNlY3JldA==")
    );
    let out = http(&["--bearer", "tok", &format!(":{port}/echo")]);
    assert_eq!(header(&json(&out), "authorization"), Some("Bearer tok"));

    // --proxy: the peer is asked for an absolute URI of a host no resolver knows.
    let out = http(&[
        "--proxy",
        &format!("http://127.0.0.1:{port}"),
        "http://proxied.invalid/echo",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["path"], "http://proxied.invalid/echo");
    // ... and from the environment.
    let mut cmd = wirekit(&["http", "http://proxied.invalid/echo/env"]);
    cmd.env("HTTP_PROXY", format!("http://127.0.0.1:{port}"));
    cmd.env("http_proxy", format!("http://127.0.0.1:{port}"));
    let out = run(cmd, None, LIMIT);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["path"], "http://proxied.invalid/echo/env");

    // --resolve: a made-up name reaches 127.0.0.1 and keeps its Host header.
    let out = http(&[
        "--resolve",
        &format!("api.example.test:{port}:127.0.0.1"),
        &format!("http://api.example.test:{port}/echo"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        header(&json(&out), "host"),
        Some(format!("api.example.test:{port}").as_str())
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, all EC P-256.
fn make_pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=wirekit test CA"];
    ca.extend_from_slice(&ec);
    ca.extend_from_slice(&["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
    for (name, cn) in [("server", "localhost"), ("client", "wirekit client")] {
        let subj = format!("/CN={cn}");
        let mut req = vec!["req", "-new", "-subj", subj.as_str()];
        req.extend_from_slice(&ec);
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        let ext = format!("{name}.ext");
        req.extend_from_slice(&["-keyout", &key, "-out", &csr]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &pem,
            ],
        );
    }
}

#[test]
fn tls_verification_and_client_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    make_pki(d);
    let (_p, port) = peer_with(
        None,
        &[
            ("PEER_CERT", &d.join("server.pem")),
            ("PEER_KEY", &d.join("server.key")),
        ],
    );
    let url = format!("https://localhost:{port}/echo");
    // Not trusted: exit 1, the host named, the fix suggested.
    let out = http(&[&url]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("localhost:{port}")) && err.contains("--verify"),
        "{err}"
    );
    // Trusted through --verify CAFILE, or checks off.
    let ca = d.join("ca.pem");
    let out = http(&["--verify", ca.to_str().expect("path"), &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["method"], "GET");
    let out = http(&["--verify", "no", &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // A server that wants a client certificate.
    let (_p2, port2) = peer_with(
        None,
        &[
            ("PEER_CERT", &d.join("server.pem")),
            ("PEER_KEY", &d.join("server.key")),
            ("PEER_CLIENT_CA", &ca),
        ],
    );
    let url2 = format!("https://127.0.0.1:{port2}/echo");
    let out = http(&[
        "--verify",
        ca.to_str().expect("path"),
        "--cert",
        d.join("client.pem").to_str().expect("path"),
        "--cert-key",
        d.join("client.key").to_str().expect("path"),
        &url2,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["client_cn"], "wirekit client");
    let out = http(&["--verify", ca.to_str().expect("path"), &url2]);
    assert_eq!(code(&out), 1, "no client certificate: {}", stdout(&out));
}

#[test]
fn timeouts_are_retried() {
    let (_p, port) = peer(None);
    let out = http(&[
        "--timeout",
        "300ms",
        "--retry",
        "1",
        "--retry-delay",
        "10ms",
        &format!("http://127.0.0.1:{port}/slow"),
    ]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert_eq!(err.matches("retrying").count(), 1, "{err}");
    assert!(err.contains("timed out"), "{err}");
}

/// Every duration flag refuses values that would overflow (1e300 panicked once),
/// NaN, infinity and negatives: exit 2, the value named, no panic.
#[test]
fn duration_flags_reject_out_of_range() {
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["http", "--connect-timeout", "1e300", "http://127.0.0.1:1/"],
            "1e300",
            "too long",
        ),
        (
            &["http", "--timeout", "nan", "http://127.0.0.1:1/"],
            "nan",
            "not a duration",
        ),
        (
            &["http", "--timeout", "inf", "http://127.0.0.1:1/"],
            "inf",
            "not a duration",
        ),
        (
            &["http", "--timeout=-1", "http://127.0.0.1:1/"],
            "-1",
            "negative",
        ),
        (
            &["http", "--timeout", "400d", "http://127.0.0.1:1/"],
            "400d",
            "too long",
        ),
        (
            &["fetch", "--connect-timeout", "1e300", "http://127.0.0.1:1/"],
            "1e300",
            "too long",
        ),
    ];
    for (args, value, why) in cases {
        let out = run(wirekit(args), None, LIMIT);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(err.contains(&format!("'{value}'")), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// Global flags sit under their own "Global options" heading in every command's
/// help, and http's -v says it prints the exchange.
#[test]
fn help_puts_global_flags_under_their_own_heading() {
    for cmd in ["http", "fetch", "serve", "tcp", "resolve"] {
        let out = run(wirekit(&[cmd, "--help"]), None, LIMIT);
        assert_eq!(code(&out), 0, "{cmd}");
        let text = stdout(&out);
        let at = text
            .find("\nGlobal options:\n")
            .unwrap_or_else(|| panic!("{cmd} --help has no Global options heading:\n{text}"));
        let (own, global) = text.split_at(at);
        for flag in ["--verbose", "--quiet", "--log-format", "--color"] {
            assert!(
                global.contains(flag),
                "{cmd}: {flag} not under Global options"
            );
            assert!(
                !own.contains(flag),
                "{cmd}: {flag} mixed into the command's own flags"
            );
        }
    }
    let text = stdout(&run(wirekit(&["http", "--help"]), None, LIMIT));
    assert!(text.contains("print the whole exchange"), "{text}");
}

/// `http -d` of the peer's `/trickle` (a quarter at once, then slowly) in `dir`, stopped by
/// `signal` once `NAME.part` holds that quarter: the exit code, the stderr, the `.part` size.
fn stopped_download(
    dir: &Path,
    port: u16,
    extra: &[&str],
    signal_name: &str,
) -> (i32, String, u64) {
    let url = format!("http://127.0.0.1:{port}/trickle");
    let mut args = vec!["http", "-d"];
    args.extend_from_slice(extra);
    args.push(&url);
    let mut cmd = wirekit(&args);
    cmd.current_dir(dir);
    let mut p = Proc::start(cmd);
    let part = dir.join("trickle.part");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&part).map_or(0, |m| m.len()) < (3 << 20) / 4 {
        assert!(
            Instant::now() < deadline,
            "no quarter of the body in {part:?} after 20 s"
        );
        assert!(
            p.alive(),
            "the download ended early: {}",
            p.so_far(Pipe::Stderr)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(p.pid(), signal_name);
    let out = p.wait(Duration::from_secs(20));
    let size = std::fs::metadata(&part).expect("NAME.part kept").len();
    (code(&out), stderr(&out), size)
}

#[test]
fn ctrl_c_keeps_the_part_file_and_prints_the_resume_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = data_file(dir.path(), 3 << 20);
    let (_p, port) = peer(Some(&src));
    let url = format!("http://127.0.0.1:{port}/trickle");
    let work = dir.path().join("dl");
    std::fs::create_dir(&work).expect("mkdir");
    let (exit, err, size) = stopped_download(&work, port, &[], "INT");
    assert_eq!(exit, 130, "{err}");
    assert!(((3 << 20) / 4..3 << 20).contains(&size), "{size}");
    assert_eq!(
        err,
        format!(
            "wirekit: SIGINT: download of {url} stopped after {size} of {} bytes; \
             the partial data is in 'trickle.part'; resume with: wirekit http -c -o trickle {url}\n",
            3 << 20
        )
    );
    assert!(!work.join("trickle").exists(), "no file that looks whole");

    // -d again without -c: refused, pointing at -c; the .part stays as it was, no trickle-1.
    let mut cmd = wirekit(&["http", "-d", &url]);
    cmd.current_dir(&work);
    let out = run(cmd, None, LIMIT);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "'trickle.part' holds {size} bytes of an unfinished download of 'trickle'; \
             resume it with: wirekit http -c -o trickle {url}"
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::metadata(work.join("trickle.part"))
            .expect("part")
            .len(),
        size
    );
    let names: Vec<_> = std::fs::read_dir(&work)
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["trickle.part"]);

    // The hint's command completes it: the file equals the source.
    let mut cmd = wirekit(&["http", "-c", "-o", "trickle", &url]);
    cmd.current_dir(&work);
    let out = run(cmd, None, LIMIT);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!work.join("trickle.part").exists());
    assert_eq!(sha256_file(&work.join("trickle")), sha256_file(&src));
}

#[test]
fn sigterm_during_download_exits_143_and_a_timeout_names_the_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = data_file(dir.path(), 3 << 20);
    let (_p, port) = peer(Some(&src));
    let url = format!("http://127.0.0.1:{port}/trickle");
    let work = dir.path().join("dl");
    std::fs::create_dir(&work).expect("mkdir");
    let (exit, err, size) = stopped_download(&work, port, &["-o", "trickle"], "TERM");
    assert_eq!(exit, 143, "{err}");
    assert!(
        err.starts_with(&format!(
            "wirekit: SIGTERM: download of {url} stopped after {size} of"
        )),
        "{err}"
    );
    assert!(
        err.contains("resume with: wirekit http -c -o trickle"),
        "{err}"
    );
    std::fs::remove_file(work.join("trickle.part")).expect("rm");

    // A total timeout that strikes in the body: the URL and the limit are named, and the
    // partial data is kept for -c.
    let mut cmd = wirekit(&["http", "--timeout", "1s", "-d", &url]);
    cmd.current_dir(&work);
    let out = run(cmd, None, LIMIT);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "request to {url} timed out after 1s (raise --timeout)"
        )),
        "{err}"
    );
    assert!(
        err.contains("resume with: wirekit http -c -o trickle"),
        "{err}"
    );
    let mut cmd = wirekit(&["http", "-c", "-o", "trickle", &url]);
    cmd.current_dir(&work);
    let out = run(cmd, None, LIMIT);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sha256_file(&work.join("trickle")), sha256_file(&src));
}

/// The time limits refuse 0 and the counts of `fetch` refuse what is out of range: exit 2,
/// the flag and the value named, no panic.
#[test]
fn numeric_flags_reject_out_of_range() {
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["http", "--timeout", "0", "http://127.0.0.1:1/"],
            "'--timeout <DURATION>'",
            "would fail every request",
        ),
        (
            &["fetch", "--connect-timeout", "0ms", "http://127.0.0.1:1/"],
            "'--connect-timeout <DURATION>'",
            "would fail every request",
        ),
        (
            &["fetch", "-j", "0", "http://127.0.0.1:1/"],
            "'--jobs <N>'",
            "'0' is out of range",
        ),
        (
            &["fetch", "--per-host", "100001", "http://127.0.0.1:1/"],
            "'--per-host <N>'",
            "from 1 to 100000",
        ),
        (
            &[
                "fetch",
                "-j",
                "99999999999999999999999",
                "http://127.0.0.1:1/",
            ],
            "'--jobs <N>'",
            "not a count",
        ),
        (
            &["fetch", "--per-host=-3", "http://127.0.0.1:1/"],
            "'--per-host <N>'",
            "not a count",
        ),
        (
            &["http", "--retry=-1", "http://127.0.0.1:1/"],
            "'--retry <N>'",
            "-1",
        ),
        (
            &["http", "--retry", "99999999999", "http://127.0.0.1:1/"],
            "'--retry <N>'",
            "is not in 0..=4294967295",
        ),
        (
            &["fetch", "--max-redirects=-1", "http://127.0.0.1:1/"],
            "'--max-redirects <N>'",
            "-1",
        ),
        (
            &["fetch", "--retry-delay", "1e300", "http://127.0.0.1:1/"],
            "'--retry-delay <DURATION>'",
            "too long",
        ),
        (
            &["http", "--retry-max-time", "nan", "http://127.0.0.1:1/"],
            "'--retry-max-time <DURATION>'",
            "not a duration",
        ),
    ];
    for (args, flag, why) in cases {
        let out = run(wirekit(args), None, LIMIT);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
