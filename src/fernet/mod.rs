//! Fernet tokens, byte-compatible with Python's `cryptography.fernet`.
//!
//! A token is url-safe base64 (with padding) of
//! `0x80 ‖ timestamp (u64, big-endian seconds) ‖ IV (16) ‖ AES-128-CBC(PKCS7(plaintext)) ‖ HMAC-SHA256`,
//! where the HMAC covers everything before it. A key is 32 bytes in url-safe
//! base64: the first half signs, the second half encrypts.
//!
//! Decryption checks the token's shape, then verifies the HMAC in constant
//! time, and only then looks at the timestamp and decrypts. Python checks the
//! timestamp before the HMAC; both accept and reject exactly the same tokens,
//! but checking the HMAC first means "expired" is only ever said of a genuine
//! token. As in Python, the timestamp is checked only when a TTL is given:
//! then a token older than the TTL is expired, and one more than 60 s in the
//! future is refused.
//!
//! Files of any size stream in constant memory with [`Fernet::encrypt_stream`]
//! and [`stream::decrypt`] (same tokens, same refusals).
//!
//! ```
//! use wirekit::fernet::{Fernet, MultiFernet};
//! let key = Fernet::generate_key();
//! let f = Fernet::new(&key).unwrap();
//! let token = f.encrypt(b"secret message");
//! assert_eq!(f.decrypt(&token).unwrap(), b"secret message");
//!
//! let new = Fernet::new(Fernet::generate_key()).unwrap();
//! let keys = MultiFernet::new(vec![new, f]).unwrap();
//! let rotated = keys.rotate(&token).unwrap();
//! assert_eq!(keys.decrypt(&rotated).unwrap(), b"secret message");
//! ```

mod b64;
pub mod keys;
pub mod stream;

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type HmacSha256 = Hmac<Sha256>;

/// The version byte every Fernet token starts with.
pub const VERSION: u8 = 0x80;
/// How far in the future a token's timestamp may be when a TTL is checked (Python's `_MAX_CLOCK_SKEW`).
pub const MAX_CLOCK_SKEW: u64 = 60;
/// Version, timestamp and IV.
const HEADER: usize = 1 + 8 + 16;
/// The HMAC-SHA256 tag.
const TAG: usize = 32;
/// The AES block.
const BLOCK: usize = 16;
/// The smallest token that can decrypt: header, one block of padded ciphertext, tag.
pub const MIN_TOKEN_BYTES: usize = HEADER + BLOCK + TAG;

/// Why a key or a token was refused. Each message names the cause on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FernetError {
    /// The key is not 32 bytes of url-safe base64.
    #[error(
        "invalid Fernet key: {0}; a key is 32 bytes in url-safe base64 (44 characters), as `wirekit fernet genkey` makes"
    )]
    InvalidKey(String),
    /// The token is not base64.
    #[error("invalid token: not valid base64 ({0})")]
    Base64(String),
    /// The token decodes to nothing.
    #[error("invalid token: empty")]
    Empty,
    /// The first byte is not 0x80.
    #[error("invalid token: wrong version byte 0x{0:02x} (Fernet tokens start with 0x80)")]
    Version(u8),
    /// Fewer bytes than the smallest token.
    #[error(
        "invalid token: too short ({0} bytes after base64 decoding; a Fernet token has at least {MIN_TOKEN_BYTES})"
    )]
    TooShort(usize),
    /// The ciphertext is not whole AES blocks.
    #[error(
        "invalid token: the ciphertext is {0} bytes, not a multiple of the 16-byte AES block (truncated or corrupted token)"
    )]
    BlockSize(usize),
    /// No key's HMAC matches.
    #[error("invalid token: signature mismatch (wrong key, or the token was altered)")]
    Signature,
    /// Older than the TTL.
    #[error("invalid token: expired (made at {}, {age} s ago; the TTL is {ttl} s)", rfc3339(*.timestamp))]
    Expired {
        /// When the token was made (Unix seconds).
        timestamp: u64,
        /// Its age in seconds.
        age: u64,
        /// The TTL it exceeded.
        ttl: u64,
    },
    /// More than 60 s ahead of this clock (with a TTL).
    #[error(
        "invalid token: far-future timestamp ({}, {ahead} s ahead of this clock; at most {MAX_CLOCK_SKEW} s of clock skew is accepted)",
        rfc3339(*.timestamp)
    )]
    FutureTimestamp {
        /// The token's timestamp (Unix seconds).
        timestamp: u64,
        /// How far ahead of this clock, in seconds.
        ahead: u64,
    },
    /// The plaintext padding is wrong.
    #[error("invalid token: bad PKCS7 padding after decryption (the IV or ciphertext is wrong)")]
    Padding,
    /// A `MultiFernet` without keys.
    #[error("MultiFernet needs at least one key")]
    NoKeys,
}

