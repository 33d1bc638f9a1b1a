//! Whether typed input is unfinished, so a REPL keeps reading lines: an open bracket,
//! string or `{ }` block, or a last token that needs something after it (an operator,
//! `=`, `,`, or a keyword such as `and`, `where`, `with`). A mistake elsewhere does not
//! make input incomplete: it is finished, and wrong.

/// Keywords after which a statement cannot end.
const CONTINUES: &[&str] = &[
    "and", "or", "not", "where", "with", "by", "guard", "weights", "target", "warn", "unit",
    "tags", "min", "case", "when", "then", "else", "in", "is", "over", "within",
];

/// Words and operators that cannot start a statement or a query, so a line starting with
/// one goes on the statement before it: the clauses of a `kpi` or `blend` written on their
/// own lines (`    unit seconds`, `    target <= 6m`, `    with csat`), and an expression
/// broken before an operator (`    + count(surveys)`). `min` only before a number (`min(`
/// starts a query).
pub fn continues_statement(line: &str) -> bool {
    let t = line.trim_start();
    let word: String = t.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    let rest = t[word.len()..].trim_start();
    match word.as_str() {
        "" => t.starts_with(['+', '*', '/', '=', '<', '>', '!']),
        "min" => rest.starts_with(|c: char| c.is_ascii_digit()),
        w => {
            [
                "and", "or", "where", "with", "by", "guard", "weights", "target", "warn", "unit",
                "tags",
            ]
            .contains(&w)
                && !rest.starts_with('(')
        }
    }
}

pub fn is_incomplete(text: &str) -> bool {
    let mut scan = Incomplete::default();
    scan.feed(text);
    scan.is_incomplete()
}

/// [`is_incomplete`] a line at a time: each line fed is scanned once, so a script that
/// keeps a statement open for many lines costs what its length does, not its square.
/// Lines must be fed whole (a `"""` never straddles two feeds).
#[derive(Debug, Default, Clone)]
pub struct Incomplete {
    depth: i64,
    open_case: i64,
    /// The last token: a word, or one punctuation character.
    last: String,
    /// The statement is a `blend` that has not named its second component yet (`blend b =
    /// aht`, then `with csat` on the next line): a blend needs `with`.
    blend: Option<bool>,
    /// Inside a `"""` string that has not closed yet.
    in_triple: bool,
}

