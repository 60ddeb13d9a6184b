//! `wirekit serve`: the flags become [`ServeOptions`], the server binds, the
//! "Serving DIR on URL" line goes to stdout, then it serves until stopped.

use crate::cli::{GlobalArgs, LogFormat, ServeArgs};
use anyhow::{Context, Result};
use std::io::Write;
use wirekit::http::server::{AccessLogFormat, ServeOptions, Server};
use wirekit::net::HostPort;

/// The library's options for these flags.
fn options(args: &ServeArgs, global: &GlobalArgs) -> Result<ServeOptions> {
    // The access log goes out at info level: -q (errors only) silences it too.
    let log_on = !args.no_access_log && tracing::enabled!(tracing::Level::INFO);
    Ok(ServeOptions {
        root: args.dir.clone(),
        bind: HostPort {
            host: args
                .bind
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: args.port,
        },
        listing: !args.no_listing,
        hidden: args.hidden,
        follow_symlinks: args.follow_symlinks,
        spa: args.spa,
        routes: args.route.clone(),
        routes_file: args.routes.clone(),
        httpbin: args.httpbin.then(|| args.httpbin_prefix.clone()),
        auth: args.auth.clone(),
        token: args.token.clone(),
        upload: args.upload,
        overwrite: args.overwrite,
        max_body: args.max_body,
        cors: args.cors,
        headers: args.headers.clone(),
        cache_control: args.cache_control.clone(),
        compress: !args.no_compress,
        access_log: log_on.then_some(match global.log_format {
            LogFormat::Text => AccessLogFormat::Combined,
            LogFormat::Json => AccessLogFormat::Json,
        }),
        header_timeout: args.header_timeout,
        max_header_size: args.max_header_size,
        max_headers: args.max_headers,
        listen: args.listen.options(),
        tls: args.tls.options(),
        dump: args.dump.open()?,
    })
}

/// Run `wirekit serve` until SIGINT/SIGTERM.
pub async fn run(args: &ServeArgs, global: &GlobalArgs) -> Result<()> {
    let server = Server::new(options(args, global)?)?;
    let server = server.bind().await.map_err(|e| {
        if args.port == 8000 {
            e.context("wirekit serve listens on port 8000 by default; choose another with -p")
        } else {
            e
        }
    })?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "Serving {} on {}",
            server.root().display(),
            server.url()
        )
        .and_then(|_| out.flush())
        .context("writing to stdout")?;
    }
    server.run().await
}
