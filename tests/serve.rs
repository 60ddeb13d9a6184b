//! `wirekit serve` against real peers: the seed's requests/urllib snippets, curl,
//! raw sockets for bad input, and headless Chromium for the listing page.

use crate::util::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Start `wirekit serve DIR -p 0 ARGS...`; the server and the port it announces.
fn serve(dir: &Path, args: &[&str]) -> (Proc, u16) {
    let mut all = vec!["serve", dir.to_str().expect("utf-8 temp path"), "-p", "0"];
    all.extend_from_slice(args);
    Proc::server(&all)
}

/// curl, bounded by its own --max-time; output is read as it comes (large
/// bodies would fill a pipe that is only read after exit).
fn curl(args: &[&str]) -> Output {
    let mut c = Command::new("curl");
    c.args(["-s", "--max-time", "20"]).args(args);
    c.stdin(Stdio::null()).output().expect("cannot run curl")
}

/// Run a filter (gzip -dc, zstd -dc) over `input`.
fn filter(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start filter");
    let mut w = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&data);
    });
    let out = child.wait_with_output().expect("filter output");
    let _ = writer.join();
    out.stdout
}

fn url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

/// Status code of a GET (or the given curl args) as a string like "200".
fn status(args: &[&str]) -> String {
    let mut a = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    a.extend_from_slice(args);
    stdout(&curl(&a))
}

/// Send raw bytes, read the reply until the server closes or 5 s pass.
fn raw(port: u16, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let _ = s.write_all(data);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn still_answers(port: u16) {
    assert_eq!(
        status(&[&url(port, "/hello.txt")]),
        "200",
        "the server stopped answering"
    );
}

fn site() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("hello.txt"), "hello, world\n").expect("write");
    std::fs::write(d.path().join(".secret"), "dotfile secret\n").expect("write");
    std::fs::create_dir(d.path().join("sub")).expect("mkdir");
    std::fs::write(d.path().join("sub/index.html"), "<h1>sub index</h1>\n").expect("write");
    std::fs::create_dir(d.path().join("docs")).expect("mkdir");
    std::fs::write(d.path().join("docs/a b&c.txt"), "spaces\n").expect("write");
    d
}

#[test]
fn serve_seed_requests_and_urllib() {
    let d = site();
    let (_p, port) = serve(
        d.path(),
        &[
            "--route",
            r#"GET /data {"message": "Hello, World!"}"#,
            "--route",
            r#"POST /create 201 {"created": true}"#,
            "--route",
            r#"GET /api/data {"message": "Hello, World!"}"#,
        ],
    );
    let code = format!(
        r#"
import requests
from urllib import request
base = 'http://127.0.0.1:{port}'
response = requests.get(base + '/data')
print(response.json())
data = {{'key': 'value'}}
response = requests.post(base + '/create', json=data)
print(response.status_code, response.json())
with request.urlopen(base + '/data') as response:
    data = response.read()
    print(data.decode())
print(requests.get(base + '/api/data').headers['Content-Type'])
"#
    );
    let out = python(&code, T);
    assert_eq!(code_of(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("{'message': 'Hello, World!'}"), "{text}");
    assert!(text.contains("201 {'created': True}"), "{text}");
    assert!(text.contains(r#"{"message": "Hello, World!"}"#), "{text}");
    assert!(text.contains("application/json"), "{text}");
}

fn code_of(o: &Output) -> i32 {
    code(o)
}

#[test]
fn serve_files_listing_and_head() {
    let d = site();
    let (_p, port) = serve(d.path(), &[]);
    let body = curl(&[&url(port, "/hello.txt")]);
    assert_eq!(stdout(&body), "hello, world\n");
    let head = stdout(&curl(&["-I", &url(port, "/hello.txt")]));
    assert!(head.contains("content-length: 13"), "{head}");
    assert!(
        head.contains("content-type: text/plain; charset=utf-8"),
        "{head}"
    );
    assert!(head.to_lowercase().contains("etag:"), "{head}");
    // A folder with index.html serves it; without the slash it redirects first.
    assert_eq!(
        stdout(&curl(&["-L", &url(port, "/sub")])),
        "<h1>sub index</h1>\n"
    );
    assert_eq!(status(&[&url(port, "/sub")]), "301");
    // No open redirect through a protocol-relative path.
    let head = stdout(&curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "--path-as-is",
        &url(port, "//sub"),
    ]));
    assert!(head.contains("location: /sub/\r\n"), "{head}");
    // The listing: folders first, names escaped and encoded, dotfiles hidden.
    let page = stdout(&curl(&[&url(port, "/")]));
    let docs = page.find("docs/").expect("docs listed");
    let hello = page.find("hello.txt").expect("file listed");
    assert!(docs < hello, "folders first");
    assert!(!page.contains(".secret"));
    let sub = stdout(&curl(&[&url(port, "/docs/")]));
    assert!(sub.contains("href=\"./a%20b%26c.txt\""), "{sub}");
    assert!(sub.contains(">a b&amp;c.txt<"), "{sub}");
    assert!(
        sub.contains("<a href=\"/docs/\">docs</a>"),
        "breadcrumbs: {sub}"
    );
    assert_eq!(
        stdout(&curl(&[&url(port, "/docs/a%20b%26c.txt")])),
        "spaces\n"
    );
    // JSON listing both ways.
    for args in [
        vec![url(port, "/?format=json")],
        vec![
            "-H".into(),
            "Accept: application/json".into(),
            url(port, "/"),
        ],
    ] {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let json: serde_json::Value =
            serde_json::from_str(&stdout(&curl(&a))).expect("json listing");
        let names: Vec<&str> = json["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["name"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(names, vec!["docs", "sub", "hello.txt"]);
    }
    drop(_p);
    let (_p, port) = serve(d.path(), &["--no-listing"]);
    assert_eq!(status(&[&url(port, "/docs/")]), "403");
    assert_eq!(status(&[&url(port, "/sub/")]), "200");
}

#[test]
fn serve_refuses_traversal() {
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    std::fs::write(root.join("hello.txt"), "hello, world\n").expect("write");
    std::fs::write(root.join(".secret"), "dotfile secret\n").expect("write");
    std::fs::write(outer.path().join("outside.txt"), "TOP SECRET OUTSIDE\n").expect("write");
    std::os::unix::fs::symlink(outer.path().join("outside.txt"), root.join("escape"))
        .expect("symlink");
    std::os::unix::fs::symlink(outer.path(), root.join("escdir")).expect("symlink");
    std::os::unix::fs::symlink(root.join("hello.txt"), root.join("inside")).expect("symlink");
    let (_p, port) = serve(&root, &[]);
    // README, "Safe by default": a path that tries to leave DIR gets 403, and so does
    // a symlink out of it; a dotfile is hidden, so 404 as if it were not there.
    for (path, want) in [
        ("/../outside.txt", "403"),
        ("/%2e%2e/outside.txt", "403"),
        ("/%2E%2E/outside.txt", "403"),
        ("/..%2foutside.txt", "403"),
        ("/sub/..%2f..%2foutside.txt", "403"),
        ("/..%5coutside.txt", "403"),
        ("/..\\outside.txt", "403"),
        ("/hello.txt%00", "403"),
        ("/escape", "403"),
        ("/escdir/outside.txt", "403"),
        ("/.secret", "404"),
        ("/%2esecret", "404"),
    ] {
        let out = curl(&["--path-as-is", "-w", "\n%{http_code}", &url(port, path)]);
        let text = stdout(&out);
        let code = text.rsplit('\n').next().unwrap_or("");
        assert_eq!(code, want, "{path}");
        assert!(
            !text.contains("SECRET") && !text.contains("secret\n"),
            "{path} leaked: {text}"
        );
    }
    // A precompressed sibling that is a symlink out of the root is not used either.
    std::os::unix::fs::symlink(outer.path().join("outside.txt"), root.join("hello.txt.gz"))
        .expect("symlink");
    let out = curl(&["-H", "Accept-Encoding: gzip", &url(port, "/hello.txt")]);
    assert_eq!(
        stdout(&out),
        "hello, world\n",
        "sibling symlink out of the root"
    );
    // A symlink that stays inside the root is fine.
    assert_eq!(stdout(&curl(&[&url(port, "/inside")])), "hello, world\n");
    // The escaping symlink is not even listed.
    let page = stdout(&curl(&[&url(port, "/")]));
    assert!(
        !page.contains("escape") && page.contains("inside"),
        "{page}"
    );
    still_answers(port);
    drop(_p);
    // Opted in: --follow-symlinks and --hidden.
    let (_p, port) = serve(&root, &["--follow-symlinks", "--hidden"]);
    assert_eq!(
        stdout(&curl(&[&url(port, "/escape")])),
        "TOP SECRET OUTSIDE\n"
    );
    assert_eq!(stdout(&curl(&[&url(port, "/.secret")])), "dotfile secret\n");
    // `..` is refused even so.
    assert_eq!(
        status(&["--path-as-is", &url(port, "/../outside.txt")]),
        "403"
    );
}

#[test]
fn serve_refuses_index_and_spa_symlinks_out_of_the_root() {
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("root");
    std::fs::create_dir_all(root.join("docs")).expect("mkdir");
    std::fs::create_dir_all(root.join("ok")).expect("mkdir");
    std::fs::write(outer.path().join("outside.txt"), "TOP SECRET OUTSIDE\n").expect("write");
    std::fs::write(root.join("real.html"), "inside page\n").expect("write");
    std::fs::write(root.join("hello.txt"), "hello, world\n").expect("write");
    let outside = outer.path().join("outside.txt");
    std::os::unix::fs::symlink(&outside, root.join("docs/index.html")).expect("symlink");
    std::os::unix::fs::symlink(root.join("real.html"), root.join("ok/index.html"))
        .expect("symlink");
    // The folder index, over HTTP/1.1, h2c and with a Range: 403, never the file.
    let (p, port) = serve(&root, &[]);
    for extra in [
        &[][..],
        &["--http2-prior-knowledge"][..],
        &["-r", "0-3"][..],
        &["--http2-prior-knowledge", "-r", "0-3"][..],
    ] {
        let mut args = vec!["-w", "\n%{http_code}"];
        args.extend_from_slice(extra);
        let u = url(port, "/docs/");
        args.push(&u);
        let text = stdout(&curl(&args));
        assert!(text.ends_with("\n403"), "{extra:?}: {text}");
        assert!(!text.contains("SECRET"), "{extra:?} leaked: {text}");
    }
    // An index symlink that stays inside the root is served.
    assert_eq!(stdout(&curl(&[&url(port, "/ok/")])), "inside page\n");
    still_answers(port);
    drop(p);
    // The --spa fallback index is a symlink out of the root: 403 as well.
    std::os::unix::fs::symlink(&outside, root.join("index.html")).expect("symlink");
    let (_p, port) = serve(&root, &["--spa"]);
    for path in ["/", "/app/route"] {
        let text = stdout(&curl(&["-w", "\n%{http_code}", &url(port, path)]));
        assert!(text.ends_with("\n403"), "{path}: {text}");
        assert!(!text.contains("SECRET"), "{path} leaked: {text}");
    }
    drop(_p);
    // Opted in with --follow-symlinks, the index is served.
    let (_p, port) = serve(&root, &["--follow-symlinks"]);
    assert_eq!(
        stdout(&curl(&[&url(port, "/docs/")])),
        "TOP SECRET OUTSIDE\n"
    );
}

#[test]
fn serve_httpbin_delay_refuses_non_numbers_and_files_say_nosniff() {
    let d = site();
    let (_p, port) = serve(d.path(), &["--httpbin"]);
    for bad in ["nan", "NaN", "inf", "-inf", "-1", "1e400", "x"] {
        let text = stdout(&curl(&[
            "-w",
            "\n%{http_code}",
            &url(port, &format!("/delay/{bad}")),
        ]));
        assert!(text.ends_with("\n400"), "/delay/{bad}: {text}");
        assert!(
            text.contains("give a delay in seconds"),
            "/delay/{bad}: {text}"
        );
    }
    assert_eq!(status(&[&url(port, "/delay/0")]), "200");
    // A file response tells browsers not to guess its type.
    let head = stdout(&curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        &url(port, "/hello.txt"),
    ]));
    assert!(
        head.to_ascii_lowercase()
            .contains("x-content-type-options: nosniff\r\n"),
        "{head}"
    );
    still_answers(port);
}

