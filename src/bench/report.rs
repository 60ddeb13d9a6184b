//! The run's report: the wrk-like text summary and the JSON form (with the
//! histograms in HdrHistogram's V2 compressed base64 interchange format).

use super::stats::{ErrorKind, Second, Stats};
use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The percentiles every report shows.
pub const PERCENTILES: [(&str, f64); 6] = [
    ("p50", 50.0),
    ("p75", 75.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
    ("p99.99", 99.99),
];

/// A latency distribution in microseconds, with its histogram.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    /// Samples recorded.
    pub count: u64,
    /// Smallest, in µs.
    pub min_us: u64,
    /// Mean, in µs.
    pub mean_us: f64,
    /// Standard deviation, in µs.
    pub stdev_us: f64,
    /// Largest, in µs.
    pub max_us: u64,
    /// p50 ... p99.99, in µs.
    pub percentiles: BTreeMap<String, u64>,
    /// The histogram, HdrHistogram V2 compressed, base64 (`HISTFAAA...`).
    pub histogram: String,
}

impl Latency {
    /// The figures of `h`.
    pub fn of(h: &Histogram<u64>) -> anyhow::Result<Latency> {
        let mut raw = Vec::new();
        V2DeflateSerializer::new()
            .serialize(h, &mut raw)
            .map_err(|e| anyhow::anyhow!("cannot encode the latency histogram: {e:?}"))?;
        let empty = h.is_empty();
        Ok(Latency {
            count: h.len(),
            min_us: if empty { 0 } else { h.min() },
            mean_us: if empty { 0.0 } else { h.mean() },
            stdev_us: if empty { 0.0 } else { h.stdev() },
            max_us: if empty { 0 } else { h.max() },
            percentiles: PERCENTILES
                .iter()
                .map(|(name, p)| {
                    (
                        name.to_string(),
                        if empty { 0 } else { h.value_at_percentile(*p) },
                    )
                })
                .collect(),
            histogram: base64::engine::general_purpose::STANDARD.encode(raw),
        })
    }
}

/// Failed requests by kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Errors {
    /// No connection (refused, unreachable, TLS failed).
    pub connect: u64,
    /// No complete answer within `--timeout`.
    pub timeout: u64,
    /// The connection broke or the answer was malformed.
    pub read: u64,
    /// Answers with a 4xx status.
    pub status_4xx: u64,
    /// Answers with a 5xx status.
    pub status_5xx: u64,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The target.
    pub url: String,
    /// `closed` (as fast as answers come) or `open` (`-R`, a schedule).
    pub mode: String,
    /// Generator threads.
    pub threads: usize,
    /// Connections opened at the start.
    pub connections: usize,
    /// Open loop: the planned mean rate (scheduled requests / schedule length).
    pub target_rate: Option<f64>,
    /// Seconds from the start to the last answer.
    pub elapsed_s: f64,
    /// Requests that got an answer or failed.
    pub requests: u64,
    /// Answers of any status.
    pub responses: u64,
    /// Answers per second.
    pub rate: f64,
    /// Bytes read from the server (heads and bodies).
    pub bytes: u64,
    /// Bytes read per second.
    pub throughput_bytes_per_s: f64,
    /// Failed requests by kind.
    pub errors: Errors,
    /// The first reason seen for each kind that occurred.
    pub error_reasons: BTreeMap<String, String>,
    /// Answers by status code.
    pub statuses: BTreeMap<String, u64>,
    /// Open loop: requests sent later than the late bound after their intended time.
    pub late: u64,
    /// Open loop: requests not sent because they were past `--drop-after`.
    pub dropped: u64,
    /// Latency: from the intended send time in the open loop (corrected for
    /// coordinated omission), from the send in the closed loop.
    pub latency: Latency,
    /// Open loop: service time, from the actual send to the end of the answer.
    pub service: Option<Latency>,
    /// Open loop: the generator's lag, from the intended to the actual send.
    pub lag: Option<Latency>,
    /// Per second since the start.
    pub timeline: Vec<Second>,
    /// When the run started (RFC 3339, UTC).
    #[serde(default)]
    pub started_at: String,
    /// When the run started, milliseconds since the Unix epoch (merge aligns timelines on it).
    #[serde(default)]
    pub start_unix_ms: u64,
    /// This run's shard, `I/N` (`--shard`), if it was one.
    #[serde(default)]
    pub shard: Option<String>,
    /// How many reports were merged into this one (1: a single run).
    #[serde(default = "one")]
    pub shards: usize,
    /// `HTTP/1.1`, or `HTTP/2` with its streams per connection.
    #[serde(default)]
    pub protocol: String,
    /// CPU seconds (user + system) the generator spent during the run.
    #[serde(default)]
    pub generator_cpu_s: f64,
    /// The share of the run the generator's threads ran or waited for a CPU to run
    /// on, rather than waiting for the network (0 to 1; near 1: the generator was the bottleneck).
    #[serde(default)]
    pub generator_busy: f64,
    /// Connections opened during the run (the open loop's pool grows up to `--max-conns`).
    #[serde(default)]
    pub connections_opened: u64,
    /// Set when the run measured the generator rather than the server: its own
    /// CPU was saturated, or its send lag grew past the bound.
    #[serde(default)]
    pub verdict: Option<String>,
}

