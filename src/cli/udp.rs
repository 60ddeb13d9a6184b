//! `wirekit udp`: listen and send datagrams.

use super::net::{AccessArgs, BufferArgs, DumpArgs};
use clap::{Args, Subcommand};
use std::time::Duration;
use wirekit::units::parse_duration;

/// `wirekit udp`: a subcommand.
#[derive(Debug, Args)]
pub struct UdpArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: UdpCommand,
}

/// What `wirekit udp` does.
#[derive(Debug, Subcommand)]
pub enum UdpCommand {
    /// Receive datagrams on ADDR (default 127.0.0.1:8000) and print each with its sender; without --echo/--reply stdin goes to the first sender.
    Listen(UdpListenArgs),
    /// Send one datagram (TEXT, or stdin) to ADDR and print the replies.
    Send(UdpSendArgs),
    /// Like `ncat -u ADDR`: each read of stdin goes to ADDR as a datagram, replies go to stdout.
    Connect(UdpConnectArgs),
}

/// `wirekit udp connect`.
#[derive(Debug, Args)]
pub struct UdpConnectArgs {
    /// Where to send: `host:port`, `:port` (127.0.0.1), `[::1]:port`.
    #[arg(value_name = "ADDR")]
    pub addr: String,
    /// After stdin ends, wait this long for more replies, then exit.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1s")]
    pub wait: Duration,
    /// Print each reply as a JSON line (peer, bytes, data, data_base64) instead of its bytes.
    #[arg(long)]
    pub json: bool,
    /// Bind the local end to this address (`IP` or `IP:PORT`).
    #[arg(long, value_name = "ADDR", value_parser = wirekit::net::addr::parse_source)]
    pub source: Option<std::net::SocketAddr>,
    /// Kernel buffer sizes.
    #[command(flatten)]
    pub buffers: BufferArgs,
    /// `--hex-dump`.
    #[command(flatten)]
    pub dump: DumpArgs,
}

/// `wirekit udp listen`.
#[derive(Debug, Args)]
pub struct UdpListenArgs {
    /// Address to listen on: `host:port`, `:port`, `[::1]:port`, or a port.
    #[arg(value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub addr: String,
    /// Send every datagram back to its sender.
    #[arg(long, conflicts_with = "reply")]
    pub echo: bool,
    /// Answer every datagram with TEXT (the seed's server).
    #[arg(long, value_name = "TEXT")]
    pub reply: Option<String>,
    /// Print each datagram as a JSON line (peer, bytes, data).
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// Write the datagrams' bytes to stdout as they are, with no sender line.
    #[arg(long)]
    pub raw: bool,
    /// Stop after N datagrams.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Kernel buffer sizes.
    #[command(flatten)]
    pub buffers: BufferArgs,
    /// `--allow` / `--deny`.
    #[command(flatten)]
    pub access: AccessArgs,
    /// `--hex-dump`.
    #[command(flatten)]
    pub dump: DumpArgs,
}

/// `wirekit udp send`.
#[derive(Debug, Args)]
pub struct UdpSendArgs {
    /// Where to send: `host:port`, `:port` (127.0.0.1), `[::1]:port`.
    #[arg(value_name = "ADDR")]
    pub addr: String,
    /// The datagram; stdin when absent.
    #[arg(value_name = "TEXT")]
    pub text: Option<String>,
    /// How long to wait for replies (more than 0; to send without waiting, use --count 0).
    #[arg(long, value_name = "DURATION", value_parser = parse_wait, default_value = "2s")]
    pub timeout: Duration,
    /// How many replies to wait for; 0 sends without waiting.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub count: u64,
    /// Print each reply as a JSON line (peer, bytes, data).
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// Write the replies' bytes to stdout as they are, with no sender line.
    #[arg(long)]
    pub raw: bool,
    /// Bind the local end to this address (`IP` or `IP:PORT`).
    #[arg(long, value_name = "ADDR", value_parser = wirekit::net::addr::parse_source)]
    pub source: Option<std::net::SocketAddr>,
    /// Kernel buffer sizes.
    #[command(flatten)]
    pub buffers: BufferArgs,
    /// `--hex-dump`.
    #[command(flatten)]
    pub dump: DumpArgs,
}

/// `--timeout` of `udp send`: a duration above 0 (0 would time out before any reply).
fn parse_wait(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(
            "a timeout of 0 would give up before any reply; give a duration like 2s, or use --count 0 to send without waiting".into(),
        );
    }
    Ok(d)
}
