//! Conditional requests (RFC 9110 §13): the one evaluator of If-Match,
//! If-Unmodified-Since, If-None-Match and If-Modified-Since, in the order of
//! §13.2.2, for reads (GET/HEAD of a file) and writes (PUT of an upload) alike;
//! and If-Range for ranges.

use http::header::{self, HeaderMap};
use std::time::UNIX_EPOCH;

/// The representation a request is evaluated against, when the target exists.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Current<'a> {
    /// Its entity tag as sent in `ETag`, quotes included, without any `W/`.
    pub(crate) tag: &'a [u8],
    /// Whether that tag is weak (a compressed variant): then no strong comparison matches.
    pub(crate) weak: bool,
    /// Its modification time in whole seconds, when known.
    pub(crate) mtime_secs: Option<u64>,
}

/// What the preconditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go on with the request as if there were no conditions.
    Proceed,
    /// 304: the client's copy is current (GET/HEAD only).
    NotModified,
    /// 412: a precondition is false.
    Failed,
}

/// Evaluate the preconditions of `headers` against `current` (`None`: the
/// target does not exist), for a safe method (GET/HEAD) when `safe`, else a
/// write. RFC 9110 §13.2.2, steps 1 to 4.
pub(crate) fn evaluate(headers: &HeaderMap, current: Option<Current<'_>>, safe: bool) -> Verdict {
    // Most requests have no precondition: one pass over their few fields is
    // cheaper than four hashed lookups (~300 instructions a request, callgrind).
    if !headers.keys().any(|k| {
        k == header::IF_MATCH
            || k == header::IF_NONE_MATCH
            || k == header::IF_MODIFIED_SINCE
            || k == header::IF_UNMODIFIED_SINCE
    }) {
        return Verdict::Proceed;
    }
    // Step 1 and 2: If-Match, else If-Unmodified-Since.
    if let Some(v) = headers.get(header::IF_MATCH) {
        let matched = match current {
            None => false,
            Some(c) => any_tag(v.as_bytes(), |tag, weak| {
                tag == b"*" || (!weak && !c.weak && tag == c.tag)
            }),
        };
        if !matched {
            return Verdict::Failed;
        }
    } else if let Some(since) = date(headers, header::IF_UNMODIFIED_SINCE)
        && let Some(mtime) = current.and_then(|c| c.mtime_secs)
        && mtime > since
    {
        return Verdict::Failed;
    }
    // Step 3 and 4: If-None-Match, else If-Modified-Since (GET/HEAD only).
    let unchanged = if let Some(v) = headers.get(header::IF_NONE_MATCH) {
        current.is_some_and(|c| any_tag(v.as_bytes(), |tag, _| tag == b"*" || tag == c.tag))
    } else if safe && let Some(since) = date(headers, header::IF_MODIFIED_SINCE) {
        current
            .and_then(|c| c.mtime_secs)
            .is_some_and(|mtime| mtime <= since)
    } else {
        false
    };
    match (unchanged, safe) {
        (false, _) => Verdict::Proceed,
        (true, true) => Verdict::NotModified,
        (true, false) => Verdict::Failed,
    }
}

/// Whether If-Range (absent, a strong ETag, or the exact Last-Modified date)
/// lets a Range apply to `current`; `last_modified` is its Last-Modified value.
pub(crate) fn range_applies(
    headers: &HeaderMap,
    current: Current<'_>,
    last_modified: Option<&[u8]>,
) -> bool {
    let Some(v) = headers.get(header::IF_RANGE) else {
        return true;
    };
    let v = v.as_bytes();
    if v.starts_with(b"\"") {
        !current.weak && v == current.tag
    } else if v.starts_with(b"W/") {
        false
    } else {
        last_modified.is_some_and(|lm| lm == v)
    }
}

