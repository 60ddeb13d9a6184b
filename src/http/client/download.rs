//! `wirekit http -d/-o`: save a body to a file, atomically (written to `NAME.part`, renamed
//! when complete), with a progress bar on a terminal and `-c` to resume with a Range request.
//! A download that breaks off or is stopped ([`DownloadOptions::stop`], SIGINT/SIGTERM in
//! the command) keeps `NAME.part` and says how to resume it; a later download to the same
//! name refuses to start over that `.part` without `-c`.

use crate::disk::{ControlChars, FileNameRules, LeadingDots, safe_file_name};
use crate::error::{exit_with, usage};
use crate::http::client::errors::{
    Target, describe_error, io_reason, status_exit_code, status_text,
};
use crate::http::client::print::Printer;
use crate::http::client::retry::{self, RetryPolicy};
use anyhow::{Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_RANGE, CONTENT_TYPE, HeaderValue, RANGE};
use reqwest::{Client, Request, Response, StatusCode, Url};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio::fs::File;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

/// How a download is saved and reported.
#[derive(Debug, Clone, Default)]
pub struct DownloadOptions {
    /// Save to this file; none: the name Content-Disposition or the URL gives, made unique.
    pub output: Option<PathBuf>,
    /// Resume what `output` (or `output.part`) holds with a Range request.
    pub resume: bool,
    /// Exit 3, 4 or 5 (instead of 1) on a 3xx, 4xx or 5xx answer.
    pub check_status: bool,
    /// Redirects are followed (else a 3xx answer suggests -F).
    pub follow: bool,
    /// When to retry.
    pub retry: RetryPolicy,
    /// Show the response head on stderr.
    pub show_head: bool,
    /// How to show it (colours only when stderr is a terminal).
    pub printer: Printer,
    /// No head, no progress bar, no "saved" line on stderr.
    pub quiet: bool,
    /// Cancelled: stop at once, keep what was received in `NAME.part` and fail with the
    /// command that resumes it (the command cancels it on SIGINT/SIGTERM).
    pub stop: CancellationToken,
}

/// Where an unfinished download is kept: `NAME.part` beside `NAME`.
pub(crate) fn part_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// A name a server suggested, reduced to one file name: its last path component, no
/// leading dots, no control characters.
fn sanitize(name: &str) -> Option<String> {
    const RULES: FileNameRules = FileNameRules {
        last_component: true,
        portable: false,
        control: ControlChars::Drop,
        leading_dots: LeadingDots::Strip,
        max_chars: None,
    };
    safe_file_name(name, &RULES)
}

