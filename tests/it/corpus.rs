//! The corpus: how `kpiblend check` answers the mistakes users actually make.
//!
//! - `tests/corpus/invalid/*.kpi` holds one mistake per file, written the way a new user
//!   would make it. Each file starts with one header line per diagnostic it must produce:
//!
//!   ```text
//!   # expect: KB0101 at 3:7             an error, caret at line 3, column 7 (characters)
//!   # expect-warning: KB0302 at 8:56    a warning
//!   # expect: KB0110 at imports/b.kpi:2:8   a caret in another file (relative path)
//!   # expect: KB0502 at data/x.csv:1    a line of a data file
//!   # expect: KB0900                    a diagnostic without a position
//!   ```
//!
//!   The check must report exactly these: a missing error and a follow-on error both fail.
//!   `tests/corpus/golden/` holds files with several mistakes, in the same format.
//! - `tests/corpus/valid/**.kpi` and `examples/*.kpi` must check clean.
//! - Then: golden renderings of `kpiblend check`, exit codes, the robustness rows D01–D19 of
//!   RELIABILITY.md §3.1, and the catalogue in `docs/diagnostics.md`.
//!
//! Behaviour that is wrong today is listed in [`KNOWN_BUGS`]; the corpus header (or the
//! test) says what should happen. Those checks must still fail, so a fix is noticed: the
//! test then asks for the entry to be removed.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kpiblend::check::{self, CheckOptions, Checked};
use kpiblend::diagnostic::{Code, Severity};
use kpiblend::render::diagnostics as render;

use crate::support;

/// Wrong behaviour, by corpus file (relative to `tests/corpus`) or by the name a test gives
/// to [`known_bug`], with what goes wrong. The fix belongs in `src/`.
const KNOWN_BUGS: &[(&str, &str)] = &[];

/// Codes `check` produces that no committed file can trigger, and the test that covers each.
const COVERED_BY_GENERATED_INPUT: &[(&str, &str)] = &[
    ("KB0008", "a_file_over_the_size_limit_is_refused_before_it_is_read"),
    ("KB0010", "exit_codes_follow_the_outcome"),
];

/// Files whose `kpiblend check` output is pinned in `tests/golden/diagnostics/`, with the
/// arguments they need.
const GOLDEN_CASES: &[(&str, &str, &[&str])] = &[
    // several errors with secondary labels, and a warning; its data is in another folder
    // of the corpus, outside its own project, so the command line names it
    (
        "scorecard_with_mistakes",
        "golden/scorecard_with_mistakes.kpi",
        &["--data", "calls=invalid/data/calls.csv"],
    ),
    // a warning and nothing else
    ("percent_target_warning", "invalid/units_percent_target_as_whole_number.kpi", &[]),
    // an error in a data file, not in the KPI file
    ("wrong_delimiter", "invalid/data_wrong_delimiter.kpi", &[]),
    // a control character, which must never reach the terminal raw
    ("nul_byte", "invalid/syntax_nul_byte.kpi", &[]),
];

const CALLS: &str = "dataset calls = csv(\"data/calls.csv\")\n";

// ---- the corpus ---------------------------------------------------------------------------

#[test]
fn every_invalid_file_reports_exactly_what_its_header_expects() {
    let mut failures = Vec::new();
    for path in kpi_files("invalid", false).into_iter().chain(kpi_files("golden", false)) {
        let expected = expectations(&path);
        assert!(!expected.is_empty(), "{}: no `# expect:` header line", key(&path));
        let actual = check_file(&path).map(|c| findings(&c, &path));
        failures.extend(verdict(&key(&path), compare(&expected, &actual)));
    }
    assert_no_failures(&failures);
}

/// One mistake per file keeps each file a specification of one answer. The error storm is the
/// exception: its point is the count.
#[test]
fn each_invalid_file_holds_one_mistake() {
    for path in kpi_files("invalid", false) {
        let expected = expectations(&path);
        let storm = key(&path) == "invalid/too_many_errors.kpi";
        assert!(expected.len() == 1 || storm, "{} expects {expected:?}", key(&path));
    }
}

#[test]
fn valid_files_and_examples_check_clean() {
    let examples = kpi_files_in(&support::root().join("examples"), false);
    let mut failures = Vec::new();
    for path in kpi_files("valid", true).into_iter().chain(examples) {
        let problem = match check_file(&path) {
            Err(panic) => Some(format!("{}: panicked: {panic}", key(&path))),
            Ok(c) if c.diagnostics.is_empty() => None,
            Ok(c) => Some(format!("{}: expected no diagnostics, got\n{}", key(&path), human(&c))),
        };
        failures.extend(verdict(&key(&path), problem));
    }
    assert_no_failures(&failures);
}

