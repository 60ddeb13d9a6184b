//! stdin and stdout on their own threads with large buffers.
//! Own threads rather than tokio::io::stdin/stdout: those hand every small read
//! to the blocking pool, and a pipe of gigabytes then crawls.

use bytes::{Bytes, BytesMut};
use std::io::{self, Read, Write};
use std::thread;
use tokio::sync::{mpsc, oneshot};

/// Chunk size for stdin, stdout and socket reads and writes. 128 KiB, as iperf3:
/// measured faster than 256 KiB on loopback (the copy stays in L2).
pub const CHUNK: usize = 128 * 1024;

/// Turn LF into CRLF (leaving existing CRLF alone), for `--crlf`.
pub fn to_crlf(data: &[u8], last_was_cr: &mut bool) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16);
    for &b in data {
        if b == b'\n' && !*last_was_cr {
            out.push(b'\r');
        }
        out.push(b);
        *last_was_cr = b == b'\r';
    }
    Bytes::from(out)
}

/// Read stdin on a thread; chunks arrive on the channel, EOF closes it.
pub fn stdin_chunks(crlf: bool) -> mpsc::Receiver<io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(4);
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut last_was_cr = false;
        loop {
            let mut buf = BytesMut::zeroed(CHUNK);
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    let chunk = if crlf {
                        to_crlf(&buf, &mut last_was_cr)
                    } else {
                        buf.freeze()
                    };
                    if tx.blocking_send(Ok(chunk)).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    rx
}

/// Writes to stdout on a thread, in order; `finish` waits until all is written.
pub struct StdoutWriter {
    tx: Option<mpsc::Sender<Bytes>>,
    done: oneshot::Receiver<io::Result<()>>,
}

impl StdoutWriter {
    /// Start the writer thread.
    pub fn new() -> StdoutWriter {
        let (tx, mut rx) = mpsc::channel::<Bytes>(8);
        let (done_tx, done) = oneshot::channel();
        thread::spawn(move || {
            let mut result = Ok(());
            while let Some(chunk) = rx.blocking_recv() {
                // Locked per chunk so other writers (println!) are never shut out.
                let mut out = io::stdout().lock();
                if let Err(e) = out.write_all(&chunk).and_then(|_| out.flush()) {
                    result = Err(e);
                    break;
                }
            }
            let _ = done_tx.send(result);
        });
        StdoutWriter { tx: Some(tx), done }
    }

    /// Queue a chunk; waits when the writer is behind. Fails if stdout is closed.
    pub async fn write(&self, chunk: Bytes) -> io::Result<()> {
        match &self.tx {
            Some(tx) => tx
                .send(chunk)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "stdout is closed")),
            None => Ok(()),
        }
    }

    /// A handle that writes into the same queue (for several producers).
    pub fn sender(&self) -> Option<mpsc::Sender<Bytes>> {
        self.tx.clone()
    }

    /// Wait for everything queued to be written.
    pub async fn finish(mut self) -> io::Result<()> {
        self.tx = None;
        self.done
            .await
            .unwrap_or_else(|_| Err(io::Error::other("stdout writer stopped")))
    }
}

impl Default for StdoutWriter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf() {
        let mut cr = false;
        assert_eq!(&to_crlf(b"a\nb\r\nc", &mut cr)[..], b"a\r\nb\r\nc");
        let mut cr = false;
        assert_eq!(&to_crlf(b"a\r", &mut cr)[..], b"a\r");
        assert_eq!(&to_crlf(b"\n", &mut cr)[..], b"\n");
    }
}
