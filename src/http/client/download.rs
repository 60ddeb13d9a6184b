//! `wirekit http -d/-o`: save a body to a file, atomically (written to `NAME.part`, renamed
//! when complete), with a progress bar on a terminal and `-c` to resume with a Range request.

use crate::cli::{GlobalArgs, HttpArgs};
use crate::error::{exit_with, usage};
use crate::http::client::describe_error;
use crate::http::client::print::{Parts, Printer};
use crate::http::client::retry::{self, RetryPolicy};
use anyhow::{Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_RANGE, CONTENT_TYPE, HeaderValue, RANGE};
use reqwest::{Client, Request, Response, StatusCode};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio::io::AsyncWriteExt;

/// Where an unfinished download is kept: `NAME.part` beside `NAME`.
pub fn part_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// A safe file name: the last path component, no leading dots, no control characters.
fn sanitize(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .to_string();
    if clean.is_empty() { None } else { Some(clean) }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// The file name a Content-Disposition header suggests (`filename*=` preferred).
pub fn disposition_name(value: &str) -> Option<String> {
    let mut plain = None;
    for part in value.split(';') {
        let part = part.trim();
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        if k == "filename*" {
            // UTF-8''name%20here
            let encoded = v.split("''").nth(1).unwrap_or(v);
            if let Some(n) = sanitize(&percent_decode(encoded.trim_matches('"'))) {
                return Some(n);
            }
        } else if k == "filename" {
            plain = sanitize(v.trim_matches('"'));
        }
    }
    plain
}

fn name_from_url(url: &reqwest::Url, content_type: Option<&str>) -> String {
    let seg = url
        .path_segments()
        .and_then(|mut s| s.rfind(|p| !p.is_empty()).map(str::to_string));
    let mut name = seg
        .and_then(|s| sanitize(&percent_decode(&s)))
        .unwrap_or_else(|| "index".to_string());
    if !name.contains('.') {
        let essence = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        let ext = match essence.as_deref() {
            Some("text/html") => Some("html"),
            Some("application/json") => Some("json"),
            Some("text/plain") => Some("txt"),
            Some("application/octet-stream") => None,
            Some(other) => {
                mime_guess::get_mime_extensions_str(other).and_then(|e| e.first().copied())
            }
            None => None,
        };
        if let Some(ext) = ext {
            name = format!("{name}.{ext}");
        }
    }
    name
}

/// `name`, or `name-1`, `name-2`... if taken.
fn unique(name: &str) -> PathBuf {
    let first = PathBuf::from(name);
    if !first.exists() && !part_path(&first).exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    for n in 1..10_000 {
        let p = PathBuf::from(format!("{stem}-{n}{ext}"));
        if !p.exists() && !part_path(&p).exists() {
            return p;
        }
    }
    first
}

/// The first byte a 206 answer starts at (`Content-Range: bytes 100-199/200`).
fn range_start(resp: &Response) -> Option<u64> {
    let v = resp.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let rest = v.trim().strip_prefix("bytes")?.trim();
    rest.split('-').next()?.trim().parse().ok()
}

/// Run a download: the request is already built; `-o`, `-c` and printing come from `args`.
pub async fn run(
    client: &Client,
    mut request: Request,
    policy: &RetryPolicy,
    args: &HttpArgs,
    global: &GlobalArgs,
    printer: &Printer,
    parts: Parts,
) -> Result<()> {
    let stderr_tty = std::io::stderr().is_terminal();
    let explicit = args.output.clone();
    if args.resume && explicit.is_none() {
        return Err(usage(
            "--continue needs to know which file to resume: add -o FILE",
        ));
    }
    // What is already on disk, for -c.
    let mut offset = 0u64;
    let mut from_final = false;
    if let (true, Some(out)) = (args.resume, &explicit) {
        if let Ok(m) = std::fs::metadata(part_path(out)) {
            offset = m.len();
        } else if let Ok(m) = std::fs::metadata(out) {
            offset = m.len();
            from_final = true;
        }
        if offset > 0
            && let Ok(v) = HeaderValue::from_str(&format!("bytes={offset}-"))
        {
            request.headers_mut().insert(RANGE, v);
        }
    }
    let url = request.url().clone();
    let quiet = global.quiet;
    let started = Instant::now();
    let sent = retry::send(client, request, policy, |ev| ev.announce(quiet)).await;
    let mut resp = sent.result.map_err(|e| anyhow!(describe_error(&e)))?;
    let status = resp.status();
    if parts.resp_head && !quiet {
        let mut err = std::io::stderr().lock();
        let p = Printer {
            colors: printer.colors && stderr_tty,
            ..*printer
        };
        p.response_head(&mut err, &resp)?;
        eprintln!();
    }

    if status == StatusCode::RANGE_NOT_SATISFIABLE && offset > 0 {
        if let Some(out) = &explicit {
            if !from_final {
                tokio::fs::rename(part_path(out), out).await.map_err(|e| {
                    anyhow!(
                        "cannot rename '{}' to '{}': {e}",
                        part_path(out).display(),
                        out.display()
                    )
                })?;
            }
            if !quiet {
                eprintln!(
                    "wirekit: '{}' is already complete ({offset} bytes)",
                    out.display()
                );
            }
        }
        return Ok(());
    }
    if !status.is_success() {
        let text = retry::status_text(status);
        let code = match (args.check_status, status.as_u16()) {
            (true, 300..=399) => 3,
            (true, 400..=499) => 4,
            (true, 500..=599) => 5,
            _ => 1,
        };
        let hint = if status.is_redirection() && !args.client.follow {
            "; add -F to follow redirects"
        } else {
            ""
        };
        return Err(exit_with(
            code,
            format!("{url} answered HTTP {text}: nothing saved{hint}"),
        ));
    }
    // Resume only if the server really sent the rest.
    let append =
        status == StatusCode::PARTIAL_CONTENT && offset > 0 && range_start(&resp) == Some(offset);
    if !append {
        offset = 0;
    }

    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let target = match &explicit {
        Some(p) => p.clone(),
        None => {
            let name = resp
                .headers()
                .get(CONTENT_DISPOSITION)
                .and_then(|v| v.to_str().ok())
                .and_then(disposition_name)
                .unwrap_or_else(|| name_from_url(&url, content_type.as_deref()));
            unique(&name)
        }
    };
    let part = part_path(&target);
    if append && from_final {
        tokio::fs::rename(&target, &part).await.map_err(|e| {
            anyhow!(
                "cannot rename '{}' to '{}' to resume it: {e}",
                target.display(),
                part.display()
            )
        })?;
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(&part)
        .await
        .map_err(|e| {
            anyhow!(
                "cannot write '{}': {}",
                part.display(),
                crate::http::client::items::io_reason(&e)
            )
        })?;

    let expected = resp.content_length().map(|n| n + offset);
    let bar = if stderr_tty && !quiet {
        let bar = match expected {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::no_length(),
        };
        let style = ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} [{wide_bar}] {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_position(offset);
        Some(bar)
    } else {
        None
    };
    let mut received = offset;
    let resume_hint = format!(
        "wirekit http -c -o {} {}",
        shell_words::quote(&target.to_string_lossy()),
        shell_words::quote(url.as_str())
    );
    let outcome: Result<()> = async {
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return Err(anyhow!(describe_error(&e))),
            };
            file.write_all(&chunk)
                .await
                .map_err(|e| anyhow!("cannot write '{}': {e}", part.display()))?;
            received += chunk.len() as u64;
            if let Some(b) = &bar {
                b.set_position(received);
            }
        }
        if let Some(n) = expected
            && received != n
        {
            return Err(anyhow!("the body ended after {received} of {n} bytes"));
        }
        Ok(())
    }
    .await;
    let flushed = file.flush().await.and(file.sync_all().await);
    drop(file);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Err(e) = outcome {
        let of = expected.map(|n| format!(" of {n}")).unwrap_or_default();
        return Err(anyhow!(
            "download of {url} broke off after {received}{of} bytes: {e}; the partial data is in '{}'; resume with: {resume_hint}",
            part.display()
        ));
    }
    flushed.map_err(|e| anyhow!("cannot write '{}': {e}", part.display()))?;
    tokio::fs::rename(&part, &target).await.map_err(|e| {
        anyhow!(
            "cannot rename '{}' to '{}': {e}",
            part.display(),
            target.display()
        )
    })?;
    if !quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "wirekit: saved '{}' ({} in {secs:.2} s)",
            target.display(),
            crate::units::format_bytes(received)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            disposition_name("attachment; filename=\"report.pdf\"").as_deref(),
            Some("report.pdf")
        );
        assert_eq!(
            disposition_name("attachment; filename=\"a.txt\"; filename*=UTF-8''b%20c.txt")
                .as_deref(),
            Some("b c.txt")
        );
        assert_eq!(
            disposition_name("attachment; filename=\"../../etc/passwd\"").as_deref(),
            Some("passwd")
        );
        let u = reqwest::Url::parse("http://h/a/file.tar.gz?x=1").expect("url");
        assert_eq!(name_from_url(&u, None), "file.tar.gz");
        let u = reqwest::Url::parse("http://h/").expect("url");
        assert_eq!(
            name_from_url(&u, Some("text/html; charset=utf-8")),
            "index.html"
        );
        assert_eq!(
            part_path(Path::new("x/y.bin")),
            PathBuf::from("x/y.bin.part")
        );
    }
}
