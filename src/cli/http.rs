//! `wirekit http`: an xh/HTTPie-like client, and the client flags `fetch` shares.
//! The value parsers here turn flag text into the client library's own types.

use clap::Args;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use wirekit::http::client::print::{Parts, Pretty};
use wirekit::http::client::{
    Auth, ClientOptions, HttpVersion, Proxy, ProxyScheme, RetryPolicy, Verify,
};
use wirekit::http::credentials::split_user_pass;

fn duration(text: &str) -> Result<Duration, String> {
    wirekit::units::parse_duration(text)
}

/// `--timeout`, `--connect-timeout`: a duration above 0 (a 0 limit would fail every
/// request before it could start).
pub(crate) fn time_limit(text: &str) -> Result<Duration, String> {
    let d = duration(text)?;
    if d.is_zero() {
        return Err(format!(
            "'{text}' would fail every request at once; give a limit above 0 like 500ms or 30s \
             (366d for no practical limit)"
        ));
    }
    Ok(d)
}

/// `--verify yes|no|CAFILE`; the file itself is read when the client is built.
fn verify(text: &str) -> Result<Verify, String> {
    Ok(match text {
        "yes" | "true" => Verify::Yes,
        "no" | "false" => Verify::No,
        path => Verify::CaFile(PathBuf::from(path)),
    })
}

/// `--proxy [PROTOCOL:]URL`.
fn proxy(text: &str) -> Result<Proxy, String> {
    let (scheme, url) = match text.split_once(':') {
        Some(("http", rest)) if rest.contains("://") => (Some(ProxyScheme::Http), rest),
        Some(("https", rest)) if rest.contains("://") => (Some(ProxyScheme::Https), rest),
        Some(("all", rest)) if rest.contains("://") => (Some(ProxyScheme::All), rest),
        _ => (None, text),
    };
    let proxy = Proxy {
        scheme,
        url: url.to_string(),
    };
    proxy.to_reqwest().map_err(|e| {
        format!("{e}; write it like http://127.0.0.1:3128 or https:http://127.0.0.1:3128")
    })?;
    Ok(proxy)
}

/// `--resolve HOST:PORT:ADDR`, as curl writes it (ADDR may be `[v6]`).
fn resolve(text: &str) -> Result<(String, SocketAddr), String> {
    let bad = || "not HOST:PORT:ADDR; write it like example.com:443:127.0.0.1".to_string();
    let mut parts = text.splitn(3, ':');
    let host = parts.next().filter(|h| !h.is_empty()).ok_or_else(bad)?;
    let port: u16 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let addr: IpAddr = parts
        .next()
        .map(|a| a.trim_matches(|c| c == '[' || c == ']'))
        .and_then(|a| a.parse().ok())
        .ok_or_else(bad)?;
    Ok((host.to_string(), SocketAddr::new(addr, port)))
}

/// `-a USER:PASS` (no `:`: the user alone, with an empty password).
fn basic_auth(text: &str) -> Result<Auth, String> {
    let (user, password) = split_user_pass(text);
    Ok(Auth::Basic {
        user: user.to_string(),
        password: password.map(str::to_string),
    })
}

/// `--bearer TOKEN`: refused when it cannot travel in a header.
fn bearer(text: &str) -> Result<Auth, String> {
    let auth = Auth::Bearer(text.to_string());
    auth.header_value()
        .map_err(|_| "the token has characters a header cannot carry".to_string())?;
    Ok(auth)
}

/// `--http-version 1.1|2|2-prior-knowledge`.
fn http_version() -> impl TypedValueParser<Value = HttpVersion> {
    PossibleValuesParser::new(["1.1", "2", "2-prior-knowledge"]).map(|s| match s.as_str() {
        "1.1" => HttpVersion::Http11,
        "2" => HttpVersion::Http2,
        _ => HttpVersion::Http2PriorKnowledge,
    })
}

/// `--pretty all|colors|format|none`.
fn pretty() -> impl TypedValueParser<Value = Pretty> {
    PossibleValuesParser::new([
        PossibleValue::new("all").help("Indent and colour"),
        PossibleValue::new("colors").help("Colour only"),
        PossibleValue::new("format").help("Indent only"),
        PossibleValue::new("none").help("Neither: bytes as received"),
    ])
    .map(|s| match s.as_str() {
        "all" => Pretty::All,
        "colors" => Pretty::Colors,
        "format" => Pretty::Format,
        _ => Pretty::None,
    })
}

/// `-p HBhbm`.
fn print_spec(text: &str) -> Result<Parts, String> {
    Parts::parse(text)
}

