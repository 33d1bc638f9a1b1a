//! Text from KPI files and CSV data made safe to show: control characters and
//! bidirectional-text controls cannot drive a terminal, reorder what is shown, or break a
//! table's lines.
//!
//! One rule, [`is_unsafe`], behind every form: `\u{1b}` for people ([`sanitize`],
//! [`sanitize_line`]; the loader's messages use it too) and `\u001b` inside JSON strings
//! ([`json`]), which keeps the JSON's meaning. CSV output is not escaped: it is data.

use std::fmt::Write as _;

/// Characters never shown raw: C0 controls, DEL, C1 controls (U+009B is CSI on terminals
/// that honour 8-bit controls), the bidirectional-text controls (marks, embeddings,
/// overrides and isolates: U+202E makes the rest of a line read right to left), and the
/// invisible spaces that make two different names look the same (a second byte-order
/// mark U+FEFF in a header, U+200B, U+2060). Joiners (U+200C, U+200D) stay: scripts and
/// emoji need them.
#[must_use]
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{61c}'
                | '\u{200b}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// Escapes unsafe characters as `\u{1b}`, keeping line breaks: for messages, whose line
/// breaks are part of their layout.
#[must_use]
pub fn sanitize(s: &str) -> String {
    escape(s, true)
}

/// Escapes unsafe characters as `\u{1b}`, line breaks included: for text shown on one line
/// (a table cell, a label, a group key, a note, a test name, a path).
#[must_use]
pub fn sanitize_line(s: &str) -> String {
    escape(s, false)
}

fn escape(s: &str, keep_newline: bool) -> String {
    if !s.chars().any(is_unsafe) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) && !(keep_newline && c == '\n') {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Escapes, in serialized JSON, the unsafe characters `serde_json` writes raw (DEL, C1 and
/// bidirectional controls) as `\u007f`. Outside strings JSON is ASCII, so every such
/// character is inside a string, where the escape means the same character. (`serde_json`
/// escapes U+0000–U+001F itself; those left are the layout's line breaks and indents.)
#[must_use]
pub fn json(serialized: String) -> String {
    let raw = |c: char| c >= ' ' && is_unsafe(c);
    if !serialized.chars().any(raw) {
        return serialized;
    }
    let mut out = String::with_capacity(serialized.len() + 16);
    for c in serialized.chars() {
        if raw(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_controls_are_escaped_for_people() {
        assert_eq!(sanitize("a\u{1b}[31m\u{9b}\u{7f}b"), "a\\u{1b}[31m\\u{9b}\\u{7f}b");
        assert_eq!(sanitize("rtl\u{202e}x\u{2066}"), "rtl\\u{202e}x\\u{2066}");
        assert_eq!(sanitize("tab\tcr\r"), "tab\\u{9}cr\\u{d}");
        assert_eq!(sanitize("é — 🙂 \\"), "é — 🙂 \\");
        assert_eq!(sanitize("\u{feff}calls\u{200b}"), "\\u{feff}calls\\u{200b}");
        assert_eq!(sanitize("👩\u{200d}💻"), "👩\u{200d}💻", "a joiner is kept");
    }

    #[test]
    fn line_breaks_are_kept_in_messages_and_escaped_on_one_line() {
        assert_eq!(sanitize("a\nb"), "a\nb");
        assert_eq!(sanitize_line("multi\nline"), "multi\\u{a}line");
    }

    #[test]
    fn json_escapes_keep_the_meaning() {
        let value = "lab\u{1b}[31m\u{9b}\u{7f}\u{202e}\\\u{85}";
        let text = json(serde_json::to_string(value).unwrap());
        assert!(!text.chars().any(is_unsafe), "{text:?}");
        let pretty = json(serde_json::to_string_pretty(&[value]).unwrap());
        assert_eq!(serde_json::from_str::<Vec<String>>(&pretty).unwrap(), [value]);
        assert_eq!(text, r#""lab\u001b[31m\u009b\u007f\u202e\\\u0085""#);
        assert_eq!(serde_json::from_str::<String>(&text).unwrap(), value);
    }
}
