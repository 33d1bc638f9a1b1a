//! [`LoadError`], and the escaping that keeps cell text from reaching a terminal raw.

use std::fmt::{self, Write as _};

/// A data-loading error with everything needed to find the offending bytes.
///
/// `Display` renders one line, `path:line: column `c` (record n): message`, leaving out the parts
/// that are `None`; `help` is not part of it (the caller renders it on its own line). The column
/// is shown only with a record: header errors name their column in the message. Errors about the
/// file as a whole (`cannot open …`) already name the path in `message`, and `Display` does not
/// repeat it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The path as given by the caller (display form).
    pub path: String,
    /// 1-based physical line in the file where the offending record or cell starts, counting
    /// LF, CRLF and lone CR each as one line break; blank lines, a BOM and newlines inside quoted
    /// fields are all accounted for.
    pub line: Option<u64>,
    /// 1-based data record number; the header is not a record and blank lines are not counted.
    pub record: Option<u64>,
    /// The column's name from the header.
    pub column: Option<String>,
    /// The raw cell, control characters escaped (`\u{1b}`), invalid UTF-8 shown as `\xff`, cut
    /// to about 60 characters (see [`escape_value`]).
    pub value: Option<String>,
    /// What went wrong: lowercase, no trailing period, names and values in backticks.
    pub message: String,
    /// A suggested fix, if there is one.
    pub help: Option<String>,
}

impl LoadError {
    /// An error about the file as a whole, with no position.
    pub(crate) fn file(path: &str, message: impl Into<String>) -> Self {
        LoadError {
            path: path.to_owned(),
            line: None,
            record: None,
            column: None,
            value: None,
            message: message.into(),
            help: None,
        }
    }

    /// An error at a physical line.
    pub(crate) fn at(path: &str, line: u64, message: impl Into<String>) -> Self {
        LoadError { line: Some(line), ..LoadError::file(path, message) }
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn with_column(mut self, column: &str) -> Self {
        self.column = Some(column.to_owned());
        self
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole_file = self.line.is_none()
            && self.record.is_none()
            && self.column.is_none()
            && !self.path.is_empty()
            && self.message.contains(self.path.as_str());
        // Paths, column names and messages can hold any text from the file or the user:
        // control characters are escaped so they cannot drive a terminal.
        let clean = |s: &str| crate::render::escape::sanitize(s);
        if !whole_file {
            f.write_str(&clean(&self.path))?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        }
        // Header-level errors name their column in the message already.
        match (&self.column, self.record) {
            (Some(c), Some(r)) => write!(f, "column `{}` (record {r}): ", clean(c))?,
            (None, Some(r)) => write!(f, "record {r}: ")?,
            (_, None) => {}
        }
        f.write_str(&clean(&self.message))
    }
}

impl std::error::Error for LoadError {}

/// Longest value shown in a message, in characters (before escaping).
const MAX_SHOWN: usize = 60;

/// Renders raw cell bytes for a message: control characters and bidirectional-text controls as
/// `\u{1b}`, bytes that are not UTF-8 as `\xff`, backslashes as `\\`, and anything past 60
/// characters replaced by `…`. The result never contains a raw control character.
#[must_use]
pub fn escape_value(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_SHOWN * 2) + 8);
    let mut shown = 0;
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if shown == MAX_SHOWN {
                out.push('…');
                return out;
            }
            shown += 1;
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            if shown == MAX_SHOWN {
                out.push('…');
                return out;
            }
            shown += 1;
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Escapes a name or other text for display (same rules as [`escape_value`], no length cut).
pub(crate) fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    if c == '\\' {
        out.push_str("\\\\");
    } else if crate::render::escape::is_unsafe(c) {
        let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err() -> LoadError {
        LoadError {
            path: "data/calls.csv".into(),
            line: Some(14),
            record: Some(13),
            column: Some("wait_s".into()),
            value: Some("12,5".into()),
            message: "cannot parse `12,5` as number".into(),
            help: Some("use `.` as the decimal separator".into()),
        }
    }

    #[test]
    fn display_has_path_line_column_record_and_message_but_not_help() {
        assert_eq!(
            err().to_string(),
            "data/calls.csv:14: column `wait_s` (record 13): cannot parse `12,5` as number"
        );
    }

    #[test]
    fn display_leaves_out_missing_parts() {
        let e = LoadError { column: None, ..err() };
        assert_eq!(e.to_string(), "data/calls.csv:14: record 13: cannot parse `12,5` as number");
        let e = LoadError::file("x.csv", "empty file: expected a header row");
        assert_eq!(e.to_string(), "x.csv: empty file: expected a header row");
        let e = LoadError::at("x.csv", 3, "boom").with_column("a");
        assert_eq!(e.to_string(), "x.csv:3: boom");
    }

    #[test]
    fn display_does_not_repeat_a_path_the_message_names() {
        let e = LoadError::file("d.csv", "cannot open d.csv: No such file or directory");
        assert_eq!(e.to_string(), "cannot open d.csv: No such file or directory");
    }

    #[test]
    fn escape_value_escapes_controls_and_bad_utf8() {
        assert_eq!(escape_value(b"a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(escape_value(b"nul\0"), "nul\\u{0}");
        assert_eq!(escape_value(b"tab\tnl\ncr\r"), "tab\\u{9}nl\\u{a}cr\\u{d}");
        assert_eq!(escape_value(b"\xff\xfeok"), "\\xff\\xfeok");
        assert_eq!(escape_value("é—\u{202e}".as_bytes()), "é—\\u{202e}");
        assert_eq!(escape_value(b"back\\slash"), "back\\\\slash");
    }

    #[test]
    fn escape_value_cuts_at_60_characters() {
        let long = "x".repeat(100);
        let shown = escape_value(long.as_bytes());
        assert_eq!(shown, format!("{}…", "x".repeat(60)));
        assert_eq!(escape_value("é".repeat(60).as_bytes()), "é".repeat(60));
        // Bytes that are not UTF-8 count too, one each.
        let bad = [0xffu8; 100];
        assert_eq!(escape_value(&bad), format!("{}…", "\\xff".repeat(60)));
        let mixed: Vec<u8> = b"ab".iter().copied().chain([0xfe; 70]).collect();
        assert_eq!(escape_value(&mixed), format!("ab{}…", "\\xfe".repeat(58)));
    }
}
