//! `wirekit fetch` and `fetch_all` against the recording Python server.

use crate::http::peer;
use crate::util::*;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(180);

#[test]
fn two_thousand_urls_with_404s_and_refused_ports() {
    let (_p, port) = peer(None);
    let dead: Vec<u16> = (0..5).map(|_| free_port()).collect(); // nothing listens: refused
    let mut urls = Vec::new();
    for i in 0..2000 {
        urls.push(match i % 40 {
            0..=2 => format!("http://127.0.0.1:{port}/missing/{i}"),
            3 => format!("http://127.0.0.1:{}/x/{i}", dead[i % 5]),
            _ => format!("http://127.0.0.1:{port}/ok/{i}"),
        });
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let list = dir.path().join("urls.txt");
    std::fs::write(&list, urls.join("\n") + "\n# a comment\n\n").expect("write");
    // output() reads stdout while the process runs: 2,000 lines overflow a pipe buffer.
    // --timeout bounds every request, so the run is bounded too.
    let out = wirekit(&[
        "fetch",
        "-i",
        list.to_str().expect("path"),
        "-j",
        "32",
        "--timeout",
        "20s",
    ])
    .stdin(std::process::Stdio::null())
    .output()
    .expect("run wirekit fetch");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let mut seen: HashMap<String, Value> = HashMap::new();
    let text = stdout(&out);
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("a JSON line");
        let url = v["url"].as_str().expect("url").to_string();
        assert!(seen.insert(url, v).is_none(), "a URL reported twice");
    }
    assert_eq!(text.lines().count(), 2000);
    assert_eq!(seen.len(), 2000);
    let (mut ok, mut missing, mut refused) = (0, 0, 0);
    for u in &urls {
        let v = &seen[u];
        if u.contains("/ok/") {
            assert_eq!(v["status"], 200, "{v}");
            assert_eq!(
                v["bytes"],
                format!("hello {}", &u[u.find("/ok/").expect("path")..]).len()
            );
            assert!(v["error"].is_null());
            ok += 1;
        } else if u.contains("/missing/") {
            assert_eq!(v["status"], 404, "{v}");
            missing += 1;
        } else {
            assert!(v["status"].is_null(), "{v}");
            assert!(v["error"].as_str().unwrap_or("").contains("refused"), "{v}");
            refused += 1;
        }
        assert!(v["ms"].is_number() && v["attempts"].is_number());
    }
    assert_eq!((ok, missing, refused), (1800, 150, 50));
    let err = stderr(&out);
    assert!(err.contains("fetched 2000 URLs"), "{err}");
    assert!(
        err.contains("1800 ok, 200 failed (150 HTTP 4xx/5xx, 50 errors)"),
        "{err}"
    );
    assert!(err.contains("200 of 2000 URLs failed"), "{err}");
    assert!(err.contains("p50") && err.contains("p99"), "{err}");
}

#[test]
fn stdin_urls_bodies_saved_and_exit_0() {
    let (_p, port) = peer(None);
    let dir = tempfile::tempdir().expect("tempdir");
    let input =
        format!("http://127.0.0.1:{port}/ok/a\n:{port}/ok/b\nhttp://127.0.0.1:{port}/flaky\n");
    let out = run(
        wirekit(&[
            "fetch",
            "--retry",
            "3",
            "--retry-delay",
            "10ms",
            "-o",
            dir.path().to_str().expect("path"),
        ]),
        Some(input.as_bytes()),
        LIMIT,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 3);
    for v in &lines {
        let file = v["file"].as_str().expect("file field");
        let body = std::fs::read(file).expect("saved body");
        assert_eq!(body.len() as u64, v["bytes"].as_u64().expect("bytes"));
        if v["url"].as_str().unwrap_or("").ends_with("/flaky") {
            // Which attempts meet a fresh connection depends on the pool; at least the
            // 503 was retried.
            assert_eq!(v["status"], 200, "{v}");
            assert!(v["attempts"].as_u64().unwrap_or(0) >= 2, "{v}");
        } else {
            assert!(String::from_utf8_lossy(&body).starts_with("hello /ok/"));
        }
    }
}

#[test]
fn bad_fetch_input_exits_2() {
    let out = run(wirekit(&["fetch", "-i", "/no/such/list"]), None, LIMIT);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("/no/such/list"), "{}", stderr(&out));
    let out = run(wirekit(&["fetch"]), Some(b""), LIMIT);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no URLs"), "{}", stderr(&out));
    // A malformed URL is one failed line, not a crash.
    let out = run(wirekit(&["fetch", "http://exa mple/"]), None, LIMIT);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("not a valid URL"), "{}", stdout(&out));
}

