//! `wirekit fernet` against Python's `cryptography.fernet`: tokens each way,
//! rotation, TTLs, and every kind of invalid token.

use crate::util::{code, python_ok, run, stderr, stdout, wirekit};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
const OTHER: &str = "Ps5rXDshZd-sL4OXC7BhDX-wh64rnp61nmauuLHyrCk=";
const LIMIT: Duration = Duration::from_secs(60);

/// Run wirekit with arguments and optional stdin.
fn wk(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = wirekit(args);
    cmd.env_remove("WIREKIT_FERNET_KEY");
    run(cmd, stdin, LIMIT)
}

fn p(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// Deterministic bytes from a seed (xorshift64*), so a failure can be replayed.
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// The edge sizes plus three random sizes below 1 MiB, and the seed used.
fn sizes() -> (Vec<usize>, u64) {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    let mut sizes = vec![0, 1, 15, 16, 17, 1 << 20];
    let r = bytes(24, seed);
    for c in r.chunks(8) {
        let v = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        sizes.push((v % (1 << 20)) as usize);
    }
    (sizes, seed)
}

/// Assert a failed run: exit 1, one line on stderr naming `cause`, nothing on stdout.
fn assert_refused(out: &Output, cause: &str, what: &str) {
    let err = stderr(out);
    assert_eq!(code(out), 1, "{what}: exit code; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: one line expected: {err}");
    assert!(err.starts_with("wirekit: "), "{what}: {err}");
    assert!(err.contains(cause), "{what}: expected {cause:?} in: {err}");
    assert!(out.stdout.is_empty(), "{what}: stdout not empty");
}

fn spec_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = root.join("tests/data/fernet-spec");
    if copy.exists() {
        copy
    } else {
        root.join("../shared/fernet-spec")
    }
}

#[test]
fn spec_copy_matches_shared_vectors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/fernet-spec");
    for name in ["generate.json", "verify.json", "invalid.json"] {
        let ours = std::fs::read(root.join("tests/data/fernet-spec").join(name)).expect("copy");
        if let Ok(theirs) = std::fs::read(shared.join(name)) {
            assert_eq!(
                ours, theirs,
                "tests/data/fernet-spec/{name} differs from shared/"
            );
        }
    }
}

#[test]
fn spec_verify_vector_decrypts_on_the_command_line() {
    let text = std::fs::read_to_string(spec_dir().join("verify.json")).expect("verify.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    for v in doc.as_array().expect("array") {
        let token = v["token"].as_str().expect("token");
        let secret = v["secret"].as_str().expect("secret");
        let out = wk(
            &["fernet", "decrypt", "--key", secret],
            Some(token.as_bytes()),
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(out.stdout, v["src"].as_str().expect("src").as_bytes());
    }
}

#[test]
fn python_tokens_decrypt_in_wirekit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sizes, seed) = sizes();
    for (i, n) in sizes.iter().enumerate() {
        std::fs::write(
            dir.path().join(format!("{i}.bin")),
            bytes(*n, seed + i as u64),
        )
        .expect("write plaintext");
    }
    python_ok(&format!(
        r#"
from cryptography.fernet import Fernet
f = Fernet({KEY:?})
for i in range({count}):
    data = open("{dir}/%d.bin" % i, "rb").read()
    open("{dir}/%d.tok" % i, "wb").write(f.encrypt(data))
print("ok")
"#,
        count = sizes.len(),
        dir = p(dir.path()),
    ));
    for (i, n) in sizes.iter().enumerate() {
        let tok = dir.path().join(format!("{i}.tok"));
        let out_path = dir.path().join(format!("{i}.out"));
        let out = wk(
            &[
                "fernet",
                "decrypt",
                "--key",
                KEY,
                p(&tok),
                "-o",
                p(&out_path),
            ],
            None,
        );
        assert_eq!(code(&out), 0, "size {n} (seed {seed}): {}", stderr(&out));
        let got = std::fs::read(&out_path).expect("output written");
        assert!(
            got == bytes(*n, seed + i as u64),
            "size {n} (seed {seed}): plaintext differs"
        );
    }
    // The same through stdin and stdout.
    let token = std::fs::read(dir.path().join("2.tok")).expect("token");
    let out = wk(&["fernet", "decrypt", "--key", KEY], Some(&token));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, bytes(sizes[2], seed + 2));
}

