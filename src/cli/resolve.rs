//! `wirekit resolve`: names to addresses and back, and this host's interfaces.

use clap::Args;

/// `wirekit resolve`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["names", "reverse", "local"]))]
pub struct ResolveArgs {
    /// Names to look up with the system resolver (as getent hosts does).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Look up the names of these addresses (PTR), as `dig -x` does (repeatable).
    #[arg(long, value_name = "IP")]
    pub reverse: Vec<std::net::IpAddr>,
    /// This host: its name, the addresses the name resolves to, and each interface's addresses.
    #[arg(long)]
    pub local: bool,
    /// Only IPv4 addresses.
    #[arg(short = '4', long, conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Only IPv6 addresses.
    #[arg(short = '6', long)]
    pub ipv6: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}
