//! Integration tests: one binary (linking stays fast), one module per command.

mod util;

mod bench;
mod fernet;
mod fetch;
mod http;
mod resolve;
mod serve;
mod tcp;
mod tls;
mod udp;
