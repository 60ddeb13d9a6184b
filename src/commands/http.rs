//! `wirekit http`: the flags become a client, a request and how to show the exchange;
//! the library sends it and prints it (or saves the body).

use crate::cli::{ColorChoice, GlobalArgs, HttpArgs};
use anyhow::Result;
use std::io::{IsTerminal, Write};
use wirekit::error::{exit_with, one_line, usage};
use wirekit::http::client::download::{self, DownloadOptions};
use wirekit::http::client::errors::check_status;
use wirekit::http::client::exchange::{self, ExchangeOptions};
use wirekit::http::client::print::{Parts, Pretty, Printer};
use wirekit::http::client::to_curl::curl_command;
use wirekit::http::client::{RequestOptions, Verify, build_client, prepare};
use wirekit::net::listen::StopOnSignal;

/// Which parts to print, from -p, -b, --headers, -v and whether stdout is a terminal.
fn print_parts(args: &HttpArgs, verbose: u8, tty: bool) -> Result<Parts> {
    if let Some(p) = args.print {
        return Ok(p);
    }
    let spec = if args.body_only {
        "b"
    } else if args.headers_only {
        "h"
    } else if verbose >= 2 {
        "HBhbm"
    } else if verbose == 1 {
        "HBhb"
    } else if args.offline {
        "HB"
    } else if tty {
        "hb"
    } else {
        "b"
    };
    Parts::parse(spec).map_err(usage)
}

/// Indenting and colours, from --pretty, --color, NO_COLOR and whether stdout is a terminal.
fn printer(args: &HttpArgs, color: ColorChoice, tty: bool) -> Printer {
    let pretty = args
        .pretty
        .unwrap_or(if tty { Pretty::All } else { Pretty::None });
    let explicit = args.pretty.is_some();
    let colors = pretty.colours()
        && match color {
            ColorChoice::Never => false,
            ColorChoice::Always => true,
            ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none() && (tty || explicit),
        };
    Printer {
        colors,
        format: pretty.indents(),
        terminal: tty,
    }
}

/// Run `wirekit http`.
pub(crate) async fn run(args: &HttpArgs, global: &GlobalArgs) -> Result<()> {
    let stdout_tty = std::io::stdout().is_terminal();
    let options = args.client.options();
    let client = build_client(&options, None)?;
    let request = RequestOptions {
        args: args.args.clone(),
        form: args.form,
        multipart: args.multipart,
        raw: args.raw.clone(),
        read_stdin: !args.ignore_stdin && !std::io::stdin().is_terminal(),
    };
    let mut prepared = prepare(&request, &client, options.auth.as_ref())?;
    // The request carries its own limit, so that a timeout names it.
    *prepared.request.timeout_mut() = options.timeout;
    if options.verify == Verify::No && prepared.request.url().scheme() == "https" && !global.quiet {
        let host = prepared.request.url().host_str().unwrap_or("?");
        eprintln!(
            "wirekit: warning: --verify no: the certificate of {host} is NOT verified; \
             anyone on the path can read and change this connection"
        );
    }
    if args.curl {
        println!("{}", curl_command(&prepared, &options));
        return Ok(());
    }
    let downloading = args.download || args.output.is_some();
    if args.resume && !downloading {
        return Err(usage("--continue resumes a download; add -d or -o FILE"));
    }
    let parts = print_parts(args, global.verbose, stdout_tty)?;
    let printer = printer(args, global.color, stdout_tty);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = exchange::print_request(&mut out, &printer, &prepared.request, parts)?;
    if args.offline {
        out.write_all(b"\n").ok();
        out.flush().ok();
        return Ok(());
    }
    if downloading {
        drop(out);
        // SIGINT/SIGTERM stop the download, keeping NAME.part, and name the resume command.
        let signals = StopOnSignal::install();
        let o = DownloadOptions {
            output: args.output.clone(),
            resume: args.resume,
            check_status: args.check_status,
            follow: options.follow,
            retry: options.retry.clone(),
            show_head: parts.resp_head,
            printer,
            quiet: global.quiet,
            stop: signals.token.clone(),
        };
        let done = download::run(&client, prepared.request, &o).await;
        return match (done, signals.received()) {
            (Err(e), Some(signal)) => Err(exit_with(
                signal.exit_code(),
                format!("{}: {}", signal.name(), one_line(&e)),
            )),
            (done, _) => done,
        };
    }
    let o = ExchangeOptions {
        parts,
        printer,
        retry: options.retry.clone(),
        quiet: global.quiet,
    };
    let status = exchange::send(&client, prepared.request, &o, &mut out, written).await?;
    drop(out);
    if args.check_status {
        check_status(status)?;
    }
    Ok(())
}
