//! `wirekit proxy`: flags (or a populate file) -> proxies in a registry ->
//! announce -> relay (and the control API) -> per-connection events.

use crate::cli::ProxyArgs;
use anyhow::Result;
use serde_json::json;
use std::io::Write;
use std::sync::Arc;
use tokio::sync::mpsc;
use wirekit::net::{ConnectOptions, HostPort, Listener};
use wirekit::proxy::capture::{Capture, CaptureTarget};
use wirekit::proxy::{Event, ProxyConfig, ProxyOptions, Registry, api, config};

/// Run every proxy (and the API) until SIGINT/SIGTERM.
pub(crate) async fn run(a: &ProxyArgs) -> Result<()> {
    check_modes(a)?;
    if a.udp {
        return udp(a).await;
    }
    if a.http {
        return http(a).await;
    }
    let proxies = match (&a.config, &a.listen, &a.upstream) {
        (Some(path), _, _) => config::load(path)?,
        (None, Some(listen), Some(upstream)) => vec![ProxyConfig {
            name: "proxy".into(),
            listen: HostPort::parse(listen, None)?,
            upstream: HostPort::parse(upstream, None)?,
            enabled: true,
            toxics: a.toxics.clone(),
        }],
        (None, None, None) if a.api.is_some() => Vec::new(),
        _ => {
            return Err(wirekit::error::usage(
                "give LISTEN and UPSTREAM, --config FILE, or --api ADDR",
            ));
        }
    };
    let listen = a.listen_args.options();
    let options = ProxyOptions {
        connect: ConnectOptions {
            connect_timeout: a.connect_timeout,
            buffers: listen.buffers,
            ..ConnectOptions::default()
        },
        listen: listen.clone(),
        dump: a.dump.open()?,
        seed: a.seed,
        capture: capture_target(a)?,
        tls: wirekit::tls::acceptor(a.tls.options().as_ref(), "localhost", &[])?,
        upstream_tls: upstream_tls(a, &[])?,
    };
    let (tx, rx) = mpsc::channel(256);
    let registry = Arc::new(Registry::new(options, a.json.then_some(tx)));
    let api = match &a.api {
        Some(addr) => {
            Some(Listener::bind(&HostPort::parse(addr, Some(8474))?, &listen, None).await?)
        }
        None => None,
    };
    for p in proxies {
        let name = p.name.clone();
        let (listen, upstream, enabled) = (p.listen.clone(), p.upstream.clone(), p.enabled);
        registry
            .add(p)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        // Always (even with -q), and stable: scripts and tests read the port here.
        match registry.local_addr(&name).await {
            Some(addr) if a.config.is_none() => eprintln!("wirekit: listening on {addr}"),
            Some(addr) => eprintln!("wirekit: proxy {name} listening on {addr}"),
            None if !enabled => eprintln!(
                "wirekit: proxy {name} is disabled (enabled: false): not listening on {listen}"
            ),
            None => {}
        }
        tracing::info!("proxy {name} relays to {upstream}");
    }
    let printing = tokio::spawn(print_events(rx));
    let result = match api {
        Some(listener) => {
            eprintln!("wirekit: api listening on {}", listener.local_addr());
            api::serve(listener, registry.clone()).await
        }
        None => {
            wirekit::net::listen::shutdown_signal().await;
            Ok(())
        }
    };
    registry.wait().await;
    drop(registry);
    let _ = printing.await;
    result
}

/// Flags that `--udp` or `--http` cannot honour: exit 2 saying why and what to
/// use instead, rather than ignoring them.
fn check_modes(a: &ProxyArgs) -> Result<()> {
    let tls = a.tls.tls || a.upstream_tls;
    let refused: &[(bool, &str)] = if a.udp {
        &[
            (
                a.json,
                "--udp has no connections to report with --json; -v logs each client's session, --pcap FILE records the datagrams",
            ),
            (
                a.dump.hex_dump.is_some(),
                "--udp does not hex-dump datagrams; record them with --pcap FILE and read it with tshark -x",
            ),
            (
                !a.toxics.is_empty(),
                "--toxic acts on TCP streams; for --udp use --udp-fault (loss, duplicate, reorder, corrupt, latency)",
            ),
            (
                tls,
                "--udp relays datagrams as they are, and TLS needs TCP; drop --udp to relay TLS",
            ),
            (
                a.config.is_some() || a.api.is_some(),
                "--config and --api run TCP proxies; run the --udp relay as a wirekit proxy process of its own",
            ),
        ]
    } else if a.http {
        &[
            (
                a.json,
                "--json reports TCP connections, and --http has requests; use --pcap FILE (tshark -Y http.request) or -v, or a TCP proxy with --json",
            ),
            (
                !a.toxics.is_empty(),
                "--toxic acts on TCP bytes; with --http use --http-fault (abort, delay, throttle, cut), or put a TCP proxy with --toxic in front",
            ),
            (
                a.config.is_some() || a.api.is_some(),
                "--config and --api run TCP proxies (Toxiproxy's model); run the --http proxy as a wirekit proxy process of its own",
            ),
        ]
    } else {
        &[]
    };
    match refused.iter().find(|(given, _)| *given) {
        Some((_, why)) => Err(wirekit::error::usage(*why)),
        None => Ok(()),
    }
}

