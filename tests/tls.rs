//! TLS on `tcp listen` / `tcp connect`, `wirekit cert`, `wirekit tls inspect`,
//! against real peers: `openssl s_client`, `openssl s_server`, Python's `ssl`.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// A CA and files made by `wirekit cert`, in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// `cert ca` plus a server certificate for localhost and 127.0.0.1 signed by it.
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().to_str().expect("utf-8 path").to_string();
        let o = run(wirekit(&["cert", "ca", "--out", &out]), None, T);
        assert_eq!(code(&o), 0, "cert ca: {}", stderr(&o));
        let pki = Pki { dir };
        pki.leaf(&["localhost", "127.0.0.1"], true);
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).to_str().expect("utf-8 path").to_string()
    }

    /// `cert new NAMES... [--ca]`; returns (cert, key) paths.
    fn leaf(&self, names: &[&str], signed: bool) -> (String, String) {
        let out = self.dir.path().to_str().expect("utf-8 path").to_string();
        let mut args = vec!["cert", "new"];
        args.extend_from_slice(names);
        args.extend_from_slice(&["--out", &out, "--json", "--force"]);
        let (ca, ca_key) = (self.p("ca.pem"), self.p("ca-key.pem"));
        if signed {
            args.extend_from_slice(&["--ca", &ca, "--ca-key", &ca_key]);
        }
        let o = run(wirekit(&args), None, T);
        assert_eq!(code(&o), 0, "cert new: {}", stderr(&o));
        let v: serde_json::Value =
            serde_json::from_str(stdout(&o).trim()).expect("cert new --json");
        (
            v["cert"].as_str().expect("cert").to_string(),
            v["key"].as_str().expect("key").to_string(),
        )
    }

    fn server_cert(&self) -> (String, String) {
        (self.p("localhost+1.pem"), self.p("localhost+1-key.pem"))
    }
}

fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// `wirekit tcp connect HOST:PORT --tls --cacert CA EXTRA...`, bounded by `T`.
fn tls_connect(host_port: &str, ca: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["tcp", "connect", host_port, "--tls", "--cacert", ca];
    args.extend_from_slice(extra);
    run(wirekit(&args), None, T)
}

/// Start `openssl s_server` on port 0 with these extra arguments; the server and
/// the port it announces (`ACCEPT [::]:PORT` on stdout).
fn s_server(cert: &str, key: &str, extra: &[&str]) -> (Proc, u16) {
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["s_server", "-cert", cert, "-key", key, "-accept", "0"]);
    cmd.args(extra);
    let p = Proc::start(cmd);
    let port = p.port_after(Pipe::Stdout, "ACCEPT ");
    (p, port)
}

#[test]
fn cert_files_and_modes() {
    let pki = Pki::new();
    for key in ["ca-key.pem", "localhost+1-key.pem"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(pki.path(key))
                .expect("key file")
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{key} must be 0600");
    }
    // openssl agrees that the leaf chains to the CA, and sees the names.
    let mut cmd = std::process::Command::new("openssl");
    cmd.args([
        "verify",
        "-CAfile",
        &pki.p("ca.pem"),
        &pki.p("localhost+1.pem"),
    ]);
    let o = run(cmd, None, T);
    assert_eq!(code(&o), 0, "openssl verify: {}{}", stdout(&o), stderr(&o));
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["x509", "-noout", "-text", "-in", &pki.p("localhost+1.pem")]);
    let text = stdout(&run(cmd, None, T));
    assert!(text.contains("DNS:localhost"), "{text}");
    assert!(text.contains("IP Address:127.0.0.1"), "{text}");
    assert!(
        text.contains("prime256v1") || text.contains("P-256"),
        "{text}"
    );
    // A second `cert ca` into the same place refuses to overwrite the CA.
    let o = run(wirekit(&["cert", "ca", "--out", &pki.p("")]), None, T);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    // A self-signed leaf is written too.
    let (cert, _) = pki.leaf(&["solo.test"], false);
    assert!(cert.ends_with("solo.test.pem"));
}

#[test]
fn openssl_s_client_verifies_tcp_listen_tls() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert();
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
        "--reply",
        "hello client",
    ]);
    let mut cmd = std::process::Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &addr(port),
        "-CAfile",
        &pki.p("ca.pem"),
        "-servername",
        "localhost",
        "-verify_return_error",
        "-verify_hostname",
        "localhost",
        "-brief",
        "-ign_eof",
    ]);
    let o = run(cmd, Some(b"hello server\n"), T);
    assert_eq!(code(&o), 0, "s_client: {}", stderr(&o));
    assert!(stdout(&o).contains("hello client"), "{}", stdout(&o));
    assert!(stderr(&o).contains("Verification: OK"), "{}", stderr(&o));
    let s = server.wait(T);
    assert_eq!(code(&s), 0, "{}", stderr(&s));
    assert!(
        stdout(&s).contains("hello server"),
        "server saw plaintext: {}",
        stdout(&s)
    );
}

