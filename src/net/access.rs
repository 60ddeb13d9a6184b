//! Allow/deny rules by address range, checked before a client's first byte is read.

use ipnet::IpNet;
use std::net::IpAddr;

/// Who may connect. Deny wins over allow; with no allow rules, everyone not denied may.
#[derive(Debug, Clone, Default)]
pub struct Access {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    /// An allow list was given but holds nothing: nobody may connect.
    allow_none: bool,
}

impl Access {
    /// Rules from allowed and denied ranges (a single host is a /32 or /128).
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>) -> Access {
        Access {
            allow,
            deny,
            allow_none: false,
        }
    }

    /// Rules that admit nobody (an allow list with no entries), the denials kept for reporting.
    pub fn nobody_but(deny: Vec<IpNet>) -> Access {
        Access {
            allow: Vec::new(),
            deny,
            allow_none: true,
        }
    }

    /// Whether `ip` may connect. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.allow_none || self.deny.iter().any(|n| n.contains(&ip)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(Access::default().permits(ip("10.1.2.3")));
        let a = Access::new(vec![net("127.0.0.0/8")], vec![net("127.0.0.2/32")]);
        assert!(a.permits(ip("127.0.0.1")));
        assert!(a.permits(ip("::ffff:127.0.0.1")));
        assert!(!a.permits(ip("127.0.0.2")));
        assert!(!a.permits(ip("::1")));
    }
}
