//! `wirekit fernet genkey|encrypt|decrypt|rotate`: keys from flags, a file or
//! the environment (`fernet::keys`); data from a file or stdin; output to
//! stdout or a file written atomically.
//!
//! Everything is done in memory before anything is written: the HMAC must be
//! verified before a byte is decrypted, so decryption cannot stream anyway, and
//! a failure then leaves no output file behind.

use crate::cli::{FernetArgs, FernetCommand, FernetIoArgs, FernetKeyArgs};
use anyhow::{Context, Result};
use std::io::{self, Read, Write};
use std::path::Path;
use wirekit::disk::write_atomic;
use wirekit::fernet::keys::{self, KeySources};
use wirekit::fernet::{Fernet, MultiFernet};

/// Run `fernet genkey`, `encrypt`, `decrypt` or `rotate`.
pub(crate) fn run(a: &FernetArgs) -> Result<()> {
    match &a.command {
        FernetCommand::Genkey(g) => {
            if let Some(path) = g.output.as_deref()
                && !g.force
                && path.exists()
            {
                anyhow::bail!(
                    "{} already exists and may hold a key that tokens depend on; \
                     choose another file, or pass --force to replace it",
                    path.display()
                );
            }
            let key = format!("{}\n", Fernet::generate_key());
            emit(g.output.as_deref(), key.as_bytes())
        }
        FernetCommand::Encrypt(io) => {
            let keys = load_keys(&io.keys)?;
            let (data, _) = read_input(io)?;
            let token = keys.encrypt(&data);
            emit(io.output.as_deref(), with_newline(token).as_bytes())
        }
        FernetCommand::Decrypt(d) => {
            let keys = load_keys(&d.io.keys)?;
            let (token, name) = read_input(&d.io)?;
            let plain = match d.ttl_secs() {
                Some(ttl) => keys.decrypt_with_ttl(&token, ttl),
                None => keys.decrypt(&token),
            }
            .with_context(|| format!("cannot decrypt {name}"))?;
            emit(d.io.output.as_deref(), &plain)
        }
        FernetCommand::Rotate(io) => {
            let keys = load_keys(&io.keys)?;
            let (token, name) = read_input(io)?;
            let rotated = keys
                .rotate(&token)
                .with_context(|| format!("cannot rotate {name}"))?;
            emit(io.output.as_deref(), with_newline(rotated).as_bytes())
        }
    }
}

/// The keys the flags (or the environment) give.
fn load_keys(a: &FernetKeyArgs) -> Result<MultiFernet> {
    keys::load(&KeySources {
        keys: a.keys.clone(),
        key_file: a.key_file.clone(),
    })
}

fn with_newline(mut token: String) -> String {
    token.push('\n');
    token
}

/// The whole input and a name for messages.
fn read_input(io: &FernetIoArgs) -> Result<(Vec<u8>, String)> {
    match io.input.as_deref() {
        Some(path) if path != Path::new("-") => {
            let data =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok((data, path.display().to_string()))
        }
        _ => {
            let mut data = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut data)
                .context("cannot read stdin")?;
            Ok((data, "stdin".to_string()))
        }
    }
}

/// Write to stdout, or atomically to a file.
fn emit(output: Option<&Path>, data: &[u8]) -> Result<()> {
    match output {
        Some(path) if path != Path::new("-") => write_atomic(path, data, 0o600),
        _ => {
            let mut out = io::stdout().lock();
            match out.write_all(data).and_then(|()| out.flush()) {
                // A reader that went away (`| head`) is not our failure.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                r => r.context("cannot write to stdout"),
            }
        }
    }
}
