//! The access log on stderr: one line per response, in the combined log format
//! (with the duration appended, as nginx's `$request_time`) or as JSON lines.

use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Combined,
    Json,
}

/// What the log line says about one request; filled in as the request is handled.
pub struct Entry {
    pub format: Format,
    pub peer: IpAddr,
    pub user: Option<String>,
    pub method: String,
    pub target: String,
    pub version: &'static str,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
    pub status: u16,
    pub time: SystemTime,
    pub started: Instant,
}

impl Entry {
    /// Write the line: one `write` to unbuffered stderr, so lines never interleave.
    pub fn write(&self, bytes: u64) {
        let secs = self.started.elapsed().as_secs_f64();
        let line = match self.format {
            Format::Combined => {
                let mut s = String::with_capacity(200);
                let _ = writeln!(
                    s,
                    "{} - {} [{}] \"{} {} {}\" {} {} \"{}\" \"{}\" {:.3}",
                    self.peer,
                    self.user.as_deref().unwrap_or("-"),
                    clf_time(self.time),
                    self.method,
                    escape(&self.target),
                    self.version,
                    self.status,
                    bytes,
                    escape(self.referer.as_deref().unwrap_or("-")),
                    escape(self.user_agent.as_deref().unwrap_or("-")),
                    secs
                );
                s
            }
            Format::Json => {
                let v = serde_json::json!({
                    "time": humantime::format_rfc3339_millis(self.time).to_string(),
                    "peer": self.peer.to_string(),
                    "user": self.user,
                    "method": self.method,
                    "target": self.target,
                    "version": self.version,
                    "status": self.status,
                    "bytes": bytes,
                    "duration_ms": (secs * 1e6).round() / 1e3,
                    "referer": self.referer,
                    "user_agent": self.user_agent,
                });
                let mut s = v.to_string();
                s.push('\n');
                s
            }
        };
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// Quotes and control characters in logged fields are escaped so a line stays one line.
fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.into()
}

/// `10/Oct/2000:13:55:36 +0000`, the common log format's time, in UTC.
pub fn clf_time(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn clf() {
        let t = UNIX_EPOCH + Duration::from_secs(971_186_136);
        assert_eq!(clf_time(t), "10/Oct/2000:13:55:36 +0000");
        assert_eq!(clf_time(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
    }
}