#[test]
fn tcp_connect_tls_to_openssl_s_server() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert();
    let (_server, port) = s_server(&cert, &key, &["-rev"]);
    let o = tls_connect(
        &format!("localhost:{port}"),
        &pki.p("ca.pem"),
        // s_server -rev answers each line and waits for the client to end.
        &["--close-notify", "--send", "hello\n"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("olleh"),
        "s_server -rev answer: {:?}",
        stdout(&o)
    );
}

/// The seed's §5.1 server, completed: it accepts, reads, answers, closes.
/// (The seed wraps the socket before bind/listen; kept so.)
const SEED_SERVER: &str = r#"
import ssl, socket, sys
certfile, keyfile, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(certfile=certfile, keyfile=keyfile)

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    with context.wrap_socket(sock, server_side=True) as ssock:
        ssock.bind(('localhost', port))
        ssock.listen(5)
        while True:
            try:
                conn, addr = ssock.accept()   # the handshake runs here
            except (ssl.SSLError, OSError):
                continue                      # a port probe, not a TLS client
            with conn:
                data = conn.recv(1024)
                conn.sendall(b"python got: " + data)
                # Lingering close: read to the client's close_notify, so closing
                # with it unread does not reset the connection and lose the answer.
                while conn.recv(1024):
                    pass
            break
"#;

#[test]
fn python_seed_ssl_server_and_tcp_connect_tls() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert();
    // The seed's server binds the port it is given and does not announce it.
    let port = free_port();
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-c", SEED_SERVER, &cert, &key, &port.to_string()]);
    let server = Proc::start(cmd);
    wait_for_port(port);
    let o = tls_connect(
        &format!("localhost:{port}"),
        &pki.p("ca.pem"),
        // This server reads until the client's close_notify: send it.
        &["--close-notify", "--send", "hello from wirekit"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "python got: hello from wirekit");
    let s = server.wait(T);
    assert_eq!(code(&s), 0, "python server: {}", stderr(&s));

    // The seed's bare loop (no lingering close: read once, answer, close): by
    // default wirekit, as ncat, sends nothing at the end of input and reads until
    // the server closes, so the answer arrives every time (issue 11, defect 9).
    let bare: String = SEED_SERVER
        .lines()
        .filter(|l| !l.contains("while conn.recv") && l.trim() != "pass")
        .collect::<Vec<_>>()
        .join("\n");
    for round in 0..5 {
        let port = free_port(); // the seed's server again: it binds the port it is given
        let mut cmd = std::process::Command::new("python3");
        cmd.args(["-c", &bare, &cert, &key, &port.to_string()]);
        let server = Proc::start(cmd);
        wait_for_port(port);
        let o = tls_connect(
            &format!("localhost:{port}"),
            &pki.p("ca.pem"),
            &["--send", "Hello"],
        );
        assert_eq!(code(&o), 0, "round {round}: {}", stderr(&o));
        assert_eq!(stdout(&o), "python got: Hello", "round {round}");
        assert_eq!(code(&server.wait(T)), 0);
    }
}

#[test]
fn mutual_tls_accepts_good_client_refuses_none_and_foreign() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert();
    let (ccert, ckey) = pki.leaf(&["client.test"], true);
    let other = tempfile::tempdir().expect("tempdir");
    let o = run(
        wirekit(&[
            "cert",
            "new",
            "intruder.test",
            "--out",
            other.path().to_str().expect("path"),
        ]),
        None,
        T,
    );
    assert_eq!(code(&o), 0);
    let fcert = other.path().join("intruder.test.pem");
    let fkey = other.path().join("intruder.test-key.pem");
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
        "--client-ca",
        &pki.p("ca.pem"),
        "--reply",
        "welcome",
    ]);
    let target = format!("localhost:{port}");
    let ca = pki.p("ca.pem");
    let base = [
        "tcp",
        "connect",
        target.as_str(),
        "--tls",
        "--cacert",
        ca.as_str(),
        "--send",
        "hi",
    ];

    let mut args = base.to_vec();
    args.extend_from_slice(&["--cert", &ccert, "--key", &ckey]);
    let o = run(wirekit(&args), None, T);
    assert_eq!(code(&o), 0, "good client: {}", stderr(&o));
    assert_eq!(stdout(&o), "welcome");

    let o = run(wirekit(&base), None, T);
    assert_ne!(code(&o), 0, "no client certificate must be refused");
    assert!(!stdout(&o).contains("welcome"));

    let (fc, fk) = (fcert.to_str().expect("path"), fkey.to_str().expect("path"));
    let mut args = base.to_vec();
    args.extend_from_slice(&["--cert", fc, "--key", fk]);
    let o = run(wirekit(&args), None, T);
    assert_ne!(code(&o), 0, "a foreign client certificate must be refused");
    assert!(!stdout(&o).contains("welcome"));

    // openssl s_client without a certificate is refused too.
    let mut cmd = std::process::Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &addr(port),
        "-CAfile",
        &ca,
        "-quiet",
    ]);
    let o = run(cmd, Some(b"hi\n"), T);
    assert!(!stdout(&o).contains("welcome"), "{}", stdout(&o));

    // The server stayed up and still serves a good client.
    let mut args = base.to_vec();
    args.extend_from_slice(&["--cert", &ccert, "--key", &ckey]);
    let o = run(wirekit(&args), None, T);
    assert_eq!(code(&o), 0, "good client after refusals: {}", stderr(&o));
    assert_eq!(stdout(&o), "welcome");

    let s = server.terminate(T);
    let log = stderr(&s);
    assert!(log.contains("sent no certificate"), "server log: {log}");
    assert!(
        log.contains("not issued by a CA in --client-ca"),
        "server log: {log}"
    );
}

