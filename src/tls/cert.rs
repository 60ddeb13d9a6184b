//! `wirekit cert`: make a local CA and leaf certificates (ECDSA P-256), as mkcert
//! does; and the certificate making the TLS server uses for its in-memory
//! self-signed certificate. Key files are written with mode 0600.

use crate::cli::{CertArgs, CertCaArgs, CertCommand, CertNewArgs};
use crate::error::usage;
use crate::tls::fingerprint;
use anyhow::{Context, Result, anyhow};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use ring::rand::SecureRandom;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// A certificate and its key, in PEM and DER.
pub struct Made {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: CertificateDer<'static>,
    pub key_der: PrivateKeyDer<'static>,
    pub not_after: OffsetDateTime,
}

pub fn run(args: &CertArgs) -> Result<()> {
    match &args.command {
        CertCommand::New(a) => new(a),
        CertCommand::Ca(a) => ca(a),
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

/// A CA loaded from its PEM certificate and key files, checked to belong together.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
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

/// Write `data` to `path` atomically; `secret` files (keys) get mode 0600.
pub fn write_file(path: &Path, data: &[u8], secret: bool) -> Result<()> {
    crate::disk::write_atomic(path, data, if secret { 0o600 } else { 0o644 })
}

fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// mkcert's file stem: the first name, `+N` for N more; `*` and `:` made safe.
fn file_stem(names: &[String]) -> String {
    let first = names.first().map(String::as_str).unwrap_or("cert");
    let safe = first
        .replace('*', "_wildcard")
        .replace([':', '/', '\\'], "_");
    if names.len() > 1 {
        format!("{safe}+{}", names.len() - 1)
    } else {
        safe
    }
}

fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output directory {}", dir.display()))
}

fn new(a: &CertNewArgs) -> Result<()> {
    if a.days == 0 {
        return Err(usage("--days must be at least 1"));
    }
    let made = match (&a.ca, &a.ca_key) {
        (Some(cert), Some(key)) => Ca::load(cert, key)?.sign_leaf(&a.names, a.days)?,
        _ => self_signed_leaf(&a.names, a.days)?,
    };
    ensure_dir(&a.out)?;
    let stem = file_stem(&a.names);
    let cert_path = a.out.join(format!("{stem}.pem"));
    let key_path = a.out.join(format!("{stem}-key.pem"));
    write_file(&key_path, made.key_pem.as_bytes(), true)?;
    write_file(&cert_path, made.cert_pem.as_bytes(), false)?;
    report(
        a.json,
        &cert_path,
        &key_path,
        &made,
        &a.names,
        a.ca.as_deref(),
    );
    Ok(())
}

fn ca(a: &CertCaArgs) -> Result<()> {
    if a.days == 0 {
        return Err(usage("--days must be at least 1"));
    }
    ensure_dir(&a.out)?;
    let cert_path = a.out.join("ca.pem");
    let key_path = a.out.join("ca-key.pem");
    if !a.force && (cert_path.exists() || key_path.exists()) {
        return Err(anyhow!(
            "{} already holds a CA ({}); keep using it, or replace it with --force (certificates it signed stop verifying)",
            a.out.display(),
            cert_path.display()
        ));
    }
    let name = match &a.name {
        Some(n) => n.clone(),
        None => {
            let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
            let host = dns_lookup::get_hostname().unwrap_or_else(|_| "localhost".into());
            format!("wirekit local CA {user}@{host}")
        }
    };
    let made = new_ca(&name, a.days)?;
    write_file(&key_path, made.key_pem.as_bytes(), true)?;
    write_file(&cert_path, made.cert_pem.as_bytes(), false)?;
    report(a.json, &cert_path, &key_path, &made, &[name], None);
    if !a.json {
        eprintln!(
            "wirekit: sign certificates with `wirekit cert new NAME --ca {} --ca-key {}`; clients trust them with --cacert {}",
            cert_path.display(),
            key_path.display(),
            cert_path.display()
        );
    }
    Ok(())
}

fn report(
    json: bool,
    cert: &PathBuf,
    key: &PathBuf,
    made: &Made,
    names: &[String],
    ca: Option<&Path>,
) {
    let fp = fingerprint(&made.cert_der);
    let until = rfc3339(made.not_after);
    if json {
        println!(
            "{}",
            json!({"cert": cert, "key": key, "names": names, "not_after": until,
                   "sha256": fp, "issuer": ca.map(|c| c.display().to_string())})
        );
    } else {
        println!("certificate {}", cert.display());
        println!("key         {} (mode 0600)", key.display());
        println!("names       {}", names.join(", "));
        println!("valid until {until}");
        match ca {
            Some(c) => println!("signed by   {}", c.display()),
            None => println!("signed by   itself"),
        }
        println!("sha256      {fp}");
    }
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
    fn stems_like_mkcert() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(file_stem(&names(&["localhost"])), "localhost");
        assert_eq!(
            file_stem(&names(&["localhost", "127.0.0.1", "::1"])),
            "localhost+2"
        );
        assert_eq!(
            file_stem(&names(&["*.example.test"])),
            "_wildcard.example.test"
        );
        assert_eq!(file_stem(&names(&["::1"])), "__1");
    }

    #[test]
    fn ca_signs_leaf_that_parses() {
        let ca = new_ca("test CA", 1).expect("ca");
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, k) = (dir.path().join("ca.pem"), dir.path().join("ca-key.pem"));
        write_file(&c, ca.cert_pem.as_bytes(), false).expect("write");
        write_file(&k, ca.key_pem.as_bytes(), true).expect("write");
        let leaf = Ca::load(&c, &k)
            .expect("load")
            .sign_leaf(&["a.test".into(), "10.0.0.1".into()], 2)
            .expect("sign");
        let (_, x) = x509_parser::parse_x509_certificate(&leaf.cert_der).expect("parse");
        assert!(x.issuer().to_string().contains("test CA"));
        assert!(!x.is_ca());
        // A key that is not the CA's is refused.
        let other = new_ca("other", 1).expect("ca");
        write_file(&k, other.key_pem.as_bytes(), true).expect("write");
        let err = Ca::load(&c, &k)
            .err()
            .expect("mismatch refused")
            .to_string();
        assert!(err.contains("does not belong"), "{err}");
    }
}
