//! `wirekit bench`: an HTTP load generator (wrk, wrk2, oha).

use ::http::header::{HeaderName, HeaderValue};
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;
use wirekit::units::parse_duration;

/// Load-test an HTTP server: a closed loop like wrk, or an open loop at a fixed rate
/// (-R) with coordinated omission corrected, like wrk2; HDR latency percentiles.
#[derive(Debug, Args)]
#[command(after_help = "\
Closed loop (default): every connection sends its next request as soon as the answer
arrives. Open loop (-R): requests follow one schedule of intended send times; latency is
measured from the intended time, so a server stall shows in the percentiles.
Errors are counted by kind: connect, timeout, read, 4xx, 5xx.
Exit codes: 0 done, 1 some requests failed to get an answer (connect, timeout, read;
the reason is on stderr), 2 bad usage.")]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BenchArgs {
    /// `bench merge`.
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    /// The URL to load, http:// or https://.
    #[arg(value_name = "URL", required_unless_present_any = ["urls", "targets"], conflicts_with_all = ["urls", "targets"])]
    pub url: Option<String>,
    /// Load many URLs round-robin: one per line in FILE (same scheme, host and port).
    #[arg(long, value_name = "FILE", conflicts_with = "targets")]
    pub urls: Option<PathBuf>,
    /// A vegeta-style targets FILE: blocks of 'METHOD URL', 'Name: value' lines and an optional '@body-file', round-robin.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// Connections to keep open (the closed loop's concurrency; the open loop's starting pool).
    #[arg(short = 'c', long, value_name = "N", default_value_t = 64)]
    pub connections: usize,
    /// How long to run (default 10s unless -n).
    #[arg(short = 'd', long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// Send exactly N requests, then stop.
    #[arg(short = 'n', long, value_name = "N")]
    pub requests: Option<u64>,
    /// Generator threads, each with its own event loop (default: all cores).
    #[arg(short = 't', long, value_name = "N")]
    pub threads: Option<usize>,
    /// HTTP method.
    #[arg(short = 'X', long, value_name = "METHOD", default_value = "GET")]
    pub method: String,
    /// Extra request header 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = wirekit::http::header::line)]
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Request body.
    #[arg(long, value_name = "TEXT", conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Request body from FILE.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// HTTP/2: h2c with prior knowledge on http://, ALPN h2 on https://.
    #[arg(long)]
    pub h2: bool,
    /// HTTP/2: concurrent streams per connection (like h2load -m).
    #[arg(
        short = 'm',
        long,
        value_name = "N",
        default_value_t = 1,
        requires = "h2"
    )]
    pub streams: usize,
    /// Per request, from the send to the end of the answer (also bounds connecting).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Open loop: RATE requests per second on one schedule, coordinated omission corrected.
    #[arg(short = 'R', long, value_name = "RATE")]
    pub rate: Option<f64>,
    /// Open loop arrivals: evenly spaced or a Poisson process.
    #[arg(long, value_enum, default_value_t = ArrivalArg::Constant)]
    pub arrival: ArrivalArg,
    /// Open loop stages DURATION:RATE,... ramping from the previous rate (from -R, else 0), e.g. 10s:1000,30s:5000,10s:0.
    #[arg(long, value_name = "STAGES", value_parser = parse_stages, conflicts_with_all = ["duration", "requests"])]
    pub stages: Option<Stages>,
    /// Open loop: the most connections the pool grows to when every connection is busy.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_conns: usize,
    /// Open loop: a request not sent within DURATION of its intended time is dropped (and counted).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub drop_after: Duration,
    /// Print the latency percentiles (p50, p75, p90, p99, p99.9, p99.99, max).
    #[arg(long)]
    pub latency: bool,
    /// Raise the open-loop rate step by step (from -R, by --rate-step, each step -d long) until --slo fails; report the knee.
    // Each step's verdict is one machine's: no shards. Its report is every step's
    // figures (--json), not one run's page or distribution: no --html, --hgrm.
    #[arg(long, requires = "slo", conflicts_with_all = ["stages", "requests", "html", "hgrm", "shard", "shards"])]
    pub find_max_rate: bool,
    /// The objective for --find-max-rate: FIGURE<DURATION on the corrected latency, e.g. 'p99<10ms'.
    #[arg(long, value_name = "SLO", value_parser = wirekit::bench::parse_slo, requires = "find_max_rate")]
    pub slo: Option<wirekit::bench::Slo>,
    /// --find-max-rate: how much each step adds to the rate (default: the start rate).
    #[arg(long, value_name = "RATE")]
    pub rate_step: Option<f64>,
    /// --find-max-rate: the most steps.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_steps: usize,
    /// Write one self-contained HTML page to FILE: the summary, latency over time, the percentile distribution.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the latency percentile distribution to FILE (HdrHistogram's .hgrm, as wrk2 prints it; in ms).
    #[arg(long, value_name = "FILE")]
    pub hgrm: Option<PathBuf>,
    /// Print the report as one JSON object (with the V2 base64 HdrHistograms) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also trust the CA certificate(s) in FILE (PEM) for https:// targets.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Do not verify an https:// server's certificate (for testing only; a warning goes to stderr).
    #[arg(long)]
    pub insecure: bool,
    /// Accept exactly the https:// server certificate with this SHA-256 fingerprint (sha256:HEX, colons allowed), no CA needed; its dates and name are still checked.
    #[arg(long, value_name = "sha256:HEX", conflicts_with = "insecure", value_parser = wirekit::tls::Pin::parse)]
    pub pin: Option<wirekit::tls::Pin>,
    /// Run as shard I of N (1-based): take 1/N of the connections, rate and request count.
    #[arg(long, value_name = "I/N", value_parser = wirekit::bench::parse_shard, conflicts_with = "shards")]
    pub shard: Option<(usize, usize)>,
    /// Run as one of N shards, the index from JOB_COMPLETION_INDEX (0-based; a Kubernetes Indexed Job sets it).
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// The shard index for --shards (0-based).
    #[arg(
        long,
        env = "JOB_COMPLETION_INDEX",
        hide = true,
        hide_env_values = true
    )]
    pub job_completion_index: Option<String>,
    /// Start at this time (RFC 3339, e.g. 2026-12-01T10:00:00Z), so that every shard starts together.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub start_at: Option<std::time::SystemTime>,
}