/// A leaf for `names` signed by the test CA with dates in the past.
fn expired_cert(pki: &Pki) -> (String, String) {
    let ca = wirekit::tls::cert::Ca::load(&pki.path("ca.pem"), &pki.path("ca-key.pem"))
        .expect("load CA");
    let mut params = wirekit::tls::cert::leaf_params(&["localhost".into(), "127.0.0.1".into()], 1)
        .expect("params");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let made = ca.sign(&params).expect("sign");
    let (cert, key) = (pki.path("expired.pem"), pki.path("expired-key.pem"));
    std::fs::write(&cert, made.cert_pem).expect("write");
    std::fs::write(&key, made.key_pem).expect("write");
    (path_str(&cert), path_str(&key))
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

/// `tcp listen -k --tls --echo` with this certificate and key, and its port.
fn tls_echo_server(cert: &str, key: &str) -> (Proc, u16) {
    Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--tls",
        "--cert",
        cert,
        "--key",
        key,
        "--echo",
    ])
}

#[test]
fn expired_certificate_is_refused_and_named() {
    let pki = Pki::new();
    let (cert, key) = expired_cert(&pki);
    let (_server, port) = tls_echo_server(&cert, &key);
    let o = tls_connect(
        &format!("localhost:{port}"),
        &pki.p("ca.pem"),
        &["--send", "x"],
    );
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("expired on 2021-01-01"), "{err}");
    assert!(err.contains("localhost"), "{err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn wrong_host_name_is_refused_and_named() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf(&["other.test"], true);
    let (_server, port) = tls_echo_server(&cert, &key);
    let ca = pki.p("ca.pem");
    let o = tls_connect(&addr(port), &ca, &["--send", "x"]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("wrong host name"), "{err}");
    assert!(
        err.contains("other.test"),
        "names the certificate's names: {err}"
    );
    assert!(err.contains("--sni"), "tells the fix: {err}");
    // Naming the host the certificate is for makes it verify.
    let o = tls_connect(
        &addr(port),
        &ca,
        &["--sni", "other.test", "--close-notify", "--send", "x"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "x");
}

#[test]
fn unknown_issuer_and_insecure() {
    // No --cert: a self-signed certificate made in memory, fingerprint on stderr.
    let (server, port) = Proc::server(&["tcp", "listen", "127.0.0.1:0", "-k", "--tls", "--echo"]);
    let o = run(
        wirekit(&["tcp", "connect", &addr(port), "--tls", "--send", "x"]),
        None,
        T,
    );
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("unknown authority"), "{err}");
    assert!(
        err.contains("--cacert FILE") && err.contains("--insecure"),
        "{err}"
    );

    let o = run(
        wirekit(&[
            "tcp",
            "connect",
            &addr(port),
            "--tls",
            "--insecure",
            "--close-notify",
            "--send",
            "secret",
        ]),
        None,
        T,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "secret");
    assert!(stderr(&o).contains("NOT verified"), "warns: {}", stderr(&o));

    // The fingerprint printed by the server is the one the client sees.
    let o = run(wirekit(&["tls", "inspect", &addr(port), "--json"]), None, T);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let fp = v["certificates"][0]["sha256"]
        .as_str()
        .expect("sha256")
        .to_string();
    assert_eq!(v["verified"], false);
    let s = server.terminate(T);
    assert!(
        stderr(&s).contains(&fp),
        "server printed fingerprint {fp}: {}",
        stderr(&s)
    );
    assert!(stderr(&s).contains("self-signed"), "{}", stderr(&s));
}

