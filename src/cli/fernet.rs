//! `wirekit fernet`: Fernet keys and tokens, byte-compatible with Python's `cryptography.fernet`.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use wirekit::units::parse_duration;

/// `wirekit fernet`: a subcommand.
#[derive(Debug, Args)]
#[command(after_help = "\
Keys come from --key (repeatable) and --key-file; without either, from the \
environment variable WIREKIT_FERNET_KEY (comma-separated). With several keys \
the first encrypts and any of them decrypts (Python's MultiFernet).

Exit codes: 0 success, 1 invalid key or token (the message names the cause), 2 bad usage.")]
pub struct FernetArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: FernetCommand,
}

/// What `wirekit fernet` does.
#[derive(Debug, Subcommand)]
pub enum FernetCommand {
    /// Print a new random key (32 bytes in url-safe base64), as Fernet.generate_key().
    Genkey(FernetGenkeyArgs),
    /// Encrypt FILE (or stdin) into a token under the first key.
    Encrypt(FernetIoArgs),
    /// Decrypt a token from FILE (or stdin) with whichever key fits.
    Decrypt(FernetDecryptArgs),
    /// Re-encrypt a token under the first key, keeping its timestamp (MultiFernet.rotate).
    Rotate(FernetIoArgs),
}

/// Where the keys come from.
#[derive(Debug, Clone, Args)]
pub struct FernetKeyArgs {
    /// A key (44 characters of url-safe base64); repeat for several, first one encrypts.
    /// Other users can see command lines: prefer --key-file or WIREKIT_FERNET_KEY for real keys.
    /// (A key may begin with `-`, as one in 64 url-safe base64 keys does.)
    #[arg(long = "key", value_name = "KEY", allow_hyphen_values = true)]
    pub keys: Vec<String>,
    /// A file with one key per line (blank lines and lines starting with # are skipped).
    /// Its keys come after any --key.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

/// Input and output of a command that reads and writes data.
#[derive(Debug, Clone, Args)]
pub struct FernetIoArgs {
    /// Where the keys come from.
    #[command(flatten)]
    pub keys: FernetKeyArgs,
    /// Read from FILE; stdin when absent or `-`.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Write to FILE instead of stdout: atomically (a temporary file renamed into place,
    /// mode 0600), and not at all if anything fails.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `wirekit fernet decrypt`.
#[derive(Debug, Clone, Args)]
pub struct FernetDecryptArgs {
    /// Keys, input and output.
    #[command(flatten)]
    pub io: FernetIoArgs,
    /// Refuse tokens older than this (90s, 15m, 1h, 7d; a bare number is seconds), or more than 60 s in the future, as decrypt(token, ttl).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttl: Option<Duration>,
}

impl FernetDecryptArgs {
    /// The TTL in whole seconds as Fernet counts them (a fraction rounds up).
    pub fn ttl_secs(&self) -> Option<u64> {
        self.ttl
            .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
    }
}

/// `wirekit fernet genkey`.
#[derive(Debug, Clone, Args)]
pub struct FernetGenkeyArgs {
    /// Write the key to FILE (atomically, mode 0600) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace an existing key file (tokens made with the old key become unreadable).
    #[arg(long)]
    pub force: bool,
}