/// `%xx` escapes decoded (invalid UTF-8 replaced); `+` stays `+`.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The file name a Content-Disposition header suggests (`filename*=` preferred). Our own:
/// no crate in the tree parses Content-Disposition, and this needs only the two names.
pub(crate) fn disposition_name(value: &str) -> Option<String> {
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

/// The name the URL's last segment gives, with an extension from the Content-Type when it
/// has none.
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

/// The command that resumes the download of `url` into `target`.
fn resume_command(target: &Path, url: &Url) -> String {
    format!(
        "wirekit http -c -o {} {}",
        shell_words::quote(&target.to_string_lossy()),
        shell_words::quote(url.as_str())
    )
}

/// Refuse to start over an unfinished download of the same name: its `.part` is kept and
/// the error gives the command that resumes it (as wget -c users expect, rather than a
/// silent `NAME-1` or a truncated `.part`).
fn refuse_over_part(target: &Path, url: &Url) -> Result<()> {
    let part = part_path(target);
    match std::fs::metadata(&part) {
        Ok(m) => Err(exit_with(
            1,
            format!(
                "'{}' holds {} bytes of an unfinished download of '{}'; resume it with: {} \
                 (or delete '{}' to start over)",
                part.display(),
                m.len(),
                target.display(),
                resume_command(target, url),
                part.display()
            ),
        )),
        Err(_) => Ok(()),
    }
}

/// `name`, or `name-1`, `name-2`... if a finished file has it. A name with an unfinished
/// `.part` is not skipped but chosen, to be refused ([`refuse_over_part`]).
fn unique(name: &str) -> PathBuf {
    let free = |p: &Path| !p.exists() || part_path(p).exists();
    let first = PathBuf::from(name);
    if free(&first) {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    for n in 1..10_000 {
        let p = PathBuf::from(format!("{stem}-{n}{ext}"));
        if free(&p) {
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

/// What `-c` found on disk: the bytes already saved, and whether they are in the final
/// file (a finished download) rather than in `.part`.
#[derive(Debug, Clone, Copy, Default)]
struct Resume {
    offset: u64,
    from_final: bool,
}

/// For `-c`: measure what is saved and ask for the rest with a Range header.
fn resume_from(out: &Path, request: &mut Request) -> Resume {
    let mut r = Resume::default();
    if let Ok(m) = std::fs::metadata(part_path(out)) {
        r.offset = m.len();
    } else if let Ok(m) = std::fs::metadata(out) {
        r.offset = m.len();
        r.from_final = true;
    }
    if r.offset > 0
        && let Ok(v) = HeaderValue::from_str(&format!("bytes={}-", r.offset))
    {
        request.headers_mut().insert(RANGE, v);
    }
    r
}

/// `from` renamed to `to`, or an error naming both.
async fn rename(from: &Path, to: &Path, why: &str) -> Result<()> {
    tokio::fs::rename(from, to).await.map_err(|e| {
        anyhow!(
            "cannot rename '{}' to '{}'{why}: {e}",
            from.display(),
            to.display()
        )
    })
}

/// A 416 to a resume: the file was complete; finish it.
async fn already_complete(out: &Path, resume: Resume, quiet: bool) -> Result<()> {
    if !resume.from_final {
        rename(&part_path(out), out, "").await?;
    }
    if !quiet {
        eprintln!(
            "wirekit: '{}' is already complete ({} bytes)",
            out.display(),
            resume.offset
        );
    }
    Ok(())
}

/// A non-2xx answer: nothing is saved; the exit code follows `--check-status`.
fn refused(url: &Url, status: StatusCode, o: &DownloadOptions) -> anyhow::Error {
    let code = status_exit_code(status)
        .filter(|_| o.check_status)
        .unwrap_or(1);
    let hint = if status.is_redirection() && !o.follow {
        "; add -F to follow redirects"
    } else {
        ""
    };
    exit_with(
        code,
        format!(
            "{url} answered HTTP {}: nothing saved{hint}",
            status_text(status)
        ),
    )
}

/// The file to save to: `-o`, else the name the server or URL suggests, made unique;
/// without `-c`, an unfinished `.part` of that name is refused.
fn target_for(o: &DownloadOptions, resp: &Response, url: &Url) -> Result<PathBuf> {
    let target = choose_target(o, resp, url);
    if !o.resume {
        refuse_over_part(&target, url)?;
    }
    Ok(target)
}

/// `-o`, else the name the server or URL suggests, made unique.
fn choose_target(o: &DownloadOptions, resp: &Response, url: &Url) -> PathBuf {
    if let Some(p) = &o.output {
        return p.clone();
    }
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let name = resp
        .headers()
        .get(CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(disposition_name)
        .unwrap_or_else(|| name_from_url(url, content_type));
    unique(&name)
}

/// The `.part` file, appended to when resuming.
async fn open_part(part: &Path, append: bool) -> Result<File> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(part)
        .await
        .map_err(|e| anyhow!("cannot write '{}': {}", part.display(), io_reason(&e)))
}

/// A byte progress bar on a terminal stderr, starting at `offset`.
fn progress_bar(expected: Option<u64>, offset: u64) -> ProgressBar {
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
    bar
}

/// Why receiving stopped short.
enum Short {
    /// The stop token was cancelled.
    Stopped,
    /// The body broke off, or the file could not be written.
    Failed(anyhow::Error),
}

/// Write the body to `file`, counting into `received`; the body must be complete.
async fn receive(
    resp: &mut Response,
    file: &mut File,
    part: &Path,
    received: &mut u64,
    expected: Option<u64>,
    bar: Option<&ProgressBar>,
    (target, stop): (&Target, &CancellationToken),
) -> Result<(), Short> {
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.cancelled() => return Err(Short::Stopped),
            next = resp.chunk() => next,
        };
        let chunk = match next {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => return Err(Short::Failed(anyhow!(describe_error(&e, target)))),
        };
        file.write_all(&chunk)
            .await
            .map_err(|e| Short::Failed(anyhow!("cannot write '{}': {e}", part.display())))?;
        *received += chunk.len() as u64;
        if let Some(b) = bar {
            b.set_position(*received);
        }
    }
    match expected {
        Some(n) if *received != n => Err(Short::Failed(anyhow!(
            "the body ended after {} of {n} bytes",
            *received
        ))),
        _ => Ok(()),
    }
}

/// Run a download of the built `request`; `o` says where and how.
pub async fn run(client: &Client, mut request: Request, o: &DownloadOptions) -> Result<()> {
    if o.resume && o.output.is_none() {
        return Err(usage(
            "--continue needs to know which file to resume: add -o FILE",
        ));
    }
    let resume = match (&o.output, o.resume) {
        (Some(out), true) => resume_from(out, &mut request),
        _ => Resume::default(),
    };
    let url = request.url().clone();
    if let (Some(out), false) = (&o.output, o.resume) {
        // Known before anything is sent: refuse now rather than after the answer.
        refuse_over_part(out, &url)?;
    }
    let target = Target::of(&request);
    let started = Instant::now();
    let quiet = o.quiet;
    let sent = tokio::select! {
        biased;
        _ = o.stop.cancelled() => {
            return Err(anyhow!("download of {url} stopped before the answer came: nothing saved"));
        }
        sent = retry::send(client, request, &o.retry, |ev| ev.announce(quiet)) => sent,
    };
    let resp = sent
        .result
        .map_err(|e| anyhow!(describe_error(&e, &target)))?;
    if o.show_head && !quiet {
        show_head(o, &resp)?;
    }
    let status = resp.status();
    if status == StatusCode::RANGE_NOT_SATISFIABLE && resume.offset > 0 {
        return match &o.output {
            Some(out) => already_complete(out, resume, quiet).await,
            None => Ok(()),
        };
    }
    if !status.is_success() {
        return Err(refused(&url, status, o));
    }
    // Resume only if the server really sent the rest.
    let append = status == StatusCode::PARTIAL_CONTENT
        && resume.offset > 0
        && range_start(&resp) == Some(resume.offset);
    let offset = if append { resume.offset } else { 0 };
    let file_path = target_for(o, &resp, &url)?;
    let part = part_path(&file_path);
    if append && resume.from_final {
        rename(&file_path, &part, " to resume it").await?;
    }
    let file = open_part(&part, append).await?;
    let into = PartFile {
        file,
        part: &part,
        path: &file_path,
        offset,
    };
    let received = save(resp, into, &target, &o.stop, quiet).await?;
    rename(&part, &file_path, "").await?;
    if !quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "wirekit: saved '{}' ({} in {secs:.2} s)",
            file_path.display(),
            crate::units::format_bytes(received)
        );
    }
    Ok(())
}

/// The response head on stderr, coloured only when stderr is a terminal.
fn show_head(o: &DownloadOptions, resp: &Response) -> Result<()> {
    let printer = &o.printer;
    let mut err = std::io::stderr().lock();
    let p = Printer {
        colors: printer.colors && std::io::stderr().is_terminal(),
        ..*printer
    };
    p.response_head(&mut err, resp)?;
    eprintln!();
    Ok(())
}

/// The `.part` file a body goes into, and the name it gets when complete.
struct PartFile<'a> {
    file: File,
    part: &'a Path,
    path: &'a Path,
    /// Bytes it already holds (a resumed download).
    offset: u64,
}