#[test]
fn tls_inspect_reports_openssl_s_server() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf(&["inspect.test", "127.0.0.1"], true);
    // -rev: answer without reading s_server's stdin (which is empty here).
    let (_server, port) = s_server(&cert, &key, &["-rev", "-alpn", "h2,http/1.1"]);
    let o = run(
        wirekit(&[
            "tls",
            "inspect",
            &addr(port),
            "--sni",
            "inspect.test",
            "--cacert",
            &pki.p("ca.pem"),
            "--json",
        ]),
        None,
        T,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["protocol"], "TLSv1.3");
    assert_eq!(v["alpn"], "h2");
    assert_eq!(v["verified"], true, "{v}");
    assert!(
        v["cipher"].as_str().expect("cipher").starts_with("TLS13_"),
        "{v}"
    );
    let leaf = &v["certificates"][0];
    assert!(
        leaf["subject"]
            .as_str()
            .expect("subject")
            .contains("CN=inspect.test"),
        "{leaf}"
    );
    assert!(
        leaf["issuer"]
            .as_str()
            .expect("issuer")
            .contains("wirekit local CA"),
        "{leaf}"
    );
    let sans: Vec<&str> = leaf["sans"]
        .as_array()
        .expect("sans")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(sans, ["DNS:inspect.test", "IP:127.0.0.1"]);
    assert_eq!(leaf["key"], "ECDSA P-256");
    // The fingerprint openssl computes for the file.
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["x509", "-noout", "-fingerprint", "-sha256", "-in", &cert]);
    let fp = stdout(&run(cmd, None, T));
    let fp = fp
        .trim()
        .rsplit('=')
        .next()
        .expect("fingerprint")
        .to_string();
    assert_eq!(leaf["sha256"], fp.as_str());
    assert!(leaf["not_after"].as_str().expect("not_after").len() >= 20);

    // Without the CA the handshake still completes and the report says why not.
    let o = run(
        wirekit(&["tls", "inspect", &addr(port), "--sni", "inspect.test"]),
        None,
        T,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(
            "verified    NO: the certificate of inspect.test was issued by an unknown authority"
        ),
        "{text}"
    );
    assert!(text.contains("ECDSA P-256"), "{text}");
    // With the CA but the wrong name: wrong host name.
    let o = run(
        wirekit(&[
            "tls",
            "inspect",
            &addr(port),
            "--sni",
            "elsewhere.test",
            "--cacert",
            &pki.p("ca.pem"),
        ]),
        None,
        T,
    );
    assert!(stdout(&o).contains("wrong host name"), "{}", stdout(&o));
}

#[test]
fn failed_handshake_keeps_server_up_and_dump_is_plaintext() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert();
    let dump = pki.path("dump.txt");
    // Without -k: the first client that completes the handshake is the one served.
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
        "--reply",
        "answer",
        "--hex-dump",
        &path_str(&dump),
    ]);
    // A plain-text client fails the handshake...
    let o = run(
        wirekit(&[
            "tcp",
            "connect",
            &addr(port),
            "--send",
            "GET / HTTP/1.0\r\n\r\n",
        ]),
        None,
        T,
    );
    assert!(!stdout(&o).contains("answer"));
    // ...and the server is still there for a TLS client.
    let o = tls_connect(
        &format!("localhost:{port}"),
        &pki.p("ca.pem"),
        &["--send", "plaintext-question"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "answer");
    let s = server.wait(T);
    assert_eq!(code(&s), 0, "{}", stderr(&s));
    assert!(stderr(&s).contains("TLS handshake with"), "{}", stderr(&s));
    let dumped = std::fs::read_to_string(&dump).expect("dump file");
    assert!(
        dumped.contains("plaintext"),
        "hex dump shows plaintext: {dumped}"
    );
}

#[test]
fn bad_tls_usage() {
    let o = run(
        wirekit(&["tcp", "connect", "127.0.0.1:1", "--cacert", "x.pem"]),
        None,
        T,
    );
    assert_eq!(code(&o), 2, "--cacert needs --tls");
    let o = run(
        wirekit(&["tcp", "listen", "127.0.0.1:0", "--tls", "--cert", "x.pem"]),
        None,
        T,
    );
    assert_eq!(code(&o), 2, "--cert needs --key");
    let o = run(
        wirekit(&[
            "tcp",
            "listen",
            "127.0.0.1:0",
            "--tls",
            "--cert",
            "/nonexistent/c.pem",
            "--key",
            "/nonexistent/k.pem",
        ]),
        None,
        T,
    );
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("/nonexistent/c.pem"), "{}", stderr(&o));
    let o = run(
        wirekit(&["cert", "new", "bad name!", "--out", "/tmp"]),
        None,
        T,
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let port = free_port(); // never connected to: the flags are refused first (exit 2)
    let o = run(
        wirekit(&[
            "tcp",
            "connect",
            &addr(port),
            "--tls",
            "--insecure",
            "--cacert",
            "x.pem",
            "--send",
            "x",
        ]),
        None,
        T,
    );
    assert_eq!(code(&o), 2);
}

