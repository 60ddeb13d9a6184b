//! `wirekit proxy`: a TCP relay that breaks the network on purpose, with
//! Toxiproxy's toxics (modelled on Shopify/toxiproxy), on the shared listener
//! (access control, limits, idle timeout, graceful shutdown, hex dump) and the
//! shared connector.
//!
//! - [`toxic`]: the toxics, their attributes and the `--toxic` grammar;
//! - [`config`]: `--config`, Toxiproxy's populate JSON with toxics;
//! - [`registry`]: the proxies of a process by name, changed while they run;
//! - [`api`]: the Toxiproxy-compatible control API over the registry;
//! - [`capture`]: `--pcap`, both legs as synthesized TCP in pcapng;
//! - `chain`: one direction of a connection, through its toxics;
//! - `relay`: one connection, both directions, half-close and reset;
//! - `splice`: the relay's fast path while nothing needs to see the bytes;
//! - `upstream`: the upstream leg (connect, TLS, capture) of the relay and `--http`;
//! - [`udp`]: `--udp`, the UDP relay and its faults;
//! - [`http`]: `--http`, the HTTP proxy and its faults.

pub mod api;
pub mod capture;
mod chain;
pub mod config;
pub mod http;
pub mod registry;
mod relay;
mod splice;
pub mod toxic;
pub mod udp;
mod upstream;

pub use registry::{ApiError, Registry};
pub use toxic::{Kind, Stream, Toxic};

use crate::error::usage;
use crate::net::{ConnectOptions, Dump, HostPort, ListenOptions, Listener};
use anyhow::Result;
use relay::Route;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// One proxy: where it listens, where it relays to, and its toxics.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Its name (Toxiproxy's `name`), unique in a process.
    pub name: String,
    /// Where clients connect.
    pub listen: HostPort,
    /// Where their connections go.
    pub upstream: HostPort,
    /// `false`: not listening, so clients are refused (Toxiproxy's "down").
    pub enabled: bool,
    /// The toxics, in the order they act.
    pub toxics: Vec<Toxic>,
}

/// How every proxy of a process listens, connects and records.
#[derive(Clone, Default)]
pub struct ProxyOptions {
    /// The shared listener's options.
    pub listen: ListenOptions,
    /// The shared connector's options, for the upstream leg.
    pub connect: ConnectOptions,
    /// `--hex-dump`: both legs of every connection.
    pub dump: Option<Dump>,
    /// `--seed`: makes every random choice (toxicity, jitter, slice sizes) repeat.
    pub seed: Option<u64>,
    /// `--pcap` / `--pcap-dir`: both legs of every connection as packets.
    pub capture: Option<capture::CaptureTarget>,
    /// `--tls`: terminate TLS from clients (see `tls::acceptor`).
    pub tls: Option<crate::tls::TlsAcceptor>,
    /// `--upstream-tls`: speak TLS to the upstream.
    pub upstream_tls: Option<crate::tls::TlsClient>,
}

impl std::fmt::Debug for ProxyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyOptions")
            .field("listen", &self.listen)
            .field("connect", &self.connect)
            .field("seed", &self.seed)
            .field("capture", &self.capture)
            .field("tls", &self.tls.is_some())
            .field("upstream_tls", &self.upstream_tls.is_some())
            .finish_non_exhaustive()
    }
}

/// What happened to a relayed connection: open, then close.
#[derive(Debug, Clone)]
pub enum Event {
    /// A client was admitted.
    Open {
        /// The proxy's name.
        proxy: String,
        /// The connection's number, from 1, per proxy.
        id: u64,
        /// The client.
        peer: SocketAddr,
    },
    /// A connection ended.
    Close {
        /// The proxy's name.
        proxy: String,
        /// The connection's number.
        id: u64,
        /// The client.
        peer: SocketAddr,
        /// The upstream address connected to, if the connection got that far.
        upstream: Option<SocketAddr>,
        /// Bytes received from the client.
        received: u64,
        /// Bytes sent to the client.
        sent: u64,
        /// Bytes sent to the upstream.
        upstream_sent: u64,
        /// Bytes received from the upstream.
        upstream_received: u64,
        /// The names of the toxics that acted on it.
        toxics: Vec<String>,
        /// How long it lasted.
        elapsed: Duration,
        /// How it ended when not by two half-closes (a reset passed on, a toxic's close).
        note: Option<String>,
        /// Why it failed, on one line, if it did.
        error: Option<String>,
    },
}

