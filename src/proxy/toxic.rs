//! Toxics as Toxiproxy names them: their kinds, attributes (with Toxiproxy's
//! units and defaults), the stream they act on, their toxicity, and the
//! command-line grammar `TYPE[:key=value,...]`.

use crate::error::usage;
use anyhow::Result;
use std::fmt;

/// Which way a toxic acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Client to upstream server.
    Upstream,
    /// Upstream server to client (Toxiproxy's default).
    Downstream,
}

impl Stream {
    /// Toxiproxy's name: `upstream` or `downstream`.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }

    /// Parse `upstream` or `downstream`.
    pub fn parse(text: &str) -> Result<Stream> {
        match text {
            "upstream" => Ok(Stream::Upstream),
            "downstream" => Ok(Stream::Downstream),
            other => Err(usage(format!(
                "unknown stream '{other}'; valid streams: upstream (client to server), downstream (server to client, the default)"
            ))),
        }
    }
}

/// What a toxic does, with its attributes in Toxiproxy's units.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Delay every chunk by `latency` ms, plus or minus up to `jitter` ms.
    Latency {
        /// Milliseconds added to each chunk.
        latency: u64,
        /// Up to this many milliseconds more or less, at random.
        jitter: u64,
    },
    /// Hold the stream to `rate` KB/s (1 KB = 1000 bytes); 0 is no limit, as in Toxiproxy.
    Bandwidth {
        /// KB per second.
        rate: u64,
    },
    /// Delay the close (the FIN) by `delay` ms.
    SlowClose {
        /// Milliseconds.
        delay: u64,
    },
    /// Let no data through and close the connection after `timeout` ms (0: never close).
    Timeout {
        /// Milliseconds.
        timeout: u64,
    },
    /// On the first data, wait `timeout` ms, then reset the connection (TCP RST).
    ResetPeer {
        /// Milliseconds.
        timeout: u64,
    },
    /// Cut chunks into pieces of `average_size` ± `size_variation` bytes, `delay` µs apart.
    Slicer {
        /// Mean piece size in bytes.
        average_size: u64,
        /// Pieces vary by up to this many bytes.
        size_variation: u64,
        /// Microseconds between pieces.
        delay: u64,
    },
    /// Close the connection once `bytes` bytes have passed this way.
    LimitData {
        /// Bytes let through.
        bytes: u64,
    },
}

/// The toxic types, as the command line and the API name them.
pub const TYPES: &[&str] = &[
    "latency",
    "bandwidth",
    "slow_close",
    "timeout",
    "reset_peer",
    "slicer",
    "limit_data",
];

