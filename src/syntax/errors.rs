//! pest errors to diagnostics in words analysts know: what was expected, what was found,
//! and a hint when the cause is common.

use super::Rule;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// A pest error in words: what was expected (rule names mapped to human words), what was
/// found, and where.
pub fn syntax_error(
    file: FileId,
    offset: usize,
    text: &str,
    err: &pest::error::Error<Rule>,
) -> Diagnostic {
    let at = match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((a, _)) => a,
    };
    let found = found_token(text, at);
    let expected = match &err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut words: Vec<&str> = positives.iter().map(|r| describe(*r)).collect();
            words.sort_unstable();
            words.dedup();
            words
        }
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    // `)` where something else was expected is "unmatched" only when nothing opened it:
    // in `f(1,)` or `case(x)` it closes a bracket, and the mistake is before it.
    let closing = matches!(found.as_str(), "`)`" | "`]`" | "`}`")
        && open_brackets(text, super::statement_start_before(text, 0, at), at) == 0;
    let message = if closing {
        format!("unmatched {found}")
    } else if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    let end =
        (at + text[at.min(text.len())..].chars().next().map_or(0, char::len_utf8)).min(text.len());
    let label = if closing { "nothing opens this" } else { "unexpected here" };
    let mut d = Diagnostic::error(Code::Syntax, message)
        .at(Span::new(file, offset + at, offset + end), label);
    if let Some(help) = syntax_help(text, at) {
        d = d.help(help);
    }
    d
}

/// Brackets opened and not yet closed in `text[from..to]`, outside strings and comments.
fn open_brackets(text: &str, from: usize, to: usize) -> usize {
    let bytes = &text.as_bytes()[..to.min(text.len())];
    let (mut depth, mut i) = (0usize, from);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' => {
                let quote: &[u8] =
                    if bytes[i..].starts_with(b"\"\"\"") { b"\"\"\"" } else { b"\"" };
                i += quote.len();
                while i < bytes.len() && !bytes[i..].starts_with(quote) {
                    i += 1;
                }
                i += quote.len();
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    depth
}

fn syntax_help(text: &str, at: usize) -> Option<String> {
    let rest = &text[at.min(text.len())..];
    if rest.starts_with('=') && !rest.starts_with("==") {
        return Some("compare with `==`; `=` only defines names".into());
    }
    if rest.starts_with(|c: char| !c.is_ascii() && c.is_alphabetic()) {
        return Some("names use ASCII letters, digits and `_`".into());
    }
    let word: String =
        rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if RESERVED.contains(&word.as_str()) {
        return Some(format!("`{word}` is a reserved word and cannot be used as a name"));
    }
    None
}

/// Words the grammar reserves (they cannot name a KPI, dim, param, dataset or view).
const RESERVED: &[&str] = &[
    "and", "blend", "by", "case", "csv", "dataset", "dim", "else", "end", "expect", "false",
    "guard", "import", "in", "is", "kpi", "min", "not", "note", "null", "or", "over", "param",
    "tags", "target", "test", "then", "true", "unit", "view", "warn", "weights", "when", "where",
    "with", "within",
];

fn found_token(text: &str, at: usize) -> String {
    let rest = &text[at.min(text.len())..];
    let Some(c) = rest.chars().next() else { return "end of file".into() };
    if c == '\n' || c == '\r' {
        return "end of line".into();
    }
    let token: String = if c.is_ascii_alphanumeric() || c == '_' {
        rest.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            .take(40)
            .collect()
    } else {
        c.to_string()
    };
    format!("`{}`", token.escape_debug())
}

