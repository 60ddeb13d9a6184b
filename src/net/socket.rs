//! Socket options that servers and clients, TCP and UDP, share.

use anyhow::{Context, Result};
use socket2::Socket;

/// Kernel buffer sizes (SO_RCVBUF / SO_SNDBUF); `None` keeps the kernel's choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Buffers {
    /// Receive buffer in bytes.
    pub recv: Option<usize>,
    /// Send buffer in bytes.
    pub send: Option<usize>,
}

impl Buffers {
    /// Set the sizes that were asked for on `socket`.
    pub fn apply(&self, socket: &Socket) -> Result<()> {
        if let Some(n) = self.recv {
            socket
                .set_recv_buffer_size(n)
                .with_context(|| format!("cannot set --recv-buf to {n}"))?;
        }
        if let Some(n) = self.send {
            socket
                .set_send_buffer_size(n)
                .with_context(|| format!("cannot set --send-buf to {n}"))?;
        }
        Ok(())
    }
}