#[test]
fn every_check_code_is_expected_by_some_corpus_file() {
    let mut covered: BTreeSet<String> = kpi_files("invalid", false)
        .iter()
        .chain(&kpi_files("golden", false))
        .flat_map(|p| expectations(p))
        .map(|f| f.code)
        .collect();
    covered.extend(COVERED_BY_GENERATED_INPUT.iter().map(|(code, _)| code.to_string()));
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| *c < "KB0500" || *c == "KB0900")
        .filter(|c| !covered.contains(*c))
        .collect();
    assert!(missing.is_empty(), "no corpus file expects {}", missing.join(", "));
}

#[test]
fn known_bugs_name_existing_corpus_files() {
    for (name, _) in KNOWN_BUGS.iter().filter(|(n, _)| n.ends_with(".kpi")) {
        assert!(corpus_dir().join(name).is_file(), "KNOWN_BUGS lists `{name}`, which is gone");
    }
}

/// D19: the same input gives byte-identical output, run after run.
#[test]
fn checking_the_corpus_twice_gives_identical_output() {
    let run = || {
        let mut out = String::new();
        for path in kpi_files("invalid", false).iter().chain(&kpi_files("valid", true)) {
            let _ = writeln!(out, "== {}", key(path));
            match check_file(path) {
                Ok(c) => {
                    out.push_str(&human(&c));
                    out.push_str(&render::json(&c.diagnostics, &c.program.sources));
                }
                Err(panic) => out.push_str(&panic),
            }
        }
        out
    };
    let (first, second) = (run(), run());
    if let Some((n, (a, b))) =
        first.lines().zip(second.lines()).enumerate().find(|(_, (a, b))| a != b)
    {
        panic!("the second run differs at line {}:\n  first:  {a}\n  second: {b}", n + 1);
    }
    assert_eq!(first.len(), second.len(), "the second run has a different length");
}

// ---- what users see --------------------------------------------------------------------

#[test]
fn check_output_matches_the_golden_files() {
    for (name, file, extra) in GOLDEN_CASES {
        for (format, ext) in [("human", "txt"), ("json", "json"), ("github", "txt")] {
            let args: Vec<&str> = ["check", "--format", format, file]
                .into_iter()
                .chain(extra.iter().copied())
                .collect();
            let out = support::kpiblend(&corpus_dir(), &args);
            let stdout = support::stdout(&out);
            assert_eq!(
                support::stderr(&out),
                "",
                "`check --format {format} {file}` wrote to stderr"
            );
            assert_no_control_characters(&stdout, file);
            if format == "json" {
                assert_json_fields(&stdout, file);
            }
            support::golden(&format!("diagnostics/{name}.{format}.{ext}"), &stdout);
        }
    }
}

#[test]
fn exit_codes_follow_the_outcome() {
    let warning_only = "invalid/units_percent_target_as_whole_number.kpi";
    let cases: &[(&[&str], i32, &str)] = &[
        (&["check", "valid/views.kpi"], 0, "no problems found"),
        (&["check", warning_only], 0, "warning[KB0302]"),
        (&["check", "--deny-warnings", warning_only], 1, "warning[KB0302]"),
        (&["check", "invalid/names_column_typo.kpi"], 1, "error[KB0101]"),
        (&["check", "invalid/no_such_file.kpi"], 2, "error[KB0010]: cannot read"),
        (
            &["check", "invalid/data"],
            2,
            "error[KB0010]: cannot read invalid/data: it is a directory",
        ),
    ];
    for (args, code, says) in cases {
        let out = support::kpiblend(&corpus_dir(), args);
        let stdout = support::stdout(&out);
        let shown = format!("kpiblend {}\n{stdout}{}", args.join(" "), support::stderr(&out));
        assert_eq!(out.status.code(), Some(*code), "exit code of {shown}");
        assert!(stdout.contains(says), "expected `{says}` in the output of {shown}");
    }
}

/// D08: the size is checked before the file is read.
#[test]
fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
    let dir = support::TempDir::new("too-large");
    let path = dir.path().join("huge.kpi");
    let file = std::fs::File::create(&path).expect("create the scratch file");
    file.set_len(check::MAX_SOURCE_BYTES + 1).expect("make the file sparse and large");
    let started = Instant::now();
    let checked = check::check_path(&path, &options());
    assert_findings(&checked, &path, &["error KB0008"]);
    assert!(
        checked.diagnostics[0].message.ends_with("huge.kpi is 8.4 MB; the limit is 8 MiB"),
        "{}",
        checked.diagnostics[0].message
    );
    assert_fast(started, Duration::from_secs(2), "refusing an 8 MiB file");
}

// ---- robustness: RELIABILITY.md §3.1 -------------------------------------------------------

/// D13.
#[test]
fn empty_blank_and_comment_only_files_check_clean() {
    for text in ["", "   \n\t\n", "\r\n\r\n", "\r", "# only a comment", "# one\n#\n# two\n"] {
        let checked = check_source(text);
        assert!(checked.diagnostics.is_empty(), "{text:?}:\n{}", human(&checked));
    }
}

