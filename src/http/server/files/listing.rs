//! Folder listings: an HTML page (folders first, breadcrumbs, sizes, times, and an
//! upload form with --upload; no JavaScript) or JSON for `Accept: application/json`
//! and `?format=json`.

use crate::http::server::config::Config;
use crate::http::server::error::{Reply, ServeError};
use crate::http::server::files::resolve;
use crate::http::server::response::sized;
use http::Method;
use http::header::{self, HeaderValue};
use http::request::Parts;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

/// Everything but unreserved characters is encoded in hrefs.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One row of a listing.
pub(crate) struct Entry {
    /// The file name (lossy UTF-8).
    pub(crate) name: String,
    /// A folder (shown first, with a trailing `/`).
    pub(crate) is_dir: bool,
    /// Bytes; 0 for folders.
    pub(crate) size: u64,
    /// Last modification, when known.
    pub(crate) modified: Option<SystemTime>,
}

/// The visible entries of `dir`: no dotfiles unless --hidden, no symlinks out of
/// the root unless --follow-symlinks; folders first, then by name.
pub(crate) fn entries(cfg: &Config, dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let Ok(item) = item else { continue };
        let name = item.file_name().to_string_lossy().into_owned();
        if !cfg.hidden && name.starts_with('.') {
            continue;
        }
        let Ok(ft) = item.file_type() else { continue };
        // A DirEntry's metadata is an fstatat on the open folder: cheaper than a
        // stat by full path, and the same thing for anything but a symlink.
        // A symlink goes through the one resolver, which refuses links out of the root.
        let md = if ft.is_symlink() {
            resolve::entry(cfg, dir, &item.file_name())
                .map(|(_, md)| md)
                .ok()
        } else {
            item.metadata().ok()
        };
        let Some(md) = md else { continue };
        if !md.is_dir() && !md.is_file() {
            continue;
        }
        out.push(Entry {
            name,
            is_dir: md.is_dir(),
            size: if md.is_dir() { 0 } else { md.len() },
            modified: md.modified().ok(),
        });
    }
    // Keys made once per entry, not once per comparison.
    out.sort_by_cached_key(|e| (!e.is_dir, e.name.to_lowercase(), e.name.clone()));
    Ok(out)
}

fn wants_json(req: &Parts) -> bool {
    if req
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "format=json"))
    {
        return true;
    }
    req.headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

