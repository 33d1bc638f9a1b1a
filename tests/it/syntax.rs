//! The parser: precedence, every literal form, comments, strings. Expressions are
//! compared as S-expressions, so a test shows exactly how the input groups.

use kpiblend::ast::{Item, Module};
use kpiblend::source::FileId;
use kpiblend::syntax;

#[track_caller]
fn module(text: &str) -> Module {
    let parsed = syntax::parse(FileId(0), text);
    assert!(parsed.diagnostics.is_empty(), "{text}\n{:#?}", parsed.diagnostics);
    parsed.module
}

/// The S-expression of the KPI defined as `kpi x = <expr>`.
#[track_caller]
fn expr(src: &str) -> String {
    match &module(&format!("kpi x = {src}")).items[..] {
        [Item::Kpi(k)] => k.expr.sexpr(),
        other => panic!("expected one kpi, got {other:?}"),
    }
}

#[test]
fn arithmetic_binds_tighter_than_comparison_tighter_than_not_and_or() {
    assert_eq!(expr("a + b * c"), "(+ a (* b c))");
    assert_eq!(expr("a * b + c"), "(+ (* a b) c)");
    assert_eq!(expr("a - b - c"), "(- (- a b) c)", "left-associative");
    assert_eq!(expr("a / b / c"), "(/ (/ a b) c)");
    assert_eq!(expr("(a + b) * c"), "(* (+ a b) c)");
    assert_eq!(expr("a + b <= c * d"), "(<= (+ a b) (* c d))");
    assert_eq!(expr("a < b and c >= d or e == f"), "(or (and (< a b) (>= c d)) (== e f))");
    assert_eq!(expr("a or b and c"), "(or a (and b c))");
    assert_eq!(expr("not a and b"), "(and (not a) b)");
    assert_eq!(expr("not a < b"), "(not (< a b))", "`not` binds looser than comparison");
    assert_eq!(expr("-a * b"), "(* (neg a) b)", "unary minus binds tightest");
    assert_eq!(expr("- - a"), "(neg (neg a))");
    assert_eq!(expr("a != b"), "(!= a b)");
    assert_eq!(expr("a <> b"), "(!= a b)");
}

#[test]
fn postfix_tests_and_lists() {
    assert_eq!(expr("calls.x is null"), "(is-null calls.x)");
    assert_eq!(expr("calls.x is not null and y"), "(and (is-not-null calls.x) y)");
    assert_eq!(expr("calls.q in (\"a\", \"b\")"), "(in calls.q \"a\" \"b\")");
    assert_eq!(expr("calls.q not in (1, 2)"), "(not-in calls.q 1 2)");
    assert_eq!(expr("a + 1 in (2, 3)"), "(in (+ a 1) 2 3)");
}

#[test]
fn calls_filters_over_and_case() {
    assert_eq!(expr("sum(calls.cost) / handled"), "(/ (sum calls.cost) handled)");
    assert_eq!(
        expr("avg(calls.a + calls.b where not calls.abandoned)"),
        "(avg (+ calls.a calls.b) (where (not calls.abandoned)))"
    );
    assert_eq!(expr("percentile(calls.wait_s, 90%)"), "(percentile calls.wait_s 90%)");
    assert_eq!(expr("count(calls)"), "(count calls)");
    assert_eq!(expr("corr(aht, csat) over agent"), "(corr aht csat (over agent))");
    assert_eq!(
        expr("sum(case calls.c when \"low\" then 1 when \"medium\" then 2 else 4 end)"),
        "(sum (case calls.c (when \"low\" 1) (when \"medium\" 2) (else 4)))"
    );
    assert_eq!(expr("case when a > 1 then 1 end"), "(case (when (> a 1) 1))");
    assert_eq!(expr("min(calls.wait_s)"), "(min calls.wait_s)", "`min` is also a function");
}

