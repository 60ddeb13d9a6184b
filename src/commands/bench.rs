//! `wirekit bench`: the flags become [`BenchOptions`]; the library runs the load;
//! this file prints the report (text or JSON) and maps failed requests to exit 1.

use crate::cli::{ArrivalArg, BenchArgs, BenchCommand, BenchMergeArgs};
use anyhow::Result;
use bytes::Bytes;
use wirekit::bench::{Arrival, BenchOptions, OpenLoop, Stop};
use wirekit::error::{exit_with, usage};
use wirekit::tls::{TlsClient, TlsClientOptions};

/// `--body` or `--body-file`.
fn body(a: &BenchArgs) -> Result<Bytes> {
    Ok(match (&a.body, &a.body_file) {
        (Some(t), _) => Bytes::from(t.clone()),
        (None, Some(p)) => Bytes::from(std::fs::read(p).map_err(|e| {
            usage(format!(
                "--body-file: cannot read '{}': {}",
                p.display(),
                wirekit::http::client::errors::io_reason(&e)
            ))
        })?),
        (None, None) => Bytes::new(),
    })
}

/// The library's options for `a`, or a usage error naming the bad flag.
fn options(a: &BenchArgs) -> Result<BenchOptions> {
    let method = http::Method::from_bytes(a.method.as_bytes()).map_err(|_| {
        usage(format!(
            "-X '{}' is not an HTTP method; write it like GET or POST",
            a.method
        ))
    })?;
    let body = body(a)?;
    let read = |flag: &str, p: &std::path::Path| {
        std::fs::read_to_string(p).map_err(|e| {
            usage(format!(
                "{flag}: cannot read '{}': {}",
                p.display(),
                wirekit::http::client::errors::io_reason(&e)
            ))
        })
    };
    let targets = match (&a.urls, &a.targets) {
        (Some(p), _) => wirekit::bench::parse_urls(
            &read("--urls", p)?,
            &p.display().to_string(),
            &method,
            &a.headers,
            &body,
        )
        .map_err(usage)?,
        (None, Some(p)) => {
            let dir = p.parent().unwrap_or(std::path::Path::new("."));
            wirekit::bench::parse_targets(&read("--targets", p)?, &p.display().to_string(), dir)
                .map_err(usage)?
        }
        (None, None) => Vec::new(),
    };
    let text = match targets.first() {
        Some(t) => t.url.to_string(),
        None => a.url.clone().unwrap_or_default(),
    };
    let url = url::Url::parse(&text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
        .ok_or_else(|| {
            usage(format!(
                "'{}' is not an http:// or https:// URL with a host; write it like http://127.0.0.1:8000/",
                text
            ))
        })?;
    if a.connections == 0 {
        return Err(usage(
            "-c 0: a run needs at least one connection; give -c 1 or more",
        ));
    }
    if a.threads == Some(0) {
        return Err(usage(
            "-t 0: a run needs at least one thread; give -t 1 or more",
        ));
    }
    if a.requests == Some(0) {
        return Err(usage("-n 0: nothing to send; give -n 1 or more"));
    }
    if a.duration.is_some_and(|d| d.is_zero()) {
        return Err(usage(
            "-d 0: the run would end at once; give a duration like -d 10s",
        ));
    }
    if let Some(r) = a.rate
        && !(r.is_finite() && r > 0.0)
    {
        return Err(usage(format!(
            "-R {r}: the rate must be a number of requests per second above 0, like -R 1000"
        )));
    }
    if a.max_conns == 0 {
        return Err(usage(
            "--max-conns 0: the pool needs at least one connection",
        ));
    }
    if a.stages.is_some() && a.rate.is_none() && a.max_conns < a.connections {
        return Err(usage("--max-conns must be at least -c"));
    }
    let tls = if url.scheme() == "https" {
        let opts = TlsClientOptions {
            cacert: a.cacert.clone(),
            insecure: a.insecure,
            pin: a.pin,
            ..Default::default()
        };
        Some(
            TlsClient::new(&opts, if a.h2 { &["h2"] } else { &["http/1.1"] })
                .map_err(|e| usage(wirekit::error::one_line(&e)))?,
        )
    } else {
        None
    };
    let origin = url.origin();
    if let Some(t) = targets.iter().find(|t| t.url.origin() != origin) {
        return Err(usage(format!(
            "{} is not on {}; one run loads one scheme, host and port (run one bench per host)",
            t.url,
            origin.ascii_serialization()
        )));
    }
    let mut o = BenchOptions::new(url);
    o.targets = targets;
    o.method = method;
    o.headers = a.headers.clone();
    o.body = body;
    o.connections = a.connections;
    if let Some(t) = a.threads {
        o.threads = t;
    }
    o.stop = match (a.requests, a.duration) {
        (Some(n), _) => Stop::Requests(n),
        (None, Some(d)) => Stop::Duration(d),
        (None, None) => Stop::Duration(std::time::Duration::from_secs(10)),
    };
    o.timeout = a.timeout;
    if a.streams == 0 {
        return Err(usage(
            "-m 0: a connection needs at least one stream; give -m 1 or more",
        ));
    }
    o.h2 = a.h2;
    o.streams = a.streams;
    o.tls = tls;
    if a.rate.is_some() || a.stages.is_some() {
        o.open = Some(OpenLoop {
            rate: a.rate.unwrap_or(0.0),
            stages: a.stages.clone().map(|s| s.0).unwrap_or_default(),
            arrival: match a.arrival {
                ArrivalArg::Constant => Arrival::Constant,
                ArrivalArg::Poisson => Arrival::Poisson,
            },
            max_conns: a.max_conns,
            drop_after: a.drop_after,
        });
    }
    o.start_at = a.start_at;
    if let Some((i, n)) = a.shard {
        o.take_share(i, n);
    } else if let Some(n) = a.shards {
        let index = a.job_completion_index.as_deref().ok_or_else(|| {
            usage("--shards needs JOB_COMPLETION_INDEX (a Kubernetes Indexed Job sets it); else give --shard I/N")
        })?;
        let i: usize = index
            .trim()
            .parse()
            .ok()
            .filter(|i| *i < n)
            .ok_or_else(|| {
                usage(format!(
                    "JOB_COMPLETION_INDEX '{index}' is not a shard index from 0 to {}",
                    n.saturating_sub(1)
                ))
            })?;
        o.take_share(i, n);
    }
    Ok(o)
}

/// `--find-max-rate`: every step's line as it ends, then the knee; exit 1 when
/// not even the first step met the SLO.
fn find(a: &BenchArgs, mut o: BenchOptions, slo: wirekit::bench::Slo) -> Result<()> {
    let start = a.rate.unwrap_or(1000.0);
    let step = a.rate_step.unwrap_or(start);
    if !(step.is_finite() && step > 0.0) {
        return Err(usage(format!(
            "--rate-step {step}: give a rate above 0, like --rate-step 500"
        )));
    }
    if o.stop == Stop::Duration(std::time::Duration::from_secs(10)) && a.duration.is_none() {
        o.stop = Stop::Duration(std::time::Duration::from_secs(5));
    }
    if !a.json {
        println!(
            "Finding the max rate @ {} ({} per step, SLO {})",
            o.url,
            match o.stop {
                Stop::Duration(d) => humantime::format_duration(d).to_string(),
                Stop::Requests(n) => format!("{n} requests"),
            },
            slo.text
        );
    }
    let live = !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let found = wirekit::bench::find_max_rate(&o, &slo, start, step, a.max_steps, |s| {
        if live {
            eprintln!(
                "  step {:.1} req/s: achieved {:.1}, {} {}, {}",
                s.rate,
                s.report.rate,
                slo.figure,
                wirekit::bench::us(slo.value(&s.report) as f64),
                if s.met { "met" } else { "FAILED" }
            );
        }
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        print!("{}", found.text());
    }
    if found.knee.is_none() {
        return Err(exit_with(
            1,
            format!(
                "no tested rate met {} (the first step, {start:.1} req/s, failed)",
                slo.text
            ),
        ));
    }
    Ok(())
}

/// `--html FILE`: the page of `report`.
fn write_html(path: &std::path::Path, report: &wirekit::bench::Report) -> Result<()> {
    std::fs::write(path, wirekit::bench::html(report)?).map_err(|e| {
        anyhow::anyhow!(
            "--html: cannot write '{}': {}",
            path.display(),
            wirekit::http::client::errors::io_reason(&e)
        )
    })
}

/// `--hgrm FILE`: the latency distribution of `report`.
fn write_hgrm(path: &std::path::Path, report: &wirekit::bench::Report) -> Result<()> {
    let h = wirekit::bench::decode_histogram(&report.latency.histogram)?;
    std::fs::write(path, wirekit::bench::hgrm(&h)).map_err(|e| {
        anyhow::anyhow!(
            "--hgrm: cannot write '{}': {}",
            path.display(),
            wirekit::http::client::errors::io_reason(&e)
        )
    })
}

/// `bench merge`: read the reports, merge them, print one.
fn merge(m: &BenchMergeArgs) -> Result<()> {
    let mut reports = Vec::new();
    for f in &m.files {
        let text = std::fs::read_to_string(f).map_err(|e| {
            usage(format!(
                "cannot read '{}': {}",
                f.display(),
                wirekit::http::client::errors::io_reason(&e)
            ))
        })?;
        let r: wirekit::bench::Report = serde_json::from_str(&text).map_err(|e| {
            usage(format!(
                "'{}' is not a `wirekit bench --json` report: {e}",
                f.display()
            ))
        })?;
        reports.push(r);
    }
    let merged = wirekit::bench::merge(&reports)?;
    if let Some(path) = &m.hgrm {
        write_hgrm(path, &merged)?;
    }
    if let Some(path) = &m.html {
        write_html(path, &merged)?;
    }
    if m.json {
        println!("{}", serde_json::to_string_pretty(&merged)?);
    } else {
        println!("Merged {} reports @ {}", reports.len(), merged.url);
        print!("{}", merged.text(m.latency));
    }
    Ok(())
}

/// On a terminal (stderr, and not -q): a line with the rate, errors and p99 so far.
fn live_progress(
    o: &mut BenchOptions,
    quiet: bool,
) -> Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)> {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let progress = std::sync::Arc::new(wirekit::bench::Progress::default());
    o.progress = Some(progress.clone());
    let bar = match o.stop {
        Stop::Requests(n) => indicatif::ProgressBar::new(n),
        Stop::Duration(_) => indicatif::ProgressBar::new_spinner(),
    };
    let style = indicatif::ProgressStyle::with_template("{elapsed_precise} {bar:30} {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    let shown = bar.clone();
    let started = std::time::Instant::now();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            tick.tick().await;
            let (answers, errors, p99) = progress.snapshot();
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            shown.set_position(answers + errors);
            shown.set_message(format!(
                "{answers} answers, {:.0} req/s, {errors} errors, p99 {}",
                answers as f64 / secs,
                wirekit::bench::us(p99 as f64)
            ));
        }
    });
    Some((bar, task))
}