#[test]
fn wirekit_tokens_decrypt_in_python() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sizes, seed) = sizes();
    for (i, n) in sizes.iter().enumerate() {
        let plain = dir.path().join(format!("{i}.bin"));
        std::fs::write(&plain, bytes(*n, seed + i as u64)).expect("write plaintext");
        let tok = dir.path().join(format!("{i}.tok"));
        let out = wk(
            &["fernet", "encrypt", "--key", KEY, p(&plain), "-o", p(&tok)],
            None,
        );
        assert_eq!(code(&out), 0, "size {n}: {}", stderr(&out));
    }
    // Stdin to stdout too.
    let out = wk(&["fernet", "encrypt", "--key", KEY], Some(b"from stdin"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::write(dir.path().join("stdin.tok"), &out.stdout).expect("write token");
    python_ok(&format!(
        r#"
import time
from cryptography.fernet import Fernet
f = Fernet({KEY:?})
for i in range({count}):
    token = open("{dir}/%d.tok" % i, "rb").read()
    assert token.startswith(b"gAAAAA") and token.endswith(b"\n"), token[:20]
    plain = open("{dir}/%d.bin" % i, "rb").read()
    assert f.decrypt(token, ttl=120) == plain, "size %d (seed {seed})" % len(plain)
    assert abs(f.extract_timestamp(token) - time.time()) < 120
assert f.decrypt(open("{dir}/stdin.tok", "rb").read()) == b"from stdin"
print("ok")
"#,
        count = sizes.len(),
        dir = p(dir.path()),
    ));
}

#[test]
fn rotate_keeps_plaintext_and_timestamp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tok = dir.path().join("old.tok");
    let rotated = dir.path().join("new.tok");
    let made_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        - 3600;
    python_ok(&format!(
        r#"
from cryptography.fernet import Fernet
open("{tok}", "wb").write(Fernet({KEY:?}).encrypt_at_time(b"rotate me" * 1000, {made_at}))
print("ok")
"#,
        tok = p(&tok),
    ));
    let out = wk(
        &[
            "fernet",
            "rotate",
            "--key",
            OTHER,
            "--key",
            KEY,
            p(&tok),
            "-o",
            p(&rotated),
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // In place: the input is read whole before the output replaces it.
    let out = wk(
        &[
            "fernet",
            "rotate",
            "--key",
            OTHER,
            "--key",
            KEY,
            p(&tok),
            "-o",
            p(&tok),
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    python_ok(&format!(
        r#"
from cryptography.fernet import Fernet, MultiFernet, InvalidToken
new = MultiFernet([Fernet({OTHER:?})])
for path in ["{rotated}", "{tok}"]:
    token = open(path, "rb").read()
    assert new.decrypt(token) == b"rotate me" * 1000
    assert new.extract_timestamp(token) == {made_at}
    try:
        Fernet({KEY:?}).decrypt(token)
        raise SystemExit("the old key still reads the rotated token")
    except InvalidToken:
        pass
print("ok")
"#,
        rotated = p(&rotated),
        tok = p(&tok),
    ));
}

#[test]
fn genkey_makes_keys_python_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = wk(&["fernet", "genkey"], None);
    let b = wk(&["fernet", "genkey"], None);
    assert_eq!(code(&a), 0);
    let key = stdout(&a).trim_end().to_string();
    assert_eq!(key.len(), 44, "{key}");
    assert_ne!(stdout(&a), stdout(&b));
    let file = dir.path().join("key");
    let out = wk(&["fernet", "genkey", "-o", p(&file)], None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key file readable by others: {mode:o}");
    }
    python_ok(&format!(
        r#"
from cryptography.fernet import Fernet
for k in [{key:?}, open("{file}").read().strip()]:
    assert Fernet(k).decrypt(Fernet(k).encrypt(b"x")) == b"x"
print("ok")
"#,
        file = p(&file),
    ));
}

#[test]
fn keys_from_env_and_key_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = wk(&["fernet", "encrypt", "--key", KEY], Some(b"keyed")).stdout;
    // Environment: comma-separated, any key decrypts.
    let mut cmd = wirekit(&["fernet", "decrypt"]);
    cmd.env("WIREKIT_FERNET_KEY", format!("{OTHER}, {KEY}"));
    let out = run(cmd, Some(&token), LIMIT);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"keyed");
    // Key file: comments and blank lines skipped.
    let keys = dir.path().join("keys");
    std::fs::write(&keys, format!("# rotation list\n{OTHER}\n\n{KEY}\n")).expect("keys");
    let out = wk(&["fernet", "decrypt", "--key-file", p(&keys)], Some(&token));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"keyed");
    // The first key of the file encrypts.
    let out = wk(&["fernet", "encrypt", "--key-file", p(&keys)], Some(b"x"));
    let out = wk(&["fernet", "decrypt", "--key", OTHER], Some(&out.stdout));
    assert_eq!(out.stdout, b"x");
    // `-` is stdin for input and stdout for -o.
    let out = wk(
        &["fernet", "encrypt", "--key", KEY, "-", "-o", "-"],
        Some(b"dash"),
    );
    let out = wk(
        &["fernet", "decrypt", "--key", KEY, "-o", "-", "-"],
        Some(&out.stdout),
    );
    assert_eq!(out.stdout, b"dash");
    // No key at all is bad usage.
    let out = wk(&["fernet", "decrypt"], Some(&token));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("no Fernet key"), "{}", stderr(&out));
    // An empty key file is no key at all: bad usage too (issue 11, defect 10).
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "# nothing\n").expect("empty");
    for file in [p(&empty), "/dev/null"] {
        let out = wk(&["fernet", "decrypt", "--key-file", file], Some(&token));
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("the key file {file} holds no key")),
            "{}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
    // A missing one is a failure that says so.
    let missing = dir.path().join("missing");
    assert_refused(
        &wk(
            &["fernet", "decrypt", "--key-file", p(&missing)],
            Some(&token),
        ),
        "cannot read the key file",
        "missing key file",
    );
}