/// `--udp`: the UDP relay.
async fn udp(a: &ProxyArgs) -> Result<()> {
    let (Some(listen), Some(upstream)) = (&a.listen, &a.upstream) else {
        return Err(wirekit::error::usage("--udp needs LISTEN and UPSTREAM"));
    };
    let buffers = a.listen_args.buffers.buffers();
    let socket = wirekit::net::bind_udp(&HostPort::parse(listen, None)?, &buffers).await?;
    // Always (even with -q), and stable, as `udp listen` says it.
    eprintln!("wirekit: listening on udp {}", socket.local_addr()?);
    let options = wirekit::proxy::udp::UdpProxyOptions {
        upstream: HostPort::parse(upstream, None)?,
        faults: a.udp_fault.clone(),
        idle: a.udp_idle,
        seed: a.seed,
        buffers,
        capture: capture_target(a)?,
    };
    wirekit::proxy::udp::relay(socket, options).await
}

/// `--http`: the HTTP proxy with its faults.
async fn http(a: &ProxyArgs) -> Result<()> {
    let (Some(listen), Some(upstream)) = (&a.listen, &a.upstream) else {
        return Err(wirekit::error::usage("--http needs LISTEN and UPSTREAM"));
    };
    let faults = a
        .http_fault
        .iter()
        .map(|s| wirekit::proxy::http::HttpFault::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let addr = HostPort::parse(listen, None)?;
    let tls = wirekit::tls::acceptor(a.tls.options().as_ref(), &addr.host, &[])?;
    let dump = a.dump.open()?;
    let listener = Listener::bind(&addr, &a.listen_args.options(), dump.clone())
        .await?
        .with_tls(tls);
    eprintln!("wirekit: listening on {}", listener.local_addr());
    let listen = a.listen_args.options();
    let options = wirekit::proxy::http::HttpProxyOptions {
        upstream: HostPort::parse(upstream, None)?,
        connect: ConnectOptions {
            connect_timeout: a.connect_timeout,
            buffers: listen.buffers,
            ..ConnectOptions::default()
        },
        tls: upstream_tls(a, &["http/1.1"])?,
        capture: capture_target(a)?,
        dump,
        timeout: a.upstream_timeout,
        faults,
        seed: a.seed,
    };
    wirekit::proxy::http::serve(listener, options).await
}

/// `--upstream-tls` and its checks (--cacert, --sni, --insecure, --pin).
fn upstream_tls(a: &ProxyArgs, alpn: &[&str]) -> Result<Option<wirekit::tls::TlsClient>> {
    if !a.upstream_tls {
        return Ok(None);
    }
    let options = wirekit::tls::TlsClientOptions {
        cacert: a.cacert.clone(),
        insecure: a.insecure,
        sni: a.sni.clone(),
        pin: a.pin,
        ..Default::default()
    };
    Ok(Some(wirekit::tls::TlsClient::new(&options, alpn)?))
}

/// `--pcap FILE` (created now) or `--pcap-dir DIR` (which must exist).
fn capture_target(a: &ProxyArgs) -> Result<Option<CaptureTarget>> {
    if let Some(path) = &a.pcap {
        return Ok(Some(CaptureTarget::File(Capture::create(path)?)));
    }
    if let Some(dir) = &a.pcap_dir {
        if !dir.is_dir() {
            return Err(wirekit::error::usage(format!(
                "--pcap-dir {} is not a folder; create it first (mkdir -p {})",
                dir.display(),
                dir.display()
            )));
        }
        return Ok(Some(CaptureTarget::Dir(dir.clone())));
    }
    Ok(None)
}

/// One JSON line per event on stdout.
async fn print_events(mut rx: mpsc::Receiver<Event>) {
    while let Some(event) = rx.recv().await {
        let line = match event {
            Event::Open { proxy, id, peer } => {
                json!({"event": "open", "proxy": proxy, "id": id, "peer": peer.to_string()})
            }
            Event::Close {
                proxy,
                id,
                peer,
                upstream,
                received,
                sent,
                upstream_sent,
                upstream_received,
                toxics,
                elapsed,
                note,
                error,
            } => json!({"event": "close", "proxy": proxy, "id": id, "peer": peer.to_string(),
                "upstream": upstream.map(|u| u.to_string()),
                "received": received, "sent": sent,
                "upstream_sent": upstream_sent, "upstream_received": upstream_received,
                "toxics": toxics, "duration_ms": elapsed.as_secs_f64() * 1000.0,
                "note": note, "error": error}),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}
