//! Hex + ASCII dumps of traffic, each chunk marked with direction, peer and offset
//! (what `socat -x` and `ncat -x` show).

use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Which way a chunk went, seen from wirekit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from the peer: marked `<`.
    In,
    /// Sent to the peer: marked `>`.
    Out,
}

/// A shared dump sink; cloning shares the file.
#[derive(Clone)]
pub struct Dump {
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
    /// The file as the user named it, for the error sentence.
    name: Arc<str>,
    /// Set at the first failed write: the error is reported once, then dumping stops.
    failed: Arc<AtomicBool>,
}

impl std::fmt::Debug for Dump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dump { .. }")
    }
}

impl Dump {
    /// Open the dump target: `-` is stderr (stdout often carries the data), else a
    /// file, appended to (as ncat's `--append-output`: a dump, perhaps of decrypted
    /// TLS plaintext, is never truncated) and created mode 0600 (only its owner
    /// may read it).
    pub fn open(path: &Path) -> Result<Dump> {
        let sink: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(std::io::stderr())
        } else {
            let mut options = std::fs::OpenOptions::new();
            options.append(true).create(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let file = options.open(path).with_context(|| {
                format!(
                    "cannot open hex dump file {}; check the folder exists and is writable",
                    path.display()
                )
            })?;
            #[cfg(unix)]
            if let Ok(meta) = file.metadata() {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    tracing::warn!(
                        "hex dump file {} is readable by others (mode {mode:o}) and may receive decrypted TLS plaintext; `chmod 600` it or choose another file",
                        path.display()
                    );
                }
            }
            Box::new(file)
        };
        Ok(Dump {
            sink: Arc::new(Mutex::new(sink)),
            name: path.display().to_string().into(),
            failed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Write one chunk. A failed write (disk full, ...) does not stop the transfer:
    /// it is reported once as an error naming the file, and the dump stops there.
    pub fn record(&self, dir: Direction, peer: SocketAddr, offset: u64, data: &[u8]) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        let text = format_chunk(dir, peer, offset, data);
        let written = match self.sink.lock() {
            Ok(mut sink) => sink.write_all(text.as_bytes()).and_then(|()| sink.flush()),
            Err(_) => return,
        };
        if let Err(e) = written
            && !self.failed.swap(true, Ordering::Relaxed)
        {
            tracing::error!(
                "cannot write hex dump file {}: {e}; the dump stops here (the transfer goes on); free space or choose another --hex-dump FILE",
                self.name
            );
        }
    }

    /// Whether a write to the dump has failed (reported already).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }
}

/// One chunk as text: a header line, then 16 bytes a line with stream offsets.
pub(crate) fn format_chunk(dir: Direction, peer: SocketAddr, offset: u64, data: &[u8]) -> String {
    let mark = match dir {
        Direction::In => "<",
        Direction::Out => ">",
    };
    let mut out = format!("{mark} {peer} offset={offset} length={}\n", data.len());
    for (i, line) in data.chunks(16).enumerate() {
        let _ = write!(out, "{mark} {:08x}  ", offset + (i * 16) as u64);
        for j in 0..16 {
            match line.get(j) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
            if j == 7 {
                out.push(' ');
            }
        }
        out.push_str(" |");
        out.extend(line.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_format() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let text = format_chunk(Direction::In, peer, 16, b"Hello from client\n");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "< 127.0.0.1:5000 offset=16 length=18");
        assert!(
            lines[1].starts_with("< 00000010  48 65 6c 6c"),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with("|Hello from clien|"));
        assert!(lines[2].starts_with("< 00000020  74 0a"));
        assert!(lines[2].ends_with("|t.|"));
    }
}