#[test]
fn fetch_all_as_a_library() {
    use futures_util::StreamExt;
    use wirekit::http::client::fetch::{FetchOptions, fetch_all};
    let (_p, port) = peer(None);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let results: Vec<_> = rt.block_on(async {
        let client = wirekit::http::client::default_client().expect("client");
        let mut opts = FetchOptions::new(client);
        opts.concurrency = 4;
        let urls = (0..20).map(|i| format!("http://127.0.0.1:{port}/ok/{i}"));
        fetch_all(urls, opts).collect().await
    });
    assert_eq!(results.len(), 20);
    assert!(results.iter().all(|r| r.status == Some(200) && !r.failed()));
}

#[test]
fn per_host_limit_bounds_concurrency() {
    let (_p, port) = peer(None);
    let urls: Vec<String> = (0..16)
        .map(|i| format!("http://127.0.0.1:{port}/conc/{i}"))
        .collect();
    let mut args = vec!["fetch", "-j", "8", "--per-host", "2"];
    args.extend(urls.iter().map(String::as_str));
    let out = run(wirekit(&args), None, LIMIT);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let max = run(
        wirekit(&["http", &format!("http://127.0.0.1:{port}/maxconc")]),
        None,
        LIMIT,
    );
    assert_eq!(stdout(&max), "2", "at most 2 requests at once to one host");
}

#[test]
fn connections_are_pooled_and_reused() {
    let (_p, port) = peer(None);
    let urls: Vec<String> = (0..30)
        .map(|i| format!("http://127.0.0.1:{port}/ok/{i}"))
        .collect();
    let mut args = vec!["fetch", "-j", "1", "--json"];
    args.extend(urls.iter().map(String::as_str));
    let out = run(wirekit(&args), None, LIMIT);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: Value = serde_json::from_str(stderr(&out).trim()).expect("--json summary");
    assert_eq!(
        (summary["done"].as_u64(), summary["ok"].as_u64()),
        (Some(30), Some(30))
    );
    // 30 requests, one at a time, over a few pooled connections (hyper may open a second
    // one when the next request starts before the last answer's connection is idle again),
    // plus this question's own connection.
    let conns = run(
        wirekit(&["http", &format!("http://127.0.0.1:{port}/conns")]),
        None,
        LIMIT,
    );
    let n: u32 = stdout(&conns).trim().parse().expect("a count");
    // Without pooling it would be 31; a loaded machine opens a few more than a quiet one.
    assert!((2..=15).contains(&n), "{n} connections for 30 requests");
}

/// A TCP listener (Python `socket`) that accepts connections and never answers;
/// the process and its port.
fn silent_listener() -> (Proc, u16) {
    let (p, _stdin) = python_steps(
        "import socket, time\n\
         s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(64)\n\
         print('listening on 127.0.0.1:%d' % s.getsockname()[1], flush=True)\n\
         held = []\n\
         while True:\n    c, _ = s.accept(); held.append(c)\n",
    );
    let port = p.port_after(Pipe::Stdout, "listening on ");
    (p, port)
}

/// Three URLs, one on a silent host: the two answered lines arrive while the run goes
/// on; then `signal` stops it with `exit`, keeping those lines and writing the summary.
fn stopped_mid_run(signal: &str, exit: i32, name: &str) {
    let (_peer, port) = peer(None);
    let (_silent, quiet_port) = silent_listener();
    let silent_url = format!("http://127.0.0.1:{quiet_port}/never");
    let ok_a = format!("http://127.0.0.1:{port}/ok/a");
    let missing = format!("http://127.0.0.1:{port}/missing/b");
    let started = std::time::Instant::now();
    let mut p = Proc::start(wirekit(&["fetch", &silent_url, &ok_a, &missing]));
    // Read the pipe as it fills: both lines come long before the silent URL ends.
    let a = p.line(Pipe::Stdout, "/ok/a");
    let b = p.line(Pipe::Stdout, "/missing/b");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "lines took {waited:?} to arrive"
    );
    assert!(p.alive(), "the silent URL still runs");
    let a: Value = serde_json::from_str(&a).expect("json");
    let b: Value = serde_json::from_str(&b).expect("json");
    assert_eq!(
        (a["status"].as_u64(), b["status"].as_u64()),
        (Some(200), Some(404))
    );
    assert!(!p.so_far(Pipe::Stdout).contains("/never"));
    signal_proc(&p, signal);
    let out = p.wait(Duration::from_secs(20));
    assert_eq!(code(&out), exit, "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", stdout(&out));
    let cut = lines
        .iter()
        .find(|v| v["url"] == silent_url.as_str())
        .expect("a line for the URL in flight");
    assert_eq!(cut["error"], "interrupted");
    assert_eq!(cut["interrupted"], true);
    let err = stderr(&out);
    assert!(err.contains("fetched 2 URLs"), "{err}");
    assert!(
        err.contains(&format!(
            "stopped by {name}: 1 in flight interrupted, 0 not started"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("wirekit: stopped by {name}: 2 of 3 URLs done")),
        "{err}"
    );
}

