//! Addresses as users type them: `host:port`, `:port`, `[::1]:port`, a bare port.

use crate::error::usage;
use anyhow::{Context, Result};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;

/// The host servers bind when none is given: loopback, so nothing is exposed by accident.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// A host (name or IP) and a port, not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// A name or an IP literal (IPv6 without brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Split `text` into host and port text. A missing host becomes [`DEFAULT_HOST`];
/// a missing port becomes `default_port`.
fn split(text: &str, default_port: Option<u16>) -> Result<(String, String)> {
    let t = text.trim();
    if t.is_empty() {
        return Err(usage(
            "empty address; write it like 127.0.0.1:8000, :8000 or [::1]:8000",
        ));
    }
    let default = || {
        default_port.map(|p| p.to_string()).ok_or_else(|| {
            // The form to suggest: IPv6 in brackets (once), anything else as it is.
            let host = t.trim_start_matches('[').trim_end_matches(']');
            let suggested = if host.contains(':') {
                format!("[{host}]:PORT")
            } else {
                format!("{host}:PORT")
            };
            usage(format!(
                "'{text}' has no port; write it like {suggested} (a port from 1 to 65535)"
            ))
        })
    };
    if let Some(rest) = t.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(usage(format!(
                "'{text}' has '[' without ']'; write IPv6 like [::1]:8000"
            )));
        };
        let port = match after {
            "" => default()?,
            p => p
                .strip_prefix(':')
                .ok_or_else(|| usage(format!("'{text}': expected ':PORT' after ']'")))?
                .to_string(),
        };
        return Ok((host.to_string(), port));
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        return Ok((DEFAULT_HOST.to_string(), t.to_string()));
    }
    if t.matches(':').count() > 1 {
        // A bare IPv6 address has no room for a port.
        if t.parse::<IpAddr>().is_ok() {
            return Ok((t.to_string(), default()?));
        }
        return Err(usage(format!(
            "'{text}' is not an address; write IPv6 with brackets, like [::1]:8000"
        )));
    }
    match t.rsplit_once(':') {
        Some(("", port)) => Ok((DEFAULT_HOST.to_string(), port.to_string())),
        Some((host, port)) => Ok((host.to_string(), port.to_string())),
        None => Ok((t.to_string(), default()?)),
    }
}

fn parse_port(text: &str, port: &str) -> Result<u16> {
    port.parse::<u16>().map_err(|_| {
        usage(format!(
            "'{text}' has an invalid port '{port}'; a port is a number from 0 to 65535"
        ))
    })
}

fn check_host(text: &str, host: &str) -> Result<()> {
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/' || c == '@') {
        return Err(usage(format!("'{text}' has an invalid host '{host}'")));
    }
    Ok(())
}

impl HostPort {
    /// Parse `host:port`, `:port`, `[v6]:port`, a bare port or (with a default port) a bare host.
    pub fn parse(text: &str, default_port: Option<u16>) -> Result<HostPort> {
        let (host, port) = split(text, default_port)?;
        check_host(text, &host)?;
        Ok(HostPort {
            port: parse_port(text, &port)?,
            host,
        })
    }

    /// Resolve as `lookup` says: only addresses of its family, and with
    /// `no_dns` only IP literals (ncat's `-4`, `-6` and `-n`).
    pub async fn resolve_with(&self, lookup: Lookup) -> Result<Vec<SocketAddr>> {
        if lookup.no_dns && self.host.parse::<IpAddr>().is_err() {
            return Err(usage(format!(
                "'{}' is a name, and --no-dns (-n) turns name lookups off; give an IP address like 127.0.0.1 or ::1",
                self.host
            )));
        }
        let addrs: Vec<SocketAddr> = self
            .resolve()
            .await?
            .into_iter()
            .filter(|a| lookup.family.admits(a.ip()))
            .collect();
        if addrs.is_empty() {
            return Err(usage(format!(
                "{self} has no {} address; drop {} or give an address of that family",
                lookup.family.name(),
                lookup.family.flag()
            )));
        }
        Ok(addrs)
    }

