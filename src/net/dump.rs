//! Hex + ASCII dumps of traffic, each chunk marked with direction, peer and offset
//! (what `socat -x` and `ncat -x` show).

use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
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
}

impl std::fmt::Debug for Dump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dump { .. }")
    }
}

impl Dump {
    /// Open the dump target: `-` is stderr (stdout often carries the data), else a file (truncated).
    pub fn open(path: &Path) -> Result<Dump> {
        let sink: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::fs::File::create(path).with_context(|| {
                format!(
                    "cannot create hex dump file {}; check the folder exists and is writable",
                    path.display()
                )
            })?)
        };
        Ok(Dump {
            sink: Arc::new(Mutex::new(sink)),
        })
    }

    /// Write one chunk. Dump failures are not worth failing the transfer for; they are dropped.
    pub fn record(&self, dir: Direction, peer: SocketAddr, offset: u64, data: &[u8]) {
        let text = format_chunk(dir, peer, offset, data);
        if let Ok(mut sink) = self.sink.lock() {
            let _ = sink.write_all(text.as_bytes());
            let _ = sink.flush();
        }
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
