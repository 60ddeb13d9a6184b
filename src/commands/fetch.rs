//! `wirekit fetch`: the flags become [`FetchOptions`]; the library fetches; this file
//! writes one JSON line per URL, the progress bar and the summary; SIGINT/SIGTERM stop
//! the run (exit 130/143) and `--resume` skips what an earlier run finished.

use crate::cli::{FetchArgs, GlobalArgs};
use anyhow::{Result, anyhow};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Instant;
use wirekit::error::{exit_with, usage};
use wirekit::http::client::build_client;
use wirekit::http::client::errors::io_reason;
use wirekit::http::client::fetch::{DEFAULT_TIMEOUT, FetchOptions, Summary, done_urls, fetch_all};
use wirekit::net::listen::{StopOnSignal, StopSignal};

/// The URLs to fetch: the arguments, then `-i FILE` (or `-i -`), else stdin when piped.
fn read_urls(args: &FetchArgs) -> Result<Vec<String>> {
    let mut urls: Vec<String> = args.urls.clone();
    let from_lines = |r: &mut dyn BufRead, name: &str| -> Result<Vec<String>> {
        let mut out = Vec::new();
        for line in r.lines() {
            let line = line.map_err(|e| anyhow!("cannot read URLs from {name}: {e}"))?;
            let t = line.trim();
            if !t.is_empty() && !t.starts_with('#') {
                out.push(t.to_string());
            }
        }
        Ok(out)
    };
    match &args.input {
        Some(p) if p.as_os_str() == "-" => {
            urls.extend(from_lines(&mut std::io::stdin().lock(), "stdin")?);
        }
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|e| {
                usage(format!(
                    "-i: cannot read '{}': {}",
                    p.display(),
                    io_reason(&e)
                ))
            })?;
            urls.extend(from_lines(
                &mut std::io::BufReader::new(f),
                &p.display().to_string(),
            )?);
        }
        None if args.urls.is_empty() && !std::io::stdin().is_terminal() => {
            urls.extend(from_lines(&mut std::io::stdin().lock(), "stdin")?);
        }
        None => {}
    }
    if urls.is_empty() {
        return Err(usage(
            "no URLs to fetch: give them as arguments, with -i FILE, or one per line on stdin",
        ));
    }
    Ok(urls)
}

/// The library's options for these flags (the output folder is created here).
fn options(args: &FetchArgs, method: Method) -> Result<FetchOptions> {
    let per_host = args.per_host.unwrap_or(args.jobs).max(1);
    let client_options = args.client.options();
    let client = build_client(&client_options, Some(per_host.min(args.jobs)))?;
    let mut options = FetchOptions::new(client);
    options.concurrency = args.jobs;
    options.per_host = per_host;
    options.retry = client_options.retry.clone();
    options.timeout = Some(client_options.timeout.unwrap_or(DEFAULT_TIMEOUT));
    options.method = method;
    for (n, v) in &args.headers {
        options.headers.insert(n.clone(), v.clone());
    }
    if let Some(auth) = &client_options.auth {
        options.headers.insert(AUTHORIZATION, auth.header_value()?);
    }
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow!("-o: cannot create directory '{}': {e}", dir.display()))?;
        options.save_dir = Some(dir.clone());
    }
    Ok(options)
}