#[test]
fn ttl_accepts_fresh_and_refuses_old_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tok = dir.path().join("tok");
    python_ok(&format!(
        r#"
import time
from cryptography.fernet import Fernet
open("{tok}", "wb").write(Fernet({KEY:?}).encrypt_at_time(b"aged", int(time.time()) - 100))
print("ok")
"#,
        tok = p(&tok),
    ));
    let out = wk(
        &["fernet", "decrypt", "--key", KEY, "--ttl", "1000", p(&tok)],
        None,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"aged");
    let out_path = dir.path().join("out");
    let out = wk(
        &[
            "fernet",
            "decrypt",
            "--key",
            KEY,
            "--ttl",
            "10",
            p(&tok),
            "-o",
            p(&out_path),
        ],
        None,
    );
    assert_refused(&out, "expired", "ttl 10 on a 100 s old token");
    assert!(!out_path.exists());
    // Without --ttl any age is fine, as in Python.
    let out = wk(&["fernet", "decrypt", "--key", KEY, p(&tok)], None);
    assert_eq!(out.stdout, b"aged");
    // --ttl takes durations like every other flag (issue 11, defect 10).
    for ttl in ["2m", "1h", "150s", "7d"] {
        let out = wk(
            &["fernet", "decrypt", "--key", KEY, "--ttl", ttl, p(&tok)],
            None,
        );
        assert_eq!(code(&out), 0, "--ttl {ttl}: {}", stderr(&out));
        assert_eq!(out.stdout, b"aged");
    }
    let out = wk(
        &["fernet", "decrypt", "--key", KEY, "--ttl", "90s", p(&tok)],
        None,
    );
    assert_refused(&out, "expired", "ttl 90s on a 100 s old token");
    for bad in ["10x", "-5", "400d"] {
        let out = wk(
            &["fernet", "decrypt", "--key", KEY, "--ttl", bad, p(&tok)],
            None,
        );
        assert_eq!(code(&out), 2, "--ttl {bad}: {}", stderr(&out));
        assert!(stderr(&out).contains(bad), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn invalid_tokens_fail_with_their_cause_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = p(dir.path());
    // Tokens with a genuine HMAC but a bad inside, made with Python's own
    // primitives; Python's Fernet must refuse each one too.
    python_ok(&format!(
        r#"
import base64, hashlib, hmac, os, struct, time
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
key = base64.urlsafe_b64decode({KEY:?})
sign, enc = key[:16], key[16:]
def make(version=0x80, plain=b"hello", pad=True, cut=0):
    data = plain
    if pad:
        p = padding.PKCS7(128).padder()
        data = p.update(plain) + p.finalize()
    iv = os.urandom(16)
    e = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ct = e.update(data) + e.finalize()
    body = bytes([version]) + struct.pack(">Q", int(time.time())) + iv + ct[:len(ct) - cut]
    return base64.urlsafe_b64encode(body + hmac.new(sign, body, hashlib.sha256).digest())
now = int(time.time())
cases = {{
    "version": make(version=0x81),
    "padding": make(plain=b"\x00" * 16, pad=False),
    "blocksize": make(plain=b"x" * 40, cut=3),
    "signature": Fernet({OTHER:?}).encrypt(b"hello"),
    "expired": Fernet({KEY:?}).encrypt_at_time(b"hello", now - 1000),
    "future": Fernet({KEY:?}).encrypt_at_time(b"hello", now + 1000),
    "base64": b"gAAAAABrB9W9m32vq",
    "short": base64.urlsafe_b64encode(b"\x80" + b"\x00" * 40),
}}
for name, token in cases.items():
    try:
        Fernet({KEY:?}).decrypt(token, ttl=100)
        raise SystemExit("python accepted " + name)
    except InvalidToken:
        pass
    open("{d}/%s.tok" % name, "wb").write(token)
print("ok")
"#
    ));
    let cases = [
        ("version", "wrong version byte 0x81"),
        ("padding", "bad PKCS7 padding"),
        ("blocksize", "not a multiple of the 16-byte AES block"),
        ("signature", "signature mismatch"),
        ("expired", "expired"),
        ("future", "far-future timestamp"),
        ("base64", "not valid base64"),
        ("short", "too short"),
    ];
    for (name, cause) in cases {
        let tok = dir.path().join(format!("{name}.tok"));
        let out_path = dir.path().join(format!("{name}.out"));
        let out = wk(
            &[
                "fernet",
                "decrypt",
                "--key",
                KEY,
                "--ttl",
                "100",
                p(&tok),
                "-o",
                p(&out_path),
            ],
            None,
        );
        assert_refused(&out, cause, name);
        assert!(!out_path.exists(), "{name}: output file written");
        // Rotation refuses the same broken tokens (the time is not checked there).
        if !matches!(name, "expired" | "future") {
            let out = wk(
                &[
                    "fernet",
                    "rotate",
                    "--key",
                    KEY,
                    p(&tok),
                    "-o",
                    p(&out_path),
                ],
                None,
            );
            assert_refused(&out, cause, name);
            assert!(!out_path.exists(), "{name}: rotate wrote output");
        }
    }
    // A file already at -o is left as it was.
    let keep = dir.path().join("keep.txt");
    std::fs::write(&keep, "precious").expect("write");
    let out = wk(
        &[
            "fernet",
            "decrypt",
            "--key",
            KEY,
            p(&dir.path().join("signature.tok")),
            "-o",
            p(&keep),
        ],
        None,
    );
    assert_refused(&out, "signature mismatch", "existing output");
    assert_eq!(std::fs::read_to_string(&keep).expect("read"), "precious");
    // A bad key.
    let out_path = dir.path().join("badkey.out");
    let out = wk(
        &["fernet", "encrypt", "--key", "c2hvcnQ=", "-o", p(&out_path)],
        Some(b"data"),
    );
    assert_refused(&out, "invalid Fernet key", "short key");
    assert!(stderr(&out).contains("--key #1"), "{}", stderr(&out));
    assert!(!out_path.exists());
    // An output folder that does not exist.
    let nowhere = dir.path().join("no-such-dir/out.tok");
    let out = wk(
        &["fernet", "encrypt", "--key", KEY, "-o", p(&nowhere)],
        Some(b"data"),
    );
    assert_refused(&out, "cannot write", "missing output folder");
    assert!(stderr(&out).contains("no-such-dir"), "{}", stderr(&out));
    // No temporary files left behind either.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn tokens_are_read_as_leniently_as_python_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tok = dir.path().join("wrapped.tok");
    // Standard alphabet (+/), wrapped at 76 columns with CRLF: Python decrypts it.
    python_ok(&format!(
        r#"
import base64
from cryptography.fernet import Fernet
f = Fernet({KEY:?})
raw = base64.urlsafe_b64decode(f.encrypt(bytes(range(256)) * 4))
text = base64.b64encode(raw).decode()
wrapped = "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76)) + "\r\n"
assert "+" in text or "/" in text
assert f.decrypt(wrapped.encode()) == bytes(range(256)) * 4
open("{tok}", "w", newline="").write(wrapped)
print("ok")
"#,
        tok = p(&tok),
    ));
    let out = wk(&["fernet", "decrypt", "--key", KEY, p(&tok)], None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let want: Vec<u8> = (0..4).flat_map(|_| 0..=255u8).collect();
    assert_eq!(out.stdout, want);
}

/// Issue 11, defect 2: `genkey -o` refuses to replace an existing key unless --force.
#[test]
fn genkey_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.txt");
    std::fs::write(&key, "old key\n").expect("write");
    let path = key.to_str().expect("utf-8 path");
    let out = run(
        wirekit(&["fernet", "genkey", "-o", path]),
        None,
        std::time::Duration::from_secs(30),
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{path} already exists"))
            && stderr(&out).contains("--force"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&key).expect("read"), "old key\n");
    let out = run(
        wirekit(&["fernet", "genkey", "-o", path, "--force"]),
        None,
        std::time::Duration::from_secs(30),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&key).expect("read").trim().len(),
        44
    );
}

