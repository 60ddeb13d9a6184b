//! Request items, as xh and HTTPie write them: `key=value`, `key:=json`, `key==query`,
//! `Name:value`, `Name:`, `Name;`, `field@file`, `key=@file`, `key:=@file`, nested `a[b][0]=x`;
//! and the bodies they make: JSON, urlencoded form, multipart.

use crate::error::usage;
use crate::http::client::errors::io_reason;
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One parsed request item.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `Name:value`
    Header(String, String),
    /// `Name:` — do not send this (default) header.
    RemoveHeader(String),
    /// `Name;` — send this header with an empty value.
    EmptyHeader(String),
    /// `key==value`
    Query(String, String),
    /// `key=value` or `key=@file`: a string field.
    Text(String, String),
    /// `key:=json` or `key:=@file.json`: raw JSON, checked, kept as written (compacted).
    Json(String, String),
    /// `field@path[;type=MIME]`: a file to upload.
    File {
        /// The form field.
        field: String,
        /// The file whose bytes are sent.
        path: PathBuf,
        /// Its Content-Type; none: guessed from the name.
        mime: Option<String>,
    },
}

impl Item {
    /// Whether the item goes in the body (fields and files), not the URL or headers.
    pub fn is_data(&self) -> bool {
        matches!(self, Item::Text(..) | Item::Json(..) | Item::File { .. })
    }
}

const SEPARATORS: [&str; 8] = [":=@", "=@", "==", ":=", "=", "@", ":", ";"];

/// Parse one item. Backslash escapes a separator character (`a\=b=c` is key `a=b`).
pub(crate) fn parse_item(text: &str) -> Result<Item> {
    let chars: Vec<char> = text.chars().collect();
    let mut key = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && "=:@;\\".contains(chars[i + 1]) {
            key.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if "=:@;".contains(c) {
            let rest: String = chars[i..].iter().collect();
            let sep = SEPARATORS
                .iter()
                .find(|s| rest.starts_with(**s))
                .copied()
                .unwrap_or(";");
            let value: String = rest[sep.len()..].to_string();
            return build(text, key, sep, value);
        }
        key.push(c);
        i += 1;
    }
    Err(usage(format!(
        "request item '{text}' has no separator; write key=value (JSON field), key:=json, \
         key==value (query), Name:value (header) or field@file (upload)"
    )))
}

fn read_file(item: &str, path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        usage(format!(
            "request item '{item}': cannot read file '{path}': {}",
            io_reason(&e)
        ))
    })
}

fn check_json(item: &str, json: &str) -> Result<String> {
    match serde_json::from_str::<serde::de::IgnoredAny>(json) {
        Ok(_) => Ok(compact_json(json)),
        Err(e) => Err(usage(format!(
            "request item '{item}': the value after := is not valid JSON ({e}); \
             quote strings, e.g. name:='\"x\"', or use name=x"
        ))),
    }
}

fn build(text: &str, key: String, sep: &str, value: String) -> Result<Item> {
    let need_key = || {
        if key.is_empty() {
            Err(usage(format!(
                "request item '{text}' has nothing before '{sep}'; write key{sep}value"
            )))
        } else {
            Ok(())
        }
    };
    Ok(match sep {
        ":" => {
            need_key()?;
            check_header_name(text, &key)?;
            if value.is_empty() {
                Item::RemoveHeader(key)
            } else {
                Item::Header(key, value.trim_start().to_string())
            }
        }
        ";" => {
            need_key()?;
            check_header_name(text, &key)?;
            if !value.is_empty() {
                return Err(usage(format!(
                    "request item '{text}': ';' sends an empty header, so nothing may follow it; \
                     for a value write {key}:value"
                )));
            }
            Item::EmptyHeader(key)
        }
        "==" => {
            need_key()?;
            Item::Query(key, value)
        }
        "=" => Item::Text(key, value),
        ":=" => {
            let json = check_json(text, &value)?;
            Item::Json(key, json)
        }
        "=@" => {
            let bytes = read_file(text, &value)?;
            let s = String::from_utf8(bytes).map_err(|_| {
                usage(format!(
                    "request item '{text}': '{value}' is not UTF-8 text; upload it with {key}@{value}"
                ))
            })?;
            Item::Text(key, s)
        }
        ":=@" => {
            let bytes = read_file(text, &value)?;
            let s = String::from_utf8_lossy(&bytes).into_owned();
            let json = check_json(text, &s)?;
            Item::Json(key, json)
        }
        _ => {
            // "@"
            need_key()?;
            let (path, mime) = match value.rsplit_once(";type=") {
                Some((p, m)) => (p.to_string(), Some(m.to_string())),
                None => (value.clone(), None),
            };
            if let Err(e) = std::fs::metadata(&path) {
                return Err(usage(format!(
                    "request item '{text}': cannot read file '{path}': {}",
                    io_reason(&e)
                )));
            }
            Item::File {
                field: key,
                path: PathBuf::from(path),
                mime,
            }
        }
    })
}