/// The first second of year 10000, which RFC 3339 cannot write.
const YEAR_10000: u64 = 253_402_300_800;

fn rfc3339(secs: u64) -> String {
    if secs >= YEAR_10000 {
        return format!("{secs} s after 1970 (after year 9999)");
    }
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_else(|| format!("{secs} s after 1970"))
}

/// Seconds since the Unix epoch, as Python's `int(time.time())`.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Fill `buf` from the operating system's random number generator.
#[allow(clippy::panic)] // no sensible token can be made without randomness
fn random(buf: &mut [u8]) {
    // Linux's getrandom(2) does not fail once the pool is initialised; there is
    // no sensible token without randomness, so failing here is fatal.
    if let Err(e) = getrandom::fill(buf) {
        panic!("the operating system's random number generator failed: {e}");
    }
}

/// The decrypting methods `Fernet` and `MultiFernet` share, written once: each
/// type only says how it decrypts a parsed token (`decrypt_raw`; a
/// `MultiFernet` tries every key). Inherent methods, as in Python, so callers
/// need no trait in scope.
macro_rules! decrypt_methods {
    () => {
        /// Decrypt a token of any age (with whichever key fits).
        pub fn decrypt(&self, token: impl AsRef<[u8]>) -> Result<Vec<u8>, FernetError> {
            let raw = Raw::parse(token.as_ref())?;
            self.decrypt_raw(&raw, None)
        }

        /// Decrypt a token no older than `ttl` seconds (and no more than 60 s in the future).
        pub fn decrypt_with_ttl(
            &self,
            token: impl AsRef<[u8]>,
            ttl: u64,
        ) -> Result<Vec<u8>, FernetError> {
            self.decrypt_at_time(token, ttl, now())
        }

        /// Decrypt as if the time were `current_time`: no older than `ttl` seconds then.
        pub fn decrypt_at_time(
            &self,
            token: impl AsRef<[u8]>,
            ttl: u64,
            current_time: u64,
        ) -> Result<Vec<u8>, FernetError> {
            let raw = Raw::parse(token.as_ref())?;
            self.decrypt_raw(&raw, Some((ttl, current_time)))
        }
    };
}

/// One Fernet key: encrypts and decrypts tokens.
#[derive(Clone)]
pub struct Fernet {
    /// AES-128 with its round keys expanded once.
    cipher: Aes128,
    /// HMAC-SHA256 keyed once; cloned per token.
    mac: HmacSha256,
}

impl std::fmt::Debug for Fernet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fernet { .. }")
    }
}

/// A token decoded and checked for shape, not yet authenticated.
struct Raw {
    data: Vec<u8>,
    timestamp: u64,
}

impl Raw {
    /// Decode base64 and check the version and the length.
    fn parse(token: &[u8]) -> Result<Raw, FernetError> {
        let data = b64::decode(token).map_err(|e| FernetError::Base64(e.to_string()))?;
        match data.first() {
            None => return Err(FernetError::Empty),
            Some(&v) if v != VERSION => return Err(FernetError::Version(v)),
            Some(_) => {}
        }
        if data.len() < HEADER + TAG {
            return Err(FernetError::TooShort(data.len()));
        }
        let ct_len = data.len() - HEADER - TAG;
        if !ct_len.is_multiple_of(BLOCK) {
            return Err(FernetError::BlockSize(ct_len));
        }
        if ct_len == 0 {
            return Err(FernetError::TooShort(data.len()));
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&data[1..9]);
        Ok(Raw {
            timestamp: u64::from_be_bytes(ts),
            data,
        })
    }
}