#[test]
fn serve_ranges_and_conditional_requests() {
    let d = tempfile::tempdir().expect("tempdir");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(d.path().join("hello.txt"), "hello, world\n").expect("write");
    std::fs::write(d.path().join("data.bin"), &data).expect("write");
    let (_p, port) = serve(d.path(), &[]);
    let u = url(port, "/data.bin");
    let out = curl(&["-r", "10-19", "-D", "-", "-o", "-", &u]);
    assert!(stdout(&out).contains("206"), "{}", stdout(&out));
    assert!(
        stdout(&out)
            .to_lowercase()
            .contains("content-range: bytes 10-19/100000")
    );
    assert!(out.stdout.ends_with(&data[10..20]));
    let out = curl(&["-r", "-5", &u]);
    assert_eq!(out.stdout, &data[99_995..]);
    let out = curl(&["-r", "0-1,50-52", "-D", "-", &u]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("multipart/byteranges; boundary="), "{text}");
    assert!(text.contains("Content-Range: bytes 0-1/100000"), "{text}");
    assert!(text.contains("Content-Range: bytes 50-52/100000"), "{text}");
    let out = curl(&["-r", "200000-", "-D", "-", "-o", "/dev/null", &u]);
    let text = stdout(&out).to_lowercase();
    assert!(
        text.contains("416") && text.contains("content-range: bytes */100000"),
        "{text}"
    );
    // Validators.
    let head = stdout(&curl(&["-I", &u]));
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("etag")
        .trim()
        .to_string();
    let lm = head
        .lines()
        .find_map(|l| l.strip_prefix("last-modified: "))
        .expect("last-modified")
        .trim()
        .to_string();
    assert_eq!(
        status(&["-H", &format!("If-None-Match: {etag}"), &u]),
        "304"
    );
    assert_eq!(status(&["-H", "If-None-Match: \"other\"", &u]), "200");
    assert_eq!(
        status(&["-H", &format!("If-Modified-Since: {lm}"), &u]),
        "304"
    );
    assert_eq!(
        status(&["-H", "If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT", &u]),
        "200"
    );
    // If-Range: a matching validator gets the range, a stale one the whole file.
    assert_eq!(
        status(&["-r", "0-9", "-H", &format!("If-Range: {etag}"), &u]),
        "206"
    );
    assert_eq!(
        status(&["-r", "0-9", "-H", &format!("If-Range: {lm}"), &u]),
        "206"
    );
    let out = curl(&["-r", "0-9", "-H", "If-Range: \"stale\"", &u]);
    assert_eq!(out.stdout.len(), data.len());
    // curl resuming a download.
    let part = d.path().join("part.bin");
    std::fs::write(&part, &data[..40_000]).expect("write");
    let out = curl(&["-C", "-", "-o", part.to_str().expect("utf-8"), &u]);
    assert_eq!(code(&out), 0);
    assert_eq!(std::fs::read(&part).expect("read"), data);
}

#[test]
fn serve_compression() {
    let d = tempfile::tempdir().expect("tempdir");
    let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(d.path().join("big.txt"), &text).expect("write");
    std::fs::write(
        d.path().join("app.js"),
        "console.log('plain');\n".repeat(50),
    )
    .expect("write");
    std::fs::write(
        d.path().join("app.js.gz"),
        b"not really gzip, but the sibling",
    )
    .expect("write");
    std::fs::write(d.path().join("hello.txt"), "hello, world\n").expect("write");
    let (_p, port) = serve(d.path(), &[]);
    let u = url(port, "/big.txt");
    for enc in ["gzip", "br", "zstd"] {
        let out = curl(&[
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            &format!("Accept-Encoding: {enc}"),
            &u,
        ]);
        let head = stdout(&out);
        assert!(
            head.contains(&format!("content-encoding: {enc}")),
            "{enc}: {head}"
        );
    }
    // curl decodes gzip/br/zstd (whatever it supports) to the same bytes.
    let out = curl(&["--compressed", &u]);
    assert_eq!(stdout(&out), text);
    let out = curl(&["-H", "Accept-Encoding: gzip", &u]);
    assert!(out.stdout.len() < text.len() / 3, "gzip should shrink text");
    assert_eq!(filter("gzip", &["-dc"], &out.stdout), text.as_bytes());
    let out = curl(&["-H", "Accept-Encoding: zstd", &u]);
    assert_eq!(filter("zstd", &["-dc"], &out.stdout), text.as_bytes());
    // No Accept-Encoding: identity.
    assert_eq!(stdout(&curl(&[&u])), text);
    // A precompressed sibling is served as is.
    let out = curl(&[
        "-D",
        "-",
        "-H",
        "Accept-Encoding: gzip",
        &url(port, "/app.js"),
    ]);
    let t = stdout(&out);
    assert!(
        t.contains("content-encoding: gzip") && t.ends_with("not really gzip, but the sibling"),
        "{t}"
    );
    assert!(t.contains("javascript; charset=utf-8"), "{t}");
}

#[test]
fn serve_uploads() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("hello.txt"), "hello, world\n").expect("write");
    let src = tempfile::tempdir().expect("tempdir");
    let (_p, port) = serve(d.path(), &["--upload", "--max-body", "11M"]);
    for (name, size) in [("zero.bin", 0usize), ("one.bin", 1), ("ten.bin", 10 << 20)] {
        let f = src.path().join(name);
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 256) as u8).collect();
        std::fs::write(&f, &data).expect("write");
        let code = status(&[
            "-T",
            f.to_str().expect("utf-8"),
            &url(port, &format!("/{name}")),
        ]);
        assert_eq!(code, "201", "{name}");
        assert_eq!(sha256_file(&d.path().join(name)), sha256_file(&f), "{name}");
    }
    // No overwrite without --overwrite.
    let f = src.path().join("one.bin");
    assert_eq!(
        status(&["-T", f.to_str().expect("utf-8"), &url(port, "/hello.txt")]),
        "409"
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("hello.txt")).expect("read"),
        "hello, world\n"
    );
    // Multipart, as the listing page's form sends it.
    let form = format!("file=@{};filename=form.bin", f.display());
    assert_eq!(status(&["-F", &form, &url(port, "/")]), "201");
    assert_eq!(
        std::fs::read(d.path().join("form.bin"))
            .expect("read")
            .len(),
        1
    );
    // The listing offers the form.
    assert!(stdout(&curl(&[&url(port, "/")])).contains("enctype=\"multipart/form-data\""));
    // Over --max-body: 413 and nothing left behind, by header and by streaming.
    let big = src.path().join("big.bin");
    std::fs::write(&big, vec![1u8; 12 << 20]).expect("write");
    assert_eq!(
        status(&["-T", big.to_str().expect("utf-8"), &url(port, "/big.bin")]),
        "413"
    );
    let piped = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Transfer-Encoding: chunked",
        "-T",
        big.to_str().expect("utf-8"),
        &url(port, "/big2.bin"),
    ]);
    assert_eq!(stdout(&piped), "413", "chunked over the limit");
    // No wait needed: the server removes the temporary file before it answers.
    let left: Vec<String> = std::fs::read_dir(d.path())
        .expect("readdir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !left
            .iter()
            .any(|n| n.starts_with("big") || n.ends_with(".part")),
        "partial files left: {left:?}"
    );
    still_answers(port);
    drop(_p);
    let (_p, port) = serve(d.path(), &["--upload", "--overwrite"]);
    assert_eq!(
        status(&["-T", f.to_str().expect("utf-8"), &url(port, "/hello.txt")]),
        "200"
    );
    assert_eq!(
        std::fs::read(d.path().join("hello.txt"))
            .expect("read")
            .len(),
        1
    );
}

#[test]
fn serve_auth() {
    let d = site();
    let (_p, port) = serve(d.path(), &["--auth", "me:s3cret", "--token", "tok123"]);
    let u = url(port, "/hello.txt");
    let out = curl(&["-D", "-", "-o", "/dev/null", &u]);
    let head = stdout(&out);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(
        head.contains("www-authenticate: Basic realm=\"wirekit\""),
        "{head}"
    );
    assert!(head.contains("www-authenticate: Bearer"), "{head}");
    assert_eq!(status(&["-u", "me:wrong", &u]), "401");
    assert_eq!(status(&["-u", "you:s3cret", &u]), "401");
    assert_eq!(status(&["-H", "Authorization: Bearer nope", &u]), "401");
    assert_eq!(stdout(&curl(&["-u", "me:s3cret", &u])), "hello, world\n");
    assert_eq!(
        stdout(&curl(&["-H", "Authorization: Bearer tok123", &u])),
        "hello, world\n"
    );
    let py = python(
        &format!(
            "import requests; r = requests.get('{u}', auth=('me', 's3cret')); print(r.status_code, r.text, end='')"
        ),
        T,
    );
    assert_eq!(stdout(&py), "200 hello, world\n", "{}", stderr(&py));
    drop(_p);
    // The hashed form: printf %s s3cret | sha256sum
    let mut sh = Command::new("sh");
    sh.args(["-c", "printf %s s3cret | sha256sum | cut -d' ' -f1"]);
    let hex = stdout(&run(sh, None, T)).trim().to_string();
    let spec = format!("me:sha256:{hex}");
    let (_p, port) = serve(d.path(), &["--auth", &spec]);
    let u = url(port, "/hello.txt");
    assert_eq!(status(&["-u", "me:s3cret", &u]), "200");
    assert_eq!(status(&["-u", "me:s3creT", &u]), "401");
    // Bad usage exits 2 with a hint.
    let out = run(wirekit(&["serve", "--auth", "nocolon"]), None, T);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("USER:PASS"), "{}", stderr(&out));
}

