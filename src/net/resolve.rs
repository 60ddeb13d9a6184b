//! `wirekit resolve`: the seed's gethostname/gethostbyname, forward and reverse
//! lookups through the system resolver, and this host's interfaces.

use crate::cli::ResolveArgs;
use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};
use std::net::IpAddr;
use tracing::warn;

pub async fn run(a: &ResolveArgs) -> Result<()> {
    let keep = |ip: &IpAddr| !(a.ipv4 && ip.is_ipv6() || a.ipv6 && ip.is_ipv4());
    let mut failed = Vec::new();
    let mut report = Vec::new();
    for name in &a.names {
        match lookup(name).await {
            Ok(ips) => {
                let ips: Vec<IpAddr> = ips.into_iter().filter(keep).collect();
                if !a.json {
                    for ip in &ips {
                        println!("{name}  {ip}");
                    }
                }
                report.push(json!({"name": name, "addresses": ips}));
            }
            Err(e) => {
                warn!("{}", crate::error::one_line(&e));
                report.push(json!({"name": name, "error": crate::error::one_line(&e)}));
                failed.push(name.clone());
            }
        }
    }
    for ip in &a.reverse {
        match reverse(*ip).await {
            Ok(name) => {
                if !a.json {
                    println!("{ip}  {name}");
                }
                report.push(json!({"address": ip, "name": name}));
            }
            Err(e) => {
                warn!("{}", crate::error::one_line(&e));
                report.push(json!({"address": ip, "error": crate::error::one_line(&e)}));
                failed.push(ip.to_string());
            }
        }
    }
    let mut local = Value::Null;
    if a.local {
        local = local_report(&keep).await?;
        if !a.json {
            print_local(&local);
        }
    }
    if a.json {
        let doc = if a.local && report.is_empty() {
            local
        } else if a.local {
            json!({"lookups": report, "local": local})
        } else {
            Value::Array(report)
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    if !failed.is_empty() {
        return Err(anyhow!("could not resolve {}", failed.join(", ")));
    }
    Ok(())
}

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

async fn local_report(keep: &impl Fn(&IpAddr) -> bool) -> Result<Value> {
    let hostname = dns_lookup::get_hostname().context("cannot read this host's name")?;
    let addresses: Vec<IpAddr> = match lookup(&hostname).await {
        Ok(ips) => ips.into_iter().filter(keep).collect(),
        Err(_) => Vec::new(),
    };
    let mut interfaces = Vec::new();
    for iface in if_addrs::get_if_addrs().context("cannot list network interfaces")? {
        let ip = iface.ip();
        if !keep(&ip) {
            continue;
        }
        let prefix = match &iface.addr {
            if_addrs::IfAddr::V4(v4) => u32::from(v4.netmask).count_ones(),
            if_addrs::IfAddr::V6(v6) => u128::from(v6.netmask).count_ones(),
        };
        interfaces.push(json!({"name": iface.name, "address": ip, "prefix": prefix}));
    }
    Ok(json!({"hostname": hostname, "addresses": addresses, "interfaces": interfaces}))
}

fn print_local(v: &Value) {
    println!("hostname  {}", v["hostname"].as_str().unwrap_or(""));
    for ip in v["addresses"].as_array().into_iter().flatten() {
        println!("address   {}", ip.as_str().unwrap_or(""));
    }
    for i in v["interfaces"].as_array().into_iter().flatten() {
        println!(
            "{:<9} {}/{}",
            i["name"].as_str().unwrap_or(""),
            i["address"].as_str().unwrap_or(""),
            i["prefix"]
        );
    }
}
