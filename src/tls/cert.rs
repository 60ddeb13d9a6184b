//! The PKI behind `wirekit cert` (a local CA and leaf certificates, ECDSA
//! P-256, as mkcert makes them) and behind the TLS server's in-memory
//! self-signed certificate. Key files are written with mode 0600.

use super::pem::fingerprint;
use crate::error::usage;
use anyhow::{Context, Result, anyhow};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use ring::rand::SecureRandom;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::IpAddr;
use std::path::Path;
use time::{Duration, OffsetDateTime};

/// A certificate and its key, in PEM (for files) and DER (for rustls).
pub struct Made {
    /// The certificate in PEM.
    pub cert_pem: String,
    /// The private key in PEM (PKCS#8).
    pub key_pem: String,
    /// The certificate in DER.
    pub cert_der: CertificateDer<'static>,
    /// The private key in DER.
    pub key_der: PrivateKeyDer<'static>,
    /// The end of the certificate's validity.
    pub not_after: OffsetDateTime,
}

impl Made {
    /// Write the key (mode 0600, first: a certificate without its key is useless)
    /// and the certificate (0644) atomically.
    pub fn write(&self, cert: &Path, key: &Path) -> Result<()> {
        crate::disk::write_atomic(key, self.key_pem.as_bytes(), 0o600)?;
        crate::disk::write_atomic(cert, self.cert_pem.as_bytes(), 0o644)
    }
}

fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow!("the system random generator failed"))?;
    bytes[0] &= 0x7f; // a positive integer
    bytes[0] |= 0x01; // and no leading zero byte to trim
    Ok(SerialNumber::from_slice(&bytes))
}

fn p256() -> Result<KeyPair> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| anyhow!("cannot make an ECDSA P-256 key: {e}"))
}

/// Leaf parameters for `names` (host names and IP addresses), valid from an hour
/// ago (clock skew) for `days` days, for both server and client authentication.
pub fn leaf_params(names: &[String], days: u32) -> Result<CertificateParams> {
    if let Some(bad) = names.iter().find(|n| !valid_name(n)) {
        return Err(usage(format!(
            "'{bad}' is neither a host name nor an IP address; write names like localhost, api.example.test, *.example.test or 127.0.0.1"
        )));
    }
    let mut params = CertificateParams::new(names.to_vec()).map_err(|e| {
        usage(format!(
            "cannot make a certificate for {}: {e}; names are host names (a.example, *.example) or IP addresses",
            names.join(", ")
        ))
    })?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "wirekit development certificate");
    if let Some(first) = names.first() {
        dn.push(DnType::CommonName, first.clone());
    }
    params.distinguished_name = dn;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(i64::from(days));
    params.serial_number = Some(random_serial()?);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    Ok(params)
}

/// A host name (optionally `*.` wildcard) or an IP address.
fn valid_name(name: &str) -> bool {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let rest = name.strip_prefix("*.").unwrap_or(name);
    !rest.is_empty()
        && rest.len() <= 253
        && rest.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

fn made(cert: rcgen::Certificate, key: &KeyPair, not_after: OffsetDateTime) -> Made {
    Made {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().clone(),
        key_der: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        not_after,
    }
}

/// A self-signed ECDSA P-256 leaf for `names`.
pub fn self_signed_leaf(names: &[String], days: u32) -> Result<Made> {
    let mut params = leaf_params(names, days)?;
    // A self-signed leaf is its own trust anchor: no CA:false, which some verifiers reject there.
    params.is_ca = IsCa::NoCa;
    let key = p256()?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| anyhow!("cannot sign the certificate: {e}"))?;
    Ok(made(cert, &key, params.not_after))
}

/// A self-signed certificate made in memory, for a TLS server without `--cert`.
pub struct SelfSigned {
    /// The certificate in DER.
    pub cert: CertificateDer<'static>,
    /// Its private key.
    pub key: PrivateKeyDer<'static>,
    /// The names it is for.
    pub names: Vec<String>,
    /// Its SHA-256 fingerprint, for clients to pin.
    pub fingerprint: String,
}

/// A self-signed ECDSA P-256 certificate for localhost, 127.0.0.1, ::1 and
/// `host` (this machine's name when `host` is an unspecified address), valid 30 days.
pub fn self_signed(host: &str) -> Result<SelfSigned> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let host = host.trim_matches(|c| c == '[' || c == ']');
    let unspecified = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    if unspecified {
        // Bound to every interface: this machine's name is what clients will use.
        if let Ok(name) = dns_lookup::get_hostname() {
            names.push(name);
        }
    } else if !host.is_empty() {
        names.push(host.to_string());
    }
    let mut unique: Vec<String> = Vec::new();
    for n in names {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    let names = unique;
    let certified = self_signed_leaf(&names, 30)?;
    let fingerprint = fingerprint(&certified.cert_der);
    Ok(SelfSigned {
        cert: certified.cert_der,
        key: certified.key_der,
        names,
        fingerprint,
    })
}

