//! Whether typed input is unfinished, so a REPL keeps reading lines: an open bracket,
//! string or `{ }` block, or a last token that needs something after it (an operator,
//! `=`, `,`, or a keyword such as `and`, `where`, `with`). A mistake elsewhere does not
//! make input incomplete: it is finished, and wrong.

/// Keywords after which a statement cannot end.
const CONTINUES: &[&str] = &[
    "and", "or", "not", "where", "with", "by", "guard", "weights", "target", "warn", "unit",
    "tags", "min", "case", "when", "then", "else", "in", "is", "over", "within",
];

pub fn is_incomplete(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut depth: i64 = 0;
    let mut i = 0;
    let mut last = String::new();
    let mut open_case = 0i64;
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
                    last = "\"".into();
                    continue;
                }
                None => return true,
            },
            b'"' => {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != b'"' && bytes[j] != b'\n' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                // A plain string cannot span lines: an unclosed one is an error, not more input.
                i = j + 1;
                last = "\"".into();
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            _ => {}
        }
        if b.is_ascii_alphanumeric() || b == b'_' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
            {
                i += 1;
            }
            last = text[start..i].to_string();
            match last.as_str() {
                "case" => open_case += 1,
                "end" => open_case -= 1,
                _ => {}
            }
            continue;
        }
        if !b.is_ascii_whitespace() {
            last = (b as char).to_string();
        }
        i += 1;
    }
    if depth > 0 || open_case > 0 {
        return true;
    }
    matches!(last.as_str(), "=" | "+" | "-" | "*" | "/" | "<" | ">" | "," | "!")
        || CONTINUES.contains(&last.as_str())
}

#[cfg(test)]
mod tests {
    use super::is_incomplete;

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
}
