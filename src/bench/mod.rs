//! `wirekit bench`: an HTTP load generator. A closed loop (each connection sends
//! its next request when the answer arrives, like wrk) or an open loop (`-R`: one
//! schedule of intended send times, latency measured from the intended time so
//! that a stalled server cannot hide its stall: coordinated omission corrected,
//! like wrk2), with HDR histograms and a wrk-like or JSON report.

mod find;
mod h1;
mod html;
mod merge;
mod report;
mod schedule;
mod stats;
mod targets;
mod worker;

pub use find::{MaxRate, Slo, Step, find_max_rate, parse_slo};
pub use html::html;
pub use merge::{decode_histogram, merge};
pub use report::{Errors, Latency, PERCENTILES, Report, hgrm, us};
pub use schedule::{Arrival, Plan, Stage, parse_stages};
pub use stats::{ErrorKind, Second};
pub use targets::{Target, parse_targets, parse_urls};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http_body_util::Full;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use worker::{Shared, ThreadPlan};

/// Live figures of a running benchmark, for a progress display: each generator
/// thread publishes its counts about every 250 ms (nothing on the request path).
#[derive(Debug, Default)]
pub struct Progress {
    threads: std::sync::Mutex<Vec<Option<Published>>>,
}

/// One thread's answers, failed requests and latency histogram so far.
type Published = (u64, u64, hdrhistogram::Histogram<u64>);

impl Progress {
    /// Answers, failed requests and the p99 latency (µs) so far, over all threads.
    pub fn snapshot(&self) -> (u64, u64, u64) {
        let Ok(threads) = self.threads.lock() else {
            return (0, 0, 0);
        };
        let (mut answers, mut errors) = (0, 0);
        let mut all: Option<hdrhistogram::Histogram<u64>> = None;
        for (a, e, h) in threads.iter().flatten() {
            answers += a;
            errors += e;
            match all.as_mut() {
                Some(x) => {
                    let _ = x.add(h);
                }
                None => all = Some(h.clone()),
            }
        }
        let p99 = all
            .filter(|h| !h.is_empty())
            .map_or(0, |h| h.value_at_quantile(0.99));
        (answers, errors, p99)
    }

    pub(crate) fn publish(
        &self,
        thread: usize,
        answers: u64,
        errors: u64,
        h: &hdrhistogram::Histogram<u64>,
    ) {
        if let Ok(mut t) = self.threads.lock() {
            if t.len() <= thread {
                t.resize(thread + 1, None);
            }
            t[thread] = Some((answers, errors, h.clone()));
        }
    }
}

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this long (in-flight requests of the closed loop are abandoned).
    Duration(Duration),
    /// After this many requests.
    Requests(u64),
}

/// The open loop's schedule and pool.
#[derive(Debug, Clone)]
pub struct OpenLoop {
    /// The rate at the start, requests per second (`-R`).
    pub rate: f64,
    /// Stages after it (`--stages`); empty: hold `rate` to the end.
    pub stages: Vec<Stage>,
    /// Even spacing or Poisson arrivals.
    pub arrival: Arrival,
    /// The most connections the pool grows to when every one is busy.
    pub max_conns: usize,
    /// A request not sent within this of its intended time is dropped (and counted).
    pub drop_after: Duration,
}

/// What to run.
#[derive(Clone)]
pub struct BenchOptions {
    /// The target, `http://` or `https://`.
    pub url: url::Url,
    /// The method of every request.
    pub method: http::Method,
    /// Extra headers (a `Host` here replaces the URL's).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The request body.
    pub body: Bytes,
    /// Connections opened at the start (the closed loop's concurrency).
    pub connections: usize,
    /// Generator threads, each with its own event loop.
    pub threads: usize,
    /// When to stop.
    pub stop: Stop,
    /// The open loop; `None`: closed loop.
    pub open: Option<OpenLoop>,
    /// Per request, from the send to the end of the answer (also bounds connecting).
    pub timeout: Duration,
    /// TLS for `https://` (the shared client set-up; offer ALPN `h2` with `h2`).
    pub tls: Option<crate::tls::TlsClient>,
    /// HTTP/2: h2c with prior knowledge on `http://`, h2 over TLS on `https://`.
    pub h2: bool,
    /// HTTP/2: concurrent streams per connection (h2load's `-m`).
    pub streams: usize,
    /// Many targets, round-robin (`--urls`, `--targets`); empty: `url`,
    /// `method`, `headers` and `body`. All on the same scheme, host and port.
    pub targets: Vec<Target>,
    /// Where the threads publish live figures (a progress display reads them).
    pub progress: Option<Arc<Progress>>,
    /// Start at this wall-clock time (every shard together), not at once.
    pub start_at: Option<std::time::SystemTime>,
    /// This run is shard `.0` (0-based) of `.1`: it takes its share of the
    /// connections, the rate and the request count.
    pub shard: Option<(usize, usize)>,
}

/// Shard `index` (0-based) of `count`'s share of `n`: `n / count`, the remainder to the first shards.
pub fn share(n: u64, index: usize, count: usize) -> u64 {
    let count = count.max(1) as u64;
    n / count + u64::from((index as u64) < n % count)
}