/// A date header as seconds since the epoch; `None` when absent or not an HTTP-date (then ignored).
fn date(headers: &HeaderMap, name: header::HeaderName) -> Option<u64> {
    let t = httpdate::parse_http_date(headers.get(name)?.to_str().ok()?).ok()?;
    Some(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// Whether `found` holds for any member of an entity-tag list (`*` or
/// `[W/]"opaque", ...`); `found` gets the tag with its quotes and whether it was
/// weak. A malformed member ends the list (what came before still counts).
fn any_tag(list: &[u8], mut found: impl FnMut(&[u8], bool) -> bool) -> bool {
    let mut rest = list;
    loop {
        rest = trim_start(rest);
        while let [b',', tail @ ..] = rest {
            rest = trim_start(tail);
        }
        if rest.is_empty() {
            return false;
        }
        if let [b'*', tail @ ..] = rest {
            if found(b"*", false) {
                return true;
            }
            rest = tail;
            continue;
        }
        let weak = rest.starts_with(b"W/");
        if weak {
            rest = &rest[2..];
        }
        if rest.first() != Some(&b'"') {
            return false;
        }
        let Some(end) = rest[1..].iter().position(|&b| b == b'"') else {
            return false;
        };
        let (tag, tail) = rest.split_at(end + 2);
        if found(tag, weak) {
            return true;
        }
        rest = tail;
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| matches!(c, b' ' | b'\t')).count();
    &b[n..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const TAG: &[u8] = b"\"abc\"";
    const MTIME: u64 = 1_000_000_000; // Sun, 09 Sep 2001 01:46:40 GMT
    const AT: &str = "Sun, 09 Sep 2001 01:46:40 GMT";
    const BEFORE: &str = "Sun, 09 Sep 2001 01:46:39 GMT";

    fn cur(weak: bool) -> Option<Current<'static>> {
        Some(Current {
            tag: TAG,
            weak,
            mtime_secs: Some(MTIME),
        })
    }

    fn h(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        m
    }

    use Verdict::*;
    use header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};

    #[test]
    fn no_conditions_proceed() {
        assert_eq!(evaluate(&h(&[]), cur(false), true), Proceed);
        assert_eq!(evaluate(&h(&[]), None, false), Proceed);
    }

    #[test]
    fn if_match_is_strong_and_needs_a_representation() {
        let e = |v: &str, c, safe| evaluate(&h(&[(IF_MATCH, v)]), c, safe);
        assert_eq!(e("\"abc\"", cur(false), false), Proceed);
        assert_eq!(e("\"x\", \"abc\"", cur(false), true), Proceed);
        assert_eq!(e("\"wrong\"", cur(false), false), Failed);
        assert_eq!(e("\"wrong\"", cur(false), true), Failed);
        assert_eq!(
            e("W/\"abc\"", cur(false), false),
            Failed,
            "weak never matches strongly"
        );
        assert_eq!(
            e("\"abc\"", cur(true), true),
            Failed,
            "a weak current tag neither"
        );
        assert_eq!(e("*", cur(false), false), Proceed);
        assert_eq!(e("*", None, false), Failed, "If-Match on a missing file");
        assert_eq!(e("\"abc\"", None, false), Failed);
        assert_eq!(e("garbage", cur(false), false), Failed);
    }

    #[test]
    fn if_unmodified_since() {
        let e = |v: &str, c| evaluate(&h(&[(IF_UNMODIFIED_SINCE, v)]), c, false);
        assert_eq!(e(AT, cur(false)), Proceed);
        assert_eq!(e(BEFORE, cur(false)), Failed);
        assert_eq!(e("not a date", cur(false)), Proceed, "ignored");
        assert_eq!(e(BEFORE, None), Proceed, "no date to compare");
        // Ignored when If-Match is present (§13.1.4).
        let both = h(&[(IF_MATCH, "\"abc\""), (IF_UNMODIFIED_SINCE, BEFORE)]);
        assert_eq!(evaluate(&both, cur(false), false), Proceed);
    }

    #[test]
    fn if_none_match_is_weak_and_304_or_412() {
        let e = |v: &str, c, safe| evaluate(&h(&[(IF_NONE_MATCH, v)]), c, safe);
        assert_eq!(e("\"abc\"", cur(false), true), NotModified);
        assert_eq!(e("W/\"abc\"", cur(false), true), NotModified);
        assert_eq!(e("\"abc\"", cur(true), true), NotModified);
        assert_eq!(e("\"a\",W/\"abc\"", cur(false), true), NotModified);
        assert_eq!(e("\"other\"", cur(false), true), Proceed);
        assert_eq!(e("*", cur(false), true), NotModified);
        assert_eq!(
            e("*", cur(false), false),
            Failed,
            "PUT If-None-Match: * on a file"
        );
        assert_eq!(e("*", None, false), Proceed, "create only if missing");
        assert_eq!(e("\"abc\"", cur(false), false), Failed);
    }

    #[test]
    fn if_modified_since_only_for_reads_and_without_if_none_match() {
        let e = |v: &str, safe| evaluate(&h(&[(IF_MODIFIED_SINCE, v)]), cur(false), safe);
        assert_eq!(e(AT, true), NotModified);
        assert_eq!(e(BEFORE, true), Proceed);
        assert_eq!(e(AT, false), Proceed, "ignored for writes");
        assert_eq!(e("yesterday", true), Proceed);
        let both = h(&[(IF_NONE_MATCH, "\"other\""), (IF_MODIFIED_SINCE, AT)]);
        assert_eq!(evaluate(&both, cur(false), true), Proceed, "INM wins");
    }

    #[test]
    fn precedence_if_match_before_if_none_match() {
        let hm = h(&[(IF_MATCH, "\"wrong\""), (IF_NONE_MATCH, "\"abc\"")]);
        assert_eq!(evaluate(&hm, cur(false), true), Failed);
        let hm = h(&[(IF_UNMODIFIED_SINCE, BEFORE), (IF_MODIFIED_SINCE, AT)]);
        assert_eq!(evaluate(&hm, cur(false), true), Failed);
    }

    #[test]
    fn if_range() {
        let lm = Some(AT.as_bytes());
        let r = |v: &str, weak| range_applies(&h(&[(header::IF_RANGE, v)]), cur(weak).unwrap(), lm);
        assert!(range_applies(&h(&[]), cur(false).unwrap(), lm));
        assert!(r("\"abc\"", false));
        assert!(!r("\"abc\"", true));
        assert!(!r("\"x\"", false));
        assert!(!r("W/\"abc\"", false));
        assert!(r(AT, false));
        assert!(!r(BEFORE, false));
    }
}