#[test]
fn every_tcp_mode_over_tls() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert();
    let ca = pki.p("ca.pem");
    let client = |port: u16, extra: &[&str], stdin: Option<&[u8]>| {
        let target = format!("localhost:{port}");
        let mut args = vec![
            "tcp",
            "connect",
            target.as_str(),
            "--tls",
            "--cacert",
            ca.as_str(),
            // These servers answer until the client's input ends: say so.
            "--close-notify",
        ];
        args.extend_from_slice(extra);
        run(wirekit(&args), stdin, T)
    };
    let tls = ["--tls", "--cert", cert.as_str(), "--key", key.as_str()];
    let serve = |mode: &[&str]| {
        let mut args = vec!["tcp", "listen", "127.0.0.1:0", "-k"];
        args.extend_from_slice(&tls);
        args.extend_from_slice(mode);
        Proc::server(&args)
    };

    let (_s, port) = serve(&["--echo"]);
    let o = client(port, &[], Some(b"line one\nline two\n"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "line one\nline two\n",
        "stdin piped through an echo server"
    );

    let (_s, port) = serve(&["--exec", "cat"]);
    let o = client(port, &["--send", "through cat"], None);
    assert_eq!(stdout(&o), "through cat", "{}", stderr(&o));

    let (_s, port) = serve(&["--sh-exec", "tr a-z A-Z"]);
    let o = client(port, &["--send", "shout"], None);
    assert_eq!(stdout(&o), "SHOUT", "{}", stderr(&o));

    let (s, port) = serve(&["--discard"]);
    let o = client(port, &["--zero-source", "3M"], None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = s.terminate(T);
    assert!(
        stdout(&out).contains("received 3145728 bytes"),
        "{}",
        stdout(&out)
    );

    // Pipe mode, one client: what it sends goes to the server's stdout.
    let mut args = vec!["tcp", "listen", "127.0.0.1:0"];
    args.extend_from_slice(&tls);
    let (s, port) = Proc::server(&args);
    let o = client(port, &["--send", "to the server's stdout"], None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = s.wait(T);
    assert_eq!(stdout(&out), "to the server's stdout");
}

#[test]
fn serve_over_tls_speaks_h2_by_alpn_and_http1() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert();
    let site = tempfile::tempdir().expect("tempdir");
    std::fs::write(site.path().join("hello.txt"), "hello over tls").expect("write");
    let root = path_str(site.path());
    let (server, port) = Proc::server(&[
        "serve", &root, "-p", "0", "--tls", "--cert", &cert, "--key", &key,
    ]);
    let url = format!("https://localhost:{port}/hello.txt");
    let ca = pki.p("ca.pem");
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let mut cmd = std::process::Command::new("curl");
        cmd.args(["-sS", "--cacert", &ca, flag, "-w", " %{http_version}", &url]);
        let out = run(cmd, None, T);
        assert_eq!(code(&out), 0, "curl {flag}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("hello over tls {version}"));
    }
    // Without the CA the certificate is not trusted (curl exit 60).
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", &url]);
    assert_eq!(code(&run(cmd, None, T)), 60);
    // openssl s_client verifies the chain and agrees on h2.
    let mut cmd = std::process::Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &addr(port),
        "-servername",
        "localhost",
        "-CAfile",
        &ca,
        "-alpn",
        "h2,http/1.1",
        "-verify_return_error",
    ]);
    let out = run(cmd, Some(b""), T);
    let text = stdout(&out);
    assert!(text.contains("ALPN protocol: h2"), "{text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    // wirekit's own client, trusting the CA.
    let out = run(wirekit(&["http", "--verify", &ca, "-b", &url]), None, T);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello over tls");
    drop(server);
}

/// Issue 11, defect 2: `cert new` keeps an existing certificate unless --force;
/// the kept file is still the one openssl reads.
#[test]
fn cert_new_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8 path");
    let first = run(wirekit(&["cert", "new", "x.test", "--out", out]), None, T);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let pem = dir.path().join("x.test.pem");
    let before = std::fs::read(&pem).expect("read");
    let again = run(wirekit(&["cert", "new", "x.test", "--out", out]), None, T);
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    assert!(
        stderr(&again).contains(&format!("{} already exists", pem.display()))
            && stderr(&again).contains("--force"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(&pem).expect("read"), before);
    let forced = run(
        wirekit(&["cert", "new", "x.test", "--out", out, "--force"]),
        None,
        T,
    );
    assert_eq!(code(&forced), 0, "{}", stderr(&forced));
    assert_ne!(std::fs::read(&pem).expect("read"), before);
    let mut openssl = std::process::Command::new("openssl");
    openssl.args([
        "x509",
        "-noout",
        "-subject",
        "-in",
        pem.to_str().expect("utf-8"),
    ]);
    let o = run(openssl, None, T);
    assert!(stdout(&o).contains("x.test"), "{}", stderr(&o));
}

/// Issue 11, defect 5: a validity past year 9999 is bad usage, not a panic,
/// and `cert ca` leaves no folder behind.
#[test]
fn cert_days_past_year_9999_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("certs");
    let out_s = out.to_str().expect("utf-8 path");
    let o = run(
        wirekit(&["cert", "new", "x.test", "--days", "2913000", "--out", out_s]),
        None,
        T,
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--days 2913000 is too long"),
        "{}",
        stderr(&o)
    );
    let o = run(
        wirekit(&["cert", "ca", "--days", "3000000", "--out", out_s]),
        None,
        T,
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(!out.exists(), "cert ca left {out_s} behind");
}

/// `openssl req -x509` as an openssl user makes a certificate (OpenSSL 3 marks
/// it CA:TRUE), in `dir`; returns (cert, key).
fn openssl_self_signed(dir: &Path, name: &str, subj: &str, san: &str) -> (String, String) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    let mut cmd = std::process::Command::new("openssl");
    cmd.args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
    ]);
    cmd.args(["-nodes", "-days", "30", "-subj", subj, "-addext", san]);
    cmd.args(["-keyout", &path_str(&key), "-out", &path_str(&cert)]);
    let o = run(cmd, None, T);
    assert_eq!(code(&o), 0, "openssl req: {}", stderr(&o));
    (path_str(&cert), path_str(&key))
}

