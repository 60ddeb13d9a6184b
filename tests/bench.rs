//! `wirekit bench` against real servers: `wirekit serve` (with its access log),
//! nginx, a Python server that closes every connection; the JSON histogram read
//! back with PyPI `hdrhistogram`.

use crate::util::*;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

/// A folder with a 1 KiB file `k.bin`, served by `wirekit serve` on port 0.
fn serve(extra: &[&str]) -> (tempfile::TempDir, Proc, u16) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("k.bin"), vec![b'x'; 1024]).expect("write k.bin");
    let root = dir.path().to_str().expect("path").to_string();
    let mut args = vec!["serve", root.as_str(), "-p", "0"];
    args.extend_from_slice(extra);
    let (p, port) = Proc::server(&args);
    (dir, p, port)
}

fn bench(args: &[&str]) -> std::process::Output {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    run(wirekit(&all), None, LIMIT)
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

/// A `--json` run that exited 0: its report and the verdict it must carry.
fn verdict_of(out: &std::process::Output) -> (Value, String) {
    assert_eq!(code(out), 0, "{}", stderr(out));
    let v = json(out);
    let verdict = v["verdict"]
        .as_str()
        .unwrap_or_else(|| panic!("no verdict: {v}"))
        .to_string();
    (v, verdict)
}

#[test]
fn ten_thousand_requests_are_exactly_ten_thousand_log_lines() {
    let (_dir, server, port) = serve(&[]);
    let url = format!("http://127.0.0.1:{port}/k.bin");
    let out = bench(&[&url, "-n", "10000", "-c", "16", "-t", "2", "--latency"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("10000 requests in "), "{text}");
    assert!(text.contains("Statuses: 200: 10000"), "{text}");
    assert!(text.contains("Errors: none"), "{text}");
    for p in ["p50", "p75", "p90", "p99", "p99.9", "p99.99", "max"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(p)),
            "no {p} in {text}"
        );
    }
    let log = server.terminate(Duration::from_secs(20));
    let lines = stderr(&log)
        .lines()
        .filter(|l| l.contains("\"GET /k.bin HTTP/1.1\" 200"))
        .count();
    assert_eq!(lines, 10_000, "access log lines");
}

