//! `wirekit fetch`: the flags become [`FetchOptions`]; the library fetches; this file
//! writes one JSON line per URL, the progress bar and the summary.

use crate::cli::{FetchArgs, GlobalArgs};
use anyhow::{Result, anyhow};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;
use wirekit::error::{exit_with, usage};
use wirekit::http::client::build_client;
use wirekit::http::client::errors::io_reason;
use wirekit::http::client::fetch::{FetchOptions, Summary, fetch_all};

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
    let stdout_tty = std::io::stdout().is_terminal();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let mut results = std::pin::pin!(fetch_all(urls, options));
    let mut stdout_open = true;
    let mut line = Vec::with_capacity(256);
    while let Some(r) = results.next().await {
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

/// The summary on stderr: one JSON object with `--json`, else a sentence unless quiet.
fn report(s: &Summary, secs: f64, json: bool, quiet: bool) {
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
        });
        eprintln!("{summary}");
    } else if !quiet {
        eprintln!(
            "fetched {} URLs in {secs:.2} s ({rate:.0} req/s): {} ok, {} failed \
             ({} HTTP 4xx/5xx, {} errors); latency p50 {:.2} ms, p99 {:.2} ms",
            s.done,
            s.ok,
            s.failed(),
            s.http_failed,
            s.transport_failed,
            s.latency_ms(0.5),
            s.latency_ms(0.99),
        );
    }
}

/// Run `wirekit fetch`.
pub(crate) async fn run(args: &FetchArgs, global: &GlobalArgs) -> Result<()> {
    if args.jobs == 0 {
        return Err(usage("-j must be at least 1"));
    }
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| usage(format!("-X '{}' is not an HTTP method", args.method)))?;
    let urls = read_urls(args)?;
    let options = options(args, method)?;
    let bar = progress_bar(args, global, urls.len());
    let summary = Summary::new()?;
    let started = Instant::now();
    // The whole pipeline runs as one spawned task, so that the request futures and hyper's
    // connection tasks share worker threads (far fewer cross-thread wake-ups than polling
    // the stream from the thread that blocks on the runtime: measured on loopback).
    let summary = tokio::spawn(fetch_and_print(urls, options, bar, summary))
        .await
        .map_err(|e| anyhow!("internal error in fetch: {e}"))?;
    report(
        &summary,
        started.elapsed().as_secs_f64(),
        args.json,
        global.quiet,
    );
    let failed = summary.failed();
    if failed > 0 {
        return Err(exit_with(
            1,
            format!("{failed} of {} URLs failed", summary.done),
        ));
    }
    Ok(())
}
