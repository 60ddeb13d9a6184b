//! `--config FILE`: several proxies, in Toxiproxy's `populate` JSON (an array of
//! `{"name", "listen", "upstream", "enabled"}`), extended with `"toxics"` (an
//! array of toxics in Toxiproxy's API shape), which Toxiproxy itself ignores.

use super::{ProxyConfig, Toxic};
use crate::error::usage;
use crate::net::HostPort;
use anyhow::{Context, Result};
use std::path::Path;

/// Read the proxies of a populate file.
pub fn load(path: &Path) -> Result<Vec<ProxyConfig>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --config {}", path.display()))
        .map_err(|e| usage(crate::error::one_line(&e)))?;
    parse(&text).map_err(|e| {
        usage(format!(
            "--config {}: {}",
            path.display(),
            crate::error::one_line(&e)
        ))
    })
}

/// Parse populate JSON: an array of proxies (or `{"proxies": [...]}`).
pub fn parse(text: &str) -> Result<Vec<ProxyConfig>> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| usage(format!("not valid JSON: {e}")))?;
    let list = match &value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => o
            .get("proxies")
            .and_then(|p| p.as_array())
            .ok_or_else(|| usage("expected an array of proxies, like [{\"name\": \"redis\", \"listen\": \"127.0.0.1:26379\", \"upstream\": \"127.0.0.1:6379\"}]"))?,
        _ => return Err(usage("expected an array of proxies")),
    };
    let mut proxies: Vec<ProxyConfig> = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let config = proxy(p)
            .map_err(|e| usage(format!("proxy {}: {}", i + 1, crate::error::one_line(&e))))?;
        if proxies.iter().any(|o| o.name == config.name) {
            return Err(usage(format!(
                "two proxies are named {}; names must be unique",
                config.name
            )));
        }
        proxies.push(config);
    }
    Ok(proxies)
}

/// One proxy of a populate array (also the body of the API's `POST /proxies`).
pub fn proxy(p: &serde_json::Value) -> Result<ProxyConfig> {
    let field = |key: &str| {
        p.get(key)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let name = field("name").ok_or_else(|| usage("missing field name"))?;
    let listen = HostPort::parse(field("listen").unwrap_or("127.0.0.1:0"), None)?;
    let upstream = HostPort::parse(
        field("upstream").ok_or_else(|| usage(format!("proxy {name}: missing field upstream")))?,
        None,
    )?;
    let enabled = match p.get("enabled") {
        None | Some(serde_json::Value::Null) => true,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| usage("enabled must be true or false"))?,
    };
    let toxics = match p.get("toxics") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(a)) => {
            a.iter().map(Toxic::from_json).collect::<Result<_>>()?
        }
        Some(_) => return Err(usage("toxics must be an array")),
    };
    Ok(ProxyConfig {
        name: name.to_string(),
        listen,
        upstream,
        enabled,
        toxics,
    })
}
