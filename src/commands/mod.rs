//! One file per command: the parsed flags become the library's options, the
//! library runs, and the outcome is reported.

mod bench;
mod cert;
mod fernet;
mod fetch;
mod http;
pub mod logging;
mod proxy;
mod resolve;
mod serve;
mod tcp;
mod tls;
mod udp;

use crate::cli::{Cli, Command};
use anyhow::Result;

/// Run the command `cli` names.
pub async fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Tcp(a) => tcp::run(a).await,
        Command::Udp(a) => udp::run(a).await,
        Command::Resolve(a) => resolve::run(a).await,
        Command::Serve(a) => serve::run(a, &cli.global).await,
        Command::Cert(a) => cert::run(a),
        Command::Tls(a) => tls::run(a).await,
        Command::Fernet(a) => fernet::run(a),
        Command::Http(a) => http::run(a, &cli.global).await,
        Command::Fetch(a) => fetch::run(a, &cli.global).await,
        Command::Proxy(a) => proxy::run(a).await,
        Command::Bench(a) => bench::run(a, cli.global.quiet).await,
    }
}
