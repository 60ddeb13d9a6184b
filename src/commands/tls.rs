//! `wirekit tls inspect`: connect with the shared connector, let the library
//! inspect the handshake, print the report (text or JSON).

use crate::cli::{TlsArgs, TlsCommand, TlsInspectArgs};
use anyhow::Result;
use wirekit::net::{self, HostPort};
use wirekit::tls::inspect::{InspectOptions, Inspector, Report};

/// Run `tls inspect`.
pub(crate) async fn run(args: &TlsArgs) -> Result<()> {
    match &args.command {
        TlsCommand::Inspect(a) => inspect(a).await,
    }
}

async fn inspect(a: &TlsInspectArgs) -> Result<()> {
    let target = HostPort::parse(&a.addr, Some(443))?;
    let options = InspectOptions {
        cacert: a.cacert.clone(),
        sni: a.sni.clone(),
        alpn: a.alpn.clone(),
        cert: a.cert.clone(),
        key: a.key.clone(),
        pin: a.pin,
        handshake_timeout: a.connect.connect_timeout,
    };
    let inspector = Inspector::new(&target.host, target.port, &options)?;
    let (tcp, _) = net::connect(&target, &a.connect.options()).await?;
    let report = inspector.inspect(tcp).await?;
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
