//! Base64 the way Python's `base64.urlsafe_b64decode` reads it, which is what
//! `cryptography.fernet` uses for keys and tokens.
//!
//! Python translates `-_` to `+/` and then runs `binascii.a2b_base64` in its
//! lenient mode: characters outside the alphabet (newlines, spaces, `%`) are
//! skipped, both alphabets are accepted, trailing bits are ignored, and a
//! complete padding sequence ends the input (anything after it is ignored).
//! A token that Python decrypts must decrypt here too, so [`decode`] follows
//! those rules exactly. The common case (canonical url-safe base64, perhaps
//! with a trailing newline) takes the `base64` crate's faster path, which gives
//! the same bytes for such input.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Url-safe alphabet with padding, for tokens and keys we write.
pub const ENCODER: GeneralPurpose = base64::engine::general_purpose::URL_SAFE;

/// Canonical url-safe base64 with padding; trailing bits allowed as Python allows them.
const CANONICAL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Why input is not base64, in Python's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The data characters end part-way through a group and no padding completes it.
    IncorrectPadding,
    /// One data character more than a multiple of four: no encoder writes that.
    OneCharTooMany,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecodeError::IncorrectPadding => "incorrect padding",
            DecodeError::OneCharTooMany => {
                "the number of base64 characters is one more than a multiple of 4"
            }
        })
    }
}

/// Decode as Python's `base64.urlsafe_b64decode` does.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let trimmed = input.trim_ascii();
    if let Ok(bytes) = CANONICAL.decode(trimmed) {
        return Ok(bytes);
    }
    decode_lenient(input)
}

/// The value of a base64 character in either alphabet, or 0xff.
const fn table() -> [u8; 256] {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'-' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'_' as usize] = 63;
    t
}

static TABLE: [u8; 256] = table();

/// A port of CPython's `binascii.a2b_base64(data, strict_mode=False)`.
fn decode_lenient(input: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut quad_pos = 0u8;
    let mut left = 0u8;
    let mut pads = 0u8;
    for &ch in input {
        if ch == b'=' {
            // Padding counts only once two or more characters of a group are in;
            // a complete pad sequence ends the input.
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    return Ok(out);
                }
            }
            continue;
        }
        let v = TABLE[ch as usize];
        if v == 0xff {
            continue;
        }
        pads = 0;
        match quad_pos {
            0 => {
                quad_pos = 1;
                left = v;
            }
            1 => {
                quad_pos = 2;
                out.push((left << 2) | (v >> 4));
                left = v & 0x0f;
            }
            2 => {
                quad_pos = 3;
                out.push((left << 4) | (v >> 2));
                left = v & 0x03;
            }
            _ => {
                quad_pos = 0;
                out.push((left << 6) | v);
                left = 0;
            }
        }
    }
    match quad_pos {
        0 => Ok(out),
        1 => Err(DecodeError::OneCharTooMany),
        _ => Err(DecodeError::IncorrectPadding),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case with what Python 3.11's `base64.urlsafe_b64decode` returned for it.
    #[test]
    fn decodes_like_python() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
                .collect()
        };
        let ok: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"QQ==", "41"),
            (b"QUJD", "414243"),
            (b"QQ==QUJD", "41"),
            (b"Q Q = =", "41"),
            (b"QU=JD", "414243"),
            (b"QUI=", "4142"),
            (b"QUJ=D", "4142"),
            (b"=QQ==", "41"),
            (b"Q=Q==", "41"),
            (b"QR==", "41"),
            (b"-_-_", "fbffbf"),
            (b"+/+/", "fbffbf"),
            (b"%%QUJD%%", "414243"),
            (b"QUJD\n", "414243"),
            (b"QUJDRA===", "41424344"),
            (b"QUJDRA=x=", "414243440c"),
            (b"QQ=x=", "410c"),
            (b"QUJD====", "414243"),
            (b"====", ""),
            (b"QUJDRA==QUJD", "41424344"),
            (b"Q\xffQ==", "41"),
        ];
        for (input, want) in ok {
            assert_eq!(
                decode(input),
                Ok(hex(want)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let bad: &[(&[u8], DecodeError)] = &[
            (b"QQ", DecodeError::IncorrectPadding),
            (b"QQ=", DecodeError::IncorrectPadding),
            (b"QUJ", DecodeError::IncorrectPadding),
            (b"QUJDRA=", DecodeError::IncorrectPadding),
            (b"Q", DecodeError::OneCharTooMany),
            (b"Q===", DecodeError::OneCharTooMany),
            (b"QUJDR", DecodeError::OneCharTooMany),
        ];
        for (input, want) in bad {
            assert_eq!(
                decode(input),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn fast_path_agrees_with_lenient_path() {
        let mut data = Vec::new();
        for n in 0..70u8 {
            let text = ENCODER.encode(&data);
            assert_eq!(decode(text.as_bytes()).as_deref(), Ok(&data[..]));
            assert_eq!(decode_lenient(text.as_bytes()).as_deref(), Ok(&data[..]));
            data.push(n.wrapping_mul(37).wrapping_add(200));
        }
    }
}