/// The SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it (`AB:CD:...`).
fn openssl_fingerprint(cert: &str) -> String {
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["x509", "-in", cert, "-noout", "-fingerprint", "-sha256"]);
    let o = run(cmd, None, T);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    out.trim()
        .rsplit('=')
        .next()
        .expect("fingerprint")
        .to_string()
}

/// An expired certificate made the way openssl users make them (self-signed,
/// CA:TRUE), with Python's cryptography; returns (cert, key).
fn python_expired_self_signed(dir: &Path) -> (String, String) {
    let (cert, key) = (dir.join("old.pem"), dir.join("old-key.pem"));
    let code_text = format!(
        r#"
import datetime
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
    .public_key(key.public_key()).serial_number(x509.random_serial_number())
    .not_valid_before(datetime.datetime(2020, 1, 1))
    .not_valid_after(datetime.datetime(2021, 1, 1))
    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    .sign(key, hashes.SHA256()))
open({cert:?}, "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open({key:?}, "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
print("ok")
"#,
        cert = path_str(&cert),
        key = path_str(&key)
    );
    python_ok(&code_text);
    (path_str(&cert), path_str(&key))
}

/// `tcp listen -k --tls --reply welcome` with this certificate and key, and its port.
fn tls_reply_server(cert: &str, key: &str) -> (Proc, u16) {
    Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--tls",
        "--cert",
        cert,
        "--key",
        key,
        "--reply",
        "welcome",
    ])
}

#[test]
fn openssl_self_signed_certificate_trusted_with_cacert_or_pin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = openssl_self_signed(
        dir.path(),
        "srv",
        "/CN=localhost",
        "subjectAltName=DNS:localhost",
    );
    let (_server, port) = tls_reply_server(&cert, &key);
    let host = format!("localhost:{port}");

    // Its own certificate as --cacert: accepted, as curl accepts it.
    let o = tls_connect(&host, &cert, &["--send", "hi"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "welcome");
    // ...but only for its name.
    let o = tls_connect(&addr(port), &cert, &["--send", "hi"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("the certificate of 127.0.0.1 is for localhost, not 127.0.0.1"),
        "{}",
        stderr(&o)
    );
    let o = tls_connect(&host, &cert, &["--sni", "other.test", "--send", "hi"]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("is for localhost, not other.test"), "{err}");
    assert!(!err.contains("DnsName"), "no debug text: {err}");
    assert!(stdout(&o).is_empty());

    // `http --verify CAFILE` (curl's --cacert) against `serve --tls`.
    let site = tempfile::tempdir().expect("tempdir");
    std::fs::write(site.path().join("a.txt"), "served").expect("write");
    let (_serve, sport) = Proc::server(&[
        "serve",
        &path_str(site.path()),
        "-p",
        "0",
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
    ]);
    let url = format!("https://localhost:{sport}/a.txt");
    let o = run(wirekit(&["http", "--verify", &cert, "-b", &url]), None, T);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "served");

    // --pin: exactly this certificate, however the fingerprint is written.
    let fp = openssl_fingerprint(&cert);
    let lower = fp.to_lowercase().replace(':', "");
    for pin in [format!("sha256:{fp}"), format!("sha256:{lower}")] {
        let o = run(
            wirekit(&[
                "tcp", "connect", &host, "--tls", "--pin", &pin, "--send", "hi",
            ]),
            None,
            T,
        );
        assert_eq!(code(&o), 0, "--pin {pin}: {}", stderr(&o));
        assert_eq!(stdout(&o), "welcome");
    }
    let o = run(
        wirekit(&["http", "--pin", &format!("sha256:{fp}"), "-b", &url]),
        None,
        T,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "served");
    let o = run(
        wirekit(&["tls", "inspect", &host, "--pin", &format!("sha256:{lower}")]),
        None,
        T,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("verified    yes"), "{}", stdout(&o));

    // A wrong pin: refused, naming the actual fingerprint to pin instead.
    let wrong = format!("sha256:{}", "00".repeat(32));
    let o = run(
        wirekit(&[
            "tcp", "connect", &host, "--tls", "--pin", &wrong, "--send", "hi",
        ]),
        None,
        T,
    );
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("is not the pinned one"), "{err}");
    assert!(err.contains(&format!("--pin sha256:{fp}")), "{err}");
    assert!(stdout(&o).is_empty());
    let o = run(wirekit(&["http", "--pin", &wrong, &url]), None, T);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is not the pinned one"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains(&fp), "{}", stderr(&o));
    // `fetch` takes the same client flags: the right pin fetches, a wrong one
    // is a failed line naming the fingerprint seen.
    let o = run(
        wirekit(&["fetch", "--pin", &format!("sha256:{fp}"), &url]),
        None,
        T,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let line: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON line");
    assert_eq!(line["status"], 200, "{line}");
    let o = run(wirekit(&["fetch", "--pin", &wrong, &url]), None, T);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let line: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON line");
    let why = line["error"].as_str().unwrap_or_default();
    assert!(
        why.contains("is not the pinned one") && why.contains(&fp),
        "{line}"
    );
    // Untrusted, `http` words it with the same sentences, in its own flags.
    let o = run(wirekit(&["http", &url]), None, T);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("is a CA certificate, not a server certificate"),
        "{err}"
    );
    assert!(
        err.contains("--verify CAFILE") && !err.contains("OtherError"),
        "{err}"
    );
    // A pin that is not a fingerprint is bad usage.
    let o = run(
        wirekit(&[
            "tcp",
            "connect",
            &host,
            "--tls",
            "--pin",
            "sha256:12zz",
            "--send",
            "x",
        ]),
        None,
        T,
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("64 hex digits"), "{}", stderr(&o));
}