/// Parse `--shard I/N` (1-based, like Jest and Playwright): `(I - 1, N)`.
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let err =
        || format!("--shard '{text}' is not I/N; write it like 1/3 (the first of three shards)");
    let (i, n) = text.split_once('/').ok_or_else(err)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| err())?,
        n.trim().parse().map_err(|_| err())?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(format!(
            "--shard '{text}': I must be from 1 to N, and N at least 1"
        ));
    }
    Ok((i - 1, n))
}

impl BenchOptions {
    /// This shard's share of the load: connections, the pool bound, the request
    /// count and every rate divided among `count` shards.
    pub fn take_share(&mut self, index: usize, count: usize) {
        let part = |n: usize| (share(n as u64, index, count) as usize).max(1);
        self.connections = part(self.connections);
        if let Stop::Requests(n) = self.stop {
            self.stop = Stop::Requests(share(n, index, count).max(1));
        }
        if let Some(ol) = self.open.as_mut() {
            let c = count.max(1) as f64;
            ol.rate /= c;
            for st in &mut ol.stages {
                st.rate /= c;
            }
            ol.max_conns = part(ol.max_conns);
        }
        if self.targets.len() >= count {
            let mine: Vec<Target> = self
                .targets
                .iter()
                .enumerate()
                .filter(|(i, _)| i % count.max(1) == index)
                .map(|(_, t)| t.clone())
                .collect();
            self.targets = mine;
        }
        self.shard = Some((index, count));
    }
}

impl BenchOptions {
    /// Options for `url` with wrk-like defaults: GET, 64 connections, all cores, 10 s.
    pub fn new(url: url::Url) -> BenchOptions {
        BenchOptions {
            url,
            method: http::Method::GET,
            headers: Vec::new(),
            body: Bytes::new(),
            connections: 64,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            stop: Stop::Duration(Duration::from_secs(10)),
            open: None,
            timeout: Duration::from_secs(10),
            tls: None,
            h2: false,
            streams: 1,
            progress: None,
            targets: Vec::new(),
            start_at: None,
            shard: None,
        }
    }
}

/// The requests the connections send in turn: for HTTP/2 with the authority in
/// the URI; for HTTP/1.1 in origin form with a `Host` header, serialised once.
type Requests = (Vec<http::Request<Full<Bytes>>>, Vec<h1::Request>);

fn requests(o: &BenchOptions) -> Result<Requests> {
    let single = [Target {
        method: o.method.clone(),
        url: o.url.clone(),
        headers: o.headers.clone(),
        body: o.body.clone(),
    }];
    let targets = if o.targets.is_empty() {
        &single[..]
    } else {
        &o.targets[..]
    };
    let origin = |u: &url::Url| {
        (
            u.scheme().to_string(),
            u.host_str().map(str::to_string),
            u.port_or_known_default(),
        )
    };
    let (mut h2, mut h1) = (Vec::new(), Vec::new());
    for t in targets {
        if origin(&t.url) != origin(&o.url) {
            bail!(
                "{} is not on {}; one run loads one scheme, host and port (run one bench per host)",
                t.url,
                o.url.origin().ascii_serialization()
            );
        }
        let host = t.url.host_str().context("the URL has no host")?;
        let authority = match t.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let mut path = t.url.path().to_string();
        if let Some(q) = t.url.query() {
            path.push('?');
            path.push_str(q);
        }
        let mut req = http::Request::builder().method(t.method.clone());
        req = if o.h2 {
            // HTTP/2 carries the authority in the request's URI (`:authority`).
            req.uri(t.url.as_str())
        } else {
            req.uri(path).header(http::header::HOST, authority)
        };
        if !t.body.is_empty() {
            req = req.header(http::header::CONTENT_LENGTH, t.body.len());
        }
        let mut req = req.body(Full::new(t.body.clone()))?;
        for (name, value) in &t.headers {
            req.headers_mut().insert(name.clone(), value.clone());
        }
        if o.h2 {
            h2.push(req);
        } else {
            h1.push(h1::Request::new(&req, &t.body));
        }
    }
    Ok((h2, h1))
}

