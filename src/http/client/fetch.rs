//! `wirekit fetch` and [`fetch_all`]: many URLs at once, bounded (`-j`, per host), pooled,
//! with the same timeouts and retries as `wirekit http` — the seed's aiohttp + gather.

use crate::cli::{FetchArgs, GlobalArgs};
use crate::error::{exit_with, usage};
use crate::http::client::retry::{self, RetryPolicy};
use crate::http::client::{build_client, describe_error, normalize_url};
use anyhow::{Result, anyhow};
use futures_util::stream::{self, Stream, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::{Client, Method};
use serde::Serialize;
use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;

/// How [`fetch_all`] fetches.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The pooled client (see [`crate::http::client::build_client`]).
    pub client: Client,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests in flight to one host:port at once.
    pub per_host: usize,
    pub retry: RetryPolicy,
    pub method: Method,
    /// Headers added to every request.
    pub headers: HeaderMap,
    /// Save each body under this directory.
    pub save_dir: Option<PathBuf>,
}

impl FetchOptions {
    /// GET, 50 at once, no retries, bodies counted and dropped.
    pub fn new(client: Client) -> FetchOptions {
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(crate::http::client::USER_AGENT_VALUE),
        );
        FetchOptions {
            client,
            concurrency: 50,
            per_host: 50,
            retry: RetryPolicy::default(),
            method: Method::GET,
            headers,
            save_dir: None,
        }
    }
}

/// What happened to one URL.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FetchResult {
    pub url: String,
    /// The final status, if an answer came.
    pub status: Option<u16>,
    /// Body bytes received.
    pub bytes: u64,
    /// Milliseconds from the first attempt to the end of the body.
    pub ms: f64,
    pub attempts: u32,
    /// Why it failed to complete (connection, timeout, body), if it did.
    pub error: Option<String>,
    /// Where the body was saved (with a save directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl FetchResult {
    /// No answer, or a 4xx/5xx answer.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.status.is_none_or(|s| s >= 400)
    }
}

/// Fetch every URL, at most `options.concurrency` at once; results come in completion order.
pub fn fetch_all<I>(urls: I, options: FetchOptions) -> impl Stream<Item = FetchResult>
where
    I: IntoIterator<Item = String>,
{
    let concurrency = options.concurrency.max(1);
    let shared = Arc::new(Shared {
        options,
        hosts: Mutex::new(HashMap::new()),
    });
    stream::iter(urls.into_iter().enumerate())
        .map(move |(i, url)| {
            let shared = shared.clone();
            async move { fetch_one(&shared, i, url).await }
        })
        .buffer_unordered(concurrency)
}

struct Shared {
    options: FetchOptions,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Shared {
    fn host_limit(&self, key: &str) -> Arc<Semaphore> {
        let mut hosts = match self.hosts.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        hosts
            .entry(key.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.options.per_host.max(1))))
            .clone()
    }
}

fn round_ms(start: Instant) -> f64 {
    (start.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn file_name_for(index: usize, url: &reqwest::Url) -> String {
    let mut s = String::new();
    s.push_str(url.host_str().unwrap_or("host"));
    if let Some(p) = url.port() {
        s.push_str(&format!("_{p}"));
    }
    s.push_str(url.path());
    if let Some(q) = url.query() {
        s.push('_');
        s.push_str(q);
    }
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    format!("{index:06}-{}", clean.trim_end_matches('_'))
}

async fn fetch_one(shared: &Shared, index: usize, text: String) -> FetchResult {
    let start = Instant::now();
    let o = &shared.options;
    let mut result = FetchResult {
        url: text.clone(),
        status: None,
        bytes: 0,
        ms: 0.0,
        attempts: 0,
        error: None,
        file: None,
    };
    let url = match normalize_url(&text) {
        Ok(u) => u,
        Err(e) => {
            result.error = Some(crate::error::one_line(&e));
            return result;
        }
    };
    // The per-host limit can only bind when it is below the overall one.
    let _permit = if o.per_host < o.concurrency {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        shared.host_limit(&key).acquire_owned().await.ok()
    } else {
        None
    };
    let request = match o
        .client
        .request(o.method.clone(), url.clone())
        .headers(o.headers.clone())
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(describe_error(&e));
            return result;
        }
    };
    let sent = retry::send(&o.client, request, &o.retry, |ev| {
        tracing::debug!(url = %ev.url, attempt = ev.attempt, reason = %ev.reason, "retrying");
    })
    .await;
    result.attempts = sent.attempts;
    let mut resp = match sent.result {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(describe_error(&e));
            result.ms = round_ms(start);
            return result;
        }
    };
    result.status = Some(resp.status().as_u16());
    let mut file = None;
    if let Some(dir) = &o.save_dir {
        let path = dir.join(file_name_for(index, &url));
        match tokio::fs::File::create(&path).await {
            Ok(f) => {
                file = Some(f);
                result.file = Some(path.to_string_lossy().into_owned());
            }
            Err(e) => {
                result.error = Some(format!("cannot write '{}': {e}", path.display()));
                result.ms = round_ms(start);
                return result;
            }
        }
    }
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                result.bytes += chunk.len() as u64;
                if let Some(f) = file.as_mut() {
                    use tokio::io::AsyncWriteExt;
                    if let Err(e) = f.write_all(&chunk).await {
                        result.error = Some(format!("cannot write body: {e}"));
                        break;
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                result.error = Some(describe_error(&e));
                break;
            }
        }
    }
    if let Some(mut f) = file {
        use tokio::io::AsyncWriteExt;
        if let Err(e) = f.flush().await {
            result
                .error
                .get_or_insert(format!("cannot write body: {e}"));
        }
    }
    result.ms = round_ms(start);
    result
}

