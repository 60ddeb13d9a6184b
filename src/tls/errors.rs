//! Every TLS error sentence in one place: what failed, on which host, and what
//! to do about it, for servers (`describe_server_error`), clients
//! (`describe_client_error`), certificates and late client-certificate refusals.

use rustls::CertificateError;
use rustls::pki_types::UnixTime;
use std::fmt;
use std::io;

/// The server's certificate is not the one `--pin` names.
#[derive(Debug)]
pub(crate) struct PinMismatch {
    /// The pin given, as `sha256:AB:...`.
    pub(crate) pinned: String,
    /// The fingerprint of the certificate the server sent.
    pub(crate) actual: String,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fingerprint {} is not the pinned {}",
            self.actual, self.pinned
        )
    }
}

impl std::error::Error for PinMismatch {}

/// The chain the server sent ends at an issuer nobody vouches for.
#[derive(Debug)]
pub(crate) struct MissingIssuer {
    /// The distinguished name of that issuer (escaped).
    pub(crate) issuer: String,
    /// How many certificates the server sent.
    pub(crate) sent: usize,
    /// Whether the user gave `--cacert`.
    pub(crate) cacert_given: bool,
}

impl fmt::Display for MissingIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "issuer {} is neither sent nor trusted", self.issuer)
    }
}

impl std::error::Error for MissingIssuer {}

/// The rustls error inside an I/O error from tokio-rustls, if any.
pub(crate) fn rustls_error(err: &io::Error) -> Option<&rustls::Error> {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// A certificate time as RFC 3339, for "expired on ..." sentences.
fn date(t: &UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.as_secs() as i64)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{} (UNIX time)", t.as_secs()))
}

/// Why a server-side handshake failed, in words.
pub(crate) fn describe_server_error(err: &io::Error) -> String {
    match rustls_error(err) {
        Some(rustls::Error::NoCertificatesPresented) => {
            "the client sent no certificate, and --client-ca requires one".into()
        }
        Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            "the client's certificate was not issued by a CA in --client-ca".into()
        }
        Some(rustls::Error::InvalidCertificate(e)) => client_certificate_refused(e),
        Some(rustls::Error::AlertReceived(alert)) => format!(
            "the client refused the handshake (alert: {}); it probably does not trust this certificate: give it the CA (--cacert) or use --cert/--key from a CA it trusts",
            alert_text(*alert)
        ),
        Some(rustls::Error::PeerIncompatible(p)) => {
            use rustls::PeerIncompatible as P;
            match p {
                P::SignatureAlgorithmsExtensionRequired
                | P::Tls12NotOffered
                | P::Tls12NotOfferedOrEnabled
                | P::SupportedVersionsExtensionRequired => "the client offered only TLS 1.0/1.1 (or older); wirekit needs TLS 1.2 or later: upgrade or configure the client".into(),
                P::NoCipherSuitesInCommon | P::NoKxGroupsInCommon | P::NoSignatureSchemesInCommon => "no cipher suite in common: the client offered only suites, groups or signature schemes wirekit does not accept (it takes modern ECDHE suites with AES-GCM or ChaCha20); configure the client with a modern one".into(),
                other => format!("the client cannot speak TLS the way wirekit does ({other:?}); wirekit needs TLS 1.2/1.3 with modern cipher suites"),
            }
        }
        Some(rustls::Error::InvalidMessage(_))
        | Some(rustls::Error::InappropriateMessage { .. }) => {
            "the client does not speak TLS (plain text on a --tls port?)".into()
        }
        Some(e) => e.to_string(),
        None if err.kind() == io::ErrorKind::UnexpectedEof => {
            "the client closed the connection during the handshake".into()
        }
        None => err.to_string(),
    }
}

/// Why a client's certificate was refused (mTLS), in words.
fn client_certificate_refused(e: &CertificateError) -> String {
    match e {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the client's certificate has expired; the client needs a new one (`wirekit cert new NAME --ca ...`)".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "the client's certificate is not valid yet (check the clocks)".into()
        }
        CertificateError::BadSignature => {
            "the client's certificate has a bad signature (not signed by the CA it names)".into()
        }
        CertificateError::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
            "the client's certificate is a CA certificate, not a client certificate; issue one with `wirekit cert new NAME --ca CA.pem --ca-key CA-key.pem`".into()
        }
        CertificateError::Other(o) if format!("{o:?}").contains("RequiredEkuNotFound") => {
            "the client's certificate is not for client authentication (no clientAuth extended key usage); issue one with `wirekit cert new NAME --ca ...`".into()
        }
        other => format!("the client's certificate was refused ({other})"),
    }
}

