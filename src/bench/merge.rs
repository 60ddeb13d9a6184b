//! `bench merge`: many shards' JSON reports into one, exactly: histograms added
//! (never percentiles averaged), counts and rates summed, timelines aligned on
//! each shard's start time.

use super::report::Report;
use super::stats::{self, ErrorKind, Stats};
use anyhow::{Context, Result, bail};
use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use std::time::Duration;

/// Decode a V2 (compressed or not) base64 histogram.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .context("the histogram is not base64")?;
    Deserializer::new()
        .deserialize(&mut raw.as_slice())
        .map_err(|e| anyhow::anyhow!("the histogram is not an HdrHistogram V2 encoding: {e:?}"))
}

/// The counts of `r`, its timeline shifted by `shift` seconds.
fn stats_of(r: &Report, shift: usize, template: &Histogram<u64>) -> Result<Stats> {
    let mut s = Stats::new(template);
    let add = |into: &mut Histogram<u64>, text: &str| -> Result<()> {
        into.add(decode_histogram(text)?)
            .map_err(|e| anyhow::anyhow!("cannot add a histogram: {e:?}"))
    };
    add(&mut s.latency, &r.latency.histogram)?;
    if let Some(l) = &r.service {
        add(&mut s.service, &l.histogram)?;
    }
    if let Some(l) = &r.lag {
        add(&mut s.lag, &l.histogram)?;
    }
    s.responses = r.responses;
    let e = &r.errors;
    s.errors = [e.connect, e.timeout, e.read, e.status_4xx, e.status_5xx];
    for (i, k) in ErrorKind::ALL.iter().enumerate() {
        s.reasons[i] = r.error_reasons.get(k.name()).cloned();
    }
    for (code, n) in &r.statuses {
        let code: u16 = code
            .parse()
            .with_context(|| format!("status '{code}' is not a number"))?;
        *s.statuses.entry(code).or_default() += n;
    }
    s.late = r.late;
    s.dropped = r.dropped;
    s.bytes = r.bytes;
    s.timeline = vec![Default::default(); shift];
    s.timeline.extend_from_slice(&r.timeline);
    s.last = Duration::from_secs(shift as u64)
        + Duration::try_from_secs_f64(r.elapsed_s).unwrap_or_default();
    Ok(s)
}

/// How far apart shards of one run may start: one day.
const MAX_START_SPREAD_MS: u64 = 24 * 3600 * 1000;

/// One report of `reports` (each a shard's `--json`), as if one generator had run them all.
pub fn merge(reports: &[Report]) -> Result<Report> {
    let Some(first) = reports.first() else {
        bail!("nothing to merge");
    };
    let template = stats::histogram()?;
    let t0 = reports.iter().map(|r| r.start_unix_ms).min().unwrap_or(0);
    let t1 = reports.iter().map(|r| r.start_unix_ms).max().unwrap_or(0);
    // Shards of one run start together (--start-at); a day apart they are not one
    // run, and the timeline padded between them would be needlessly huge.
    if t1 - t0 > MAX_START_SPREAD_MS {
        bail!(
            "these reports started {} s apart; shards of one run start together (give them the same --start-at)",
            (t1 - t0) / 1000
        );
    }
    let mut total = Stats::new(&template);
    let mut elapsed: f64 = 0.0;
    for r in reports {
        let shift_s = (r.start_unix_ms.saturating_sub(t0) as f64 / 1000.0).round();
        let s = stats_of(r, shift_s as usize, &template)?;
        elapsed = elapsed.max(shift_s + r.elapsed_s);
        total.merge(&s);
    }
    let open = reports.iter().all(|r| r.target_rate.is_some());
    let mut urls: Vec<&str> = reports.iter().map(|r| r.url.as_str()).collect();
    urls.dedup();
    let mut merged = Report::build(
        &urls.join(" "),
        reports.iter().map(|r| r.threads).sum(),
        reports.iter().map(|r| r.connections).sum(),
        open.then(|| reports.iter().filter_map(|r| r.target_rate).sum()),
        elapsed,
        &total,
    )?;
    if !open {
        merged.service = None;
        merged.lag = None;
    }
    merged.rate = reports.iter().map(|r| r.rate).sum();
    merged.throughput_bytes_per_s = reports.iter().map(|r| r.throughput_bytes_per_s).sum();
    merged.mode.clone_from(&first.mode);
    merged.start_unix_ms = t0;
    merged.started_at.clone_from(
        &reports
            .iter()
            .min_by_key(|r| r.start_unix_ms)
            .map(|r| r.started_at.clone())
            .unwrap_or_default(),
    );
    merged.shards = reports.len();
    merged.protocol.clone_from(&first.protocol);
    merged.generator_cpu_s = reports.iter().map(|r| r.generator_cpu_s).sum();
    merged.generator_busy =
        reports.iter().map(|r| r.generator_busy).sum::<f64>() / reports.len().max(1) as f64;
    merged.connections_opened = reports.iter().map(|r| r.connections_opened).sum();
    let verdicts: Vec<String> = reports
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let v = r.verdict.as_ref()?;
            Some(format!(
                "shard {}: {v}",
                r.shard.clone().unwrap_or_else(|| (i + 1).to_string())
            ))
        })
        .collect();
    merged.verdict = (!verdicts.is_empty()).then(|| verdicts.join("; "));
    Ok(merged)
}
