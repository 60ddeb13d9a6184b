//! The official Fernet test vectors (generate, verify, invalid) and API behaviour.

use super::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The spec's JSON file: the copy in this repository, else `../shared/fernet-spec`.
fn spec(name: &str) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates: [PathBuf; 2] = [
        root.join("tests/data/fernet-spec").join(name),
        root.join("../shared/fernet-spec").join(name),
    ];
    let path = candidates
        .iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no {name} in tests/data/fernet-spec or ../shared/fernet-spec"));
    let text = std::fs::read_to_string(path).expect("read spec file");
    let doc: Value = serde_json::from_str(&text).expect("spec file is JSON");
    doc.as_array().expect("spec file is a JSON array").clone()
}

/// Unix seconds of an RFC 3339 time with a numeric offset, e.g. `1985-10-26T01:20:00-07:00`.
fn unix_time(text: &str) -> u64 {
    let num = |s: &str| -> i64 { s.parse().unwrap_or_else(|_| panic!("bad number in {text}")) };
    let (y, mo, d) = (num(&text[0..4]), num(&text[5..7]), num(&text[8..10]));
    let (h, mi, s) = (num(&text[11..13]), num(&text[14..16]), num(&text[17..19]));
    let offset = match &text[19..] {
        "Z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (num(&o[1..3]) * 3600 + num(&o[4..6]) * 60)
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset;
    u64::try_from(secs).expect("time after 1970")
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("vector without {name}: {v}"))
}

#[test]
fn unix_time_parses_offsets() {
    assert_eq!(unix_time("1970-01-01T00:00:00Z"), 0);
    // 1985-10-26T08:20:00Z
    assert_eq!(unix_time("1985-10-26T01:20:00-07:00"), 499_162_800);
}

#[test]
fn generate_vectors() {
    let vectors = spec("generate.json");
    assert!(!vectors.is_empty());
    for v in &vectors {
        let f = Fernet::new(field(v, "secret")).expect("vector key");
        let iv: Vec<u8> = v["iv"]
            .as_array()
            .expect("iv array")
            .iter()
            .map(|b| b.as_u64().expect("iv byte") as u8)
            .collect();
        let iv: [u8; 16] = iv.try_into().expect("16-byte iv");
        let token =
            f.encrypt_from_parts(field(v, "src").as_bytes(), unix_time(field(v, "now")), &iv);
        assert_eq!(token, field(v, "token"));
    }
}

#[test]
fn verify_vectors() {
    let vectors = spec("verify.json");
    assert!(!vectors.is_empty());
    for v in &vectors {
        let f = Fernet::new(field(v, "secret")).expect("vector key");
        let ttl = v["ttl_sec"].as_u64().expect("ttl_sec");
        let now = unix_time(field(v, "now"));
        let plain = f
            .decrypt_at_time(field(v, "token"), ttl, now)
            .expect("vector decrypts");
        assert_eq!(plain, field(v, "src").as_bytes());
        assert_eq!(
            f.decrypt(field(v, "token")).expect("no ttl"),
            field(v, "src").as_bytes()
        );
        let multi = MultiFernet::new(vec![Fernet::new(Fernet::generate_key()).expect("key"), f])
            .expect("two keys");
        assert_eq!(
            multi
                .decrypt_at_time(field(v, "token"), ttl, now)
                .expect("multi"),
            plain
        );
    }
}

