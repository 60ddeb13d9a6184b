//! Flag groups shared by every server and client.

use anyhow::Result;
use clap::Args;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use wirekit::net::addr::{Family, Lookup, parse_source};
use wirekit::net::{Access, Buffers, ConnectOptions, Dump, ListenOptions, Session};
use wirekit::tls::{Pin, TlsClientOptions, TlsServerOptions};
use wirekit::units::{parse_duration, parse_size};

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
    /// Allow only clients from this address, CIDR range or host name (repeatable); others are refused before a byte is read.
    #[arg(long, value_name = "CIDR|HOST", value_parser = parse_rule)]
    pub allow: Vec<Rule>,
    /// Refuse clients from this address, CIDR range or host name (repeatable); deny wins over allow.
    #[arg(long, value_name = "CIDR|HOST", value_parser = parse_rule)]
    pub deny: Vec<Rule>,
    /// Allow the clients listed in FILE: one address, CIDR range or host name a line, `#` comments (as ncat --allowfile).
    #[arg(long, value_name = "FILE", value_parser = parse_rule_file)]
    pub allowfile: Vec<Rule>,
    /// Refuse the clients listed in FILE (the format of --allowfile).
    #[arg(long, value_name = "FILE", value_parser = parse_rule_file)]
    pub denyfile: Vec<Rule>,
}

/// One `--allow`/`--deny` value, or all the lines of a file: the ranges it stands for
/// (a host name stands for each of its addresses, looked up once at start).
#[derive(Debug, Clone, Default)]
pub struct Rule(pub Vec<IpNet>);

/// An address, CIDR range or host name (resolved now, with the system resolver).
pub fn parse_rule(text: &str) -> Result<Rule, String> {
    if let Ok(net) = parse_cidr(text) {
        return Ok(Rule(vec![net]));
    }
    let t = text.trim();
    let looks_like_name = !t.is_empty()
        && !t.contains('/')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !looks_like_name {
        return parse_cidr(text).map(|net| Rule(vec![net]));
    }
    use std::net::ToSocketAddrs;
    let addrs = (t, 0).to_socket_addrs().map_err(|e| {
        format!("'{text}' is not an address or CIDR range, and looking it up as a host name failed ({e}); write it like 127.0.0.1, 10.0.0.0/8, ::1/128 or a name that resolves")
    })?;
    let mut nets: Vec<IpNet> = addrs.map(|a| IpNet::from(a.ip().to_canonical())).collect();
    nets.dedup();
    Ok(Rule(nets))
}

/// Every line of FILE as a rule; blank lines and `#` comments are skipped.
pub fn parse_rule_file(path: &str) -> Result<Rule, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the access list {path}: {e}"))?;
    let mut nets = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let rule = parse_rule(line).map_err(|e| format!("{path} line {}: {e}", n + 1))?;
        nets.extend(rule.0);
    }
    Ok(Rule(nets))
}

/// ncat's `-4`, `-6` and `-n`: which addresses a name may stand for.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct LookupArgs {
    /// Use IPv4 addresses only.
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Use IPv6 addresses only.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// No name lookups: addresses must be IP literals (as ncat -n).
    #[arg(short = 'n', long)]
    pub no_dns: bool,
}

impl LookupArgs {
    /// The library's lookup rules.
    pub fn lookup(&self) -> Lookup {
        let family = match (self.ipv4, self.ipv6) {
            (true, _) => Family::V4,
            (_, true) => Family::V6,
            _ => Family::Any,
        };
        Lookup {
            family,
            no_dns: self.no_dns,
        }
    }
}

