//! Small parsers and formatters shared by every command: durations, sizes, rates.

use std::time::Duration;

/// The longest duration any flag accepts: 366 days. Longer values would
/// overflow deadline arithmetic and are never what a user means.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parse `500ms`, `30s`, `5m`, `1h`, or a bare number of seconds (`1.5`).
///
/// Negative, NaN, infinite and out-of-range values (beyond [`MAX_DURATION`])
/// are rejected with a message naming the value and the accepted form.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let parsed = match t.parse::<f64>() {
        Ok(secs) if secs.is_nan() || secs.is_infinite() => {
            return Err(format!(
                "'{text}' is not a duration; write a finite number of seconds like 1.5, or 500ms, 30s, 5m"
            ));
        }
        Ok(secs) if secs < 0.0 => {
            return Err(format!(
                "'{text}' is negative; a duration must be 0 or more, like 500ms, 30s or 5m"
            ));
        }
        Ok(secs) => Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX),
        Err(_) => humantime::parse_duration(t).map_err(|e| {
            let why = e.to_string();
            if why.contains("overflow") || why.contains("too big") {
                format!("'{text}' is too long; the longest duration is 366d")
            } else {
                format!("'{text}' is not a duration; write it like 500ms, 30s, 5m or 1.5 (seconds)")
            }
        })?,
    };
    if parsed > MAX_DURATION {
        return Err(format!(
            "'{text}' is too long; the longest duration is 366d (31622400 seconds)"
        ));
    }
    Ok(parsed)
}

/// Parse a byte size: `1024`, `64K`, `256KiB`, `4M`, `1G`, `1.5GB`.
/// K, M, G, T are powers of 1024 with or without `iB`; `kB`, `MB`, `GB` are powers of 1000.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let err = || format!("'{text}' is not a size; write it like 65536, 64K, 4MiB or 1G");
    let value: f64 = num.parse().map_err(|_| err())?;
    let mult: u64 = match unit.trim() {
        "" | "B" | "b" => 1,
        "k" | "K" | "KiB" | "Ki" => 1 << 10,
        "M" | "MiB" | "Mi" => 1 << 20,
        "G" | "GiB" | "Gi" => 1 << 30,
        "T" | "TiB" | "Ti" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return Err(err()),
    };
    let bytes = value * mult as f64;
    // `u64::MAX as f64` rounds up to 2^64, which does not fit: refuse it too.
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
        return Err(err());
    }
    Ok(bytes as u64)
}

/// A human rate in bits per second, as iperf3 and ncat users read it.
pub fn format_bitrate(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let bits = bytes as f64 * 8.0 / secs;
    let (value, unit) = if bits >= 1e9 {
        (bits / 1e9, "Gbit/s")
    } else if bits >= 1e6 {
        (bits / 1e6, "Mbit/s")
    } else if bits >= 1e3 {
        (bits / 1e3, "kbit/s")
    } else {
        (bits, "bit/s")
    };
    format!("{value:.2} {unit}")
}

/// A human byte count: `1.50 MiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
        for bad in [
            "1e300",
            "nan",
            "NaN",
            "inf",
            "-inf",
            "-0.5",
            "400d",
            "99999999999999999999y",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
        assert!(parse_duration("1e300").unwrap_err().contains("too long"));
        assert!(parse_duration("-3").unwrap_err().contains("negative"));
        assert_eq!(parse_duration("366d"), Ok(MAX_DURATION));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2kB"), Ok(2000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("4X").is_err());
        // 2^64 bytes does not fit in a u64: refused, not saturated.
        assert!(parse_size("18446744073709551616").is_err());
        assert!(parse_size("16777216T").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.50 KiB");
        assert_eq!(
            format_bitrate(1_000_000_000, Duration::from_secs(8)),
            "1.00 Gbit/s"
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn duration_never_panics(text in "\\PC{0,24}") {
                let _ = parse_duration(&text);
            }

            #[test]
            fn duration_numbers_never_panic(secs in proptest::num::f64::ANY) {
                let got = parse_duration(&secs.to_string());
                if secs.is_finite() && secs >= 0.0 && secs <= MAX_DURATION.as_secs_f64() {
                    prop_assert!(got.is_ok());
                } else {
                    prop_assert!(got.is_err());
                }
            }

            #[test]
            fn duration_round_trips(ms in 0u64..31_622_400_000) {
                prop_assert_eq!(parse_duration(&format!("{ms}ms")), Ok(Duration::from_millis(ms)));
                let secs = ms / 1000;
                prop_assert_eq!(parse_duration(&format!("{secs}")), Ok(Duration::from_secs(secs)));
            }

            #[test]
            fn size_never_panics(text in "\\PC{0,24}") {
                let _ = parse_size(&text);
            }

            #[test]
            fn size_round_trips(n in 0u64..(1 << 40)) {
                prop_assert_eq!(parse_size(&n.to_string()), Ok(n));
                prop_assert_eq!(parse_size(&format!("{n}K")), Ok(n << 10));
            }
        }
    }
}
