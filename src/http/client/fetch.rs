//! [`fetch_all`], the engine of `wirekit fetch`: many URLs at once, bounded (overall and
//! per host), pooled, with the same timeouts and retries as `wirekit http` — the seed's
//! aiohttp + gather — and [`Summary`], the tally and latencies of the results.
//!
//! Every request has a total time limit ([`DEFAULT_TIMEOUT`] unless set), so one silent
//! host cannot hold a run for ever. Cancelling [`FetchOptions::stop`] starts no more URLs
//! and ends those in flight at once, each with an `interrupted` result; [`done_urls`]
//! reads an earlier run's output so that a run can be resumed.

use crate::disk::{ControlChars, FileNameRules, LeadingDots, safe_file_name};
use crate::http::client::errors::{Target, describe_error};
use crate::http::client::request::{USER_AGENT_VALUE, normalize_url};
use crate::http::client::retry::{self, RetryPolicy};
use anyhow::{Result, anyhow};
use futures_util::stream::{self, Stream, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Client, Method, Response, Url};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// The total time limit of each request (connect, send, the whole body) when none is
/// set: 300 s, as aiohttp's `ClientTimeout(total=300)`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The `error` of a URL whose request was cut short by [`FetchOptions::stop`].
pub const INTERRUPTED: &str = "interrupted";

/// How [`fetch_all`] fetches.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The pooled client (see [`crate::http::client::build_client`]).
    pub client: Client,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests in flight to one host:port at once.
    pub per_host: usize,
    /// When to retry a URL.
    pub retry: RetryPolicy,
    /// The method of every request.
    pub method: Method,
    /// Headers added to every request.
    pub headers: HeaderMap,
    /// Save each body under this directory.
    pub save_dir: Option<PathBuf>,
    /// The total limit of each request, retries each getting their own (none: no limit).
    pub timeout: Option<Duration>,
    /// URLs not to fetch (finished by an earlier run, see [`done_urls`]); the others keep
    /// their place in the input, so saved file names stay the same.
    pub skip: HashSet<String>,
    /// Cancel to stop: no more URLs start, and those in flight end with an
    /// [`INTERRUPTED`] result.
    pub stop: CancellationToken,
}

impl FetchOptions {
    /// GET, 50 at once, no retries, [`DEFAULT_TIMEOUT`], bodies counted and dropped.
    pub fn new(client: Client) -> FetchOptions {
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        FetchOptions {
            client,
            concurrency: 50,
            per_host: 50,
            retry: RetryPolicy::default(),
            method: Method::GET,
            headers,
            save_dir: None,
            timeout: Some(DEFAULT_TIMEOUT),
            skip: HashSet::new(),
            stop: CancellationToken::new(),
        }
    }
}

/// What happened to one URL.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FetchResult {
    /// The URL as given.
    pub url: String,
    /// The final status, if an answer came.
    pub status: Option<u16>,
    /// Body bytes received.
    pub bytes: u64,
    /// Milliseconds from the first attempt to the end of the body.
    pub ms: f64,
    /// Attempts made (retries plus one; 0 when no request could be made, or when the
    /// URL was interrupted).
    pub attempts: u32,
    /// Why it failed to complete (connection, timeout, body), if it did.
    pub error: Option<String>,
    /// Where the body was saved (with a save directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Cut short by a stop (its `error` is [`INTERRUPTED`]); written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl FetchResult {
    /// No answer, or a 4xx/5xx answer.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.status.is_none_or(|s| s >= 400)
    }
}