impl Kind {
    /// Toxiproxy's type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Latency { .. } => "latency",
            Kind::Bandwidth { .. } => "bandwidth",
            Kind::SlowClose { .. } => "slow_close",
            Kind::Timeout { .. } => "timeout",
            Kind::ResetPeer { .. } => "reset_peer",
            Kind::Slicer { .. } => "slicer",
            Kind::LimitData { .. } => "limit_data",
        }
    }

    /// The attribute names of `type_name`, or `None` for an unknown type.
    pub fn attribute_names(type_name: &str) -> Option<&'static [&'static str]> {
        Some(match type_name {
            "latency" => &["latency", "jitter"],
            "bandwidth" => &["rate"],
            "slow_close" => &["delay"],
            "timeout" | "reset_peer" => &["timeout"],
            "slicer" => &["average_size", "size_variation", "delay"],
            "limit_data" => &["bytes"],
            _ => return None,
        })
    }

    /// The kind `type_name` with every attribute at Toxiproxy's default (0).
    pub fn default_of(type_name: &str) -> Result<Kind> {
        Ok(match type_name {
            "latency" => Kind::Latency {
                latency: 0,
                jitter: 0,
            },
            "bandwidth" => Kind::Bandwidth { rate: 0 },
            "slow_close" => Kind::SlowClose { delay: 0 },
            "timeout" => Kind::Timeout { timeout: 0 },
            "reset_peer" => Kind::ResetPeer { timeout: 0 },
            "slicer" => Kind::Slicer {
                average_size: 0,
                size_variation: 0,
                delay: 0,
            },
            "limit_data" => Kind::LimitData { bytes: 0 },
            other => {
                return Err(usage(format!(
                    "unknown toxic type '{other}'; valid types: {}",
                    TYPES.join(", ")
                )));
            }
        })
    }

    /// Set attribute `key` to `value`; an attribute this kind lacks is refused,
    /// naming the valid ones.
    pub fn set(&mut self, key: &str, value: u64) -> Result<()> {
        let type_name = self.type_name();
        let slot = match (self, key) {
            (Kind::Latency { latency, .. }, "latency") => latency,
            (Kind::Latency { jitter, .. }, "jitter") => jitter,
            (Kind::Bandwidth { rate }, "rate") => rate,
            (Kind::SlowClose { delay }, "delay") => delay,
            (Kind::Timeout { timeout }, "timeout") => timeout,
            (Kind::ResetPeer { timeout }, "timeout") => timeout,
            (Kind::Slicer { average_size, .. }, "average_size") => average_size,
            (Kind::Slicer { size_variation, .. }, "size_variation") => size_variation,
            (Kind::Slicer { delay, .. }, "delay") => delay,
            (Kind::LimitData { bytes }, "bytes") => bytes,
            _ => {
                let names = Kind::attribute_names(type_name).unwrap_or(&[]);
                return Err(usage(format!(
                    "toxic {type_name} has no attribute '{key}'; valid: {}, stream, toxicity, name",
                    names.join(", ")
                )));
            }
        };
        let (max, unit) = attribute_limit(type_name, key);
        if value > max {
            return Err(usage(format!(
                "toxic {type_name} {key}={value} is out of range; at most {max} {unit}"
            )));
        }
        *slot = value;
        Ok(())
    }

    /// The attributes as (name, value) pairs, in Toxiproxy's order.
    pub fn attributes(&self) -> Vec<(&'static str, u64)> {
        match *self {
            Kind::Latency { latency, jitter } => vec![("latency", latency), ("jitter", jitter)],
            Kind::Bandwidth { rate } => vec![("rate", rate)],
            Kind::SlowClose { delay } => vec![("delay", delay)],
            Kind::Timeout { timeout } | Kind::ResetPeer { timeout } => vec![("timeout", timeout)],
            Kind::Slicer {
                average_size,
                size_variation,
                delay,
            } => vec![
                ("average_size", average_size),
                ("size_variation", size_variation),
                ("delay", delay),
            ],
            Kind::LimitData { bytes } => vec![("bytes", bytes)],
        }
    }

    /// Values that make no sense together (checked after all attributes are set).
    fn check(&self) -> Result<()> {
        if let Kind::Slicer {
            average_size,
            size_variation,
            ..
        } = *self
        {
            if average_size == 0 {
                return Err(usage(
                    "toxic slicer needs average_size of at least 1 byte, e.g. slicer:average_size=64",
                ));
            }
            if size_variation >= average_size {
                return Err(usage(format!(
                    "toxic slicer: size_variation ({size_variation}) must be smaller than average_size ({average_size})"
                )));
            }
        }
        Ok(())
    }
}

/// One toxic: what it does, which way, how often, and its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Toxic {
    /// Unique within its proxy; defaults to `TYPE_STREAM` (`latency_downstream`), as in Toxiproxy.
    pub name: String,
    /// What it does.
    pub kind: Kind,
    /// Which way it acts.
    pub stream: Stream,
    /// The chance, from 0 to 1, that it acts on a given connection.
    pub toxicity: f64,
}

impl fmt::Display for Toxic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.name, self.kind.type_name())?;
        for (k, v) in self.kind.attributes() {
            write!(f, " {k}={v}")?;
        }
        write!(f, ", {}, toxicity {})", self.stream.name(), self.toxicity)
    }
}

impl Toxic {
    /// A toxic of `kind` on `stream`, always acting, with the default name.
    pub fn new(kind: Kind, stream: Stream) -> Toxic {
        Toxic {
            name: format!("{}_{}", kind.type_name(), stream.name()),
            kind,
            stream,
            toxicity: 1.0,
        }
    }