/// Receive the body into the `.part` file with a progress bar; the total saved. A body
/// that breaks off or is stopped says where the partial data is and how to resume.
async fn save(
    mut resp: Response,
    into: PartFile<'_>,
    target: &Target,
    stop: &CancellationToken,
    quiet: bool,
) -> Result<u64> {
    let PartFile {
        mut file,
        part,
        path,
        offset,
    } = into;
    let url = &target.url;
    let expected = resp.content_length().map(|n| n + offset);
    let bar = (std::io::stderr().is_terminal() && !quiet).then(|| progress_bar(expected, offset));
    let mut received = offset;
    let outcome = receive(
        &mut resp,
        &mut file,
        part,
        &mut received,
        expected,
        bar.as_ref(),
        (target, stop),
    )
    .await;
    let flushed = file.flush().await.and(file.sync_all().await);
    drop(file);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let of = expected.map(|n| format!(" of {n}")).unwrap_or_default();
    let kept = format!(
        "the partial data is in '{}'; resume with: {}",
        part.display(),
        resume_command(path, url)
    );
    match outcome {
        Err(Short::Stopped) => Err(anyhow!(
            "download of {url} stopped after {received}{of} bytes; {kept}"
        )),
        Err(Short::Failed(e)) => Err(anyhow!(
            "download of {url} broke off after {received}{of} bytes: {e}; {kept}"
        )),
        Ok(()) => {
            flushed.map_err(|e| anyhow!("cannot write '{}': {e}", part.display()))?;
            Ok(received)
        }
    }
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
        let u = Url::parse("http://h/a/file.tar.gz?x=1").expect("url");
        assert_eq!(name_from_url(&u, None), "file.tar.gz");
        let u = Url::parse("http://h/").expect("url");
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
