//! Range requests (RFC 9110 §14): parsing `Range: bytes=...`, and the 206 and
//! multipart/byteranges bodies built from a file.

use crate::http::server::body::Segment;
use bytes::Bytes;

/// At most this many ranges in one request; more are ignored (a full 200), as
/// nginx does, so a request cannot make us send a file many times over.
const MAX_RANGES: usize = 32;

#[derive(Debug, PartialEq, Eq)]
/// What a Range header asks of a file of known length.
pub(crate) enum Ranges {
    /// No usable Range header: send the whole file.
    Ignore,
    /// Syntactically fine but none overlaps the file: 416.
    Unsatisfiable,
    /// Inclusive `(first, last)` byte positions, in request order.
    Some(Vec<(u64, u64)>),
}

/// Parse a `Range` header value against a file of `len` bytes.
pub(crate) fn parse(header: &str, len: u64) -> Ranges {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ranges::Ignore;
    };
    let mut out = Vec::new();
    let mut total = 0u64;
    for part in spec.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((a, b)) = part.split_once('-') else {
            return Ranges::Ignore;
        };
        let (a, b) = (a.trim(), b.trim());
        let range = if a.is_empty() {
            // Suffix: the last N bytes.
            let Ok(n) = b.parse::<u64>() else {
                return Ranges::Ignore;
            };
            if n == 0 || len == 0 {
                None
            } else {
                Some((len.saturating_sub(n), len - 1))
            }
        } else {
            let Ok(first) = a.parse::<u64>() else {
                return Ranges::Ignore;
            };
            let last = if b.is_empty() {
                u64::MAX
            } else {
                match b.parse::<u64>() {
                    Ok(l) if l >= first => l,
                    _ => return Ranges::Ignore,
                }
            };
            if first >= len {
                None
            } else {
                Some((first, last.min(len - 1)))
            }
        };
        if let Some(r) = range {
            total = total.saturating_add(r.1 - r.0 + 1);
            out.push(r);
        }
        if out.len() > MAX_RANGES {
            return Ranges::Ignore;
        }
    }
    if out.is_empty() {
        return Ranges::Unsatisfiable;
    }
    if out.len() > 1 && total > len {
        // Overlapping ranges that add up to more than the file: just send it once.
        return Ranges::Ignore;
    }
    Ranges::Some(out)
}

/// The segments and total length of a multipart/byteranges body.
pub(crate) fn multipart(
    ranges: &[(u64, u64)],
    len: u64,
    content_type: &str,
    boundary: &str,
) -> (Vec<Segment>, u64) {
    let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut total = 0u64;
    for &(first, last) in ranges {
        let head = format!(
            "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {first}-{last}/{len}\r\n\r\n"
        );
        total += head.len() as u64 + (last - first + 1);
        segments.push(Segment::Bytes(Bytes::from(head)));
        segments.push(Segment::File {
            offset: first,
            len: last - first + 1,
        });
    }
    let tail = format!("\r\n--{boundary}--\r\n");
    total += tail.len() as u64;
    segments.push(Segment::Bytes(Bytes::from(tail)));
    (segments, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("bytes=0-9", 100), Ranges::Some(vec![(0, 9)]));
        assert_eq!(parse("bytes=90-", 100), Ranges::Some(vec![(90, 99)]));
        assert_eq!(parse("bytes=-10", 100), Ranges::Some(vec![(90, 99)]));
        assert_eq!(parse("bytes=-1000", 100), Ranges::Some(vec![(0, 99)]));
        assert_eq!(parse("bytes=95-200", 100), Ranges::Some(vec![(95, 99)]));
        assert_eq!(
            parse("bytes=0-1, 5-6", 100),
            Ranges::Some(vec![(0, 1), (5, 6)])
        );
        assert_eq!(parse("bytes=100-", 100), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 100), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=5-1", 100), Ranges::Ignore);
        assert_eq!(parse("items=0-1", 100), Ranges::Ignore);
        assert_eq!(parse("bytes=x-1", 100), Ranges::Ignore);
        assert_eq!(parse("bytes=0-99,0-99", 100), Ranges::Ignore);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// One range spec: `a-b`, `a-`, `-n`, with numbers near the file's end and huge ones.
        fn spec() -> impl Strategy<Value = String> {
            let n = prop_oneof![0u64..300, Just(u64::MAX), any::<u64>()];
            (prop::option::of(n.clone()), prop::option::of(n), "[ ]{0,2}").prop_map(
                |(a, b, pad)| match (a, b) {
                    (Some(a), Some(b)) => format!("{pad}{a}-{b}"),
                    (Some(a), None) => format!("{a}-{pad}"),
                    (None, Some(b)) => format!("-{b}"),
                    (None, None) => "-".to_string(),
                },
            )
        }

        fn check(r: &Ranges, len: u64) -> Result<(), TestCaseError> {
            if let Ranges::Some(list) = r {
                prop_assert!(!list.is_empty() && list.len() <= MAX_RANGES);
                for &(first, last) in list {
                    prop_assert!(first <= last && last < len, "{first}-{last} of {len}");
                }
            }
            Ok(())
        }

        proptest! {
            #[test]
            fn never_panics_and_stays_inside(text in "\\PC{0,40}", len in prop_oneof![0u64..300, any::<u64>()]) {
                let r = parse(&text, len);
                check(&r, len)?;
                let r = parse(&format!("bytes={text}"), len);
                check(&r, len)?;
            }

            #[test]
            fn well_formed_lists_stay_inside(
                specs in prop::collection::vec(spec(), 1..40),
                len in prop_oneof![0u64..300, Just(u64::MAX), any::<u64>()],
            ) {
                let header = format!("bytes={}", specs.join(","));
                let r = parse(&header, len);
                check(&r, len)?;
                // A single satisfiable a-b within the file is exactly that.
                if specs.len() == 1
                    && let Some((a, b)) = specs[0].trim().split_once('-')
                    && let (Ok(a), Ok(b)) = (a.trim().parse::<u64>(), b.trim().parse::<u64>())
                    && a <= b && b < len
                {
                    prop_assert_eq!(r, Ranges::Some(vec![(a, b)]));
                }
            }
        }
    }
}