/// A CA loaded from its PEM certificate and key files, checked to belong together.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// Load the CA from its PEM certificate and key (`ca.pem`, `ca-key.pem`).
    pub fn load(cert: &Path, key: &Path) -> Result<Ca> {
        let cert_pem = std::fs::read_to_string(cert)
            .with_context(|| format!("cannot read CA certificate {}", cert.display()))?;
        let key_pem = std::fs::read_to_string(key)
            .with_context(|| format!("cannot read CA key {}", key.display()))?;
        let key_pair = KeyPair::from_pem(&key_pem).map_err(|e| {
            anyhow!("{} is not a usable private key in PEM ({e}); give the ca-key.pem of `wirekit cert ca`", key.display())
        })?;
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
            .map(|d: CertificateDer<'static>| d)
            .map_err(|e| anyhow!("{} is not a PEM certificate: {e}", cert.display()))?;
        let (_, x509) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| anyhow!("{} is not a valid certificate: {e}", cert.display()))?;
        if !x509.is_ca() {
            return Err(anyhow!(
                "{} is not a CA certificate (no CA:true basic constraint); make one with `wirekit cert ca`",
                cert.display()
            ));
        }
        if x509.public_key().subject_public_key.data.as_ref() != key_pair.public_key_raw() {
            return Err(anyhow!(
                "the key {} does not belong to the CA certificate {}; give the matching --ca-key",
                key.display(),
                cert.display()
            ));
        }
        let issuer = Issuer::from_ca_cert_der(&der, key_pair)
            .map_err(|e| anyhow!("cannot use {} as a CA: {e}", cert.display()))?;
        Ok(Ca { issuer })
    }

    /// A leaf for `names` signed by this CA.
    pub fn sign_leaf(&self, names: &[String], days: u32) -> Result<Made> {
        let mut params = leaf_params(names, days)?;
        params.use_authority_key_identifier_extension = true;
        self.sign(&params)
    }

    /// Sign arbitrary parameters (tests use this for certificates with chosen dates).
    pub fn sign(&self, params: &CertificateParams) -> Result<Made> {
        let key = p256()?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| anyhow!("cannot sign the certificate: {e}"))?;
        Ok(made(cert, &key, params.not_after))
    }
}

/// A new local CA (ECDSA P-256) named `name`, valid for `days`.
pub fn new_ca(name: &str, days: u32) -> Result<Made> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "wirekit local CA");
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(i64::from(days));
    params.serial_number = Some(random_serial()?);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = p256()?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| anyhow!("cannot sign the CA certificate: {e}"))?;
    Ok(made(cert, &key, params.not_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "localhost",
            "a.example.test",
            "*.example.test",
            "127.0.0.1",
            "::1",
            "x_y.test",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "bad name", "a..b", "-a.test", "*.", "a/b", "ü.test"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn ca_signs_leaf_that_parses() {
        let ca = new_ca("test CA", 1).expect("ca");
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, k) = (dir.path().join("ca.pem"), dir.path().join("ca-key.pem"));
        ca.write(&c, &k).expect("write");
        let leaf = Ca::load(&c, &k)
            .expect("load")
            .sign_leaf(&["a.test".into(), "10.0.0.1".into()], 2)
            .expect("sign");
        let (_, x) = x509_parser::parse_x509_certificate(&leaf.cert_der).expect("parse");
        assert!(x.issuer().to_string().contains("test CA"));
        assert!(!x.is_ca());
        // A key that is not the CA's is refused.
        let other = new_ca("other", 1).expect("ca");
        crate::disk::write_atomic(&k, other.key_pem.as_bytes(), 0o600).expect("write");
        let err = Ca::load(&c, &k)
            .err()
            .expect("mismatch refused")
            .to_string();
        assert!(err.contains("does not belong"), "{err}");
    }

    #[test]
    fn self_signed_names_and_fingerprint() {
        let made = self_signed("myhost.test").expect("self-signed");
        assert_eq!(made.names, ["localhost", "127.0.0.1", "::1", "myhost.test"]);
        assert_eq!(made.fingerprint.len(), 32 * 3 - 1);
        assert!(
            made.fingerprint
                .chars()
                .all(|c| c == ':' || c.is_ascii_hexdigit())
        );
        let made = self_signed("127.0.0.1").expect("self-signed");
        assert_eq!(made.names, ["localhost", "127.0.0.1", "::1"]);
    }
}