#[test]
fn serve_bad_input_keeps_serving() {
    let d = site();
    let (_p, port) = serve(d.path(), &[]);
    let reply = String::from_utf8_lossy(&raw(port, b"GARBAGE\r\n\r\n")).to_string();
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    let mut big = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 64 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    let reply = String::from_utf8_lossy(&raw(port, &big)).to_string();
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    let reply =
        String::from_utf8_lossy(&raw(port, b"\x00\x01\x02\x03binary junk\r\n\r\n")).to_string();
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert_eq!(status(&["-X", "DELETE", &url(port, "/hello.txt")]), "405");
    assert_eq!(
        status(&["-X", "PUT", "-d", "x", &url(port, "/new.txt")]),
        "405"
    );
    assert!(!d.path().join("new.txt").exists());
    still_answers(port);
    drop(_p);
    // A slow client that never finishes its headers is cut off.
    let (_p, port) = serve(d.path(), &["--header-timeout", "1s"]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        .expect("write");
    let mut buf = Vec::new();
    let started = std::time::Instant::now();
    let _ = s.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "slow headers not cut"
    );
    still_answers(port);
    drop(_p);
    // A denied address gets nothing at all.
    let (_p, port) = serve(d.path(), &["--deny", "127.0.0.1"]);
    let got = raw(port, b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(got.is_empty(), "denied client got {got:?}");
    drop(_p);
    // Bad usage: exit 2 with the culprit named.
    for (args, needle) in [
        (vec!["serve", "/no/such/folder"], "/no/such/folder"),
        (vec!["serve", "--route", "GET"], "route"),
        (vec!["serve", "--header", "nocolon"], "--header"),
    ] {
        let out = run(wirekit(&args), None, T);
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn serve_mock_routes_file_and_params() {
    let d = site();
    let routes = d.path().join("routes.json");
    std::fs::write(d.path().join("user.json"), r#"{"from": "file"}"#).expect("write");
    std::fs::write(
        &routes,
        r#"[
          {"method": "GET", "path": "/users/:id", "body": {"id": "{{id}}"}},
          {"method": "POST", "path": "/users", "status": 201, "file": "user.json", "headers": {"X-Demo": "yes"}},
          {"method": "*", "path": "/any/*", "body": "anything"}
        ]"#,
    )
    .expect("write");
    let (_json, port) = serve(
        d.path(),
        &[
            "--routes",
            routes.to_str().expect("utf-8"),
            "--route",
            "GET /hello.txt overridden",
            "--cors",
            "--header",
            "X-Extra: 1",
        ],
    );
    assert_eq!(stdout(&curl(&[&url(port, "/users/42")])), r#"{"id":"42"}"#);
    // The same in TOML.
    let toml_routes = d.path().join("routes.toml");
    std::fs::write(
        &toml_routes,
        "[[routes]]\nmethod = \"GET\"\npath = \"/users/:id\"\nbody = { id = \"{{id}}\", source = \"toml\" }\n\n[[routes]]\npath = \"/t\"\nstatus = 202\nbody = \"plain\"\n",
    )
    .expect("write");
    let (_p, port2) = serve(
        d.path(),
        &["--routes", toml_routes.to_str().expect("utf-8")],
    );
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&curl(&[&url(port2, "/users/7")]))).expect("json");
    assert_eq!(
        (v["id"].as_str(), v["source"].as_str()),
        (Some("7"), Some("toml"))
    );
    assert_eq!(status(&[&url(port2, "/t")]), "202");
    drop(_p);
    let out = curl(&["-D", "-", "-X", "POST", &url(port, "/users")]);
    let t = stdout(&out);
    assert!(
        t.starts_with("HTTP/1.1 201")
            && t.contains("x-demo: yes")
            && t.ends_with(r#"{"from": "file"}"#),
        "{t}"
    );
    assert_eq!(
        stdout(&curl(&["-X", "PATCH", &url(port, "/any/x/y")])),
        "anything"
    );
    // Routes win over files.
    assert_eq!(stdout(&curl(&[&url(port, "/hello.txt")])), "overridden");
    assert_eq!(status(&["-X", "DELETE", &url(port, "/users/1")]), "405");
    // CORS and extra headers.
    let t = stdout(&curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        &url(port, "/users/1"),
    ]));
    assert!(
        t.contains("access-control-allow-origin: *") && t.contains("x-extra: 1"),
        "{t}"
    );
    let t = stdout(&curl(&[
        "-D",
        "-",
        "-X",
        "OPTIONS",
        "-H",
        "Origin: http://a.example",
        "-H",
        "Access-Control-Request-Method: POST",
        &url(port, "/users"),
    ]));
    assert!(
        t.starts_with("HTTP/1.1 204") && t.contains("access-control-allow-methods"),
        "{t}"
    );
}

#[test]
fn serve_httpbin_h2c_spa_and_json_log() {
    let d = site();
    std::fs::write(d.path().join("index.html"), "<h1>app</h1>\n").expect("write");
    let dir = d.path().to_str().expect("utf-8");
    let (proc, port) = Proc::server(&[
        "--log-format",
        "json",
        "serve",
        dir,
        "-p",
        "0",
        "--httpbin",
        "--httpbin-prefix",
        "/bin",
        "--spa",
    ]);
    let get: serde_json::Value =
        serde_json::from_str(&stdout(&curl(&[&url(port, "/bin/get?a=1&a=2&b=x")]))).expect("json");
    assert_eq!(get["args"]["b"], "x");
    assert_eq!(get["args"]["a"], serde_json::json!(["1", "2"]));
    let post: serde_json::Value = serde_json::from_str(&stdout(&curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"k": 1}"#,
        &url(port, "/bin/post"),
    ])))
    .expect("json");
    assert_eq!(post["json"]["k"], 1);
    assert_eq!(status(&[&url(port, "/bin/status/418")]), "418");
    assert_eq!(curl(&[&url(port, "/bin/bytes/1000")]).stdout.len(), 1000);
    assert_eq!(
        stdout(&curl(&[&url(port, "/bin/stream/3")]))
            .lines()
            .count(),
        3
    );
    assert_eq!(status(&["-L", &url(port, "/bin/redirect/3")]), "200");
    assert_eq!(
        status(&["-u", "a:b", &url(port, "/bin/basic-auth/a/b")]),
        "200"
    );
    assert_eq!(
        status(&["-u", "a:c", &url(port, "/bin/basic-auth/a/b")]),
        "401"
    );
    let gz: serde_json::Value =
        serde_json::from_str(&stdout(&curl(&["--compressed", &url(port, "/bin/gzip")])))
            .expect("json");
    assert_eq!(gz["gzipped"], true);
    // h2c with prior knowledge.
    let out = curl(&[
        "--http2-prior-knowledge",
        "-w",
        "%{http_version}",
        &url(port, "/hello.txt"),
    ]);
    assert_eq!(stdout(&out), "hello, world\n2");
    // --spa: unknown paths get index.html.
    assert_eq!(
        stdout(&curl(&[&url(port, "/some/route")])),
        "<h1>app</h1>\n"
    );
    // ...but only navigations: a missing asset is 404, unless the client asks for HTML.
    assert_eq!(status(&[&url(port, "/assets/x.js")]), "404");
    assert_eq!(status(&[&url(port, "/favicon.ico")]), "404");
    assert_eq!(
        stdout(&curl(&[
            "-H",
            "Accept: text/html,*/*",
            &url(port, "/page.v2")
        ])),
        "<h1>app</h1>\n"
    );
    let out = proc.terminate(T);
    assert_eq!(code(&out), 0);
    let log = stderr(&out);
    let line = log
        .lines()
        .find(|l| l.contains("/bin/status/418"))
        .unwrap_or_else(|| panic!("no access log line: {log}"));
    let v: serde_json::Value = serde_json::from_str(line).expect("json log line");
    assert_eq!(v["status"], 418);
    assert_eq!(v["method"], "GET");
    assert!(stdout(&out).contains(&format!("http://127.0.0.1:{port}/")));
}

/// The system's Chromium.
fn chromium() -> &'static str {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| have(b))
        .expect("chromium is not installed: run scripts/test-deps.sh")
}

#[test]
fn serve_listing_in_chromium() {
    let browser = chromium();
    let d = tempfile::tempdir().expect("tempdir");
    // '/' cannot be in a file name, so the classic payload becomes a folder plus files.
    std::fs::create_dir(d.path().join("<script>alert(1)")).expect("mkdir");
    std::fs::write(
        d.path().join("<img src=x onerror=alert(1)>.txt"),
        "img payload\n",
    )
    .expect("write");
    std::fs::write(
        d.path()
            .join("<script>alert(1)</script>.txt".replace('/', "\u{2215}")),
        "x",
    )
    .expect("write");
    std::fs::create_dir(d.path().join("folder")).expect("mkdir");
    std::fs::write(d.path().join("folder/inner.txt"), "inner\n").expect("write");
    let (_p, port) = serve(d.path(), &[]);
    let dump = |u: &str| {
        let mut c = Command::new(browser);
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--dump-dom",
            u,
        ]);
        stdout(&run(c, None, Duration::from_secs(60)))
    };
    let dom = dump(&url(port, "/"));
    // Rendered as text: the DOM holds the escaped name, and no element came from it.
    assert!(dom.contains("&lt;script&gt;alert(1)/"), "{dom}");
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt;.txt"),
        "{dom}"
    );
    assert!(!dom.contains("<img"), "an <img> element was created: {dom}");
    // The page's own script is the one <script> element; none came from a name.
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "a <script> element was created: {dom}"
    );
    assert!(!dom.contains("<script>alert"), "{dom}");
    // The links work: follow the ones the page gives.
    let href = |needle: &str| {
        let i = dom
            .find(needle)
            .unwrap_or_else(|| panic!("no link for {needle}"));
        let start = dom[..i].rfind("<a href=\"").expect("href") + 9;
        let end = start + dom[start..].find('"').expect("end quote");
        dom[start..end].to_string()
    };
    let img = href("&lt;img src=x");
    assert_eq!(
        stdout(&curl(&[&url(
            port,
            &format!("/{}", img.trim_start_matches("./"))
        )])),
        "img payload\n"
    );
    let folder = href("folder/");
    let inner = dump(&url(port, &format!("/{}", folder.trim_start_matches("./"))));
    assert!(inner.contains("inner.txt"), "{inner}");
    let script_dir = href("&lt;script&gt;alert(1)/");
    assert_eq!(
        status(&[&url(
            port,
            &format!("/{}", script_dir.trim_start_matches("./"))
        )]),
        "200"
    );
}

/// Runs a Python client that prints `local HOST:PORT` and waits on its stdin:
/// once `server` (run with `-v`) logs that it parked that connection, the client
/// goes on; its output is returned.
fn python_parked_then_resumed(server: &Proc, code: &str) -> Output {
    let (py, mut go) = python_steps(code);
    let local = py.port_after(Pipe::Stdout, "local ");
    server.line(
        Pipe::Stderr,
        &format!("parked connection from 127.0.0.1:{local}"),
    );
    writeln!(go).expect("let the client go on");
    py.wait(T)
}

