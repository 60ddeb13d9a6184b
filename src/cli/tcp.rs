//! `wirekit tcp`: listen and connect, like ncat.

use super::net::{ConnectArgs, DumpArgs, ListenArgs, SessionArgs, TlsClientArgs, TlsServerArgs};
use clap::{Args, Subcommand};
use wirekit::units::parse_size;

/// `wirekit tcp`: a subcommand.
#[derive(Debug, Args)]
#[command(
    after_help = "Every option of a command is on its own page: `wirekit tcp connect --help`, `wirekit tcp listen --help`."
)]
pub struct TcpArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: TcpCommand,
}

/// What `wirekit tcp` does.
#[derive(Debug, Subcommand)]
pub enum TcpCommand {
    /// Connect to ADDR: stdin goes to the socket, the socket to stdout.
    Connect(TcpConnectArgs),
    /// Listen on ADDR (default 127.0.0.1:8000): one client piped to stdin/stdout, or a mode below.
    Listen(TcpListenArgs),
}

/// `wirekit tcp connect`.
#[derive(Debug, Args)]
pub struct TcpConnectArgs {
    /// Where to connect: `host:port`, `:port` (127.0.0.1), `[::1]:port`; with -z, `host:PORT-PORT`.
    #[arg(value_name = "ADDR")]
    pub addr: String,
    /// Send TEXT instead of stdin, then print the reply until the server closes.
    #[arg(long, value_name = "TEXT", conflicts_with_all = ["recv_only", "zero_source"])]
    pub send: Option<String>,
    /// Run CMD with its stdin and stdout on the connection (split on spaces, quotes respected), as `ncat -e`.
    #[arg(short = 'e', long, value_name = "CMD", conflicts_with_all = ["send", "send_only", "recv_only", "zero_source", "scan", "sh_exec"])]
    pub exec: Option<String>,
    /// Run CMD through `sh -c` with its stdin and stdout on the connection, as `ncat -c`.
    #[arg(short = 'c', long, value_name = "CMD", conflicts_with_all = ["send", "send_only", "recv_only", "zero_source", "scan"])]
    pub sh_exec: Option<String>,
    /// Only send stdin; close when it ends, without reading the reply.
    #[arg(long, conflicts_with = "recv_only")]
    pub send_only: bool,
    /// Only print what the server sends; ignore stdin.
    #[arg(long)]
    pub recv_only: bool,
    /// Turn LF line endings from stdin (or --send) into CRLF.
    #[arg(short = 'C', long)]
    pub crlf: bool,
    /// At the end of stdin keep the write side open instead of shutting it down.
    #[arg(long)]
    pub no_shutdown: bool,
    /// Report whether each port is open or closed, sending no data (ADDR may be host:PORT-PORT).
    #[arg(short = 'z', long = "zero", conflicts_with_all = ["send", "zero_source"])]
    pub scan: bool,
    /// Send SIZE bytes of zeros instead of stdin (e.g. 4G), then report the rate on stderr.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub zero_source: Option<u64>,
    /// Print a report as JSON (port scan results; the transfer summary).
    #[arg(long)]
    pub json: bool,
    /// Connect through the proxy at HOST:PORT, as `ncat --proxy`.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "scan")]
    pub proxy: Option<String>,
    /// The proxy's protocol.
    #[arg(long, value_enum, default_value_t = ProxyType::Http, requires = "proxy")]
    pub proxy_type: ProxyType,
    /// USER:PASS for the proxy (HTTP Basic, SOCKS5 user/password; SOCKS4 sends USER).
    #[arg(long, value_name = "USER:PASS", requires = "proxy")]
    pub proxy_auth: Option<String>,
    /// The shared connector's flags.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// `--hex-dump`.
    #[command(flatten)]
    pub dump: DumpArgs,
    /// `-o`, `--append-output`.
    #[command(flatten)]
    pub session: SessionArgs,
    /// `--tls` and its certificates.
    #[command(flatten, next_help_heading = "TLS")]
    pub tls: TlsClientArgs,
}

/// `--proxy-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
// Variant doc comments would become possible-value help and change `--help`.
#[allow(missing_docs)]
pub enum ProxyType {
    Http,
    Socks4,
    Socks5,
}

/// `wirekit tcp listen`.
#[derive(Debug, Args)]
pub struct TcpListenArgs {
    /// Address to listen on: `host:port`, `:port`, `[::1]:port`, or a port.
    #[arg(value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub addr: String,
    /// Keep listening after the first client; serve many at once.
    #[arg(short = 'k', long)]
    pub keep_open: bool,
    /// Send every byte back to the client that sent it.
    #[arg(long, group = "mode")]
    pub echo: bool,
    /// Read one message, answer TEXT, close (the seed's server); the message goes to stdout.
    #[arg(long, value_name = "TEXT", group = "mode")]
    pub reply: Option<String>,
    /// Run CMD for each client with its stdin and stdout on the connection (split on spaces, quotes respected).
    #[arg(short = 'e', long, value_name = "CMD", group = "mode")]
    pub exec: Option<String>,
    /// Run CMD through `sh -c` for each client, stdin and stdout on the connection.
    #[arg(short = 'c', long, value_name = "CMD", group = "mode")]
    pub sh_exec: Option<String>,
    /// Relay every client's bytes to all the other clients (implies -k).
    #[arg(long, group = "mode")]
    pub broker: bool,
    /// Chat: a broker with `<userN>` prefixes and join/leave lines (implies -k).
    #[arg(long, group = "mode")]
    pub chat: bool,
    /// Read and throw away; print bytes and rate per connection.
    #[arg(long, group = "mode")]
    pub discard: bool,
    /// Turn LF line endings from stdin (or --reply) into CRLF.
    #[arg(short = 'C', long)]
    pub crlf: bool,
    /// Only send stdin to the client(s); do not read what they send (pipe mode).
    #[arg(long, conflicts_with_all = ["recv_only", "mode"])]
    pub send_only: bool,
    /// Only print what the client(s) send; do not read stdin (pipe mode).
    #[arg(long, conflicts_with = "mode")]
    pub recv_only: bool,
    /// One JSON event per connection (open, close, peer, bytes each way, duration): on stdout, or stderr in pipe mode where stdout carries data.
    #[arg(long)]
    pub json: bool,
    /// The shared listener's flags.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// `--hex-dump`.
    #[command(flatten)]
    pub dump: DumpArgs,
    /// `-o`, `--append-output`.
    #[command(flatten)]
    pub session: SessionArgs,
    /// `--tls` and its certificates.
    #[command(flatten, next_help_heading = "TLS")]
    pub tls: TlsServerArgs,
}