#[derive(Debug, Default)]
struct Tally {
    done: usize,
    ok: usize,
    http_failed: usize,
    transport_failed: usize,
}

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
                    crate::http::client::items::io_reason(&e)
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

fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue)> {
    let bad = || {
        usage(format!(
            "-H '{text}' is not a header; write it like 'Name: value'"
        ))
    };
    let (n, v) = text.split_once(':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(n.trim().as_bytes()).map_err(|_| bad())?;
    let value = HeaderValue::from_str(v.trim()).map_err(|_| bad())?;
    Ok((name, value))
}

/// Run `wirekit fetch`.
pub async fn run(args: &FetchArgs, global: &GlobalArgs) -> Result<()> {
    if args.jobs == 0 {
        return Err(usage("-j must be at least 1"));
    }
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| usage(format!("-X '{}' is not an HTTP method", args.method)))?;
    let mut headers_extra = Vec::new();
    for h in &args.headers {
        headers_extra.push(parse_header(h)?);
    }
    let urls = read_urls(args)?;
    let total = urls.len();
    let per_host = args.per_host.unwrap_or(args.jobs).max(1);
    let client = build_client(&args.client, Some(per_host.min(args.jobs)))?;
    let mut options = FetchOptions::new(client);
    options.concurrency = args.jobs;
    options.per_host = per_host;
    options.retry = RetryPolicy::from_args(&args.client);
    options.method = method;
    for (n, v) in headers_extra {
        options.headers.insert(n, v);
    }
    if let Some(auth) = &args.client.auth {
        // Let reqwest encode the Basic credentials once; every request carries the header.
        let (u, p) = auth.split_once(':').unwrap_or((auth.as_str(), ""));
        if let Ok(r) = options
            .client
            .get("http://localhost/")
            .basic_auth(u, Some(p))
            .build()
            && let Some(v) = r.headers().get(reqwest::header::AUTHORIZATION)
        {
            options
                .headers
                .insert(reqwest::header::AUTHORIZATION, v.clone());
        }
    }
    if let Some(token) = &args.client.bearer
        && let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        options.headers.insert(reqwest::header::AUTHORIZATION, v);
    }
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow!("-o: cannot create directory '{}': {e}", dir.display()))?;
        options.save_dir = Some(dir.clone());
    }

    let bar = if std::io::stderr().is_terminal() && !args.no_progress && !global.quiet {
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {pos}/{len} [{wide_bar}] {per_sec} ETA {eta} {msg}",
        ) {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };
    let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
        .map_err(|e| anyhow!("cannot set up the latency histogram: {e}"))?;
    let started = Instant::now();
    // The whole pipeline runs as one spawned task, so that the request futures and hyper's
    // connection tasks share worker threads (far fewer cross-thread wake-ups than polling
    // the stream from the thread that blocks on the runtime: measured on loopback).
    let stdout_tty = std::io::stdout().is_terminal();
    let consumer = tokio::spawn(async move {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
        let mut tally = Tally::default();
        let mut results = std::pin::pin!(fetch_all(urls, options));
        let mut stdout_open = true;
        let mut line = Vec::with_capacity(256);
        while let Some(r) = results.next().await {
            tally.done += 1;
            if r.error.is_some() {
                tally.transport_failed += 1;
            } else if r.failed() {
                tally.http_failed += 1;
            } else {
                tally.ok += 1;
            }
            if r.status.is_some() {
                let _ = hist.record(((r.ms * 1000.0) as u64).max(1));
            }
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
                let failed = tally.transport_failed + tally.http_failed;
                if failed > 0 && (r.failed() || failed == 1) {
                    b.set_message(format!("{failed} failed"));
                }
            }
        }
        let _ = out.flush();
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        (tally, hist)
    });
    let (tally, hist) = consumer
        .await
        .map_err(|e| anyhow!("internal error in fetch: {e}"))?;
    let Tally {
        done,
        ok,
        http_failed,
        transport_failed,
    } = tally;
    let secs = started.elapsed().as_secs_f64();
    let failed = http_failed + transport_failed;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    if args.json {
        let summary = serde_json::json!({
            "done": done,
            "ok": ok,
            "failed": http_failed + transport_failed,
            "http_failed": http_failed,
            "errors": transport_failed,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "req_per_s": (done as f64 / secs.max(1e-9)).round(),
            "p50_ms": ms(0.5),
            "p99_ms": ms(0.99),
        });
        eprintln!("{summary}");
    } else if !global.quiet {
        eprintln!(
            "fetched {done} URLs in {secs:.2} s ({:.0} req/s): {ok} ok, {failed} failed \
             ({http_failed} HTTP 4xx/5xx, {transport_failed} errors); latency p50 {:.2} ms, p99 {:.2} ms",
            done as f64 / secs.max(1e-9),
            ms(0.5),
            ms(0.99),
        );
    }
    if failed > 0 {
        return Err(exit_with(1, format!("{failed} of {done} URLs failed")));
    }
    Ok(())
}
