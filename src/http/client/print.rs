//! Printing an HTTP exchange as xh and HTTPie do: request and response heads, bodies with
//! indented, coloured JSON on a terminal, bytes unchanged otherwise.

use crate::http::client::errors::{Target, describe_error, status_text};
use anyhow::{Result, anyhow};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderMap};
use reqwest::{Request, Response, Version};
use std::io::{self, Write};

/// Which parts of the exchange to print (`-p HBhbm`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parts {
    /// `H`: the request line and headers.
    pub req_head: bool,
    /// `B`: the request body.
    pub req_body: bool,
    /// `h`: the status line and response headers.
    pub resp_head: bool,
    /// `b`: the response body.
    pub resp_body: bool,
    /// `m`: timings, sizes, attempts, remote address.
    pub meta: bool,
}

impl Parts {
    /// The spec `-p` takes: letters of `HBhbm`; the error names the letter that is not one.
    pub fn parse(spec: &str) -> Result<Parts, String> {
        let mut p = Parts::default();
        for c in spec.chars() {
            match c {
                'H' => p.req_head = true,
                'B' => p.req_body = true,
                'h' => p.resp_head = true,
                'b' => p.resp_body = true,
                'm' => p.meta = true,
                _ => {
                    return Err(format!(
                        "'{c}' is not one of H (request headers), B (request body), \
                         h (response headers), b (response body), m (meta)"
                    ));
                }
            }
        }
        Ok(p)
    }
}

const RESET: &str = "\x1b[0m";
const BLUE: &str = "\x1b[34m";
const CYAN: &str = "\x1b[36m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const MAGENTA: &str = "\x1b[35m";
const BOLD_BLUE: &str = "\x1b[1;34m";

/// Formatting of bodies (`--pretty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pretty {
    /// Indent and colour.
    All,
    /// Colour only.
    Colors,
    /// Indent only.
    Format,
    /// Neither: bytes as received.
    None,
}

impl Pretty {
    /// Whether JSON is indented.
    pub fn indents(self) -> bool {
        matches!(self, Pretty::All | Pretty::Format)
    }

    /// Whether colours are wanted (the terminal and `--color` may still say no).
    pub fn colours(self) -> bool {
        matches!(self, Pretty::All | Pretty::Colors)
    }
}

/// How to print; `Default`: plain bytes, as for a pipe.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    /// ANSI colours.
    pub colors: bool,
    /// Indent JSON.
    pub format: bool,
    /// stdout is a terminal (binary bodies are not dumped on it).
    pub terminal: bool,
}

fn version_text(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        let ct = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        ct == "application/json" || ct.ends_with("+json") || ct == "text/json"
    })
}

impl Printer {
    fn paint(&self, out: &mut impl Write, color: &str, text: &str) -> io::Result<()> {
        if self.colors {
            write!(out, "{color}{text}{RESET}")
        } else {
            out.write_all(text.as_bytes())
        }
    }

