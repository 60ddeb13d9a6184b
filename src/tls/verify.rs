//! What every client checks of the server's certificate, in one verifier
//! ([`Checker`]) used by `tcp connect`, `http`, `fetch` and `tls inspect`:
//! - by default, the chain against the bundled roots and `--cacert`, its dates
//!   and the name; a server certificate that is itself one of the `--cacert`
//!   certificates (OpenSSL 3's `req -x509` marks those CA:TRUE) is accepted after
//!   its dates and name are checked, as curl does;
//! - with `--pin sha256:HEX`, exactly the certificate with that fingerprint,
//!   its dates and name (the pin replaces the question of who issued it);
//! - with `--insecure`, nothing;
//! - for `tls inspect`, all of that, recording the verdict instead of failing.
//!
//! Handshake signatures are always checked.

use super::errors::{MissingIssuer, PinMismatch};
use super::names::{distinguished_name, names_of};
use super::pem::{client_roots, load_certs};
use super::{TlsClientOptions, provider};
use anyhow::{Context, Result};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A SHA-256 certificate fingerprint to pin (`--pin sha256:HEX`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Pin(pub [u8; 32]);

impl Pin {
    /// Parse `sha256:HEX` (the `sha256:` prefix optional): 64 hex digits in
    /// either case, colons allowed (as `openssl x509 -fingerprint -sha256` and
    /// wirekit's own fingerprints print them).
    pub fn parse(text: &str) -> Result<Pin, String> {
        let bad = || {
            format!(
                "'{text}' is not a SHA-256 fingerprint; write it as sha256:HEX (64 hex digits, colons allowed), as `wirekit tls inspect` or `openssl x509 -noout -fingerprint -sha256` prints it"
            )
        };
        let t = text.trim();
        let hex = match t.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("sha256:") => &t[7..],
            _ => t,
        };
        let digits: Vec<u8> = hex.bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).map_err(|_| bad())?;
            out[i] = u8::from_str_radix(s, 16).map_err(|_| bad())?;
        }
        Ok(Pin(out))
    }

    /// Whether `der` is the pinned certificate.
    fn matches(&self, der: &[u8]) -> bool {
        ring::digest::digest(&ring::digest::SHA256, der).as_ref() == self.0
    }
}

/// As wirekit prints fingerprints: `sha256:AB:CD:...`.
impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The one server-certificate verifier of every client.
#[derive(Debug)]
pub(crate) struct Checker {
    /// The chain check; `None` with `--insecure`.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// The `--cacert` certificates, accepted as the server's own certificate.
    trusted: Vec<CertificateDer<'static>>,
    /// Whether `--cacert` was given (for the missing-intermediate sentence).
    cacert_given: bool,
    pin: Option<Pin>,
    /// `tls inspect`: record the verdict and let the handshake go on.
    record: Option<Mutex<Option<Result<(), rustls::Error>>>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Checker {
    /// The verifier for `args`; with `record`, one that never fails the
    /// handshake and keeps the verdict for [`Checker::outcome`].
    pub(crate) fn new(args: &TlsClientOptions, record: bool) -> Result<Arc<Checker>> {
        let algorithms = provider().signature_verification_algorithms;
        let record = record.then(|| Mutex::new(None));
        if args.insecure && record.is_none() {
            return Ok(Arc::new(Checker {
                webpki: None,
                trusted: Vec::new(),
                cacert_given: false,
                pin: None,
                record,
                algorithms,
            }));
        }
        let cacert = args.cacert.as_deref();
        let webpki = WebPkiServerVerifier::builder_with_provider(
            Arc::new(client_roots(cacert)?),
            provider(),
        )
        .build()
        .context("building the certificate verifier")?;
        let trusted = cacert.map(load_certs).transpose()?.unwrap_or_default();
        Ok(Arc::new(Checker {
            webpki: Some(webpki),
            trusted,
            cacert_given: cacert.is_some(),
            pin: args.pin,
            record,
            algorithms,
        }))
    }

