//! TCP like ncat: a client that pipes stdin and stdout (or fixed bytes, or
//! zeros) through the shared connector, a port scan, and a server on the shared
//! listener that pipes, echoes, replies, runs a program, brokers or chats.
//!
//! - [`pipe`]: moving bytes between a connection and its input and output;
//! - [`client`]: `connect` and `scan`;
//! - [`listen`]: `serve`, its modes and per-connection events;
//! - `modes` (echo, reply, exec) and `broker` (hub, broker, chat): the modes' work.

mod broker;
pub mod client;
pub mod listen;
mod modes;
pub mod pipe;

pub use client::{TcpConnectOptions, Transfer, connect, scan};
pub use listen::{Event, ListenMode, TcpListenOptions, serve};
pub use pipe::{Input, Output, pipe};
