//! `--find-max-rate --slo 'p99<10ms'`: raise the open loop's rate step by step
//! until the SLO fails; the knee is the highest rate that met it.

use super::report::{Report, us};
use super::{BenchOptions, OpenLoop, run};
use anyhow::{Result, bail};
use serde::Serialize;
use std::time::Duration;

/// A service-level objective on one latency figure: `p99<10ms`, `p50<=2ms`, `max<1s`.
#[derive(Debug, Clone, Serialize)]
pub struct Slo {
    /// The figure: `p50` ... `p99.99`, `max` or `mean`.
    pub figure: String,
    /// The bound, in microseconds (the figure must be below it).
    pub below_us: u64,
    /// As the user wrote it.
    pub text: String,
}

/// Parse `p99<10ms`.
pub fn parse_slo(text: &str) -> Result<Slo, String> {
    let err = || {
        format!(
            "--slo '{text}' is not FIGURE<DURATION; write it like 'p99<10ms' (p50, p75, p90, p99, p99.9, p99.99, max, mean)"
        )
    };
    let (figure, bound) = text.split_once('<').ok_or_else(err)?;
    let figure = figure.trim().to_lowercase();
    let known =
        super::PERCENTILES.iter().any(|(n, _)| *n == figure) || figure == "max" || figure == "mean";
    if !known {
        return Err(err());
    }
    let bound = crate::units::parse_duration(bound.trim_start_matches('='))
        .map_err(|e| format!("--slo '{text}': {e}"))?;
    Ok(Slo {
        figure,
        below_us: u64::try_from(bound.as_micros()).unwrap_or(u64::MAX),
        text: text.to_string(),
    })
}

impl Slo {
    /// The figure in `r`'s corrected latency, in µs.
    pub fn value(&self, r: &Report) -> u64 {
        match self.figure.as_str() {
            "max" => r.latency.max_us,
            "mean" => r.latency.mean_us as u64,
            p => r.latency.percentiles.get(p).copied().unwrap_or(u64::MAX),
        }
    }

    /// Whether `r` met the objective: the figure below the bound, every request
    /// answered (no connect, timeout or read errors, none dropped) and 99 % of the
    /// `scheduled` requests answered. Counted over the schedule, not as the report's
    /// rate: that rate's run ends with the last answer, so a server answering in
    /// 20 ms failed a 2 s step by its last answer alone (20 ms is 1 % of 2 s); a
    /// server falling behind shows in the corrected latency, which the figure judges.
    pub fn met(&self, r: &Report, scheduled: f64) -> bool {
        self.value(r) < self.below_us
            && r.transport_errors() == 0
            && r.dropped == 0
            && r.responses as f64 >= 0.99 * scheduled
    }
}

/// One step of the search.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The rate asked for.
    pub rate: f64,
    /// Whether the SLO held.
    pub met: bool,
    /// The step's full report.
    pub report: Report,
}

/// The outcome of the search.
#[derive(Debug, Clone, Serialize)]
pub struct MaxRate {
    /// The objective.
    pub slo: Slo,
    /// The highest rate that met it (the knee); `None`: not even the first.
    pub knee: Option<f64>,
    /// Every step, in order.
    pub steps: Vec<Step>,
}

/// Run `o` in the open loop at `start`, `2 × start`, ... (each for `o`'s duration)
/// until a step fails `slo` or `max_steps` have run; `each` sees every step as it ends.
pub fn find_max_rate(
    o: &BenchOptions,
    slo: &Slo,
    start: f64,
    step: f64,
    max_steps: usize,
    mut each: impl FnMut(&Step),
) -> Result<MaxRate> {
    if !(start > 0.0 && step > 0.0) {
        bail!("--find-max-rate needs a start rate and a step above 0");
    }
    let mut steps = Vec::new();
    let mut knee = None;
    for k in 0..max_steps.max(1) {
        let rate = start + step * k as f64;
        let mut run_o = o.clone();
        let base = o.open.clone().unwrap_or(OpenLoop {
            rate,
            stages: Vec::new(),
            arrival: super::Arrival::Constant,
            max_conns: 1000,
            drop_after: Duration::from_secs(10),
        });
        run_o.open = Some(OpenLoop {
            rate,
            stages: Vec::new(),
            ..base
        });
        let report = run(&run_o)?;
        let scheduled = match o.stop {
            super::Stop::Duration(d) => rate * d.as_secs_f64(),
            super::Stop::Requests(n) => n as f64,
        };
        let met = slo.met(&report, scheduled);
        let s = Step { rate, met, report };
        each(&s);
        steps.push(s);
        if !met {
            break;
        }
        knee = Some(rate);
    }
    Ok(MaxRate {
        slo: slo.clone(),
        knee,
        steps,
    })
}

impl MaxRate {
    /// One line per step and the knee, for a person.
    pub fn text(&self) -> String {
        let mut o = format!(
            "  {:>10}  {:>10}  {:>10}  {:>8}  {:>7}  SLO {}\n",
            "rate", "achieved", self.slo.figure, "errors", "dropped", self.slo.text
        );
        for s in &self.steps {
            let r = &s.report;
            o.push_str(&format!(
                "  {:>10.1}  {:>10.1}  {:>10}  {:>8}  {:>7}  {}\n",
                s.rate,
                r.rate,
                us(self.slo.value(r) as f64),
                r.transport_errors() + r.errors.status_4xx + r.errors.status_5xx,
                r.dropped,
                if s.met { "met" } else { "FAILED" }
            ));
        }
        match self.knee {
            Some(k) if self.steps.iter().all(|s| s.met) => o.push_str(&format!(
                "Max rate: {k:.1} req/s met {} at every step (raise --max-steps to go higher)\n",
                self.slo.text
            )),
            Some(k) => o.push_str(&format!(
                "Max rate: {k:.1} req/s (the knee: the next step failed {})\n",
                self.slo.text
            )),
            None => o.push_str(&format!(
                "Max rate: none; the first step already failed {}\n",
                self.slo.text
            )),
        }
        o
    }
}