/// Flags every HTTP client command shares: timeouts, retries, redirects, TLS, proxies.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Give up on the whole request (connect, send, receive) after this long: 30s, 500ms.
    #[arg(long, value_name = "DURATION", value_parser = time_limit)]
    pub timeout: Option<Duration>,
    /// Give up on connecting after this long.
    #[arg(long, value_name = "DURATION", value_parser = time_limit)]
    pub connect_timeout: Option<Duration>,
    /// Retry up to N times on connection errors, timeouts, 408, 429 and 5xx, with exponential
    /// backoff and jitter; a Retry-After header sets the wait.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retry: u32,
    /// First wait between retries; it doubles on each retry.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "1s")]
    pub retry_delay: Duration,
    /// Stop retrying once this much time has passed since the first attempt.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub retry_max_time: Option<Duration>,
    /// Retry non-idempotent methods (POST, PATCH) too.
    #[arg(long)]
    pub retry_all: bool,
    /// Follow redirects.
    #[arg(short = 'F', long)]
    pub follow: bool,
    /// Most redirects to follow with --follow.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_redirects: usize,
    /// HTTP version: 1.1, 2 (negotiated with ALPN over TLS; plain http stays 1.1), or
    /// 2-prior-knowledge (HTTP/2 from the first byte, also h2c on plain http).
    #[arg(long, value_name = "VERSION", value_parser = http_version())]
    pub http_version: Option<HttpVersion>,
    /// Basic authentication: USER:PASS.
    #[arg(short = 'a', long, value_name = "USER:PASS", value_parser = basic_auth)]
    pub auth: Option<Auth>,
    /// Bearer token authentication.
    #[arg(long, value_name = "TOKEN", conflicts_with = "auth", value_parser = bearer)]
    pub bearer: Option<Auth>,
    /// Certificate checks: yes (default; the bundled Mozilla roots), no, or a PEM file of CA
    /// certificates to trust as well.
    #[arg(long, value_name = "yes|no|CAFILE", default_value = "yes", value_parser = verify)]
    pub verify: Verify,
    /// Accept exactly the server certificate with this SHA-256 fingerprint (sha256:HEX, colons
    /// allowed) instead of checking its issuer; its dates and name are still checked.
    #[arg(long, value_name = "sha256:HEX", value_parser = wirekit::tls::Pin::parse)]
    pub pin: Option<wirekit::tls::Pin>,
    /// Client certificate (PEM) for TLS client authentication.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert, when it is not in the same file.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub cert_key: Option<PathBuf>,
    /// Proxy: URL for every scheme, or PROTOCOL:URL (http:..., https:...). Repeatable.
    /// HTTP_PROXY, HTTPS_PROXY and NO_PROXY are honoured when no --proxy is given.
    #[arg(long, value_name = "[PROTOCOL:]URL", value_parser = proxy)]
    pub proxy: Vec<Proxy>,
    /// Connect to ADDR for HOST, skipping DNS: HOST:PORT:ADDR, as curl --resolve. Repeatable.
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = resolve)]
    pub resolve: Vec<(String, SocketAddr)>,
}

impl ClientArgs {
    /// The client library's options for these flags.
    pub fn options(&self) -> ClientOptions {
        ClientOptions {
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            follow: self.follow,
            max_redirects: self.max_redirects,
            http_version: self.http_version,
            auth: self.auth.clone().or_else(|| self.bearer.clone()),
            verify: self.verify.clone(),
            pin: self.pin,
            cert: self.cert.clone(),
            cert_key: self.cert_key.clone(),
            proxies: self.proxy.clone(),
            resolve: self.resolve.clone(),
            retry: RetryPolicy {
                retries: self.retry,
                delay: self.retry_delay,
                max_time: self.retry_max_time,
                retry_all: self.retry_all,
            },
        }
    }
}

