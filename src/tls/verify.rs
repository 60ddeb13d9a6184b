//! What a client checks of the server's certificate: strictly (the default),
//! nothing (`--insecure`), or everything while completing the handshake anyway
//! and recording the verdict (`tls inspect`).

use super::pem::client_roots;
use super::provider;
use anyhow::{Context, Result};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A verifier that never fails the handshake: with `inner` it records whether
/// webpki would have accepted the chain (for `tls inspect`); without it,
/// `--insecure`. Handshake signatures are always checked.
#[derive(Debug)]
pub(crate) struct Lenient {
    inner: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    outcome: Mutex<Option<Result<(), rustls::Error>>>,
}

impl Lenient {
    /// A verifier that checks nothing but handshake signatures (`--insecure`).
    pub(crate) fn nothing() -> Lenient {
        Lenient {
            inner: None,
            algorithms: provider().signature_verification_algorithms,
            outcome: Mutex::new(None),
        }
    }

    /// A recording verifier for `tls inspect`, trusting the bundled roots and `cacert`.
    pub(crate) fn recording(cacert: Option<&Path>) -> Result<Arc<Lenient>> {
        let inner = WebPkiServerVerifier::builder_with_provider(
            Arc::new(client_roots(cacert)?),
            provider(),
        )
        .build()
        .context("building the certificate verifier")?;
        Ok(Arc::new(Lenient {
            inner: Some(inner),
            ..Lenient::nothing()
        }))
    }

    /// The verdict of the real verifier, once the handshake has got that far.
    pub(crate) fn outcome(&self) -> Option<Result<(), rustls::Error>> {
        self.outcome.lock().ok().and_then(|o| o.clone())
    }
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(inner) = &self.inner {
            let verdict = inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
                .map(|_| ());
            if let Ok(mut o) = self.outcome.lock() {
                *o = Some(verdict);
            }
        }
        Ok(ServerCertVerified::assertion())
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

/// What to check of the server's certificate.
pub(crate) enum Verify {
    /// Refuse a chain that does not verify (the default).
    Strict,
    /// Check nothing (`--insecure`).
    Nothing,
    /// Complete the handshake whatever the chain, and record the verdict (`tls inspect`).
    Record(Arc<Lenient>),
}