/// D11: a 1 MB line is shown as a window around the caret, quickly.
#[test]
fn a_one_megabyte_line_is_shown_as_a_window_around_the_caret() {
    let padding = " ".repeat(1 << 20);
    let line = format!("kpi asa = avg(calls.wait_s){padding}kpi late = avg(calls.wiat_s)");
    let text = format!("{CALLS}{line}\n");
    let started = Instant::now();
    let checked = check_source(&text);
    let shown = human(&checked);
    assert_fast(started, Duration::from_secs(5), "checking and rendering a 1 MB line");
    let at = position_of(&text, "wiat_s");
    assert_findings(&checked, Path::new(GENERATED), &[&format!("error KB0101 at {at}")]);
    assert!(shown.contains("kpi late = avg(calls.wiat_s)"), "{shown}");
    let widest = shown.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest <= 200, "a rendered line is {widest} characters wide");
}

/// D16: many small definitions.
#[test]
fn fifty_thousand_small_kpis_check_clean() {
    let mut text = String::from(CALLS);
    for i in 0..50_000 {
        let _ = writeln!(text, "kpi k{i} = avg(calls.wait_s) * {i}");
    }
    let checked = check_source(&text);
    assert!(checked.diagnostics.is_empty(), "{}", human(&checked));
    assert_eq!(checked.program.kpis.len(), 50_000);
}

/// D06: the limit is 256 levels of brackets and prefix operators together.
#[test]
fn nesting_deeper_than_256_levels_is_rejected_at_the_257th() {
    let parens = |n: usize| format!("kpi deep = {}1{}", "(".repeat(n), ")".repeat(n));
    let cases: &[(&str, String, Option<&str>)] = &[
        ("256 brackets", parens(256), None),
        ("257 brackets", parens(257), Some("(")),
        ("100 000 brackets", parens(100_000), Some("(")),
        ("257 `-`", format!("kpi neg = {}1", "- ".repeat(257)), Some("-")),
        ("257 `not`", format!("kpi no = {}true", "not ".repeat(257)), Some("not")),
        ("128 brackets, 128 `-`", mixed(128, 128), None),
        ("128 brackets, 129 `-`", mixed(128, 129), Some("-")),
    ];
    for (name, text, too_deep) in cases {
        let started = Instant::now();
        let checked = check_source(text);
        assert_fast(started, Duration::from_secs(5), name);
        let expected: Vec<String> = too_deep
            .map(|token| format!("error KB0003 at 1:{}", column_of_257th(text, token)))
            .into_iter()
            .collect();
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        assert_findings(&checked, Path::new(GENERATED), &expected);
    }
}

#[test]
fn exactly_256_prefix_operators_are_accepted() {
    known_bug("D06 256 prefix operators", || {
        for text in [
            format!("kpi neg = {}1", "- ".repeat(256)),
            // A KPI is a number (KB0201 for true/false): the chain is a dim's condition.
            format!("{CALLS}dim no = {}calls.abandoned", "not ".repeat(256)),
        ] {
            let checked = check_source(&text);
            assert!(checked.diagnostics.is_empty(), "{}", human(&checked));
        }
    });
}

/// D18: an error storm shows the first 100 diagnostics and one summary.
#[test]
fn ten_thousand_errors_are_cut_to_one_hundred_and_a_summary() {
    let mut text = String::from(CALLS);
    for i in 0..10_000 {
        let _ = writeln!(text, "kpi k{i} = avg(calls.missing_{i})");
    }
    let started = Instant::now();
    let checked = check_source(&text);
    assert_fast(started, Duration::from_secs(20), "checking 10 000 errors");
    let mut expected: Vec<String> = (0..100)
        .map(|i| format!("error KB0101 at {}", position_of(&text, &format!("missing_{i})"))))
        .collect();
    expected.push("error KB0900".into());
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_findings(&checked, Path::new(GENERATED), &expected);
    let summary = &checked.diagnostics[100];
    assert_eq!(summary.code, Code::TooManyErrors, "the summary comes last");
    assert!(summary.message.contains("9900 more"), "{}", summary.message);
}

/// D12: `\r\n` and a lone `\r` end a line as `\n` does.
#[test]
fn line_endings_do_not_move_diagnostics() {
    let mut failures = Vec::new();
    for (path, text) in corpus_texts() {
        let lf = findings_of_text(&path, &text);
        for (name, variant) in
            [("CRLF", text.replace('\n', "\r\n")), ("CR", text.replace('\n', "\r"))]
        {
            let other = findings_of_text(&path, &variant);
            if other != lf {
                failures.push(format!("{} with {name}: {other:?}\n  with LF: {lf:?}", key(&path)));
            }
        }
    }
    assert_no_failures(&failures);
}

/// D12: a byte order mark is ignored.
#[test]
fn a_byte_order_mark_does_not_move_diagnostics() {
    known_bug("D12 byte order mark", || {
        for (path, text) in corpus_texts() {
            let with_bom = findings_of_text(&path, &format!("\u{FEFF}{text}"));
            assert_eq!(with_bom, findings_of_text(&path, &text), "{}", key(&path));
        }
    });
}

