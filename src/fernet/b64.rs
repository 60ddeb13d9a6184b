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
    let mut d = Lenient::default();
    d.feed(input, &mut out);
    d.finish().map(|()| out)
}

/// CPython's lenient base64 decoding as a state machine, fed piece by piece
/// (the streaming decryption reads a token in chunks); whole groups of plain
/// url-safe characters take the `base64` crate's fast path.
#[derive(Debug, Default)]
pub(crate) struct Lenient {
    quad_pos: u8,
    left: u8,
    pads: u8,
    /// A complete padding sequence was seen: the rest of the input is ignored.
    done: bool,
}

/// Plain url-safe base64 without padding, for the fast path over whole groups.
const GROUPS: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Decode the longest run of whole groups of plain url-safe characters at the
/// start of `input` with the `base64` crate; how many characters it took. The
/// whole input is tried first, so that a canonical token needs no scan of its
/// own; where a character outside the alphabet stops the decoder, the groups
/// before it are taken (and on any other refusal, the groups before the first
/// character outside the alphabet), so every call takes what it looked at.
fn fast(input: &[u8], out: &mut Vec<u8>) -> usize {
    let at = out.len();
    let mut whole = input.len() / 4 * 4;
    let mut scanned = false;
    while whole > 0 {
        out.resize(at + whole / 4 * 3, 0);
        match GROUPS.decode_slice(&input[..whole], &mut out[at..]) {
            Ok(n) => {
                out.truncate(at + n);
                return whole;
            }
            Err(base64::DecodeSliceError::DecodeError(base64::DecodeError::InvalidByte(
                bad,
                _,
            ))) if bad / 4 * 4 < whole => whole = bad / 4 * 4,
            Err(_) if !scanned => {
                scanned = true;
                let plain = input[..whole]
                    .iter()
                    .position(|&c| !url_safe(c))
                    .unwrap_or(whole);
                whole = plain / 4 * 4;
            }
            Err(_) => break,
        }
    }
    out.truncate(at);
    0
}

/// Whether `c` is in the url-safe alphabet (not `=`, not the standard `+/`).
fn url_safe(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

impl Lenient {
    /// Decode `input`, appending bytes to `out`.
    pub(crate) fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() && !self.done {
            if self.quad_pos == 0 && self.pads == 0 {
                let whole = fast(input, out);
                if whole > 0 {
                    input = &input[whole..];
                    continue;
                }
            }
            // One character the slow way, then try the fast path again.
            let (&ch, rest) = match input.split_first() {
                Some(x) => x,
                None => break,
            };
            input = rest;
            self.step(ch, out);
        }
    }

    fn step(&mut self, ch: u8, out: &mut Vec<u8>) {
        if ch == b'=' {
            // Padding counts only once two or more characters of a group are in;
            // a complete pad sequence ends the input.
            if self.quad_pos >= 2 {
                self.pads += 1;
                if self.quad_pos + self.pads >= 4 {
                    self.done = true;
                }
            }
            return;
        }
        let v = TABLE[ch as usize];
        if v == 0xff {
            return;
        }
        self.pads = 0;
        match self.quad_pos {
            0 => {
                self.quad_pos = 1;
                self.left = v;
            }
            1 => {
                self.quad_pos = 2;
                out.push((self.left << 2) | (v >> 4));
                self.left = v & 0x0f;
            }
            2 => {
                self.quad_pos = 3;
                out.push((self.left << 4) | (v >> 2));
                self.left = v & 0x03;
            }
            _ => {
                self.quad_pos = 0;
                out.push((self.left << 6) | v);
                self.left = 0;
            }
        }
    }

    /// The end of the input: an unfinished group is an error, as in Python.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.done {
            return Ok(());
        }
        match self.quad_pos {
            0 => Ok(()),
            1 => Err(DecodeError::OneCharTooMany),
            _ => Err(DecodeError::IncorrectPadding),
        }
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

    /// The fast path changes nothing: the same bytes as one character at a time,
    /// on inputs with junk, both alphabets and stray padding, and in linear time.
    #[test]
    fn fast_path_agrees_with_character_steps() {
        let alphabet = b"ABCDabcd0189-_+/=%\n ";
        let mut seed = 7u64;
        for len in [0usize, 1, 5, 64, 1000, 1 << 16] {
            for _ in 0..8 {
                let input: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let r = (seed >> 33) as usize;
                        // Mostly plain characters, now and then junk.
                        if r.is_multiple_of(50) {
                            alphabet[12 + r % 8]
                        } else {
                            alphabet[r % 12]
                        }
                    })
                    .collect();
                let (mut fast, mut slow) = (Lenient::default(), Lenient::default());
                let (mut a, mut b) = (Vec::new(), Vec::new());
                fast.feed(&input, &mut a);
                for &c in &input {
                    if !slow.done {
                        slow.step(c, &mut b);
                    }
                }
                assert_eq!(a, b, "{:?}", String::from_utf8_lossy(&input));
                assert_eq!(fast.finish(), slow.finish());
            }
        }
        // Stray padding early, a long plain run after it: done in well under a second.
        let mut input = b"QU=J".to_vec();
        input.extend(std::iter::repeat_n(b'A', 4 << 20));
        let started = std::time::Instant::now();
        let mut out = Vec::new();
        Lenient::default().feed(&input, &mut out);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        let (mut slow, mut want) = (Lenient::default(), Vec::new());
        for &c in &input {
            slow.step(c, &mut want);
        }
        assert_eq!(out, want);
    }

    #[test]
    fn lenient_decoder_fed_in_pieces_agrees() {
        let text = b"QUJD\nRA%%==QUJD";
        for split in 0..text.len() {
            let mut d = Lenient::default();
            let mut out = Vec::new();
            d.feed(&text[..split], &mut out);
            d.feed(&text[split..], &mut out);
            assert_eq!(d.finish(), Ok(()));
            assert_eq!(out, b"ABCD", "split at {split}");
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
