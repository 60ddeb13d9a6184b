//! `wirekit tcp connect|listen`: flags -> `tcp` library options -> run ->
//! transfer summaries, scan lines and per-connection events.

use crate::cli::{ProxyType, TcpArgs, TcpCommand, TcpConnectArgs, TcpListenArgs};
use anyhow::Result;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::json;
use std::io::{self, Write};
use tokio::sync::{mpsc, oneshot};
use wirekit::error::{exit_with, one_line, usage};
use wirekit::net::addr::parse_port_range;
use wirekit::net::stdio::{StdoutWriter, to_crlf};
use wirekit::net::tunnel::{ProxyKind, Tunnel};
use wirekit::net::{HostPort, Listener};
use wirekit::tcp::{
    Event, Input, ListenMode, Output, TcpConnectOptions, TcpListenOptions, Transfer,
};
use wirekit::tls;
use wirekit::units::{format_bitrate, format_bytes};

/// Run `tcp connect` or `tcp listen`.
pub(crate) async fn run(args: &TcpArgs) -> Result<()> {
    match &args.command {
        TcpCommand::Connect(a) if a.scan => scan(a).await,
        TcpCommand::Connect(a) => connect(a).await,
        TcpCommand::Listen(a) => listen(a).await,
    }
}

/// `--send` / `--reply` text as bytes, LF turned into CRLF with `--crlf`.
fn text_bytes(text: &str, crlf: bool) -> Bytes {
    if crlf {
        to_crlf(text.as_bytes(), &mut false)
    } else {
        Bytes::copy_from_slice(text.as_bytes())
    }
}

async fn connect(a: &TcpConnectArgs) -> Result<()> {
    let target = HostPort::parse(&a.addr, None)?;
    let (input, output) = if let Some(n) = a.zero_source {
        (Input::Zeros(n), Output::Discard)
    } else if let Some(text) = &a.send {
        (Input::Bytes(text_bytes(text, a.crlf)), Output::Stdout)
    } else if a.recv_only {
        (Input::Nothing, Output::Stdout)
    } else if a.send_only {
        (Input::Stdin { crlf: a.crlf }, Output::Ignore)
    } else {
        (Input::Stdin { crlf: a.crlf }, Output::Stdout)
    };
    let mut connect = a.connect.options();
    connect.tunnel = tunnel(a)?;
    let options = TcpConnectOptions {
        connect,
        dump: a.dump.open()?,
        tls: a.tls.options(),
        input,
        output,
        // Over TLS the end of input is not sent unless --close-notify (zeros end a
        // throughput test, which must say so).
        keep_open: a.no_shutdown
            || a.recv_only
            || (a.zero_source.is_none() && a.tls.keeps_open_at_end_of_input()),
        program: program(&a.exec, &a.sh_exec)?,
        session: a.session.session()?,
    };
    // Whether the peer's bytes go to stdout: then the report must not join them.
    let stdout_carries_data = output == Output::Stdout && options.program.is_none();
    let done = wirekit::tcp::connect(&target, &options).await?;
    if a.json {
        print_transfer_json(&done, stdout_carries_data);
    } else if a.zero_source.is_some() {
        eprintln!(
            "sent {} in {:.3} s ({})",
            format_bytes(done.sent),
            done.elapsed.as_secs_f64(),
            format_bitrate(done.sent, done.elapsed)
        );
    }
    Ok(())
}

/// `--proxy`, `--proxy-type`, `--proxy-auth` as the connector's tunnel.
fn tunnel(a: &TcpConnectArgs) -> Result<Option<Tunnel>> {
    let Some(proxy) = &a.proxy else {
        return Ok(None);
    };
    let proxy = HostPort::parse(proxy, None)?;
    let kind = match a.proxy_type {
        ProxyType::Http => ProxyKind::Http,
        ProxyType::Socks4 => ProxyKind::Socks4,
        ProxyType::Socks5 => ProxyKind::Socks5,
    };
    let auth = match &a.proxy_auth {
        None => None,
        Some(pair) => match pair.split_once(':') {
            Some((user, pass)) if !user.is_empty() => Some((user.to_string(), pass.to_string())),
            _ => {
                return Err(usage(
                    "--proxy-auth takes USER:PASS, e.g. --proxy-auth alice:secret",
                ));
            }
        },
    };
    Ok(Some(Tunnel { proxy, kind, auth }))
}

