//! Integration tests: one binary (linking stays fast), one module per command.

mod util;

mod bench;
mod fernet;
mod fetch;
mod http;
mod proxy;
mod resolve;
mod serve;
mod serve_protocol;
mod tcp;
mod tls;
mod udp;