#[test]
fn invalid_vectors() {
    let vectors = spec("invalid.json");
    assert_eq!(vectors.len(), 8);
    for v in &vectors {
        let desc = field(v, "desc");
        let f = Fernet::new(field(v, "secret")).expect("vector key");
        let ttl = v["ttl_sec"].as_u64().expect("ttl_sec");
        let now = unix_time(field(v, "now"));
        let err = f
            .decrypt_at_time(field(v, "token"), ttl, now)
            .expect_err(desc);
        // Each vector's own cause, named in the message.
        let expected = match desc {
            "incorrect mac" => matches!(err, FernetError::Signature),
            "too short" => matches!(err, FernetError::TooShort(_)),
            "invalid base64" => matches!(err, FernetError::Base64(_) | FernetError::Version(_)),
            "payload size not multiple of block size" => matches!(err, FernetError::BlockSize(_)),
            "payload padding error" | "incorrect IV (causes padding error)" => {
                matches!(err, FernetError::Padding)
            }
            "far-future TS (unacceptable clock skew)" => {
                matches!(err, FernetError::FutureTimestamp { .. })
            }
            "expired TTL" => matches!(err, FernetError::Expired { .. }),
            other => panic!("unknown vector {other}"),
        };
        assert!(expected, "{desc}: got {err:?}");
        let message = err.to_string();
        assert!(message.starts_with("invalid token: "), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
}

#[test]
fn round_trip_sizes_and_keys() {
    let f = Fernet::new(Fernet::generate_key()).expect("key");
    for n in [0usize, 1, 15, 16, 17, 31, 32, 33, 1000, 65_536] {
        let data: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
        let token = f.encrypt(&data);
        assert!(token.starts_with("gAAAAA"), "{token}");
        assert_eq!(token.len() % 4, 0);
        assert_eq!(f.decrypt(&token).expect("round trip"), data);
        assert_eq!(f.decrypt_with_ttl(&token, 60).expect("fresh"), data);
        // With a newline at the end, as read from a file.
        assert_eq!(f.decrypt(format!("{token}\n")).expect("newline"), data);
    }
    // Two encryptions differ (random IV).
    assert_ne!(f.encrypt(b"x"), f.encrypt(b"x"));
}

#[test]
fn time_rules_match_python() {
    let f = Fernet::new(Fernet::generate_key()).expect("key");
    let token = f.encrypt_at_time(b"t", 1_000);
    // timestamp + ttl < now is expired; equality is still fine.
    assert!(f.decrypt_at_time(&token, 100, 1_100).is_ok());
    assert!(matches!(
        f.decrypt_at_time(&token, 100, 1_101),
        Err(FernetError::Expired {
            age: 101,
            ttl: 100,
            ..
        })
    ));
    // now + 60 < timestamp is too far ahead.
    assert!(f.decrypt_at_time(&token, 100, 940).is_ok());
    assert!(matches!(
        f.decrypt_at_time(&token, 100, 939),
        Err(FernetError::FutureTimestamp { ahead: 61, .. })
    ));
    // Without a TTL the time is not checked at all, as in Python.
    assert_eq!(f.decrypt(&token).expect("no ttl"), b"t");
    let far = f.encrypt_at_time(b"t", u64::MAX);
    assert_eq!(f.decrypt(&far).expect("no ttl"), b"t");
    assert!(matches!(
        f.decrypt_at_time(&far, u64::MAX, 0),
        Err(FernetError::FutureTimestamp { .. })
    ));
    assert_eq!(f.extract_timestamp(&token), Ok(1_000));
}

#[test]
fn keys_are_read_like_python() {
    let key = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    assert!(Fernet::new(key).is_ok());
    assert!(Fernet::new(format!("{key}\n")).is_ok());
    assert!(Fernet::new(key.replace('_', "/").replace('-', "+")).is_ok());
    let err = Fernet::new("c2hvcnQ=").expect_err("short key");
    assert!(err.to_string().contains("5 bytes, not 32"), "{err}");
    let err = Fernet::new("abc").expect_err("not base64");
    assert!(err.to_string().contains("not base64"), "{err}");
    assert!(Fernet::generate_key().len() == 44);
}

#[test]
fn multifernet_rotates_and_reports_the_telling_error() {
    let old = Fernet::new(Fernet::generate_key()).expect("key");
    let new = Fernet::new(Fernet::generate_key()).expect("key");
    let token = old.encrypt_at_time(b"payload", 5_000);
    let both = MultiFernet::new(vec![new.clone(), old.clone()]).expect("keys");
    let rotated = both.rotate(&token).expect("rotate");
    assert_eq!(new.decrypt(&rotated).expect("new key reads it"), b"payload");
    assert_eq!(new.extract_timestamp(&rotated), Ok(5_000));
    assert_eq!(old.decrypt(&rotated), Err(FernetError::Signature));
    // The old key matched the HMAC, so "expired" is what went wrong.
    assert!(matches!(
        both.decrypt_at_time(&token, 10, 6_000),
        Err(FernetError::Expired { .. })
    ));
    let stranger = MultiFernet::new(vec![new]).expect("key");
    assert_eq!(stranger.decrypt(&token), Err(FernetError::Signature));
    assert_eq!(MultiFernet::new(vec![]).err(), Some(FernetError::NoKeys));
}

#[test]
fn malformed_tokens_name_their_cause() {
    let f = Fernet::new(Fernet::generate_key()).expect("key");
    let token = f.encrypt(b"hello");
    let mut raw = b64::decode(token.as_bytes()).expect("decode");
    assert!(matches!(f.decrypt(""), Err(FernetError::Empty)));
    assert!(matches!(f.decrypt("abc"), Err(FernetError::Base64(_))));
    raw[0] = 0x81;
    let wrong_version = b64::ENCODER.encode(&raw);
    assert_eq!(f.decrypt(wrong_version), Err(FernetError::Version(0x81)));
    raw[0] = VERSION;
    let last = raw.len() - 1;
    raw[last] ^= 1;
    assert_eq!(
        f.decrypt(b64::ENCODER.encode(&raw)),
        Err(FernetError::Signature)
    );
    assert!(matches!(
        f.decrypt(b64::ENCODER.encode(&raw[..40])),
        Err(FernetError::TooShort(40))
    ));
}

/// Issue 11, defect 5: a timestamp in year 10000 or later is shown, not a panic.
#[test]
fn far_timestamps_display_without_panic() {
    assert_eq!(
        super::rfc3339(253_402_300_800),
        "253402300800 s after 1970 (after year 9999)"
    );
    assert_eq!(
        super::rfc3339(u64::MAX),
        format!("{} s after 1970 (after year 9999)", u64::MAX)
    );
    assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
}
