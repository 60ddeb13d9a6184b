//! `wirekit resolve` against the system resolver (/etc/hosts has localhost).

use crate::util::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[test]
fn forward_reverse_and_local() {
    let out = run(wirekit(&["resolve", "localhost", "-4"]), None, T);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("localhost  127.0.0.1"),
        "{}",
        stdout(&out)
    );
    let out = run(wirekit(&["resolve", "--reverse", "127.0.0.1"]), None, T);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("127.0.0.1  localhost"),
        "{}",
        stdout(&out)
    );
    let out = run(wirekit(&["resolve", "--local", "--json"]), None, T);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let host = std::process::Command::new("hostname")
        .output()
        .expect("hostname");
    assert_eq!(v["hostname"], String::from_utf8_lossy(&host.stdout).trim());
    let ifaces = v["interfaces"].as_array().expect("interfaces");
    assert!(
        ifaces
            .iter()
            .any(|i| i["address"] == "127.0.0.1" && i["prefix"] == 8),
        "{v}"
    );
}

#[test]
fn bad_names_and_usage() {
    let out = run(wirekit(&["resolve", "nosuch.invalid"]), None, T);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("cannot resolve 'nosuch.invalid'"),
        "{}",
        stderr(&out)
    );
    let out = run(wirekit(&["resolve"]), None, T);
    assert_eq!(code(&out), 2);
    let out = run(wirekit(&["resolve", "--reverse", "not-an-ip"]), None, T);
    assert_eq!(code(&out), 2);
}

#[test]
fn a_family_with_no_address_is_a_failure() {
    // Which families does this machine's resolver give localhost? (Python asks the same resolver.)
    let out = python(
        "import socket\nfams = {a[0] for a in socket.getaddrinfo('localhost', None)}\nprint(int(socket.AF_INET in fams), int(socket.AF_INET6 in fams))",
        T,
    );
    let (v4, v6) = match stdout(&out).split_whitespace().collect::<Vec<_>>()[..] {
        [a, b] => (a == "1", b == "1"),
        _ => panic!("python said: {}", stderr(&out)),
    };
    for (has, flag, family) in [(v4, "-4", "IPv4"), (v6, "-6", "IPv6")] {
        let out = run(wirekit(&["resolve", "localhost", flag]), None, T);
        if has {
            assert_eq!(code(&out), 0, "{}", stderr(&out));
        } else {
            assert_eq!(code(&out), 1);
            assert_eq!(stdout(&out), "");
            assert!(
                stderr(&out).contains(&format!("no {family} address for localhost")),
                "{}",
                stderr(&out)
            );
        }
    }
}