fn one() -> usize {
    1
}

impl Report {
    /// The report of `stats`.
    pub(crate) fn build(
        url: &str,
        threads: usize,
        connections: usize,
        target_rate: Option<f64>,
        elapsed_s: f64,
        stats: &Stats,
    ) -> anyhow::Result<Report> {
        let e = &stats.errors;
        let open = target_rate.is_some();
        let per_s = |n: f64| if elapsed_s > 0.0 { n / elapsed_s } else { 0.0 };
        Ok(Report {
            url: url.to_string(),
            mode: if open { "open" } else { "closed" }.to_string(),
            threads,
            connections,
            target_rate,
            elapsed_s,
            requests: stats.responses + stats.transport_errors(),
            responses: stats.responses,
            rate: per_s(stats.responses as f64),
            bytes: stats.bytes,
            throughput_bytes_per_s: per_s(stats.bytes as f64),
            errors: Errors {
                connect: e[0],
                timeout: e[1],
                read: e[2],
                status_4xx: e[3],
                status_5xx: e[4],
            },
            error_reasons: ErrorKind::ALL
                .iter()
                .zip(&stats.reasons)
                .filter_map(|(k, r)| Some((k.name().to_string(), r.clone()?)))
                .collect(),
            statuses: stats
                .statuses
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            late: stats.late,
            dropped: stats.dropped,
            latency: Latency::of(&stats.latency)?,
            service: open.then(|| Latency::of(&stats.service)).transpose()?,
            lag: open.then(|| Latency::of(&stats.lag)).transpose()?,
            timeline: stats.timeline.clone(),
            started_at: String::new(),
            start_unix_ms: 0,
            shard: None,
            shards: 1,
            protocol: String::new(),
            generator_cpu_s: 0.0,
            generator_busy: if stats.span.is_zero() {
                0.0
            } else {
                stats.busy.as_secs_f64() / stats.span.as_secs_f64()
            },
            connections_opened: stats.opened,
            verdict: None,
        })
    }

    /// Requests that failed before an answer (connect, timeout, read).
    pub fn transport_errors(&self) -> u64 {
        self.errors.connect + self.errors.timeout + self.errors.read
    }

