//! ncat's flags that wirekit spells differently: an unknown flag that ncat
//! users type is answered with wirekit's spelling instead of clap's generic
//! "unexpected argument".

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// ncat's spelling, and what to use here.
const SPELLINGS: &[(&str, &str)] = &[
    (
        "-l",
        "`wirekit tcp listen ADDR` (or `wirekit udp listen ADDR`)",
    ),
    (
        "--listen",
        "`wirekit tcp listen ADDR` (or `wirekit udp listen ADDR`)",
    ),
    ("-u", "`wirekit udp connect|listen|send`"),
    ("--udp", "`wirekit udp connect|listen|send`"),
    ("--ssl", "--tls"),
    ("--ssl-cert", "--cert"),
    ("--ssl-key", "--key"),
    ("--ssl-trustfile", "--cacert"),
    (
        "--ssl-verify",
        "the default with --tls (--insecure turns verification off)",
    ),
    ("--ssl-servername", "--sni"),
    ("--ssl-alpn", "--alpn"),
    ("--wait", "--connect-timeout (-w)"),
    ("-s", "--source ADDR"),
    ("-p", "--source :PORT"),
    ("--source-port", "--source :PORT"),
    ("--nodns", "--no-dns (-n)"),
    ("--lua-exec", "not available; use --exec or --sh-exec"),
    ("-U", "not available (TCP and UDP only)"),
    ("--unixsock", "not available (TCP and UDP only)"),
    ("--sctp", "not available (TCP and UDP only)"),
    ("-t", "not available (no telnet negotiation)"),
    ("--telnet", "not available (no telnet negotiation)"),
];

/// The sentence for an unknown flag that ncat has under another name, if it is one.
pub fn hint(err: &clap::Error) -> Option<String> {
    if err.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = arg.split('=').next().unwrap_or(arg);
    let (_, ours) = SPELLINGS.iter().find(|(ncat, _)| *ncat == flag)?;
    Some(
        if ours.starts_with("not available") || ours.starts_with("the default") {
            format!("ncat's {flag} is {ours} here")
        } else {
            format!("ncat's {flag} is {ours} here; see `wirekit tcp --help`")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn ncat_spellings_are_answered() {
        let said = |args: &[&str]| {
            let err = Cli::try_parse_from(args).map(drop).unwrap_err();
            hint(&err)
        };
        assert_eq!(
            said(&["wirekit", "tcp", "connect", "localhost:1", "--ssl"]).as_deref(),
            Some("ncat's --ssl is --tls here; see `wirekit tcp --help`")
        );
        assert!(
            said(&["wirekit", "tcp", "connect", ":1", "--wait=3"])
                .is_some_and(|h| h.contains("--connect-timeout"))
        );
        assert!(
            said(&["wirekit", "tcp", "connect", ":1", "-l"])
                .is_some_and(|h| h.contains("wirekit tcp listen"))
        );
        assert_eq!(said(&["wirekit", "tcp", "connect", ":1", "--bogus"]), None);
    }
}
