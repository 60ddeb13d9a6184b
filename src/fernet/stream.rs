//! Fernet over streams, in constant memory: the same tokens as
//! [`Fernet::encrypt`] and [`MultiFernet::decrypt`], byte for byte.
//!
//! Encryption is one pass: read, encrypt, sign and base64-encode as the data
//! comes. Decryption decodes and authenticates as the token comes and writes
//! into a `spool` file the caller provides (a temporary file), which the caller
//! may release only when [`decrypt`] returns `Ok`: nothing is known to be
//! genuine before the last byte is read. With one key, the spool receives the
//! plaintext in the same pass; with several (the HMAC says which key fits only
//! at the end) it receives the ciphertext, decrypted in place once the key is known.
//! Errors are the in-memory ones, in the same order (base64, shape, signature,
//! time, padding).

use super::b64::{self, Lenient};
use super::{BLOCK, FernetError, HEADER, HmacSha256, MultiFernet, TAG, VERSION, check_time};
use aes::Aes128;
use aes::cipher::consts::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit};
use base64::Engine;
use hmac::Mac;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Bytes read (and written) at a time: large enough for the fast paths.
const CHUNK: usize = 1 << 20;

/// Why a streamed encryption or decryption failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The token was refused (nothing may be released).
    #[error(transparent)]
    Token(#[from] FernetError),
    /// Reading the input failed.
    #[error("cannot read the input: {0}")]
    Read(io::Error),
    /// Writing the output (or the spool) failed.
    #[error("cannot write the output: {0}")]
    Write(io::Error),
}

/// Fill `buf` as far as the reader goes; 0 only at the end.
fn read_some<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, StreamError> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other.map_err(StreamError::Read),
        }
    }
}

fn encrypt_blocks(enc: &mut cbc::Encryptor<Aes128>, data: &mut [u8]) {
    let (blocks, _) = InOutBuf::from(data).into_chunks::<U16>();
    enc.encrypt_blocks_inout_mut(blocks);
}

fn decrypt_blocks(dec: &mut cbc::Decryptor<Aes128>, data: &mut [u8]) {
    let (blocks, _) = InOutBuf::from(data).into_chunks::<U16>();
    dec.decrypt_blocks_inout_mut(blocks);
}

/// Url-safe base64 with padding, written as the raw bytes come (groups of 3).
struct B64Writer<W: Write> {
    out: W,
    carry: Vec<u8>,
    text: Vec<u8>,
}

impl<W: Write> B64Writer<W> {
    fn new(out: W) -> Self {
        B64Writer {
            out,
            carry: Vec::with_capacity(3),
            text: Vec::with_capacity(CHUNK / 3 * 4 + 8),
        }
    }

    fn write(&mut self, mut raw: &[u8]) -> Result<(), StreamError> {
        self.text.clear();
        if !self.carry.is_empty() {
            let take = (3 - self.carry.len()).min(raw.len());
            self.carry.extend_from_slice(&raw[..take]);
            raw = &raw[take..];
            if self.carry.len() < 3 {
                return Ok(());
            }
            let group = std::mem::take(&mut self.carry);
            encode_into(&group, &mut self.text)?;
        }
        let whole = raw.len() / 3 * 3;
        encode_into(&raw[..whole], &mut self.text)?;
        self.carry.extend_from_slice(&raw[whole..]);
        self.out.write_all(&self.text).map_err(StreamError::Write)
    }

    fn finish(mut self) -> Result<W, StreamError> {
        self.text.clear();
        let last = std::mem::take(&mut self.carry);
        encode_into(&last, &mut self.text)?;
        self.out.write_all(&self.text).map_err(StreamError::Write)?;
        Ok(self.out)
    }
}

/// Append the padded url-safe base64 of `raw` to `text`.
fn encode_into(raw: &[u8], text: &mut Vec<u8>) -> Result<(), StreamError> {
    let at = text.len();
    text.resize(at + raw.len().div_ceil(3) * 4, 0);
    let n = b64::ENCODER
        .encode_slice(raw, &mut text[at..])
        .map_err(|e| StreamError::Write(io::Error::other(e)))?;
    text.truncate(at + n);
    Ok(())
}

