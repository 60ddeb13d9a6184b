//! `wirekit tls inspect`: connect, complete the handshake whatever the
//! certificate, and report the protocol, the cipher suite, ALPN, every
//! certificate of the chain and whether (and why not) it verifies.

use crate::cli::{TlsArgs, TlsCommand, TlsInspectArgs};
use crate::net::{self, HostPort};
use crate::tls::{
    TlsClientOptions, Verify, client_config, describe_certificate_error, describe_client_error,
    fingerprint, recording_verifier, version_name,
};
use anyhow::{Result, anyhow};
use rustls::pki_types::ServerName;
use serde::Serialize;
use std::net::SocketAddr;
use tokio_rustls::TlsConnector;
use x509_parser::prelude::*;

pub async fn run(args: &TlsArgs) -> Result<()> {
    match &args.command {
        TlsCommand::Inspect(a) => inspect(a).await,
    }
}

/// One certificate of the chain, as reported.
#[derive(Debug, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub sans: Vec<String>,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub key: String,
    pub serial: String,
    pub sha256: String,
    pub ca: bool,
}

/// What `tls inspect` found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub host: String,
    pub address: String,
    pub server_name: String,
    pub protocol: String,
    pub cipher: String,
    pub alpn: Option<String>,
    pub verified: bool,
    /// Why verification failed, with the fix.
    pub error: Option<String>,
    pub certificates: Vec<CertInfo>,
}

fn time_text(t: &ASN1Time) -> String {
    t.to_datetime()
        .format(&::time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn key_type(spki: &SubjectPublicKeyInfo) -> String {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "ECDSA P-256".into(),
                Some("1.3.132.0.34") => "ECDSA P-384".into(),
                Some("1.3.132.0.35") => "ECDSA P-521".into(),
                Some(other) => format!("ECDSA (curve {other})"),
                None => "ECDSA".into(),
            }
        }
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
            _ => "RSA".into(),
        },
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.113" => "Ed448".into(),
        other => format!("unknown ({other})"),
    }
}

/// Describe a DER certificate; an unparsable one still gets its fingerprint.
pub fn describe(der: &[u8]) -> CertInfo {
    let sha256 = fingerprint(der);
    let Ok((_, x)) = parse_x509_certificate(der) else {
        return CertInfo {
            subject: "(unparsable certificate)".into(),
            sans: vec![],
            issuer: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            key: String::new(),
            serial: String::new(),
            sha256,
            ca: false,
        };
    };
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = x.subject_alternative_name() {
        for name in &ext.value.general_names {
            sans.push(match name {
                GeneralName::DNSName(d) => format!("DNS:{d}"),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => format!("IP:{}", std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3])),
                    16 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(b);
                        format!("IP:{}", std::net::Ipv6Addr::from(a))
                    }
                    _ => format!("IP:{b:02x?}"),
                },
                GeneralName::RFC822Name(m) => format!("email:{m}"),
                GeneralName::URI(u) => format!("URI:{u}"),
                other => format!("{other:?}"),
            });
        }
    }
    CertInfo {
        subject: x.subject().to_string(),
        sans,
        issuer: x.issuer().to_string(),
        not_before: time_text(&x.validity().not_before),
        not_after: time_text(&x.validity().not_after),
        key: key_type(x.public_key()),
        serial: x.raw_serial_as_string(),
        sha256,
        ca: x.is_ca(),
    }
}

async fn inspect(a: &TlsInspectArgs) -> Result<()> {
    let target = HostPort::parse(&a.addr, Some(443))?;
    let client = TlsClientOptions {
        cacert: a.cacert.clone(),
        insecure: false,
        sni: a.sni.clone(),
        alpn: a.alpn.clone(),
        cert: a.cert.clone(),
        key: a.key.clone(),
    };
    let verifier = recording_verifier(a.cacert.as_deref())?;
    let config = client_config(&client, &[], Verify::Record(verifier.clone()))?;
    let name_text = a.sni.clone().unwrap_or_else(|| target.host.clone());
    let bare = name_text.trim_matches(|c| c == '[' || c == ']').to_string();
    let name = ServerName::try_from(bare.clone()).map_err(|_| {
        crate::error::usage(format!(
            "'{name_text}' is not a valid TLS server name; set one with --sni"
        ))
    })?;
    let (tcp, addr): (_, SocketAddr) = net::connect(&target, &a.connect.options()).await?;
    let handshake = TlsConnector::from(config).connect(name, tcp);
    let tls = match tokio::time::timeout(a.connect.connect_timeout, handshake).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(anyhow!(describe_client_error(&target.to_string(), &e))),
        Err(_) => {
            return Err(anyhow!(
                "the TLS handshake with {target} timed out after {:?} (is it a TLS server?)",
                a.connect.connect_timeout
            ));
        }
    };
    let (_, conn) = tls.get_ref();
    let certificates: Vec<CertInfo> = conn
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| describe(c))
        .collect();
    let verdict = verifier.outcome();
    let (verified, error) = match verdict {
        Some(Ok(())) => (true, None),
        Some(Err(rustls::Error::InvalidCertificate(e))) => {
            (false, Some(describe_certificate_error(&bare, &e)))
        }
        Some(Err(e)) => (
            false,
            Some(format!("the certificate of {bare} was refused: {e}")),
        ),
        None => (
            false,
            Some("the server sent no certificate to verify".into()),
        ),
    };
    let report = Report {
        host: target.to_string(),
        address: addr.to_string(),
        server_name: bare,
        protocol: conn
            .protocol_version()
            .map(version_name)
            .unwrap_or("unknown")
            .into(),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        verified,
        error,
        certificates,
    };
    // Say goodbye politely; the server's answer does not matter.
    let mut tls = tls;
    let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
    print(&report, a.json)
}

fn print(r: &Report, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    println!("host        {} ({})", r.host, r.address);
    println!("server name {}", r.server_name);
    println!("protocol    {}", r.protocol);
    println!("cipher      {}", r.cipher);
    println!("alpn        {}", r.alpn.as_deref().unwrap_or("none"));
    match &r.error {
        None => println!("verified    yes"),
        Some(e) => println!("verified    NO: {e}"),
    }
    for (i, c) in r.certificates.iter().enumerate() {
        println!();
        println!("certificate {i}{}", if c.ca { " (CA)" } else { "" });
        println!("  subject    {}", c.subject);
        if !c.sans.is_empty() {
            println!("  names      {}", c.sans.join(", "));
        }
        println!("  issuer     {}", c.issuer);
        println!("  not before {}", c.not_before);
        println!("  not after  {}", c.not_after);
        println!("  key        {}", c.key);
        println!("  serial     {}", c.serial);
        println!("  sha256     {}", c.sha256);
    }
    Ok(())
}