/// Why the server's certificate was refused, naming `host` and the fix.
pub(crate) fn describe_certificate_error(host: &str, err: &CertificateError) -> String {
    let fix = "pass the CA that issued it with --cacert FILE, or skip checks with --insecure";
    match err {
        CertificateError::ExpiredContext { time, not_after } => format!(
            "the certificate of {host} expired on {} (it is now {}); renew it on the server (e.g. `wirekit cert new`), or skip checks with --insecure",
            date(not_after),
            date(time)
        ),
        CertificateError::Expired => format!(
            "the certificate of {host} has expired; renew it on the server (e.g. `wirekit cert new`), or skip checks with --insecure"
        ),
        CertificateError::NotValidYetContext { not_before, .. } => format!(
            "the certificate of {host} is not valid before {} (check this machine's clock), or skip checks with --insecure",
            date(not_before)
        ),
        CertificateError::NotValidYet => format!(
            "the certificate of {host} is not valid yet (check this machine's clock), or skip checks with --insecure"
        ),
        CertificateError::NotValidForNameContext { presented, .. } => format!(
            "wrong host name: the certificate of {host} is for {}, not {host}; connect by one of those names or set the expected one with --sni NAME (or skip checks with --insecure)",
            if presented.is_empty() {
                "no name at all".to_string()
            } else {
                presented.join(", ")
            }
        ),
        CertificateError::NotValidForName => format!(
            "wrong host name: the certificate of {host} is not for {host}; connect by a name it is for or set it with --sni NAME (or skip checks with --insecure)"
        ),
        CertificateError::UnknownIssuer => format!(
            "the certificate of {host} was issued by an unknown authority (self-signed or a private CA); {fix}"
        ),
        CertificateError::BadSignature => format!(
            "the certificate of {host} has a bad signature (not signed by the CA it names); {fix}"
        ),
        CertificateError::Other(o) => {
            if let Some(p) = o.0.downcast_ref::<PinMismatch>() {
                return format!(
                    "the certificate of {host} is not the pinned one: its SHA-256 fingerprint is {}, not {}; if the server's certificate changed on purpose, pin the new one with --pin {}",
                    p.actual, p.pinned, p.actual
                );
            }
            if let Some(m) = o.0.downcast_ref::<MissingIssuer>() {
                let sent = if m.sent == 1 {
                    "only its own certificate".to_string()
                } else {
                    format!("{} certificates", m.sent)
                };
                return if m.cacert_given {
                    format!(
                        "the certificate of {host} was issued by {}, an intermediate CA certificate that the server did not send (it sent {sent}) and --cacert does not hold; the server must send its full chain (its --cert file: leaf, then intermediates, e.g. `cat leaf.pem intermediate.pem > chain.pem`), or add the intermediate to --cacert",
                        m.issuer
                    )
                } else {
                    format!(
                        "the certificate of {host} was issued by an unknown authority ({}, not a trusted CA, and the server sent {sent}); if that is a private CA, {fix}; if it is an intermediate CA, the server must send its full chain (leaf, then intermediates)",
                        m.issuer
                    )
                };
            }
            if format!("{o:?}").contains("CaUsedAsEndEntity") {
                return format!(
                    "the certificate of {host} is a CA certificate, not a server certificate; trust that very certificate with --cacert FILE or --pin sha256:HEX, or give the server one signed by a CA (`wirekit cert new`)"
                );
            }
            format!("the certificate of {host} was refused: {o}; {fix}")
        }
        other => format!("the certificate of {host} was refused: {other}; {fix}"),
    }
}

/// How a client spells the flags the sentences name: `tcp connect` and `tls
/// inspect` say `--cacert FILE`, `--insecure`, `--sni NAME`; `http`/`fetch` say
/// `--verify CAFILE`, `--verify no`, `--resolve ...`.
pub(crate) struct Flags {
    /// Trust a CA file.
    pub(crate) cacert: &'static str,
    /// Check nothing.
    pub(crate) insecure: &'static str,
    /// Verify another name.
    pub(crate) sni: &'static str,
}

/// The flags of `tcp connect` and `tls inspect`, as the sentences are written.
const TLS_FLAGS: Flags = Flags {
    cacert: "--cacert FILE",
    insecure: "--insecure",
    sni: "--sni NAME",
};

/// [`describe_tls_error`] with the flags as `flags` spells them.
pub(crate) fn describe_tls_error_for(host: &str, err: &rustls::Error, flags: &Flags) -> String {
    let text = describe_tls_error(host, err);
    text.replace(TLS_FLAGS.cacert, flags.cacert)
        .replace(TLS_FLAGS.insecure, flags.insecure)
        .replace(TLS_FLAGS.sni, flags.sni)
}