impl Fernet {
    /// A Fernet from a key in url-safe base64 (as [`Fernet::generate_key`] makes),
    /// read as leniently as Python reads it.
    pub fn new(key: impl AsRef<[u8]>) -> Result<Fernet, FernetError> {
        let raw = b64::decode(key.as_ref())
            .map_err(|e| FernetError::InvalidKey(format!("not base64 ({e})")))?;
        let raw: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
            FernetError::InvalidKey(format!("it decodes to {} bytes, not 32", raw.len()))
        })?;
        Ok(Fernet::from_bytes(&raw))
    }

    /// A Fernet from the 32 raw key bytes: signing key, then encryption key.
    #[allow(clippy::expect_used)] // HMAC takes keys of any length: this cannot fail
    pub fn from_bytes(key: &[u8; 32]) -> Fernet {
        let (signing, encryption) = key.split_at(16);
        Fernet {
            cipher: Aes128::new(encryption.into()),
            mac: <HmacSha256 as Mac>::new_from_slice(signing)
                .expect("HMAC takes keys of any length"),
        }
    }

    /// A fresh random key, url-safe base64 (44 characters).
    pub fn generate_key() -> String {
        let mut key = [0u8; 32];
        random(&mut key);
        b64::ENCODER.encode(key)
    }

    /// Encrypt `data` into a token stamped with the current time.
    pub fn encrypt(&self, data: &[u8]) -> String {
        self.encrypt_at_time(data, now())
    }

    /// Encrypt `data` into a token stamped with `current_time` (Unix seconds).
    pub fn encrypt_at_time(&self, data: &[u8], current_time: u64) -> String {
        let mut iv = [0u8; 16];
        random(&mut iv);
        self.encrypt_from_parts(data, current_time, &iv)
    }

    /// Encrypt with a chosen IV. Only for test vectors: a reused IV leaks data.
    #[doc(hidden)]
    pub fn encrypt_from_parts(&self, data: &[u8], current_time: u64, iv: &[u8; 16]) -> String {
        let padded = (data.len() / BLOCK + 1) * BLOCK;
        let mut raw = vec![0u8; HEADER + padded + TAG];
        raw[0] = VERSION;
        raw[1..9].copy_from_slice(&current_time.to_be_bytes());
        raw[9..HEADER].copy_from_slice(iv);
        let body = &mut raw[HEADER..HEADER + padded];
        let written = cbc::Encryptor::<Aes128>::inner_iv_init(self.cipher.clone(), iv.into())
            .encrypt_padded_b2b_mut::<Pkcs7>(data, body)
            .map(<[u8]>::len)
            .ok();
        // The buffer is sized for the padding, so this always holds.
        assert_eq!(written, Some(padded), "Fernet padding buffer");
        let mut mac = self.mac.clone();
        mac.update(&raw[..HEADER + padded]);
        raw[HEADER + padded..].copy_from_slice(&mac.finalize().into_bytes());
        b64::ENCODER.encode(&raw)
    }

    decrypt_methods!();

    /// The timestamp of a genuine token (its HMAC is verified).
    pub fn extract_timestamp(&self, token: impl AsRef<[u8]>) -> Result<u64, FernetError> {
        let raw = Raw::parse(token.as_ref())?;
        self.verify(&raw)?;
        Ok(raw.timestamp)
    }

    /// Check the HMAC in constant time.
    fn verify(&self, raw: &Raw) -> Result<(), FernetError> {
        let (signed, tag) = raw.data.split_at(raw.data.len() - TAG);
        let mut mac = self.mac.clone();
        mac.update(signed);
        // `verify_slice` compares in constant time (subtle::ConstantTimeEq).
        mac.verify_slice(tag).map_err(|_| FernetError::Signature)
    }

    fn decrypt_raw(&self, raw: &Raw, time: Option<(u64, u64)>) -> Result<Vec<u8>, FernetError> {
        self.verify(raw)?;
        if let Some((ttl, current)) = time {
            check_time(raw.timestamp, ttl, current)?;
        }
        let data = &raw.data;
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&data[9..HEADER]);
        let ciphertext = &data[HEADER..data.len() - TAG];
        let mut out = vec![0u8; ciphertext.len()];
        let n = cbc::Decryptor::<Aes128>::inner_iv_init(self.cipher.clone(), (&iv).into())
            .decrypt_padded_b2b_mut::<Pkcs7>(ciphertext, &mut out)
            .map_err(|_| FernetError::Padding)?
            .len();
        out.truncate(n);
        Ok(out)
    }
}