/// D12: after a syntax error the rest of the file is still checked, whatever the line ends.
#[test]
fn checking_resumes_after_a_syntax_error_with_every_line_ending() {
    let text = format!(
        "{CALLS}kpi handle = avg(calls.talk_s + )\nkpi asa = avg(calls.wiat_s)\nkpi ok = count(calls)\n"
    );
    let path = &corpus_dir().join("invalid").join(GENERATED);
    let lf = findings_of_text(path, &text);
    let expected = ["error KB0001 at 2:33", "error KB0101 at 3:21"].map(String::from);
    assert_eq!(lf, Ok(expected.to_vec()), "LF");
    assert_eq!(findings_of_text(path, &text.replace('\n', "\r\n")), lf, "CRLF");
    known_bug("D12 recovery with lone CR", || {
        assert_eq!(findings_of_text(path, &text.replace('\n', "\r")), lf, "lone CR");
    });
}

/// A label underlines the code it is about, not the spaces or line breaks after it (which
/// would also make `end_line`/`end_column` point past the end of the line).
#[test]
fn labels_never_underline_surrounding_whitespace() {
    known_bug("labels without whitespace", || {
        let mut failures = Vec::new();
        for path in kpi_files("invalid", false).iter().chain(&kpi_files("golden", false)) {
            let Ok(checked) = check_file(path) else { continue };
            for d in &checked.diagnostics {
                for label in &d.labels {
                    let text = checked.program.sources.snippet(label.span);
                    if text.chars().count() > 1 && text.trim() != text {
                        failures.push(format!("{} {}: {text:?}", key(path), d.code));
                    }
                }
            }
        }
        assert_no_failures(&failures);
    });
}

// ---- docs/diagnostics.md -----------------------------------------------------------------

#[test]
fn the_catalogue_has_a_section_for_every_code() {
    let doc = catalogue();
    for code in Code::ALL {
        let heading = format!("## {code}: {}", code.describe());
        assert!(doc.lines().any(|l| l == heading), "docs/diagnostics.md lacks `{heading}`");
    }
}

/// Every ```kpi snippet after `<!-- expect KB0101 -->` produces that code and nothing else,
/// checked next to the sample data in `examples/`. Every code of the checker has one, except
/// those a UTF-8 snippet of one file cannot show.
#[test]
fn the_catalogue_examples_produce_their_codes() {
    let not_a_snippet = ["KB0004", "KB0005", "KB0008", "KB0010", "KB0110"];
    let snippets = expected_snippets(&catalogue());
    for code in Code::ALL.iter().map(|c| c.as_str()).filter(|c| *c < "KB0500") {
        let shown = snippets.iter().any(|(c, _)| c == code);
        assert!(shown || not_a_snippet.contains(&code), "no checked example for {code}");
    }
    let examples = support::root().join("examples");
    for (code, snippet) in snippets {
        let checked = check::check_text("example.kpi", &snippet, &examples, &options());
        let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert!(
            !codes.is_empty() && codes.iter().all(|c| *c == code),
            "the example for {code} produces {codes:?}:\n{snippet}\n{}",
            human(&checked)
        );
    }
}

// ---- helpers --------------------------------------------------------------------------------

/// The name generated sources are checked under.
const GENERATED: &str = "generated.kpi";

/// One diagnostic as the headers write it: `error KB0101 at 3:7`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    severity: Severity,
    code: String,
    /// `3:7`, `other.kpi:3:7`, `data/x.csv:1`; `None` when there is no position at all.
    at: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity} {}", self.code)?;
        match &self.at {
            Some(at) => write!(f, " at {at}"),
            None => Ok(()),
        }
    }
}

fn corpus_dir() -> PathBuf {
    support::root().join("tests/corpus")
}

fn options() -> CheckOptions<'static> {
    CheckOptions {
        schemas: Some(&kpiblend::eval::FileSchemas),
        fixtures: Some(&kpiblend::eval::FixtureFiles),
        ..CheckOptions::default()
    }
}

/// `.kpi` files under `tests/corpus/<dir>`, sorted.
fn kpi_files(dir: &str, recursive: bool) -> Vec<PathBuf> {
    kpi_files_in(&corpus_dir().join(dir), recursive)
}

fn kpi_files_in(dir: &Path, recursive: bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        if path.is_dir() && recursive {
            files.extend(kpi_files_in(&path, true));
        } else if path.extension().is_some_and(|e| e == "kpi") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The name of a file in messages and in [`KNOWN_BUGS`]: relative to `tests/corpus`, or to
/// the repository root.
fn key(path: &Path) -> String {
    let shorter = path.strip_prefix(corpus_dir()).or_else(|_| path.strip_prefix(support::root()));
    shorter.unwrap_or(path).display().to_string()
}

/// The UTF-8 files of the invalid corpus, with their text.
fn corpus_texts() -> Vec<(PathBuf, String)> {
    kpi_files("invalid", false)
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)))
        .collect()
}

