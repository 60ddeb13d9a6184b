//! Integration tests: one binary (linking stays fast), one module per command.

mod util;

mod resolve;
mod serve;
mod tcp;
mod udp;