fn signal_proc(p: &Proc, name: &str) {
    signal(p.pid(), name);
}

#[test]
fn lines_arrive_as_urls_complete_and_sigint_keeps_them() {
    stopped_mid_run("INT", 130, "SIGINT");
}

#[test]
fn sigterm_keeps_the_lines_and_writes_the_summary() {
    stopped_mid_run("TERM", 143, "SIGTERM");
}

#[test]
fn timeout_names_the_url_and_ends_a_silent_host() {
    let (_silent, quiet_port) = silent_listener();
    let url = format!("http://127.0.0.1:{quiet_port}/x");
    let out = run(wirekit(&["fetch", "--timeout", "300ms", &url]), None, LIMIT);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let v: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON line");
    assert_eq!(
        v["error"],
        format!("request to {url} timed out after 300ms (raise --timeout)")
    );
    assert!(v["status"].is_null());
}

#[test]
fn resume_fetches_only_what_an_earlier_run_left() {
    let (_p, port) = peer(None);
    let url = |n: &str| format!("http://127.0.0.1:{port}/ok/{n}");
    let dir = tempfile::tempdir().expect("tempdir");
    let earlier = dir.path().join("out.jsonl");
    // An earlier run's output: one done, one failed (done too), one cut by a signal, and a
    // last line cut short when that run was killed.
    let text = format!(
        "{{\"url\":\"{}\",\"status\":200,\"bytes\":9,\"ms\":1.0,\"attempts\":1,\"error\":null}}\n\
         {{\"url\":\"{}\",\"status\":404,\"bytes\":9,\"ms\":1.0,\"attempts\":1,\"error\":null}}\n\
         {{\"url\":\"{}\",\"status\":null,\"bytes\":0,\"ms\":5.0,\"attempts\":0,\"error\":\"interrupted\",\"interrupted\":true}}\n\
         {{\"url\":\"{}\",\"sta",
        url("a"),
        url("b"),
        url("c"),
        url("d")
    );
    std::fs::write(&earlier, &text).expect("write");
    let list = dir.path().join("urls.txt");
    let all: Vec<String> = ["a", "b", "c", "d", "e"].iter().map(|n| url(n)).collect();
    std::fs::write(&list, all.join("\n")).expect("write");
    // Appended to the same file, as the README shows.
    let append = std::fs::OpenOptions::new()
        .append(true)
        .open(&earlier)
        .expect("open for append");
    let p = Proc::new(
        wirekit(&[
            "fetch",
            "-i",
            list.to_str().expect("path"),
            "--resume",
            earlier.to_str().expect("path"),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(append)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start fetch"),
    );
    let out = p.wait(LIMIT);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("fetched 3 URLs"), "{err}");
    assert!(
        err.contains("; 2 skipped (already in the --resume file)"),
        "{err}"
    );
    let now = std::fs::read_to_string(&earlier).expect("read");
    assert!(
        now.starts_with(&text),
        "the earlier lines stay as they were"
    );
    let new: Vec<Value> = now[text.len()..]
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).expect("a whole JSON line"))
        .collect();
    let mut fetched: Vec<&str> = new
        .iter()
        .map(|v| v["url"].as_str().expect("url"))
        .collect();
    fetched.sort_unstable();
    assert_eq!(fetched, [url("c"), url("d"), url("e")]);
    assert!(new.iter().all(|v| v["status"] == 200));
    // Now everything is done: a second resume fetches nothing and exits 0.
    let out = run(
        wirekit(&[
            "fetch",
            "-i",
            list.to_str().expect("path"),
            "--resume",
            earlier.to_str().expect("path"),
        ]),
        None,
        LIMIT,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("fetched 0 URLs"), "{}", stderr(&out));
    assert!(stderr(&out).contains("5 skipped"), "{}", stderr(&out));
    // A URL list given as --resume is refused, naming the line.
    let out = run(
        wirekit(&["fetch", &url("a"), "--resume", list.to_str().expect("path")]),
        None,
        LIMIT,
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 1 is not a JSON line"),
        "{}",
        stderr(&out)
    );
}