    /// Parse the command-line form `TYPE[:key=value,...]`: the type's attributes
    /// (whole numbers in Toxiproxy's units), and `stream=upstream|downstream`,
    /// `toxicity=0..1`, `name=NAME`. Unset attributes are 0, as in Toxiproxy.
    pub fn parse(spec: &str) -> Result<Toxic> {
        let spec = spec.trim();
        let (type_name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let mut kind = Kind::default_of(type_name.trim())
            .map_err(|e| usage(format!("--toxic '{spec}': {e}")))?;
        let (mut stream, mut toxicity, mut name) = (Stream::Downstream, 1.0, None);
        for pair in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(usage(format!(
                    "--toxic '{spec}': '{pair}' is not key=value; write it like latency:latency=200,jitter=50"
                )));
            };
            let (key, value) = (key.trim(), value.trim());
            let result = match key {
                "stream" => Stream::parse(value).map(|s| stream = s),
                "toxicity" => parse_toxicity(value).map(|t| toxicity = t),
                "name" if !value.is_empty() => {
                    name = Some(value.to_string());
                    Ok(())
                }
                "name" => Err(usage("a toxic name cannot be empty")),
                _ => parse_count(type_name, key, value).and_then(|v| kind.set(key, v)),
            };
            result.map_err(|e| usage(format!("--toxic '{spec}': {e}")))?;
        }
        kind.check()
            .map_err(|e| usage(format!("--toxic '{spec}': {e}")))?;
        let mut toxic = Toxic::new(kind, stream);
        toxic.toxicity = toxicity;
        if let Some(name) = name {
            toxic.name = name;
        }
        Ok(toxic)
    }

    /// Check a toxic built by hand or from JSON, as [`Toxic::parse`] checks its input.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.toxicity) {
            return Err(usage(format!(
                "toxicity {} of toxic {} is out of range; it is a probability from 0 to 1",
                self.toxicity, self.name
            )));
        }
        self.kind.check()
    }
}

impl Toxic {
    /// Toxiproxy's JSON shape: `{"name", "type", "stream", "toxicity", "attributes"}`.
    pub fn to_json(&self) -> serde_json::Value {
        let attributes: serde_json::Map<String, serde_json::Value> = self
            .kind
            .attributes()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        serde_json::json!({
            "name": self.name,
            "type": self.kind.type_name(),
            "stream": self.stream.name(),
            "toxicity": self.toxicity,
            "attributes": attributes,
        })
    }

    /// Read Toxiproxy's JSON shape (`type` required; `stream` defaults to
    /// downstream, `toxicity` to 1, `name` to `TYPE_STREAM`, attributes to 0).
    pub fn from_json(value: &serde_json::Value) -> Result<Toxic> {
        let obj = value.as_object().ok_or_else(|| {
            usage("a toxic must be a JSON object with \"type\" and \"attributes\"")
        })?;
        let type_name = obj.get("type").and_then(|v| v.as_str()).ok_or_else(|| {
            usage(format!(
                "a toxic needs a \"type\"; valid types: {}",
                TYPES.join(", ")
            ))
        })?;
        let mut kind = Kind::default_of(type_name)?;
        let stream = match obj.get("stream") {
            None | Some(serde_json::Value::Null) => Stream::Downstream,
            Some(v) => Stream::parse(v.as_str().unwrap_or(""))?,
        };
        let toxicity = match obj.get("toxicity") {
            None | Some(serde_json::Value::Null) => 1.0,
            Some(v) => v
                .as_f64()
                .ok_or_else(|| usage("toxicity must be a number from 0 to 1"))?,
        };
        if let Some(attrs) = obj.get("attributes").filter(|v| !v.is_null()) {
            let attrs = attrs
                .as_object()
                .ok_or_else(|| usage("\"attributes\" must be a JSON object"))?;
            for (key, v) in attrs {
                let n = v
                    .as_u64()
                    .or_else(|| {
                        v.as_f64()
                            .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                            .map(|f| f as u64)
                    })
                    .ok_or_else(|| {
                        usage(format!(
                            "{type_name} {key}={v} is not a whole number from 0 up"
                        ))
                    })?;
                kind.set(key, n)?;
            }
        }
        let mut toxic = Toxic::new(kind, stream);
        toxic.toxicity = toxicity;
        if let Some(name) = obj
            .get("name")
            .and_then(|v| v.as_str())
            .filter(|n| !n.is_empty())
        {
            toxic.name = name.to_string();
        }
        toxic.validate()?;
        Ok(toxic)
    }
}

