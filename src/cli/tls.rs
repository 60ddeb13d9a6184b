//! `wirekit tls`: look at TLS servers.

use super::net::ConnectArgs;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use wirekit::tls::Pin;

/// `wirekit tls`: a subcommand.
#[derive(Debug, Args)]
pub struct TlsArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: TlsCommand,
}

/// What `wirekit tls` does.
#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Connect to HOST:PORT, complete the handshake even if the certificate does not verify, and report version, cipher suite, ALPN, each certificate and the verdict.
    Inspect(TlsInspectArgs),
}

/// `wirekit tls inspect`.
#[derive(Debug, Args)]
pub struct TlsInspectArgs {
    /// Server to inspect: `host:port`, `host` (port 443), `[::1]:port`.
    #[arg(value_name = "HOST:PORT")]
    pub addr: String,
    /// Server name to send (SNI) and verify against, instead of HOST.
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Also trust the CA certificate(s) in FILE (PEM) when verifying.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// ALPN protocols to offer, comma-separated.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "h2,http/1.1"
    )]
    pub alpn: Vec<String>,
    /// Client certificate (PEM) for servers that require one; needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Verify as a client with --pin would: exactly the certificate with this SHA-256 fingerprint (sha256:HEX).
    #[arg(long, value_name = "sha256:HEX", value_parser = Pin::parse)]
    pub pin: Option<Pin>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The shared connector's flags.
    #[command(flatten)]
    pub connect: ConnectArgs,
}
