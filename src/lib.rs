//! wirekit: every job of network programming in one library and one binary.
//!
//! The binary (`src/main.rs`) only parses arguments, sets up logging and maps
//! errors to exit codes; everything else lives here so it can be reused.

pub mod cli;
pub mod commands;
pub mod disk;
pub mod error;
pub mod fernet;
mod forward;
pub mod http;
pub mod net;
pub mod tcp;
pub mod tls;
pub mod udp;
pub mod units;