    /// The verdict, once the handshake has got that far (recording verifiers).
    pub(crate) fn outcome(&self) -> Option<Result<(), rustls::Error>> {
        self.record
            .as_ref()
            .and_then(|r| r.lock().ok().and_then(|o| o.clone()))
    }

    /// Every check but the handshake signature.
    fn check(
        &self,
        webpki: &WebPkiServerVerifier,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        if let Some(pin) = &self.pin {
            if !pin.matches(end_entity) {
                return Err(other(PinMismatch {
                    pinned: pin.to_string(),
                    actual: format!("sha256:{}", super::pem::fingerprint(end_entity)),
                }));
            }
            return check_alone(end_entity, name, now);
        }
        match webpki.verify_server_cert(end_entity, intermediates, name, ocsp, now) {
            Ok(_) => Ok(()),
            Err(_)
                if self
                    .trusted
                    .iter()
                    .any(|t| t.as_ref() == end_entity.as_ref()) =>
            {
                check_alone(end_entity, name, now)
            }
            Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
                Err(missing_issuer(end_entity, intermediates, self.cacert_given))
            }
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected,
                ..
            })) => Err(wrong_name(expected, end_entity)),
            Err(e) => Err(e),
        }
    }
}

fn other<E: std::error::Error + Send + Sync + 'static>(e: E) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
}

/// The name error with the certificate's names as a person writes them
/// (`localhost, 127.0.0.1`), not webpki's debug text.
fn wrong_name(expected: ServerName<'static>, der: &[u8]) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
        expected,
        presented: names_of(der),
    })
}

/// A certificate trusted by itself (one of `--cacert`, or pinned): its dates and name.
fn check_alone(
    der: &CertificateDer<'_>,
    name: &ServerName<'_>,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let (_, x) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let secs = |t: &x509_parser::time::ASN1Time| {
        UnixTime::since_unix_epoch(Duration::from_secs(t.timestamp().max(0) as u64))
    };
    let validity = x.validity();
    if validity.not_after.timestamp() < now.as_secs() as i64 {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: now,
                not_after: secs(&validity.not_after),
            },
        ));
    }
    if validity.not_before.timestamp() > now.as_secs() as i64 {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYetContext {
                time: now,
                not_before: secs(&validity.not_before),
            },
        ));
    }
    let parsed = rustls::server::ParsedCertificate::try_from(der)?;
    rustls::client::verify_server_name(&parsed, name).map_err(|e| match e {
        rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected,
            ..
        }) => wrong_name(expected, der),
        e => e,
    })
}

/// An unknown issuer, named: the issuer of the last certificate the server sent.
fn missing_issuer(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    cacert_given: bool,
) -> rustls::Error {
    let top = intermediates.last().unwrap_or(end_entity);
    let Ok((_, x)) = x509_parser::parse_x509_certificate(top) else {
        return rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
    };
    if x.subject() == x.issuer() {
        // Self-signed: there is no issuer to send; the general sentence fits.
        return rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
    }
    other(MissingIssuer {
        issuer: distinguished_name(x.issuer()),
        sent: 1 + intermediates.len(),
        cacert_given,
    })
}

impl ServerCertVerifier for Checker {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = match &self.webpki {
            Some(w) => self.check(w, end_entity, intermediates, server_name, ocsp, now),
            None => Ok(()),
        };
        match &self.record {
            Some(slot) => {
                if let Ok(mut o) = slot.lock() {
                    *o = Some(verdict);
                }
                Ok(ServerCertVerified::assertion())
            }
            None => verdict.map(|()| ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::Pin;

    #[test]
    fn pins_parse_like_openssl_prints_them() {
        let hex = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        let a = Pin::parse(&format!("sha256:{hex}")).expect("plain");
        assert_eq!(Pin::parse(&format!("SHA256:{colons}")), Ok(a));
        assert_eq!(Pin::parse(&colons), Ok(a));
        assert!(a.to_string().starts_with("sha256:AB:AB"));
        assert!(Pin::parse("sha256:abcd").is_err());
        assert!(Pin::parse(&format!("sha256:{}", "zz".repeat(32))).is_err());
        assert!(Pin::parse("sha256:ä").is_err());
    }
}