    /// The errors by kind as `connect 3 (reason), read 1 (reason)`, or `none`.
    pub fn errors_line(&self) -> String {
        let e = &self.errors;
        let parts: Vec<String> = [
            ("connect", e.connect),
            ("timeout", e.timeout),
            ("read", e.read),
            ("status_4xx", e.status_4xx),
            ("status_5xx", e.status_5xx),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| match self.error_reasons.get(*k) {
            Some(r) => format!(
                "{} {n} ({})",
                k.replace("status_", ""),
                crate::text::escape_str(r, crate::text::Keep::Nothing)
            ),
            None => format!("{} {n}", k.replace("status_", "")),
        })
        .collect();
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The summary for a person, like wrk's; `percentiles` adds the distribution (`--latency`).
    pub fn text(&self, percentiles: bool) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "  {} threads and {} connections ({} loop{})",
            self.threads,
            self.connections,
            self.mode,
            if self.protocol.is_empty() {
                String::new()
            } else {
                format!(", {}", self.protocol)
            }
        );
        if self.shards > 1 {
            let _ = writeln!(o, "  {} shards merged", self.shards);
        } else if let Some(s) = &self.shard {
            let _ = writeln!(o, "  shard {s}");
        }
        if let Some(r) = self.target_rate {
            let _ = writeln!(
                o,
                "  Target rate {r:.1}/s; late {}, dropped {}",
                self.late, self.dropped
            );
        }
        let mut dist = |name: &str, l: &Latency| {
            let _ = writeln!(
                o,
                "  {name:<18} mean {:>9}  stdev {:>9}  max {:>9}",
                us(l.mean_us),
                us(l.stdev_us),
                us(l.max_us as f64)
            );
            if percentiles {
                for (p, _) in PERCENTILES {
                    let v = l.percentiles.get(p).copied().unwrap_or(0);
                    let _ = writeln!(o, "    {:>7}  {:>9}", p, us(v as f64));
                }
                let _ = writeln!(o, "    {:>7}  {:>9}", "max", us(l.max_us as f64));
            }
        };
        let label = if self.target_rate.is_some() {
            "Latency (corrected)"
        } else {
            "Latency"
        };
        dist(label, &self.latency);
        if let Some(s) = &self.service {
            dist("Service time", s);
        }
        if let Some(s) = &self.lag {
            dist("Generator lag", s);
        }
        let _ = writeln!(
            o,
            "  {} requests in {:.2}s, {} read",
            self.requests,
            self.elapsed_s,
            crate::units::format_bytes(self.bytes)
        );
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(
            o,
            "  Statuses: {}",
            if statuses.is_empty() {
                "none".into()
            } else {
                statuses.join(", ")
            }
        );
        let _ = writeln!(o, "  Errors: {}", self.errors_line());
        let _ = writeln!(
            o,
            "  Connections opened: {}; generator busy {:.0} % of the run, CPU {:.2}s",
            self.connections_opened,
            self.generator_busy * 100.0,
            self.generator_cpu_s
        );
        if let Some(v) = &self.verdict {
            let _ = writeln!(o, "  Generator: {v}");
        }
        let _ = writeln!(o, "Requests/sec: {:.2}", self.rate);
        let _ = writeln!(
            o,
            "Transfer/sec: {}/s",
            crate::units::format_bytes(self.throughput_bytes_per_s as u64)
        );
        o
    }
}

/// Microseconds as `850us`, `1.23ms` or `1.50s`.
pub fn us(v: f64) -> String {
    if v < 1000.0 {
        format!("{v:.0}us")
    } else if v < 1_000_000.0 {
        format!("{:.2}ms", v / 1000.0)
    } else {
        format!("{:.2}s", v / 1_000_000.0)
    }
}

/// The percentile distribution of `h` (µs) in milliseconds, as HdrHistogram's
/// `outputPercentileDistribution` and wrk2 print it (the `.hgrm` that
/// HdrHistogram's plotter reads): five ticks per half distance.
pub fn hgrm(h: &Histogram<u64>) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / 1000.0;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(
                    o,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(o, "{value:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let ms = |v: f64| v / 1000.0;
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (ms(h.mean()), ms(h.stdev()), ms(h.max() as f64))
    };
    let _ = writeln!(o, "#[Mean    = {mean:12.3}, StdDeviation   = {stdev:12.3}]");
    let _ = writeln!(
        o,
        "#[Max     = {max:12.3}, Total count    = {:12}]",
        h.len()
    );
    let _ = writeln!(
        o,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        h.distinct_values()
    );
    o
}
