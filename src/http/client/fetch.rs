//! [`fetch_all`], the engine of `wirekit fetch`: many URLs at once, bounded (overall and
//! per host), pooled, with the same timeouts and retries as `wirekit http` — the seed's
//! aiohttp + gather — and [`Summary`], the tally and latencies of the results.

use crate::disk::{ControlChars, FileNameRules, LeadingDots, safe_file_name};
use crate::http::client::errors::describe_error;
use crate::http::client::request::{USER_AGENT_VALUE, normalize_url};
use crate::http::client::retry::{self, RetryPolicy};
use anyhow::{Result, anyhow};
use futures_util::stream::{self, Stream, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Client, Method, Response, Url};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::AsyncWriteExt;
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
    /// When to retry a URL.
    pub retry: RetryPolicy,
    /// The method of every request.
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
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
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
    /// The URL as given.
    pub url: String,
    /// The final status, if an answer came.
    pub status: Option<u16>,
    /// Body bytes received.
    pub bytes: u64,
    /// Milliseconds from the first attempt to the end of the body.
    pub ms: f64,
    /// Attempts made (retries plus one; 0 when no request could be made).
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
    match sent.result {
        Ok(resp) => {
            result.status = Some(resp.status().as_u16());
            read_body(o, index, &url, resp, &mut result).await;
        }
        Err(e) => result.error = Some(describe_error(&e)),
    }
    result.ms = round_ms(start);
    result
}

/// Read the body into `result`'s count, saved to the save directory if there is one.
async fn read_body(
    o: &FetchOptions,
    index: usize,
    url: &Url,
    mut resp: Response,
    result: &mut FetchResult,
) {
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
                result.error = Some(describe_error(&e));
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
            latency: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .map_err(|e| anyhow!("cannot set up the latency histogram: {e}"))?,
        })
    }

    /// Count one result.
    pub fn record(&mut self, r: &FetchResult) {
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
