//! Diagnostics go to stderr through `tracing`, as text or JSON lines.
//!
//! Binary-only set-up, so it lives on the command side: a Rust program using
//! the library installs its own subscriber, and the choices here (the `-v`/`-q`
//! levels, `--log-format`, `--color`, `NO_COLOR`) are the command line's.

use crate::cli::{ColorChoice, GlobalArgs, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Whether colour is wanted on a stream that is (or is not) a terminal.
pub(crate) fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// The filter for the command line's level, when `RUST_LOG` does not set one.
///
/// `-q` lets only errors through, from every crate. rustls warns about what
/// peers send (`Illegal SNI extension: ignoring IP address presented as
/// hostname` for each wrk or curl connection to an IP address): a server's log
/// would fill with it, so its warnings show from `-v` on only.
fn default_filter(quiet: bool, verbose: u8) -> String {
    let others = "rustls_platform_verifier=off";
    match (quiet, verbose) {
        (true, _) => format!("error,{others}"),
        (false, 0) => format!("wirekit=info,warn,rustls=error,{others}"),
        (false, 1) => format!("wirekit=debug,warn,{others}"),
        (false, _) => format!("wirekit=trace,warn,{others}"),
    }
}

/// Install the global subscriber: `-q` errors only, default info, `-v` debug, `-vv` trace.
/// `RUST_LOG` overrides the level when set.
pub fn init(global: &GlobalArgs) {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| EnvFilter::new(default_filter(global.quiet, global.verbose)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Json => {
            let _ = builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .try_init();
        }
        LogFormat::Text => {
            let color = use_color(global.color, std::io::stderr().is_terminal());
            let _ = builder
                .with_ansi(color)
                .with_target(global.verbose > 0)
                .without_time()
                .try_init();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::default_filter;
    use tracing_subscriber::EnvFilter;

    #[test]
    fn every_level_gives_a_filter_that_parses() {
        for (q, v) in [(true, 0), (false, 0), (false, 1), (false, 2)] {
            let f = default_filter(q, v);
            assert!(EnvFilter::try_new(&f).is_ok(), "{f}");
        }
        assert!(default_filter(false, 0).contains("rustls=error"));
        assert!(!default_filter(false, 1).contains("rustls=error"));
        assert!(default_filter(true, 0).starts_with("error,"));
    }
}
