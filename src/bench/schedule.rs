//! The open loop's one schedule of intended send times: stages of rates
//! (constant or ramping), constant spacing or Poisson arrivals, interleaved
//! across the generator's threads.

use std::time::Duration;

/// How requests arrive in the open loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrival {
    /// Evenly spaced at the rate (wrk2, vegeta).
    #[default]
    Constant,
    /// A Poisson process at the rate: exponential gaps, as independent users make.
    Poisson,
}

/// One stage: over `duration` the rate moves linearly to `rate` (requests per second)
/// from where the previous stage ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// The rate at the end of the stage.
    pub rate: f64,
}

/// Parse `--stages 10s:1000,30s:5000,10s:0` (each `DURATION:RATE`).
pub fn parse_stages(text: &str) -> Result<Vec<Stage>, String> {
    let mut stages = Vec::new();
    for part in text.split(',') {
        let Some((d, r)) = part.trim().split_once(':') else {
            return Err(format!(
                "stage '{part}' is not DURATION:RATE; write stages like 10s:1000,30s:5000,10s:0"
            ));
        };
        let duration = crate::units::parse_duration(d)?;
        let rate: f64 = r
            .trim()
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r >= 0.0)
            .ok_or_else(|| {
                format!("stage '{part}' has rate '{r}'; a rate is a number of requests per second, 0 or more")
            })?;
        stages.push(Stage { duration, rate });
    }
    if stages.iter().all(|s| s.rate == 0.0 || s.duration.is_zero()) {
        return Err(format!(
            "--stages '{text}' sends nothing; give at least one stage with a duration and a rate above 0"
        ));
    }
    Ok(stages)
}

/// A stretch of the schedule with a linear rate `from` → `to` over `seconds`
/// (infinite for a constant rate that a request count ends).
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: f64,
    seconds: f64,
    from: f64,
    to: f64,
    /// Requests scheduled before this segment.
    before: f64,
}

impl Segment {
    fn requests(&self) -> f64 {
        if self.seconds.is_infinite() {
            f64::INFINITY
        } else {
            (self.from + self.to) / 2.0 * self.seconds
        }
    }

    /// Seconds into the segment at which `n` requests (counted from its start) are due.
    fn time_of(&self, n: f64) -> f64 {
        let a = if self.seconds.is_infinite() {
            0.0
        } else {
            (self.to - self.from) / (2.0 * self.seconds)
        };
        if a.abs() < 1e-12 {
            return n / self.from;
        }
        let disc = (self.from * self.from + 4.0 * a * n).max(0.0);
        (-self.from + disc.sqrt()) / (2.0 * a)
    }
}

/// The whole run's plan: rates over time, the arrival process and an optional count.
#[derive(Debug, Clone)]
pub struct Plan {
    segments: Vec<Segment>,
    total: f64,
    arrival: Arrival,
    limit: Option<u64>,
}

impl Plan {
    /// A plan that starts at `start_rate` and runs through `stages`, or (no stages)
    /// holds `start_rate` until `duration` ends or `limit` requests are scheduled.
    pub fn new(
        start_rate: f64,
        stages: &[Stage],
        duration: Option<Duration>,
        limit: Option<u64>,
        arrival: Arrival,
    ) -> Plan {
        let mut segments = Vec::new();
        let (mut t, mut before, mut from) = (0.0, 0.0, start_rate);
        if stages.is_empty() {
            let seconds = duration.map_or(f64::INFINITY, |d| d.as_secs_f64());
            stages_push(
                &mut segments,
                &mut t,
                &mut before,
                from,
                start_rate,
                seconds,
            );
        }
        for s in stages {
            let seconds = s.duration.as_secs_f64();
            stages_push(&mut segments, &mut t, &mut before, from, s.rate, seconds);
            from = s.rate;
        }
        Plan {
            segments,
            total: before,
            arrival,
            limit,
        }
    }

    /// How long the schedule lasts (infinite when only a count ends it).
    pub fn seconds(&self) -> f64 {
        self.segments.last().map_or(0.0, |s| s.start + s.seconds)
    }

    /// Requests the schedule holds (infinite when only a count ends it).
    pub fn scheduled(&self) -> f64 {
        match self.limit {
            Some(n) => self.total.min(n as f64),
            None => self.total,
        }
    }

