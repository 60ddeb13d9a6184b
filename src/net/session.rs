//! `-o/--output FILE`: every byte of a session, both ways, as it passed (ncat's
//! `-o`), appended with `--append-output`. The file is created mode 0600: it
//! holds the plaintext of TLS sessions.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tracing::warn;

/// A shared session file; cloning shares it.
#[derive(Clone, Debug)]
pub struct Session {
    file: Arc<Mutex<File>>,
    path: Arc<str>,
    /// A write failed (and was reported once).
    failed: Arc<AtomicBool>,
}

impl Session {
    /// Create (or truncate) `path`, or with `append` add to its end.
    pub fn open(path: &Path, append: bool) -> Result<Session> {
        let mut options = OpenOptions::new();
        options.create(true);
        if append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).with_context(|| {
            format!(
                "cannot open the session file {}; check the folder exists and is writable",
                path.display()
            )
        })?;
        Ok(Session {
            file: Arc::new(Mutex::new(file)),
            path: path.display().to_string().into(),
            failed: Arc::default(),
        })
    }

    /// Add bytes that went either way. A failed write is reported once, on stderr;
    /// the transfer goes on.
    pub fn record(&self, data: &[u8]) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        let written = match self.file.lock() {
            Ok(mut f) => f.write_all(data),
            Err(_) => return,
        };
        if let Err(e) = written {
            self.failed.store(true, Ordering::Relaxed);
            warn!(
                "writing the session file {} failed: {e}; the rest of the session is not recorded",
                self.path
            );
        }
    }
}