impl super::Fernet {
    /// Encrypt everything `input` gives into a token on `output` (no newline),
    /// stamped `current_time`, in one pass and constant memory. The same token
    /// [`super::Fernet::encrypt_at_time`] makes of the same bytes and IV.
    pub fn encrypt_stream<R: Read, W: Write>(
        &self,
        mut input: R,
        output: W,
        current_time: u64,
    ) -> Result<W, StreamError> {
        let mut iv = [0u8; 16];
        super::random(&mut iv);
        let mut header = [0u8; HEADER];
        header[0] = VERSION;
        header[1..9].copy_from_slice(&current_time.to_be_bytes());
        header[9..].copy_from_slice(&iv);
        let mut enc = cbc::Encryptor::<Aes128>::inner_iv_init(self.cipher.clone(), (&iv).into());
        let mut mac = self.mac.clone();
        let mut out = B64Writer::new(output);
        mac.update(&header);
        out.write(&header)?;
        // buf[..kept] holds plaintext short of a whole block, from the last read.
        let mut buf = vec![0u8; CHUNK + BLOCK];
        let mut kept = 0;
        loop {
            let n = read_some(&mut input, &mut buf[kept..])?;
            if n == 0 {
                break;
            }
            let total = kept + n;
            let whole = total / BLOCK * BLOCK;
            encrypt_blocks(&mut enc, &mut buf[..whole]);
            mac.update(&buf[..whole]);
            out.write(&buf[..whole])?;
            buf.copy_within(whole..total, 0);
            kept = total - whole;
        }
        // PKCS7: the last block is padded with its missing length, 1..=16 times.
        let pad = (BLOCK - kept) as u8;
        buf[kept..BLOCK].fill(pad);
        encrypt_blocks(&mut enc, &mut buf[..BLOCK]);
        mac.update(&buf[..BLOCK]);
        out.write(&buf[..BLOCK])?;
        out.write(&mac.finalize().into_bytes())?;
        out.finish()
    }
}

/// What a streamed decryption found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decrypted {
    /// The token's timestamp (Unix seconds).
    pub timestamp: u64,
    /// Plaintext bytes written to the spool.
    pub len: u64,
}

/// The raw token as it is decoded: header, then ciphertext and tag, the last
/// block and the tag held back until the end.
struct Body<'k> {
    keys: &'k MultiFernet,
    macs: Vec<HmacSha256>,
    header: Vec<u8>,
    /// Decoded bytes after the header not yet processed (at least the last block and the tag).
    tail: Vec<u8>,
    /// With one key: decrypting as we go.
    dec: Option<cbc::Decryptor<Aes128>>,
    processed: u64,
}

impl Body<'_> {
    fn push(&mut self, mut raw: &[u8], spool: &mut impl Write) -> Result<(), StreamError> {
        if self.header.len() < HEADER {
            let take = (HEADER - self.header.len()).min(raw.len());
            self.header.extend_from_slice(&raw[..take]);
            raw = &raw[take..];
            if self.header.len() < HEADER {
                return Ok(());
            }
            for m in &mut self.macs {
                m.update(&self.header);
            }
            if self.keys.fernets().len() == 1 {
                let iv: [u8; 16] = self.header[9..HEADER].try_into().unwrap_or_default();
                self.dec = Some(cbc::Decryptor::<Aes128>::inner_iv_init(
                    self.keys.fernets()[0].cipher.clone(),
                    (&iv).into(),
                ));
            }
        }
        self.tail.extend_from_slice(raw);
        // Keep the last block and the tag back: only the end says where they are.
        if self.tail.len() >= CHUNK + TAG + BLOCK {
            let n = (self.tail.len() - TAG - BLOCK) / BLOCK * BLOCK;
            let chunk = &mut self.tail[..n];
            for m in &mut self.macs {
                m.update(chunk);
            }
            if let Some(dec) = &mut self.dec {
                decrypt_blocks(dec, chunk);
            }
            spool.write_all(chunk).map_err(StreamError::Write)?;
            self.processed += n as u64;
            self.tail.drain(..n);
        }
        Ok(())
    }
}

