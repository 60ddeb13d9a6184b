//! `wirekit fetch`: many URLs at once, bounded and pooled (the seed's aiohttp + gather).

use super::http::ClientArgs;
use ::http::header::{HeaderName, HeaderValue};
use clap::Args;
use std::path::PathBuf;

/// The most requests `-j` and `--per-host` allow in flight: far beyond what one machine's
/// file descriptors carry, and far below what the semaphores behind them can count.
pub const MAX_IN_FLIGHT: usize = 100_000;

/// `-j N`, `--per-host N`: 1 to [`MAX_IN_FLIGHT`].
pub(crate) fn in_flight(text: &str) -> Result<usize, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_IN_FLIGHT as u64).contains(&n) => Ok(n as usize),
        Ok(_) => Err(format!(
            "'{text}' is out of range; give a number of requests from 1 to {MAX_IN_FLIGHT}"
        )),
        Err(_) => Err(format!(
            "'{text}' is not a count; give a number of requests from 1 to {MAX_IN_FLIGHT}"
        )),
    }
}

/// Fetch many URLs concurrently; one JSON line per URL on stdout, a summary on stderr.
#[derive(Debug, Args)]
#[command(after_help = "\
Each stdout line: {\"url\",\"status\",\"bytes\",\"ms\",\"attempts\",\"error\"}, written (and
flushed) as its URL completes: completion order, not input order.
A URL fails on a connection error, a timeout, or a 4xx/5xx answer. Every request has a total
limit of 5m (connect, send, whole body) unless --timeout sets another.
SIGINT/SIGTERM: no more URLs start; those in flight are cut and get a line with
\"error\":\"interrupted\",\"interrupted\":true (--resume fetches them again); then the summary.
Exit codes: 0 every URL succeeded, 1 some failed (the count is on stderr), 2 bad usage,
130 stopped by SIGINT, 143 stopped by SIGTERM.")]
pub struct FetchArgs {
    /// URLs to fetch (else read one per line from -i FILE or stdin).
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
    /// Read URLs from FILE, one per line ('-' for stdin); blank lines and #comments skipped.
    #[arg(short = 'i', long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 50, value_parser = in_flight)]
    pub jobs: usize,
    /// Most connections in flight to one host:port (default: -j).
    #[arg(long, value_name = "N", value_parser = in_flight)]
    pub per_host: Option<usize>,
    /// HTTP method.
    #[arg(short = 'X', long, value_name = "METHOD", default_value = "GET")]
    pub method: String,
    /// Extra request header 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = wirekit::http::header::line)]
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Save each body under DIR (file named after the URL) and add "file" to its line.
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Skip the URLs that already have a line in FILE (an earlier run's output), to continue
    /// an interrupted run: wirekit fetch -i urls.txt --resume out.jsonl >> out.jsonl
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// Write the summary on stderr as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Timeouts, retries, redirects, TLS and proxies, as for `wirekit http`.
    #[command(flatten)]
    pub client: ClientArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any number is taken exactly when it is in 1..=MAX_IN_FLIGHT; any text, never a panic.
        #[test]
        fn in_flight_counts_are_bounded(n in any::<u64>()) {
            let got = in_flight(&n.to_string());
            if (1..=MAX_IN_FLIGHT as u64).contains(&n) {
                prop_assert_eq!(got, Ok(n as usize));
            } else {
                let e = got.expect_err("out of range");
                prop_assert!(e.contains(&format!("'{n}'")) && e.contains("1 to 100000"), "{}", e);
            }
        }

        #[test]
        fn in_flight_edges(n in 0u64..200_000) {
            prop_assert_eq!(in_flight(&n.to_string()).is_ok(), (1..=100_000).contains(&n));
        }

        #[test]
        fn in_flight_never_panics(text in "\\PC{0,24}") {
            let _ = in_flight(&text);
        }
    }
}