#[test]
fn json_histogram_decodes_with_python_hdrhistogram() {
    let (_dir, _server, port) = serve(&["-q"]);
    let url = format!("http://127.0.0.1:{port}/k.bin");
    let out = bench(&[
        &url,
        "-n",
        "3000",
        "-c",
        "8",
        "-X",
        "POST",
        "--body",
        "hello",
        "-H",
        "X-Test: 1",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["requests"], 3000);
    assert_eq!(v["responses"], 3000);
    // serve answers a POST to a file with 405: counted as a 4xx, not as a failure.
    assert_eq!(v["statuses"]["405"], 3000, "{v}");
    assert_eq!(v["errors"]["status_4xx"], 3000);
    assert!(v["bytes"].as_u64().expect("bytes") > 3000 * 100);
    let l = &v["latency"];
    assert_eq!(l["count"], 3000);
    let code_text = format!(
        "from hdrh.histogram import HdrHistogram\n\
         h = HdrHistogram.decode({hist:?})\n\
         assert h.get_total_count() == {count}, h.get_total_count()\n\
         assert h.get_min_value() == {min}, (h.get_min_value(), {min})\n\
         assert h.get_max_value() == {max}, (h.get_max_value(), {max})\n\
         assert h.get_value_at_percentile(99) == {p99}, (h.get_value_at_percentile(99), {p99})\n\
         print('ok')",
        hist = l["histogram"].as_str().expect("histogram"),
        count = l["count"],
        min = l["min_us"],
        max = l["max_us"],
        p99 = l["percentiles"]["p99"],
    );
    python_ok(&code_text);
}

#[test]
fn unreachable_target_counts_connect_errors_and_exits_1() {
    let port = free_port(); // nothing listens: refused
    let url = format!("http://127.0.0.1:{port}/");
    let out = bench(&[&url, "-n", "50", "-c", "4", "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["requests"], 50);
    assert_eq!(v["responses"], 0);
    assert_eq!(v["errors"]["connect"], 50);
    let err = stderr(&out);
    assert!(
        err.contains("50 of 50 requests got no answer: connect 50"),
        "{err}"
    );
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn bad_usage_exits_2_naming_the_flag() {
    for (args, needle) in [
        (
            vec!["ftp://127.0.0.1/"],
            "is not an http:// or https:// URL",
        ),
        (vec!["not a url"], "is not an http:// or https:// URL"),
        (vec!["http://127.0.0.1:1/", "-c", "0"], "-c 0"),
        (vec!["http://127.0.0.1:1/", "-R", "0"], "-R 0"),
        (vec!["http://127.0.0.1:1/", "-R", "nan"], "-R NaN"),
        (
            vec!["http://127.0.0.1:1/", "--duration=-1s"],
            "is not a duration",
        ),
        (
            vec!["http://127.0.0.1:1/", "--stages", "10s"],
            "DURATION:RATE",
        ),
        (
            vec!["http://127.0.0.1:1/", "--body-file", "/nonexistent/b"],
            "--body-file",
        ),
        // --find-max-rate once ran the full rate on every shard and wrote no page.
        (
            vec![
                "http://127.0.0.1:1/",
                "--find-max-rate",
                "--slo",
                "p99<1s",
                "--shard",
                "1/2",
            ],
            "'--find-max-rate' cannot be used with '--shard <I/N>'",
        ),
        (
            vec![
                "http://127.0.0.1:1/",
                "--find-max-rate",
                "--slo",
                "p99<1s",
                "--html",
                "r.html",
            ],
            "'--find-max-rate' cannot be used with '--html <FILE>'",
        ),
        (
            vec![
                "http://127.0.0.1:1/",
                "--find-max-rate",
                "--slo",
                "p99<1s",
                "--hgrm",
                "r.hgrm",
            ],
            "'--find-max-rate' cannot be used with '--hgrm <FILE>'",
        ),
    ] {
        let out = bench(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_server_that_closes_every_connection_is_counted_without_a_hang() {
    let port = free_port();
    let code_text = format!(
        "import socket\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port})); s.listen(128)\n\
         while True:\n\
         \x20   c, _ = s.accept()\n\
         \x20   c.recv(65536)\n\
         \x20   c.close()\n"
    );
    let _server = python_server(&code_text, port, false);
    let url = format!("http://127.0.0.1:{port}/");
    let started = Instant::now();
    let out = bench(&[
        &url,
        "-n",
        "200",
        "-c",
        "4",
        "-t",
        "1",
        "--timeout",
        "5s",
        "--json",
    ]);
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["requests"], 200);
    assert_eq!(v["responses"], 0);
    let e = &v["errors"];
    let read = e["read"].as_u64().expect("read");
    assert!(read > 0, "{v}");
    assert_eq!(read + e["connect"].as_u64().expect("connect"), 200, "{v}");
    assert!(stderr(&out).contains("read "), "{}", stderr(&out));
}

#[test]
fn answers_5xx_and_timeouts_are_counted_by_kind() {
    let (_dir, _server, port) = serve(&["-q", "--httpbin"]);
    // A 503 is an answer (exit 0), counted as a 5xx.
    let url = format!("http://127.0.0.1:{port}/status/503");
    let out = bench(&[&url, "-n", "50", "-c", "2", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["responses"], 50, "{v}");
    assert_eq!(v["statuses"]["503"], 50, "{v}");
    assert_eq!(v["errors"]["status_5xx"], 50, "{v}");
    assert_eq!(v["error_reasons"]["status_5xx"], "HTTP 503", "{v}");
    // No answer within --timeout: a timeout each, exit 1, the reason named.
    let url = format!("http://127.0.0.1:{port}/delay/3");
    let started = Instant::now();
    let out = bench(&[&url, "-n", "2", "-c", "1", "--timeout", "300ms", "--json"]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "each request gave up at 300 ms"
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["responses"], 0, "{v}");
    assert_eq!(v["errors"]["timeout"], 2, "{v}");
    assert!(
        stderr(&out).contains("timeout 2 (no complete answer within 300ms (--timeout))"),
        "{}",
        stderr(&out)
    );
}

/// nginx (one worker) serving a 1 KiB `k.bin` on a free port (HTTP/1.1) and on a
/// second one (h2c, logging each request's protocol to `h2.log`), config in a tempdir.
fn nginx() -> (tempfile::TempDir, Nginx, u16, u16) {
    nginx_with(1)
}

/// [`nginx`] with `workers` worker processes.
fn nginx_with(workers: u32) -> (tempfile::TempDir, Nginx, u16, u16) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir(d.join("www")).expect("www");
    std::fs::write(d.join("www/k.bin"), vec![b'x'; 1024]).expect("k.bin");
    let (port, port2) = (free_port(), free_port());
    let http = format!(
        "access_log off;\n\
         keepalive_requests 100000;\n\
         server {{ listen 127.0.0.1:{port}; root {d}/www; }}\n\
         log_format proto '$server_protocol $status';\n\
         server {{ listen 127.0.0.1:{port2} http2; root {d}/www; access_log {d}/h2.log proto; }}\n",
        d = d.display()
    );
    let p = start_nginx(d, workers, &http, &[port, port2]);
    (dir, p, port, port2)
}

/// nginx with `workers` worker processes and `http` in its `http {}` block, its
/// files in `dir`, once it listens on every one of `ports`.
fn start_nginx(dir: &std::path::Path, workers: u32, http: &str, ports: &[u16]) -> Nginx {
    let d = dir.display();
    let conf = format!(
        "worker_processes {workers};\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           {http}\n\
         }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).expect("nginx.conf");
    let mut cmd = Command::new("nginx");
    let (conf, errors) = (format!("{d}/nginx.conf"), format!("{d}/error.log"));
    cmd.args(["-p", dir.to_str().expect("path"), "-c", &conf])
        .args(["-e", &errors, "-g", "daemon off;"]);
    let p = Nginx(Some(Proc::start(cmd)));
    for port in ports {
        wait_for_port(*port);
    }
    p
}

/// nginx's master process, stopped with SIGTERM when dropped so that it takes
/// its workers along (a SIGKILL, as `Proc`'s drop sends, left them running
/// after the tests).
struct Nginx(Option<Proc>);

impl Nginx {
    fn terminate(mut self, limit: Duration) -> std::process::Output {
        self.0.take().expect("nginx is running").terminate(limit)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            drop(p.terminate(Duration::from_secs(10)));
        }
    }
}

#[test]
fn open_loop_holds_two_thousand_a_second_against_nginx() {
    let (_dir, _nginx, port, _) = nginx();
    let url = format!("http://127.0.0.1:{port}/k.bin");
    let out = bench(&[&url, "-R", "2000", "-d", "5s", "-c", "16", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let got = v["responses"].as_u64().expect("responses");
    assert!(
        got.abs_diff(10_000) <= 100,
        "{got} answers, not 10,000 within 1 %: {v}"
    );
    assert_eq!(v["statuses"]["200"], got);
    assert_eq!(v["dropped"], 0);
    assert_eq!(v["mode"], "open");
    assert!((v["target_rate"].as_f64().expect("rate") - 2000.0).abs() < 1.0);
}

#[test]
fn a_one_second_stall_shows_in_the_corrected_p99_not_in_the_service_time() {
    let (_dir, server, port) = serve(&[]);
    let url = format!("http://127.0.0.1:{port}/k.bin");
    let mut cmd = wirekit(&[
        "bench", &url, "-R", "1000", "-d", "10s", "-c", "16", "--json",
    ]);
    cmd.stdin(std::process::Stdio::null());
    let generator = Proc::start(cmd);
    // Let 3,000 requests through (3 s), then stop the server for 1 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.so_far(Pipe::Stderr).lines().count() < 3000 {
        assert!(
            Instant::now() < deadline,
            "the server logged too few requests"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(server.pid(), "STOP");
    std::thread::sleep(Duration::from_secs(1)); // the stall itself, not a wait for something
    signal(server.pid(), "CONT");
    let out = generator.wait(LIMIT);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let p99 = v["latency"]["percentiles"]["p99"].as_u64().expect("p99");
    let service_p50 = v["service"]["percentiles"]["p50"]
        .as_u64()
        .expect("service p50");
    assert!(
        p99 >= 500_000,
        "corrected p99 {p99} us < 500 ms: {}",
        v["latency"]
    );
    assert!(
        service_p50 < 50_000,
        "service p50 {service_p50} us: {}",
        v["service"]
    );
    assert_eq!(v["dropped"], 0);
    let got = v["responses"].as_u64().expect("responses");
    assert!(got.abs_diff(10_000) <= 100, "{got}");
}

#[test]
fn three_shards_merge_into_the_histogram_of_all_their_samples() {
    let (_dir, _server, port) = serve(&["-q"]);
    let url = format!("http://127.0.0.1:{port}/k.bin");
    let out_dir = tempfile::tempdir().expect("tempdir");
    // Every shard starts at the same wall-clock second, as an Indexed Job's pods do.
    let start = std::time::SystemTime::now() + Duration::from_secs(2);
    let start = humantime::format_rfc3339_seconds(start).to_string();
    let shards: Vec<(Proc, std::path::PathBuf)> = (0..3)
        .map(|i| {
            let mut cmd = wirekit(&[
                "bench",
                &url,
                "--shards",
                "3",
                "-R",
                "600",
                "-d",
                "2s",
                "-c",
                "6",
                "--start-at",
                &start,
                "--json",
            ]);
            cmd.env("JOB_COMPLETION_INDEX", i.to_string());
            (
                Proc::start(cmd),
                out_dir.path().join(format!("shard-{i}.json")),
            )
        })
        .collect();
    let mut files = Vec::new();
    for (p, file) in shards {
        let out = p.wait(LIMIT);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let v = json(&out);
        assert_eq!(
            v["responses"], 400,
            "each shard sends 600/3 a second for 2 s: {v}"
        );
        assert_eq!(
            v["started_at"].as_str().map(|s| &s[..19]),
            Some(&start[..19])
        );
        std::fs::write(&file, &out.stdout).expect("write shard");
        files.push(file.to_str().expect("path").to_string());
    }
    let mut args = vec!["bench", "merge"];
    args.extend(files.iter().map(String::as_str));
    args.push("--json");
    let out = run(wirekit(&args), None, LIMIT);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let merged = json(&out);
    assert_eq!(merged["responses"], 1200);
    assert_eq!(merged["requests"], 1200);
    assert_eq!(merged["statuses"]["200"], 1200);
    assert_eq!(merged["shards"], 3);
    assert!((merged["target_rate"].as_f64().expect("rate") - 600.0).abs() < 1e-6);
    // The merged report in the other formats: the text with --latency, the .hgrm
    // distribution and the page, all of the 1,200 answers.
    let (hgrm, page) = (out_dir.path().join("m.hgrm"), out_dir.path().join("m.html"));
    let mut args = vec!["bench", "merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend([
        "--latency",
        "--hgrm",
        hgrm.to_str().expect("path"),
        "--html",
        page.to_str().expect("path"),
    ]);
    let text = run(wirekit(&args), None, LIMIT);
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    let said = stdout(&text);
    assert!(said.starts_with("Merged 3 reports @ "), "{said}");
    assert!(
        said.contains("  3 shards merged\n") && said.contains("1200 requests in"),
        "{said}"
    );
    for p in ["p50", "p99.99", "max"] {
        assert!(said.contains(&format!("\n{p:>11} ")), "{p}: {said}");
    }
    let dist = std::fs::read_to_string(&hgrm).expect("merged hgrm");
    let total = dist
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
        .max();
    assert_eq!(total, Some(1200), "{dist}");
    let html = std::fs::read_to_string(&page).expect("merged page");
    assert!(html.contains("<td>1200</td>") && html.contains("Percentile distribution"));
    // PyPI hdrhistogram adds the shards' histograms itself: the merged one must be the same.
    let merged_path = out_dir.path().join("merged.json");
    std::fs::write(&merged_path, &out.stdout).expect("write merged");
    let code_text = format!(
        "import json\n\
         from hdrh.histogram import HdrHistogram\n\
         shards = [json.load(open(f)) for f in {files:?}]\n\
         m = json.load(open({merged:?}))\n\
         for key in ('latency', 'service', 'lag'):\n\
         \x20   hs = [HdrHistogram.decode(s[key]['histogram']) for s in shards]\n\
         \x20   all_ = HdrHistogram(1, 3600000000, 3)\n\
         \x20   for h in hs: all_.add(h)\n\
         \x20   got = HdrHistogram.decode(m[key]['histogram'])\n\
         \x20   assert got.get_total_count() == all_.get_total_count() == 1200, key\n\
         \x20   assert got.get_min_value() == all_.get_min_value() == m[key]['min_us'], key\n\
         \x20   assert got.get_max_value() == all_.get_max_value() == m[key]['max_us'], key\n\
         \x20   for p in [x / 10 for x in range(1, 1000)] + [99.9, 99.99, 100]:\n\
         \x20       assert got.get_value_at_percentile(p) == all_.get_value_at_percentile(p), (key, p)\n\
         \x20   for name, p in (('p50', 50), ('p75', 75), ('p90', 90), ('p99', 99), ('p99.9', 99.9), ('p99.99', 99.99)):\n\
         \x20       assert m[key]['percentiles'][name] == all_.get_value_at_percentile(p), (key, name)\n\
         print('ok')",
        merged = merged_path.to_str().expect("path"),
    );
    python_ok(&code_text);
}

#[test]
fn shard_flags_are_checked() {
    for (args, needle) in [
        (
            vec!["http://127.0.0.1:1/", "--shard", "0/3"],
            "I must be from 1 to N",
        ),
        (vec!["http://127.0.0.1:1/", "--shard", "x"], "is not I/N"),
        (
            vec!["http://127.0.0.1:1/", "--start-at", "tomorrow"],
            "is not an RFC 3339 time",
        ),
    ] {
        let out = bench(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    let out = run(
        {
            let mut c = wirekit(&["bench", "http://127.0.0.1:1/", "--shards", "3"]);
            c.env_remove("JOB_COMPLETION_INDEX");
            c
        },
        None,
        LIMIT,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--shards needs JOB_COMPLETION_INDEX"),
        "{}",
        stderr(&out)
    );
    // --shard I/N takes its share of -n: 5 over 2 shards is 3 and 2.
    let out = bench(&["http://127.0.0.1:1/", "--shard", "2/2", "-n", "5", "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["requests"], 2);
    assert_eq!(v["shard"], "2/2");
    let out = bench(&["merge", "/nonexistent/a.json"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read '/nonexistent/a.json'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_kubernetes_manifests_validate_against_the_schemas() {
    let manifest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/bench-job.yaml"
    );
    let text = std::fs::read_to_string(manifest).expect("bench-job.yaml");
    assert!(text.contains("completionMode: Indexed"));
    assert!(text.contains("--shards \"$SHARDS\"") && text.contains("$JOB_COMPLETION_INDEX"));
    assert!(text.contains("wirekit bench merge /results/shard-*.json"));
    let mut cmd = Command::new("kubernetes-validate");
    cmd.args(["--strict", manifest]);
    let out = run(cmd, None, LIMIT);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let said = stdout(&out) + &stderr(&out);
    for r in [
        "persistentvolumeclaim/wirekit-bench-results",
        "job/wirekit-bench ",
        "job/wirekit-bench-merge",
    ] {
        assert!(
            said.contains(&format!("passed for resource {r}")),
            "{r}: {said}"
        );
    }
    // The validator does catch a mistake: the same manifest with a misspelt field fails.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, text.replace("parallelism:", "paralelism:")).expect("write");
    let mut cmd = Command::new("kubernetes-validate");
    cmd.args(["--strict", bad.to_str().expect("path")]);
    let out = run(cmd, None, LIMIT);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!((stdout(&out) + &stderr(&out)).contains("'paralelism' was unexpected"));
}

#[test]
fn hgrm_file_is_the_percentile_distribution_in_milliseconds() {
    let (_dir, _server, port) = serve(&["-q"]);
    let url = format!("http://127.0.0.1:{port}/k.bin");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("run.hgrm");
    let out = bench(&[
        &url,
        "-n",
        "2000",
        "-c",
        "4",
        "--json",
        "--hgrm",
        file.to_str().expect("path"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let text = std::fs::read_to_string(&file).expect("hgrm written");
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(
        head,
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains("Value"))
        .map(|l| {
            l.split_whitespace()
                .map(|x| x.parse().expect("number"))
                .collect()
        })
        .collect();
    assert!(rows.len() > 20);
    assert!(
        rows.windows(2)
            .all(|w| w[0][0] <= w[1][0] && w[0][1] <= w[1][1] && w[0][2] <= w[1][2])
    );
    let last = rows.last().expect("rows");
    assert_eq!(last[1], 1.0);
    assert_eq!(last[2], 2000.0);
    let max_ms = v["latency"]["max_us"].as_f64().expect("max") / 1000.0;
    assert!((last[0] - max_ms).abs() < 0.001, "{} vs {max_ms}", last[0]);
    // p99 lies between the last row below 99 % and the first at or above it.
    let want = v["latency"]["percentiles"]["p99"].as_f64().expect("p99") / 1000.0;
    let above = rows.iter().find(|r| r[1] >= 0.99).expect("p99 row");
    let below = rows
        .iter()
        .rev()
        .find(|r| r[1] < 0.99)
        .expect("row below p99");
    assert!(
        below[0] < want && want <= above[0] + 0.0005,
        "{below:?} {want} {above:?}"
    );
    assert!(text.contains("Total count    =         2000]"), "{text}");
}

#[test]
fn https_against_serve_tls_with_insecure_and_the_certificate_error_without() {
    let (_dir, _server, port) = serve(&["-q", "--tls"]);
    let url = format!("https://localhost:{port}/k.bin");
    let out = bench(&[&url, "-n", "300", "-c", "4", "--insecure", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["statuses"]["200"], 300);
    let out = bench(&[&url, "-n", "10", "-c", "2"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("10 of 10 requests got no answer: connect 10"),
        "{err}"
    );
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

/// `--pin`: the fingerprint a self-signed `serve --tls` prints is enough to
/// trust it; another fingerprint is a connect error naming the one seen.
#[test]
fn https_with_the_pin_a_self_signed_server_prints() {
    let (_dir, server, port) = serve(&["--tls"]);
    let line = server.line(Pipe::Stderr, "--pin sha256:");
    let pin = line
        .split("--pin ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the pin in the server's hint")
        .to_string();
    let url = format!("https://localhost:{port}/k.bin");
    let out = bench(&[&url, "-n", "200", "-c", "2", "--pin", &pin, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["statuses"]["200"], 200);
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let out = bench(&[&url, "-n", "5", "-c", "1", "--pin", &wrong]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("5 of 5 requests got no answer: connect 5"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "the certificate of localhost is not the pinned one: its SHA-256 fingerprint is {pin}"
        )),
        "{err}"
    );
}

#[test]
fn the_verdict_says_when_the_run_measured_the_generator() {
    let (_dir, _server, port) = serve(&["-q"]);
    let url = format!("http://127.0.0.1:{port}/k.bin");
    // One connection cannot carry 20,000 requests a second: the schedule slips.
    let out = bench(&[
        &url,
        "-R",
        "20000",
        "-d",
        "2s",
        "-c",
        "1",
        "--max-conns",
        "1",
        "-t",
        "1",
        "--drop-after",
        "20ms",
        "--json",
    ]);
    let (v, verdict) = verdict_of(&out);
    assert!(
        verdict.contains("this run measured the generator, not the server"),
        "{verdict}"
    );
    assert!(verdict.contains("send lag"), "{verdict}");
    assert!(v["dropped"].as_u64().expect("dropped") > 0);
    let sent = v["requests"].as_u64().expect("requests") + v["dropped"].as_u64().expect("dropped");
    assert_eq!(
        sent, 40_000,
        "every scheduled request is sent or counted as dropped"
    );
    // A rate the server and generator keep easily: no verdict. On a machine busy
    // with other tests the schedule can slip for real, so up to three tries.
    let mut verdicts = Vec::new();
    for _ in 0..3 {
        let out = bench(&[&url, "-R", "100", "-d", "1s", "-t", "1", "--json"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let v = json(&out)["verdict"].clone();
        if v.is_null() {
            return;
        }
        verdicts.push(v);
    }
    panic!("a verdict on every easy run: {verdicts:?}");
}

#[test]
fn http2_streams_against_serve_h2c_and_nginx_http2() {
    let (_dir, server, port) = serve(&[]);
    let url = format!("http://127.0.0.1:{port}/k.bin");
    let out = bench(&[&url, "--h2", "-m", "10", "-c", "4", "-n", "3000", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["statuses"]["200"], 3000);
    let log = stderr(&server.terminate(Duration::from_secs(20)));
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"GET /k.bin HTTP/2.0\" 200"))
            .count(),
        3000
    );

    let (dir, nginx, _, port2) = nginx();
    let url = format!("http://127.0.0.1:{port2}/k.bin");
    let out = bench(&[&url, "--h2", "-m", "8", "-c", "2", "-n", "2000", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["statuses"]["200"], 2000);
    drop(nginx.terminate(Duration::from_secs(20))); // nginx writes its log as it goes; stop it to be sure
    let log = std::fs::read_to_string(dir.path().join("h2.log")).expect("h2.log");
    assert_eq!(
        log.lines().filter(|l| *l == "HTTP/2.0 200").count(),
        2000,
        "{}",
        &log[..log.len().min(300)]
    );
}

#[test]
fn live_progress_on_a_terminal_and_none_when_piped() {
    let (_dir, _server, port) = serve(&["-q"]);
    let url = format!("http://127.0.0.1:{port}/k.bin");
    // Piped (as here): stderr stays empty on success.
    let out = bench(&[&url, "-d", "1s", "-c", "4"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    // On a terminal (a pseudo-terminal from Python's pty): the live line.
    let code_text = format!(
        "import os, pty, sys\n\
         pid, fd = pty.fork()\n\
         if pid == 0:\n\
         \x20   os.execv({bin:?}, [{bin:?}, 'bench', {url:?}, '-d', '2s', '-c', '4'])\n\
         data = b''\n\
         while True:\n\
         \x20   try:\n\
         \x20       chunk = os.read(fd, 65536)\n\
         \x20   except OSError:\n\
         \x20       break\n\
         \x20   if not chunk: break\n\
         \x20   data += chunk\n\
         os.waitpid(pid, 0)\n\
         text = data.decode('utf-8', 'replace')\n\
         assert 'req/s' in text and 'errors, p99 ' in text and ' answers, ' in text, text\n\
         assert 'Requests/sec:' in text, text\n\
         print('ok')",
        bin = bin(),
    );
    python_ok(&code_text);
}

#[test]
fn urls_and_vegeta_targets_go_round_robin() {
    let (dir, server, port) = serve(&["--route", "POST /p 201 {\"ok\": true}"]);
    for name in ["a.txt", "b.txt", "c.txt"] {
        std::fs::write(dir.path().join(name), name).expect("write");
    }
    let lists = tempfile::tempdir().expect("tempdir");
    let urls = lists.path().join("urls.txt");
    let base = format!("http://127.0.0.1:{port}");
    std::fs::write(
        &urls,
        format!("# three files\n{base}/a.txt\n{base}/b.txt\n\n{base}/c.txt\n"),
    )
    .expect("urls");
    let out = bench(&[
        "--urls",
        urls.to_str().expect("path"),
        "-n",
        "300",
        "-c",
        "3",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["statuses"]["200"], 300);
    let targets = lists.path().join("targets.txt");
    std::fs::write(lists.path().join("body.json"), "{\"n\": 1}").expect("body");
    std::fs::write(
        &targets,
        format!("GET {base}/a.txt\nX-Probe: yes\n\nPOST {base}/p\nContent-Type: application/json\n@body.json\n"),
    )
    .expect("targets");
    let out = bench(&[
        "--targets",
        targets.to_str().expect("path"),
        "-n",
        "100",
        "-c",
        "2",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["statuses"]["200"], 50, "{v}");
    assert_eq!(v["statuses"]["201"], 50, "{v}");
    let log = stderr(&server.terminate(Duration::from_secs(20)));
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("\"GET /a.txt HTTP/1.1\" 200"), 100 + 50);
    assert_eq!(count("\"GET /b.txt HTTP/1.1\" 200"), 100);
    assert_eq!(count("\"GET /c.txt HTTP/1.1\" 200"), 100);
    assert_eq!(count("\"POST /p HTTP/1.1\" 201"), 50);
    // Another host in the list: refused with the reason.
    std::fs::write(&urls, format!("{base}/a.txt\nhttp://127.0.0.1:1/x\n")).expect("urls");
    let out = bench(&["--urls", urls.to_str().expect("path"), "-n", "1"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("one run loads one scheme, host and port"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn find_max_rate_reports_the_knee() {
    // Two connections at most, each answer at least 20 ms late: the server holds
    // 100 req/s at most. Steps of 50 and 250 req/s: half of that, which holds with
    // room for a loaded machine (answers may take 40 ms before a queue builds, and
    // a stall of the whole machine up to about 1 s passes the SLO), and 2.5 times
    // it, where the queue grows by 150 a second, so that the last requests of the
    // 2 s step wait about 3 s (p99 > 1 s however fast the machine).
    let (_dir, _server, port) = serve(&["-q", "--httpbin"]);
    let url = format!("http://127.0.0.1:{port}/delay/0.02");
    let out = bench(&[
        &url,
        "--find-max-rate",
        "--slo",
        "p99<1s",
        "-R",
        "50",
        "--rate-step",
        "200",
        "-d",
        "2s",
        "-c",
        "2",
        "--max-conns",
        "2",
        "-t",
        "1",
        "--max-steps",
        "5",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let steps = v["steps"].as_array().expect("steps");
    let rates: Vec<f64> = steps
        .iter()
        .map(|s| s["rate"].as_f64().expect("rate"))
        .collect();
    let met: Vec<bool> = steps
        .iter()
        .map(|s| s["met"].as_bool().expect("met"))
        .collect();
    // The search stops at the first failed step, and the knee is the step before it.
    assert_eq!(rates, [50.0, 250.0], "{v}");
    assert_eq!(met, [true, false], "{v}");
    assert_eq!(v["knee"], 50.0);
    assert_eq!(steps[0]["report"]["responses"], 100, "{v}");
    let p99_at_250 = steps[1]["report"]["latency"]["percentiles"]["p99"]
        .as_u64()
        .expect("p99");
    assert!(p99_at_250 >= 1_000_000, "{p99_at_250}");
    // Every request of the failed step was still answered: it failed on latency alone.
    assert_eq!(steps[1]["report"]["responses"], 500, "{v}");
    // Not even the first step meets an SLO below the server's 20 ms: exit 1, said so.
    let out = bench(&[
        &url,
        "--find-max-rate",
        "--slo",
        "p99<10ms",
        "-R",
        "20",
        "-d",
        "1s",
        "-c",
        "2",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stdout(&out).contains("Max rate: none"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("no tested rate met p99<10ms"),
        "{}",
        stderr(&out)
    );
    let out = bench(&[&url, "--find-max-rate", "--slo", "p42<1ms"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("is not FIGURE<DURATION"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn html_report_is_self_contained_and_renders_in_chromium() {
    let (_dir, _server, port) = serve(&["-q"]);
    let url = format!("http://127.0.0.1:{port}/k.bin");
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("report.html");
    let out = bench(&[
        &url,
        "-R",
        "300",
        "-d",
        "2s",
        "--html",
        page.to_str().expect("path"),
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let html = std::fs::read_to_string(&page).expect("page written");
    // No network: nothing loaded from anywhere, no script.
    for bad in ["src=", "href=", "<script", "@import", "url("] {
        assert!(!html.contains(bad), "{bad} in the page");
    }
    let shot = dir.path().join("shot.png");
    let chromium = |extra: &[&str]| {
        let mut cmd = Command::new("chromium");
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--window-size=900,1100",
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()));
        run(cmd, None, LIMIT)
    };
    let dom = chromium(&["--dump-dom"]);
    assert_eq!(code(&dom), 0, "{}", stderr(&dom));
    let dom = stdout(&dom);
    assert!(
        dom.contains("Latency over time") && dom.contains("Percentile distribution"),
        "{dom}"
    );
    assert!(
        dom.contains(&format!("<td>{}</td>", v["requests"])),
        "the request count in the table"
    );
    assert_eq!(
        dom.matches("<polyline").count(),
        4,
        "two series in each chart"
    );
    let out = chromium(&[&format!("--screenshot={}", shot.display())]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
}

#[test]
fn stages_ramp_and_poisson_arrivals_against_serve() {
    let (_dir, server, port) = serve(&[]);
    let url = format!("http://127.0.0.1:{port}/k.bin");
    // 0 → 400/s over 1 s (200 requests), then 400/s for 1 s (400): exactly 600.
    let out = bench(&[&url, "--stages", "1s:400,1s:400", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["responses"], 600, "{v}");
    assert!((v["target_rate"].as_f64().expect("rate") - 300.0).abs() < 1e-6);
    // By 1 s the ramp has sent 200 (a flat 300/s would have sent 300), so at most
    // 200 answers end in the first second; and all but the slowest 1 % of those
    // sent by 1 s - p99 end in it: 200 * (1 - p99)^2 - 1 - 6 at least. The generator's
    // own p99 makes the bound hold on a loaded machine (a stall of it all widens
    // it) and stay tight on a quiet one (p99 of a few ms: 192 at least).
    let timeline = v["timeline"].as_array().expect("timeline");
    let first = timeline[0]["responses"].as_f64().expect("first second");
    let p99_s = v["latency"]["percentiles"]["p99"].as_f64().expect("p99") / 1e6;
    let least = 200.0 * (1.0 - p99_s.min(1.0)).powi(2) - 7.0;
    assert!(
        first <= 200.0 && first >= least,
        "the ramp's first second: {first} answers, p99 {p99_s} s: {v}"
    );
    // Poisson arrivals keep the mean rate (within 10 % over 2,000 expected).
    let out = bench(&[
        &url,
        "-R",
        "1000",
        "-d",
        "2s",
        "--arrival",
        "poisson",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let n = json(&out)["responses"].as_u64().expect("responses");
    assert!(n.abs_diff(2000) <= 200, "{n}");
    let log = stderr(&server.terminate(Duration::from_secs(20)));
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"GET /k.bin HTTP/1.1\" 200"))
            .count() as u64,
        600 + n
    );
}

/// A CA and a certificate for localhost made by `wirekit cert`: (dir, ca.pem, cert, key).
fn pki() -> (tempfile::TempDir, String, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("path").to_string();
    let o = run(wirekit(&["cert", "ca", "--out", &out]), None, LIMIT);
    assert_eq!(code(&o), 0, "cert ca: {}", stderr(&o));
    let ca = format!("{out}/ca.pem");
    let o = run(
        wirekit(&[
            "cert",
            "new",
            "localhost",
            "127.0.0.1",
            "--out",
            &out,
            "--json",
            "--ca",
            &ca,
            "--ca-key",
            &format!("{out}/ca-key.pem"),
        ]),
        None,
        LIMIT,
    );
    assert_eq!(code(&o), 0, "cert new: {}", stderr(&o));
    let v: Value = serde_json::from_str(stdout(&o).trim()).expect("cert new --json");
    let (cert, key) = (v["cert"].as_str(), v["key"].as_str());
    let (cert, key) = (
        cert.expect("cert").to_string(),
        key.expect("key").to_string(),
    );
    (dir, ca, cert, key)
}

/// `--cacert` trusts `serve --tls` with a certificate from `wirekit cert`, over
/// HTTP/1.1 and, with `--h2`, HTTP/2 chosen by ALPN; nginx's `http2 ssl` too.
#[test]
fn cacert_and_h2_by_alpn_against_serve_tls_and_nginx_http2_ssl() {
    let (pki_dir, ca, cert, key) = pki();
    let (_dir, server, port) = serve(&["--tls", "--cert", &cert, "--key", &key]);
    let url = format!("https://localhost:{port}/k.bin");
    let out = bench(&[&url, "--cacert", &ca, "-n", "300", "-c", "4", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["statuses"]["200"], 300, "{v}");
    assert_eq!(v["protocol"], "HTTP/1.1");
    let out = bench(&[
        &url, "--cacert", &ca, "--h2", "-m", "4", "-c", "2", "-n", "400", "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["statuses"]["200"], 400);
    let log = stderr(&server.terminate(Duration::from_secs(20)));
    let count = |proto: &str| {
        let needle = format!("\"GET /k.bin {proto}\" 200");
        log.lines().filter(|l| l.contains(&needle)).count()
    };
    assert_eq!((count("HTTP/1.1"), count("HTTP/2.0")), (300, 400), "{log}");

    // nginx: HTTP/2 over TLS only by ALPN (no h2c on this port).
    let d = pki_dir.path();
    std::fs::create_dir(d.join("www")).expect("www");
    std::fs::write(d.join("www/k.bin"), vec![b'x'; 1024]).expect("k.bin");
    let port = free_port();
    let http = format!(
        "log_format proto '$server_protocol $status $ssl_protocol';\n\
         server {{ listen 127.0.0.1:{port} ssl http2; root {d}/www; access_log {d}/tls.log proto;\n\
                  ssl_certificate {cert}; ssl_certificate_key {key}; }}\n",
        d = d.display()
    );
    let nginx = start_nginx(d, 1, &http, &[port]);
    let url = format!("https://localhost:{port}/k.bin");
    let out = bench(&[
        &url, "--cacert", &ca, "--h2", "-m", "8", "-c", "2", "-n", "500", "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["statuses"]["200"], 500);
    drop(nginx.terminate(Duration::from_secs(20)));
    let log = std::fs::read_to_string(d.join("tls.log")).expect("tls.log");
    let h2 = log
        .lines()
        .filter(|l| l.starts_with("HTTP/2.0 200 TLS"))
        .count();
    assert_eq!(h2, 500, "{}", &log[..log.len().min(300)]);
}

/// A Python `http.server` (HTTP/1.1 keep-alive, a thread per connection) that
/// prints one JSON line per request: method, path, two headers, body, client port.
/// GET /slow answers after 200 ms; GET /close answers HTTP/1.0-style, its end the close.
fn recording_server(port: u16) -> Proc {
    let code_text = format!(
        "import http.server, json, sys, threading, time\n\
         LOCK = threading.Lock()\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   protocol_version = 'HTTP/1.1'\n\
         \x20   def handle_one(self):\n\
         \x20       n = int(self.headers.get('Content-Length') or 0)\n\
         \x20       body = self.rfile.read(n).decode()\n\
         \x20       line = json.dumps({{'method': self.command, 'path': self.path,\n\
         \x20           'x': self.headers.get('X-Bench'), 'type': self.headers.get('Content-Type'),\n\
         \x20           'body': body, 'peer': self.client_address[1]}})\n\
         \x20       with LOCK: sys.stdout.write(line + '\\n'); sys.stdout.flush()\n\
         \x20       if self.path == '/slow': time.sleep(0.2)\n\
         \x20       if self.path == '/close':\n\
         \x20           self.protocol_version = 'HTTP/1.0'; self.close_connection = True\n\
         \x20           self.send_response(200); self.end_headers(); self.wfile.write(b'x' * 3000); return\n\
         \x20       self.send_response(201 if self.command == 'PUT' else 200)\n\
         \x20       self.send_header('Content-Length', '2'); self.end_headers(); self.wfile.write(b'ok')\n\
         \x20   do_GET = do_PUT = handle_one\n\
         \x20   def log_message(self, *a): pass\n\
         http.server.ThreadingHTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    );
    python_server(&code_text, port, false)
}

fn recorded(server: Proc) -> Vec<Value> {
    stdout(&server.terminate(Duration::from_secs(20)))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn method_headers_and_body_reach_the_server() {
    let port = free_port();
    let server = recording_server(port);
    let url = format!("http://127.0.0.1:{port}/put");
    let out = bench(&[
        &url,
        "-X",
        "PUT",
        "-H",
        "X-Bench: yes",
        "-H",
        "Content-Type: application/json",
        "--body",
        r#"{"a":1}"#,
        "-n",
        "100",
        "-c",
        "4",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["statuses"]["201"], 100);
    let seen = recorded(server);
    assert_eq!(seen.len(), 100);
    for r in &seen {
        assert_eq!(
            (&r["method"], &r["x"], &r["type"], &r["body"]),
            (
                &Value::from("PUT"),
                &Value::from("yes"),
                &Value::from("application/json"),
                &Value::from(r#"{"a":1}"#)
            ),
            "{r}"
        );
    }
}

/// Answers whose end is the server's close (no length), one per connection: each
/// counted once, all their bytes read, no error, a new connection for each.
#[test]
fn answers_ended_by_the_close_are_counted_and_the_connection_reopened() {
    let port = free_port();
    let server = recording_server(port);
    let url = format!("http://127.0.0.1:{port}/close");
    let out = bench(&[&url, "-n", "50", "-c", "2", "-t", "1", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["statuses"]["200"], 50, "{v}");
    assert_eq!(v["connections_opened"], 50, "{v}");
    assert!(v["bytes"].as_u64().expect("bytes") >= 50 * 3000, "{v}");
    assert_eq!(recorded(server).len(), 50);
}

/// nginx answers chunked (gzip on the fly) and closes every 10th connection with
/// `Connection: close`; HEAD answers carry a length but no body. All exact, no errors.
#[test]
fn chunked_answers_keepalive_closes_and_head_against_nginx() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir(d.join("www")).expect("www");
    std::fs::write(d.join("www/k.txt"), "wirekit ".repeat(2000)).expect("k.txt");
    let port = free_port();
    let http = format!(
        "log_format c '$connection $request_method $status';\n\
         gzip on; gzip_types text/plain; gzip_min_length 0; keepalive_requests 10;\n\
         server {{ listen 127.0.0.1:{port}; root {d}/www; access_log {d}/a.log c; }}\n",
        d = d.display()
    );
    let nginx = start_nginx(d, 1, &http, &[port]);
    let url = format!("http://127.0.0.1:{port}/k.txt");
    let gzip = ["-H", "Accept-Encoding: gzip"];
    let mut args = vec![url.as_str(), "-n", "1000", "-c", "4", "-t", "1", "--json"];
    args.extend_from_slice(&gzip);
    let out = bench(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["statuses"]["200"], 1000, "{v}");
    assert_eq!(v["errors"]["read"], 0, "{v}");
    let opened = v["connections_opened"]
        .as_u64()
        .expect("connections_opened");
    // 100 connections of 10 requests, and those cut short when the count was reached.
    assert!((100..=104).contains(&opened), "{v}");
    let out = bench(&[&url, "-X", "HEAD", "-n", "200", "-c", "2", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["statuses"]["200"], 200);
    drop(nginx.terminate(Duration::from_secs(20)));
    let log = std::fs::read_to_string(d.join("a.log")).expect("a.log");
    let gets: Vec<&str> = log.lines().filter(|l| l.ends_with(" GET 200")).collect();
    assert_eq!(gets.len(), 1000);
    let conns: std::collections::HashSet<&str> =
        gets.iter().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(conns.len() as u64, opened, "connections nginx saw");
    assert_eq!(
        log.lines().filter(|l| l.ends_with(" HEAD 200")).count(),
        200
    );
}

/// Every connection busy (each answer takes 200 ms, 40 a second wanted): the
/// open loop's pool grows past its one connection, up to `--max-conns` and no further.
#[test]
fn the_open_loop_pool_grows_up_to_max_conns_when_every_connection_is_busy() {
    let port = free_port();
    let server = recording_server(port);
    let url = format!("http://127.0.0.1:{port}/slow");
    let out = bench(&[
        &url,
        "-R",
        "40",
        "-d",
        "2s",
        "-c",
        "1",
        "--max-conns",
        "6",
        "-t",
        "1",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let opened = v["connections_opened"]
        .as_u64()
        .expect("connections_opened");
    assert!((2..=6).contains(&opened), "{opened} connections: {v}");
    let seen = recorded(server);
    let ports: std::collections::HashSet<u64> =
        seen.iter().filter_map(|r| r["peer"].as_u64()).collect();
    assert_eq!(ports.len() as u64, opened, "the server saw {ports:?}");
    assert_eq!(seen.len() as u64, v["requests"].as_u64().expect("requests"));
}

/// A cgroup (v1 `cpu` controller, as bench/bench.sh's budget part uses) whose
/// processes get `percent` % of one CPU; removed on drop.
struct CpuQuota(std::path::PathBuf);

impl CpuQuota {
    fn new(percent: u32) -> CpuQuota {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::path::PathBuf::from(format!(
            "/sys/fs/cgroup/cpu/wirekit-test-{}-{n}",
            std::process::id()
        ));
        std::fs::create_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the test needs the cgroup v1 cpu controller, as root)",
                dir.display()
            )
        });
        std::fs::write(dir.join("cpu.cfs_period_us"), "10000").expect("cpu.cfs_period_us");
        std::fs::write(dir.join("cpu.cfs_quota_us"), (percent * 100).to_string())
            .expect("cpu.cfs_quota_us");
        CpuQuota(dir)
    }

    /// `args` as a process that joins this cgroup before its first instruction.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo $$ > \"$0\" && exec \"$@\""])
            .arg(self.0.join("cgroup.procs"))
            .arg(bin())
            .args(args);
        cmd
    }
}

impl Drop for CpuQuota {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// One generator thread held to 10 % of a CPU against nginx's two workers with
/// 256 connections: the thread is runnable nearly all the run (starved by its
/// quota, which counts as busy, with hundreds of answers waiting for it), so the
/// verdict says its CPU was saturated and the run measured the generator.
/// (Unlimited, with 32 connections, it failed in CI: other tests loading the
/// machine starved nginx instead, and the generator waited for it. With the quota
/// and 256 connections it passed three runs of three beside two busy loops on the
/// two CPUs; with 32 it failed them, busy 85-88 %.)
#[test]
fn the_verdict_names_a_saturated_generator_cpu() {
    let (_dir, _nginx, port, _) = nginx_with(2);
    let url = format!("http://127.0.0.1:{port}/k.bin");
    let quota = CpuQuota::new(10);
    let cmd = quota.command(&["bench", &url, "-d", "2s", "-c", "256", "-t", "1", "--json"]);
    let out = run(cmd, None, LIMIT);
    let (v, verdict) = verdict_of(&out);
    assert!(
        verdict.starts_with(
            "this run measured the generator, not the server: its own CPU was saturated (its 1 thread(s) busy"
        ),
        "{verdict}"
    );
    assert!(v["generator_busy"].as_f64().expect("busy") >= 0.9, "{v}");
}