/// Run `wirekit bench`.
pub async fn run(a: &BenchArgs, quiet: bool) -> Result<()> {
    if let Some(BenchCommand::Merge(m)) = &a.command {
        return merge(m);
    }
    let o = options(a)?;
    let head = match (o.stop, &o.open) {
        (_, Some(ol)) if !ol.stages.is_empty() => format!("Running staged open loop @ {}", o.url),
        (Stop::Duration(d), _) => {
            format!("Running {} test @ {}", humantime::format_duration(d), o.url)
        }
        (Stop::Requests(n), _) => format!("Running {n} requests @ {}", o.url),
    };
    if let (true, Some(slo)) = (a.find_max_rate, &a.slo) {
        return find(a, o, slo.clone());
    }
    let mut o = o;
    let bar = live_progress(&mut o, quiet);
    let report = tokio::task::spawn_blocking(move || wirekit::bench::run(&o)).await?;
    if let Some((bar, task)) = bar {
        task.abort();
        bar.finish_and_clear();
    }
    let report = report?;
    if let Some(path) = &a.hgrm {
        write_hgrm(path, &report)?;
    }
    if let Some(path) = &a.html {
        write_html(path, &report)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{head}");
        print!("{}", report.text(a.latency));
    }
    let failed = report.transport_errors();
    if failed > 0 {
        return Err(exit_with(
            1,
            format!(
                "{failed} of {} requests got no answer: {}",
                report.requests,
                report.errors_line()
            ),
        ));
    }
    Ok(())
}