/// A toxicity: a probability from 0 to 1.
fn parse_toxicity(value: &str) -> Result<f64> {
    match value.parse::<f64>() {
        Ok(t) if (0.0..=1.0).contains(&t) => Ok(t),
        _ => Err(usage(format!(
            "toxicity '{value}' is out of range; it is a probability from 0 to 1 (0.1 = one connection in ten)"
        ))),
    }
}

/// The largest value an attribute takes, and its unit: times up to 366 days
/// (as every wirekit duration), sizes up to 1 TiB and rates up to 1 TB/s, so
/// that no deadline or piece size computed from them can overflow.
fn attribute_limit(type_name: &str, key: &str) -> (u64, &'static str) {
    const DAYS_366_MS: u64 = 366 * 24 * 3600 * 1000;
    match (type_name, key) {
        ("bandwidth", _) => (1_000_000_000, "KB/s"),
        ("slicer", "delay") => (3_600_000_000, "microseconds (1 hour)"),
        ("slicer", _) => (1 << 40, "bytes"),
        ("limit_data", _) => (u64::MAX, "bytes"),
        _ => (DAYS_366_MS, "milliseconds (366 days)"),
    }
}

/// An attribute value: a whole number from 0 up.
fn parse_count(type_name: &str, key: &str, value: &str) -> Result<u64> {
    value.parse::<u64>().map_err(|_| {
        let unit = match (type_name, key) {
            ("bandwidth", _) => "KB/s",
            ("slicer", "delay") => "microseconds",
            ("slicer", _) | ("limit_data", _) => "bytes",
            _ => "milliseconds",
        };
        usage(format!(
            "{type_name} {key}='{value}' is not a whole number from 0 up (in {unit})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_toxiproxy_names_and_defaults() {
        let t = Toxic::parse("latency:latency=200,jitter=50").unwrap();
        assert_eq!(
            t.kind,
            Kind::Latency {
                latency: 200,
                jitter: 50
            }
        );
        assert_eq!(t.stream, Stream::Downstream);
        assert_eq!(t.name, "latency_downstream");
        assert_eq!(t.toxicity, 1.0);
        let t = Toxic::parse("reset_peer:timeout=0,toxicity=0.1,stream=upstream,name=rst").unwrap();
        assert_eq!(t.kind, Kind::ResetPeer { timeout: 0 });
        assert_eq!(
            (t.stream, t.toxicity, t.name.as_str()),
            (Stream::Upstream, 0.1, "rst")
        );
        assert_eq!(
            Toxic::parse("timeout").unwrap().kind,
            Kind::Timeout { timeout: 0 }
        );
    }

    #[test]
    fn bad_specs_name_the_culprit_and_the_choices() {
        let text = |s: &str| crate::error::one_line(&Toxic::parse(s).unwrap_err());
        assert!(
            text("lag:x=1").contains("unknown toxic type 'lag'; valid types: latency, bandwidth")
        );
        assert!(text("latency:rate=1").contains("no attribute 'rate'; valid: latency, jitter"));
        assert!(text("latency:stream=sideways").contains("valid streams: upstream"));
        assert!(text("latency:latency=18446744073709551615").contains(
            "latency=18446744073709551615 is out of range; at most 31622400000 milliseconds"
        ));
        assert!(text("bandwidth:rate=1000000000000").contains("at most 1000000000 KB/s"));
        assert!(text("slicer:average_size=1099511627777").contains("at most 1099511627776 bytes"));
        assert!(text("latency:toxicity=2").contains("from 0 to 1"));
        assert!(text("latency:latency=-5").contains("not a whole number"));
        assert!(text("slicer:average_size=0").contains("at least 1"));
        assert!(text("latency:200").contains("not key=value"));
        let e = Toxic::parse("bandwidth:rate=x").unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 2);
    }
}
