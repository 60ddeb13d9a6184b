//! One exchange of `wirekit http`: print the request, send it (with retries), print the
//! response head, body and meta as asked.

use crate::http::client::errors::{Target, describe_error};
use crate::http::client::print::{Parts, Printer};
use crate::http::client::retry::{self, RetryPolicy};
use anyhow::{Result, anyhow};
use reqwest::{Client, Request, StatusCode};
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How an exchange is sent and shown; `Default`: print nothing, no retries.
#[derive(Debug, Clone, Default)]
pub struct ExchangeOptions {
    /// What to print.
    pub parts: Parts,
    /// How to print it.
    pub printer: Printer,
    /// When to retry.
    pub retry: RetryPolicy,
    /// No retry notices on stderr.
    pub quiet: bool,
}

/// Print the request parts `parts` asks for; whether anything was written.
pub fn print_request(
    out: &mut impl Write,
    printer: &Printer,
    request: &Request,
    parts: Parts,
) -> Result<bool> {
    if !(parts.req_head || parts.req_body) {
        return Ok(false);
    }
    printer.request(out, request, parts)?;
    Ok(true)
}

/// Send `request` and print the answer to `out` (after the request parts, if `written`).
/// Returns the final status; a failed request or body is an error that names the host.
pub async fn send(
    client: &Client,
    request: Request,
    o: &ExchangeOptions,
    out: &mut impl Write,
    mut written: bool,
) -> Result<StatusCode> {
    let (parts, printer) = (o.parts, &o.printer);
    let started = Instant::now();
    let quiet = o.quiet;
    let target = Target::of(&request);
    let sent = retry::send(client, request, &o.retry, |ev| ev.announce(quiet)).await;
    let attempts = sent.attempts;
    let resp = sent
        .result
        .map_err(|e| anyhow!(describe_error(&e, &target)))?;
    let headers_at = started.elapsed();
    let status = resp.status();
    if parts.resp_head {
        if written && parts.req_body {
            out.write_all(b"\n\n").ok();
        } else if written {
            out.write_all(b"\n").ok();
        }
        printer.response_head(out, &resp)?;
        written = true;
    }
    let remote = resp.remote_addr();
    let body_bytes = if parts.resp_body {
        if written && parts.resp_head {
            out.write_all(b"\n").ok();
        }
        printer.response_body(out, resp, &target).await?
    } else {
        // Read the body anyway so that sizes and errors are known (and the connection reused).
        let mut resp = resp;
        let mut n = 0u64;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| anyhow!(describe_error(&e, &target)))?
        {
            n += chunk.len() as u64;
        }
        n
    };
    if parts.meta {
        let meta = Meta {
            total: started.elapsed(),
            headers_at,
            attempts,
            body_bytes,
            remote,
        };
        out.write_all(meta.text().as_bytes()).ok();
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow!("cannot write to stdout: {e}"))
        }
        _ => Ok(status),
    }
}

/// What `-p m` shows after the exchange.
struct Meta {
    total: Duration,
    headers_at: Duration,
    attempts: u32,
    body_bytes: u64,
    remote: Option<SocketAddr>,
}

impl Meta {
    fn text(&self) -> String {
        format!(
            "\n\nElapsed time: {:.4}s\nTime to headers: {:.4}s\nAttempts: {}\nResponse size: {} B\nRemote address: {}\n",
            self.total.as_secs_f64(),
            self.headers_at.as_secs_f64(),
            self.attempts,
            self.body_bytes,
            self.remote
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into())
        )
    }
}