/// The header lines of a corpus file, sorted.
#[track_caller]
fn expectations(path: &Path) -> Vec<Finding> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut expected = Vec::new();
    for line in String::from_utf8_lossy(&bytes).lines() {
        let (severity, rest) = if let Some(rest) = line.strip_prefix("# expect: ") {
            (Severity::Error, rest)
        } else if let Some(rest) = line.strip_prefix("# expect-warning: ") {
            (Severity::Warning, rest)
        } else {
            break;
        };
        let (code, at) = match rest.split_once(" at ") {
            Some((code, at)) => (code, Some(at.to_string())),
            None => (rest, None),
        };
        assert!(
            Code::ALL.iter().any(|c| c.as_str() == code),
            "{}: `{line}` names no diagnostic code",
            key(path)
        );
        expected.push(Finding { severity, code: code.to_string(), at });
    }
    expected.sort();
    expected
}

/// What the checker reports for a file, as sorted findings; `root` is the checked file.
fn findings(checked: &Checked, root: &Path) -> Vec<Finding> {
    let dir = root.parent().unwrap_or(Path::new(""));
    let relative = |name: &str| {
        let path = Path::new(name);
        path.strip_prefix(dir).unwrap_or(path).display().to_string()
    };
    let sources = &checked.program.sources;
    let mut found: Vec<Finding> = checked
        .diagnostics
        .iter()
        .map(|d| {
            let at = if let Some(span) = d.primary_span()
                && let Some(file) = sources.get(span.file)
            {
                let lc = file.line_col(span.start as usize);
                let other = Path::new(&file.name) != root;
                let prefix =
                    if other { format!("{}:", relative(&file.name)) } else { String::new() };
                Some(format!("{prefix}{}:{}", lc.line, lc.column))
            } else {
                d.data.as_ref().map(|data| match data.line {
                    Some(line) => format!("{}:{line}", relative(&data.path)),
                    None => relative(&data.path),
                })
            };
            Finding { severity: d.severity, code: d.code.as_str().to_string(), at }
        })
        .collect();
    found.sort();
    found
}

/// Checks a file as `kpiblend check` does; a panic becomes its message. The corpus is one
/// project (its files share `data/` directories across folders, and `valid/shared/` is
/// checked on its own too), so its paths may lead anywhere inside `tests/corpus`.
fn check_file(path: &Path) -> Result<Checked, String> {
    let root = path.starts_with(corpus_dir()).then(corpus_dir);
    let opts = CheckOptions { root, ..options() };
    catch_unwind(AssertUnwindSafe(|| check::check_path(path, &opts))).map_err(panic_message)
}

/// Checks generated text as a file in `tests/corpus/invalid`, next to its `data/`.
fn check_source(text: &str) -> Checked {
    check::check_text(GENERATED, text, &corpus_dir().join("invalid"), &options())
}

/// Findings for `text` checked under the name and directory of `path`; a panic as an error.
fn findings_of_text(path: &Path, text: &str) -> Result<Vec<String>, String> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let name = path.display().to_string();
    let checked =
        catch_unwind(AssertUnwindSafe(|| check::check_text(&name, text, dir, &options())))
            .map_err(panic_message)?;
    Ok(show(&findings(&checked, path)))
}

fn show(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(Finding::to_string).collect()
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// A description of how `actual` differs from `expected`, or `None`.
fn compare(expected: &[Finding], actual: &Result<Vec<Finding>, String>) -> Option<String> {
    let actual = match actual {
        Ok(actual) if actual == expected => return None,
        Ok(actual) => actual,
        Err(panic) => return Some(format!("panicked: {panic}")),
    };
    let list = |fs: &[Finding]| {
        if fs.is_empty() { "nothing".to_string() } else { show(fs).join(", ") }
    };
    let missing: Vec<Finding> = expected.iter().filter(|f| !actual.contains(f)).cloned().collect();
    let extra: Vec<Finding> = actual.iter().filter(|f| !expected.contains(f)).cloned().collect();
    Some(format!(
        "\n  expected:   {}\n  actual:     {}\n  missing:    {}\n  unexpected: {}",
        list(expected),
        list(actual),
        list(&missing),
        list(&extra)
    ))
}

/// Turns a problem (or its absence) into a failure, taking [`KNOWN_BUGS`] into account.
fn verdict(name: &str, problem: Option<String>) -> Option<String> {
    match (known_bug_reason(name), problem) {
        (None, Some(problem)) => Some(format!("{name}: {problem}")),
        (Some(reason), None) => {
            Some(format!("{name} passes now; remove it from KNOWN_BUGS (\"{reason}\")"))
        }
        _ => None,
    }
}

fn known_bug_reason(name: &str) -> Option<&'static str> {
    KNOWN_BUGS.iter().find(|(n, _)| *n == name).map(|(_, reason)| *reason)
}