#[test]
fn serve_keep_alive_parking_pipelining_and_http10() {
    let d = site();
    // -v: the server says when it parks a connection (a debug line).
    let (server, port) = serve(d.path(), &["-v"]);
    // One connection, a request, a pause until the server has parked the
    // connection, then more requests on the same socket.
    let code = format!(
        r#"
import http.client
c = http.client.HTTPConnection('127.0.0.1', {port})
c.request('GET', '/hello.txt'); r = c.getresponse(); first = r.read()
local = c.sock.getsockname()
print('local %s:%d' % local)
input()  # the test lets us go on once the server has parked this connection
c.request('GET', '/hello.txt'); r = c.getresponse(); second = r.read()
c.request('HEAD', '/hello.txt'); r = c.getresponse(); r.read()
c.request('GET', '/docs/'); r = c.getresponse(); third = r.read()
print(first == second == b'hello, world\n', local == c.sock.getsockname(), b'a b&amp;c.txt' in third)
"#
    );
    let out = python_parked_then_resumed(&server, &code);
    let last = stdout(&out);
    assert_eq!(
        last.lines().last().unwrap_or(""),
        "True True True",
        "{}",
        stderr(&out)
    );
    // Two pipelined requests in one write get two answers in order.
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /docs/a%20b%26c.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let text = String::from_utf8_lossy(&all);
    let a = text.find("hello, world\n").expect("first answer");
    let b = text.find("spaces\n").expect("second answer");
    assert!(a < b, "{text}");
    // HTTP/1.0 without keep-alive: the server closes after the response.
    let started = std::time::Instant::now();
    let reply = String::from_utf8_lossy(&raw(port, b"GET /hello.txt HTTP/1.0\r\n\r\n")).to_string();
    assert!(reply.ends_with("hello, world\n"), "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "HTTP/1.0 connection left open"
    );
    still_answers(port);
}

