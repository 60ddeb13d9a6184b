//! Name lookups through the system resolver (as `getent hosts` does): forward,
//! reverse, and this host's name and interfaces (the seed's
//! gethostname/gethostbyname).

use anyhow::{Context, Result};
use std::net::IpAddr;

/// Forward lookup: every distinct address, in the resolver's order.
pub async fn lookup(name: &str) -> Result<Vec<IpAddr>> {
    let addrs = tokio::net::lookup_host((name, 0)).await.with_context(|| {
        format!(
            "cannot resolve '{name}'; check the name (and /etc/resolv.conf), or use an IP address"
        )
    })?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for a in addrs {
        if !ips.contains(&a.ip()) {
            ips.push(a.ip());
        }
    }
    Ok(ips)
}

/// Reverse lookup (PTR or /etc/hosts).
pub async fn reverse(ip: IpAddr) -> Result<String> {
    tokio::task::spawn_blocking(move || dns_lookup::lookup_addr(&ip))
        .await?
        .with_context(|| format!("no name for {ip}"))
}

/// One address of a network interface.
#[derive(Debug, Clone)]
pub struct Interface {
    /// The interface's name, e.g. `lo`, `eth0`.
    pub name: String,
    /// The address.
    pub address: IpAddr,
    /// The network prefix length (24 for a /24).
    pub prefix: u32,
}

/// This host as the seed's `gethostname` / `gethostbyname` see it, and its interfaces.
#[derive(Debug, Clone)]
pub struct LocalHost {
    /// The host's name.
    pub hostname: String,
    /// What the name resolves to (empty when it does not resolve).
    pub addresses: Vec<IpAddr>,
    /// Every address of every interface.
    pub interfaces: Vec<Interface>,
}

/// This host's name, the addresses it resolves to, and its interfaces' addresses.
pub async fn local_host() -> Result<LocalHost> {
    let hostname = dns_lookup::get_hostname().context("cannot read this host's name")?;
    let addresses = lookup(&hostname).await.unwrap_or_default();
    let mut interfaces = Vec::new();
    for iface in if_addrs::get_if_addrs().context("cannot list network interfaces")? {
        let prefix = match &iface.addr {
            if_addrs::IfAddr::V4(v4) => u32::from(v4.netmask).count_ones(),
            if_addrs::IfAddr::V6(v6) => u128::from(v6.netmask).count_ones(),
        };
        interfaces.push(Interface {
            address: iface.ip(),
            name: iface.name,
            prefix,
        });
    }
    Ok(LocalHost {
        hostname,
        addresses,
        interfaces,
    })
}
