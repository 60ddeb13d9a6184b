//! Where wirekit's keys come from: given keys, a key file (one a line, `#`
//! comments), else the `WIREKIT_FERNET_KEY` environment variable
//! (comma-separated). Each bad key is named by where it came from.

use super::{Fernet, MultiFernet};
use crate::error::usage;
use anyhow::{Context, Result, anyhow};
use std::path::PathBuf;

/// The environment variable that holds keys when no other source gives any.
pub const KEY_ENV: &str = "WIREKIT_FERNET_KEY";

/// The key sources, in order of preference: `keys` first, then the file's.
#[derive(Debug, Clone, Default)]
pub struct KeySources {
    /// Keys given directly (`--key`).
    pub keys: Vec<String>,
    /// A file with one key per line (`--key-file`).
    pub key_file: Option<PathBuf>,
}

/// The keys in order: every given key, then the key file's; with neither, the
/// environment's. The first encrypts.
pub fn load(sources: &KeySources) -> Result<MultiFernet> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for (i, k) in sources.keys.iter().enumerate() {
        keys.push((format!("--key #{}", i + 1), k.clone()));
    }
    if let Some(path) = &sources.key_file {
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
            // No key at all is bad usage (exit 2), wherever the keys were looked for.
            return Err(usage(format!(
                "the key file {} holds no key; write one per line (make one with `wirekit fernet genkey -o {}`)",
                path.display(),
                path.display()
            )));
        }
    }
    if sources.keys.is_empty() && sources.key_file.is_none() {
        keys = from_env()?;
    }
    let fernets = keys
        .iter()
        .map(|(origin, k)| Fernet::new(k).with_context(|| origin.clone()))
        .collect::<Result<Vec<_>>>()?;
    Ok(MultiFernet::new(fernets)?)
}

/// The keys of [`KEY_ENV`], each with its origin; a usage error when there are none.
fn from_env() -> Result<Vec<(String, String)>> {
    let value = std::env::var_os(KEY_ENV).unwrap_or_default();
    let value = value
        .to_str()
        .ok_or_else(|| anyhow!("{KEY_ENV} is not valid UTF-8"))?;
    let keys: Vec<(String, String)> = value
        .split(',')
        .enumerate()
        .filter(|(_, k)| !k.trim().is_empty())
        .map(|(i, k)| (format!("{KEY_ENV} item {}", i + 1), k.trim().to_string()))
        .collect();
    if keys.is_empty() {
        return Err(usage(format!(
            "no Fernet key: give --key KEY or --key-file FILE, or set {KEY_ENV}; \
             make a key with `wirekit fernet genkey`"
        )));
    }
    Ok(keys)
}
