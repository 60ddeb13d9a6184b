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
