//! The wirekit binary: parse, set up logging, run, map the outcome to an exit code.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod commands;

use cli::Command;
use std::process::ExitCode;
use wirekit::error::{exit_code, one_line};

/// jemalloc instead of glibc's malloc: it keeps each size class in its own slabs,
/// so the small long-lived objects of idle connections are packed together rather
/// than pinning the pages of freed request buffers (10,000 idle `serve` keep-alive
/// clients: see bench/RESULTS.md, "idle memory").
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = cli::parse();
    // For `http`, -v chooses what to print (the whole exchange), not the log level.
    let mut log_args = cli.global.clone();
    if matches!(cli.command, Command::Http(_)) {
        log_args.verbose = 0;
    }
    commands::logging::init(&log_args);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wirekit: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(commands::run(&cli));
    // A thread blocked on stdin must not keep the process alive.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = exit_code(&e);
            eprintln!("wirekit: {}", one_line(&e));
            ExitCode::from(code)
        }
    }
}
