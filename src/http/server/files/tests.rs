//! Files answered in-process, without a socket: a `Config` over a temporary
//! folder and request heads from `http::Request::builder()`.

use super::get;
use super::resolve::{resolve, segments};
use crate::http::server::body::Body;
use crate::http::server::config::Config;
use crate::http::server::error::{Reply, ServeError};
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use std::path::Path;

const HELLO: &[u8] = b"hello, world\n";

/// A served folder: hello.txt, sub/a.txt, .secret, and a folder outside it.
struct Site {
    dir: tempfile::TempDir,
    outside: tempfile::TempDir,
}

fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), HELLO).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/a.txt"), b"a").unwrap();
    std::fs::write(dir.path().join(".secret"), b"s").unwrap();
    std::fs::write(outside.path().join("passwd"), b"root").unwrap();
    std::os::unix::fs::symlink(outside.path().join("passwd"), dir.path().join("out")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("hello.txt"), dir.path().join("in")).unwrap();
    Site { dir, outside }
}

fn cfg(root: &Path) -> std::sync::Arc<Config> {
    std::sync::Arc::new(Config::for_tests(root))
}

fn req(path: &str, headers: &[(header::HeaderName, &str)]) -> Parts {
    let mut b = Request::builder().method(Method::GET).uri(path);
    for (k, v) in headers {
        b = b.header(k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn err(reply: Reply) -> ServeError {
    match reply {
        Ok(r) => panic!("expected an error, got {}", r.status()),
        Err(e) => e,
    }
}

async fn body(reply: Reply) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let r = reply.unwrap();
    let (parts, body): (_, Body) = r.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

#[test]
fn traversal_forms_are_forbidden() {
    for raw in [
        "/../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/%2E%2E/x",
        "/sub/..%2f..%2fetc",
        "/a%2fb",
        "/a%5cb",
        "/a\\b",
        "/a%00b",
    ] {
        assert!(
            matches!(segments(raw, false), Err(ServeError::ForbiddenPath)),
            "{raw}"
        );
    }
    assert_eq!(segments("/./sub//a.txt", false).unwrap(), ["sub", "a.txt"]);
}

#[test]
fn dotfiles_are_not_found_unless_hidden_is_on() {
    assert!(matches!(
        segments("/.secret", false),
        Err(ServeError::NotFound)
    ));
    assert!(matches!(
        segments("/sub/%2esecret", false),
        Err(ServeError::NotFound)
    ));
    assert_eq!(segments("/.secret", true).unwrap(), [".secret"]);
}

#[test]
fn symlinks_out_of_the_root_are_forbidden_unless_followed() {
    let s = site();
    let mut c = cfg(s.dir.path());
    let segs = segments("/out", false).unwrap();
    assert!(matches!(resolve(&c, &segs), Err(ServeError::ForbiddenPath)));
    let (path, md) = resolve(&c, &segments("/in", false).unwrap()).unwrap();
    assert!(path.starts_with(&c.root) && md.len() == HELLO.len() as u64);
    assert!(matches!(
        resolve(&c, &segments("/nothing", false).unwrap()),
        Err(ServeError::NotFound)
    ));
    std::sync::Arc::get_mut(&mut c).unwrap().follow_symlinks = true;
    let (_, md) = resolve(&c, &segs).unwrap();
    assert_eq!(md.len(), 4);
    assert!(s.outside.path().exists());
}

#[test]
fn get_maps_refusals_to_their_errors() {
    let s = site();
    let mut c = cfg(s.dir.path());
    assert!(matches!(
        err(get(&c, &req("/%2e%2e/x", &[]))),
        ServeError::ForbiddenPath
    ));
    assert!(matches!(
        err(get(&c, &req("/out", &[]))),
        ServeError::ForbiddenPath
    ));
    assert!(matches!(
        err(get(&c, &req("/.secret", &[]))),
        ServeError::NotFound
    ));
    let moved = get(&c, &req("/sub?x=1", &[])).unwrap();
    assert_eq!(moved.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(moved.headers()[header::LOCATION], "/sub/?x=1");
    std::sync::Arc::get_mut(&mut c).unwrap().listing = false;
    let e = err(get(&c, &req("/sub/", &[])));
    assert_eq!(e.status(), StatusCode::FORBIDDEN);
    assert!(e.to_string().contains("--no-listing"));
}

#[tokio::test]
async fn whole_file() {
    let s = site();
    let c = cfg(s.dir.path());
    let (status, h, got) = body(get(&c, &req("/hello.txt", &[]))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(h[header::CONTENT_LENGTH], "13");
    assert_eq!(h[header::ACCEPT_RANGES], "bytes");
    assert_eq!(got, HELLO);
}

#[tokio::test]
async fn ranges_single_suffix_multiple_and_unsatisfiable() {
    let s = site();
    let c = cfg(s.dir.path());
    let (status, h, got) = body(get(&c, &req("/hello.txt", &[(header::RANGE, "bytes=0-4")]))).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(h[header::CONTENT_RANGE], "bytes 0-4/13");
    assert_eq!(got, b"hello");

    let (_, h, got) = body(get(&c, &req("/hello.txt", &[(header::RANGE, "bytes=-6")]))).await;
    assert_eq!(h[header::CONTENT_RANGE], "bytes 7-12/13");
    assert_eq!(got, b"world\n");

    let (status, h, got) = body(get(
        &c,
        &req("/hello.txt", &[(header::RANGE, "bytes=0-1,7-8")]),
    ))
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    let ctype = h[header::CONTENT_TYPE].to_str().unwrap();
    let boundary = ctype
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap();
    let text = String::from_utf8(got).unwrap();
    assert_eq!(h[header::CONTENT_LENGTH], text.len().to_string().as_str());
    assert!(
        text.contains("Content-Range: bytes 0-1/13\r\n\r\nhe\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Content-Range: bytes 7-8/13\r\n\r\nwo\r\n"),
        "{text}"
    );
    assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")), "{text}");

    let e = err(get(
        &c,
        &req("/hello.txt", &[(header::RANGE, "bytes=100-")]),
    ));
    assert!(matches!(e, ServeError::RangeNotSatisfiable { len: 13 }));
    let page = e.into_response();
    assert_eq!(page.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(page.headers()[header::CONTENT_RANGE], "bytes */13");
}

#[tokio::test]
async fn conditional_requests() {
    let s = site();
    let c = cfg(s.dir.path());
    let first = get(&c, &req("/hello.txt", &[])).unwrap();
    let etag = first.headers()[header::ETAG].to_str().unwrap().to_string();
    let date = first.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_string();

    for h in [
        (header::IF_NONE_MATCH, etag.as_str()),
        (header::IF_NONE_MATCH, &format!("\"x\", W/{etag}")),
        (header::IF_NONE_MATCH, "*"),
        (header::IF_MODIFIED_SINCE, date.as_str()),
    ] {
        let r = get(&c, &req("/hello.txt", std::slice::from_ref(&h))).unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{h:?}");
        assert_eq!(r.headers()[header::ETAG], etag.as_str());
    }
    let r = get(
        &c,
        &req("/hello.txt", &[(header::IF_NONE_MATCH, "\"other\"")]),
    )
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = get(
        &c,
        &req(
            "/hello.txt",
            &[(header::IF_MODIFIED_SINCE, "Sat, 01 Jan 2000 00:00:00 GMT")],
        ),
    )
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // If-Range: the range applies only while the validator still matches.
    let range = (header::RANGE, "bytes=0-4");
    for (if_range, want) in [
        (etag.as_str(), StatusCode::PARTIAL_CONTENT),
        (date.as_str(), StatusCode::PARTIAL_CONTENT),
        ("\"stale\"", StatusCode::OK),
        ("Sat, 01 Jan 2000 00:00:00 GMT", StatusCode::OK),
    ] {
        let r = get(
            &c,
            &req("/hello.txt", &[range.clone(), (header::IF_RANGE, if_range)]),
        )
        .unwrap();
        assert_eq!(r.status(), want, "If-Range {if_range}");
    }
}

#[test]
fn error_pages_carry_their_headers() {
    let page = ServeError::Unauthorized {
        basic: true,
        bearer: true,
    }
    .into_response();
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        page.headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .count(),
        2
    );
    let page = ServeError::MethodNotAllowed {
        message: "no",
        allow: Some(HeaderValue::from_static("GET")),
    }
    .into_response();
    assert_eq!(page.headers()[header::ALLOW], "GET");
    assert_eq!(
        ServeError::TooLarge { limit: Some(10) }.to_string(),
        "the body is over the limit of 10 bytes (--max-body)"
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// One served folder for every case (kept for the whole run): files, a
    /// folder, links in and out (to a file and a folder outside, and `sub/up`
    /// to `../..`), a dotfile; its config, and the canonical folder outside.
    fn shared() -> (&'static std::sync::Arc<Config>, &'static Path) {
        static SITE: OnceLock<(Site, std::sync::Arc<Config>, std::path::PathBuf)> = OnceLock::new();
        let (_, c, outside) = SITE.get_or_init(|| {
            let s = site();
            let d = s.dir.path();
            std::os::unix::fs::symlink(s.outside.path(), d.join("outdir")).unwrap();
            std::os::unix::fs::symlink(d.join("sub"), d.join("indir")).unwrap();
            std::os::unix::fs::symlink("../..", d.join("sub/up")).unwrap();
            let c = cfg(d);
            let outside = std::fs::canonicalize(s.outside.path()).unwrap();
            (s, c, outside)
        });
        (c, outside)
    }

    /// Path pieces that try every way out: dot segments plain and encoded,
    /// encoded slashes and backslashes, NUL, links out and back.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "",
            ".",
            "..",
            "%2e",
            "%2e%2e",
            "%2E.",
            ".%2e",
            "%2f",
            "%2F",
            "..%2f",
            "%5c",
            "\\",
            "..\\",
            "%00",
            "\0",
            "a%00b",
            "hello.txt",
            "sub",
            "a.txt",
            "out",
            "in",
            "outdir",
            "indir",
            "up",
            ".secret",
            "%2esecret",
            "passwd",
            "nothing",
            "%252e%252e",
            "~",
        ])
    }

    /// Whether `p` (a path the resolver returned) really is inside the root.
    fn contained(root: &Path, p: &Path) -> bool {
        std::fs::canonicalize(p).is_ok_and(|real| real.starts_with(root))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_request_path_resolves_outside_the_root(
            pieces in prop::collection::vec(piece(), 0..8),
            hidden in any::<bool>(),
        ) {
            let (c, outside) = shared();
            let raw = format!("/{}", pieces.join("/"));
            if let Ok((path, md)) = segments(&raw, hidden).and_then(|s| resolve(c, &s)) {
                prop_assert!(contained(&c.root, &path), "{raw} -> {}", path.display());
                prop_assert!(!std::fs::canonicalize(&path).unwrap().starts_with(outside));
                // What a folder then picks by name stays inside too.
                if md.is_dir() {
                    for name in ["index.html", "out", "outdir", "up", "..", "in"] {
                        if let Ok((p, _)) = super::super::resolve::entry(c, &path, name.as_ref()) {
                            prop_assert!(contained(&c.root, &p), "{raw} + {name}");
                        }
                    }
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics_or_escapes(raw in "\\PC{0,40}") {
            let (c, _) = shared();
            if let Ok((path, _)) = segments(&raw, true).and_then(|s| resolve(c, &s)) {
                prop_assert!(contained(&c.root, &path), "{raw}");
            }
        }
    }
}