/// The listing of `dir` (the folder `req` names), as HTML or JSON.
pub(crate) fn respond(cfg: &Config, req: &Parts, dir: &Path) -> Reply {
    let list =
        entries(cfg, dir).map_err(|_| ServeError::Forbidden("this folder cannot be read"))?;
    let url_path = req.uri.path();
    let (body, ctype) = if wants_json(req) {
        (json(url_path, &list), "application/json")
    } else {
        (
            html(url_path, &list, cfg.upload),
            "text/html; charset=utf-8",
        )
    };
    let mut resp = sized(
        body,
        HeaderValue::from_static(ctype),
        req.method == Method::HEAD,
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// `s` with the characters that mean something in HTML escaped.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

/// Append `s` to `out` with the characters that mean something in HTML escaped.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn href(name: &str, is_dir: bool) -> String {
    let mut h = utf8_percent_encode(name, SEGMENT).to_string();
    if is_dir {
        h.push('/');
    }
    h
}

fn decoded_segments(url_path: &str) -> Vec<String> {
    url_path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// Append `t` as "2026-11-26 09:30:00 UTC"; `scratch` saves an allocation per entry.
fn push_time(out: &mut String, scratch: &mut String, t: Option<SystemTime>) {
    let Some(t) = t else { return };
    scratch.clear();
    let _ = write!(scratch, "{}", humantime::format_rfc3339_seconds(t));
    match scratch.split_once('T') {
        Some((date, time)) => {
            out.push_str(date);
            out.push(' ');
            out.push_str(time.trim_end_matches('Z'));
            out.push_str(" UTC");
        }
        None => out.push_str(scratch),
    }
}

/// The HTML page for `list` at `url_path`, with the upload form when `upload`.
pub(crate) fn html(url_path: &str, list: &[Entry], upload: bool) -> String {
    let segs = decoded_segments(url_path);
    let title = format!("/{}", segs.join("/"));
    let mut s = String::with_capacity(512 + list.len() * 200);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Index of {}</title><style>\
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
table{{border-collapse:collapse;min-width:60%}}\
th,td{{text-align:left;padding:.25em 1em .25em 0}}td.size{{text-align:right}}\
a{{text-decoration:none}}a:hover{{text-decoration:underline}}\
nav a{{font-weight:bold}}</style></head><body>\n<h1>Index of <nav style=\"display:inline\">",
        escape_html(&title)
    );
    // Breadcrumbs: each ancestor is a link.
    let _ = write!(s, "<a href=\"/\">/</a>");
    let mut acc = String::from("/");
    for seg in &segs {
        acc.push_str(&href(seg, true));
        let _ = write!(
            s,
            "<a href=\"{}\">{}</a>/",
            escape_html(&acc),
            escape_html(seg)
        );
    }
    s.push_str("</nav></h1>\n");
    if upload {
        s.push_str(
            "<form method=\"post\" enctype=\"multipart/form-data\">\
<input type=\"file\" name=\"file\" multiple required> <button type=\"submit\">Upload</button></form>\n",
        );
    }
    s.push_str(
        "<table>\n<thead><tr><th>Name</th><th>Size</th><th>Modified</th></tr></thead>\n<tbody>\n",
    );
    if !segs.is_empty() {
        s.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    // Written straight into the page: a 1,000-entry listing is 1,000 rows.
    let mut scratch = String::new();
    for e in list {
        // Percent-encoded hrefs hold no character that HTML would need escaped.
        let _ = write!(
            s,
            "<tr><td><a href=\"./{}",
            utf8_percent_encode(&e.name, SEGMENT)
        );
        s.push_str(if e.is_dir { "/\">" } else { "\">" });
        push_escaped(&mut s, &e.name);
        s.push_str(if e.is_dir {
            "/</a></td><td class=\"size\">-"
        } else {
            "</a></td><td class=\"size\">"
        });
        if !e.is_dir {
            s.push_str(&crate::units::format_bytes(e.size));
        }
        s.push_str("</td><td>");
        push_time(&mut s, &mut scratch, e.modified);
        s.push_str("</td></tr>\n");
    }
    s.push_str("</tbody></table>\n</body></html>\n");
    s
}

/// The JSON listing: `{"path", "entries": [{name, type, size, modified, url}]}`.
pub(crate) fn json(url_path: &str, list: &[Entry]) -> String {
    let entries: Vec<serde_json::Value> = list
        .iter()
        .map(|e| {
            serde_json::json!({
                "name": e.name,
                "type": if e.is_dir { "dir" } else { "file" },
                "size": e.size,
                "modified": e.modified.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                "url": format!("{}{}", url_path, href(&e.name, e.is_dir)),
            })
        })
        .collect();
    serde_json::json!({ "path": url_path, "entries": entries }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let list = vec![Entry {
            name: "<script>alert(1)</script>.txt".into(),
            is_dir: false,
            size: 3,
            modified: None,
        }];
        let page = html("/", &list, false);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;.txt"));
        assert!(page.contains("href=\"./%3Cscript%3Ealert%281%29%3C%2Fscript%3E.txt\""));
    }

    #[test]
    fn rows_for_folders_and_files() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        let list = vec![
            Entry {
                name: "a b".into(),
                is_dir: true,
                size: 0,
                modified: Some(t),
            },
            Entry {
                name: "x&y.txt".into(),
                is_dir: false,
                size: 2048,
                modified: Some(t),
            },
        ];
        let page = html("/sub/", &list, false);
        assert!(page.contains(
            "<tr><td><a href=\"./a%20b/\">a b/</a></td><td class=\"size\">-</td><td>2026-11-18 11:06:40 UTC</td></tr>"
        ), "{page}");
        assert!(page.contains(
            "<tr><td><a href=\"./x%26y.txt\">x&amp;y.txt</a></td><td class=\"size\">2.00 KiB</td><td>2026-11-18 11:06:40 UTC</td></tr>"
        ), "{page}");
    }
}
