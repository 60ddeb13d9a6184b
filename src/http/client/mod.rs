//! `wirekit http`: build the request from the URL and items, send it (with retries),
//! print the exchange or save the body. Also the client builder and error wording that
//! `fetch` shares.

pub mod download;
pub mod fetch;
pub mod items;
pub mod print;
pub mod retry;

use crate::cli::{ClientArgs, GlobalArgs, HttpArgs, HttpVersion, Pretty};
use crate::error::{exit_with, usage};
use crate::http::client::print::{Parts, Printer};
use anyhow::{Context, Result, anyhow};
use items::Item;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::{Client, Method, Request, Url};
use retry::RetryPolicy;
use std::io::{IsTerminal, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// The User-Agent every wirekit client request carries unless told otherwise.
pub const USER_AGENT_VALUE: &str = concat!("wirekit/", env!("CARGO_PKG_VERSION"));

/// Turn what a user typed into a URL: `:8000/x` is `http://localhost:8000/x`,
/// `example.com` is `http://example.com/`.
pub fn normalize_url(text: &str) -> Result<Url> {
    let t = text.trim();
    let full = if let Some(rest) = t.strip_prefix(':') {
        // :8000/x, :/x, :
        let (port, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if port.is_empty() {
            format!("http://localhost{path}")
        } else {
            format!("http://localhost:{port}{path}")
        }
    } else if t.contains("://") {
        t.to_string()
    } else {
        format!("http://{t}")
    };
    let url = Url::parse(&full).map_err(|e| {
        usage(format!(
            "'{text}' is not a valid URL ({e}); write it like http://host:8080/path or :8080/path"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(usage(format!(
            "'{text}': scheme '{}' is not supported; use http:// or https://",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(usage(format!(
            "'{text}' has no host; write it like http://host/path"
        )));
    }
    Ok(url)
}

fn parse_proxy(text: &str) -> Result<reqwest::Proxy> {
    let bad = |e: String| {
        usage(format!(
            "--proxy '{text}': {e}; write it like http://127.0.0.1:3128 or https:http://127.0.0.1:3128"
        ))
    };
    let (scheme, url) = match text.split_once(':') {
        Some((s, rest)) if matches!(s, "http" | "https" | "all") && rest.contains("://") => {
            (s, rest)
        }
        _ => ("all", text),
    };
    let proxy = match scheme {
        "http" => reqwest::Proxy::http(url),
        "https" => reqwest::Proxy::https(url),
        _ => reqwest::Proxy::all(url),
    };
    proxy.map_err(|e| bad(e.to_string()))
}

fn parse_resolve(text: &str) -> Result<(String, SocketAddr)> {
    let bad = || {
        usage(format!(
            "--resolve '{text}' is not HOST:PORT:ADDR; write it like example.com:443:127.0.0.1"
        ))
    };
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

fn read_flag_file(flag: &str, path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        usage(format!(
            "{flag}: cannot read '{}': {}",
            path.display(),
            items::io_reason(&e)
        ))
    })
}

/// The rustls client config of the shared TLS module (ring, TLS 1.2/1.3, bundled Mozilla
/// roots plus `--verify CAFILE`, `--cert`/`--cert-key`), with ALPN for the HTTP version.
fn tls_config(
    verify: &str,
    cert: Option<&std::path::Path>,
    cert_key: Option<&std::path::Path>,
    version: Option<HttpVersion>,
) -> Result<rustls::ClientConfig> {
    let (cacert, insecure) = match verify {
        "yes" | "true" => (None, false),
        "no" | "false" => (None, true),
        path => {
            // Unreadable or empty files are bad usage (exit 2), named with the flag.
            let pem = read_flag_file("--verify", std::path::Path::new(path))?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(usage(format!(
                    "--verify: '{path}' holds no PEM certificates; give a CA file, yes or no"
                )));
            }
            (Some(std::path::PathBuf::from(path)), false)
        }
    };
    if let Some(c) = cert {
        read_flag_file("--cert", c)?;
    }
    if let Some(k) = cert_key {
        read_flag_file("--cert-key", k)?;
    }
    let alpn: &[&str] = match version {
        Some(HttpVersion::Http11) => &["http/1.1"],
        Some(HttpVersion::Http2PriorKnowledge) => &["h2"],
        Some(HttpVersion::Http2) | None => &["h2", "http/1.1"],
    };
    let tls_args = crate::tls::TlsClientOptions {
        cacert,
        insecure,
        sni: None,
        alpn: Vec::new(),
        cert: cert.map(std::path::Path::to_path_buf),
        // A key in the certificate's own file is found there.
        key: cert.map(|c| cert_key.unwrap_or(c).to_path_buf()),
    };
    let config = crate::tls::client_config_for(&tls_args, alpn)?;
    Ok((*config).clone())
}

/// A pooled client with wirekit's defaults (ring crypto provider, no redirects followed),
/// for library users of [`crate::http::client::fetch::fetch_all`].
pub fn default_client() -> Result<Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .tls_backend_preconfigured(tls_config("yes", None, None, None)?)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| anyhow!("cannot set up the HTTP client: {}", chain_text(&e)))
}

/// Build the pooled client from the shared flags. `idle_per_host` bounds idle pooled
/// connections per host (fetch sets it to its concurrency).
pub fn build_client(args: &ClientArgs, idle_per_host: Option<usize>) -> Result<Client> {
    // One crypto provider for the process: ring (no aws-lc-rs, no cmake). Installing it a
    // second time fails harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = Client::builder()
        .tcp_nodelay(true)
        .redirect(if args.follow {
            reqwest::redirect::Policy::limited(args.max_redirects)
        } else {
            reqwest::redirect::Policy::none()
        });
    if let Some(n) = idle_per_host {
        b = b.pool_max_idle_per_host(n);
    }
    if let Some(t) = args.timeout {
        b = b.timeout(t);
    }
    if let Some(t) = args.connect_timeout {
        b = b.connect_timeout(t);
    }
    match args.http_version {
        Some(HttpVersion::Http11) => b = b.http1_only(),
        Some(HttpVersion::Http2PriorKnowledge) => b = b.http2_prior_knowledge(),
        Some(HttpVersion::Http2) | None => {}
    }
    b = b.tls_backend_preconfigured(tls_config(
        &args.verify,
        args.cert.as_deref(),
        args.cert_key.as_deref(),
        args.http_version,
    )?);
    for p in &args.proxy {
        b = b.proxy(parse_proxy(p)?);
    }
    for r in &args.resolve {
        let (host, addr) = parse_resolve(r)?;
        b = b.resolve(&host, addr);
    }
    b.build()
        .map_err(|e| anyhow!("cannot set up the HTTP client: {}", chain_text(&e)))
}

/// Every message in an error's chain, each once, joined with ": ".
pub fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let t = err.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = err.source();
    }
    parts.join(": ")
}

fn io_kind(e: &reqwest::Error) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

/// A one-line explanation of a failed request that names the host and suggests the fix.
pub fn describe_error(e: &reqwest::Error) -> String {
    let (host, hostport) = match e.url() {
        Some(u) => {
            let h = u.host_str().unwrap_or("?").to_string();
            let hp = match u.port_or_known_default() {
                Some(p) => format!("{h}:{p}"),
                None => h.clone(),
            };
            (h, hp)
        }
        None => ("?".to_string(), "?".to_string()),
    };
    let text = chain_text(e);
    let lower = text.to_lowercase();
    if e.is_timeout() {
        return format!("request to {hostport} timed out (raise --timeout or --connect-timeout)");
    }
    if e.is_redirect() {
        return format!("too many redirects from {hostport} (raise --max-redirects): {text}");
    }
    if lower.contains("dns error") || lower.contains("failed to lookup address") {
        return format!("cannot resolve host '{host}': check the name (or map it with --resolve)");
    }
    match io_kind(e) {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            return format!("connection to {hostport} refused: is a server listening there?");
        }
        Some(std::io::ErrorKind::ConnectionReset) => {
            return format!("connection to {hostport} was reset by the server");
        }
        _ => {}
    }
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        let last = text.rsplit(": ").next().unwrap_or(text.as_str());
        let inner = if last.contains("UnknownIssuer") {
            "its certificate is signed by an unknown CA (UnknownIssuer)".to_string()
        } else if last.contains("NotValidForName") {
            format!("its certificate is not valid for the name '{host}' (NotValidForName)")
        } else if last.contains("Expired") {
            "its certificate has expired (Expired)".to_string()
        } else {
            last.to_string()
        };
        return format!(
            "TLS with {hostport} failed: {inner}; trust its CA with --verify CAFILE, or skip checks with --verify no"
        );
    }
    if e.is_body() || e.is_decode() {
        return format!("{hostport} broke off the response body: {text}");
    }
    format!("request to {hostport} failed: {text}")
}

