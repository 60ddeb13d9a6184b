//! Names in certificates as a person reads them: distinguished names with
//! RFC 4514 escaping and the subject alternative names, every field passed
//! through [`crate::text::escape`] (a certificate is peer-supplied text).
//! A leaf of `tls/`: the verifier, the error sentences and `tls inspect` use it.

use crate::text::{Keep, escape, escape_str};
use std::fmt::Write;
use x509_parser::asn1_rs::Tag;
use x509_parser::prelude::*;

/// A distinguished name as `CN=x, O=y` (certificate order, as openssl prints it),
/// each value escaped as RFC 4514 says (`O=R\"S\,A\=x`) and control characters
/// escaped as [`escape`] does, so one field can neither look like two nor forge a line.
pub(crate) fn distinguished_name(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for (i, rdn) in name.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push_str(" + ");
            }
            let kind = oid2abbrev(attr.attr_type(), oid_registry())
                .map(str::to_string)
                .unwrap_or_else(|_| attr.attr_type().to_id_string());
            out.push_str(&kind);
            out.push('=');
            out.push_str(&attribute_value(attr));
        }
    }
    out
}

/// One attribute value: a string escaped per RFC 4514, anything else as `#HEX`.
fn attribute_value(attr: &AttributeTypeAndValue<'_>) -> String {
    let value = attr.attr_value();
    let text = match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString
        | Tag::T61String => Some(value.data),
        _ => None,
    };
    match text {
        // RFC 4514 first (on the raw bytes), then control characters: a
        // backslash in the value is doubled, so `\n` can only be the escape.
        Some(bytes) => escape(&rfc4514(bytes), Keep::Nothing).into_owned(),
        None => {
            let mut hex = String::from("#");
            for b in value.data {
                let _ = write!(hex, "{b:02x}");
            }
            hex
        }
    }
}

/// RFC 4514 section 2.4: a backslash before `" + , ; < > \ =`, before a leading
/// `#` or space and before a trailing space.
fn rfc4514(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 4);
    let last = value.len().saturating_sub(1);
    for (i, &c) in value.iter().enumerate() {
        let special = matches!(c, b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'\\' | b'=')
            || (i == 0 && (c == b'#' || c == b' '))
            || (i == last && c == b' ');
        if special {
            out.push(b'\\');
        }
        out.push(c);
    }
    out
}

/// The subject alternative names of a parsed certificate as `(kind, name)`:
/// `("DNS", "localhost")`, `("IP", "127.0.0.1")`, each name escaped.
pub(crate) fn alt_names(x: &X509Certificate<'_>) -> Vec<(&'static str, String)> {
    let mut names = Vec::new();
    let Ok(Some(ext)) = x.subject_alternative_name() else {
        return names;
    };
    for name in &ext.value.general_names {
        names.push(match name {
            GeneralName::DNSName(d) => ("DNS", escape_str(d, Keep::Nothing).into_owned()),
            GeneralName::IPAddress(b) => ("IP", ip_text(b)),
            GeneralName::RFC822Name(m) => ("email", escape_str(m, Keep::Nothing).into_owned()),
            GeneralName::URI(u) => ("URI", escape_str(u, Keep::Nothing).into_owned()),
            GeneralName::DirectoryName(n) => ("DirName", distinguished_name(n)),
            other => (
                "other",
                escape_str(&format!("{other:?}"), Keep::Nothing).into_owned(),
            ),
        });
    }
    names
}

/// The names of a DER certificate, bare (`localhost`, `127.0.0.1`), for
/// "the certificate is for ..." sentences; unparsable: none.
pub(crate) fn names_of(der: &[u8]) -> Vec<String> {
    match parse_x509_certificate(der) {
        Ok((_, x)) => alt_names(&x).into_iter().map(|(_, n)| n).collect(),
        Err(_) => Vec::new(),
    }
}

fn ip_text(b: &[u8]) -> String {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        return std::net::Ipv4Addr::from(a).to_string();
    }
    if let Ok(a) = <[u8; 16]>::try_from(b) {
        return std::net::Ipv6Addr::from(a).to_string();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::rfc4514;

    #[test]
    fn rfc4514_escapes_specials_and_edges() {
        let r = |s: &str| String::from_utf8(rfc4514(s.as_bytes())).expect("utf-8");
        assert_eq!(r("R\"S,A=x"), "R\\\"S\\,A\\=x");
        assert_eq!(r("#lead "), "\\#lead\\ ");
        assert_eq!(r(" a+b;<c>\\"), "\\ a\\+b\\;\\<c\\>\\\\");
        assert_eq!(r("plain"), "plain");
    }
}
