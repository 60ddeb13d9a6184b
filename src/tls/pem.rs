//! PEM files and fingerprints: certificate chains, private keys, trust anchors.
//! A leaf of `tls/`: the configs and the PKI both read and name certificates here.

use anyhow::{Context, Result, anyhow};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// Every certificate in a PEM file (a chain: leaf first, then intermediates).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let data = std::fs::read(path)
        .with_context(|| format!("cannot read certificate file {}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow!(
                "{} is not a valid PEM certificate file: {e}",
                path.display()
            )
        })?;
    if certs.is_empty() {
        return Err(anyhow!(
            "{} holds no certificate (expected '-----BEGIN CERTIFICATE-----'); make one with `wirekit cert new`",
            path.display()
        ));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let data =
        std::fs::read(path).with_context(|| format!("cannot read key file {}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&data).map_err(|e| {
        anyhow!(
            "{} holds no usable private key (expected '-----BEGIN PRIVATE KEY-----' or an RSA/EC key): {e}",
            path.display()
        )
    })
}

/// A root store with the certificates of a PEM file.
pub(crate) fn roots_from(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    add_roots(&mut roots, path)?;
    Ok(roots)
}

/// Add the certificates of a PEM file to `roots` as trust anchors.
fn add_roots(roots: &mut RootCertStore, path: &Path) -> Result<()> {
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| {
            anyhow!(
                "{} holds a certificate that cannot be a trust anchor: {e}",
                path.display()
            )
        })?;
    }
    Ok(())
}

/// The trust anchors of every client: the bundled Mozilla roots plus `cacert`.
pub(crate) fn client_roots(cacert: Option<&Path>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = cacert {
        add_roots(&mut roots, path)?;
    }
    Ok(roots)
}

/// SHA-256 of a DER certificate as colon-separated upper-case hex (as openssl
/// prints it), so users can compare it with what other tools show.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
