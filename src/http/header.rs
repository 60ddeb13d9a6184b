//! Headers from text a user typed: `Name: value` flags (`serve --header`,
//! `fetch -H`) and the name/value pairs of a routes file, with one wording for
//! what is wrong.

use http::header::{HeaderName, HeaderValue};

/// A header from a name and a value; the error says which of the two is unusable.
pub fn pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let name = name.trim();
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("'{name}' is not a header name (letters, digits and -)"))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of {name} has characters a header cannot carry"))?;
    Ok((parsed, value))
}

/// A header written `Name: value`.
pub fn line(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("'{text}' has no ':'; write it like 'X-Frame-Options: DENY'"))?;
    pair(name, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let (n, v) = line(" X-Trace :  abc ").expect("header");
        assert_eq!((n.as_str(), v.to_str().ok()), ("x-trace", Some("abc")));
        assert!(line("no colon").unwrap_err().contains("no ':'"));
        assert!(
            line("bad name: x")
                .unwrap_err()
                .contains("not a header name")
        );
        assert!(line("X: a\nb").unwrap_err().contains("cannot carry"));
    }
}
