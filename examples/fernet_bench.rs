//! In-process Fernet speed, for `bench/fernet.sh`: encrypt and decrypt loops at
//! each size for a bounded time, one tab-separated line per case:
//! `op size tokens_per_second megabytes_per_second`.
//!
//! Time is this process's CPU time (user + system, CLOCK_PROCESS_CPUTIME_ID),
//! as Python's `time.process_time()` on the other side: on a shared machine
//! wall time would measure the neighbours' load as much as the code.
//!
//! Usage: `cargo run --release --example fernet_bench -- [SECONDS] [SIZE...]`

use std::hint::black_box;
use wirekit::fernet::Fernet;

/// CPU seconds this process has used.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into memory we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Run `f` for about `budget` CPU seconds (at least 3 times); calls per CPU second.
/// Calls go in batches that double while short, so reading the clock (a system
/// call) costs nothing measurable even at 100-byte tokens.
fn rate(budget: f64, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let start = cpu_seconds();
    let (mut n, mut batch) = (0u64, 1u64);
    loop {
        for _ in 0..batch {
            f();
        }
        n += batch;
        let elapsed = cpu_seconds() - start;
        if elapsed >= budget && n >= 3 {
            return n as f64 / elapsed;
        }
        if elapsed < budget / 10.0 {
            batch *= 2;
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
    let budget = seconds;
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