fn check_header_name(item: &str, name: &str) -> Result<()> {
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(usage(format!(
            "request item '{item}': '{name}' is not a valid header name"
        )));
    }
    Ok(())
}

/// Remove whitespace outside strings: `[1, 2]` -> `[1,2]`. Input must be valid JSON.
/// Our own so that key order and number spelling stay as the user wrote them.
pub(crate) fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_str = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------- nested JSON

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
    Append,
}

/// A JSON value that keeps keys in the order the user wrote them.
#[derive(Debug, Clone)]
enum J {
    Obj(Vec<(String, J)>),
    Arr(Vec<J>),
    Str(String),
    Raw(String),
    Null,
}

fn parse_path(item: &str, key: &str) -> Result<Vec<Seg>> {
    let Some(open) = key.find('[') else {
        return Ok(vec![Seg::Key(key.to_string())]);
    };
    let mut segs = Vec::new();
    if open > 0 {
        segs.push(Seg::Key(key[..open].to_string()));
    }
    let mut rest = &key[open..];
    while !rest.is_empty() {
        let bad = || {
            usage(format!(
                "request item '{item}': bad nested key '{key}'; write it like a[b][0]=x or a[]=x"
            ))
        };
        if !rest.starts_with('[') {
            return Err(bad());
        }
        let close = rest.find(']').ok_or_else(bad)?;
        let inner = &rest[1..close];
        segs.push(if inner.is_empty() {
            Seg::Append
        } else if let Ok(n) = inner.parse::<usize>() {
            Seg::Index(n)
        } else {
            Seg::Key(inner.to_string())
        });
        rest = &rest[close + 1..];
    }
    Ok(segs)
}

fn type_clash(item: &str) -> anyhow::Error {
    usage(format!(
        "request item '{item}': its key clashes with an earlier item (an object, an array and a \
         value cannot share a key)"
    ))
}

fn set(node: &mut J, segs: &[Seg], value: J, item: &str) -> Result<()> {
    let Some((first, rest)) = segs.split_first() else {
        return Ok(());
    };
    let fresh = |s: Option<&Seg>| match s {
        Some(Seg::Key(_)) => J::Obj(Vec::new()),
        Some(_) => J::Arr(Vec::new()),
        None => J::Null,
    };
    match first {
        Seg::Key(k) => {
            if matches!(node, J::Null) {
                *node = J::Obj(Vec::new());
            }
            let J::Obj(fields) = node else {
                return Err(type_clash(item));
            };
            let pos = match fields.iter().position(|(name, _)| name == k) {
                Some(p) => p,
                None => {
                    fields.push((k.clone(), fresh(rest.first())));
                    fields.len() - 1
                }
            };
            let slot = &mut fields[pos].1;
            if rest.is_empty() {
                // A repeated plain key collects its values into an array, as HTTPie does.
                match slot {
                    J::Null => *slot = value,
                    J::Arr(a) => a.push(value),
                    J::Obj(_) => return Err(type_clash(item)),
                    other => {
                        let prev = std::mem::replace(other, J::Null);
                        *other = J::Arr(vec![prev, value]);
                    }
                }
                Ok(())
            } else {
                set(slot, rest, value, item)
            }
        }
        Seg::Index(_) | Seg::Append => {
            if matches!(node, J::Null) {
                *node = J::Arr(Vec::new());
            }
            let J::Arr(arr) = node else {
                return Err(type_clash(item));
            };
            let idx = match first {
                Seg::Index(n) => *n,
                _ => arr.len(),
            };
            if idx > 100_000 {
                return Err(usage(format!(
                    "request item '{item}': array index {idx} is too large"
                )));
            }
            while arr.len() <= idx {
                arr.push(J::Null);
            }
            if rest.is_empty() {
                arr[idx] = value;
                Ok(())
            } else {
                if matches!(arr[idx], J::Null) {
                    arr[idx] = fresh(rest.first());
                }
                set(&mut arr[idx], rest, value, item)
            }
        }
    }
}

fn write_j(out: &mut String, j: &J) {
    match j {
        J::Obj(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                write_j(out, v);
            }
            out.push('}');
        }
        J::Arr(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_j(out, v);
            }
            out.push(']');
        }
        J::Str(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
        J::Raw(r) => out.push_str(r),
        J::Null => out.push_str("null"),
    }
}

