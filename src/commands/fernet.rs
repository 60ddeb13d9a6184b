//! `wirekit fernet genkey|encrypt|decrypt|rotate`: keys from flags, a file or
//! the environment; data from a file or stdin; output to stdout or a file
//! written atomically.
//!
//! Everything is done in memory before anything is written: the HMAC must be
//! verified before a byte is decrypted, so decryption cannot stream anyway, and
//! a failure then leaves no output file behind.

use crate::cli::{FernetArgs, FernetCommand, FernetIoArgs, FernetKeyArgs};
use crate::disk::write_atomic;
use crate::error::usage;
use crate::fernet::{Fernet, MultiFernet};
use anyhow::{Context, Result, anyhow};
use std::io::{self, Read, Write};
use std::path::Path;

/// The environment variable that holds keys when no flag gives any.
pub const KEY_ENV: &str = "WIREKIT_FERNET_KEY";

pub fn run(a: &FernetArgs) -> Result<()> {
    match &a.command {
        FernetCommand::Genkey(g) => {
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
            let plain = match d.ttl {
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

fn with_newline(mut token: String) -> String {
    token.push('\n');
    token
}

/// The keys in order: every `--key`, then the key file's; else the environment's.
fn load_keys(a: &FernetKeyArgs) -> Result<MultiFernet> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for (i, k) in a.keys.iter().enumerate() {
        keys.push((format!("--key #{}", i + 1), k.clone()));
    }
    if let Some(path) = &a.key_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the key file {}", path.display()))?;
        let before = keys.len();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                keys.push((
                    format!("{} line {}", path.display(), n + 1),
                    line.to_string(),
                ));
            }
        }
        if keys.len() == before {
            return Err(anyhow!(
                "the key file {} holds no key; write one per line (make one with `wirekit fernet genkey`)",
                path.display()
            ));
        }
    }
    if a.keys.is_empty() && a.key_file.is_none() {
        let value = std::env::var_os(KEY_ENV).unwrap_or_default();
        let value = value
            .to_str()
            .ok_or_else(|| anyhow!("{KEY_ENV} is not valid UTF-8"))?;
        for (i, k) in value.split(',').enumerate() {
            if !k.trim().is_empty() {
                keys.push((format!("{KEY_ENV} item {}", i + 1), k.trim().to_string()));
            }
        }
        if keys.is_empty() {
            return Err(usage(format!(
                "no Fernet key: give --key KEY or --key-file FILE, or set {KEY_ENV}; \
                 make a key with `wirekit fernet genkey`"
            )));
        }
    }
    let fernets = keys
        .iter()
        .map(|(origin, k)| Fernet::new(k).with_context(|| origin.clone()))
        .collect::<Result<Vec<_>>>()?;
    Ok(MultiFernet::new(fernets)?)
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