/// Fetch every URL, at most `options.concurrency` at once; results come in completion order.
/// Once `options.stop` is cancelled no further URL starts, and the URLs in flight yield
/// [`INTERRUPTED`] results at once; the stream then ends.
pub fn fetch_all<I>(urls: I, mut options: FetchOptions) -> impl Stream<Item = FetchResult>
where
    I: IntoIterator<Item = String>,
{
    let concurrency = options.concurrency.max(1);
    let stop = options.stop.clone();
    let skip = std::mem::take(&mut options.skip);
    let shared = Arc::new(Shared {
        options,
        hosts: Mutex::new(HashMap::new()),
    });
    stream::iter(urls.into_iter().enumerate())
        .filter(move |(_, url)| std::future::ready(!skip.contains(url)))
        .take_while(move |_| std::future::ready(!stop.is_cancelled()))
        .map(move |(i, url)| {
            let shared = shared.clone();
            async move {
                let start = Instant::now();
                let stop = shared.options.stop.clone();
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => FetchResult {
                        error: Some(INTERRUPTED.to_string()),
                        ms: round_ms(start),
                        interrupted: true,
                        ..FetchResult::new(url)
                    },
                    r = fetch_one(&shared, i, url.clone()) => r,
                }
            }
        })
        .buffer_unordered(concurrency)
}

impl FetchResult {
    /// A result with nothing done yet.
    fn new(url: String) -> FetchResult {
        FetchResult {
            url,
            status: None,
            bytes: 0,
            ms: 0.0,
            attempts: 0,
            error: None,
            file: None,
            interrupted: false,
        }
    }
}

/// The URLs that an earlier run's output (`fetch`'s JSON lines) finished, for resuming:
/// every line with a `url`, except [`INTERRUPTED`] ones. A line cut short (the run was
/// killed mid-write: it starts with `{` but does not parse) is ignored, wherever a later
/// run's appending left it; any other line is an error naming it, so that a wrong file
/// (a URL list) is not taken for one.
pub fn done_urls(text: &str) -> Result<HashSet<String>, String> {
    #[derive(serde::Deserialize)]
    struct Line {
        url: String,
        #[serde(default)]
        interrupted: bool,
    }
    let mut done = HashSet::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(line) {
            Ok(l) if !l.interrupted => {
                done.insert(l.url);
            }
            Ok(_) => {}
            Err(_) if line.starts_with('{') => {}
            Err(e) => {
                return Err(format!(
                    "line {} is not a JSON line of an earlier `wirekit fetch` ({e})",
                    n + 1
                ));
            }
        }
    }
    Ok(done)
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

/// The name a body is saved under in the save directory: the index (so names stay
/// unique and sort in input order), then host, port, path and query flattened.
fn file_name_for(index: usize, url: &Url) -> String {
    const RULES: FileNameRules = FileNameRules {
        last_component: false,
        portable: true,
        control: ControlChars::Drop,
        leading_dots: LeadingDots::Keep,
        max_chars: Some(120),
    };
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
    let clean = safe_file_name(&s, &RULES).unwrap_or_default();
    format!("{index:06}-{}", clean.trim_end_matches('_'))
}

/// Fetch one URL: parse it, wait for its host's turn, send with retries, read the body.
async fn fetch_one(shared: &Shared, index: usize, text: String) -> FetchResult {
    let start = Instant::now();
    let o = &shared.options;
    let mut result = FetchResult::new(text.clone());
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
    let mut builder = o
        .client
        .request(o.method.clone(), url.clone())
        .headers(o.headers.clone());
    if let Some(t) = o.timeout {
        builder = builder.timeout(t);
    }
    let target = Target {
        url: url.clone(),
        timeout: o.timeout,
    };
    let request = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(describe_error(&e, &target));
            return result;
        }
    };
    let sent = retry::send(&o.client, request, &o.retry, |ev| {
        tracing::debug!(url = %ev.url, attempt = ev.attempt, reason = %ev.reason, "retrying");
    })
    .await;
    result.attempts = sent.attempts;
    match sent.result {
        Ok(resp) => {
            result.status = Some(resp.status().as_u16());
            read_body(o, index, &target, resp, &mut result).await;
        }
        Err(e) => result.error = Some(describe_error(&e, &target)),
    }
    result.ms = round_ms(start);
    result
}

