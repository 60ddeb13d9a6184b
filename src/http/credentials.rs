//! `USER:PASS` as users type it for `http -a` and `serve --auth`: one split for both,
//! so the client and the server agree on where the user name ends.

/// The user name and, after the first `:`, the password (`None` without a `:`).
/// A password may itself contain `:`; the server reads `sha256:HEX` from it.
pub fn split_user_pass(text: &str) -> (&str, Option<&str>) {
    match text.split_once(':') {
        Some((user, pass)) => (user, Some(pass)),
        None => (text, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_colon() {
        assert_eq!(split_user_pass("ann:s3:cret"), ("ann", Some("s3:cret")));
        assert_eq!(split_user_pass("ann:"), ("ann", Some("")));
        assert_eq!(split_user_pass("ann"), ("ann", None));
        assert_eq!(split_user_pass(":x"), ("", Some("x")));
    }
}