/// Run the benchmark to its end (blocking: it starts its own threads); the report.
pub fn run(o: &BenchOptions) -> Result<Report> {
    let host = o.url.host_str().context("the URL has no host")?.to_string();
    let port = o.url.port_or_known_default().unwrap_or(80);
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addr = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => std::net::SocketAddr::new(ip, port),
        Err(_) => std::net::ToSocketAddrs::to_socket_addrs(&(bare.as_str(), port))
            .ok()
            .and_then(|mut a| a.next())
            .with_context(|| {
                format!("cannot resolve host '{host}'; check the name, or use an IP address")
            })?,
    };
    if o.url.scheme() == "https" && o.tls.is_none() {
        bail!("{} is https but no TLS client was set up", o.url);
    }
    let connections = o.connections.max(1);
    let threads = o.threads.clamp(1, connections);
    let template = stats::histogram()?;
    // A moment for every thread to start and connect before the first request,
    // or the wall-clock time every shard starts at.
    let wait = o
        .start_at
        .and_then(|t| t.duration_since(std::time::SystemTime::now()).ok())
        .unwrap_or(Duration::from_millis(50));
    let start = tokio::time::Instant::now() + wait;
    let started = std::time::SystemTime::now() + wait;
    let (limit, duration) = match o.stop {
        Stop::Requests(n) => (Some(n), None),
        Stop::Duration(d) => (None, Some(d)),
    };
    let plan = o
        .open
        .as_ref()
        .map(|ol| Plan::new(ol.rate, &ol.stages, duration, limit, ol.arrival));
    let (h2_requests, h1_requests) = requests(o)?;
    let shared = Arc::new(Shared {
        addr,
        host: bare,
        tls: o.tls.clone(),
        requests: h2_requests,
        h1: h1_requests,
        next: std::sync::atomic::AtomicUsize::new(0),
        h2: o.h2,
        streams: o.streams.max(1),
        timeout: o.timeout,
        start,
        issued: AtomicU64::new(0),
        limit: if o.open.is_some() { None } else { limit },
        deadline: match (&o.open, duration) {
            (None, Some(d)) => Some(start + d),
            _ => None,
        },
        drop_after: o.open.as_ref().map_or(Duration::MAX, |ol| ol.drop_after),
        late_after: Duration::from_millis(10),
    });
    let cpu_before = cpu_seconds();
    let mut handles = Vec::new();
    for i in 0..threads {
        let share = |n: usize| n / threads + usize::from(i < n % threads);
        let plan = ThreadPlan {
            index: i,
            progress: o.progress.clone(),
            connections: share(connections),
            open: match (&plan, &o.open) {
                (Some(p), Some(ol)) => Some((
                    p.for_thread(i, threads),
                    share(ol.max_conns.max(connections)).max(1),
                )),
                _ => None,
            },
        };
        let (shared, template) = (shared.clone(), template.clone());
        handles.push(
            std::thread::Builder::new()
                .name(format!("bench-{i}"))
                .spawn(move || worker::run_thread(shared, plan, template))
                .context("cannot start a generator thread")?,
        );
    }
    let mut total = stats::Stats::new(&template);
    for h in handles {
        match h.join() {
            Ok(Ok(s)) => total.merge(&s),
            Ok(Err(e)) => return Err(e.context("a generator thread failed")),
            Err(_) => bail!("a generator thread stopped unexpectedly"),
        }
    }
    // Closed loop with -d: the duration; else until the last request ended.
    let elapsed = match (o.open.is_none(), duration) {
        (true, Some(d)) => d,
        _ => total.last,
    };
    let target_rate = plan.as_ref().map(|p| {
        let secs = p.seconds();
        match (secs.is_finite(), limit) {
            (true, _) if secs > 0.0 => p.scheduled() / secs,
            _ => o.open.as_ref().map_or(0.0, |ol| ol.rate),
        }
    });
    let mut report = Report::build(
        o.url.as_str(),
        threads,
        connections,
        target_rate,
        elapsed.as_secs_f64(),
        &total,
    )?;
    report.started_at = humantime::format_rfc3339_millis(started).to_string();
    report.start_unix_ms = started
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    report.shard = o.shard.map(|(i, n)| format!("{}/{n}", i + 1));
    report.protocol = if o.h2 {
        format!("HTTP/2, {} streams per connection", o.streams.max(1))
    } else {
        "HTTP/1.1".to_string()
    };
    report.generator_cpu_s = (cpu_seconds() - cpu_before).max(0.0);
    report.verdict = verdict(&report, threads);
    Ok(report)
}

/// The process's CPU time so far (user + system), in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// A generator lag p99 past this means the schedule was not kept.
const LAG_BOUND_US: u64 = 10_000;

/// Whether the run measured the generator, not the server: its threads busy
/// (running, or ready to run but starved of CPU by other processes) 90 % of the
/// run, or, in the open loop, its send lag past 10 ms at p99.
fn verdict(r: &Report, threads: usize) -> Option<String> {
    let busy = r.generator_busy;
    let lag = r
        .lag
        .as_ref()
        .map_or(0, |l| l.percentiles.get("p99").copied().unwrap_or(0));
    let mut why = Vec::new();
    if busy >= 0.9 && r.elapsed_s >= 0.5 {
        why.push(format!(
            "its own CPU was saturated (its {threads} thread(s) busy {:.0} % of the run, {:.2}s of CPU): more threads (-t) or shards may help",
            busy * 100.0,
            r.generator_cpu_s
        ));
    }
    if lag > LAG_BOUND_US || r.dropped > 0 {
        why.push(format!(
            "its send lag reached {} at p99 (bound {}; {} dropped, {} late): more connections (--max-conns) or threads (-t) may help",
            us(lag as f64),
            us(LAG_BOUND_US as f64),
            r.dropped,
            r.late
        ));
    }
    (!why.is_empty()).then(|| {
        format!(
            "this run measured the generator, not the server: {}",
            why.join("; ")
        )
    })
}
