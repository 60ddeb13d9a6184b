//! The access log on stderr: one line per response, in the combined log format
//! (with the duration appended, as nginx's `$request_time`) or as JSON lines.

use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;
use std::time::{Instant, SystemTime};

/// How each access-log line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The combined log format (Apache, nginx) with the duration in seconds appended.
    Combined,
    /// One JSON object per line.
    Json,
}

/// What the log line says about one request; filled in as the request is handled.
pub(crate) struct Entry {
    /// The line's format.
    pub(crate) format: Format,
    /// The client's address.
    pub(crate) peer: IpAddr,
    /// The Basic-auth user, if any.
    pub(crate) user: Option<String>,
    /// The request method.
    pub(crate) method: String,
    /// Path and query as requested.
    pub(crate) target: String,
    /// `HTTP/1.1` and the like.
    pub(crate) version: &'static str,
    /// The Referer header.
    pub(crate) referer: Option<String>,
    /// The User-Agent header.
    pub(crate) user_agent: Option<String>,
    /// The response status.
    pub(crate) status: u16,
    /// When the response began.
    pub(crate) time: SystemTime,
    /// When the request arrived, for the duration.
    pub(crate) started: Instant,
}

impl Entry {
    /// Write the line: one `write` to unbuffered stderr, so lines never interleave.
    pub(crate) fn write(&self, bytes: u64) {
        Line {
            format: self.format,
            peer: self.peer,
            user: self.user.as_deref(),
            request: Request::Parsed {
                method: &self.method,
                target: &self.target,
                version: self.version,
            },
            status: Some(self.status),
            bytes,
            referer: self.referer.as_deref(),
            user_agent: self.user_agent.as_deref(),
            time: self.time,
            secs: self.started.elapsed().as_secs_f64(),
            error: None,
        }
        .write();
    }
}

/// Log a request that never reached the handler: answered below it (400, 414,
/// 431; `status`) or cut without an answer (`None`: a header timeout, a client
/// that closed mid-head, a failed TLS handshake). `request` is the first line
/// of what the client sent, if anything; `error` says what went wrong; `bytes`
/// of body were sent (0 but for the plain-HTTP-to-HTTPS page). The text format
/// shows `-` for a missing status and the JSON format `0`, with `"request"` and
/// `"error"` fields.
pub(crate) fn protocol_error(
    format: Format,
    peer: IpAddr,
    request: Option<&str>,
    status: Option<u16>,
    bytes: u64,
    started: Instant,
    error: &str,
) {
    Line {
        format,
        peer,
        user: None,
        request: Request::Raw(request),
        status,
        bytes,
        referer: None,
        user_agent: None,
        time: SystemTime::now(),
        secs: started.elapsed().as_secs_f64(),
        error: Some(error),
    }
    .write();
}

/// What a log line says about the request.
enum Request<'a> {
    /// A request hyper parsed.
    Parsed {
        method: &'a str,
        target: &'a str,
        version: &'a str,
    },
    /// The first line of bytes that did not parse as a request, if any.
    Raw(Option<&'a str>),
}

/// One access-log line, borrowed from an [`Entry`] or a protocol error: the one
/// place that renders both formats.
struct Line<'a> {
    format: Format,
    peer: IpAddr,
    user: Option<&'a str>,
    request: Request<'a>,
    /// `None`: no answer was sent.
    status: Option<u16>,
    bytes: u64,
    referer: Option<&'a str>,
    user_agent: Option<&'a str>,
    time: SystemTime,
    secs: f64,
    /// Why the request never reached the handler.
    error: Option<&'a str>,
}

impl Line<'_> {
    fn write(&self) {
        let line = match self.format {
            Format::Combined => {
                let mut s = String::with_capacity(200);
                let _ = write!(
                    s,
                    "{} - {} [{}] \"",
                    self.peer,
                    self.user.unwrap_or("-"),
                    clf_time(self.time)
                );
                let _ = match &self.request {
                    Request::Parsed {
                        method,
                        target,
                        version,
                    } => write!(s, "{method} {} {version}", escape(target)),
                    Request::Raw(raw) => write!(s, "{}", escape(raw.unwrap_or("-"))),
                };
                let _ = s.write_str("\" ");
                let _ = match self.status {
                    Some(code) => write!(s, "{code}"),
                    None => s.write_str("-"),
                };
                let _ = writeln!(
                    s,
                    " {} \"{}\" \"{}\" {:.3}",
                    self.bytes,
                    escape(self.referer.unwrap_or("-")),
                    escape(self.user_agent.unwrap_or("-")),
                    self.secs
                );
                s
            }
            Format::Json => {
                let (method, target, version) = match &self.request {
                    Request::Parsed {
                        method,
                        target,
                        version,
                    } => (Some(*method), Some(*target), Some(*version)),
                    Request::Raw(_) => (None, None, None),
                };
                let mut v = serde_json::json!({
                    "time": humantime::format_rfc3339_millis(self.time).to_string(),
                    "peer": self.peer.to_string(),
                    "user": self.user,
                    "method": method,
                    "target": target,
                    "version": version,
                    "status": self.status.unwrap_or(0),
                    "bytes": self.bytes,
                    "duration_ms": (self.secs * 1e6).round() / 1e3,
                    "referer": self.referer,
                    "user_agent": self.user_agent,
                });
                if let (Request::Raw(raw), Some(map)) = (&self.request, v.as_object_mut()) {
                    map.insert("request".into(), serde_json::json!(raw));
                    map.insert("error".into(), serde_json::json!(self.error));
                }
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

/// The common log format's time: `[day]/[month]/[year]:[hour]:[minute]:[second] +0000`.
const CLF: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
);

/// `10/Oct/2000:13:55:36 +0000`, the common log format's time, in UTC.
pub(crate) fn clf_time(t: SystemTime) -> String {
    // Formatting fails only for items the value lacks; a UTC date-time has them all.
    time::OffsetDateTime::from(t)
        .format(CLF)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn clf() {
        let t = UNIX_EPOCH + Duration::from_secs(971_186_136);
        assert_eq!(clf_time(t), "10/Oct/2000:13:55:36 +0000");
        assert_eq!(clf_time(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
        // A leap day, a late hour, a single-digit day.
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(clf_time(t), "29/Feb/2024:23:59:59 +0000");
        let t = UNIX_EPOCH + Duration::from_secs(1_783_036_800 + 5 * 86_400 + 3_723);
        assert_eq!(clf_time(t), "08/Jul/2026:01:02:03 +0000");
    }
}
