//! `wirekit serve`: hyper (HTTP/1.1 keep-alive and h2c, h2 over TLS) on the
//! shared listener. [`ServeOptions`] say what to serve; [`Server`] checks them,
//! binds and runs. Inside: `dispatch` chains the features (auth, mock routes,
//! httpbin, uploads, files), each in its own module; `conn` drives connections.

mod access_log;
mod auth;
mod body;
mod checks;
mod config;
mod conn;
mod dispatch;
mod error;
mod files;
mod httpbin;
mod mock;
pub mod qr;
mod response;
mod start;
mod upload;

pub use access_log::Format as AccessLogFormat;
pub use config::ServeOptions;
pub use start::{Bound, Server, run};