/// Options of the shared TCP listener.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// Kernel buffer sizes.
    #[command(flatten)]
    pub buffers: BufferArgs,
    /// `--allow` / `--deny`.
    #[command(flatten)]
    pub access: AccessArgs,
    /// `-4`, `-6`, `-n`.
    #[command(flatten)]
    pub lookup: LookupArgs,
    /// Listen backlog: connections the kernel queues before they are accepted.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub backlog: u32,
    /// At most N clients at once; a client beyond N is accepted and reset at once (refused), as ncat does.
    #[arg(short = 'm', long, value_name = "N")]
    pub max_conns: Option<usize>,
    /// Close a connection that has sent and received nothing for this long (500ms, 30s, 5m).
    #[arg(short = 'i', long, value_name = "DURATION", value_parser = parse_duration)]
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
            lookup: LookupArgs::default(),
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
    #[arg(short = 'w', long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub connect_timeout: Duration,
    /// Bind the local end to this address (`IP` or `IP:PORT`) before connecting.
    #[arg(long, value_name = "ADDR", value_parser = parse_source)]
    pub source: Option<SocketAddr>,
    /// TCP keepalive probe interval; 0 turns keepalive off.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub keepalive: Duration,
    /// Kernel buffer sizes.
    #[command(flatten)]
    pub buffers: BufferArgs,
    /// `-4`, `-6`, `-n`.
    #[command(flatten)]
    pub lookup: LookupArgs,
}

impl Default for ConnectArgs {
    fn default() -> Self {
        ConnectArgs {
            connect_timeout: Duration::from_secs(10),
            source: None,
            keepalive: Duration::from_secs(60),
            buffers: BufferArgs::default(),
            lookup: LookupArgs::default(),
        }
    }
}

/// Traffic dump, as `socat -x` / `ncat -x`.
#[derive(Debug, Clone, Default, Args)]
pub struct DumpArgs {
    /// Write a hex + ASCII dump of all traffic to FILE (`-` for stderr), each chunk marked with direction, peer and offset. FILE is appended to, never truncated, and created mode 0600 (it may hold decrypted TLS plaintext).
    #[arg(short = 'x', long, value_name = "FILE")]
    pub hex_dump: Option<PathBuf>,
}

/// A session file, as `ncat -o` / `--append-output`.
#[derive(Debug, Clone, Default, Args)]
pub struct SessionArgs {
    /// Write every byte of the session, both ways, to FILE (mode 0600), as ncat -o.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With -o, add to the end of FILE instead of replacing it.
    #[arg(long, requires = "output")]
    pub append_output: bool,
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

/// TLS for a server (`--tls`), through the shared listener.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsServerArgs {
    /// Serve TLS 1.2/1.3. Without --cert/--key, a self-signed certificate for localhost, 127.0.0.1, ::1 and the bind name is made in memory and its SHA-256 fingerprint printed on stderr.
    #[arg(long)]
    pub tls: bool,
    /// Certificate chain in PEM (leaf first, then intermediates), e.g. from `wirekit cert new`; needs --key.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"])]
    pub cert: Option<PathBuf>,
    /// Private key in PEM (PKCS#8, RSA or EC) of --cert.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"])]
    pub key: Option<PathBuf>,
    /// Require a client certificate issued by a CA in FILE (PEM): mutual TLS. Clients without one are refused.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub client_ca: Option<PathBuf>,
    /// ALPN protocols to accept, comma-separated, in order of preference (e.g. h2,http/1.1).
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "tls")]
    pub alpn: Vec<String>,
}

/// TLS for a client (`--tls`), through the shared connector.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsClientArgs {
    /// Speak TLS 1.2/1.3, verifying the server's certificate against the bundled Mozilla roots and --cacert.
    #[arg(long)]
    pub tls: bool,
    /// Also trust the CA certificate(s) in FILE (PEM), e.g. the `ca.pem` of `wirekit cert ca`.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cacert: Option<PathBuf>,
    /// Do not verify the server's certificate (for testing only; a warning goes to stderr).
    #[arg(long, requires = "tls")]
    pub insecure: bool,
    /// Server name to send (SNI) and to verify the certificate against, instead of the host of ADDR.
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub sni: Option<String>,
    /// ALPN protocols to offer, comma-separated (e.g. h2,http/1.1).
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "tls")]
    pub alpn: Vec<String>,
    /// Client certificate chain in PEM, for servers that require one (mTLS); needs --key.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"])]
    pub cert: Option<PathBuf>,
    /// Private key in PEM of the client certificate --cert.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"])]
    pub key: Option<PathBuf>,
    /// Accept exactly the server certificate with this SHA-256 fingerprint (sha256:HEX, colons allowed), no CA needed; its dates and name are still checked.
    #[arg(long, value_name = "sha256:HEX", requires = "tls", conflicts_with = "insecure", value_parser = Pin::parse)]
    pub pin: Option<Pin>,
    /// At the end of input send a TLS close_notify and half-close, as for plain TCP. By default, as ncat does, a TLS client keeps the connection open at the end of input and reads until the server closes (servers that read once, answer and close would otherwise reset the connection and lose their answer).
    #[arg(long, requires = "tls")]
    pub close_notify: bool,
}