/// A URL-count progress bar, when stderr is a terminal and nobody asked for quiet.
fn progress_bar(args: &FetchArgs, global: &GlobalArgs, total: usize) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || args.no_progress || global.quiet {
        return None;
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {pos}/{len} [{wide_bar}] {per_sec} ETA {eta} {msg}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

/// Fetch every URL, writing each result as a JSON line on stdout as it completes.
async fn fetch_and_print(
    urls: Vec<String>,
    options: FetchOptions,
    bar: Option<ProgressBar>,
    mut summary: Summary,
) -> Summary {
    use futures_util::FutureExt;
    let stdout_tty = std::io::stdout().is_terminal();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let mut results = std::pin::pin!(fetch_all(urls, options));
    let mut stdout_open = true;
    let mut line = Vec::with_capacity(256);
    loop {
        // Lines already finished go out together; before waiting for the next URL the buffer
        // is flushed, so every line reaches a pipe as its URL completes (one write per line
        // would cost a system call per URL at tens of thousands of URLs a second).
        let next = match results.next().now_or_never() {
            Some(next) => next,
            None => {
                if stdout_open && out.flush().is_err() {
                    stdout_open = false;
                }
                results.next().await
            }
        };
        let Some(r) = next else { break };
        summary.record(&r);
        if stdout_open {
            line.clear();
            let _ = serde_json::to_writer(&mut line, &r);
            line.push(b'\n');
            let written = match (&bar, stdout_tty) {
                // Both on one terminal: hide the bar while the line is written.
                (Some(b), true) => b.suspend(|| out.write_all(&line).and(out.flush())),
                _ => out.write_all(&line),
            };
            if written.is_err() {
                stdout_open = false;
            }
        }
        if let Some(b) = &bar {
            b.inc(1);
            let failed = summary.failed();
            if failed > 0 && (r.failed() || failed == 1) {
                b.set_message(format!("{failed} failed"));
            }
        }
    }
    let _ = out.flush();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    summary
}

/// What else the summary tells: URLs skipped by `--resume`, and a stop by a signal.
struct Run {
    /// URLs given, those skipped included.
    total: usize,
    /// URLs skipped because the `--resume` file has them.
    skipped: usize,
    /// The signal that stopped the run, if one did.
    signal: Option<StopSignal>,
}

impl Run {
    /// URLs neither finished, skipped nor in flight when the run stopped.
    fn not_started(&self, s: &Summary) -> usize {
        self.total
            .saturating_sub(self.skipped + s.done + s.interrupted)
    }

    /// The sentence's tail: "; 3 skipped (already in the --resume file); stopped by SIGINT: ...".
    fn tail(&self, s: &Summary) -> String {
        let mut t = String::new();
        if self.skipped > 0 {
            t.push_str(&format!(
                "; {} skipped (already in the --resume file)",
                self.skipped
            ));
        }
        if let Some(sig) = self.signal {
            t.push_str(&format!(
                "; stopped by {}: {} in flight interrupted, {} not started",
                sig.name(),
                s.interrupted,
                self.not_started(s)
            ));
        }
        t
    }
}

/// The summary on stderr: one JSON object with `--json`, else a sentence unless quiet.
fn report(s: &Summary, run: &Run, secs: f64, json: bool, quiet: bool) {
    let rate = s.done as f64 / secs.max(1e-9);
    if json {
        let summary = serde_json::json!({
            "done": s.done,
            "ok": s.ok,
            "failed": s.failed(),
            "http_failed": s.http_failed,
            "errors": s.transport_failed,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "req_per_s": rate.round(),
            "p50_ms": s.latency_ms(0.5),
            "p99_ms": s.latency_ms(0.99),
            "skipped": run.skipped,
            "interrupted": s.interrupted,
            "not_started": run.not_started(s),
            "signal": run.signal.map(StopSignal::name),
        });
        eprintln!("{summary}");
    } else if !quiet {
        eprintln!(
            "fetched {} URLs in {secs:.2} s ({rate:.0} req/s): {} ok, {} failed \
             ({} HTTP 4xx/5xx, {} errors); latency p50 {:.2} ms, p99 {:.2} ms{}",
            s.done,
            s.ok,
            s.failed(),
            s.http_failed,
            s.transport_failed,
            s.latency_ms(0.5),
            s.latency_ms(0.99),
            run.tail(s),
        );
    }
}

/// `--resume FILE`: the URLs it finished. A missing file is a first run (nothing skipped).
/// When stdout appends to that same file and its last line was cut short, a newline is
/// written first so that the next line does not run into it.
fn resume_set(path: &Path) -> Result<HashSet<String>> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => {
            return Err(usage(format!(
                "--resume: cannot read '{}': {}",
                path.display(),
                io_reason(&e)
            )));
        }
    };
    let done = done_urls(&String::from_utf8_lossy(&text))
        .map_err(|e| usage(format!("--resume: '{}': {e}", path.display())))?;
    if !text.is_empty() && !text.ends_with(b"\n") && stdout_is(path) {
        let mut out = std::io::stdout();
        out.write_all(b"\n")
            .and(out.flush())
            .map_err(|e| anyhow!("cannot write to stdout: {e}"))?;
    }
    Ok(done)
}

/// Whether stdout is the file at `path` (`>> out.jsonl` with `--resume out.jsonl`).
fn stdout_is(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata("/dev/stdout"), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Run `wirekit fetch`.
pub(crate) async fn run(args: &FetchArgs, global: &GlobalArgs) -> Result<()> {
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| usage(format!("-X '{}' is not an HTTP method", args.method)))?;
    let urls = read_urls(args)?;
    let mut options = options(args, method)?;
    if let Some(path) = &args.resume {
        options.skip = resume_set(path)?;
    }
    let skipped = urls.iter().filter(|u| options.skip.contains(*u)).count();
    let total = urls.len();
    // Installed before the first request, so that no signal finds the default action.
    let signals = StopOnSignal::install();
    options.stop = signals.token.clone();
    let bar = progress_bar(args, global, total - skipped);
    let summary = Summary::new()?;
    let started = Instant::now();
    // The whole pipeline runs as one spawned task, so that the request futures and hyper's
    // connection tasks share worker threads (far fewer cross-thread wake-ups than polling
    // the stream from the thread that blocks on the runtime: measured on loopback).
    let summary = tokio::spawn(fetch_and_print(urls, options, bar, summary))
        .await
        .map_err(|e| anyhow!("internal error in fetch: {e}"))?;
    let run = Run {
        total,
        skipped,
        signal: signals.received(),
    };
    report(
        &summary,
        &run,
        started.elapsed().as_secs_f64(),
        args.json,
        global.quiet,
    );
    if let Some(sig) = run.signal {
        return Err(exit_with(
            sig.exit_code(),
            format!(
                "stopped by {}: {} of {total} URLs done; continue with --resume and the output file",
                sig.name(),
                summary.done + skipped
            ),
        ));
    }
    let failed = summary.failed();
    if failed > 0 {
        return Err(exit_with(
            1,
            format!("{failed} of {} URLs failed", summary.done),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn fetch_args(argv: &[&str]) -> FetchArgs {
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Fetch(a)) => a,
            other => panic!("not a fetch command line: {other:?}"),
        }
    }

    #[test]
    fn every_request_has_a_total_timeout() {
        let a = fetch_args(&["wirekit", "fetch", "http://127.0.0.1:1/"]);
        let o = options(&a, Method::GET).expect("options");
        assert_eq!(o.timeout, Some(std::time::Duration::from_secs(300)));
        let a = fetch_args(&["wirekit", "fetch", "--timeout", "2s", "http://127.0.0.1:1/"]);
        let o = options(&a, Method::GET).expect("options");
        assert_eq!(o.timeout, Some(std::time::Duration::from_secs(2)));
    }
}
