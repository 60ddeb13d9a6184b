//! `wirekit resolve`: look up each name and address with `net::resolve`, print
//! the answers as text or JSON, fail when any lookup failed.

use crate::cli::ResolveArgs;
use anyhow::{Result, anyhow};
use serde_json::{Value, json};
use std::net::IpAddr;
use tracing::warn;
use wirekit::error::one_line;
use wirekit::net::resolve::{LocalHost, local_host, lookup, reverse};

/// Run `resolve`.
pub(crate) async fn run(a: &ResolveArgs) -> Result<()> {
    let keep = |ip: &IpAddr| !(a.ipv4 && ip.is_ipv6() || a.ipv6 && ip.is_ipv4());
    let mut failed = Vec::new();
    let mut report = Vec::new();
    for name in &a.names {
        match lookup(name).await {
            Ok(ips) => {
                let ips: Vec<IpAddr> = ips.into_iter().filter(keep).collect();
                if ips.is_empty() {
                    // The name exists, but not in the family asked for: that is no answer.
                    let (family, flag) = if a.ipv6 {
                        ("IPv6", "-6")
                    } else {
                        ("IPv4", "-4")
                    };
                    let error = format!(
                        "no {family} address for {name}; drop {flag} to see its other addresses"
                    );
                    report.push(json!({"name": name, "addresses": ips, "error": error}));
                    failed.push(error);
                    continue;
                }
                if !a.json {
                    for ip in &ips {
                        println!("{name}  {ip}");
                    }
                }
                report.push(json!({"name": name, "addresses": ips}));
            }
            Err(e) => {
                warn!("{}", one_line(&e));
                report.push(json!({"name": name, "error": one_line(&e)}));
                failed.push(format!("could not resolve {name}"));
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
                warn!("{}", one_line(&e));
                report.push(json!({"address": ip, "error": one_line(&e)}));
                failed.push(format!("could not resolve {ip}"));
            }
        }
    }
    let mut local = Value::Null;
    if a.local {
        local = local_json(&local_host().await?, &keep);
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
        return Err(anyhow!("{}", failed.join("; ")));
    }
    Ok(())
}

/// The `--local` report, keeping the addresses of the families asked for.
fn local_json(host: &LocalHost, keep: &impl Fn(&IpAddr) -> bool) -> Value {
    let addresses: Vec<&IpAddr> = host.addresses.iter().filter(|ip| keep(ip)).collect();
    let interfaces: Vec<Value> = host
        .interfaces
        .iter()
        .filter(|i| keep(&i.address))
        .map(|i| json!({"name": i.name, "address": i.address, "prefix": i.prefix}))
        .collect();
    json!({"hostname": host.hostname, "addresses": addresses, "interfaces": interfaces})
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