#[test]
fn every_literal_form() {
    assert_eq!(expr("1_000"), "1000");
    assert_eq!(expr("6.50"), "6.5");
    assert_eq!(expr("1e3"), "1000");
    assert_eq!(expr("2.5E-1"), "0.25");
    assert_eq!(expr("75%"), "75%");
    assert_eq!(expr("12.5%"), "12.5%");
    assert_eq!(expr("20s"), "20s");
    assert_eq!(expr("6m"), "360s");
    assert_eq!(expr("1.5h"), "5400s");
    assert_eq!(expr("2d"), "172800s");
    assert_eq!(expr("250ms"), "0.25s");
    assert_eq!(expr("2026-03-14"), "2026-03-14");
    assert_eq!(expr("2026-03-14T09:30:00Z"), "2026-03-14T09:30:00Z");
    assert_eq!(
        expr("2026-03-14T11:30:00+02:00"),
        "2026-03-14T09:30:00Z",
        "offsets normalise to UTC"
    );
    assert_eq!(expr("2026-03-14T09:30"), "2026-03-14T09:30:00Z");
    assert_eq!(expr("true"), "true");
    assert_eq!(expr("false"), "false");
    assert_eq!(expr("null"), "null");
    assert_eq!(expr(r#""tab\there \"q\" \\ \u{e9}""#), r#""tab\there \"q\" \\ é""#);
}

#[test]
fn triple_quoted_strings_strip_common_indentation() {
    let m = module(
        "test \"t\" {\n    calls = csv \"\"\"\n        a,b\n          1,2\n        3,4\n    \"\"\"\n}\n",
    );
    let Item::Test(t) = &m.items[0] else { panic!("a test") };
    let kpiblend::ast::TestSource::Inline(s) = &t.data[0].source else { panic!("inline csv") };
    assert_eq!(s.value, "a,b\n  1,2\n3,4\n");
}

#[test]
fn comments_are_skipped_and_kept_for_the_formatter() {
    let m = module("# heading\nkpi a = 1 # trailing\n\n# before b\nkpi b = a + 1\n");
    assert_eq!(m.items.len(), 2);
    let texts: Vec<&str> = m
        .comments
        .iter()
        .map(|s| &"# heading\nkpi a = 1 # trailing\n\n# before b\nkpi b = a + 1\n"[s.range()])
        .collect();
    assert_eq!(texts, ["# heading", "# trailing", "# before b"]);
}

#[test]
fn statements_need_no_terminator_and_clauses_come_in_any_order() {
    let m = module(
        "kpi a \"A\" = avg(t.x)\n  tags x, y  min 3  target >= 1 warn >= 0.5 unit seconds\nblend e = a with b weights 60%, 40% guard a >= 1\n",
    );
    let (Item::Kpi(k), Item::Blend(b)) = (&m.items[0], &m.items[1]) else { panic!("kpi, blend") };
    assert_eq!(k.label.as_ref().map(|l| l.value.as_str()), Some("A"));
    assert_eq!(k.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["x", "y"]);
    assert!(k.unit.is_some() && k.target.is_some() && k.warn.is_some() && k.min.is_some());
    assert_eq!(b.name(), "e");
    assert_eq!(b.weights.len(), 2);
    let m = module("blend aht with csat guard csat >= 4.2");
    let Item::Blend(b) = &m.items[0] else { panic!("blend") };
    assert_eq!(b.name(), "aht_with_csat");
    assert_eq!(b.guard.as_ref().map(kpiblend::ast::Expr::sexpr).as_deref(), Some("(>= csat 4.2)"));
}

#[test]
fn the_tour_parses_into_its_29_statements() {
    let text = std::fs::read_to_string(crate::support::root().join("examples/contact_center.kpi"))
        .unwrap();
    assert_eq!(module(&text).items.len(), 29);
}

/// The first syntax error of `text`: its message and its line:column (1-based, bytes).
fn first_error(text: &str) -> (String, String) {
    let parsed = syntax::parse(FileId(0), text);
    let d = parsed.diagnostics.first().unwrap_or_else(|| panic!("no error in {text:?}"));
    let at = d.primary_span().map_or(0, |s| s.start as usize);
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
    (d.message.clone(), format!("{line}:{col}"))
}

/// `case(` is a `case` expression, never a call: reading what follows as both (and failing
/// as both) doubled the work at every level, so 40 of them took hours (a fuzzing timeout).
/// The error comes at once, where the `case` expression went wrong.
#[test]
fn case_followed_by_a_bracket_is_read_once_however_deep() {
    let unclosed = format!("kpi x = {}1\n", "case(".repeat(200));
    let (message, _) = first_error(&unclosed);
    assert_eq!(message, "unclosed `(`");
    let closed = format!("kpi x = {}1{}\n", "case(".repeat(40), ")".repeat(40));
    let (message, at) = first_error(&closed);
    assert!(message.ends_with("or `when`, found `)`"), "{message}");
    assert_eq!(at, format!("1:{}", 9 + 5 * 40 + 2), "after the innermost `case(1)`");
    // A case over a bracketed operand is unchanged.
    assert_eq!(
        expr("case(t.x) when 1 then 2 end"),
        expr("case (t.x) when 1 then 2 end"),
        "the space makes no difference"
    );
}

/// "Unmatched" is said of a closing bracket only when nothing opened it.
#[test]
fn a_closing_bracket_is_called_unmatched_only_when_it_is() {
    let cases = [
        ("kpi x = f(1,)\n", "expected an expression, found `)`", "1:13"),
        ("kpi x = ()\n", "expected an expression, found `)`", "1:10"),
        ("kpi x = f(\")\", 1,)\n", "expected an expression, found `)`", "1:18"),
        ("kpi x = f(1))\n", "unmatched `)`", "1:13"),
        ("kpi x = 1 # (\n)\n", "unmatched `)`", "2:1"),
    ];
    for (text, message, at) in cases {
        assert_eq!(first_error(text), (message.to_string(), at.to_string()), "{text:?}");
    }
}
