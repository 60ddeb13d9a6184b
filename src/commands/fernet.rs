//! `wirekit fernet genkey|encrypt|decrypt|rotate`: keys from flags, a file or
//! the environment (`fernet::keys`); data from a file or stdin; output to
//! stdout or a file written atomically.
//!
//! Everything streams in constant memory (`fernet::stream`): encryption in one
//! pass; decryption into a temporary file that is released (renamed into place,
//! or copied to stdout) only once the HMAC has verified, so nothing unverified is
//! ever output and a failure leaves no output file behind.

use crate::cli::{FernetArgs, FernetCommand, FernetIoArgs, FernetKeyArgs};
use anyhow::{Context, Result, anyhow};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;
use wirekit::disk::{Atomic, write_atomic};
use wirekit::fernet::keys::{self, KeySources};
use wirekit::fernet::stream::{self, StreamError};
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
            let (input, name) = open_input(io)?;
            let primary = &keys.fernets()[0];
            write_token(io.output.as_deref(), |out| {
                primary
                    .encrypt_stream(input, out, wirekit::fernet::now())
                    .map(drop)
            })
            .map_err(|e| explain(e, "encrypt", &name))
        }
        FernetCommand::Decrypt(d) => {
            let keys = load_keys(&d.io.keys)?;
            let (input, name) = open_input(&d.io)?;
            let time = d.ttl_secs().map(|ttl| (ttl, wirekit::fernet::now()));
            match d.io.output.as_deref() {
                Some(path) if path != Path::new("-") => {
                    let mut out = Atomic::create(path, 0o600)?;
                    stream::decrypt(&keys, input, out.file(), time)
                        .map_err(|e| explain(e, "decrypt", &name))?;
                    out.commit()
                }
                _ => {
                    // Spooled: nothing reaches stdout before the HMAC has verified.
                    let mut spool = spool()?;
                    stream::decrypt(&keys, input, &mut spool, time)
                        .map_err(|e| explain(e, "decrypt", &name))?;
                    spool.rewind().context("cannot read back the spool file")?;
                    to_stdout(|out| io::copy(&mut spool, out).map(drop))
                }
            }
        }
        FernetCommand::Rotate(io) => {
            let keys = load_keys(&io.keys)?;
            let (input, name) = open_input(io)?;
            let mut spool = spool()?;
            let found = stream::decrypt(&keys, input, &mut spool, None)
                .map_err(|e| explain(e, "rotate", &name))?;
            spool.rewind().context("cannot read back the spool file")?;
            let primary = &keys.fernets()[0];
            write_token(io.output.as_deref(), |out| {
                primary
                    .encrypt_stream(&mut spool, out, found.timestamp)
                    .map(drop)
            })
            .map_err(|e| explain(e, "rotate", &name))
        }
    }
}

/// An anonymous temporary file (already unlinked, mode 0600) for plaintext
/// that may not be released yet.
fn spool() -> Result<File> {
    tempfile::tempfile().context(
        "cannot create a temporary file to hold the plaintext until it is verified; check TMPDIR",
    )
}

/// A streaming failure as one line: the token's fault, the input's or the output's.
fn explain(e: StreamError, verb: &str, name: &str) -> anyhow::Error {
    match e {
        StreamError::Token(t) => anyhow!(t).context(format!("cannot {verb} {name}")),
        StreamError::Read(e) => anyhow!("cannot read {name}: {e}"),
        StreamError::Write(e) => anyhow!("cannot {verb} {name}: writing the output failed: {e}"),
    }
}

/// Write a token (then a newline) with `make`, to stdout or atomically to a file.
fn write_token(
    output: Option<&Path>,
    make: impl FnOnce(&mut dyn Write) -> Result<(), StreamError>,
) -> Result<(), StreamError> {
    match output {
        Some(path) if path != Path::new("-") => {
            let mut file = Atomic::create(path, 0o600)
                .map_err(|e| StreamError::Write(io::Error::other(format!("{e:#}"))))?;
            {
                let mut out = io::BufWriter::with_capacity(1 << 20, file.file());
                make(&mut out)?;
                out.write_all(b"\n")
                    .and_then(|()| out.flush())
                    .map_err(StreamError::Write)?;
            }
            file.commit()
                .map_err(|e| StreamError::Write(io::Error::other(format!("{e:#}"))))
        }
        _ => {
            let stdout = io::stdout();
            let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
            match make(&mut out).and_then(|()| {
                out.write_all(b"\n")
                    .and_then(|()| out.flush())
                    .map_err(StreamError::Write)
            }) {
                // A reader that went away (`| head`) is not our failure.
                Err(StreamError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                r => r,
            }
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

/// The input, opened, and a name for messages.
fn open_input(io: &FernetIoArgs) -> Result<(Box<dyn Read>, String)> {
    match io.input.as_deref() {
        Some(path) if path != Path::new("-") => {
            let file =
                File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok((Box::new(file), path.display().to_string()))
        }
        _ => Ok((Box::new(io::stdin().lock()), "stdin".to_string())),
    }
}

/// Write with `write` to stdout; a reader that went away is not a failure.
fn to_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    match write(&mut out).and_then(|()| out.flush()) {
        // A reader that went away (`| head`) is not our failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to stdout"),
    }
}

/// Write to stdout, or atomically to a file.
fn emit(output: Option<&Path>, data: &[u8]) -> Result<()> {
    match output {
        Some(path) if path != Path::new("-") => write_atomic(path, data, 0o600),
        _ => to_stdout(|out| out.write_all(data)),
    }
}