    /// Resolve to socket addresses with the system resolver (IP literals need no lookup).
    pub async fn resolve(&self) -> Result<Vec<SocketAddr>> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .with_context(|| {
                format!(
                    "cannot resolve host '{}'; check the name, or use an IP address",
                    self.host
                )
            })?
            .collect();
        if addrs.is_empty() {
            anyhow::bail!("host '{}' has no addresses; use an IP address", self.host);
        }
        Ok(addrs)
    }
}

/// Which address family a name may resolve to (ncat's `-4` / `-6`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Family {
    /// Either.
    #[default]
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

impl Family {
    /// Whether `ip` is of this family (IPv4-mapped IPv6 counts as IPv4).
    pub fn admits(self, ip: IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.to_canonical().is_ipv4(),
            Family::V6 => !ip.to_canonical().is_ipv4(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::Any => "",
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Family::Any => "",
            Family::V4 => "-4",
            Family::V6 => "-6",
        }
    }
}

/// How names are looked up before connecting or binding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lookup {
    /// Only addresses of this family.
    pub family: Family,
    /// No name lookups: only IP literals (ncat's `-n`).
    pub no_dns: bool,
}

/// Parse `host:PORT-PORT` (or `host:PORT`) for a port scan.
pub fn parse_port_range(text: &str) -> Result<(String, RangeInclusive<u16>)> {
    let (host, ports) = split(text, None)?;
    check_host(text, &host)?;
    let (lo, hi) = match ports.split_once('-') {
        Some((lo, hi)) => (parse_port(text, lo)?, parse_port(text, hi)?),
        None => {
            let p = parse_port(text, &ports)?;
            (p, p)
        }
    };
    if lo == 0 || lo > hi {
        return Err(usage(format!(
            "'{text}' has an empty port range; write it like host:8000-8010"
        )));
    }
    Ok((host, lo..=hi))
}

/// A local address to bind before connecting (`--source`): `IP` or `IP:PORT`.
pub fn parse_source(text: &str) -> Result<SocketAddr, String> {
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Ok(sa);
    }
    text.trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 0))
        .map_err(|_| {
            format!("'{text}' is not an address; write it like 127.0.0.1 or 127.0.0.1:5000")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(text: &str, default: Option<u16>) -> (String, u16) {
        let h = HostPort::parse(text, default).expect(text);
        (h.host, h.port)
    }

    #[test]
    fn forms() {
        assert_eq!(hp("example.com:80", None), ("example.com".into(), 80));
        assert_eq!(hp(":8000", None), ("127.0.0.1".into(), 8000));
        assert_eq!(hp("8000", None), ("127.0.0.1".into(), 8000));
        assert_eq!(hp("[::1]:80", None), ("::1".into(), 80));
        assert_eq!(hp("::1", Some(8000)), ("::1".into(), 8000));
        assert_eq!(hp("localhost", Some(8000)), ("localhost".into(), 8000));
        assert_eq!(
            HostPort::parse("[::1]:80", None).unwrap().to_string(),
            "[::1]:80"
        );
    }

    #[test]
    fn bad_forms() {
        for bad in [
            "",
            "host",
            "host:99999",
            "host:x",
            "[::1",
            "a b:80",
            "1:2:3:80",
        ] {
            let err = HostPort::parse(bad, None).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
        }
    }

    #[test]
    fn missing_port_hints_the_right_form() {
        let hint = |text: &str| HostPort::parse(text, None).unwrap_err().to_string();
        assert!(
            hint("127.0.0.1").contains("write it like 127.0.0.1:PORT"),
            "{}",
            hint("127.0.0.1")
        );
        assert!(
            hint("[::1]").contains("write it like [::1]:PORT"),
            "{}",
            hint("[::1]")
        );
        assert!(
            hint("::1").contains("write it like [::1]:PORT"),
            "{}",
            hint("::1")
        );
        assert!(hint("localhost").contains("write it like localhost:PORT"));
    }

    #[test]
    fn ranges() {
        let (h, r) = parse_port_range("localhost:10-20").unwrap();
        assert_eq!((h.as_str(), *r.start(), *r.end()), ("localhost", 10, 20));
        assert!(parse_port_range("localhost:20-10").is_err());
    }
}