/// Runs `check`, which must fail while `name` is listed in [`KNOWN_BUGS`].
#[track_caller]
fn known_bug(name: &str, check: impl FnOnce()) {
    let Some(reason) = known_bug_reason(name) else {
        check();
        return;
    };
    if catch_unwind(AssertUnwindSafe(check)).is_ok() {
        panic!("`{name}` passes now; remove it from KNOWN_BUGS (\"{reason}\")");
    }
}

#[track_caller]
fn assert_no_failures(failures: &[String]) {
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// The findings of `checked` are `expected`, in any order.
#[track_caller]
fn assert_findings(checked: &Checked, root: &Path, expected: &[&str]) {
    let mut actual = show(&findings(checked, root));
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    actual.sort();
    expected.sort();
    assert_eq!(actual, expected, "\n{}", human(checked));
}

/// `line:column` of the first `needle` in `text` (lines end at `\n`).
#[track_caller]
fn position_of(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or_else(|| panic!("`{needle}` is not in the text"));
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let line = text[..at].matches('\n').count() + 1;
    format!("{line}:{}", text[line_start..at].chars().count() + 1)
}

#[track_caller]
fn assert_fast(started: Instant, limit: Duration, what: &str) {
    let took = started.elapsed();
    assert!(took < limit, "{what} took {took:?}, more than {limit:?}");
}

#[track_caller]
fn assert_no_control_characters(text: &str, file: &str) {
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
        panic!("the output for {file} contains the control character {c:?}");
    }
}

/// Every JSON diagnostic has the keys editors and CI tools read.
#[track_caller]
fn assert_json_fields(json: &str, file: &str) {
    let value: serde_json::Value = serde_json::from_str(json).expect("check --format json is JSON");
    let items = value.as_array().expect("a JSON array of diagnostics");
    assert!(!items.is_empty(), "no diagnostics in the JSON for {file}");
    for item in items {
        for key in [
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "severity",
            "code",
            "message",
            "help",
        ] {
            assert!(item.get(key).is_some(), "`{key}` missing in {item} ({file})");
        }
    }
}

/// All diagnostics as `kpiblend check` prints them, without colour.
fn human(checked: &Checked) -> String {
    checked.diagnostics.iter().map(|d| render::human(d, &checked.program.sources, false)).collect()
}

/// `kpi deep = (((...` with `brackets` brackets around `minuses` prefix minuses.
fn mixed(brackets: usize, minuses: usize) -> String {
    format!("kpi deep = {}{}1{}", "(".repeat(brackets), "- ".repeat(minuses), ")".repeat(brackets))
}

/// Column of the 257th `token` counted over brackets and prefix operators: the first level
/// past the limit.
fn column_of_257th(text: &str, token: &str) -> usize {
    let mut levels = 0;
    let mut column = 0;
    for (i, _) in text.char_indices() {
        let rest = &text[i..];
        if rest.starts_with('(') || (token != "(" && rest.starts_with(token)) {
            levels += 1;
            if levels == 257 {
                column = text[..i].chars().count() + 1;
                break;
            }
        }
    }
    column
}

