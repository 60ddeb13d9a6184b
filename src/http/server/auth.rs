//! `--auth user:pass` (HTTP Basic; also `user:sha256:HEX`) and `--token` (Bearer),
//! compared in constant time.

use crate::error::usage;
use crate::http::server::error::ServeError;
use anyhow::Result;
use base64::Engine;
use http::header::{self, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a Basic password is compared with.
enum Secret {
    Plain(Vec<u8>),
    Sha256([u8; 32]),
}

/// The credentials a server accepts: Basic, a bearer token, or either.
pub(crate) struct Auth {
    basic: Option<(Vec<u8>, Secret)>,
    token: Option<Vec<u8>>,
}

/// Who passed: the Basic user name, or `None` for a bearer token.
pub(crate) type User = Option<String>;

/// Missing or wrong credentials.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Denied;

impl Auth {
    /// From `--auth USER:PASS` (or `USER:sha256:HEX`) and `--token`; `None` when neither is given.
    pub(crate) fn new(auth: Option<&str>, token: Option<&str>) -> Result<Option<Auth>> {
        if auth.is_none() && token.is_none() {
            return Ok(None);
        }
        let basic = match auth {
            None => None,
            Some(spec) => {
                let (user, Some(rest)) = crate::http::credentials::split_user_pass(spec) else {
                    return Err(usage(format!(
                        "--auth '{spec}' has no password; write it as USER:PASS or USER:sha256:HEX"
                    )));
                };
                if user.is_empty() {
                    return Err(usage("--auth needs a user name before ':'"));
                }
                let secret = match rest.strip_prefix("sha256:") {
                    Some(hex) => Secret::Sha256(parse_hex32(hex).ok_or_else(|| {
                        usage(format!(
                            "--auth {user}:sha256:... needs 64 hex digits (the output of `printf %s PASS | sha256sum`)"
                        ))
                    })?),
                    None => Secret::Plain(rest.as_bytes().to_vec()),
                };
                Some((user.as_bytes().to_vec(), secret))
            }
        };
        if token == Some("") {
            return Err(usage("--token must not be empty"));
        }
        Ok(Some(Auth {
            basic,
            token: token.map(|t| t.as_bytes().to_vec()),
        }))
    }

    /// `Ok(user)` when the request carries valid credentials.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<User, Denied> {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes)
        else {
            return Err(Denied);
        };
        let (scheme, cred) = match value.iter().position(|&b| b == b' ') {
            Some(i) => (&value[..i], value[i + 1..].trim_ascii()),
            None => return Err(Denied),
        };
        if scheme.eq_ignore_ascii_case(b"bearer") {
            if let Some(token) = &self.token
                && bool::from(cred.ct_eq(token.as_slice()))
            {
                return Ok(None);
            }
            return Err(Denied);
        }
        if scheme.eq_ignore_ascii_case(b"basic") {
            let Some((user, secret)) = &self.basic else {
                return Err(Denied);
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(cred)
                .map_err(|_| Denied)?;
            let i = decoded.iter().position(|&b| b == b':').ok_or(Denied)?;
            let (u, p) = (&decoded[..i], &decoded[i + 1..]);
            let user_ok = u.ct_eq(user.as_slice());
            let pass_ok = match secret {
                Secret::Plain(pass) => p.ct_eq(pass.as_slice()),
                Secret::Sha256(hash) => Sha256::digest(p).as_slice().ct_eq(hash.as_slice()),
            };
            if bool::from(user_ok & pass_ok) {
                return Ok(Some(String::from_utf8_lossy(u).into_owned()));
            }
        }
        Err(Denied)
    }

    /// The 401 that asks for each accepted scheme.
    pub(crate) fn challenge(&self) -> ServeError {
        ServeError::Unauthorized {
            basic: self.basic.is_some(),
            bearer: self.token.is_some(),
        }
    }
}

/// 32 bytes written as 64 hex digits. No hex crate is in the dependency tree,
/// and one loop does not justify adding one.
fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {v}")).unwrap(),
        );
        h
    }

    #[test]
    fn checks() {
        let a = Auth::new(Some("me:secret"), Some("tok")).unwrap().unwrap();
        assert_eq!(a.check(&basic("me", "secret")), Ok(Some("me".into())));
        assert!(a.check(&basic("me", "wrong")).is_err());
        assert!(a.check(&basic("you", "secret")).is_err());
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tok"),
        );
        assert_eq!(a.check(&h), Ok(None));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tok2"),
        );
        assert!(a.check(&h).is_err());
        // sha256("secret")
        let hashed = Auth::new(
            Some("me:sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"),
            None,
        )
        .unwrap()
        .unwrap();
        assert!(hashed.check(&basic("me", "secret")).is_ok());
        assert!(hashed.check(&basic("me", "nope")).is_err());
        assert!(Auth::new(Some("nopass"), None).is_err());
        assert!(Auth::new(Some("u:sha256:zz"), None).is_err());
    }
}
