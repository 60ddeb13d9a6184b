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
        mkdir: args.mkdir,
        archives: !args.no_archives,
        qr: args.qr,
        max_body: args.max_body,
        cors: args.cors,
        allowed_hosts: args.allowed_hosts.clone(),
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

/// Whether uploads are on, without credentials, on an address other machines reach: warn.
fn open_uploads(bound: std::net::IpAddr, upload: bool, credentials: bool) -> bool {
    upload && !credentials && !bound.is_loopback()
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
        if args.qr {
            let phone = wirekit::http::server::qr::phone_url(server.local_addr(), server.tls());
            if let Some(code) = wirekit::http::server::qr::terminal(&phone) {
                writeln!(out, "{code}\n{phone}")
                    .and_then(|_| out.flush())
                    .context("writing to stdout")?;
            }
        }
    }
    if open_uploads(
        server.local_addr().ip(),
        args.upload,
        args.auth.is_some() || args.token.is_some(),
    ) {
        tracing::warn!(
            "uploads are on and {} is reachable from other machines without credentials: anyone who can reach it can write to {}; add --auth USER:PASS or --token TOKEN, or bind 127.0.0.1",
            server.local_addr(),
            server.root().display()
        );
    }
    server.run().await
}

#[cfg(test)]
mod tests {
    use super::open_uploads;

    #[test]
    fn warns_only_for_uploads_open_to_other_machines() {
        let any: std::net::IpAddr = "0.0.0.0".parse().unwrap();
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let lo6: std::net::IpAddr = "::1".parse().unwrap();
        assert!(open_uploads(any, true, false));
        assert!(!open_uploads(any, true, true));
        assert!(!open_uploads(any, false, false));
        assert!(!open_uploads(lo, true, false));
        assert!(!open_uploads(lo6, true, false));
    }
}