fn catalogue() -> String {
    let path = support::root().join("docs/diagnostics.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `(code, snippet)` for every ```kpi block right after an `<!-- expect CODE -->` line.
fn expected_snippets(doc: &str) -> Vec<(String, String)> {
    let mut snippets = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(code) = line.strip_prefix("<!-- expect ").and_then(|r| r.strip_suffix(" -->"))
        else {
            continue;
        };
        assert_eq!(lines.next(), Some("```kpi"), "`{line}` must be followed by a ```kpi block");
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        snippets.push((code.to_string(), body.join("\n") + "\n"));
    }
    snippets
}

/// The unit each arithmetic rule gives (docs/language.md, "Units"), read off the checked
/// KPIs: differences of dates are days (plain numbers), of times seconds; a rate times 100
/// is points but times 2 still a percent; per-count divisions keep the numerator's unit;
/// null added to a duration keeps its unit; and errors name the operation.
#[test]
fn arithmetic_gives_the_documented_units() {
    let text = "\
dataset t = csv(\"t.csv\") { a: time  b: time  d: date  e: date  dur: duration  ok: bool  name: text }
kpi days = avg(t.e - t.d)
kpi secs = avg(t.b - t.a)
kpi points = rate(t.ok) * 100
kpi twice = rate(t.ok) * 2
kpi per_call = sum(t.dur) / count(t)
kpi plus_null = avg(t.dur) + null
kpi later = count(t where t.a + null > t.a)
kpi long_calls = count(t where t.dur > 6m)
";
    let checked = check::check_text("units.kpi", text, Path::new("."), &CheckOptions::default());
    assert!(checked.diagnostics.is_empty(), "{}", human(&checked));
    let unit = |name: &str| {
        let k = checked.program.kpis.iter().find(|k| k.name == name).expect(name);
        k.unit.name()
    };
    assert_eq!(unit("days"), "number");
    assert_eq!(unit("secs"), "seconds");
    assert_eq!(unit("points"), "points");
    assert_eq!(unit("twice"), "percent");
    assert_eq!(unit("per_call"), "seconds");
    assert_eq!(unit("plus_null"), "seconds");
    assert_eq!(unit("later"), "count");

    let bad = "dataset t = csv(\"t.csv\") { name: text }\nkpi k = count(t where t.name * 2 > 1)\n";
    let checked = check::check_text("units.kpi", bad, Path::new("."), &CheckOptions::default());
    let messages: Vec<&str> = checked.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(messages.contains(&"cannot multiply text and number"), "{messages:?}");

    // Durations compare across their units (above: seconds with minutes); other units not.
    let bad = "dataset t = csv(\"t.csv\") { dur: duration }\nkpi k = count(t where t.dur > 50%)\n";
    let checked = check::check_text("units.kpi", bad, Path::new("."), &CheckOptions::default());
    let messages: Vec<&str> = checked.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(messages.contains(&"cannot compare seconds with percent"), "{messages:?}");
}

/// Constant folding (params, targets) does the arithmetic written; counts do not add to
/// percents; `case` branches must agree in type.
#[test]
fn constants_fold_and_mismatches_are_errors() {
    let text = "\
dataset t = csv(\"t.csv\") { ok: bool  name: text }
param sum = 2 + 3
param difference = 2 - 3
param product = 2 * 3
param quotient = 3 / 4
kpi n = count(t)
";
    let checked = check::check_text("fold.kpi", text, Path::new("."), &CheckOptions::default());
    assert!(checked.diagnostics.is_empty(), "{}", human(&checked));
    let value = |name: &str| {
        let p = checked.program.params.iter().find(|p| p.name == name).expect(name);
        p.value.as_f64()
    };
    assert_eq!(value("sum"), Some(5.0));
    assert_eq!(value("difference"), Some(-1.0));
    assert_eq!(value("product"), Some(6.0));
    assert_eq!(value("quotient"), Some(0.75));

    for (bad, message) in [
        ("kpi k = count(t) + rate(t.ok)", "cannot add count and percent"),
        (
            "kpi k = count(t where case when t.ok then t.name else 1 end == 1)",
            "branches have different types: text and number",
        ),
    ] {
        let text = format!("dataset t = csv(\"t.csv\") {{ ok: bool  name: text }}\n{bad}\n");
        let checked = check::check_text("bad.kpi", &text, Path::new("."), &CheckOptions::default());
        let messages: Vec<&str> = checked.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert!(messages.contains(&message), "{bad}: {messages:?}");
    }
}

#[test]
fn a_csv_option_given_twice_points_at_the_second_and_labels_the_first() {
    for option in ["time: \"started_at\"", "delimiter: \",\""] {
        let line = format!("dataset calls = csv(\"data/calls.csv\", {option}, {option})\n");
        let checked = check_source(&format!("{line}kpi contacts = count(calls)\n"));
        let key = option.split(':').next().unwrap_or_default();
        let first = line.find(key).unwrap_or_default();
        let second = line.rfind(key).unwrap_or_default();
        let [d] = &checked.diagnostics[..] else {
            panic!("{option}: expected one diagnostic:\n{}", human(&checked));
        };
        assert_eq!(d.code, Code::DuplicateClause, "{}", human(&checked));
        let starts: Vec<(usize, bool)> =
            d.labels.iter().map(|l| (l.span.start as usize, l.primary)).collect();
        assert_eq!(starts, [(second, true), (first, false)], "{option}: {}", human(&checked));
    }
}

/// The summary line's counts: errors and warnings, separately.
#[test]
fn errors_and_warnings_are_counted_apart() {
    let text = "dataset calls = csv(\"data/calls.csv\")\n\
                kpi fcr = rate(calls.resolved_first_contact)  target >= 75\n\
                kpi aht = avg(calls.talk_secs)\nkpi x = nope\n";
    let checked =
        check::check_text("t.kpi", text, &support::root().join("tests/corpus/invalid"), &options());
    assert_eq!(checked.count(Severity::Error), 2, "{}", human(&checked));
    assert_eq!(checked.count(Severity::Warning), 1, "{}", human(&checked));
}

/// Literal times: offsets run to +23:59, and brackets with prefix operators inside them
/// count together against the nesting limit.
#[test]
fn timestamp_offsets_and_nesting_limits_are_exact() {
    let root = support::root().join("tests/corpus/invalid");
    let check = |text: &str| {
        let c = check::check_text("t.kpi", text, &root, &options());
        c.diagnostics.iter().map(|d| d.code.as_str()).collect::<Vec<_>>()
    };
    let at = |t: &str| {
        format!(
            "dataset calls = csv(\"data/calls.csv\")\nkpi k = count(calls where calls.started_at > {t})\n"
        )
    };
    assert!(check(&at("2026-01-01T00:00:00+23:59")).is_empty());
    assert_eq!(check(&at("2026-01-01T00:00:00+24:00")), ["KB0007"]);
    assert_eq!(check(&at("2026-01-01T00:00:00+05:60")), ["KB0007"]);
    assert_eq!(check(&at("2026-01-01T00:00:00-24:00")), ["KB0007"]);
    // One bracket and 255 minus signs are 256 levels; one more is too deep.
    let nested = |minus: usize| format!("kpi k = ({}1)\n", "-".repeat(minus));
    assert!(check(&nested(255)).is_empty(), "{:?}", check(&nested(255)));
    assert_eq!(check(&nested(256)), ["KB0003"]);
    // 1,024 chained additions are 1,024 levels: the deepest accepted.
    let chain = |n: usize| format!("kpi k = 1{}\n", " + 1".repeat(n));
    assert!(check(&chain(1024)).is_empty(), "{:?}", check(&chain(1024)));
    assert_eq!(check(&chain(1025)), ["KB0003"]);
}

/// A KPI that uses a KPI of a cycle is not reported again (the cycle is the error), and every
/// KPI stays defined, in and after the cycle.
#[test]
fn kpis_after_a_cycle_stay_defined_and_quiet() {
    let text = "dataset calls = csv(\"data/calls.csv\")\nkpi a = b + count(calls)\nkpi b = a + 1\n\
                kpi c = a * 2\nkpi d = count(calls) * 3\nkpi e = c + d\n";
    let checked =
        check::check_text("t.kpi", text, &support::root().join("tests/corpus/invalid"), &options());
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["KB0401"], "{}", human(&checked));
    let names: Vec<&str> = checked.program.kpis.iter().map(|k| k.name.as_str()).collect();
    for k in ["a", "b", "c", "d", "e"] {
        assert!(names.contains(&k), "`{k}` is missing from {names:?}");
    }
}

