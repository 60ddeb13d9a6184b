//! `wirekit proxy`: a TCP relay with Toxiproxy's toxics.

use super::net::{DumpArgs, ListenArgs, TlsServerArgs};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use wirekit::proxy::Toxic;
use wirekit::proxy::udp::UdpFault;
use wirekit::units::parse_duration;

/// `wirekit proxy`.
#[derive(Debug, Args)]
#[command(
    after_help = "Toxics (Toxiproxy's names, attributes and units; unset attributes are 0):
  latency:latency=MS,jitter=MS        delay every chunk
  bandwidth:rate=KB/s                 hold the stream to a rate (1 KB = 1000 bytes)
  slow_close:delay=MS                 delay the close
  timeout:timeout=MS                  let nothing through, close after MS (0: never)
  reset_peer:timeout=MS               on the first data, wait MS, then reset (RST)
  slicer:average_size=B,size_variation=B,delay=US   cut chunks into small pieces
  limit_data:bytes=N                  close after N bytes
Every toxic also takes stream=upstream|downstream (default downstream: server to
client), toxicity=0..1 (the chance it acts on a connection, default 1) and
name=NAME (default TYPE_STREAM). Example:
  wirekit proxy :8001 127.0.0.1:8000 --toxic latency:latency=200,jitter=50 \\
      --toxic reset_peer:timeout=0,toxicity=0.1,stream=upstream"
)]
pub struct ProxyArgs {
    /// Address to listen on: `host:port`, `:port` (127.0.0.1), `[::1]:port`, or a port.
    #[arg(value_name = "LISTEN", required_unless_present_any = ["config", "api"], requires = "upstream")]
    pub listen: Option<String>,
    /// Where to relay each client: `host:port`.
    #[arg(value_name = "UPSTREAM")]
    pub upstream: Option<String>,
    /// A toxic, `TYPE[:key=value,...]` (repeatable; they act in the order given). See below.
    #[arg(long = "toxic", value_name = "SPEC", value_parser = parse_toxic)]
    pub toxics: Vec<Toxic>,
    /// Seed every random choice (toxicity, jitter, slice sizes), so a run repeats exactly.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Several proxies from a JSON file: Toxiproxy's populate format, an array of
    /// {"name", "listen", "upstream", "enabled", "toxics"}.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["listen", "upstream", "toxics"])]
    pub config: Option<PathBuf>,
    /// Serve the Toxiproxy-compatible control API here (e.g. 127.0.0.1:8474), so
    /// Toxiproxy clients can add proxies and toxics while wirekit runs.
    #[arg(long, value_name = "ADDR")]
    pub api: Option<String>,
    /// One JSON event per connection on stdout (open; close with bytes each way, toxics, duration).
    #[arg(long)]
    pub json: bool,
    /// Give up connecting to the upstream after this long (the client is then reset).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub connect_timeout: Duration,
    /// Record both legs of every connection (client and upstream) as TCP packets in a pcapng FILE, for Wireshark/tshark; no root needed.
    #[arg(long, value_name = "FILE", conflicts_with = "pcap_dir")]
    pub pcap: Option<PathBuf>,
    /// As --pcap, one file per connection in DIR (PROXY-ID.pcapng).
    #[arg(long, value_name = "DIR")]
    pub pcap_dir: Option<PathBuf>,
    /// Speak TLS to the upstream, verifying its certificate against the bundled Mozilla roots and --cacert; with --pcap the session keys go into the capture.
    #[arg(long)]
    pub upstream_tls: bool,
    /// Also trust the CA certificate(s) in FILE (PEM) for the upstream's certificate.
    #[arg(long, value_name = "FILE", requires = "upstream_tls")]
    pub cacert: Option<PathBuf>,
    /// Server name to send (SNI) to the upstream and verify, instead of the host of UPSTREAM.
    #[arg(long, value_name = "NAME", requires = "upstream_tls")]
    pub sni: Option<String>,
    /// Do not verify the upstream's certificate (for testing only; a warning goes to stderr).
    #[arg(long, requires = "upstream_tls")]
    pub insecure: bool,
    /// Accept exactly the upstream certificate with this SHA-256 fingerprint (sha256:HEX, colons allowed), no CA needed; its dates and name are still checked.
    #[arg(long, value_name = "sha256:HEX", requires = "upstream_tls", conflicts_with = "insecure", value_parser = wirekit::tls::Pin::parse)]
    pub pin: Option<wirekit::tls::Pin>,
    /// Relay UDP instead of TCP: one upstream socket per client address (--pcap records the datagrams).
    #[arg(long)]
    pub udp: bool,
    /// A UDP fault (repeatable): loss|duplicate|reorder|corrupt[:rate=P] or latency:latency=MS,jitter=MS; each takes stream=upstream|downstream (default downstream).
    #[arg(long, value_name = "SPEC", requires = "udp", value_parser = parse_udp_fault)]
    pub udp_fault: Vec<UdpFault>,
    /// Close a client's upstream UDP socket after this long without a datagram either way.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s", requires = "udp")]
    pub udp_idle: Duration,
    /// Proxy HTTP/1.1 and apply --http-fault to requests (--upstream-tls for HTTPS upstreams; --pcap and --hex-dump record both legs).
    #[arg(long, conflicts_with = "udp")]
    pub http: bool,
    /// With --http: the longest wait for the upstream's connection and response head; then the client gets 504.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s", requires = "http")]
    pub upstream_timeout: Duration,
    /// An HTTP fault (repeatable): abort:status=503,retry_after=1 | delay:ms=500 | throttle:rate=KB/s | cut:bytes=N,
    /// matched by method=, path= (prefix), header=Name[:value], gated by percent=, first=N or every=N.
    #[arg(long, value_name = "SPEC", requires = "http")]
    pub http_fault: Vec<String>,
    /// `--tls`: terminate TLS from clients.
    #[command(flatten, next_help_heading = "TLS")]
    pub tls: TlsServerArgs,
    /// The shared listener's flags.
    #[command(flatten)]
    pub listen_args: ListenArgs,
    /// `--hex-dump` (both legs: the client's and the upstream's).
    #[command(flatten)]
    pub dump: DumpArgs,
}

/// A `--toxic` value.
fn parse_toxic(text: &str) -> Result<Toxic, String> {
    Toxic::parse(text).map_err(|e| wirekit::error::one_line(&e))
}

/// A `--udp-fault` value.
fn parse_udp_fault(text: &str) -> Result<UdpFault, String> {
    UdpFault::parse(text).map_err(|e| wirekit::error::one_line(&e))
}
