//! Flag groups shared by every server and client.

use crate::util::{parse_duration, parse_size};
use clap::Args;
use ipnet::IpNet;
use std::path::PathBuf;
use std::time::Duration;

/// Kernel buffer sizes for any socket, TCP or UDP, server or client.
#[derive(Debug, Clone, Default, Args)]
pub struct BufferArgs {
    /// Kernel receive buffer size (SO_RCVBUF), e.g. 256K.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub recv_buf: Option<u64>,
    /// Kernel send buffer size (SO_SNDBUF), e.g. 256K.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub send_buf: Option<u64>,
}

/// Access control for every server, checked before a byte is read.
#[derive(Debug, Clone, Default, Args)]
pub struct AccessArgs {
    /// Allow only clients from this address or CIDR range (repeatable); others are refused before a byte is read.
    #[arg(long, value_name = "CIDR", value_parser = parse_cidr)]
    pub allow: Vec<IpNet>,
    /// Refuse clients from this address or CIDR range (repeatable); deny wins over allow.
    #[arg(long, value_name = "CIDR", value_parser = parse_cidr)]
    pub deny: Vec<IpNet>,
}

/// Options of the shared TCP listener.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    #[command(flatten)]
    pub buffers: BufferArgs,
    #[command(flatten)]
    pub access: AccessArgs,
    /// Listen backlog: connections the kernel queues before they are accepted.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub backlog: u32,
    /// At most N clients at once; a client beyond N is accepted and closed at once (refused), as ncat does.
    #[arg(long, value_name = "N")]
    pub max_conns: Option<usize>,
    /// Close a connection that has sent and received nothing for this long (500ms, 30s, 5m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// On SIGINT/SIGTERM, let open connections finish for up to this long, then cut them.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub shutdown_timeout: Duration,
}

impl Default for ListenArgs {
    fn default() -> Self {
        ListenArgs {
            buffers: BufferArgs::default(),
            access: AccessArgs::default(),
            backlog: 1024,
            max_conns: None,
            idle_timeout: None,
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// Options of the shared TCP connector.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Give up on connecting to one address after this long, then try the next.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub connect_timeout: Duration,
    /// Bind the local end to this address (`IP` or `IP:PORT`) before connecting.
    #[arg(long, value_name = "ADDR")]
    pub source: Option<String>,
    /// TCP keepalive probe interval; 0 turns keepalive off.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub keepalive: Duration,
    #[command(flatten)]
    pub buffers: BufferArgs,
}

impl Default for ConnectArgs {
    fn default() -> Self {
        ConnectArgs {
            connect_timeout: Duration::from_secs(10),
            source: None,
            keepalive: Duration::from_secs(60),
            buffers: BufferArgs::default(),
        }
    }
}

/// Traffic dump, as `socat -x` / `ncat -x`.
#[derive(Debug, Clone, Default, Args)]
pub struct DumpArgs {
    /// Write a hex + ASCII dump of all traffic to FILE (`-` for stderr), each chunk marked with direction, peer and offset.
    #[arg(long, value_name = "FILE")]
    pub hex_dump: Option<PathBuf>,
}

/// Parse `10.0.0.0/8`, `::1/128`, or a bare address (a single host).
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<std::net::IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("'{text}' is not an address or CIDR range; write it like 127.0.0.1, 10.0.0.0/8 or ::1/128"))
}
