//! `--html FILE`: one self-contained page (inline SVG and CSS, no script, no
//! network): the summary, latency over time, and the percentile distribution on
//! a log scale.

use super::merge::decode_histogram;
use super::report::{PERCENTILES, Report, us};
use anyhow::Result;
use std::fmt::Write;

/// `&`, `<`, `>` and quotes escaped for HTML text and attributes.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A chart's line: its name, colour and (x, y) points.
type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

const W: f64 = 760.0;
const H: f64 = 260.0;
const PAD: f64 = 50.0;

/// An SVG line chart of `series` (name, colour, points) with labelled axes.
fn chart(
    title: &str,
    x_label: &str,
    series: &[Series<'_>],
    x_ticks: &[(f64, String)],
    log_y: bool,
) -> String {
    let pts = series.iter().flat_map(|s| s.2.iter());
    let (mut x1, mut y1): (f64, f64) = (1e-9, 1e-9);
    for (x, y) in pts {
        x1 = x1.max(*x);
        y1 = y1.max(*y);
    }
    let ymap = |y: f64| {
        let f = if log_y {
            (y.max(1.0)).log10() / y1.max(10.0).log10()
        } else {
            y / y1
        };
        H - PAD - f * (H - 2.0 * PAD)
    };
    let xmap = |x: f64| PAD + x / x1 * (W - 2.0 * PAD);
    let mut o = format!(
        "<h2>{}</h2>\n<svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\">\n",
        esc(title)
    );
    let _ = writeln!(
        o,
        "<rect x=\"{PAD}\" y=\"{PAD}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#ccc\"/>",
        W - 2.0 * PAD,
        H - 2.0 * PAD
    );
    for i in 0..=4 {
        let y = y1 * i as f64 / 4.0;
        let yv = if log_y {
            10f64.powf(y1.max(10.0).log10() * i as f64 / 4.0)
        } else {
            y
        };
        let py = ymap(yv);
        let _ = writeln!(
            o,
            "<line x1=\"{PAD}\" x2=\"{}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"#e4e4e4\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            W - PAD,
            PAD - 4.0,
            py + 4.0,
            us(yv)
        );
    }
    for (x, label) in x_ticks {
        let px = xmap(*x);
        let _ = writeln!(
            o,
            "<text x=\"{px:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            H - PAD + 16.0,
            esc(label)
        );
    }
    let _ = writeln!(
        o,
        "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
        W / 2.0,
        H - 8.0,
        esc(x_label)
    );
    for (i, (name, colour, points)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", xmap(*x), ymap(*y)))
            .collect();
        let _ = writeln!(
            o,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"{colour}\">{}</text>",
            PAD + 10.0 + 150.0 * i as f64,
            PAD - 20.0,
            esc(name)
        );
    }
    o.push_str("</svg>\n");
    o
}

/// The page for `r`.
pub fn html(r: &Report) -> Result<String> {
    let mut o = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>wirekit bench</title>\n<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}th{text-align:left}.verdict{color:#a00;font-weight:bold}</style></head><body>\n",
    );
    let _ = writeln!(o, "<h1>wirekit bench: {}</h1>", esc(&r.url));
    let _ = writeln!(
        o,
        "<p>{} loop, {}, {} threads, {} connections, started {}{}</p>",
        esc(&r.mode),
        esc(&r.protocol),
        r.threads,
        r.connections,
        esc(&r.started_at),
        if r.shards > 1 {
            format!(", {} shards merged", r.shards)
        } else {
            String::new()
        }
    );
    if let Some(v) = &r.verdict {
        let _ = writeln!(o, "<p class=\"verdict\">{}</p>", esc(v));
    }
    o.push_str("<table>\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    };
    row("requests", r.requests.to_string());
    row("elapsed", format!("{:.2} s", r.elapsed_s));
    row("requests/s", format!("{:.2}", r.rate));
    if let Some(t) = r.target_rate {
        row(
            "target rate",
            format!("{t:.1}/s (late {}, dropped {})", r.late, r.dropped),
        );
    }
    row("bytes read", crate::units::format_bytes(r.bytes));
    row("errors", r.errors_line());
    row(
        "latency mean / stdev / max",
        format!(
            "{} / {} / {}",
            us(r.latency.mean_us),
            us(r.latency.stdev_us),
            us(r.latency.max_us as f64)
        ),
    );
    for (p, _) in PERCENTILES {
        row(
            &format!("latency {p}"),
            us(r.latency.percentiles.get(p).copied().unwrap_or(0) as f64),
        );
    }
    o.push_str("</table>\n");
    // Latency over time: each second's mean and max.
    let mean: Vec<(f64, f64)> = r
        .timeline
        .iter()
        .enumerate()
        .filter(|(_, s)| s.responses > 0)
        .map(|(i, s)| (i as f64, s.latency_sum_us as f64 / s.responses as f64))
        .collect();
    let max: Vec<(f64, f64)> = r
        .timeline
        .iter()
        .enumerate()
        .filter(|(_, s)| s.responses > 0)
        .map(|(i, s)| (i as f64, s.latency_max_us as f64))
        .collect();
    let secs = r.timeline.len().max(1) as f64;
    let ticks: Vec<(f64, String)> = (0..=4)
        .map(|i| {
            (
                secs * i as f64 / 4.0,
                format!("{:.0}s", secs * i as f64 / 4.0),
            )
        })
        .collect();
    o.push_str(&chart(
        "Latency over time",
        "seconds since the start",
        &[
            ("mean per second", "#1f77b4", mean),
            ("max per second", "#d62728", max),
        ],
        &ticks,
        true,
    ));
    // Percentile distribution, x = log10(1 / (1 - p)).
    let mut dist = Vec::new();
    for (name, colour, l) in [
        ("corrected latency", "#1f77b4", Some(&r.latency)),
        ("service time", "#2ca02c", r.service.as_ref()),
    ] {
        let Some(l) = l else { continue };
        let h = decode_histogram(&l.histogram)?;
        if h.is_empty() {
            continue;
        }
        let pts: Vec<(f64, f64)> = h
            .iter_quantiles(5)
            .filter(|v| v.quantile_iterated_to() < 0.99999)
            .map(|v| {
                (
                    (1.0 / (1.0 - v.quantile_iterated_to())).log10(),
                    v.value_iterated_to() as f64,
                )
            })
            .collect();
        dist.push((name, colour, pts));
    }
    let pticks: Vec<(f64, String)> = ["0%", "90%", "99%", "99.9%", "99.99%"]
        .iter()
        .enumerate()
        .map(|(i, l)| (i as f64, l.to_string()))
        .collect();
    o.push_str(&chart(
        "Percentile distribution",
        "percentile (log scale)",
        &dist,
        &pticks,
        true,
    ));
    o.push_str("<p>Made by wirekit bench; the histograms are in the --json report (HdrHistogram V2).</p>\n</body></html>\n");
    Ok(o)
}
