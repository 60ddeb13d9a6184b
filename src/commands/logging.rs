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

/// Install the global subscriber: `-q` errors only, default info, `-v` debug, `-vv` trace.
/// `RUST_LOG` overrides the level when set.
pub fn init(global: &GlobalArgs) {
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        EnvFilter::new(format!("wirekit={level},warn,rustls_platform_verifier=off"))
    });
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