/// Send one HTTP request and print the exchange, as xh and HTTPie do.
#[derive(Debug, Args)]
#[command(after_help = "\
Request items:
  key=value        JSON string field (form field with -f)
  key:=json        raw JSON field: num:=42 list:='[1,2]'
  key==value       URL query parameter
  Name:value       request header;  Name:  removes a default header;  Name;  sends it empty
  field@path       file upload (multipart); field@path;type=MIME sets its type
  key=@file        string field read from a file;  key:=@file.json  JSON read from a file
  a[b][0]=x        nested JSON: {\"a\":{\"b\":[\"x\"]}};  a[]=x appends
URL shortcuts: :8000/x is http://localhost:8000/x; the scheme defaults to http.
-v (global) prints the whole exchange (-p HBhb).
Exit codes: 0 success, 1 failure at run time, 2 bad usage; with --check-status 3, 4, 5 for a 3xx, 4xx, 5xx answer.")]
pub struct HttpArgs {
    /// [METHOD] URL [ITEM...]: the method defaults to GET, or POST when there is a body.
    #[arg(value_name = "[METHOD] URL [ITEM]", required = true, num_args = 1..)]
    pub args: Vec<String>,
    /// Send data items as a form (application/x-www-form-urlencoded; multipart with files).
    #[arg(short = 'f', long)]
    pub form: bool,
    /// Send data items as multipart/form-data.
    #[arg(long)]
    pub multipart: bool,
    /// Send BODY as it is (Content-Type application/json unless given).
    #[arg(long, value_name = "BODY")]
    pub raw: Option<String>,
    /// Do not read a request body from stdin.
    #[arg(short = 'I', long)]
    pub ignore_stdin: bool,
    /// What to print: H request headers, B request body, h response headers, b response body,
    /// m meta (timings, sizes, attempts). Default hb on a terminal, b when piped.
    #[arg(short = 'p', long = "print", value_name = "HBhbm", value_parser = print_spec)]
    pub print: Option<Parts>,
    /// Print only the response body (-p b).
    #[arg(short = 'b', long = "body")]
    pub body_only: bool,
    /// Print only the response headers (-p h).
    #[arg(long = "headers")]
    pub headers_only: bool,
    /// Formatting: indented JSON and colour. Default all on a terminal, none when piped.
    #[arg(long, value_parser = pretty())]
    pub pretty: Option<Pretty>,
    /// Exit 3, 4 or 5 on a 3xx, 4xx or 5xx answer.
    #[arg(long)]
    pub check_status: bool,
    /// Save the response body to a file (named by -o, Content-Disposition or the URL).
    #[arg(short = 'd', long)]
    pub download: bool,
    /// Save the response body to FILE (implies --download).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Resume an interrupted download (Range request), appending to what was saved.
    #[arg(short = 'c', long = "continue")]
    pub resume: bool,
    /// Print the request instead of sending it.
    #[arg(long)]
    pub offline: bool,
    /// Print the equivalent curl command line instead of sending the request.
    #[arg(long)]
    pub curl: bool,
    /// Timeouts, retries, redirects, TLS and proxies.
    #[command(flatten)]
    pub client: ClientArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_and_proxy_flags() {
        assert!(resolve("a.test:80:127.0.0.1").is_ok());
        assert_eq!(
            resolve("a.test:80:[::1]").ok().map(|(_, a)| a.to_string()),
            Some("[::1]:80".to_string())
        );
        assert!(resolve("a.test:80").unwrap_err().contains("HOST:PORT:ADDR"));
        assert_eq!(
            proxy("http:http://127.0.0.1:3128")
                .ok()
                .and_then(|p| p.scheme),
            Some(ProxyScheme::Http)
        );
        assert_eq!(
            proxy("http://127.0.0.1:3128").ok().map(|p| p.scheme),
            Some(None)
        );
    }

    #[test]
    fn verify_and_auth_flags() {
        assert_eq!(verify("true"), Ok(Verify::Yes));
        assert_eq!(verify("no"), Ok(Verify::No));
        assert_eq!(verify("ca.pem"), Ok(Verify::CaFile("ca.pem".into())));
        assert_eq!(
            basic_auth("ann:pw:x"),
            Ok(Auth::Basic {
                user: "ann".into(),
                password: Some("pw:x".into())
            })
        );
        assert!(bearer("a\nb").is_err());
        assert!(print_spec("Hz").unwrap_err().contains("'z'"));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// The time limits take what parse_duration takes, except 0; never a panic.
            #[test]
            fn time_limits_are_positive_and_bounded(secs in proptest::num::f64::ANY) {
                let text = secs.to_string();
                let got = time_limit(&text);
                let fine = secs.is_finite()
                    && secs >= 0.0
                    && secs <= wirekit::units::MAX_DURATION.as_secs_f64();
                match got {
                    Ok(d) => prop_assert!(fine && !d.is_zero() && d <= wirekit::units::MAX_DURATION),
                    Err(e) => {
                        prop_assert!(!fine || Duration::try_from_secs_f64(secs).is_ok_and(|d| d.is_zero()));
                        prop_assert!(e.contains(&format!("'{text}'")), "{}", e);
                    }
                }
            }

            #[test]
            fn small_time_limits(ms in 0u64..100_000) {
                let got = time_limit(&format!("{ms}ms"));
                prop_assert_eq!(got.ok(), (ms > 0).then(|| Duration::from_millis(ms)));
            }

            #[test]
            fn duration_flags_never_panic(text in "\\PC{0,24}") {
                let _ = time_limit(&text);
                let _ = duration(&text);
            }
        }
    }
}