/// Issue 11, defect 5: a Python-made token dated year 10000 with --ttl is a
/// one-line refusal (exit 1), not a panic.
#[test]
fn ttl_on_year_10000_token_is_refused_not_panicking() {
    let made = std::process::Command::new("python3")
        .args([
            "-c",
            "from cryptography.fernet import Fernet\nk=Fernet.generate_key()\nprint(k.decode())\nprint(Fernet(k).encrypt_at_time(b'hi', 253402300800).decode())",
        ])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&made.stdout).to_string();
    let mut lines = text.lines();
    let (key, token) = (lines.next().expect("key"), lines.next().expect("token"));
    let out = run(
        wirekit(&["fernet", "decrypt", "--key", key, "--ttl", "10"]),
        Some(token.as_bytes()),
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("far-future timestamp (253402300800 s after 1970 (after year 9999)"),
        "{}",
        stderr(&out)
    );
}

/// One key in 64 begins with `-`: `--key KEY` takes it (Python made the token).
#[test]
fn key_beginning_with_a_dash_is_a_value() {
    let key = "-wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let made = crate::util::python(
        &format!(
            "from cryptography.fernet import Fernet\nprint(Fernet({key:?}).encrypt(b'dash').decode())"
        ),
        LIMIT,
    );
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    let out = wk(
        &["fernet", "decrypt", "--key", key],
        Some(stdout(&made).as_bytes()),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"dash");
}

