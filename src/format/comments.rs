//! Where each comment goes, and where a blank line separates paragraphs.
//!
//! A sequence (the file's statements, a block's entries, a `kpi`'s head, expression and
//! clauses) is a list of *parts*, each a byte range of the source. A comment between two
//! parts either ends the line of the part before it (a *trailing* comment) or stands on
//! its own line before the next part (a *leading* comment); one after the last part on a
//! line of its own is left over at the end. A comment inside a part cannot be placed
//! without reading the part token by token, so [`arrange`] refuses it and the caller
//! keeps that statement as written.

use std::ops::Range;

/// One `#` comment: where it is, and its text without trailing whitespace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comment<'a> {
    pub start: usize,
    pub end: usize,
    pub text: &'a str,
}

impl<'a> Comment<'a> {
    pub fn new(src: &'a str, range: Range<usize>) -> Comment<'a> {
        let text = src.get(range.clone()).unwrap_or("#").trim_end();
        Comment { start: range.start, end: range.end, text }
    }
}

/// One line of an arranged sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece<'a> {
    /// A comment on a line of its own.
    Comment(&'a str),
    /// Part number `index`, with the comment that ends its line.
    Part { index: usize, trailing: Option<Comment<'a>> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    /// The source has an empty line before this one.
    pub blank_before: bool,
    pub piece: Piece<'a>,
}

/// A comment sits inside a part, where the formatter cannot place it.
#[derive(Debug)]
pub struct Inside;

/// Parts and comments (both in source order) as lines. `comments` must lie in the
/// sequence's own text: after the first part starts and before the last part ends,
/// except at the top level, where comments before and after everything are allowed.
pub fn arrange<'a>(
    src: &str,
    parts: &[Range<usize>],
    comments: &[Comment<'a>],
) -> Result<Vec<Line<'a>>, Inside> {
    let mut lines: Vec<Line<'a>> = Vec::new();
    let mut comments = comments.iter().peekable();
    // End of the previous line's content, for blank-line detection.
    let mut prev_end: Option<usize> = None;
    let blank = |prev: Option<usize>, start: usize| {
        prev.is_some_and(|p| line_breaks(src.get(p..start).unwrap_or("")) >= 2)
    };
    for (index, part) in parts.iter().enumerate() {
        while let Some(c) = comments.next_if(|c| c.start < part.start) {
            if c.end > part.start {
                return Err(Inside);
            }
            lines.push(Line {
                blank_before: blank(prev_end, c.start),
                piece: Piece::Comment(c.text),
            });
            prev_end = Some(c.end);
        }
        if comments.peek().is_some_and(|c| c.start < part.end) {
            return Err(Inside);
        }
        let before_next = |c: &&Comment<'_>| parts.get(index + 1).is_none_or(|n| c.start < n.start);
        let trailing = comments.next_if(|c| same_line(src, part.end, c.start) && before_next(c));
        lines.push(Line {
            blank_before: blank(prev_end, part.start),
            piece: Piece::Part { index, trailing: trailing.copied() },
        });
        prev_end = Some(trailing.map_or(part.end, |c| c.end));
    }
    for c in comments {
        lines.push(Line { blank_before: blank(prev_end, c.start), piece: Piece::Comment(c.text) });
        prev_end = Some(c.end);
    }
    Ok(lines)
}

/// The comments of each part: leading comments before it, and its trailing comment.
/// Comments after the last part go to `after`.
#[derive(Debug, Default)]
pub struct PerPart<'a> {
    pub leading: Vec<Vec<&'a str>>,
    pub trailing: Vec<Option<&'a str>>,
    pub after: Vec<&'a str>,
}

impl<'a> PerPart<'a> {
    pub fn new(parts: usize, lines: &[Line<'a>]) -> PerPart<'a> {
        let mut per = PerPart {
            leading: vec![Vec::new(); parts],
            trailing: vec![None; parts],
            after: Vec::new(),
        };
        let mut pending = Vec::new();
        for line in lines {
            match &line.piece {
                Piece::Comment(text) => pending.push(*text),
                Piece::Part { index, trailing } => {
                    if let Some(slot) = per.leading.get_mut(*index) {
                        slot.append(&mut pending);
                    }
                    if let Some(slot) = per.trailing.get_mut(*index) {
                        *slot = trailing.map(|c| c.text);
                    }
                }
            }
        }
        per.after = pending;
        per
    }
}

/// The end of `range` as far as the comments allow: code cannot end inside a comment
/// (or with one), so a span that runs on into a comment stops before it.
pub fn clamp_end(src: &str, range: &Range<usize>, comments: &[Comment<'_>]) -> usize {
    let mut end = range.end.min(src.len());
    while let Some(c) = comments.get(comments.partition_point(|c| c.end < end))
        && c.start < end
        && c.start > range.start
    {
        end = src[..c.start].trim_end().len().max(range.start);
    }
    end
}

/// No line break between `from` and `to`.
pub fn same_line(src: &str, from: usize, to: usize) -> bool {
    src.get(from..to).is_some_and(|s| !s.contains(['\n', '\r']))
}

/// Line breaks in `s`: `\n`, `\r\n` and a lone `\r` each count one.
pub fn line_breaks(s: &str) -> usize {
    let bytes = s.as_bytes();
    (0..bytes.len())
        .filter(|&i| match bytes[i] {
            b'\n' => true,
            b'\r' => bytes.get(i + 1) != Some(&b'\n'),
            _ => false,
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comments(src: &str) -> Vec<Comment<'_>> {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(at) = src[from..].find('#') {
            let start = from + at;
            let end = src[start..].find('\n').map_or(src.len(), |n| start + n);
            out.push(Comment::new(src, start..end));
            from = end;
        }
        out
    }

    fn range(src: &str, word: &str) -> Range<usize> {
        let at = src.find(word).unwrap_or_else(|| panic!("{word} not in {src}"));
        at..at + word.len()
    }

    #[test]
    fn leading_trailing_and_left_over_comments() {
        let src = "# a\nAAA # b\n\n# c\n\n\nBBB\n# d\n";
        let parts = [range(src, "AAA"), range(src, "BBB")];
        let lines = arrange(src, &parts, &comments(src)).unwrap_or_default();
        let shown: Vec<String> = lines
            .iter()
            .map(|l| {
                let blank = if l.blank_before { "| " } else { "" };
                match &l.piece {
                    Piece::Comment(t) => format!("{blank}{t}"),
                    Piece::Part { index, trailing } => {
                        format!("{blank}{index} {:?}", trailing.map(|c| c.text))
                    }
                }
            })
            .collect();
        assert_eq!(shown, ["# a", "0 Some(\"# b\")", "| # c", "| 1 None", "# d"]);
    }

    #[test]
    fn a_comment_inside_a_part_is_refused() {
        let src = "AAA # b\nCCC\n";
        let parts = [range(src, "AAA # b\nCCC")];
        assert!(arrange(src, &parts, &comments(src)).is_err());
        // also when the part starts on the line of the one before
        let src = "AAA BBB # b\nCCC\n";
        let parts = [range(src, "AAA"), 4..src.len() - 1];
        assert!(arrange(src, &parts, &comments(src)).is_err());
    }

    #[test]
    fn every_line_ending_counts_once() {
        assert_eq!(line_breaks("a\nb\r\nc\rd"), 3);
        assert!(same_line("a  # b", 1, 3));
        assert!(!same_line("a\r# b", 1, 2));
    }
}