/// A parked connection (no task of its own) still holds its `--max-conns` place,
/// comes back to work when its client speaks, and frees the place when it closes.
#[test]
fn serve_parked_connection_keeps_its_max_conns_place() {
    let d = site();
    let (server, port) = serve(d.path(), &["-v", "--max-conns", "1"]);
    let code = format!(
        r#"
import http.client, socket
c = http.client.HTTPConnection('127.0.0.1', {port})
c.request('GET', '/hello.txt'); r = c.getresponse(); first = r.read()
print('local %s:%d' % c.sock.getsockname())
input()  # until the server has parked it
x = socket.create_connection(('127.0.0.1', {port})); x.settimeout(5)
try:
    x.sendall(b'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n')
    refused = x.recv(100) == b''
except ConnectionResetError:
    refused = True
c.request('GET', '/hello.txt'); r = c.getresponse(); second = r.read()
c.close()
for _ in range(100):  # the place frees just after the close is seen
    y = socket.create_connection(('127.0.0.1', {port})); y.settimeout(5)
    try:
        y.sendall(b'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
        if y.recv(100).startswith(b'HTTP/1.1 200'):
            break
    except ConnectionResetError:
        pass
    y.close()
else:
    raise SystemExit('no place freed')
print(refused, first == second == b'hello, world\n')
"#
    );
    let out = python_parked_then_resumed(&server, &code);
    assert_eq!(
        stdout(&out).lines().last().unwrap_or(""),
        "True True",
        "{}",
        stderr(&out)
    );
}

/// Files up to 2 MiB are answered from memory once settled; a rewrite of the same
/// size (new bytes, same length) must show at once, over HTTP/1.1, h2c and TLS,
/// as must a file replaced by a larger one, a truncated one and a removed one.
#[test]
fn serve_sees_every_change_to_a_cached_file() {
    let dir = site();
    let f = dir.path().join("note.txt");
    std::fs::write(&f, "version 1\n").expect("write");
    // A large file kept in memory: 1.5 MiB, then the same length with other bytes.
    let big = dir.path().join("big.bin");
    let pattern = |seed: u32| -> Vec<u8> {
        (0..1536 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
            .collect()
    };
    let (v1, v2) = (pattern(0), pattern(0x5bd1_e995));
    std::fs::write(&big, &v1).expect("write");
    let (_srv, port) = serve(dir.path(), &[]);
    let (_tls, tls_port) = serve(dir.path(), &["--tls"]);
    let u = url(port, "/note.txt");
    let ub = url(port, "/big.bin");
    let ubt = format!("https://127.0.0.1:{tls_port}/big.bin");
    assert_eq!(stdout(&curl(&[&u])), "version 1\n");
    std::thread::sleep(Duration::from_millis(2300)); // past the cache's settling time
    for _ in 0..3 {
        assert_eq!(stdout(&curl(&[&u])), "version 1\n");
        assert!(curl(&[&ub]).stdout == v1, "large file from memory");
    }
    assert_eq!(
        stdout(&curl(&["-r", "8-9", &u])),
        "1\n",
        "range from memory"
    );
    let etag1 = stdout(&curl(&["-sI", &u]))
        .lines()
        .find_map(|l| l.strip_prefix("etag: ").map(str::to_string))
        .expect("an ETag");
    std::fs::write(&f, "version 2\n").expect("rewrite, same size");
    assert_eq!(stdout(&curl(&[&u])), "version 2\n");
    let head = stdout(&curl(&["-sI", &u]));
    assert!(!head.contains(&etag1), "the ETag must change: {head}");
    std::fs::write(&f, "version 3, longer\n").expect("rewrite, larger");
    assert_eq!(stdout(&curl(&[&u])), "version 3, longer\n");
    std::fs::remove_file(&f).expect("remove");
    assert_eq!(status(&[&u]), "404");

    // The large file over each protocol, from memory, then rewritten in place.
    let h2 = "--http2-prior-knowledge";
    let over_tls = || curl(&["-k", "--http2", &ubt]).stdout;
    assert!(curl(&[h2, &ub]).stdout == v1, "h2c from memory");
    assert!(over_tls() == v1, "TLS from memory");
    assert!(
        curl(&[h2, "-r", "100001-1500000", &ub]).stdout == v1[100001..=1500000],
        "h2c range from memory"
    );
    std::fs::write(&big, &v2).expect("rewrite, same size");
    assert!(curl(&[&ub]).stdout == v2, "HTTP/1.1 after a rewrite");
    assert!(curl(&[h2, &ub]).stdout == v2, "h2c after a rewrite");
    assert!(over_tls() == v2, "TLS after a rewrite");
    std::fs::write(&big, &v1[..1000]).expect("truncate");
    assert!(
        curl(&[h2, &ub]).stdout == v1[..1000],
        "h2c after a truncation"
    );
    std::fs::remove_file(&big).expect("remove");
    assert_eq!(status(&[&ub]), "404");
}

/// The content of a large file kept in memory is let go 10 s after its last
/// request (at a later request), and its pages go back to the system: RSS falls.
#[test]
fn serve_lets_go_of_large_content_no_longer_asked_for() {
    let dir = site();
    let big = dir.path().join("big.bin");
    let data: Vec<u8> = (0..2 << 20).map(|i: u32| (i >> 7) as u8).collect();
    std::fs::write(&big, &data).expect("write");
    std::thread::sleep(Duration::from_millis(2300)); // past the cache's settling time
    let (srv, port) = serve(dir.path(), &[]);
    let rss_kib = || memory_kib(srv.pid(), "VmRSS");
    let ub = url(port, "/big.bin");
    for _ in 0..3 {
        assert!(curl(&[&ub]).stdout == data, "from memory");
    }
    let held = rss_kib();
    std::thread::sleep(Duration::from_millis(10_500));
    let small = url(port, "/hello.txt");
    let many: Vec<&str> = std::iter::repeat_n(small.as_str(), 70).collect();
    assert_eq!(stdout(&curl(&many)).matches("hello, world").count(), 70);
    let after = rss_kib();
    assert!(
        after + 1024 < held,
        "RSS {held} KiB while holding 2 MiB of content, {after} KiB after letting it go"
    );
    assert!(curl(&[&ub]).stdout == data, "read again");
}

/// Large files over plain HTTP/1.1 go out by sendfile: whole files, large ranges,
/// multipart ranges and several responses on one connection must arrive byte for
/// byte (curl and requests), over h2c and with --dump too; a file that shrinks
/// while it is sent ends that response only.
#[test]
fn serve_large_files_byte_for_byte() {
    let dir = site();
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 777u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("big.bin"), &big).expect("write");
    std::fs::write(dir.path().join("shrinks.bin"), vec![7u8; 64 << 20]).expect("write");
    let (_srv, port) = serve(dir.path(), &[]);
    let u = url(port, "/big.bin");
    assert_eq!(curl(&[&u]).stdout, big, "whole file");
    // Two downloads on one keep-alive connection, then a large range.
    let two = curl(&[&u, &u]).stdout;
    assert_eq!(two.len(), 2 * big.len());
    assert!(two[..big.len()] == big[..] && two[big.len()..] == big[..]);
    assert_eq!(
        curl(&["-r", "100000-2999999", &u]).stdout,
        &big[100000..3000000]
    );
    // Two large parts: boundaries between sendfile pieces.
    let multi = curl(&["-r", "0-199999,1000000-1299999", &u]).stdout;
    let (a, b) = (&big[..200000], &big[1000000..1300000]);
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let pa = find(&multi, a).expect("first part");
    let pb = find(&multi, b).expect("second part");
    assert!(pa < pb);
    let py = format!(
        r#"
import hashlib, requests
s = requests.Session()
want = {want:?}
for _ in range(3):
    r = s.get("{u}")
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == want, len(r.content)
r = s.get("{u}", headers={{"Range": "bytes=-70000"}})
assert r.status_code == 206 and len(r.content) == 70000
print("ok")
"#,
        want = {
            use sha2::{Digest, Sha256};
            format!("{:x}", Sha256::digest(&big))
        },
    );
    python_ok(&py);
    // h2c and --dump take the copying path: same bytes.
    let h2 = curl(&["--http2-prior-knowledge", &u]);
    assert_eq!(h2.stdout, big, "h2c");
    // HTTP/2 reads files 16 KiB at a time: a range that starts and ends inside chunks.
    let h2 = curl(&["--http2-prior-knowledge", "-r", "100001-3000002", &u]);
    assert_eq!(h2.stdout, &big[100001..3000003], "h2c range");
    let dumped_dir = tempfile::tempdir().expect("tempdir");
    let dump = dumped_dir.path().join("dump.txt");
    let (_d, dport) = serve(dir.path(), &["--hex-dump", dump.to_str().expect("utf-8")]);
    assert_eq!(curl(&[&url(dport, "/big.bin")]).stdout, big, "--hex-dump");

    // A client reads slowly while the file is cut short: that response ends early,
    // the server goes on.
    let shrink = format!(
        r#"
import socket, os
s = socket.create_connection(("127.0.0.1", {port}))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # small enough to hold the server back, large enough to be quick
s.sendall(b"GET /shrinks.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
got = s.recv(65536)
os.truncate("{path}", 1000)
s.settimeout(10)
total = len(got)
while True:
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    total += len(chunk)
assert total < (64 << 20), total
print("ok")
"#,
        path = dir.path().join("shrinks.bin").display()
    );
    python_ok(&shrink);
    still_answers(port);
    assert_eq!(curl(&[&u]).stdout, big, "after the cut-short response");
}

/// A slow client: the last piece of a large body is handed to hyper long before
/// the client has read it. The connection must not be parked (hyper's unsent
/// bytes dropped) meanwhile: the whole body arrives, and the connection then
/// serves a second request.
#[test]
fn serve_slow_reader_gets_the_whole_body() {
    let dir = site();
    let big = vec![b'x'; 8 << 20];
    std::fs::write(dir.path().join("big.bin"), &big).expect("write");
    let (_srv, port) = serve(dir.path(), &[]);
    let py = format!(
        r#"
import socket, time
s = socket.create_connection(("127.0.0.1", {port}))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.settimeout(10)
def response():
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(65536)
    head, body = got.split(b"\r\n\r\n", 1)
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    total = len(body)
    while total < length:
        chunk = s.recv(65536)
        assert chunk, "connection closed after %d of %d bytes" % (total, length)
        total += len(chunk)
        time.sleep(0.03)  # ~2 MB/s: the last MiB waits for room far longer than 250 ms
    assert total == length, (total, length)
response()
s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
got = b""
while not got.endswith(b"hello, world\n"):
    chunk = s.recv(4096)
    assert chunk, got
    got += chunk
print("ok")
"#
    );
    python_ok(&py);
    still_answers(port);

    // A route that answers before the request body has arrived: the body's last
    // bytes come while the (large) answer is still being written.
    let route = format!("POST /early @{}", dir.path().join("big.bin").display());
    let (_r, rport) = serve(dir.path(), &["--route", &route]);
    let early = format!(
        r#"
import socket, time
s = socket.create_connection(("127.0.0.1", {rport}))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.settimeout(10)
s.sendall(b"POST /early HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\n")
got = b""
while b"\r\n\r\n" not in got:
    got += s.recv(65536)
s.sendall(b"hello")  # the body once the answer has begun
head, body = got.split(b"\r\n\r\n", 1)
total = len(body)
while total < {n}:
    chunk = s.recv(65536)
    assert chunk, "connection closed after %d of %d bytes" % (total, {n})
    total += len(chunk)
    time.sleep(0.03)  # a slow reader, as above
print("ok")
"#,
        n = big.len()
    );
    python_ok(&early);
}

/// Issue 10 item 2: a client that sends its request and then shuts its side
/// (SHUT_WR) gets the whole answer, every time, for a file, a listing and a route.
#[test]
fn serve_half_closed_clients_get_the_answer() {
    let d = site();
    let (_p, port) = serve(d.path(), &["--route", "GET /r routed-body"]);

    // ncat: stdin ends after the request, so ncat half-closes.
    let mut n = Command::new("ncat");
    n.args(["-w", "5", "-i", "5", "127.0.0.1", &port.to_string()]);
    let out = run(
        n,
        Some(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        Duration::from_secs(15),
    );
    let text = stdout(&out);
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\n"),
        "ncat got: {text:?}"
    );
    assert!(
        text.ends_with("\r\n\r\nhello, world\n"),
        "ncat got: {text:?}"
    );

    let py = format!(
        r#"
import socket
def fetch(path):
    s = socket.create_connection(("127.0.0.1", {port}))
    s.settimeout(10)
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    return got
for path, want in ((b"/hello.txt", b"hello, world\n"), (b"/docs/", b"a b&amp;c.txt"), (b"/r", b"routed-body")):
    for i in range(10):
        got = fetch(path)
        assert got.startswith(b"HTTP/1.1 200 OK\r\n"), (path, i, got[:200])
        assert want in got.split(b"\r\n\r\n", 1)[1], (path, i, got[:400])
print("ok")
"#
    );
    python_ok(&py);
    still_answers(port);
}

/// Issue 10 item 3: HTTP/2 (h2c) connections are held to the header timeout
/// (a HEADERS frame without END_HEADERS, then nothing) and to the idle timeout.
#[test]
fn serve_h2_header_and_idle_timeouts() {
    let d = site();
    // No --idle-timeout here: only the header timeout can close this one early.
    let (_h, hport) = serve(d.path(), &["--header-timeout", "1s"]);
    let (_p, port) = serve(
        d.path(),
        &["--header-timeout", "1s", "--idle-timeout", "2s"],
    );
    let py = format!(
        r#"
import socket, time
import h2.connection, h2.config, h2.events, h2.exceptions
def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    s.sendall(c.data_to_send())
    return s, c
def closed_after(s, c, reply=True):
    start = time.monotonic()
    while True:
        data = s.recv(65536)
        if not data:
            return time.monotonic() - start
        if not reply:
            continue  # any frame but CONTINUATION would break the connection itself
        try:
            c.receive_data(data)  # GOAWAY, then hyper's PING after it
            s.sendall(c.data_to_send())
        except h2.exceptions.ProtocolError:
            pass

# A request head that never ends: HEADERS without END_HEADERS.
s, c = connect({hport})
c.send_headers(1, [(":method", "GET"), (":path", "/hello.txt"), (":scheme", "http"), (":authority", "localhost")], end_stream=True)
frames = c.data_to_send()
# The HEADERS frame is the last one: clear its END_HEADERS flag (0x4).
i = len(frames)
j = 0
while j < len(frames):
    n = int.from_bytes(frames[j:j+3], "big")
    if frames[j+3] == 1:
        i = j
    j += 9 + n
assert i < len(frames), "no HEADERS frame"
frames = bytearray(frames)
frames[i+4] &= ~0x4
s.sendall(bytes(frames))
took = closed_after(s, c, reply=False)
assert 0.5 < took < 4, "header timeout: closed after %.1f s" % took

# An idle connection that was served once closes after --idle-timeout.
s, c = connect({port})
c.send_headers(1, [(":method", "GET"), (":path", "/hello.txt"), (":scheme", "http"), (":authority", "localhost")], end_stream=True)
s.sendall(c.data_to_send())
body = b""
status = None
done = False
while not done:
    data = s.recv(65536)
    assert data, "closed before the answer"
    for e in c.receive_data(data):
        if isinstance(e, h2.events.ResponseReceived):
            status = dict(e.headers)[b":status"]
        if isinstance(e, h2.events.DataReceived):
            body += e.data
            c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
        if isinstance(e, h2.events.StreamEnded):
            done = True
    s.sendall(c.data_to_send())
assert status == b"200" and body == b"hello, world\n", (status, body)
took = closed_after(s, c)
assert 1.5 < took < 5, "idle timeout: closed after %.1f s" % took
print("ok")
"#
    );
    python_ok(&py);
    still_answers(port);
}

/// Issue 10 item 6: a request head that arrives slowly is answered without
/// `Connection: close`, and the connection goes on serving (RFC 9112 §9.6).
#[test]
fn serve_slow_head_keeps_the_connection_honestly() {
    let d = site();
    let (_p, port) = serve(d.path(), &[]);
    let py = format!(
        r#"
import socket, time
s = socket.create_connection(("127.0.0.1", {port}))
s.settimeout(10)
def answer():
    got = b""
    while not got.endswith(b"hello, world\n"):
        chunk = s.recv(4096)
        assert chunk, ("closed", got)
        got += chunk
    return got
s.sendall(b"GET /hello.txt HTTP/1.1\r\n")
time.sleep(0.6)  # longer than the parking delay (250 ms)
s.sendall(b"Host: localhost\r\n\r\n")
first = answer()
assert first.startswith(b"HTTP/1.1 200 OK\r\n"), first
assert b"connection: close" not in first.lower(), first
s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
second = answer()
assert second.startswith(b"HTTP/1.1 200 OK\r\n"), second
print("ok")
"#
    );
    python_ok(&py);
}

/// Issue 10 item 7 (part): the header-count limit is `--max-headers` (100 by default).
#[test]
fn serve_max_headers_flag() {
    let d = site();
    let (_p, port) = serve(d.path(), &["--max-headers", "150"]);
    let many = |n: usize| {
        let mut r =
            String::from("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for i in 0..n {
            r.push_str(&format!("X-{i}: v\r\n"));
        }
        r.push_str("\r\n");
        r
    };
    let ok = String::from_utf8_lossy(&raw(port, many(120).as_bytes())).to_string();
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    let cut = String::from_utf8_lossy(&raw(port, many(160).as_bytes())).to_string();
    assert!(cut.starts_with("HTTP/1.1 431 "), "{cut}");
    still_answers(port);
}

/// curl with `input` on its stdin (for `-T -`).
fn curl_in(args: &[&str], input: &[u8]) -> Output {
    let mut c = Command::new("curl");
    c.args(["-s", "--max-time", "20"]).args(args);
    run(c, Some(input), T)
}

/// The value of header `name` (lower case) in curl's `-D -` output.
fn header_in(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// The final status line of curl's `-D -` output (after any `100 Continue`), without the line end.
fn status_line(head: &str) -> String {
    head.lines()
        .rfind(|l| l.starts_with("HTTP/") && !l.starts_with("HTTP/1.1 100 "))
        .unwrap_or("")
        .trim_end()
        .to_string()
}

#[test]
fn serve_conditional_requests_guard_writes_and_reads() {
    let d = tempfile::tempdir().expect("tempdir");
    let file = d.path().join("doc.txt");
    std::fs::write(&file, "version one\n").expect("write");
    let text: String = (0..200).map(|i| format!("line {i}\n")).collect();
    std::fs::write(d.path().join("big.txt"), &text).expect("write");
    let (_p, port) = serve(
        d.path(),
        &["--upload", "--overwrite", "--cache-control", "max-age=60"],
    );
    let u = url(port, "/doc.txt");
    let put = |headers: &[&str], target: &str| {
        let mut a = vec!["-D", "-", "-o", "/dev/null", "-T", "-"];
        for h in headers {
            a.extend(["-H", *h]);
        }
        a.push(target);
        status_line(&stdout(&curl_in(&a, b"version two\n")))
    };
    let on_disk = || std::fs::read_to_string(&file).expect("read");
    let failed = "HTTP/1.1 412 Precondition Failed";
    // Writes guarded by a false precondition are refused, the file untouched.
    assert_eq!(put(&["If-Match: \"wrong\""], &u), failed);
    assert_eq!(put(&["If-None-Match: *"], &u), failed);
    assert_eq!(
        put(&["If-Unmodified-Since: Thu, 01 Jan 1998 00:00:00 GMT"], &u),
        failed
    );
    assert_eq!(on_disk(), "version one\n");
    // If-Match on a missing file: 412, nothing created; If-None-Match: * creates.
    assert_eq!(put(&["If-Match: *"], &url(port, "/new.txt")), failed);
    assert!(!d.path().join("new.txt").exists());
    assert_eq!(
        put(&["If-None-Match: *"], &url(port, "/new.txt")),
        "HTTP/1.1 201 Created"
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("new.txt")).expect("read"),
        "version two\n"
    );
    // The right ETag lets the write through.
    let head = stdout(&curl(&["-I", &u]));
    let etag = header_in(&head, "etag").expect("etag");
    assert_eq!(put(&[&format!("If-Match: {etag}")], &u), "HTTP/1.1 200 OK");
    assert_eq!(on_disk(), "version two\n");
    assert_eq!(
        put(&[&format!("If-Match: {etag}")], &u),
        failed,
        "stale now"
    );

    // Reads: If-Match and If-Unmodified-Since (curl -z -DATE) give 412, as nginx does.
    assert_eq!(status(&["-H", "If-Match: \"wrong\"", &u]), "412");
    assert_eq!(status(&["-z", "-Thu, 01 Jan 1998 00:00:00 GMT", &u]), "412");
    assert_eq!(status(&["-H", "If-Match: *", &u]), "200");
    // curl -z DATE (If-Modified-Since) with the file's own date: 304.
    let head = stdout(&curl(&["-I", &u]));
    let lm2 = header_in(&head, "last-modified").expect("last-modified");
    assert_eq!(status(&["-z", &lm2, &u]), "304");
    assert_eq!(status(&["-z", "Thu, 01 Jan 1998 00:00:00 GMT", &u]), "200");
    // If-Match wins over If-None-Match (RFC 9110 §13.2.2).
    let etag2 = header_in(&head, "etag").expect("etag");
    assert_eq!(
        status(&[
            "-H",
            "If-Match: \"wrong\"",
            "-H",
            &format!("If-None-Match: {etag2}"),
            &u
        ]),
        "412"
    );

    // A 304 for a compressed 200 carries that 200's ETag, Vary and Cache-Control.
    let big = url(port, "/big.txt");
    let full = stdout(&curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-H",
        "Accept-Encoding: gzip",
        &big,
    ]));
    assert_eq!(
        header_in(&full, "content-encoding").as_deref(),
        Some("gzip")
    );
    let weak = header_in(&full, "etag").expect("etag");
    assert!(weak.starts_with("W/\""), "{full}");
    let not_modified = stdout(&curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-H",
        "Accept-Encoding: gzip",
        "-H",
        &format!("If-None-Match: {weak}"),
        &big,
    ]));
    assert_eq!(status_line(&not_modified), "HTTP/1.1 304 Not Modified");
    for name in ["etag", "vary", "cache-control", "last-modified"] {
        assert_eq!(
            header_in(&not_modified, name),
            header_in(&full, name),
            "{name}: {not_modified}"
        );
    }
    assert_eq!(
        header_in(&not_modified, "vary").as_deref(),
        Some("accept-encoding")
    );
    // The identity 200's strong ETag gets a 304 with the strong ETag.
    let plain = stdout(&curl(&["-I", &big]));
    let strong = header_in(&plain, "etag").expect("etag");
    assert_eq!(format!("W/{strong}"), weak);
    let nm = stdout(&curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-H",
        &format!("If-None-Match: {strong}"),
        &big,
    ]));
    assert_eq!(status_line(&nm), "HTTP/1.1 304 Not Modified");
    assert_eq!(header_in(&nm, "etag"), Some(strong));
    assert_eq!(header_in(&nm, "vary").as_deref(), Some("accept-encoding"));
    // The file changes while a guarded PUT's body is still coming in: 412, the
    // other writer's version stays (the condition is asked again before the rename).
    let race = d.path().join("race.txt");
    std::fs::write(&race, "first\n").expect("write");
    let py = format!(
        r#"
import http.client, socket
c = http.client.HTTPConnection("127.0.0.1", {port}, timeout=10)
c.request("HEAD", "/race.txt")
etag = c.getresponse().getheader("ETag")
s = socket.create_connection(("127.0.0.1", {port}), timeout=10)
s.sendall(("PUT /race.txt HTTP/1.1\r\nHost: localhost\r\nIf-Match: " + etag + "\r\nContent-Length: 10\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").encode())
# The server asks for the body (100 Continue) only once the first check has passed.
got = b""
while b"\r\n\r\n" not in got:
    chunk = s.recv(65536)
    assert chunk, got
    got += chunk
assert got.startswith(b"HTTP/1.1 100 Continue\r\n"), got
with open("{path}", "w") as f:
    f.write("theirs, longer\n")
s.sendall(b"mine-mine\n")
got = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
assert got.startswith(b"HTTP/1.1 412 Precondition Failed\r\n"), got[:300]
print("ok")
"#,
        path = race.display()
    );
    python_ok(&py);
    assert_eq!(
        std::fs::read_to_string(&race).expect("read"),
        "theirs, longer\n"
    );
    still_answers_at(port, "/big.txt");
}