/// Messages that share a code say what is wrong with this value.
#[test]
fn a_quote_or_line_break_delimiter_is_refused_for_what_it_is() {
    let root = support::root().join("tests/corpus/invalid");
    for d in ["\\\"", "\\n", "\\r"] {
        let text = format!("dataset calls = csv(\"data/calls.csv\", delimiter: \"{d}\")\n");
        let checked = check::check_text("t.kpi", &text, &root, &options());
        assert_eq!(checked.diagnostics.len(), 1, "{}", human(&checked));
        assert_eq!(checked.diagnostics[0].message, "`delimiter` cannot be a quote or a line break");
    }
}

/// `warn ==` and `warn !=` are never "the same direction" as a target, whichever it is.
#[test]
fn a_warn_bound_must_point_the_way_its_target_does() {
    let root = support::root().join("tests/corpus/invalid");
    for (target, warn) in
        [("<= 6m", "== 7m"), (">= 75%", "!= 70%"), ("<= 6m", "!= 7m"), (">= 75%", "== 70%")]
    {
        let text = format!(
            "dataset calls = csv(\"data/calls.csv\")\nkpi k = avg(calls.talk_s) target {target} warn {warn}\n"
        );
        let checked = check::check_text("t.kpi", &text, &root, &options());
        let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert!(codes.contains(&"KB0406"), "target {target} warn {warn}: {}", human(&checked));
    }
}

/// Whole-number literals are exact up to 2^53 and refused past it, judged on their digits.
#[test]
fn whole_number_literals_past_2_pow_53_are_refused() {
    let root = support::root().join("tests/corpus/invalid");
    let check = |n: &str| {
        let c = check::check_text("t.kpi", &format!("param p = {n}\n"), &root, &options());
        c.diagnostics.iter().map(|d| d.code.as_str()).collect::<Vec<_>>()
    };
    assert!(check("9007199254740992").is_empty());
    assert!(check("9_007_199_254_740_992").is_empty());
    assert_eq!(check("9007199254740993"), ["KB0006"]);
    assert_eq!(check("9_007_199_254_740_993"), ["KB0006"]);
    assert_eq!(check("99999999999999999999999"), ["KB0006"]);
}

/// A dim named twice in `by` (a view's, or `--by site,site`) is an error at the second.
#[test]
fn a_dim_named_twice_in_by_is_refused() {
    let text = "dataset calls = csv(\"data/calls.csv\")\ndim site = calls.site\n\
                kpi n = count(calls)\nview v = n by site, site\n";
    let checked =
        check::check_text("t.kpi", text, &support::root().join("tests/corpus/invalid"), &options());
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["KB0009"], "{}", human(&checked));
    assert_eq!(checked.diagnostics[0].message, "`by` names dim `site` twice");
    let o = support::kpiblend(
        &support::root(),
        &["eval", "examples/contact_center.kpi", "--by", "site,site"],
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(support::stderr(&o).contains("`by` names dim `site` twice"), "{}", support::stderr(&o));
}
