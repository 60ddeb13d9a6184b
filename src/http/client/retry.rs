//! The one retry mechanism of every HTTP client command (`http`, `fetch`): exponential
//! backoff with jitter on connection errors, timeouts, 408, 429 and 5xx; Retry-After honoured;
//! non-idempotent methods only with `retry_all`.

use crate::http::client::errors::{Target, describe_error, status_text};
use reqwest::{Client, Method, Request, Response, StatusCode};
use std::time::{Duration, Instant, SystemTime};

/// When and how often to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: none).
    pub retries: u32,
    /// Wait before the first retry; doubles each time (with jitter).
    pub delay: Duration,
    /// No retry starts after this much time since the first attempt.
    pub max_time: Option<Duration>,
    /// Retry POST and PATCH too.
    pub retry_all: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 0,
            delay: Duration::from_secs(1),
            max_time: None,
            retry_all: false,
        }
    }
}

impl RetryPolicy {
    /// Whether requests with this method may be retried.
    pub fn allows(&self, method: &Method) -> bool {
        self.retry_all
            || matches!(
                *method,
                Method::GET
                    | Method::HEAD
                    | Method::OPTIONS
                    | Method::TRACE
                    | Method::PUT
                    | Method::DELETE
            )
    }

    /// The wait before retry number `n` (1-based): delay * 2^(n-1), between half and all of it.
    pub fn backoff(&self, n: u32) -> Duration {
        let base = self.delay.as_secs_f64() * 2f64.powi(n.saturating_sub(1).min(20) as i32);
        let capped = base.min(120.0);
        Duration::from_secs_f64(capped * (0.5 + fastrand::f64() * 0.5))
    }
}

/// Whether an answer asks to be retried.
pub(crate) fn retryable_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// Whether a failed send may succeed when tried again (connection trouble or a timeout).
pub(crate) fn retryable_error(e: &reqwest::Error) -> bool {
    !(e.is_builder() || e.is_redirect() || e.is_status() || e.is_decode())
        && (e.is_connect() || e.is_timeout() || e.is_request() || e.is_body())
}

/// The wait a Retry-After header asks for: seconds or an HTTP date.
pub(crate) fn retry_after(resp: &Response) -> Option<Duration> {
    let value = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(3600)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(3600)),
    )
}

/// A retry about to happen, for whoever wants to tell the user.
#[derive(Debug)]
pub struct RetryEvent<'a> {
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// Why: "503 Service Unavailable" or the error.
    pub reason: String,
    /// How long until the next attempt.
    pub wait: Duration,
    /// Retries left, the one about to start included.
    pub retries_left: u32,
    /// The URL being retried.
    pub url: &'a reqwest::Url,
}

impl RetryEvent<'_> {
    /// Tell the user on stderr (unless `quiet`), as `http` and downloads do.
    pub fn announce(&self, quiet: bool) {
        if !quiet {
            eprintln!(
                "wirekit: attempt {} failed ({}); retrying in {:.1}s ({} retries left)",
                self.attempt,
                self.reason,
                self.wait.as_secs_f64(),
                self.retries_left
            );
        }
    }
}

/// The outcome of `send`: the last response or error, and how many attempts were made.
pub struct Sent {
    /// The last answer or error.
    pub result: Result<Response, reqwest::Error>,
    /// Attempts made, the first included.
    pub attempts: u32,
}

/// Send `request` (its body must be clonable: bytes, not a stream), retrying by `policy`.
pub async fn send(
    client: &Client,
    request: Request,
    policy: &RetryPolicy,
    mut on_retry: impl FnMut(&RetryEvent<'_>),
) -> Sent {
    let started = Instant::now();
    let target = Target::of(&request);
    let may_retry = policy.retries > 0 && policy.allows(request.method());
    let mut attempt = 0u32;
    let mut current = request;
    loop {
        attempt += 1;
        let next = if may_retry && attempt <= policy.retries {
            current.try_clone()
        } else {
            None
        };
        let url = next.as_ref().map(|n| n.url().clone());
        let result = client.execute(current).await;
        let (reason, asked) = match &result {
            Ok(resp) if retryable_status(resp.status()) => {
                (status_text(resp.status()), retry_after(resp))
            }
            Ok(_) => {
                return Sent {
                    result,
                    attempts: attempt,
                };
            }
            Err(e) if retryable_error(e) => (describe_error(e, &target), None),
            Err(_) => {
                return Sent {
                    result,
                    attempts: attempt,
                };
            }
        };
        let (Some(next), Some(url)) = (next, url) else {
            return Sent {
                result,
                attempts: attempt,
            };
        };
        let wait = asked.unwrap_or_else(|| policy.backoff(attempt));
        if let Some(max) = policy.max_time
            && started.elapsed() + wait > max
        {
            return Sent {
                result,
                attempts: attempt,
            };
        }
        on_retry(&RetryEvent {
            attempt,
            reason,
            wait,
            retries_left: policy.retries + 1 - attempt,
            url: &url,
        });
        drop(result);
        tokio::time::sleep(wait).await;
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter() {
        let p = RetryPolicy {
            retries: 5,
            delay: Duration::from_millis(100),
            max_time: None,
            retry_all: false,
        };
        for n in 1..5 {
            let full = 100.0 * 2f64.powi(n as i32 - 1);
            let got = p.backoff(n).as_secs_f64() * 1000.0;
            assert!(got >= full * 0.5 - 1.0 && got <= full + 1.0, "{n}: {got}");
        }
        assert!(p.allows(&Method::GET));
        assert!(!p.allows(&Method::POST));
    }
}