/// Split `[METHOD] URL [ITEM...]`.
fn split_args(args: &[String]) -> (Option<Method>, &str, &[String]) {
    const KNOWN: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
    ];
    if args.len() >= 2 {
        let first = &args[0];
        let upper = first.to_ascii_uppercase();
        let looks = !first.is_empty()
            && first.chars().all(|c| c.is_ascii_alphabetic())
            && (first.chars().all(|c| c.is_ascii_uppercase()) || KNOWN.contains(&upper.as_str()));
        if looks && let Ok(m) = Method::from_bytes(upper.as_bytes()) {
            return (Some(m), &args[1], &args[2..]);
        }
    }
    (None, &args[0], &args[1..])
}

/// A request ready to send, plus what it was made from (for --curl and printing).
pub struct Prepared {
    pub request: Request,
    pub items: Vec<(String, Item)>,
    pub body_kind: BodyKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    None,
    Json,
    Form,
    Multipart,
    Raw,
}

/// Build the request from the arguments (no network).
pub fn prepare(args: &HttpArgs, client: &Client) -> Result<Prepared> {
    let (method, url_text, rest) = split_args(&args.args);
    let mut url = normalize_url(url_text)?;
    let mut parsed = Vec::with_capacity(rest.len());
    for text in rest {
        parsed.push((text.clone(), items::parse_item(text)?));
    }
    let has_data = parsed.iter().any(|(_, i)| i.is_data());
    let has_files = parsed.iter().any(|(_, i)| matches!(i, Item::File { .. }));
    if args.raw.is_some() && has_data {
        return Err(usage(
            "--raw gives the whole body, so data items (key=value, key:=json, field@file) cannot be added; drop one",
        ));
    }
    let queries: Vec<(&str, &str)> = parsed
        .iter()
        .filter_map(|(_, i)| match i {
            Item::Query(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
        .collect();
    if !queries.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in queries {
            q.append_pair(k, v);
        }
    }

    // The body.
    let mut content_type: Option<String> = None;
    let (body, kind): (Option<Vec<u8>>, BodyKind) = if let Some(raw) = &args.raw {
        (Some(raw.clone().into_bytes()), BodyKind::Raw)
    } else if args.multipart || has_files {
        let (b, boundary) = items::multipart_body(&parsed)?;
        content_type = Some(format!("multipart/form-data; boundary={boundary}"));
        (Some(b), BodyKind::Multipart)
    } else if has_data && args.form {
        content_type = Some("application/x-www-form-urlencoded; charset=utf-8".into());
        (Some(items::form_body(&parsed).into_bytes()), BodyKind::Form)
    } else if has_data {
        content_type = Some("application/json".into());
        (
            Some(items::json_body(&parsed)?.into_bytes()),
            BodyKind::Json,
        )
    } else if !args.ignore_stdin && !std::io::stdin().is_terminal() {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read the request body from stdin (use -I to ignore stdin)")?;
        if buf.is_empty() {
            (None, BodyKind::None)
        } else {
            (Some(buf), BodyKind::Raw)
        }
    } else {
        (None, BodyKind::None)
    };
    if kind == BodyKind::Raw {
        content_type = Some(if args.form {
            "application/x-www-form-urlencoded; charset=utf-8".into()
        } else {
            "application/json".into()
        });
    }
    let method = method.unwrap_or(if body.is_some() {
        Method::POST
    } else {
        Method::GET
    });

    let mut rb = client.request(method, url);
    if let Some(auth) = &args.client.auth {
        let (user, pass) = match auth.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (auth.as_str(), None),
        };
        rb = rb.basic_auth(user, pass);
    }
    if let Some(token) = &args.client.bearer {
        rb = rb.bearer_auth(token);
    }
    if let Some(b) = body {
        rb = rb.body(b);
    }
    let mut request = rb
        .build()
        .map_err(|e| usage(format!("cannot build the request: {}", chain_text(&e))))?;

    // Default headers, then the user's header items in order.
    let h = request.headers_mut();
    h.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    h.insert(
        ACCEPT,
        HeaderValue::from_static(if kind == BodyKind::Json {
            "application/json, */*;q=0.5"
        } else {
            "*/*"
        }),
    );
    if let Some(ct) = content_type
        && let Ok(v) = HeaderValue::from_str(&ct)
    {
        h.insert(CONTENT_TYPE, v);
    }
    apply_header_items(h, &parsed)?;
    Ok(Prepared {
        request,
        items: parsed,
        body_kind: kind,
    })
}

fn apply_header_items(h: &mut HeaderMap, parsed: &[(String, Item)]) -> Result<()> {
    let mut seen: Vec<HeaderName> = Vec::new();
    for (text, item) in parsed {
        let name_of = |n: &str| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| {
                usage(format!(
                    "request item '{text}': '{n}' is not a valid header name"
                ))
            })
        };
        match item {
            Item::Header(n, v) => {
                let name = name_of(n)?;
                let value = HeaderValue::from_str(v).map_err(|_| {
                    usage(format!(
                        "request item '{text}': the header value has characters a header cannot carry"
                    ))
                })?;
                if seen.contains(&name) {
                    h.append(name, value);
                } else {
                    h.insert(name.clone(), value);
                    seen.push(name);
                }
            }
            Item::RemoveHeader(n) => {
                h.remove(name_of(n)?);
            }
            Item::EmptyHeader(n) => {
                let name = name_of(n)?;
                if seen.contains(&name) {
                    h.append(name, HeaderValue::from_static(""));
                } else {
                    h.insert(name.clone(), HeaderValue::from_static(""));
                    seen.push(name);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Which parts to print, from -p, -b, --headers, -v and whether stdout is a terminal.
fn print_parts(args: &HttpArgs, verbose: u8, tty: bool) -> Result<Parts> {
    let spec: String = if let Some(p) = &args.print {
        p.clone()
    } else if args.body_only {
        "b".into()
    } else if args.headers_only {
        "h".into()
    } else if verbose >= 2 {
        "HBhbm".into()
    } else if verbose == 1 {
        "HBhb".into()
    } else if args.offline {
        "HB".into()
    } else if tty {
        "hb".into()
    } else {
        "b".into()
    };
    Parts::parse(&spec)
}

/// The curl command line that sends the same request.
pub fn curl_command(p: &Prepared, args: &ClientArgs) -> String {
    let q = |s: &str| shell_words::quote(s).into_owned();
    let r = &p.request;
    let mut cmd = vec!["curl".to_string()];
    let implied = if p.body_kind == BodyKind::None {
        Method::GET
    } else {
        Method::POST
    };
    if r.method() != implied {
        cmd.push("-X".into());
        cmd.push(r.method().to_string());
    }
    cmd.push(q(r.url().as_str()));
    for (name, value) in r.headers() {
        if p.body_kind == BodyKind::Multipart && name == CONTENT_TYPE {
            continue;
        }
        let v = String::from_utf8_lossy(value.as_bytes());
        cmd.push("-H".into());
        cmd.push(if v.is_empty() {
            q(&format!("{name};"))
        } else {
            q(&format!("{name}: {v}"))
        });
    }
    match p.body_kind {
        BodyKind::Multipart => {
            for (_, item) in &p.items {
                match item {
                    Item::Text(k, v) | Item::Json(k, v) => {
                        cmd.push("--form-string".into());
                        cmd.push(q(&format!("{k}={v}")));
                    }
                    Item::File { field, path, mime } => {
                        let mut s = format!("{field}=@{}", path.display());
                        if let Some(m) = mime {
                            s.push_str(&format!(";type={m}"));
                        }
                        cmd.push("-F".into());
                        cmd.push(q(&s));
                    }
                    _ => {}
                }
            }
        }
        BodyKind::None => {}
        _ => {
            if let Some(b) = r.body().and_then(|b| b.as_bytes()) {
                cmd.push("--data-raw".into());
                cmd.push(q(&String::from_utf8_lossy(b)));
            }
        }
    }
    if args.follow {
        cmd.push("-L".into());
        cmd.push(format!("--max-redirs {}", args.max_redirects));
    }
    if let Some(t) = args.timeout {
        cmd.push(format!("--max-time {}", t.as_secs_f64()));
    }
    if let Some(t) = args.connect_timeout {
        cmd.push(format!("--connect-timeout {}", t.as_secs_f64()));
    }
    if args.retry > 0 {
        cmd.push(format!("--retry {}", args.retry));
        if args.retry_all {
            cmd.push("--retry-all-errors".into());
        }
    }
    match args.http_version {
        Some(HttpVersion::Http11) => cmd.push("--http1.1".into()),
        Some(HttpVersion::Http2) => cmd.push("--http2".into()),
        Some(HttpVersion::Http2PriorKnowledge) => cmd.push("--http2-prior-knowledge".into()),
        None => {}
    }
    match args.verify.as_str() {
        "yes" | "true" => {}
        "no" | "false" => cmd.push("--insecure".into()),
        path => cmd.push(format!("--cacert {}", q(path))),
    }
    if let Some(c) = &args.cert {
        cmd.push(format!("--cert {}", q(&c.to_string_lossy())));
    }
    if let Some(k) = &args.cert_key {
        cmd.push(format!("--key {}", q(&k.to_string_lossy())));
    }
    for p in &args.proxy {
        cmd.push(format!("--proxy {}", q(p)));
    }
    for r in &args.resolve {
        cmd.push(format!("--resolve {}", q(r)));
    }
    cmd.join(" ")
}

/// Run `wirekit http`.
pub async fn run(args: &HttpArgs, global: &GlobalArgs) -> Result<()> {
    let stdout_tty = std::io::stdout().is_terminal();
    let client = build_client(&args.client, None)?;
    let prepared = prepare(args, &client)?;
    if matches!(args.client.verify.as_str(), "no" | "false")
        && prepared.request.url().scheme() == "https"
        && !global.quiet
    {
        let host = prepared.request.url().host_str().unwrap_or("?").to_string();
        eprintln!(
            "wirekit: warning: --verify no: the certificate of {host} is NOT verified; \
             anyone on the path can read and change this connection"
        );
    }
    if args.curl {
        println!("{}", curl_command(&prepared, &args.client));
        return Ok(());
    }
    let downloading = args.download || args.output.is_some();
    if args.resume && !downloading {
        return Err(usage("--continue resumes a download; add -d or -o FILE"));
    }
    let parts = print_parts(args, global.verbose, stdout_tty)?;
    let pretty = args.pretty.unwrap_or(if stdout_tty {
        Pretty::All
    } else {
        Pretty::None
    });
    let explicit = args.pretty.is_some();
    let colors = matches!(pretty, Pretty::All | Pretty::Colors)
        && match global.color {
            crate::cli::ColorChoice::Never => false,
            crate::cli::ColorChoice::Always => true,
            crate::cli::ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none() && (stdout_tty || explicit)
            }
        };
    let printer = Printer {
        colors,
        format: matches!(pretty, Pretty::All | Pretty::Format),
        terminal: stdout_tty,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut written = false;
    if parts.req_head || parts.req_body {
        printer.request(&mut out, &prepared.request, parts)?;
        written = true;
    }
    if args.offline {
        out.write_all(b"\n").ok();
        out.flush().ok();
        return Ok(());
    }
    let policy = RetryPolicy::from_args(&args.client);
    if downloading {
        drop(out);
        return crate::http::client::download::run(
            &client,
            prepared.request,
            &policy,
            args,
            global,
            &printer,
            parts,
        )
        .await;
    }
    let started = Instant::now();
    let quiet = global.quiet;
    let sent = retry::send(&client, prepared.request, &policy, |ev| ev.announce(quiet)).await;
    let attempts = sent.attempts;
    let resp = sent.result.map_err(|e| anyhow!(describe_error(&e)))?;
    let headers_at = started.elapsed();
    let status = resp.status();
    if parts.resp_head {
        if written && parts.req_body {
            out.write_all(b"\n\n").ok();
        } else if written {
            out.write_all(b"\n").ok();
        }
        printer.response_head(&mut out, &resp)?;
        written = true;
    }
    let remote = resp.remote_addr();
    let mut body_bytes = 0u64;
    if parts.resp_body {
        if written && parts.resp_head {
            out.write_all(b"\n").ok();
        }
        body_bytes = printer.response_body(&mut out, resp).await?;
    } else {
        // Read the body anyway so that sizes and errors are known (and the connection reused).
        let mut resp = resp;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| anyhow!(describe_error(&e)))?
        {
            body_bytes += chunk.len() as u64;
        }
    }
    if parts.meta {
        let total = started.elapsed();
        let meta = format!(
            "\n\nElapsed time: {:.4}s\nTime to headers: {:.4}s\nAttempts: {attempts}\nResponse size: {body_bytes} B\nRemote address: {}\n",
            total.as_secs_f64(),
            headers_at.as_secs_f64(),
            remote.map(|a| a.to_string()).unwrap_or_else(|| "-".into())
        );
        out.write_all(meta.as_bytes()).ok();
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(anyhow!("cannot write to stdout: {e}"));
        }
        _ => {}
    }
    drop(out);
    if args.check_status {
        check_status(status)?;
    }
    Ok(())
}

/// --check-status: 3xx exits 3, 4xx exits 4, 5xx exits 5.
pub fn check_status(status: reqwest::StatusCode) -> Result<()> {
    let code = match status.as_u16() {
        300..=399 => 3,
        400..=499 => 4,
        500..=599 => 5,
        _ => return Ok(()),
    };
    Err(exit_with(
        code,
        format!("HTTP {}", retry::status_text(status)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_shortcuts() {
        let u = |s: &str| normalize_url(s).map(|u| u.to_string()).ok();
        assert_eq!(u(":8000/x").as_deref(), Some("http://localhost:8000/x"));
        assert_eq!(u(":/x").as_deref(), Some("http://localhost/x"));
        assert_eq!(u("example.com").as_deref(), Some("http://example.com/"));
        assert_eq!(u("https://a.b/c").as_deref(), Some("https://a.b/c"));
        assert!(normalize_url("http://").is_err());
        assert!(normalize_url("ftp://x").is_err());
        assert!(normalize_url("http://exa mple.com").is_err());
    }

    #[test]
    fn method_split() {
        let a: Vec<String> = ["POST", ":1/x", "a=1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(split_args(&a).0, Some(Method::POST));
        let a: Vec<String> = ["example.com", "a=1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(split_args(&a).0, None);
        let a: Vec<String> = ["localhost"].iter().map(|s| s.to_string()).collect();
        assert_eq!(split_args(&a).1, "localhost");
    }

    #[test]
    fn resolve_and_proxy_flags() {
        assert!(parse_resolve("a.test:80:127.0.0.1").is_ok());
        assert!(parse_resolve("a.test:80:[::1]").is_ok());
        assert!(parse_resolve("a.test:80").is_err());
        assert!(parse_proxy("http:http://127.0.0.1:3128").is_ok());
        assert!(parse_proxy("http://127.0.0.1:3128").is_ok());
    }
}