    fn headers(&self, out: &mut impl Write, headers: &HeaderMap) -> io::Result<()> {
        for (name, value) in headers {
            self.paint(out, CYAN, &title_case(name.as_str()))?;
            out.write_all(b": ")?;
            out.write_all(value.as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// The request as it goes on the wire: request line, headers (with Host and
    /// Content-Length), then the body if asked.
    pub fn request(&self, out: &mut impl Write, req: &Request, parts: Parts) -> Result<()> {
        let url = req.url();
        let body = req.body().and_then(|b| b.as_bytes());
        if parts.req_head {
            let mut target = url.path().to_string();
            if let Some(q) = url.query() {
                target.push('?');
                target.push_str(q);
            }
            self.paint(out, GREEN, req.method().as_str())?;
            out.write_all(b" ")?;
            self.paint(out, CYAN, &target)?;
            out.write_all(b" ")?;
            self.paint(out, BLUE, version_text(req.version()))?;
            out.write_all(b"\n")?;
            let mut h = req.headers().clone();
            if !h.contains_key(HOST) {
                let host = match url.port() {
                    Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
                    None => url.host_str().unwrap_or("").to_string(),
                };
                if let Ok(v) = host.parse() {
                    h.insert(HOST, v);
                }
            }
            if let Some(b) = body
                && !h.contains_key(CONTENT_LENGTH)
            {
                h.insert(CONTENT_LENGTH, b.len().into());
            }
            self.headers(out, &h)?;
        }
        if parts.req_body
            && let Some(b) = body
        {
            if parts.req_head {
                out.write_all(b"\n")?;
            }
            let ct = req
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            self.body(out, b, ct)?;
        }
        Ok(())
    }

    /// The status line and headers of a response.
    pub fn response_head(&self, out: &mut impl Write, resp: &Response) -> Result<()> {
        let status = resp.status();
        let color = if status.is_success() {
            GREEN
        } else if status.is_redirection() || status.is_informational() {
            YELLOW
        } else {
            RED
        };
        self.paint(out, BLUE, version_text(resp.version()))?;
        out.write_all(b" ")?;
        let text = status_text(status);
        self.paint(out, color, &text)?;
        out.write_all(b"\n")?;
        self.headers(out, resp.headers())?;
        Ok(())
    }

    /// A whole body held in memory (request bodies, and JSON to reformat).
    pub fn body(
        &self,
        out: &mut impl Write,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<()> {
        if self.terminal && looks_binary(body) {
            out.write_all(BINARY_NOTE.as_bytes())?;
            return Ok(());
        }
        if (self.format || self.colors)
            && is_json(content_type)
            && let Ok(text) = std::str::from_utf8(body)
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
        {
            let pretty = render_json(text, self.format, self.colors);
            out.write_all(pretty.as_bytes())?;
            out.write_all(b"\n")?;
            return Ok(());
        }
        out.write_all(body)?;
        if self.terminal && !body.ends_with(b"\n") && !body.is_empty() {
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Print a response body as it arrives; JSON to reformat is collected first.
    /// Returns the number of body bytes received; a broken body is an error naming `target`.
    pub async fn response_body(
        &self,
        out: &mut impl Write,
        mut resp: Response,
        target: &Target,
    ) -> Result<u64> {
        let ct = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let reformat = (self.format || self.colors) && is_json(ct.as_deref());
        let mut total = 0u64;
        let mut held: Vec<u8> = Vec::new();
        let mut binary_noted = false;
        let mut last_newline = true;
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    let _ = out.flush();
                    return Err(anyhow!(describe_error(&e, target)));
                }
            };
            total += chunk.len() as u64;
            if reformat {
                held.extend_from_slice(&chunk);
                continue;
            }
            if binary_noted {
                continue;
            }
            if self.terminal && looks_binary(&chunk) {
                write_or_pipe(out, BINARY_NOTE.as_bytes())?;
                binary_noted = true;
                continue;
            }
            write_or_pipe(out, &chunk)?;
            last_newline = chunk.ends_with(b"\n");
            if out.flush().is_err() {
                // stdout closed (e.g. `| head`): nothing more to show.
                return Ok(total);
            }
        }
        if reformat {
            self.body(out, &held, ct.as_deref())?;
        } else if self.terminal && !last_newline && !binary_noted {
            write_or_pipe(out, b"\n")?;
        }
        Ok(total)
    }
}

fn write_or_pipe(out: &mut impl Write, data: &[u8]) -> Result<()> {
    match out.write_all(data) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow!("cannot write to stdout: {e}")),
    }
}

const BINARY_NOTE: &str = "+-----------------------------------------+\n\
| NOTE: binary data not shown in terminal |\n\
+-----------------------------------------+\n";

fn looks_binary(data: &[u8]) -> bool {
    data.contains(&0)
}

/// `content-type` → `Content-Type`, as HTTP/1.1 peers usually write them.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut up = true;
    for c in name.chars() {
        if up {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        up = c == '-';
    }
    out
}

/// Re-indent (4 spaces) and/or colour valid JSON text, keeping key order and number spelling.
/// Our own because serde_json's pretty printer neither colours nor keeps number spelling
/// (`1.0e3` would become `1000.0`).
pub(crate) fn render_json(text: &str, indent: bool, colors: bool) -> String {
    let mut r = JsonRender {
        out: String::with_capacity(text.len() * 2),
        depth: 0,
        indent,
        colors,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                let end = string_end(&chars, i);
                let s: String = chars[i..end].iter().collect();
                // A key is a string followed by ':'.
                let is_key = next_non_space(&chars, end).is_some_and(|j| chars[j] == ':');
                r.paint(if is_key { BOLD_BLUE } else { GREEN }, &s);
                i = end;
                continue;
            }
            '{' | '[' => {
                // Empty containers stay on one line.
                let close = if c == '{' { '}' } else { ']' };
                if let Some(j) = next_non_space(&chars, i + 1).filter(|&j| chars[j] == close) {
                    r.out.push(c);
                    r.out.push(close);
                    i = j + 1;
                    continue;
                }
                r.out.push(c);
                r.depth += 1;
                r.newline();
            }
            '}' | ']' => {
                r.depth = r.depth.saturating_sub(1);
                r.newline();
                r.out.push(c);
            }
            ',' => {
                r.out.push(',');
                r.newline();
            }
            ':' => {
                r.out.push(':');
                if indent {
                    r.out.push(' ');
                }
            }
            c if c.is_whitespace() => {}
            _ => {
                let start = i;
                while i < chars.len() && !",:{}[]\" \t\r\n".contains(chars[i]) {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                let color = match s.as_str() {
                    "true" | "false" => MAGENTA,
                    "null" => YELLOW,
                    _ => CYAN,
                };
                r.paint(color, &s);
                continue;
            }
        }
        i += 1;
    }
    r.out
}

/// The output of [`render_json`] as it grows.
struct JsonRender {
    out: String,
    depth: usize,
    indent: bool,
    colors: bool,
}

impl JsonRender {
    fn newline(&mut self) {
        if self.indent {
            self.out.push('\n');
            for _ in 0..self.depth {
                self.out.push_str("    ");
            }
        }
    }

    fn paint(&mut self, color: &str, s: &str) {
        if self.colors {
            self.out.push_str(color);
            self.out.push_str(s);
            self.out.push_str(RESET);
        } else {
            self.out.push_str(s);
        }
    }
}

/// Just past the closing quote of the string that opens at `start`.
fn string_end(chars: &[char], start: usize) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] == '"' {
            break;
        }
        i += 1;
    }
    (i + 1).min(chars.len())
}

/// The first non-whitespace position from `from`.
fn next_non_space(chars: &[char], from: usize) -> Option<usize> {
    (from..chars.len()).find(|&j| !chars[j].is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rendering() {
        let text = r#"{"b":1,"a":[true,null,"x, y"],"e":{}}"#;
        assert_eq!(
            render_json(text, true, false),
            "{\n    \"b\": 1,\n    \"a\": [\n        true,\n        null,\n        \"x, y\"\n    ],\n    \"e\": {}\n}"
        );
        assert_eq!(render_json(text, false, false), text);
        assert!(render_json(text, false, true).contains("\x1b[1;34m\"b\"\x1b[0m"));
    }

    #[test]
    fn parts() {
        let p = Parts::parse("Hb").expect("parts");
        assert!(p.req_head && p.resp_body && !p.req_body);
        assert!(Parts::parse("x").is_err());
        assert_eq!(title_case("content-type"), "Content-Type");
    }
}