/// Decrypt the token `input` gives into `spool` (from its current position,
/// which must be its start), in constant memory; `time` is `(ttl, now)` to check
/// the timestamp. On `Err` the spool holds unverified bytes: delete it.
pub fn decrypt<R: Read, S: Read + Write + Seek>(
    keys: &MultiFernet,
    mut input: R,
    spool: &mut S,
    time: Option<(u64, u64)>,
) -> Result<Decrypted, StreamError> {
    let mut body = Body {
        keys,
        macs: keys.fernets().iter().map(|f| f.mac.clone()).collect(),
        header: Vec::with_capacity(HEADER),
        tail: Vec::with_capacity(CHUNK + 2 * (TAG + BLOCK)),
        dec: None,
        processed: 0,
    };
    let mut text = vec![0u8; CHUNK];
    let mut raw = Vec::with_capacity(CHUNK / 4 * 3 + 3);
    let mut decoder = Lenient::default();
    loop {
        let n = read_some(&mut input, &mut text)?;
        if n == 0 {
            break;
        }
        raw.clear();
        decoder.feed(&text[..n], &mut raw);
        body.push(&raw, spool)?;
    }
    decoder
        .finish()
        .map_err(|e| FernetError::Base64(e.to_string()))?;
    // The shape, in the order the in-memory parser checks it.
    let total = body.header.len() as u64 + body.processed + body.tail.len() as u64;
    match body.header.first() {
        None => return Err(FernetError::Empty.into()),
        Some(&v) if v != VERSION => return Err(FernetError::Version(v).into()),
        Some(_) => {}
    }
    let too_short = || FernetError::TooShort(usize::try_from(total).unwrap_or(usize::MAX));
    if total < (HEADER + TAG) as u64 {
        return Err(too_short().into());
    }
    let ct_len = total - (HEADER + TAG) as u64;
    if !ct_len.is_multiple_of(BLOCK as u64) {
        return Err(FernetError::BlockSize(usize::try_from(ct_len).unwrap_or(usize::MAX)).into());
    }
    if ct_len == 0 {
        return Err(too_short().into());
    }
    let timestamp = u64::from_be_bytes(body.header[1..9].try_into().unwrap_or_default());
    let split = body.tail.len() - TAG;
    let (rest, tag) = body.tail.split_at_mut(split);
    // The first key whose HMAC matches, compared in constant time.
    let mut found = None;
    for (i, m) in body.macs.into_iter().enumerate() {
        let mut m = m;
        m.update(rest);
        if found.is_none() && m.verify_slice(tag).is_ok() {
            found = Some(i);
        }
    }
    let Some(which) = found else {
        return Err(FernetError::Signature.into());
    };
    if let Some((ttl, now)) = time {
        check_time(timestamp, ttl, now)?;
    }
    let fernet = &keys.fernets()[which];
    if body.dec.is_none() {
        // Several keys: the spool holds ciphertext; decrypt it in place.
        let iv: [u8; 16] = body.header[9..HEADER].try_into().unwrap_or_default();
        let mut dec = cbc::Decryptor::<Aes128>::inner_iv_init(fernet.cipher.clone(), (&iv).into());
        let mut buf = vec![0u8; CHUNK];
        let mut at = 0u64;
        spool.seek(SeekFrom::Start(0)).map_err(StreamError::Write)?;
        while at < body.processed {
            let n = usize::try_from((body.processed - at).min(CHUNK as u64)).unwrap_or(CHUNK);
            spool
                .read_exact(&mut buf[..n])
                .map_err(StreamError::Write)?;
            decrypt_blocks(&mut dec, &mut buf[..n]);
            spool
                .seek(SeekFrom::Start(at))
                .and_then(|_| spool.write_all(&buf[..n]))
                .map_err(StreamError::Write)?;
            at += n as u64;
        }
        body.dec = Some(dec);
    }
    let mut dec = body.dec.ok_or(FernetError::Signature)?;
    decrypt_blocks(&mut dec, rest);
    // PKCS7, checked as `cbc`'s unpadding checks it.
    let pad = rest.last().copied().unwrap_or(0) as usize;
    if pad == 0
        || pad > BLOCK
        || rest.len() < pad
        || rest[rest.len() - pad..].iter().any(|&b| b as usize != pad)
    {
        return Err(FernetError::Padding.into());
    }
    let keep = rest.len() - pad;
    spool
        .write_all(&rest[..keep])
        .and_then(|()| spool.flush())
        .map_err(StreamError::Write)?;
    Ok(Decrypted {
        timestamp,
        len: body.processed + keep as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Fernet, MultiFernet};
    use super::*;
    use std::io::Cursor;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 + 7) as u8).collect()
    }

    #[test]
    fn streamed_tokens_match_in_memory_ones_both_ways() {
        let old = Fernet::new(Fernet::generate_key()).expect("key");
        let new = Fernet::new(Fernet::generate_key()).expect("key");
        let both = MultiFernet::new(vec![new.clone(), old.clone()]).expect("keys");
        let alone = MultiFernet::new(vec![old.clone()]).expect("keys");
        for n in [
            0,
            1,
            15,
            16,
            17,
            1000,
            CHUNK - 1,
            CHUNK,
            CHUNK + 17,
            2 * CHUNK + 5,
        ] {
            let plain = data(n);
            let token = old
                .encrypt_stream(&plain[..], Vec::new(), 1234)
                .expect("encrypt");
            assert_eq!(
                old.decrypt(&token).expect("in-memory decrypt"),
                plain,
                "size {n}"
            );
            assert_eq!(old.extract_timestamp(&token), Ok(1234));
            // Line breaks in the token, as Python's decoder allows them.
            let mut wrapped = Vec::new();
            for line in token.chunks(76) {
                wrapped.extend_from_slice(line);
                wrapped.push(b'\n');
            }
            for (keys, what) in [(&alone, "one key"), (&both, "second of two keys")] {
                for input in [&token, &wrapped] {
                    let mut spool = Cursor::new(Vec::new());
                    let got = decrypt(keys, &input[..], &mut spool, None).expect(what);
                    assert_eq!(got.len, n as u64);
                    assert_eq!(got.timestamp, 1234);
                    assert_eq!(spool.into_inner(), plain, "size {n}, {what}");
                }
            }
        }
    }

    #[test]
    fn streamed_refusals_are_the_in_memory_ones() {
        let f = Fernet::new(Fernet::generate_key()).expect("key");
        let other = MultiFernet::new(vec![Fernet::new(Fernet::generate_key()).expect("key")])
            .expect("keys");
        let keys = MultiFernet::new(vec![f.clone()]).expect("keys");
        let token = f.encrypt_at_time(&data(40), 1000).into_bytes();
        let mut tampered = token.clone();
        tampered[30] = if tampered[30] == b'A' { b'B' } else { b'A' };
        type Case<'a> = (&'a MultiFernet, Vec<u8>, Option<(u64, u64)>);
        let cases: Vec<Case> = vec![
            (&other, token.clone(), None),
            (&keys, tampered, None),
            (&keys, token[..token.len() - 4].to_vec(), None),
            (&keys, b"".to_vec(), None),
            (&keys, b"QUJD".to_vec(), None),
            (&keys, token.clone(), Some((10, 2000))),
            (&keys, token.clone(), Some((10, 100))),
            (&keys, b"gAAAA".to_vec(), None),
        ];
        for (k, input, time) in cases {
            let want = match time {
                Some((ttl, now)) => k.decrypt_at_time(&input, ttl, now),
                None => k.decrypt(&input),
            }
            .expect_err("refused in memory");
            let mut spool = Cursor::new(Vec::new());
            match decrypt(k, &input[..], &mut spool, time) {
                Err(StreamError::Token(e)) => assert_eq!(e, want),
                other => panic!("{other:?}, wanted {want:?}"),
            }
        }
    }
}