#[test]
fn self_trusted_certificate_still_needs_valid_dates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = python_expired_self_signed(dir.path());
    let (_server, port) = tls_reply_server(&cert, &key);
    let host = format!("localhost:{port}");
    let o = tls_connect(&host, &cert, &["--send", "hi"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("expired on 2021-01-01"),
        "{}",
        stderr(&o)
    );
    let pin = format!("sha256:{}", openssl_fingerprint(&cert));
    let o = run(
        wirekit(&[
            "tcp", "connect", &host, "--tls", "--pin", &pin, "--send", "hi",
        ]),
        None,
        T,
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("expired on 2021-01-01"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

/// openssl's root -> intermediate -> leaf (localhost), in `dir`.
fn openssl_chain(dir: &Path) {
    let script = r#"set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root-key.pem -out root.pem -days 30 -subj "/CN=Test Root"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int-key.pem -out int.csr -subj "/CN=Test Intermediate"
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > int.ext
openssl x509 -req -in int.csr -CA root.pem -CAkey root-key.pem -CAcreateserial -days 30 -extfile int.ext -out int.pem
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf-key.pem -out leaf.csr -subj /CN=localhost
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n' > leaf.ext
openssl x509 -req -in leaf.csr -CA int.pem -CAkey int-key.pem -CAcreateserial -days 30 -extfile leaf.ext -out leaf.pem
"#;
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", script]).current_dir(dir);
    let o = run(cmd, None, T);
    assert_eq!(code(&o), 0, "openssl chain: {}", stderr(&o));
}

#[test]
fn tls_error_sentences_name_the_cause_and_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl_chain(dir.path());
    let f = |n: &str| path_str(&dir.path().join(n));

    // s_server sending only its leaf: the intermediate is missing, not the root.
    let (_s, port) = s_server(&f("leaf.pem"), &f("leaf-key.pem"), &["-rev"]);
    let o = tls_connect(
        &format!("localhost:{port}"),
        &f("root.pem"),
        &["--send", "hi"],
    );
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("issued by CN=Test Intermediate, an intermediate CA certificate that the server did not send"),
        "{err}"
    );
    // With the chain it verifies.
    let (_s, port) = s_server(
        &f("leaf.pem"),
        &f("leaf-key.pem"),
        &["-rev", "-cert_chain", &f("int.pem")],
    );
    let o = tls_connect(
        &format!("localhost:{port}"),
        &f("root.pem"),
        &["--close-notify", "--send", "hi\n"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "ih\n");

    // Old and weak clients, as the server logs them.
    let (server, port) = tls_echo_server(&f("leaf.pem"), &f("leaf-key.pem"));
    for (args, expected) in [
        (
            &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"][..],
            "client offered only TLS 1.0/1.1 (or older); wirekit needs TLS 1.2 or later",
        ),
        (
            &["-tls1_2", "-cipher", "AES128-SHA"][..],
            "no cipher suite in common",
        ),
    ] {
        let mut cmd = std::process::Command::new("openssl");
        cmd.args(["s_client", "-connect", &addr(port)]).args(args);
        let o = run(cmd, Some(b""), T);
        assert_ne!(code(&o), 0, "openssl s_client {args:?} must be refused");
        let line = server.line(Pipe::Stderr, expected);
        assert!(
            !line.contains("Extension") && !line.contains("InCommon"),
            "{line}"
        );
    }
}

#[test]
fn refused_client_certificate_shows_the_servers_reason() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert();
    let dir = tempfile::tempdir().expect("tempdir");
    let (fc, fk) = openssl_self_signed(
        dir.path(),
        "intruder",
        "/CN=intruder",
        "subjectAltName=DNS:intruder.test",
    );
    let (_server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
        "--client-ca",
        &pki.p("ca.pem"),
        "--reply",
        "welcome",
    ]);
    for round in 0..5 {
        let o = tls_connect(
            &format!("localhost:{port}"),
            &pki.p("ca.pem"),
            &["--cert", &fc, "--key", &fk, "--send", "hi"],
        );
        assert_eq!(code(&o), 1, "round {round}");
        let err = stderr(&o);
        assert!(
            err.contains("the server refused our client certificate (alert: "),
            "round {round}: {err}"
        );
        assert!(
            !err.contains("Broken pipe") && !err.contains("CertificateUnknown"),
            "{err}"
        );
        assert!(stdout(&o).is_empty());
    }
    // openssl s_server requiring a certificate from the test CA: its alert, by name.
    let (_s, port) = s_server(
        &cert,
        &key,
        &[
            "-rev",
            "-Verify",
            "1",
            "-CAfile",
            &pki.p("ca.pem"),
            "-verify_return_error",
        ],
    );
    for round in 0..3 {
        let o = tls_connect(
            &format!("localhost:{port}"),
            &pki.p("ca.pem"),
            &["--cert", &fc, "--key", &fk, "--send", "hi\n"],
        );
        assert_eq!(code(&o), 1, "round {round}");
        let err = stderr(&o);
        assert!(
            err.contains("the server refused our client certificate (alert: unknown_ca)"),
            "round {round}: {err}"
        );
        assert!(stdout(&o).is_empty());
    }
}