/// Why a client-side handshake with `host` failed, from the rustls error: the
/// one mapping every client (and `tls inspect`) uses.
pub(crate) fn describe_tls_error(host: &str, err: &rustls::Error) -> String {
    use rustls::AlertDescription as A;
    match err {
        rustls::Error::InvalidCertificate(c) => describe_certificate_error(host, c),
        rustls::Error::AlertReceived(alert) => match alert {
            A::CertificateRequired => format!(
                "{host} requires a client certificate; give one with --cert FILE --key FILE"
            ),
            A::UnknownCA | A::BadCertificate | A::CertificateUnknown | A::DecryptError => format!(
                "{host} refused our client certificate (alert: {}); give one issued by a CA it trusts with --cert/--key",
                alert_text(*alert)
            ),
            A::CertificateExpired => format!(
                "{host} refused our client certificate: it has expired; renew it (`wirekit cert new`)"
            ),
            A::NoApplicationProtocol => {
                format!("{host} speaks none of the ALPN protocols offered; change --alpn")
            }
            A::ProtocolVersion => format!(
                "{host} does not speak TLS 1.2 or 1.3 (wirekit speaks only those); upgrade the server"
            ),
            A::HandshakeFailure | A::InsufficientSecurity => format!(
                "{host} and wirekit have no cipher suite or key exchange in common (wirekit offers only modern ECDHE suites with TLS 1.2/1.3); enable one on the server"
            ),
            _ => format!(
                "TLS handshake with {host} failed: the server sent the alert {}",
                alert_text(*alert)
            ),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("{host} does not answer with TLS (a plain-text server? drop --tls)")
        }
        rustls::Error::PeerIncompatible(p) => {
            use rustls::PeerIncompatible as P;
            match p {
                P::ServerDoesNotSupportTls12Or13 | P::ServerTlsVersionIsDisabledByOurConfig => {
                    format!(
                        "{host} does not speak TLS 1.2 or 1.3 (wirekit speaks only those); upgrade the server"
                    )
                }
                P::NoCipherSuitesInCommon
                | P::NoKxGroupsInCommon
                | P::NoSignatureSchemesInCommon => format!(
                    "{host} and wirekit have no cipher suite in common (wirekit offers only modern ECDHE suites with TLS 1.2/1.3); enable one on the server"
                ),
                other => format!(
                    "{host} cannot speak TLS the way wirekit does ({other:?}); wirekit speaks TLS 1.2/1.3 with modern cipher suites"
                ),
            }
        }
        e => format!("TLS handshake with {host} failed: {e}"),
    }
}

/// An alert as its RFC name (`unknown_ca`), not Rust's debug text.
fn alert_text(alert: rustls::AlertDescription) -> String {
    let debug = format!("{alert:?}");
    let mut out = String::new();
    let mut after_lower = false;
    for c in debug.chars() {
        if c.is_ascii_uppercase() && after_lower {
            out.push('_');
        }
        after_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Why a client-side handshake with `host` failed.
pub(crate) fn describe_client_error(host: &str, err: &io::Error) -> String {
    match rustls_error(err) {
        Some(e) => describe_tls_error(host, e),
        None if err.kind() == io::ErrorKind::UnexpectedEof => format!(
            "{host} closed the connection during the TLS handshake (not a TLS server, or it refused our certificate or protocol)"
        ),
        None => format!("TLS handshake with {host} failed: {err}"),
    }
}

/// In TLS 1.3 a server checks the client's certificate after the client's side
/// of the handshake is done, so its refusal arrives on the first read: say what it means.
pub(crate) fn explain_late_error(e: io::Error) -> io::Error {
    let text = match rustls_error(&e) {
        Some(r @ rustls::Error::AlertReceived(_)) => describe_tls_error("the server", r),
        _ => return e,
    };
    io::Error::new(e.kind(), text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;

    #[test]
    fn alerts_read_as_their_rfc_names() {
        use rustls::AlertDescription as A;
        assert_eq!(alert_text(A::UnknownCA), "unknown_ca");
        assert_eq!(alert_text(A::CertificateUnknown), "certificate_unknown");
        assert_eq!(alert_text(A::HandshakeFailure), "handshake_failure");
    }

    #[test]
    fn certificate_errors_name_host_and_fix() {
        let e = describe_certificate_error("h.test", &CertificateError::UnknownIssuer);
        assert!(e.contains("h.test") && e.contains("--cacert FILE") && e.contains("--insecure"));
        let e = describe_certificate_error(
            "h.test",
            &CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("h.test").expect("name").to_owned(),
                presented: vec!["other.test".into()],
            },
        );
        assert!(
            e.starts_with("wrong host name") && e.contains("other.test") && e.contains("--sni")
        );
    }
}
