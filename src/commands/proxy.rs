//! `wirekit proxy`: flags (or a populate file) -> proxies -> bind, announce,
//! relay -> per-connection events.

use crate::cli::ProxyArgs;
use anyhow::Result;
use serde_json::json;
use std::io::Write;
use tokio::sync::mpsc;
use wirekit::net::{ConnectOptions, HostPort};
use wirekit::proxy::{BoundProxy, Event, ProxyConfig, ProxyOptions, config};

/// Run every proxy until SIGINT/SIGTERM.
pub(crate) async fn run(a: &ProxyArgs) -> Result<()> {
    let proxies = match (&a.config, &a.listen, &a.upstream) {
        (Some(path), _, _) => config::load(path)?,
        (None, Some(listen), Some(upstream)) => vec![ProxyConfig {
            name: "proxy".into(),
            listen: HostPort::parse(listen, None)?,
            upstream: HostPort::parse(upstream, None)?,
            enabled: true,
            toxics: a.toxics.clone(),
        }],
        _ => {
            return Err(wirekit::error::usage(
                "give LISTEN and UPSTREAM, or --config FILE",
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
        listen,
        dump: a.dump.open()?,
        seed: a.seed,
    };
    let (tx, rx) = mpsc::channel(256);
    let events = a.json.then_some(tx);
    let mut bound = Vec::new();
    for p in proxies.iter().filter(|p| p.enabled) {
        let proxy = BoundProxy::bind(p, &options, events.clone()).await?;
        // Always (even with -q), and stable: scripts and tests read the port here.
        if a.config.is_some() {
            eprintln!(
                "wirekit: proxy {} listening on {}",
                p.name,
                proxy.local_addr()
            );
        } else {
            eprintln!("wirekit: listening on {}", proxy.local_addr());
        }
        tracing::info!("proxy {}: {} -> {}", p.name, proxy.local_addr(), p.upstream);
        bound.push(proxy);
    }
    for p in proxies.iter().filter(|p| !p.enabled) {
        eprintln!(
            "wirekit: proxy {} is disabled (enabled: false): not listening on {}",
            p.name, p.listen
        );
    }
    drop(events);
    let printing = tokio::spawn(print_events(rx));
    let results = futures_util::future::join_all(bound.into_iter().map(BoundProxy::run)).await;
    let _ = printing.await;
    results.into_iter().collect::<Result<Vec<()>>>().map(|_| ())
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
