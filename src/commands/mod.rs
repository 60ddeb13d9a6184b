//! One file per command: the parsed flags become the library's options, the
//! library runs, and the outcome is reported.

mod fernet;
mod serve;
mod tcp;
mod udp;

use crate::cli::{Cli, Command};
use anyhow::Result;

/// Run the command `cli` names.
pub async fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Tcp(a) => tcp::run(a).await,
        Command::Udp(a) => udp::run(a).await,
        Command::Resolve(a) => crate::net::resolve::run(a).await,
        Command::Serve(a) => serve::run(a, &cli.global).await,
        Command::Cert(a) => crate::tls::cert::run(a),
        Command::Tls(a) => crate::tls::inspect::run(a).await,
        Command::Fernet(a) => fernet::run(a),
        Command::Http(a) => crate::http::client::run(a, &cli.global).await,
        Command::Fetch(a) => crate::http::client::fetch::run(a, &cli.global).await,
    }
}