/// A size flag as the kernel takes it (sizes beyond the address space saturate).
fn kernel_size(n: Option<u64>) -> Option<usize> {
    n.map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

impl BufferArgs {
    /// The library's buffer sizes.
    pub fn buffers(&self) -> Buffers {
        Buffers {
            recv: kernel_size(self.recv_buf),
            send: kernel_size(self.send_buf),
        }
    }
}

impl AccessArgs {
    /// The library's access rules.
    pub fn access(&self) -> Access {
        let nets = |a: &[Rule], b: &[Rule]| -> Vec<IpNet> {
            a.iter()
                .chain(b)
                .flat_map(|r| r.0.iter().copied())
                .collect()
        };
        let allow = nets(&self.allow, &self.allowfile);
        let deny = nets(&self.deny, &self.denyfile);
        // An --allowfile without a single entry still means "allow only these": nobody.
        if allow.is_empty() && !self.allowfile.is_empty() {
            return Access::nobody_but(deny);
        }
        Access::new(allow, deny)
    }
}

impl ListenArgs {
    /// The library's listener options.
    pub fn options(&self) -> ListenOptions {
        ListenOptions {
            buffers: self.buffers.buffers(),
            access: self.access.access(),
            backlog: self.backlog,
            max_conns: self.max_conns,
            idle_timeout: self.idle_timeout,
            shutdown_timeout: self.shutdown_timeout,
            lookup: self.lookup.lookup(),
        }
    }
}

impl ConnectArgs {
    /// The library's connector options (a keepalive of 0 turns it off).
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions {
            connect_timeout: self.connect_timeout,
            source: self.source,
            keepalive: (!self.keepalive.is_zero()).then_some(self.keepalive),
            buffers: self.buffers.buffers(),
            lookup: self.lookup.lookup(),
            tunnel: None,
        }
    }
}

impl SessionArgs {
    /// The session file, opened, when `-o` was given.
    pub fn session(&self) -> Result<Option<Session>> {
        self.output
            .as_deref()
            .map(|p| Session::open(p, self.append_output))
            .transpose()
    }
}

impl DumpArgs {
    /// The dump file, opened, when `--hex-dump` was given.
    pub fn open(&self) -> Result<Option<Dump>> {
        self.hex_dump.as_deref().map(Dump::open).transpose()
    }
}

impl TlsServerArgs {
    /// The library's server TLS options, or `None` without `--tls`.
    pub fn options(&self) -> Option<TlsServerOptions> {
        self.tls.then(|| TlsServerOptions {
            cert: self.cert.clone(),
            key: self.key.clone(),
            client_ca: self.client_ca.clone(),
            alpn: self.alpn.clone(),
        })
    }
}

impl TlsClientArgs {
    /// Whether the write side stays open at the end of input: over TLS unless
    /// `--close-notify` (a half-close cannot be undone by a server that answers late).
    pub fn keeps_open_at_end_of_input(&self) -> bool {
        self.tls && !self.close_notify
    }

    /// The library's client TLS options, or `None` without `--tls`.
    pub fn options(&self) -> Option<TlsClientOptions> {
        self.tls.then(|| TlsClientOptions {
            cacert: self.cacert.clone(),
            insecure: self.insecure,
            sni: self.sni.clone(),
            alpn: self.alpn.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            pin: self.pin,
        })
    }
}
