//! What each connection counts while it runs, merged per thread and then for
//! the whole run: latency histograms, errors by kind, statuses, bytes, a timeline.

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// The largest latency a histogram holds: one hour, in microseconds.
const HIGHEST_US: u64 = 3_600_000_000;

/// An empty latency histogram in microseconds (1 µs to 1 h), 3 significant digits;
/// the template that [`Stats::new`] copies.
pub(crate) fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, HIGHEST_US, 3)
        .map_err(|e| anyhow::anyhow!("cannot make a latency histogram: {e:?}"))
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No connection: refused, unreachable, TLS handshake failed.
    Connect,
    /// No complete answer within `--timeout`.
    Timeout,
    /// The connection broke or the answer was malformed.
    Read,
    /// An answer with a 4xx status.
    Status4xx,
    /// An answer with a 5xx status.
    Status5xx,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Read,
        ErrorKind::Status4xx,
        ErrorKind::Status5xx,
    ];

    /// The name in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Read => "read",
            ErrorKind::Status4xx => "status_4xx",
            ErrorKind::Status5xx => "status_5xx",
        }
    }
}

/// One second of the run: answers, errors and the worst latency completed in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Second {
    /// Answers received (any status).
    pub responses: u64,
    /// Failed requests of every kind.
    pub errors: u64,
    /// Sum of the answers' latencies in microseconds (mean = sum / responses).
    pub latency_sum_us: u64,
    /// The largest latency, in microseconds.
    pub latency_max_us: u64,
}

/// Counts of one connection, one thread or the whole run.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    /// Latency of each answer: from the intended send time (open loop) or the send.
    pub latency: Histogram<u64>,
    /// From the actual send to the end of the answer (open loop).
    pub service: Histogram<u64>,
    /// From the intended send time to the actual send (open loop).
    pub lag: Histogram<u64>,
    /// Answers received, of any status.
    pub responses: u64,
    /// Failed requests by kind, in [`ErrorKind::ALL`] order.
    pub errors: [u64; 5],
    /// The first reason seen for each kind.
    pub reasons: [Option<String>; 5],
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests sent later than their intended time by more than the late bound.
    pub late: u64,
    /// Requests not sent because they were later than `--drop-after`.
    pub dropped: u64,
    /// Bytes read from the server (heads and bodies).
    pub bytes: u64,
    /// Per second since the start.
    pub timeline: Vec<Second>,
    /// When the last request ended, since the start.
    pub last: Duration,
    /// Connections opened (HTTP/2: by each stream loop that found none open).
    pub opened: u64,
    /// How long the threads ran or waited to run since the start, summed.
    pub busy: Duration,
    /// How long the event loops ran since the start, summed.
    pub span: Duration,
}

impl Stats {
    /// Empty counts with histograms shaped like `template`.
    pub fn new(template: &Histogram<u64>) -> Self {
        Stats {
            latency: Histogram::new_from(template),
            service: Histogram::new_from(template),
            lag: Histogram::new_from(template),
            responses: 0,
            errors: [0; 5],
            reasons: Default::default(),
            statuses: BTreeMap::new(),
            late: 0,
            dropped: 0,
            bytes: 0,
            timeline: Vec::new(),
            last: Duration::ZERO,
            opened: 0,
            busy: Duration::ZERO,
            span: Duration::ZERO,
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

impl Stats {
    fn second(&mut self, at: Duration) -> &mut Second {
        self.last = self.last.max(at);
        let i = usize::try_from(at.as_secs())
            .unwrap_or(usize::MAX)
            .min(366 * 24 * 3600);
        if self.timeline.len() <= i {
            self.timeline.resize(i + 1, Second::default());
        }
        &mut self.timeline[i]
    }

    /// An answer with `status` and `latency` (from the intended time), completed
    /// `at` after the start; in the open loop also its service time and send lag.
    pub fn answer(
        &mut self,
        status: u16,
        latency: Duration,
        service_lag: Option<(Duration, Duration)>,
        at: Duration,
    ) {
        let us = micros(latency);
        self.latency.saturating_record(us);
        if let Some((service, lag)) = service_lag {
            self.service.saturating_record(micros(service));
            self.lag.saturating_record(micros(lag));
        }
        self.responses += 1;
        *self.statuses.entry(status).or_default() += 1;
        let s = self.second(at);
        s.responses += 1;
        s.latency_sum_us = s.latency_sum_us.saturating_add(us);
        s.latency_max_us = s.latency_max_us.max(us);
        if (400..500).contains(&status) {
            self.fail(ErrorKind::Status4xx, || format!("HTTP {status}"), at);
        } else if status >= 500 {
            self.fail(ErrorKind::Status5xx, || format!("HTTP {status}"), at);
        }
    }

    /// A failed request of `kind`; `reason` is kept when it is the first of its kind.
    pub fn fail(&mut self, kind: ErrorKind, reason: impl FnOnce() -> String, at: Duration) {
        let i = kind as usize;
        self.errors[i] += 1;
        if self.reasons[i].is_none() {
            self.reasons[i] = Some(reason());
        }
        self.second(at).errors += 1;
    }

    /// Add `other` to these counts.
    pub fn merge(&mut self, other: &Stats) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.service.add(&other.service);
        let _ = self.lag.add(&other.lag);
        self.responses += other.responses;
        for i in 0..5 {
            self.errors[i] += other.errors[i];
            if self.reasons[i].is_none() {
                self.reasons[i].clone_from(&other.reasons[i]);
            }
        }
        for (k, v) in &other.statuses {
            *self.statuses.entry(*k).or_default() += v;
        }
        self.late += other.late;
        self.dropped += other.dropped;
        self.bytes += other.bytes;
        self.last = self.last.max(other.last);
        self.opened += other.opened;
        self.busy += other.busy;
        self.span += other.span;
        if self.timeline.len() < other.timeline.len() {
            self.timeline
                .resize(other.timeline.len(), Second::default());
        }
        for (a, b) in self.timeline.iter_mut().zip(&other.timeline) {
            a.responses += b.responses;
            a.errors += b.errors;
            a.latency_sum_us = a.latency_sum_us.saturating_add(b.latency_sum_us);
            a.latency_max_us = a.latency_max_us.max(b.latency_max_us);
        }
    }

    /// Requests that failed before an answer: connect, timeout, read.
    pub fn transport_errors(&self) -> u64 {
        self.errors[..3].iter().sum()
    }
}