/// The JSON body of the data items, keys in the order given: `{"a":"1","n":2}`.
pub(crate) fn json_body(items: &[(String, Item)]) -> Result<String> {
    let mut root = J::Null;
    for (text, item) in items {
        let (key, value) = match item {
            Item::Text(k, v) => (k, J::Str(v.clone())),
            Item::Json(k, v) => (k, J::Raw(v.clone())),
            Item::File { .. } => {
                return Err(usage(format!(
                    "request item '{text}': file uploads need a form; add --form or --multipart"
                )));
            }
            _ => continue,
        };
        let segs = parse_path(text, key)?;
        set(&mut root, &segs, value, text)?;
    }
    if matches!(root, J::Null) {
        root = J::Obj(Vec::new());
    }
    let mut out = String::new();
    write_j(&mut out, &root);
    Ok(out)
}

/// An urlencoded form body: `a=1&b=x+y`.
pub(crate) fn form_body(items: &[(String, Item)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (_, item) in items {
        match item {
            Item::Text(k, v) | Item::Json(k, v) => {
                ser.append_pair(k, v);
            }
            _ => {}
        }
    }
    ser.finish()
}

/// A multipart/form-data body and its boundary (reqwest's multipart would stream the
/// body, which retries and `--offline` printing cannot clone or show).
pub(crate) fn multipart_body(items: &[(String, Item)]) -> Result<(Vec<u8>, String)> {
    let boundary = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let mut out: Vec<u8> = Vec::new();
    for (text, item) in items {
        match item {
            Item::Text(k, v) | Item::Json(k, v) => {
                let mut head = String::new();
                let _ = write!(
                    head,
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
                    quote(k)
                );
                out.extend_from_slice(head.as_bytes());
                out.extend_from_slice(v.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Item::File { field, path, mime } => {
                let data = read_file(text, &path.to_string_lossy())?;
                let name = file_name(path);
                let mime = mime.clone().unwrap_or_else(|| {
                    mime_guess::from_path(path)
                        .first_or_octet_stream()
                        .essence_str()
                        .to_string()
                });
                let head = format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {mime}\r\n\r\n",
                    quote(field),
                    quote(&name)
                );
                out.extend_from_slice(head.as_bytes());
                out.extend_from_slice(&data);
                out.extend_from_slice(b"\r\n");
            }
            _ => {}
        }
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok((out, boundary))
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &[&str]) -> Vec<(String, Item)> {
        list.iter()
            .map(|t| (t.to_string(), parse_item(t).expect("item")))
            .collect()
    }

    #[test]
    fn separators() {
        assert_eq!(
            parse_item("a=b").ok(),
            Some(Item::Text("a".into(), "b".into()))
        );
        assert_eq!(
            parse_item("n:=[1, 2]").ok(),
            Some(Item::Json("n".into(), "[1,2]".into()))
        );
        assert_eq!(
            parse_item("q==x=y").ok(),
            Some(Item::Query("q".into(), "x=y".into()))
        );
        assert_eq!(
            parse_item("X-A:1:2").ok(),
            Some(Item::Header("X-A".into(), "1:2".into()))
        );
        assert_eq!(
            parse_item("Accept:").ok(),
            Some(Item::RemoveHeader("Accept".into()))
        );
        assert_eq!(
            parse_item("X-E;").ok(),
            Some(Item::EmptyHeader("X-E".into()))
        );
        assert_eq!(
            parse_item("email=a@b.c").ok(),
            Some(Item::Text("email".into(), "a@b.c".into()))
        );
        assert_eq!(
            parse_item(r"a\=b=c").ok(),
            Some(Item::Text("a=b".into(), "c".into()))
        );
        assert!(parse_item("nothing").is_err());
        assert!(parse_item("x:={bad").is_err());
        assert!(parse_item("f@/no/such/file").is_err());
    }

    #[test]
    fn nested_json() {
        let body = json_body(&items(&[
            "a[b][0]=x",
            "a[b][1]:=2",
            "z=1",
            "t[]=p",
            "t[]=q",
        ]))
        .expect("json");
        assert_eq!(body, r#"{"a":{"b":["x",2]},"z":"1","t":["p","q"]}"#);
        let body = json_body(&items(&["k=1", "k=2"])).expect("json");
        assert_eq!(body, r#"{"k":["1","2"]}"#);
        assert!(json_body(&items(&["a=1", "a[b]=2"])).is_err());
    }

    #[test]
    fn form() {
        assert_eq!(form_body(&items(&["a=1", "b=x y&z"])), "a=1&b=x+y%26z");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parse_item_never_panics(text in "[a-z\\\\\\[\\]:=@ ]{0,16}") {
                if let Ok(item) = parse_item(&text) {
                    let list = vec![(text.clone(), item)];
                    let _ = json_body(&list);
                    let _ = form_body(&list);
                }
            }
        }
    }
}
