//! A single pass over the source before pest runs. It finds what pest would either
//! report badly or not survive:
//!
//! - strings that are never closed (reported at the opening quote, not at the end of
//!   the file),
//! - control characters outside strings (never echoed raw to a terminal),
//! - nesting deeper than [`MAX_NESTING`]: open brackets plus runs of prefix operators
//!   (`- - - x`, `not not x`), each of which costs a level of recursion later.
//!
//! It also collects the spans of `#` comments for the formatter.

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// Deepest nesting of brackets and prefix operators accepted, in every build and on
/// every thread: the same input gives the same answer in debug, release and embedded use.
pub const MAX_NESTING: usize = 256;

pub struct Scan {
    pub comments: Vec<Span>,
    pub errors: Vec<Diagnostic>,
}

pub fn scan(file: FileId, text: &str) -> Scan {
    let bytes = text.as_bytes();
    let span = |a: usize, b: usize| Span::new(file, a, b);
    let mut comments = Vec::new();
    let mut errors = Vec::new();
    let mut depth = 0usize;
    let mut prefix_run = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'#' => {
                let end = bytes[i..]
                    .iter()
                    .position(|&c| c == b'\n' || c == b'\r')
                    .map_or(bytes.len(), |n| i + n);
                comments.push(span(i, end));
                control_chars(text, i, end, file, &mut errors);
                i = end;
                continue;
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                match find(bytes, i + 3, b"\"\"\"") {
                    Some(end) => i = end + 3,
                    None => {
                        errors.push(unterminated(span(i, i + 3)));
                        break;
                    }
                }
                prefix_run = 0;
                continue;
            }
            b'"' => {
                match plain_string_end(bytes, i + 1) {
                    Some(end) => i = end + 1,
                    None => {
                        errors.push(unterminated(span(i, i + 1)));
                        // The rest of the line is part of the broken string; go on from the
                        // next line so one mistake is one error.
                        i = bytes[i..]
                            .iter()
                            .position(|&c| c == b'\n')
                            .map_or(bytes.len(), |n| i + n);
                    }
                }
                prefix_run = 0;
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                prefix_run = 0;
                if depth > MAX_NESTING {
                    errors.push(too_deep(span(i, i + 1)));
                    break;
                }
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                prefix_run = 0;
            }
            b'-' if bytes.get(i + 1) != Some(&b'>') => {
                prefix_run += 1;
                if depth + prefix_run > MAX_NESTING {
                    errors.push(too_deep(span(i, i + 1)));
                    break;
                }
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ if b.is_ascii_alphanumeric() || b == b'_' => {
                let end = bytes[i..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map_or(bytes.len(), |n| i + n);
                if &bytes[i..end] == b"not" {
                    prefix_run += 1;
                    if depth + prefix_run > MAX_NESTING {
                        errors.push(too_deep(span(i, end)));
                        break;
                    }
                } else {
                    prefix_run = 0;
                }
                i = end;
                continue;
            }
            _ => {
                prefix_run = 0;
                if b < 0x20 || b == 0x7f {
                    errors.push(control_char(span(i, i + 1), char::from(b)));
                    if errors.len() >= 10 {
                        break;
                    }
                }
            }
        }
        i += 1;
    }
    Scan { comments, errors }
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|n| from + n)
}

/// Index of the closing quote of a plain string whose body starts at `from`.
fn plain_string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some(i),
            b'\\' => i += 2,
            b'\n' | b'\r' => return None,
            _ => i += 1,
        }
    }
    None
}

fn control_chars(text: &str, start: usize, end: usize, file: FileId, errors: &mut Vec<Diagnostic>) {
    for (k, c) in text[start..end].char_indices() {
        if c.is_control() && c != '\t' {
            errors.push(control_char(Span::new(file, start + k, start + k + c.len_utf8()), c));
        }
    }
}

fn unterminated(at: Span) -> Diagnostic {
    Diagnostic::error(Code::UnterminatedString, "unterminated string")
        .at(at, "string starts here and is never closed")
        .help("close it with a matching quote; use `\"\"\"` for text over several lines")
}

fn too_deep(at: Span) -> Diagnostic {
    Diagnostic::error(Code::TooDeep, format!("expression nested deeper than {MAX_NESTING} levels"))
        .at(at, "this level is too deep")
        .help("split the expression into several KPIs")
}

fn control_char(at: Span, c: char) -> Diagnostic {
    Diagnostic::error(
        Code::ControlCharacter,
        format!("control character `{}` in source", c.escape_unicode()),
    )
    .at(at, "not allowed outside a string")
}