/// Issue 11, defect 6: decryption streams, yet nothing unverified is released:
/// an 8 MiB token whose last ciphertext block was changed (HMAC no longer
/// matching) gives exit 1 and not one byte on stdout, and `-o` leaves no file.
#[test]
fn a_tampered_large_token_releases_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("plain.bin");
    let tok = dir.path().join("big.tok");
    std::fs::write(&plain, bytes(8 << 20, 11)).expect("write");
    let out = wk(
        &["fernet", "encrypt", "--key", KEY, p(&plain), "-o", p(&tok)],
        None,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut token = std::fs::read(&tok).expect("token");
    while token.last().is_some_and(|b| b.is_ascii_whitespace()) {
        token.pop();
    }
    // A character well inside the ciphertext (not the HMAC): still valid base64.
    let at = token.len() - 200;
    token[at] = if token[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&tok, &token).expect("write");
    let out = wk(&["fernet", "decrypt", "--key", KEY, p(&tok)], None);
    assert_refused(&out, "signature mismatch", "tampered to stdout");
    let dest = dir.path().join("out.bin");
    let out = wk(
        &["fernet", "decrypt", "--key", KEY, p(&tok), "-o", p(&dest)],
        None,
    );
    assert_refused(&out, "signature mismatch", "tampered to -o");
    assert!(!dest.exists(), "-o must not leave a file behind");
}
