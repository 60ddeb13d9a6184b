//! wirekit: every job of network programming in one library and one binary.
//!
//! The binary (`src/main.rs`, with the flags in `src/cli/` and the wiring in
//! `src/commands/`) parses arguments, sets up logging and maps errors to exit
//! codes; the behaviour lives here, behind plain option structs a Rust user
//! can build. The main uses:
//!
//! Serve a folder (files, listings, ranges, compression), as `wirekit serve site`:
//!
//! ```no_run
//! use wirekit::http::server::{ServeOptions, run};
//! use wirekit::net::HostPort;
//!
//! # async fn demo() -> anyhow::Result<()> {
//! let options = ServeOptions {
//!     root: "site".into(),
//!     bind: HostPort::parse("127.0.0.1:8080", None)?,
//!     ..ServeOptions::default()
//! };
//! run(options).await // until SIGINT/SIGTERM
//! # }
//! ```
//!
//! Fetch many URLs at once, bounded and pooled, as `wirekit fetch`:
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use wirekit::http::client::default_client;
//! use wirekit::http::client::fetch::{FetchOptions, fetch_all};
//!
//! # async fn demo() -> anyhow::Result<()> {
//! let urls = (1..=100).map(|i| format!("http://127.0.0.1:8000/item/{i}"));
//! let mut options = FetchOptions::new(default_client()?);
//! options.concurrency = 20;
//! let mut results = std::pin::pin!(fetch_all(urls, options));
//! while let Some(r) = results.next().await {
//!     println!("{} {:?} {} bytes", r.url, r.status, r.bytes);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Fernet tokens that Python's `cryptography.fernet` reads, and the reverse:
//!
//! ```
//! use wirekit::fernet::Fernet;
//!
//! let key = Fernet::generate_key();
//! let fernet = Fernet::new(&key)?;
//! let token = fernet.encrypt(b"secret message");
//! assert_eq!(fernet.decrypt(&token)?, b"secret message");
//! # Ok::<(), wirekit::fernet::FernetError>(())
//! ```
//!
//! A TLS client through the shared connector (timeouts, certificate checks
//! against the Mozilla roots plus a CA file), as `wirekit tcp connect --tls`:
//!
//! ```no_run
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use wirekit::net::{self, ConnectOptions, HostPort};
//! use wirekit::tls::{TlsClient, TlsClientOptions};
//!
//! # async fn demo() -> anyhow::Result<()> {
//! let target = HostPort::parse("localhost:8443", None)?;
//! let tls = TlsClient::new(&TlsClientOptions { cacert: Some("ca.pem".into()), ..Default::default() }, &[])?;
//! let (mut stream, _addr) = net::open(&target, &ConnectOptions::default(), Some(&tls)).await?;
//! stream.write_all(b"Hello").await?;
//! let mut answer = Vec::new();
//! stream.read_to_end(&mut answer).await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod bench;
pub mod disk;
pub mod error;
pub mod fernet;
mod forward;
pub mod http;
pub mod net;
pub mod proxy;
pub mod tcp;
pub mod text;
pub mod tls;
pub mod udp;
pub mod units;