/// `bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Merge shards' --json reports into one, exactly (histograms added, counts and rates summed).
    Merge(BenchMergeArgs),
}

/// `wirekit bench merge a.json b.json ...`
#[derive(Debug, Args)]
pub struct BenchMergeArgs {
    /// The --json reports of the shards.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Print the merged report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the merged report as one self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the merged latency distribution to FILE (.hgrm, in ms).
    #[arg(long, value_name = "FILE")]
    pub hgrm: Option<PathBuf>,
    /// Print the latency percentiles.
    #[arg(long)]
    pub latency: bool,
}

/// `--stages`: one value holding every stage (a bare `Vec` would make clap expect many values).
#[derive(Debug, Clone)]
pub struct Stages(pub Vec<wirekit::bench::Stage>);

fn parse_stages(text: &str) -> Result<Stages, String> {
    wirekit::bench::parse_stages(text).map(Stages)
}

/// An RFC 3339 time with any offset.
fn parse_time(text: &str) -> Result<std::time::SystemTime, String> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .map(std::time::SystemTime::from)
        .map_err(|_| {
            format!("'{text}' is not an RFC 3339 time; write it like 2026-12-01T10:00:00Z")
        })
}

/// `--arrival`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
// Variant doc comments would become possible-value help and change `--help`.
#[allow(missing_docs)]
pub enum ArrivalArg {
    Constant,
    Poisson,
}
