//! In-process Fernet speed, for `bench/fernet.sh`: encrypt and decrypt loops at
//! each size for a bounded time, one tab-separated line per case:
//! `op size tokens_per_second megabytes_per_second`.
//!
//! Usage: `cargo run --release --example fernet_bench -- [SECONDS] [SIZE...]`

use std::hint::black_box;
use std::time::{Duration, Instant};
use wirekit::fernet::Fernet;

/// Run `f` for about `budget` (at least 3 times); calls per second.
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        f();
        n += 1;
        let elapsed = start.elapsed();
        if elapsed >= budget && n >= 3 {
            return n as f64 / elapsed.as_secs_f64();
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let mut sizes: Vec<usize> = args.filter_map(|s| s.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![100, 1024, 1 << 20, 16 << 20];
    }
    let budget = Duration::from_secs_f64(seconds);
    let key = Fernet::generate_key();
    let f = match Fernet::new(&key) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fernet_bench: {e}");
            std::process::exit(1);
        }
    };
    for size in sizes {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 + 7) as u8).collect();
        let enc = rate(budget, || {
            black_box(f.encrypt(black_box(&data)));
        });
        println!("encrypt\t{size}\t{enc:.1}\t{:.1}", enc * size as f64 / 1e6);
        let token = f.encrypt(&data);
        let dec = rate(budget, || {
            let plain = f.decrypt(black_box(&token));
            assert!(plain.is_ok(), "fernet_bench: own token refused");
            black_box(plain.ok());
        });
        println!("decrypt\t{size}\t{dec:.1}\t{:.1}", dec * size as f64 / 1e6);
    }
}