#[test]
fn tls_inspect_escapes_certificate_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("evil.pem"), dir.path().join("evil-key.pem"));
    python_ok(&format!(
        r#"
import datetime
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([
    x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Evil Org\nverified    yes\n\x1b[32mOK"),
    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, 'R"S,A=x'),
])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
    .public_key(key.public_key()).serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=1))
    .not_valid_after(now + datetime.timedelta(days=30))
    .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
        x509.DNSName("x\x1b]0;owned\x07.test")]), critical=False)
    .sign(key, hashes.SHA256()))
open({cert:?}, "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open({key:?}, "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
print("ok")
"#,
        cert = path_str(&cert),
        key = path_str(&key)
    ));
    let (_server, port) = tls_echo_server(&path_str(&cert), &path_str(&key));
    let o = run(
        wirekit(&["tls", "inspect", &format!("localhost:{port}")]),
        None,
        T,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(!text.contains('\x1b'), "no ESC byte: {text:?}");
    assert!(!text.contains('\x07'), "no BEL byte: {text:?}");
    let verified: Vec<&str> = text.lines().filter(|l| l.contains("verified")).collect();
    assert_eq!(
        verified.len(),
        3,
        "the verdict, and the escaped field in subject and issuer (self-signed): {text}"
    );
    assert!(verified[0].starts_with("verified    NO: "), "{text}");
    let subject = text
        .lines()
        .find(|l| l.trim_start().starts_with("subject"))
        .expect("subject line");
    assert!(
        subject.contains(r"O=Evil Org\nverified    yes\n\x1b[32mOK"),
        "{subject}"
    );
    assert!(subject.contains(r#"OU=R\"S\,A\=x"#), "RFC 4514: {subject}");
    assert!(text.contains(r"DNS:x\x1b]0;owned\x07.test"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("verified")).count(),
        1,
        "one verdict: {text}"
    );
}

#[test]
fn hex_dump_file_is_private_appended_and_write_errors_reported() {
    use std::os::unix::fs::PermissionsExt;
    let pki = Pki::new();
    let (cert, key) = pki.server_cert();
    let (_server, port) = tls_reply_server(&cert, &key);
    let host = format!("localhost:{port}");
    let dump = pki.path("plain.dump");
    let dump_s = path_str(&dump);
    for word in ["first-secret", "second-secret"] {
        let o = tls_connect(
            &host,
            &pki.p("ca.pem"),
            &["--send", word, "--hex-dump", &dump_s],
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert_eq!(stdout(&o), "welcome");
    }
    let mode = std::fs::metadata(&dump).expect("dump").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the dump holds decrypted plaintext");
    let text = std::fs::read_to_string(&dump).expect("dump");
    // Appended, never truncated: both sessions are there, in order.
    let (a, b) = (text.find("|first-secret|"), text.find("|second-secret|"));
    assert!(a.is_some() && b.is_some() && a < b, "{text}");
    assert_eq!(text.matches("|welcome|").count(), 2, "{text}");

    // A dump that cannot be written is reported, naming the file; the data still flows.
    let o = tls_connect(
        &host,
        &pki.p("ca.pem"),
        &["--send", "x", "--hex-dump", "/dev/full"],
    );
    assert_eq!(stdout(&o), "welcome", "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(
        err.matches("cannot write hex dump file /dev/full").count(),
        1,
        "reported once: {err}"
    );
    assert!(err.contains("No space left on device"), "{err}");

    // An existing dump readable by others is used as it is, with a warning.
    let open = pki.path("open.dump");
    std::fs::write(&open, "").expect("write");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let o = tls_connect(
        &host,
        &pki.p("ca.pem"),
        &["--send", "x", "--hex-dump", &path_str(&open)],
    );
    assert_eq!(stdout(&o), "welcome", "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is readable by others (mode 644)"),
        "{}",
        stderr(&o)
    );
}

/// The self-signed server says "pin that fingerprint": a client can.
#[test]
fn pin_the_fingerprint_a_self_signed_server_prints() {
    let (server, port) = Proc::server(&[
        "tcp",
        "listen",
        "127.0.0.1:0",
        "-k",
        "--tls",
        "--reply",
        "pinned",
    ]);
    let line = server.line(Pipe::Stderr, "--pin sha256:");
    let pin = line
        .split("--pin ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the pin in the server's hint")
        .to_string();
    let o = run(
        wirekit(&[
            "tcp",
            "connect",
            &addr(port),
            "--tls",
            "--pin",
            &pin,
            "--send",
            "x",
        ]),
        None,
        T,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "pinned");
    assert!(!stderr(&o).contains("NOT verified"), "{}", stderr(&o));
}