    /// The schedule of thread `index` of `threads`.
    pub(crate) fn for_thread(&self, index: usize, threads: usize) -> Schedule {
        let threads = threads.max(1) as u64;
        let limit = self
            .limit
            .map(|n| n / threads + u64::from((index as u64) < n % threads));
        Schedule {
            plan: self.clone(),
            threads,
            index: index as u64,
            k: 0,
            units: 0.0,
            limit,
        }
    }

    /// Seconds from the start at which request number `n` (0-based, of all threads) is due.
    fn time_of(&self, n: f64) -> Option<f64> {
        if n >= self.total {
            return None;
        }
        let seg = self.segments.iter().find(|s| n < s.before + s.requests())?;
        Some(seg.start + seg.time_of(n - seg.before))
    }
}

fn stages_push(
    segments: &mut Vec<Segment>,
    t: &mut f64,
    before: &mut f64,
    from: f64,
    to: f64,
    seconds: f64,
) {
    let seg = Segment {
        start: *t,
        seconds,
        from,
        to,
        before: *before,
    };
    *t += seconds;
    *before += seg.requests();
    segments.push(seg);
}

/// One thread's share of the schedule: global request numbers `index`, `index +
/// threads`, ... (constant), or its own Poisson process at `1/threads` of the rate.
#[derive(Debug)]
pub(crate) struct Schedule {
    plan: Plan,
    threads: u64,
    index: u64,
    k: u64,
    units: f64,
    limit: Option<u64>,
}

impl Schedule {
    /// The next intended send time, as an offset from the start; `None` at the end.
    pub(crate) fn next_offset(&mut self) -> Option<Duration> {
        if self.limit.is_some_and(|l| self.k >= l) {
            return None;
        }
        let n = match self.plan.arrival {
            Arrival::Constant => (self.k * self.threads + self.index) as f64,
            Arrival::Poisson => {
                // An exponential gap of mean `threads` in request-count units.
                let gap = -(1.0 - fastrand::f64()).ln() * self.threads as f64;
                self.units += gap;
                self.units
            }
        };
        self.k += 1;
        let seconds = self.plan.time_of(n)?;
        Duration::try_from_secs_f64(seconds).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(plan: &Plan, threads: usize) -> Vec<f64> {
        let mut out = Vec::new();
        for i in 0..threads {
            let mut s = plan.for_thread(i, threads);
            while let Some(d) = s.next_offset() {
                out.push(d.as_secs_f64());
            }
        }
        out.sort_by(f64::total_cmp);
        out
    }

    #[test]
    fn constant_rate_schedules_exactly_rate_times_duration() {
        let plan = Plan::new(
            2000.0,
            &[],
            Some(Duration::from_secs(5)),
            None,
            Arrival::Constant,
        );
        let times = all(&plan, 3);
        assert_eq!(times.len(), 10_000);
        assert!((times[1] - times[0] - 0.0005).abs() < 1e-9);
        let plan = Plan::new(100.0, &[], None, Some(250), Arrival::Constant);
        assert_eq!(all(&plan, 4).len(), 250);
    }

    #[test]
    fn stages_ramp_between_rates() {
        let stages = parse_stages("10s:1000,30s:5000,10s:0").unwrap();
        let plan = Plan::new(0.0, &stages, None, None, Arrival::Constant);
        // 0→1000 over 10 s: 5,000; 1000→5000 over 30 s: 90,000; 5000→0 over 10 s: 25,000.
        let times = all(&plan, 2);
        assert_eq!(times.len(), 120_000);
        assert!(times.iter().filter(|t| **t < 10.0).count().abs_diff(5_000) <= 1);
        assert!(*times.last().unwrap() < 50.0);
    }

    #[test]
    fn poisson_keeps_the_mean_rate() {
        let plan = Plan::new(
            1000.0,
            &[],
            Some(Duration::from_secs(20)),
            None,
            Arrival::Poisson,
        );
        let n = all(&plan, 2).len() as f64;
        assert!((n - 20_000.0).abs() < 20_000.0 * 0.03, "{n}");
    }

    #[test]
    fn bad_stages_are_refused() {
        assert!(parse_stages("10s").is_err());
        assert!(parse_stages("10s:-1").is_err());
        assert!(parse_stages("10s:0").is_err());
    }
}
