//! Command-line definitions: one struct per command, each flag documented once
//! (the doc comment is its `--help` text).

mod bench;
mod cert;
mod fernet;
mod fetch;
mod http;
mod ncat;
mod net;
mod proxy;
mod resolve;
mod serve;
mod tcp;
mod tls;
mod udp;

pub use bench::{ArrivalArg, BenchArgs, BenchCommand, BenchMergeArgs};
pub use cert::{CertArgs, CertCaArgs, CertCommand, CertNewArgs};
pub use fernet::{FernetArgs, FernetCommand, FernetIoArgs, FernetKeyArgs};
pub use fetch::FetchArgs;
pub use http::HttpArgs;
pub use proxy::ProxyArgs;
pub use resolve::ResolveArgs;
pub use serve::ServeArgs;
pub use tcp::{ProxyType, TcpArgs, TcpCommand, TcpConnectArgs, TcpListenArgs};
pub use tls::{TlsArgs, TlsCommand, TlsInspectArgs};
pub use udp::{UdpArgs, UdpCommand, UdpConnectArgs, UdpListenArgs, UdpSendArgs};

use clap::{Args, Parser, Subcommand, ValueEnum};

/// wirekit: TCP/UDP, resolve, and more network jobs in one fast binary.
#[derive(Debug, Parser)]
#[command(name = "wirekit", version, about, propagate_version = true)]
#[command(after_help = "Exit codes: 0 success, 1 failure at run time, 2 bad usage.")]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The `--help` heading of the flags every command takes.
const GLOBAL: &str = "Global options";

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// More output: -v debug diagnostics on stderr (for http: print the whole exchange, -p HBhb), -vv trace.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    pub quiet: bool,
    /// Format of diagnostics on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true, help_heading = GLOBAL)]
    pub log_format: LogFormat,
    /// When to colour output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, help_heading = GLOBAL)]
    pub color: ColorChoice,
}

/// `--log-format`: how diagnostics look on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
// Variant doc comments would become possible-value help and change `--help`.
#[allow(missing_docs)]
pub enum LogFormat {
    Text,
    Json,
}

/// `--color`: when to colour output (`auto`: on a terminal without `NO_COLOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
// Variant doc comments would become possible-value help and change `--help`.
#[allow(missing_docs)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The commands of wirekit.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// TCP listen and connect, like ncat: pipe, echo, reply, exec, broker, chat, port scan.
    Tcp(TcpArgs),
    /// UDP listen and send: print datagrams with the sender, echo, reply.
    Udp(UdpArgs),
    /// Look up names and addresses: forward, reverse, and this host's interfaces.
    Resolve(ResolveArgs),
    /// Serve files and a mock API over HTTP (http://127.0.0.1:8000 by default), like python -m http.server but fast.
    Serve(ServeArgs),
    /// Make certificates: a local CA and leaf certificates signed by it or self-signed (like mkcert).
    Cert(CertArgs),
    /// Look at a TLS server: version, cipher, ALPN, its certificates and whether they verify.
    Tls(TlsArgs),
    /// Send one HTTP request and print the exchange, like xh and HTTPie (-v for everything).
    Http(HttpArgs),
    /// Fetch many URLs at once, bounded and pooled; one JSON line per URL.
    Fetch(FetchArgs),
    /// Fernet keys and tokens, byte-compatible with Python's cryptography.fernet.
    Fernet(FernetArgs),
    /// Relay TCP to an upstream and break it on purpose: Toxiproxy's toxics (latency, bandwidth, resets, ...).
    Proxy(ProxyArgs),
    /// Load-test an HTTP server (like wrk, wrk2, oha): closed or open loop, HDR latency percentiles.
    Bench(BenchArgs),
}

#[cfg(test)]
mod props;

/// Parse the command line; an ncat flag that wirekit spells differently is
/// answered with wirekit's spelling (exit 2), other errors as clap prints them.
pub fn parse() -> Cli {
    use clap::Parser;
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match ncat::hint(&e) {
            Some(hint) => {
                eprintln!("wirekit: {hint}");
                std::process::exit(2);
            }
            None => e.exit(),
        },
    }
}
