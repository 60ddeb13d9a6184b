//! `wirekit cert new|ca`: the flags become names, days and files; the PKI in
//! `tls::cert` makes the certificates; the report names what was written.

use crate::cli::{CertArgs, CertCaArgs, CertCommand, CertNewArgs};
use anyhow::{Context, Result, anyhow};
use serde_json::json;
use std::path::Path;
use time::OffsetDateTime;
use wirekit::error::usage;
use wirekit::tls::cert::{Ca, Made, new_ca, self_signed_leaf};
use wirekit::tls::fingerprint;

/// Run `cert new` or `cert ca`.
pub(crate) fn run(args: &CertArgs) -> Result<()> {
    match &args.command {
        CertCommand::New(a) => new(a),
        CertCommand::Ca(a) => ca(a),
    }
}

/// The longest validity `--days` accepts (about 2,700 years).
const MAX_DAYS: u32 = 1_000_000;

fn check_days(days: u32) -> Result<()> {
    if days == 0 {
        return Err(usage("--days must be at least 1"));
    }
    // X.509 dates end at year 9999; this bound stays far inside it.
    if days > MAX_DAYS {
        return Err(usage(format!(
            "--days {days} is too long: certificate dates end at year 9999; use at most {MAX_DAYS}"
        )));
    }
    Ok(())
}

fn new(a: &CertNewArgs) -> Result<()> {
    check_days(a.days)?;
    let made = match (&a.ca, &a.ca_key) {
        (Some(cert), Some(key)) => Ca::load(cert, key)?.sign_leaf(&a.names, a.days)?,
        _ => self_signed_leaf(&a.names, a.days)?,
    };
    ensure_dir(&a.out)?;
    let stem = file_stem(&a.names);
    let cert_path = a.out.join(format!("{stem}.pem"));
    let key_path = a.out.join(format!("{stem}-key.pem"));
    if !a.force
        && let Some(existing) = [&cert_path, &key_path].into_iter().find(|p| p.exists())
    {
        return Err(anyhow!(
            "{} already exists; choose another --out directory, or replace it with --force",
            existing.display()
        ));
    }
    made.write(&cert_path, &key_path)?;
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
    check_days(a.days)?;
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
    made.write(&cert_path, &key_path)?;
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

fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output directory {}", dir.display()))
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

fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn report(json: bool, cert: &Path, key: &Path, made: &Made, names: &[String], ca: Option<&Path>) {
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
}