/// Read the body into `result`'s count, saved to the save directory if there is one.
async fn read_body(
    o: &FetchOptions,
    index: usize,
    target: &Target,
    mut resp: Response,
    result: &mut FetchResult,
) {
    let url = &target.url;
    let mut file = None;
    if let Some(dir) = &o.save_dir {
        let path = dir.join(file_name_for(index, url));
        match tokio::fs::File::create(&path).await {
            Ok(f) => {
                file = Some(f);
                result.file = Some(path.to_string_lossy().into_owned());
            }
            Err(e) => {
                result.error = Some(format!("cannot write '{}': {e}", path.display()));
                return;
            }
        }
    }
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                result.bytes += chunk.len() as u64;
                if let Some(f) = file.as_mut()
                    && let Err(e) = f.write_all(&chunk).await
                {
                    result.error = Some(format!("cannot write body: {e}"));
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                result.error = Some(describe_error(&e, target));
                break;
            }
        }
    }
    if let Some(mut f) = file
        && let Err(e) = f.flush().await
    {
        result
            .error
            .get_or_insert(format!("cannot write body: {e}"));
    }
}

/// The tally of finished URLs and their latencies, for the summary line.
#[derive(Debug, Clone)]
pub struct Summary {
    /// URLs finished.
    pub done: usize,
    /// URLs answered with a status below 400.
    pub ok: usize,
    /// URLs answered with 4xx or 5xx.
    pub http_failed: usize,
    /// URLs with no complete answer (connection, timeout, body, file errors).
    pub transport_failed: usize,
    /// URLs in flight when the run was stopped (not counted in `done`).
    pub interrupted: usize,
    /// Latency in microseconds of every URL that got an answer.
    latency: hdrhistogram::Histogram<u64>,
}

impl Summary {
    /// An empty tally.
    pub fn new() -> Result<Summary> {
        Ok(Summary {
            done: 0,
            ok: 0,
            http_failed: 0,
            transport_failed: 0,
            interrupted: 0,
            latency: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .map_err(|e| anyhow!("cannot set up the latency histogram: {e}"))?,
        })
    }

    /// Count one result.
    pub fn record(&mut self, r: &FetchResult) {
        if r.interrupted {
            self.interrupted += 1;
            return;
        }
        self.done += 1;
        if r.error.is_some() {
            self.transport_failed += 1;
        } else if r.failed() {
            self.http_failed += 1;
        } else {
            self.ok += 1;
        }
        if r.status.is_some() {
            let _ = self.latency.record(((r.ms * 1000.0) as u64).max(1));
        }
    }

    /// URLs that failed, either way.
    pub fn failed(&self) -> usize {
        self.http_failed + self.transport_failed
    }

    /// The latency at quantile `q` (0.5: the median), in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_timeout_is_aiohttps() {
        assert_eq!(DEFAULT_TIMEOUT, Duration::from_secs(300));
        let client = crate::http::client::default_client().expect("client");
        assert_eq!(FetchOptions::new(client).timeout, Some(DEFAULT_TIMEOUT));
    }

    #[test]
    fn done_urls_of_an_earlier_run() {
        let text = concat!(
            "{\"url\":\"http://a/\",\"status\":200,\"error\":null}\n",
            "{\"url\":\"http://b/\",\"status\":null,\"error\":\"interrupted\",\"interrupted\":true}\n",
            "{\"url\":\"http://c/\",\"sta\n",
            "{\"url\":\"http://d/\",\"status\":null,\"error\":\"refused\"}\n",
            "{\"url\":\"http://e/\",\"status\":2",
        );
        let done = done_urls(text).expect("parses");
        let mut got: Vec<&str> = done.iter().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, ["http://a/", "http://d/"]);
        let err = done_urls("http://a/\nhttp://b/\n").expect_err("a URL list");
        assert!(err.contains("line 1"), "{err}");
        assert!(done_urls("").expect("empty").is_empty());
    }
}
