//! Peer-supplied text made safe to show a person: whatever a peer sends
//! (a chat line, a datagram, a certificate field) must not move the cursor,
//! recolour the terminal, set its title or forge a line of our own report.

use std::borrow::Cow;
use std::fmt::Write;

/// What [`escape`] leaves as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Nothing: newlines and tabs are escaped too, so the text stays on one line
    /// (certificate fields, `Received from ...` lines).
    Nothing,
    /// Line feeds and tabs (multi-line messages, e.g. chat relays).
    Lines,
}

/// `bytes` as text with every control character escaped: C0 controls and DEL as
/// `\n`, `\r`, `\t` or `\xNN`, C1 controls and Unicode bidirectional overrides as
/// `\u{NNNN}`, and bytes that are not UTF-8 as `\xNN`. Printable text, including
/// non-ASCII letters, is kept; borrowed when nothing needed escaping.
pub fn escape(bytes: &[u8], keep: Keep) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| needs_escape(c, keep)) => Cow::Borrowed(text),
        _ => Cow::Owned(escape_owned(bytes, keep)),
    }
}

/// [`escape`] for text that is already a `str`.
pub fn escape_str(text: &str, keep: Keep) -> Cow<'_, str> {
    escape(text.as_bytes(), keep)
}

fn needs_escape(c: char, keep: Keep) -> bool {
    match c {
        '\n' | '\t' => keep == Keep::Nothing,
        // Bidirectional embeddings, overrides and isolates reorder what follows them.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => c.is_control(),
    }
}

fn escape_owned(mut bytes: &[u8], keep: Keep) -> String {
    let mut out = String::with_capacity(bytes.len() + 16);
    while !bytes.is_empty() {
        let (valid, rest) = match std::str::from_utf8(bytes) {
            Ok(text) => (text, &[][..]),
            Err(e) => {
                let (head, tail) = bytes.split_at(e.valid_up_to());
                // `valid_up_to` marks where valid UTF-8 ends, so `head` is valid.
                (std::str::from_utf8(head).unwrap_or_default(), tail)
            }
        };
        for c in valid.chars() {
            push_char(&mut out, c, keep);
        }
        if let Some((bad, tail)) = rest.split_first() {
            let _ = write!(out, "\\x{bad:02x}");
            bytes = tail;
        } else {
            bytes = rest;
        }
    }
    out
}

fn push_char(out: &mut String, c: char, keep: Keep) {
    if !needs_escape(c, keep) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\n' => write!(out, "\\n"),
        '\r' => write!(out, "\\r"),
        '\t' => write!(out, "\\t"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:04x}}}", c as u32),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            escape(b"hello, world", Keep::Nothing),
            Cow::Borrowed("hello, world")
        ));
        assert!(matches!(
            escape("Grüße".as_bytes(), Keep::Nothing),
            Cow::Borrowed("Grüße")
        ));
    }

    #[test]
    fn terminal_sequences_are_escaped() {
        let evil = b"Evil Org\nverified    yes\n\x1b[32mOK\x1b]0;owned\x07";
        assert_eq!(
            escape(evil, Keep::Nothing),
            "Evil Org\\nverified    yes\\n\\x1b[32mOK\\x1b]0;owned\\x07"
        );
        assert_eq!(escape(b"a\nb\tc\r\n", Keep::Lines), "a\nb\tc\\r\n");
        assert_eq!(escape(b"\x7f", Keep::Lines), "\\x7f");
    }

    #[test]
    fn c1_bidi_and_invalid_utf8_are_escaped() {
        assert_eq!(escape_str("a\u{9b}2J", Keep::Nothing), "a\\u{009b}2J");
        assert_eq!(
            escape_str("txt.\u{202e}exe", Keep::Nothing),
            "txt.\\u{202e}exe"
        );
        assert_eq!(escape(b"ok\xff\xfeok", Keep::Nothing), "ok\\xff\\xfeok");
    }

    proptest! {
        #[test]
        fn output_never_holds_a_control_character(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let out = escape(&bytes, Keep::Nothing);
            prop_assert!(!out.chars().any(|c| c.is_control()));
            let lines = escape(&bytes, Keep::Lines);
            prop_assert!(!lines.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
        }
    }
}
