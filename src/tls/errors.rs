//! Every TLS error sentence in one place: what failed, on which host, and what
//! to do about it, for servers (`describe_server_error`), clients
//! (`describe_client_error`), certificates and late client-certificate refusals.

use rustls::CertificateError;
use rustls::pki_types::UnixTime;
use std::io;

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
        Some(rustls::Error::InvalidCertificate(e)) => {
            format!("the client's certificate was refused: {e}")
        }
        Some(rustls::Error::AlertReceived(alert)) => format!(
            "the client refused the handshake ({alert:?}); it probably does not trust this certificate: give it the CA (--cacert) or use --cert/--key from a CA it trusts"
        ),
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
        other => format!("the certificate of {host} was refused: {other}; {fix}"),
    }
}

/// Why a client-side handshake with `host` failed.
pub(crate) fn describe_client_error(host: &str, err: &io::Error) -> String {
    match rustls_error(err) {
        Some(rustls::Error::InvalidCertificate(c)) => describe_certificate_error(host, c),
        Some(rustls::Error::AlertReceived(alert)) => {
            use rustls::AlertDescription as A;
            match alert {
                A::CertificateRequired => format!(
                    "{host} requires a client certificate; give one with --cert FILE --key FILE"
                ),
                A::UnknownCA | A::BadCertificate | A::CertificateUnknown => format!(
                    "{host} refused our client certificate ({alert:?}); give one issued by a CA it trusts with --cert/--key"
                ),
                A::NoApplicationProtocol => {
                    format!("{host} speaks none of the ALPN protocols offered; change --alpn")
                }
                A::ProtocolVersion => format!("{host} does not speak TLS 1.2 or 1.3"),
                _ => format!("TLS handshake with {host} failed: the server sent alert {alert:?}"),
            }
        }
        Some(rustls::Error::InvalidMessage(_))
        | Some(rustls::Error::InappropriateMessage { .. }) => {
            format!("{host} does not answer with TLS (a plain-text server? drop --tls)")
        }
        Some(e) => format!("TLS handshake with {host} failed: {e}"),
        None if err.kind() == io::ErrorKind::UnexpectedEof => format!(
            "{host} closed the connection during the TLS handshake (not a TLS server, or it refused our certificate or protocol)"
        ),
        None => format!("TLS handshake with {host} failed: {err}"),
    }
}

/// In TLS 1.3 a server checks the client's certificate after the client's side
/// of the handshake is done, so its refusal arrives on the first read: say what it means.
pub(crate) fn explain_late_error(e: io::Error) -> io::Error {
    use rustls::AlertDescription as A;
    let text = match rustls_error(&e) {
        Some(rustls::Error::AlertReceived(A::CertificateRequired)) => {
            "the server requires a client certificate; give one with --cert FILE --key FILE"
                .to_string()
        }
        Some(rustls::Error::AlertReceived(
            a @ (A::UnknownCA | A::BadCertificate | A::CertificateUnknown | A::DecryptError),
        )) => {
            format!(
                "the server refused our client certificate ({a:?}); give one issued by a CA it trusts with --cert/--key"
            )
        }
        _ => return e,
    };
    io::Error::new(e.kind(), text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;

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