/// Python's rule: expired when `timestamp + ttl < now`, too far ahead when `now + 60 < timestamp`.
fn check_time(timestamp: u64, ttl: u64, current: u64) -> Result<(), FernetError> {
    if u128::from(timestamp) + u128::from(ttl) < u128::from(current) {
        return Err(FernetError::Expired {
            timestamp,
            age: current - timestamp,
            ttl,
        });
    }
    if u128::from(current) + u128::from(MAX_CLOCK_SKEW) < u128::from(timestamp) {
        return Err(FernetError::FutureTimestamp {
            timestamp,
            ahead: timestamp - current,
        });
    }
    Ok(())
}

/// Several keys: the first encrypts, any of them decrypts (key rotation).
#[derive(Clone, Debug)]
pub struct MultiFernet {
    fernets: Vec<Fernet>,
}

impl MultiFernet {
    /// Keys in order of preference; the first encrypts. At least one.
    pub fn new(fernets: Vec<Fernet>) -> Result<MultiFernet, FernetError> {
        if fernets.is_empty() {
            return Err(FernetError::NoKeys);
        }
        Ok(MultiFernet { fernets })
    }

    /// The keys, first (encrypting) key first.
    pub fn fernets(&self) -> &[Fernet] {
        &self.fernets
    }

    /// The first key, which encrypts (`new` refuses an empty list).
    fn primary(&self) -> &Fernet {
        &self.fernets[0]
    }

    /// Encrypt under the first key, stamped with the current time.
    pub fn encrypt(&self, data: &[u8]) -> String {
        self.primary().encrypt(data)
    }

    /// Encrypt under the first key, stamped with `current_time`.
    pub fn encrypt_at_time(&self, data: &[u8], current_time: u64) -> String {
        self.primary().encrypt_at_time(data, current_time)
    }

    decrypt_methods!();

    /// Re-encrypt a token under the first key, keeping its timestamp (no TTL check),
    /// as Python's `MultiFernet.rotate`.
    pub fn rotate(&self, token: impl AsRef<[u8]>) -> Result<String, FernetError> {
        let raw = Raw::parse(token.as_ref())?;
        let plain = self.decrypt_raw(&raw, None)?;
        Ok(self.primary().encrypt_at_time(&plain, raw.timestamp))
    }

    /// The timestamp of a token genuine under any of the keys.
    pub fn extract_timestamp(&self, token: impl AsRef<[u8]>) -> Result<u64, FernetError> {
        let raw = Raw::parse(token.as_ref())?;
        for f in &self.fernets {
            if f.verify(&raw).is_ok() {
                return Ok(raw.timestamp);
            }
        }
        Err(FernetError::Signature)
    }

    /// Try each key as Python does; report the most telling failure: a key whose
    /// HMAC matched (then the token is expired, too far ahead or badly padded),
    /// else a signature mismatch.
    fn decrypt_raw(&self, raw: &Raw, time: Option<(u64, u64)>) -> Result<Vec<u8>, FernetError> {
        let mut first_err = None;
        for f in &self.fernets {
            match f.decrypt_raw(raw, time) {
                Ok(plain) => return Ok(plain),
                Err(FernetError::Signature) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or(FernetError::Signature))
    }
}

#[cfg(test)]
mod tests;
