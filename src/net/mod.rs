//! Plumbing that every server and client of wirekit shares: addresses, the
//! listener (limits, access control, TLS, idle timeout, shutdown), the connector
//! (TCP, then TLS), the traffic tap (byte counts, hex dumps), name lookups and stdio.

pub mod access;
pub mod addr;
pub mod connect;
pub mod dump;
pub(crate) mod events;
pub(crate) mod heap;
pub mod listen;
pub mod resolve;
pub mod session;
pub mod socket;
pub mod stdio;
pub mod stream;
pub mod tunnel;

pub use access::Access;
pub use addr::HostPort;
pub use connect::{ConnectOptions, connect, open, open_local};
pub use dump::Dump;
pub use listen::{Conn, ListenOptions, Listener, bind_udp};
pub use session::Session;
pub use socket::Buffers;
pub use stream::{BoxStream, Meter};