fn join_or(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Grammar rules in the words of the language reference. Exhaustive, so a new rule
/// cannot slip into an error message under its internal name.
fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::file | Rule::item | Rule::repl_items => {
            "a statement (`kpi`, `dataset`, `dim`, `blend`, …)"
        }
        Rule::import => "`import`",
        Rule::dataset => "`dataset`",
        Rule::csv_source | Rule::csv_inline => "`csv(\"path\")`",
        Rule::csv_option => "an option such as `delimiter: \";\"`",
        Rule::dataset_block => "`{`",
        Rule::link_decl | Rule::column_decl => {
            "a column declaration (`col: type` or `col -> other.col`)"
        }
        Rule::dim => "`dim`",
        Rule::param => "`param`",
        Rule::kpi => "`kpi`",
        Rule::kpi_clause => "a clause (`unit`, `target`, `warn`, `min`, `tags`)",
        Rule::unit_clause => "`unit`",
        Rule::target_clause => "`target`",
        Rule::warn_clause => "`warn`",
        Rule::min_clause => "`min`",
        Rule::tags_clause => "`tags`",
        Rule::blend => "`blend`",
        Rule::blend_name => "a blend name",
        Rule::weights_clause => "`weights`",
        Rule::guard_clause => "`guard`",
        Rule::view => "`view`",
        Rule::view_by => "`by`",
        Rule::view_where => "`where`",
        Rule::note => "`note`",
        Rule::test => "`test`",
        Rule::test_data => "test data (`calls = csv \"\"\"…\"\"\"`)",
        Rule::expect => "`expect`",
        Rule::expect_warn => "`warn`",
        Rule::expect_subject => "a KPI or blend name",
        Rule::group_selector => "`[`",
        Rule::group_pick => "`dim = value`",
        Rule::expr | Rule::operand | Rule::repl_query | Rule::literal_only => "an expression",
        Rule::prefix | Rule::op_neg => "`-`",
        Rule::op_not => "`not`",
        Rule::infix => "an operator",
        Rule::op_or => "`or`",
        Rule::op_and => "`and`",
        Rule::op_eq => "`==`",
        Rule::op_ne => "`!=`",
        Rule::op_le => "`<=`",
        Rule::op_ge => "`>=`",
        Rule::op_lt => "`<`",
        Rule::op_gt => "`>`",
        Rule::op_add => "`+`",
        Rule::op_sub => "`-`",
        Rule::op_mul => "`*`",
        Rule::op_div => "`/`",
        Rule::postfix | Rule::is_null | Rule::is_not_null => "`is null`",
        Rule::in_list | Rule::not_in_list => "`in (…)`",
        Rule::cmp_op => "a comparison (`>=`, `<=`, `==`, …)",
        Rule::case_expr => "`case`",
        Rule::case_when => "`when`",
        Rule::case_else => "`else`",
        Rule::call => "a function call",
        Rule::call_arg => "an argument",
        Rule::call_over => "`over`",
        Rule::path => "a name",
        Rule::literal => "a value",
        Rule::digits | Rule::decimal | Rule::exponent | Rule::number => "a number",
        Rule::percent => "a percentage",
        Rule::duration => "a duration",
        Rule::date => "a date",
        Rule::timestamp => "a timestamp",
        Rule::string
        | Rule::plain_string
        | Rule::plain_body
        | Rule::triple_string
        | Rule::triple_body => "a string",
        Rule::word_char | Rule::word | Rule::ident => "a name",
        Rule::keyword => "a keyword",
        Rule::WHITESPACE | Rule::COMMENT => "a space",
        Rule::kw_and => "`and`",
        Rule::kw_blend => "`blend`",
        Rule::kw_by => "`by`",
        Rule::kw_case => "`case`",
        Rule::kw_csv => "`csv`",
        Rule::kw_dataset => "`dataset`",
        Rule::kw_dim => "`dim`",
        Rule::kw_else => "`else`",
        Rule::kw_end => "`end`",
        Rule::kw_expect => "`expect`",
        Rule::kw_false => "`false`",
        Rule::kw_guard => "`guard`",
        Rule::kw_import => "`import`",
        Rule::kw_in => "`in`",
        Rule::kw_is => "`is`",
        Rule::kw_kpi => "`kpi`",
        Rule::kw_min => "`min`",
        Rule::kw_not => "`not`",
        Rule::kw_note => "`note`",
        Rule::kw_null => "`null`",
        Rule::kw_or => "`or`",
        Rule::kw_over => "`over`",
        Rule::kw_param => "`param`",
        Rule::kw_tags => "`tags`",
        Rule::kw_target => "`target`",
        Rule::kw_test => "`test`",
        Rule::kw_then => "`then`",
        Rule::kw_true => "`true`",
        Rule::kw_unit => "`unit`",
        Rule::kw_view => "`view`",
        Rule::kw_warn => "`warn`",
        Rule::kw_weights => "`weights`",
        Rule::kw_when => "`when`",
        Rule::kw_where => "`where`",
        Rule::kw_with => "`with`",
        Rule::kw_within => "`within`",
    }
}

#[cfg(test)]
mod tests {
    use super::found_token;

    #[test]
    fn what_a_syntax_error_found_is_named_in_words() {
        let text = "kpi k = 1 \u{e9}t\u{e9}_2.x(\n\r";
        assert_eq!(found_token(text, 0), "`kpi`");
        assert_eq!(found_token(text, 8), "`1`");
        assert_eq!(found_token(text, 10), "`\u{e9}`", "one character, not a run of them");
        assert_eq!(found_token(text, 12), "`t`");
        assert_eq!(found_token(text, 16), "`2.x`");
        assert_eq!(found_token(text, 19), "`(`");
        assert_eq!(found_token(text, 20), "end of line");
        assert_eq!(found_token(text, 21), "end of line");
        assert_eq!(found_token(text, 22), "end of file");
        assert_eq!(found_token(text, 99), "end of file");
        assert_eq!(found_token("a_b.c+", 0), "`a_b.c`");
        assert_eq!(found_token(&"x".repeat(50), 0), format!("`{}`", "x".repeat(40)));
        assert_eq!(found_token("\"\t", 0), "`\\\"`");
        assert_eq!(found_token("\t", 0), "`\\t`");
    }
}
