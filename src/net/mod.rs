//! Plumbing that every server and client of wirekit shares: addresses, the
//! listener (limits, access control, TLS, idle timeout, shutdown), the connector
//! (TCP, then TLS), and the traffic tap (byte counts, hex dumps).

pub mod access;
pub mod addr;
pub mod connect;
pub mod dump;
pub mod listen;
pub mod stream;
pub mod tls;

pub use access::Access;
pub use addr::HostPort;
pub use connect::{connect, open};
pub use dump::Dump;
pub use listen::{Conn, Listener, bind_udp};
pub use stream::{BoxStream, Meter};