fn still_answers_at(port: u16, path: &str) {
    assert_eq!(
        status(&[&url(port, path)]),
        "200",
        "the server stopped answering"
    );
}

/// Send `request` with ncat (which half-closes when its stdin ends) and return what came back.
fn ncat(port: u16, request: &[u8]) -> String {
    let mut n = Command::new("ncat");
    n.args(["-w", "5", "-i", "5", "127.0.0.1", &port.to_string()]);
    stdout(&run(n, Some(request), Duration::from_secs(15)))
}

#[test]
fn serve_refuses_rebinding_hosts_and_cross_site_writes() {
    let d = site();
    let up = tempfile::tempdir().expect("tempdir");
    let f = up.path().join("note.txt");
    std::fs::write(&f, "uploaded\n").expect("write");
    let form = format!("file=@{}", f.display());
    let (_p, port) = serve(d.path(), &["--upload"]);
    let u = url(port, "/hello.txt");
    // DNS rebinding: a foreign Host is refused with a page that names the flag.
    let out = curl(&["-D", "-", "-H", "Host: rebind.attacker.example", &u]);
    let text = stdout(&out);
    assert_eq!(
        status_line(&text),
        "HTTP/1.1 421 Misdirected Request",
        "{text}"
    );
    assert!(
        text.contains("not for Host 'rebind.attacker.example'")
            && text.contains("--allowed-host NAME"),
        "{text}"
    );
    assert!(!text.contains("hello, world"), "{text}");
    for host in [
        format!("localhost:{port}"),
        "app.localhost".to_string(),
        format!("127.0.0.1:{port}"),
        "127.9.9.9".to_string(),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(
            status(&["-H", &format!("Host: {host}"), &u]),
            "200",
            "{host}"
        );
    }
    assert_eq!(status(&["-H", "Host: 10.0.0.1", &u]), "421");
    // The same over HTTP/2 (h2c prior knowledge): the :authority is checked.
    assert_eq!(
        status(&[
            "--http2-prior-knowledge",
            "-H",
            "Host: rebind.attacker.example",
            &u
        ]),
        "421"
    );
    assert_eq!(status(&["--http2-prior-knowledge", &u]), "200");

    // Cross-site writes are refused and nothing is written.
    let post = |extra: &[&str]| {
        let mut a = vec!["-F", form.as_str()];
        a.extend_from_slice(extra);
        let target = url(port, "/docs/");
        a.push(&target);
        status(&a)
    };
    let saved = d.path().join("docs/note.txt");
    assert_eq!(post(&["-H", "Origin: http://evil.example"]), "403");
    assert_eq!(post(&["-H", "Sec-Fetch-Site: cross-site"]), "403");
    assert_eq!(post(&["-H", "Origin: null"]), "403");
    assert_eq!(
        post(&["-H", &format!("Origin: http://localhost:{}", port ^ 1)]),
        "403"
    );
    let page = stdout(&curl(&[
        "-F",
        &form,
        "-H",
        "Origin: http://evil.example",
        &url(port, "/docs/"),
    ]));
    assert!(
        page.contains("cross-site POST") && page.contains("--cors"),
        "{page}"
    );
    assert_eq!(
        status(&[
            "-T",
            f.to_str().expect("utf-8"),
            "-H",
            "Origin: http://evil.example",
            &url(port, "/docs/note.txt")
        ]),
        "403"
    );
    assert!(!saved.exists(), "a cross-site write was saved");
    // Same origin: saved.
    assert_eq!(
        post(&[
            "-H",
            &format!("Origin: http://127.0.0.1:{port}"),
            "-H",
            "Sec-Fetch-Site: same-origin"
        ]),
        "201"
    );
    assert_eq!(std::fs::read_to_string(&saved).expect("read"), "uploaded\n");
    // Reads from other sites are fine (a cross-site GET changes nothing).
    assert_eq!(status(&["-H", "Origin: http://evil.example", &u]), "200");
    drop(_p);

    // --allowed-host admits that name (still only that one); --cors lets other origins write.
    let (_p, port) = serve(
        d.path(),
        &[
            "--upload",
            "--cors",
            "--allowed-host",
            "rebind.attacker.example",
        ],
    );
    let u = url(port, "/hello.txt");
    assert_eq!(status(&["-H", "Host: rebind.attacker.example", &u]), "200");
    assert_eq!(
        status(&["-H", "Host: REBIND.attacker.example:80", &u]),
        "200"
    );
    assert_eq!(status(&["-H", "Host: other.example", &u]), "421");
    std::fs::remove_file(&saved).expect("rm");
    assert_eq!(
        status(&[
            "-F",
            &form,
            "-H",
            "Origin: http://evil.example",
            &url(port, "/docs/")
        ]),
        "201"
    );
    assert!(saved.exists());
    drop(_p);
    let (_p, port) = serve(d.path(), &["--allowed-host", "*"]);
    assert_eq!(
        status(&["-H", "Host: anything.example", &url(port, "/hello.txt")]),
        "200"
    );
    let bad = wirekit(&["serve", "-p", "0", "--allowed-host", "http://x.example"])
        .output()
        .expect("run");
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("--allowed-host 'http://x.example' is not a host name"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn serve_host_and_request_target_validation() {
    let d = site();
    let (_p, port) = serve(d.path(), &[]);
    let bad = "HTTP/1.1 400 Bad Request\r\n";
    let no_host = ncat(
        port,
        b"GET /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert!(no_host.starts_with(bad), "{no_host:?}");
    assert!(no_host.contains("needs a Host header"), "{no_host:?}");
    let two = ncat(
        port,
        b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(two.starts_with(bad), "{two:?}");
    assert!(two.contains("more than one Host header"), "{two:?}");
    let relative = ncat(
        port,
        b"GET hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(relative.starts_with(bad), "{relative:?}");
    assert!(
        !relative.to_lowercase().contains("location:"),
        "{relative:?}"
    );
    let garbage_host = ncat(
        port,
        b"GET /hello.txt HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n",
    );
    assert!(garbage_host.starts_with(bad), "{garbage_host:?}");
    // HTTP/1.0 needs no Host; absolute-form uses its own authority; OPTIONS * is fine.
    let old = ncat(port, b"GET /hello.txt HTTP/1.0\r\n\r\n");
    assert!(old.starts_with("HTTP/1.0 200 OK\r\n"), "{old:?}");
    let absolute = ncat(
        port,
        format!("GET http://127.0.0.1:{port}/hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(absolute.starts_with("HTTP/1.1 200 OK\r\n"), "{absolute:?}");
    let star = ncat(
        port,
        b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(star.starts_with("HTTP/1.1 204 No Content\r\n"), "{star:?}");
    still_answers(port);
}

/// Issue 10 item 1, the other ways a file is chosen: a precompressed sibling, a
/// listing entry and an upload target that are symlinks out of DIR are never
/// served, listed or written through (the index and --spa fallback are above).
#[test]
fn serve_siblings_listings_and_uploads_through_the_resolver() {
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("root");
    std::fs::create_dir_all(root.join("up")).expect("mkdir");
    let secret = outer.path().join("secret.txt");
    std::fs::write(&secret, "TOP SECRET OUTSIDE\n").expect("write");
    std::fs::create_dir(outer.path().join("secretdir")).expect("mkdir");
    std::fs::write(root.join("hello.txt"), "hello, world\n").expect("write");
    std::fs::write(root.join("app.js"), "console.log('inside');\n").expect("write");
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, root.join(name)).expect("symlink")
    };
    link(&secret, "app.js.gz");
    link(&secret, "leakfile.txt");
    link(&outer.path().join("secretdir"), "leakdir");
    link(&root.join("hello.txt"), "inlink.txt");
    link(&secret, "up/victim.txt");
    link(&root.join("hello.txt"), "up/inside.txt");

    let (_p, port) = serve(&root, &["--upload", "--overwrite"]);
    // A precompressed sibling out of DIR: not chosen; the file itself is sent.
    for extra in [&[][..], &["--http2-prior-knowledge"][..]] {
        let mut a = vec!["-D", "-", "-H", "Accept-Encoding: gzip"];
        a.extend_from_slice(extra);
        let u = url(port, "/app.js");
        a.push(&u);
        let text = stdout(&curl(&a));
        assert!(
            text.contains(" 200") && text.ends_with("\r\n\r\nconsole.log('inside');\n"),
            "{extra:?}: {text}"
        );
        assert!(
            !text.contains("SECRET") && header_in(&text, "content-encoding").is_none(),
            "{text}"
        );
    }
    // Listing entries: links out of DIR are left out, a link inside is listed.
    for q in ["/", "/?format=json"] {
        let page = stdout(&curl(&[&url(port, q)]));
        assert!(
            page.contains("hello.txt") && page.contains("inlink.txt"),
            "{q}: {page}"
        );
        assert!(
            !page.contains("leakfile") && !page.contains("leakdir") && !page.contains("SECRET"),
            "{q}: {page}"
        );
    }
    // Upload targets: PUT and a form onto a link out of DIR are 403, the outside file unchanged.
    let src = outer.path().join("payload.txt");
    std::fs::write(&src, "overwritten!\n").expect("write");
    let srcs = src.to_str().expect("utf-8");
    assert_eq!(status(&["-T", srcs, &url(port, "/up/victim.txt")]), "403");
    let form = format!("file=@{srcs};filename=victim.txt");
    assert_eq!(status(&["-F", &form, &url(port, "/up/")]), "403");
    assert_eq!(
        std::fs::read_to_string(&secret).expect("read"),
        "TOP SECRET OUTSIDE\n"
    );
    assert!(
        std::fs::symlink_metadata(root.join("up/victim.txt"))
            .expect("still there")
            .file_type()
            .is_symlink()
    );
    // A link inside DIR is not replaced either (409), and its target is untouched.
    assert_eq!(status(&["-T", srcs, &url(port, "/up/inside.txt")]), "409");
    assert_eq!(
        std::fs::read_to_string(root.join("hello.txt")).expect("read"),
        "hello, world\n"
    );
    still_answers(port);
}

/// The folder the listing page is shown and screenshotted with.
fn listing_site() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path();
    for dir in ["docs", "photos"] {
        std::fs::create_dir(p.join(dir)).expect("mkdir");
    }
    std::fs::write(p.join("docs/guide.txt"), "a guide\n").expect("write");
    std::fs::write(p.join("photos/beach.jpg"), vec![7u8; 3000]).expect("write");
    let files: [(&str, usize); 5] = [
        ("notes.txt", 12),
        ("report-2.pdf", 2_000),
        ("report-10.pdf", 10_000),
        ("song.mp3", 30_000),
        ("photo.jpg", 50_000),
    ];
    for (name, len) in files {
        std::fs::write(p.join(name), vec![b'x'; len]).expect("write");
    }
    std::fs::write(
        p.join("README.md"),
        "# Project files\n\nShared with `wirekit serve`. Raw HTML stays text:\n\n\
<script>window.__xss=1</script>\n\nand <img src=x onerror=window.__xss=2> too.\n\n\
- reports, by number\n- photos\n",
    )
    .expect("write");
    std::fs::write(p.join(".hidden"), "not listed\n").expect("write");
    d
}

/// The file names of `dir`, smallest first (what clicking "Size" shows).
fn by_size(dir: &Path) -> Vec<String> {
    let mut files: Vec<(u64, String)> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .map(|n| (std::fs::metadata(dir.join(&n)).expect("stat").len(), n))
        .collect();
    files.sort();
    files.into_iter().map(|(_, n)| n).collect()
}

#[test]
fn serve_listing_page_in_chromium() {
    let node = ["node", "nodejs"]
        .into_iter()
        .find(|b| have(b))
        .expect("node is not installed: run scripts/test-deps.sh");
    let d = listing_site();
    let order = serde_json::to_string(&by_size(d.path())).expect("json");
    let (_p, port) = serve(
        d.path(),
        &["--upload", "--mkdir", "--max-body", "64K", "-q"],
    );
    let locked = tempfile::tempdir().expect("tempdir");
    let (_t, tport) = serve(
        locked.path(),
        &["--upload", "--token", "secret-token", "-q"],
    );
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let mut c = Command::new(node);
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/listing.js"))
        .env("LISTING_URL", format!("http://localhost:{port}/"))
        .env("TOKEN_URL", format!("http://localhost:{tport}/"))
        .env("SHOTS", &shots)
        .env("BY_SIZE", &order);
    let out = run(c, None, Duration::from_secs(120));
    assert_eq!(
        code(&out),
        0,
        "the browser checks failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("ok a 401 is shown on the page in words"));
    // The policy that keeps names and READMEs from loading or running anything.
    let head = stdout(&curl(&["-sI", "-H", "Host: localhost", &url(port, "/")]));
    let csp = header_in(&head, "content-security-policy").expect("a CSP");
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-")
            && csp.contains("script-src 'sha256-"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    // What was dropped is on disk, byte for byte; what was refused is not.
    assert_eq!(
        std::fs::read_to_string(d.path().join("drop-one.txt")).expect("dropped"),
        "first dropped file\n"
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("drop-two.txt")).expect("dropped"),
        "second dropped file\n"
    );
    assert_eq!(
        std::fs::read(d.path().join("notes.txt"))
            .expect("kept")
            .len(),
        12
    );
    assert!(!d.path().join("big.bin").exists());
    assert!(d.path().join("new folder").is_dir());
    assert!(!locked.path().join("denied.txt").exists());
    for shot in [
        "listing-1100x700-light.png",
        "listing-1100x700-dark.png",
        "listing-375x800-light.png",
        "listing-375x800-dark.png",
    ] {
        let png = std::fs::read(shots.join(shot)).expect("screenshot");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{shot}");
    }
}

/// A folder with everything an archive must leave out: dotfiles, a dot folder,
/// links to a file and a folder outside, a link back up the tree; and links
/// inside (kept, as the listing shows them). The folder outside comes second.
fn archive_site() -> (tempfile::TempDir, tempfile::TempDir) {
    let d = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let p = d.path();
    std::fs::write(outside.path().join("passwd"), "root:x:0:0\n").expect("write");
    std::fs::write(p.join("a.txt"), "alpha\n").expect("write");
    std::fs::create_dir_all(p.join("sub/deep")).expect("mkdir");
    std::fs::create_dir_all(p.join(".git")).expect("mkdir");
    std::fs::write(p.join(".git/config"), "secret\n").expect("write");
    std::fs::write(p.join(".env"), "TOKEN=1\n").expect("write");
    std::fs::write(p.join("sub/b.txt"), "bravo\n").expect("write");
    std::fs::write(p.join("sub/.hidden"), "hidden\n").expect("write");
    let noise: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(p.join("sub/deep/c.bin"), &noise).expect("write");
    std::os::unix::fs::symlink(outside.path().join("passwd"), p.join("outfile")).expect("link");
    std::os::unix::fs::symlink(outside.path(), p.join("outdir")).expect("link");
    std::os::unix::fs::symlink("a.txt", p.join("inlink")).expect("link");
    std::os::unix::fs::symlink("sub", p.join("sublink")).expect("link");
    std::os::unix::fs::symlink("..", p.join("sub/up")).expect("link");
    (d, outside)
}

/// Download `path` to `to` with curl; the status code.
fn download(port: u16, path: &str, to: &Path) -> String {
    stdout(&curl(&[
        "--path-as-is",
        "-H",
        "Host: localhost",
        "-w",
        "%{http_code}",
        "-o",
        to.to_str().expect("utf-8"),
        &url(port, path),
    ]))
}

/// The file entries (not folders) an archive lister prints, sorted.
fn archive_files(program: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(program).args(args).output().expect("lister");
    assert!(out.status.success(), "{program} {args:?}: {}", stderr(&out));
    let mut files: Vec<String> = stdout(&out)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.ends_with('/'))
        .map(str::to_string)
        .collect();
    files.sort();
    files
}

#[test]
fn serve_folder_archives_hold_what_the_listing_shows() {
    let (d, _outside) = archive_site();
    let top = d
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let (_p, port) = serve(d.path(), &["-q"]);
    let page = stdout(&curl(&["-H", "Host: localhost", &url(port, "/")]));
    assert!(page.contains("href=\"?download=tar.gz\"") && page.contains("href=\"?download=zip\""));

    assert_eq!(download(port, "/?download=tar.gz", &w.join("a.tgz")), "200");
    assert_eq!(download(port, "/?download=zip", &w.join("a.zip")), "200");
    let tgz = w.join("a.tgz");
    let listed = archive_files("tar", &["tzf", tgz.to_str().expect("utf-8")]);
    // Folders are entries too; only files are compared (tar prints them without a slash).
    let tar_dirs = stdout(
        &Command::new("tar")
            .args(["tzvf", tgz.to_str().expect("utf-8")])
            .output()
            .expect("tar"),
    );
    let want: Vec<String> = [
        "a.txt",
        "inlink",
        "sub/b.txt",
        "sub/deep/c.bin",
        "sublink/b.txt",
        "sublink/deep/c.bin",
    ]
    .iter()
    .map(|f| format!("{top}/{f}"))
    .collect();
    let tar_files: Vec<String> = listed
        .into_iter()
        .filter(|f| {
            tar_dirs
                .lines()
                .any(|l| l.starts_with('-') && l.ends_with(f.as_str()))
        })
        .collect();
    assert_eq!(tar_files, want, "tar tzf:\n{tar_dirs}");
    let zip = w.join("a.zip");
    let unzip_list = archive_files("unzip", &["-Z1", zip.to_str().expect("utf-8")]);
    assert_eq!(unzip_list, want);
    // unzip -l, as a person would check it: the same names.
    let human = stdout(
        &Command::new("unzip")
            .args(["-l", zip.to_str().expect("utf-8")])
            .output()
            .expect("unzip"),
    );
    for f in &want {
        assert!(
            human.contains(f.as_str()),
            "{f} missing from unzip -l:\n{human}"
        );
    }
    for leak in [
        "passwd", ".git", ".env", ".hidden", "outdir", "outfile", "up/",
    ] {
        assert!(
            !tar_dirs.contains(leak),
            "{leak} leaked into the tar:\n{tar_dirs}"
        );
        assert!(
            !human.contains(leak),
            "{leak} leaked into the zip:\n{human}"
        );
    }
    // Contents byte-equal, extracted by the real tools.
    for (tool, args, into) in [
        (
            "tar",
            vec!["xzf", tgz.to_str().expect("utf-8"), "-C"],
            w.join("t"),
        ),
        (
            "unzip",
            vec!["-q", zip.to_str().expect("utf-8"), "-d"],
            w.join("z"),
        ),
    ] {
        std::fs::create_dir(&into).expect("mkdir");
        let mut c = Command::new(tool);
        c.args(&args).arg(&into);
        assert!(c.status().expect("extract").success(), "{tool}");
        for f in &want {
            let rel = f.strip_prefix(&format!("{top}/")).expect("prefix");
            let real = d.path().join(rel.replace("sublink", "sub"));
            let real = if rel == "inlink" {
                d.path().join("a.txt")
            } else {
                real
            };
            assert_eq!(
                std::fs::read(into.join(f)).expect("extracted"),
                std::fs::read(&real).expect("original"),
                "{tool}: {f}"
            );
        }
    }
    // A subfolder is named after itself; `..` and dot folders are refused.
    assert_eq!(
        download(port, "/sub/?download=zip", &w.join("s.zip")),
        "200"
    );
    let s = w.join("s.zip");
    assert_eq!(
        archive_files("unzip", &["-Z1", s.to_str().expect("utf-8")]),
        ["sub/b.txt", "sub/deep/c.bin"]
    );
    assert_eq!(download(port, "/sub/../?download=zip", &w.join("x")), "403");
    assert_eq!(
        download(port, "/sub/%2e%2e/?download=tar.gz", &w.join("x")),
        "403"
    );
    assert_eq!(
        download(port, "/outdir/?download=tar.gz", &w.join("x")),
        "403"
    );
    assert_eq!(
        download(port, "/.git/?download=tar.gz", &w.join("x")),
        "404"
    );
    assert_eq!(download(port, "/?download=rar", &w.join("x")), "400");
    let head = stdout(&curl(&[
        "-sI",
        "-H",
        "Host: localhost",
        &url(port, "/sub/?download=tar.gz"),
    ]));
    assert!(
        head.contains("content-disposition: attachment; filename=\"sub.tar.gz\""),
        "{head}"
    );

    // --hidden: the dotfiles come in, links out of DIR still do not.
    let (_h, hport) = serve(d.path(), &["-q", "--hidden"]);
    assert_eq!(
        download(hport, "/?download=tar.gz", &w.join("h.tgz")),
        "200"
    );
    let h = w.join("h.tgz");
    let hidden = archive_files("tar", &["tzf", h.to_str().expect("utf-8")]);
    for f in [".env", ".git/config", "sub/.hidden"] {
        assert!(hidden.contains(&format!("{top}/{f}")), "{f}: {hidden:?}");
    }
    assert!(
        !hidden
            .iter()
            .any(|f| f.contains("passwd") || f.contains("outdir"))
    );

    // --no-archives: no links, and a clear 403.
    let (_n, nport) = serve(d.path(), &["-q", "--no-archives"]);
    let page = stdout(&curl(&["-H", "Host: localhost", &url(nport, "/")]));
    assert!(!page.contains("download="), "{page}");
    let refused = curl(&[
        "-w",
        "\n%{http_code}",
        "-H",
        "Host: localhost",
        &url(nport, "/?download=zip"),
    ]);
    assert_eq!(
        stdout(&refused),
        "403 Forbidden: folder archives are off (--no-archives)\n\n403"
    );
}

/// The highest resident set size of process `pid` so far, in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn serve_two_gib_folder_archives_stream_in_bounded_memory() {
    let d = tempfile::tempdir().expect("tempdir");
    // 2 GiB of sparse files: nothing on disk, every byte read and archived.
    for name in ["one.img", "two.img"] {
        let f = std::fs::File::create(d.path().join(name)).expect("create");
        f.set_len(1 << 30).expect("truncate");
    }
    std::fs::write(d.path().join("small.txt"), "small\n").expect("write");
    let work = tempfile::tempdir().expect("tempdir");
    let (p, port) = serve(d.path(), &["-q"]);
    for (format, lister) in [
        (
            "tar.gz",
            [
                "sh",
                "-c",
                "curl -sf -H 'Host: localhost' \"$0\" | tar tzvf -",
            ],
        ),
        (
            "zip",
            [
                "sh",
                "-c",
                "curl -sf -H 'Host: localhost' -o \"$1\" \"$0\" && unzip -l \"$1\"",
            ],
        ),
    ] {
        let zip_at = work.path().join("out.zip");
        let mut c = Command::new(lister[0]);
        c.args(&lister[1..])
            .arg(url(port, &format!("/?download={format}")))
            .arg(&zip_at);
        let out = run(c, None, Duration::from_secs(240));
        let _ = std::fs::remove_file(&zip_at);
        assert_eq!(code(&out), 0, "{format}: {}", stderr(&out));
        let listing = stdout(&out);
        for f in ["one.img", "two.img", "small.txt"] {
            assert!(listing.contains(f), "{format}: {listing}");
        }
        assert_eq!(
            listing.matches("1073741824").count(),
            2,
            "{format}: both 1 GiB files whole:\n{listing}"
        );
        let hwm = vm_hwm_kib(p.pid());
        assert!(
            hwm < 64 * 1024,
            "{format}: the server's peak RSS was {hwm} KiB streaming 2 GiB"
        );
    }
}

/// The text zbarimg (a QR decoder) reads in `image`.
fn decode_qr(image: &Path) -> String {
    let out = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(image)
        .output()
        .expect("zbarimg is not installed: run scripts/test-deps.sh");
    stdout(&out).trim().to_string()
}

/// The terminal's half-block QR code as a PGM image (a block is a light module), 8x.
fn half_blocks_to_pgm(text: &str) -> Vec<u8> {
    let rows: Vec<Vec<(bool, bool)>> = text
        .lines()
        .map(|l| {
            l.chars()
                .map(|c| match c {
                    '\u{2588}' => (true, true),
                    '\u{2580}' => (true, false),
                    '\u{2584}' => (false, true),
                    _ => (false, false),
                })
                .collect()
        })
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let scale = 8;
    let mut pixels = Vec::new();
    for row in &rows {
        for half in [0, 1] {
            let mut line = Vec::new();
            for x in 0..width {
                let (top, bottom) = row.get(x).copied().unwrap_or((true, true));
                let light = if half == 0 { top } else { bottom };
                line.extend(std::iter::repeat_n(if light { 255u8 } else { 0 }, scale));
            }
            for _ in 0..scale {
                pixels.extend_from_slice(&line);
            }
        }
    }
    let mut pgm = format!("P5\n{} {}\n255\n", width * scale, rows.len() * 2 * scale).into_bytes();
    pgm.extend(pixels);
    pgm
}

#[test]
fn serve_qr_codes_in_the_terminal_and_on_the_page() {
    let browser = chromium();
    let d = site();
    let w = tempfile::tempdir().expect("tempdir");
    let (p, port) = serve(d.path(), &["--qr", "-q"]);
    let page = stdout(&curl(&[
        "-H",
        &format!("Host: localhost:{port}"),
        &url(port, "/docs/"),
    ]));
    let start = page
        .find("<summary>QR code</summary><svg")
        .expect("a QR code on the page")
        + "<summary>QR code</summary>".len();
    let end = start + page[start..].find("</svg>").expect("svg end") + "</svg>".len();
    std::fs::write(w.path().join("qr.svg"), &page[start..end]).expect("write");
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=400,400",
    ])
    .arg(format!(
        "--screenshot={}",
        w.path().join("qr.png").display()
    ))
    .arg(format!("file://{}", w.path().join("qr.svg").display()));
    run(c, None, Duration::from_secs(60));
    assert_eq!(
        decode_qr(&w.path().join("qr.png")),
        format!("http://localhost:{port}/docs/")
    );
    // The terminal's code, decoded from what was printed.
    let out = p.terminate(T);
    let printed = stdout(&out);
    let code_text: String = printed
        .lines()
        .filter(|l| l.contains('\u{2588}'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(code_text.lines().count() > 10, "{printed}");
    std::fs::write(w.path().join("term.pgm"), half_blocks_to_pgm(&code_text)).expect("write");
    let want = format!("http://127.0.0.1:{port}/");
    assert_eq!(decode_qr(&w.path().join("term.pgm")), want);
    assert!(printed.lines().any(|l| l == want), "{printed}");
}

/// Issue 10 item 5: `--upload` bound to a non-loopback address (0.0.0.0 here;
/// traffic only to 127.0.0.1) without `--auth`/`--token` prints a warning that
/// names the address and the flags; with `--auth`, or bound to loopback, none.
#[test]
fn serve_warns_about_open_uploads_on_other_addresses() {
    let d = site();
    let (open, port) = serve(d.path(), &["-b", "0.0.0.0", "--upload"]);
    let warning = open.line(Pipe::Stderr, "uploads are on");
    assert!(
        warning.contains(&format!(
            "0.0.0.0:{port} is reachable from other machines without credentials"
        )),
        "{warning}"
    );
    assert!(
        warning.contains("--auth USER:PASS or --token TOKEN"),
        "{warning}"
    );
    assert_eq!(
        status(&["-T", "-", &url(port, "/open.txt")]),
        "201",
        "the upload itself still works"
    );
    for (args, want) in [
        (
            &["-b", "0.0.0.0", "--upload", "--auth", "me:secret"][..],
            "401",
        ),
        (&["-b", "0.0.0.0", "--upload", "--token", "t0k"][..], "401"),
        (&["--upload"][..], "200"),
    ] {
        let (p, port) = serve(d.path(), args);
        // The warning comes before the first answer, so an answered request
        // proves it was not printed.
        assert_eq!(status(&[&url(port, "/hello.txt")]), want, "{args:?}");
        p.line(Pipe::Stderr, "\"GET /hello.txt HTTP/1.1\"");
        assert!(
            !p.so_far(Pipe::Stderr).contains("uploads are on"),
            "{args:?}: {}",
            p.so_far(Pipe::Stderr)
        );
    }
}
