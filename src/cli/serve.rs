//! `wirekit serve`: files and a mock API over HTTP/1.1 and h2c, or h2 over TLS.

use super::net::{DumpArgs, ListenArgs, TlsServerArgs};
use clap::Args;
use http::header::{HeaderName, HeaderValue};
use std::path::PathBuf;
use std::time::Duration;
use wirekit::http::header;
use wirekit::units::{parse_duration, parse_size};

const ROUTE_HELP: &str = "\
Routes (--route, repeatable; they win over files):
  'METHOD PATH [STATUS] [BODY]'
    METHOD  GET, POST, PUT, PATCH, DELETE, ... or * for any (GET routes also answer HEAD)
    PATH    /api/users/:id — a :name segment matches any one segment; a final * matches the rest
    STATUS  optional, 100-599 (default 200)
    BODY    the rest of the line, or @FILE to send a file's bytes; {{name}} is replaced by
            the :name segment. Content type: application/json when the body is JSON, else
            guessed from @FILE's extension, else text/plain.
  Examples:
    --route 'GET /api/data {\"message\": \"Hello, World!\"}'
    --route 'POST /create 201 {\"created\": true}'
    --route 'GET /users/:id {\"id\": \"{{id}}\"}'
    --route 'DELETE /users/:id 204'
    --route 'GET /report @report.csv'

--routes FILE: a JSON array (or {\"routes\": [...]}) of objects
    {\"method\": \"GET\", \"path\": \"/api/data\", \"status\": 200,
     \"body\": {\"message\": \"Hello\"} | \"text\",  (or \"file\": \"data.json\")
     \"headers\": {\"X-Demo\": \"1\"}, \"content_type\": \"application/json\"}
  or a .toml file of [[routes]] tables with the same keys:
    [[routes]]
    method = \"GET\"
    path = \"/api/data\"
    body = { message = \"Hello\" }

Examples:
  wirekit serve                         serve the current folder on http://127.0.0.1:8000
  wirekit serve site -p 8080 --spa      a single-page app with history routing
  wirekit serve --upload --auth me:secret   accept uploads behind Basic auth
  wirekit serve -b 0.0.0.0 --qr --upload --mkdir   share a folder with a phone
  wirekit serve --httpbin               httpbin-style endpoints for testing clients";

/// The flags of `wirekit serve`.
#[derive(Debug, Args)]
#[command(after_help = ROUTE_HELP)]
pub struct ServeArgs {
    /// Folder to serve.
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Port to listen on (0 picks a free one).
    #[arg(short, long, default_value_t = 8000)]
    pub port: u16,
    /// Address to bind: 127.0.0.1 (default, this machine only), 0.0.0.0 or :: for every interface.
    #[arg(short, long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: String,

    /// Never list folders (a folder without index.html answers 403).
    #[arg(long)]
    pub no_listing: bool,
    /// Serve and list dotfiles (hidden by default).
    #[arg(long)]
    pub hidden: bool,
    /// Follow symlinks that point outside DIR (refused by default).
    #[arg(long)]
    pub follow_symlinks: bool,
    /// No folder archives: the listing page's tar.gz and zip links go, and
    /// `?download=` answers 403.
    #[arg(long)]
    pub no_archives: bool,
    /// Print a QR code of the URL at start (to open it on a phone on the same
    /// network; with -b 0.0.0.0 it names this machine's LAN address), and show
    /// one on listing pages.
    #[arg(long)]
    pub qr: bool,
    /// Serve DIR/index.html for unknown paths a browser navigates to (no file
    /// extension, or Accept: text/html); missing assets stay 404 (single-page apps).
    #[arg(long)]
    pub spa: bool,

    /// A mock API route: 'METHOD PATH [STATUS] [BODY|@FILE]' (repeatable; see below).
    #[arg(long, value_name = "ROUTE")]
    pub route: Vec<String>,
    /// Read mock routes from a JSON or TOML file (see below).
    #[arg(long, value_name = "FILE")]
    pub routes: Option<PathBuf>,
    /// Answer httpbin-style endpoints (/get, /post, /status/:code, /delay/:s, /bytes/:n, ...).
    #[arg(long)]
    pub httpbin: bool,
    /// Mount the httpbin endpoints under this prefix, e.g. /httpbin.
    #[arg(long, value_name = "PREFIX", default_value = "", requires = "httpbin")]
    pub httpbin_prefix: String,

    /// Require HTTP Basic auth: USER:PASS, or USER:sha256:HEX (HEX = sha256 of the password).
    #[arg(long, value_name = "USER:PASS")]
    pub auth: Option<String>,
    /// Require `Authorization: Bearer TOKEN` (with --auth, either one is enough).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Accept uploads: PUT to a path, or a multipart POST (the listing page's form) to a folder.
    #[arg(long)]
    pub upload: bool,
    /// Largest request body accepted (413 beyond), e.g. 100M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1G")]
    pub max_body: u64,
    /// Let uploads replace existing files (409 Conflict otherwise).
    #[arg(long, requires = "upload")]
    pub overwrite: bool,
    /// Let the listing page create folders (a "Create folder" form).
    #[arg(long, requires = "upload")]
    pub mkdir: bool,

    /// Allow cross-origin requests from any origin (CORS headers and preflight answers),
    /// writes (POST, PUT, DELETE, PATCH) from other sites included; without it they get 403.
    #[arg(long)]
    pub cors: bool,
    /// When bound to loopback, also answer requests whose Host is NAME (repeatable;
    /// '*' for any). Only localhost, *.localhost, 127.0.0.0/8 and [::1] are answered
    /// otherwise (421), so a web page cannot reach the server by DNS rebinding.
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    /// Add a header to every response: 'Name: value' (repeatable).
    #[arg(long = "header", short = 'H', value_name = "HEADER", value_parser = header::line)]
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Cache-Control value for files, e.g. 'max-age=3600' or 'no-cache'.
    #[arg(long, value_name = "VALUE", value_parser = header_value)]
    pub cache_control: Option<HeaderValue>,
    /// Never compress responses (by default gzip, br or zstd as the client accepts).
    #[arg(long)]
    pub no_compress: bool,

    /// Close a connection whose request headers take longer than this (slowloris).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub header_timeout: Duration,
    /// Largest request head (request line + headers); 431 beyond. At least 8K.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16K")]
    pub max_header_size: u64,
    /// Most header fields in a request (HTTP/1.1 and HTTP/2); 431 beyond.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_headers: usize,
    /// No access log (it goes to stderr by default; -q also silences it).
    #[arg(long)]
    pub no_access_log: bool,

    /// The shared listener's flags.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// `--tls` and its certificate flags.
    #[command(flatten)]
    pub tls: TlsServerArgs,
    /// `--hex-dump`.
    #[command(flatten)]
    pub dump: DumpArgs,
}

/// A header value as typed, refused when it holds characters a header cannot carry.
fn header_value(text: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(text)
        .map_err(|_| format!("'{text}' has characters a header cannot carry"))
}
