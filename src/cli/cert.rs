//! `wirekit cert`: a local CA and leaf certificates (the mkcert workflow).

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `wirekit cert`: a subcommand.
#[derive(Debug, Args)]
pub struct CertArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: CertCommand,
}

/// What `wirekit cert` does.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Make a leaf certificate (ECDSA P-256) for the host names and IP addresses given, self-signed or signed by --ca.
    New(CertNewArgs),
    /// Make a local certificate authority: sign leaves with `cert new --ca`, trust it with `--cacert` / `--client-ca`.
    Ca(CertCaArgs),
}

/// `wirekit cert new`.
#[derive(Debug, Args)]
pub struct CertNewArgs {
    /// Host names (wildcards like *.example.test allowed) and IP addresses the certificate is for; the first is its common name.
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
    /// Directory to write NAME.pem and NAME-key.pem into (NAME+N when more names follow, as mkcert does).
    #[arg(long, short = 'o', value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Days the certificate is valid.
    #[arg(long, value_name = "N", default_value_t = 825)]
    pub days: u32,
    /// CA certificate (PEM) to sign with, e.g. the ca.pem of `wirekit cert ca`; without it the certificate is self-signed.
    #[arg(long, value_name = "CA.pem", requires = "ca_key")]
    pub ca: Option<PathBuf>,
    /// Private key (PEM) of --ca.
    #[arg(long, value_name = "CA.key", requires = "ca")]
    pub ca_key: Option<PathBuf>,
    /// Overwrite an existing NAME.pem / NAME-key.pem in DIR.
    #[arg(long)]
    pub force: bool,
    /// Report the files written as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `wirekit cert ca`.
#[derive(Debug, Args)]
pub struct CertCaArgs {
    /// Directory to write ca.pem and ca-key.pem into.
    #[arg(long, short = 'o', value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Days the CA is valid.
    #[arg(long, value_name = "N", default_value_t = 3650)]
    pub days: u32,
    /// Common name of the CA (default: "wirekit local CA" with user and host).
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Overwrite an existing ca.pem / ca-key.pem in DIR.
    #[arg(long)]
    pub force: bool,
    /// Report the files written as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}