/// The transfer report: on stderr when stdout carries the peer's bytes, as
/// `tcp listen` does, so data and report never mix.
fn print_transfer_json(t: &Transfer, to_stderr: bool) {
    let secs = t.elapsed.as_secs_f64();
    let line = json!({"peer": t.peer.to_string(), "sent": t.sent, "received": t.received,
           "duration_ms": secs * 1000.0,
           "send_bits_per_second": t.sent as f64 * 8.0 / secs.max(1e-9)});
    if to_stderr {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// `-z`: which ports accept a connection. Exit 0 when any is open.
async fn scan(a: &TcpConnectArgs) -> Result<()> {
    let (host, ports) = parse_port_range(&a.addr)?;
    let options = a.connect.options();
    let mut results = wirekit::tcp::scan(&host, ports.clone(), &options);
    let mut open = 0;
    while let Some((target, result)) = results.next().await {
        let is_open = result.is_ok();
        open += usize::from(is_open);
        if a.json {
            let error = result.err().map(|e| one_line(&e));
            println!(
                "{}",
                json!({"host": target.host, "port": target.port, "open": is_open, "error": error})
            );
        } else {
            println!("{target} {}", if is_open { "open" } else { "closed" });
        }
    }
    if open == 0 {
        return Err(exit_with(
            1,
            format!("no open port in {host}:{}-{}", ports.start(), ports.end()),
        ));
    }
    Ok(())
}

/// The words of `--exec` (split like a shell) or `--sh-exec` (run by `sh -c`).
fn program(exec: &Option<String>, sh_exec: &Option<String>) -> Result<Option<Vec<String>>> {
    match (exec, sh_exec) {
        (Some(cmd), _) => {
            let words = shell_words::split(cmd)
                .map_err(|e| usage(format!("--exec '{cmd}' cannot be split into words: {e}")))?;
            if words.is_empty() {
                return Err(usage("--exec needs a program to run"));
            }
            Ok(Some(words))
        }
        (None, Some(cmd)) => Ok(Some(vec!["sh".into(), "-c".into(), cmd.clone()])),
        _ => Ok(None),
    }
}

fn listen_mode(a: &TcpListenArgs) -> Result<ListenMode> {
    let program = program(&a.exec, &a.sh_exec)?;
    Ok(if a.echo {
        ListenMode::Echo
    } else if let Some(text) = &a.reply {
        ListenMode::Reply(text_bytes(text, a.crlf))
    } else if let Some(words) = program {
        ListenMode::Exec(words)
    } else if a.broker {
        ListenMode::Broker
    } else if a.chat {
        ListenMode::Chat
    } else if a.discard {
        ListenMode::Discard
    } else {
        ListenMode::Pipe
    })
}

async fn listen(a: &TcpListenArgs) -> Result<()> {
    let addr = HostPort::parse(&a.addr, Some(8000))?;
    let mode = listen_mode(a)?;
    let dump = a.dump.open()?;
    let tls = tls::acceptor(a.tls.options().as_ref(), &addr.host, &[])?;
    let listener = Listener::bind(&addr, &a.listen.options(), dump)
        .await?
        .with_tls(tls)
        .with_session(a.session.session()?);
    // Always (even with -q), and stable: scripts and tests read the chosen port here.
    eprintln!("wirekit: listening on {}", listener.local_addr());
    let printer = EventPrinter {
        json: a.json,
        discard: matches!(mode, ListenMode::Discard),
        // Events go to stdout unless stdout carries the clients' data (pipe mode).
        stdout: !matches!(mode, ListenMode::Pipe),
    };
    let (tx, rx) = mpsc::channel(64);
    let (stop, stopped) = oneshot::channel();
    let printing = tokio::spawn(printer.run(rx, stopped));
    let options = TcpListenOptions {
        mode,
        keep_open: a.keep_open,
        crlf: a.crlf,
        send_only: a.send_only,
        recv_only: a.recv_only,
    };
    let result = wirekit::tcp::serve(listener, &options, Some(tx)).await;
    let _ = stop.send(());
    let _ = printing.await;
    result
}

/// Per-connection reports: JSON events, reply messages, the `--discard` summary line.
struct EventPrinter {
    json: bool,
    discard: bool,
    /// On stdout (in order, through one writer), else on stderr.
    stdout: bool,
}

impl EventPrinter {
    /// Print events until the channel closes, or until `stop` and then what is queued.
    async fn run(self, mut rx: mpsc::Receiver<Event>, mut stop: oneshot::Receiver<()>) {
        let out = self.stdout.then(StdoutWriter::new);
        let mut stopping = false;
        loop {
            let event = tokio::select! {
                event = rx.recv() => event,
                _ = &mut stop, if !stopping => {
                    // Connections cut at shutdown may still hold senders: take what is queued.
                    stopping = true;
                    rx.close();
                    continue;
                }
            };
            let Some(event) = event else { break };
            let Some(line) = self.line(event) else {
                continue;
            };
            match &out {
                Some(out) => {
                    let _ = out.write(line).await;
                }
                None => {
                    let _ = io::stderr().lock().write_all(&line);
                }
            }
        }
        if let Some(out) = out {
            let _ = out.finish().await;
        }
    }

    /// The line an event prints, if any (with its newline).
    fn line(&self, event: Event) -> Option<Bytes> {
        let text = match event {
            Event::Open { id, peer } if self.json => {
                json!({"event": "open", "id": id, "peer": peer.to_string()}).to_string()
            }
            Event::Message { id, peer, data } if self.json => {
                let text = String::from_utf8_lossy(&data);
                json!({"event": "message", "id": id, "peer": peer.to_string(), "data": text})
                    .to_string()
            }
            Event::Message { data, .. } if self.stdout => {
                let mut line = data.to_vec();
                if !line.ends_with(b"\n") {
                    line.push(b'\n'); // one message a line
                }
                return Some(Bytes::from(line));
            }
            Event::Close {
                id,
                peer,
                received,
                sent,
                elapsed,
                error,
            } => {
                let secs = elapsed.as_secs_f64();
                if self.json {
                    json!({"event": "close", "id": id, "peer": peer.to_string(),
                           "received": received, "sent": sent, "duration_ms": secs * 1000.0,
                           "receive_bits_per_second": received as f64 * 8.0 / secs.max(1e-9),
                           "error": error})
                    .to_string()
                } else if self.discard {
                    format!(
                        "{peer}: received {received} bytes ({}) in {secs:.3} s, {}",
                        format_bytes(received),
                        format_bitrate(received, elapsed)
                    )
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        Some(Bytes::from(text + "\n"))
    }
}