impl Incomplete {
    pub fn feed(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        if self.in_triple {
            match text.find("\"\"\"") {
                Some(n) => {
                    i = n + 3;
                    self.in_triple = false;
                    self.last = "\"".into();
                }
                None => return,
            }
        }
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'"' if bytes[i..].starts_with(b"\"\"\"") => match text[i + 3..].find("\"\"\"") {
                    Some(n) => {
                        i += n + 6;
                        self.last = "\"".into();
                        continue;
                    }
                    None => {
                        self.in_triple = true;
                        return;
                    }
                },
                b'"' => {
                    let mut j = i + 1;
                    while j < bytes.len() && bytes[j] != b'"' && bytes[j] != b'\n' {
                        j += if bytes[j] == b'\\' { 2 } else { 1 };
                    }
                    // A plain string cannot span lines: an unclosed one is an error, not
                    // more input.
                    i = j + 1;
                    self.last = "\"".into();
                    continue;
                }
                b'(' | b'[' | b'{' => self.depth += 1,
                b')' | b']' | b'}' => self.depth -= 1,
                _ => {}
            }
            if b.is_ascii_alphanumeric() || b == b'_' {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
                {
                    i += 1;
                }
                let word = &text[start..i];
                match word {
                    "case" => self.open_case += 1,
                    "end" => self.open_case -= 1,
                    _ => {}
                }
                match self.blend {
                    None => self.blend = Some(word == "blend"),
                    Some(true) if word == "with" => self.blend = Some(false),
                    _ => {}
                }
                word.clone_into(&mut self.last);
                continue;
            }
            if !b.is_ascii_whitespace() {
                self.last.clear();
                self.last.push(b as char);
            }
            i += 1;
        }
    }

    /// A `blend` without `with` yet: at a prompt, the next line may name the other
    /// components (`with csat`). Not part of [`Incomplete::is_incomplete`]: a script
    /// that forgot `with` would read on to its end (a script's lines are joined by
    /// [`continues_statement`] instead).
    pub fn awaits_with(&self) -> bool {
        self.blend == Some(true) && self.depth == 0 && !self.in_triple
    }

    pub fn is_incomplete(&self) -> bool {
        // Past the nesting limit the statement is an error however it goes on: finish it,
        // so the parser says so, instead of reading on.
        let limit = i64::try_from(super::MAX_NESTING).unwrap_or(i64::MAX);
        if self.depth > limit || self.open_case > limit {
            return false;
        }
        if self.in_triple || self.depth > 0 || self.open_case > 0 {
            return true;
        }
        matches!(self.last.as_str(), "=" | "+" | "-" | "*" | "/" | "<" | ">" | "," | "!")
            || CONTINUES.contains(&self.last.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{Incomplete, continues_statement, is_incomplete};

    #[test]
    fn lines_that_go_on_the_statement_before() {
        for line in [
            "    unit seconds",
            "target <= 6m  warn <= 7m",
            "  with csat",
            "    + count(t)",
            "min 30",
            "  tags north_star",
            "guard csat >= 4",
            "and x > 1",
            "<= 5",
        ] {
            assert!(continues_statement(line), "{line}");
        }
        for line in [
            "aht",
            "min(calls.wait_s)",
            "kpi x = 1",
            "-aht",
            "not x",
            ":load f",
            "",
            "# unit",
            "target_rate",
            "unit(1)",
            "\"unit\"",
        ] {
            assert!(!continues_statement(line), "{line}");
        }
    }

    #[test]
    fn open_brackets_strings_and_trailing_operators_continue() {
        assert!(is_incomplete("kpi x = avg(calls.wait_s"));
        assert!(is_incomplete("kpi x ="));
        assert!(is_incomplete("kpi x = a +"));
        assert!(is_incomplete("blend a with"));
        assert!(is_incomplete("test \"t\" {\n  calls = csv \"\"\"\n a,b"));
        assert!(is_incomplete("kpi w = sum(case calls.c when \"a\" then 1"));
        assert!(!is_incomplete("kpi x = avg(calls.wait_s)"));
        assert!(!is_incomplete("aht, csat by site"));
        assert!(
            !is_incomplete("kpi s = \"unclosed"),
            "an unclosed plain string is an error, not more input"
        );
        assert!(!is_incomplete("kpi x = avg(calls.wait_s))"), "a stray `)` is an error");
        assert!(!is_incomplete("kpi x = 1 # trailing comment with ("));
    }

    #[test]
    fn fed_a_line_at_a_time_it_says_what_the_whole_text_does() {
        let texts = [
            "test \"t\" {\n  calls = csv \"\"\"\n a,b\n 1,2\n \"\"\"\n  expect n == 1\n}\n",
            "kpi w = sum(case calls.c\n when \"a\" then 1\n else 2 end)\n",
            "kpi x = a +\n b # (\n",
            "blend a with\n b guard b >= 1\n",
        ];
        for text in texts {
            let mut scan = Incomplete::default();
            for (n, line) in text.split_inclusive('\n').enumerate() {
                scan.feed(line);
                let so_far: String = text.split_inclusive('\n').take(n + 1).collect();
                assert_eq!(scan.is_incomplete(), is_incomplete(&so_far), "{so_far:?}");
            }
        }
    }

    #[test]
    fn past_the_nesting_limit_input_is_finished() {
        let deep = "(".repeat(crate::syntax::MAX_NESTING);
        assert!(is_incomplete(&format!("kpi k = {deep}")));
        assert!(!is_incomplete(&format!("kpi k = {deep}(")));
    }
}