/// Where the proxy's events go.
pub(crate) type Events = crate::net::events::Events<Event>;

/// A proxy's toxics, shared with its open connections: a change here acts on
/// them at their next chunk.
#[derive(Clone)]
pub struct LiveToxics {
    tx: Arc<watch::Sender<Arc<Vec<Toxic>>>>,
}

impl LiveToxics {
    /// A set holding `toxics` (checked: valid values, unique names).
    pub fn new(toxics: Vec<Toxic>) -> Result<LiveToxics> {
        check_toxics(&toxics)?;
        Ok(LiveToxics {
            tx: Arc::new(watch::channel(Arc::new(toxics)).0),
        })
    }

    /// The toxics now, in order.
    pub fn list(&self) -> Arc<Vec<Toxic>> {
        self.tx.borrow().clone()
    }

    /// Replace every toxic with `toxics` (checked as in [`LiveToxics::new`]).
    pub fn set(&self, toxics: Vec<Toxic>) -> Result<()> {
        check_toxics(&toxics)?;
        self.tx.send_replace(Arc::new(toxics));
        Ok(())
    }

    fn subscribe(&self) -> chain::ToxicList {
        self.tx.subscribe()
    }
}

/// Every toxic valid, and no name used twice.
fn check_toxics(toxics: &[Toxic]) -> Result<()> {
    for (i, t) in toxics.iter().enumerate() {
        t.validate()?;
        if toxics[..i].iter().any(|o| o.name == t.name) {
            return Err(usage(format!(
                "two toxics are named {}; give one another name with name=NAME",
                t.name
            )));
        }
    }
    Ok(())
}

/// A proxy bound to its address, ready to run.
pub struct BoundProxy {
    listener: Listener,
    route: Arc<Route>,
    toxics: LiveToxics,
}

impl BoundProxy {
    /// Bind `config.listen` with the shared listener; clients are relayed once
    /// [`BoundProxy::run`] runs. `events`, if given, hears of each connection.
    pub async fn bind(
        config: &ProxyConfig,
        options: &ProxyOptions,
        events: Option<mpsc::Sender<Event>>,
    ) -> Result<BoundProxy> {
        let toxics = LiveToxics::new(config.toxics.clone())?;
        BoundProxy::bind_with(config, options, events, toxics).await
    }

    /// As [`BoundProxy::bind`], with toxics that outlive this binding (a proxy
    /// disabled and enabled again through the API keeps its toxics).
    pub async fn bind_with(
        config: &ProxyConfig,
        options: &ProxyOptions,
        events: Option<mpsc::Sender<Event>>,
        toxics: LiveToxics,
    ) -> Result<BoundProxy> {
        let listener = Listener::bind(&config.listen, &options.listen, options.dump.clone())
            .await?
            .with_tls(options.tls.clone());
        let route = Arc::new(Route {
            name: config.name.clone(),
            upstream: config.upstream.clone(),
            connect: options.connect.clone(),
            dump: options.dump.clone(),
            idle: options.listen.idle_timeout,
            toxics: toxics.subscribe(),
            seed: options.seed,
            capture: options.capture.clone(),
            upstream_tls: options.upstream_tls.clone(),
            events: Events::new(events),
        });
        Ok(BoundProxy {
            listener,
            route,
            toxics,
        })
    }

    /// The address clients connect to (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// The proxy's toxics, to change while it runs.
    pub fn toxics(&self) -> LiveToxics {
        self.toxics.clone()
    }

    /// Relay clients until SIGINT/SIGTERM (then open connections may finish
    /// for the listener's shutdown timeout).
    pub async fn run(self) -> Result<()> {
        let route = self.route;
        let _keep = self.toxics; // the toxics live as long as the proxy
        self.listener
            .run(false, move |conn| {
                let route = route.clone();
                async move { relay::relay(conn, &route).await }
            })
            .await
    }
}
