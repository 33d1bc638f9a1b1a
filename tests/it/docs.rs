//! The documentation and the KPI library stay true.
//!
//! - Every ```kpi block of `README.md`, `docs/language.md` and `docs/guide.md` is a
//!   complete file, and checks clean (imports resolve from the repository root). A block
//!   that shows a mistake on purpose is preceded by `<!-- error: KB0402 -->` (or
//!   `<!-- warning: KB0302 -->`): it must report that code and nothing else. Fragments
//!   belong in ```text blocks.
//! - Every file under `library/` checks against its sample data with no diagnostic at
//!   all, evaluates, gives every KPI a value, documents every KPI with a comment, and
//!   passes its `test` blocks; `docs/guide.md` names every KPI, blend and view.

use std::path::{Path, PathBuf};

use kpiblend::Project;
use kpiblend::check::{self, CheckOptions, Checked};
use kpiblend::diagnostic::Severity;
use kpiblend::eval::{Cell, FileSchemas};
use kpiblend::render::diagnostics as render;

use crate::support;

const DOCS: &[&str] = &["README.md", "docs/language.md", "docs/guide.md"];

/// A ```kpi block of a document.
struct Block {
    /// `docs/language.md:212`: the line of the opening fence.
    place: String,
    text: String,
    /// From a `<!-- error: CODE -->` or `<!-- warning: CODE -->` line just above.
    expected: Option<(Severity, String)>,
}

fn blocks(doc: &str) -> Vec<Block> {
    let text = std::fs::read_to_string(support::root().join(doc)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```kpi" {
            i += 1;
            continue;
        }
        let place = format!("{doc}:{}", i + 1);
        let expected =
            lines[..i].iter().rev().find(|l| !l.trim().is_empty()).and_then(|l| marker(l.trim()));
        let start = i + 1;
        let end = (start..lines.len())
            .find(|&j| lines[j].trim_end() == "```")
            .unwrap_or_else(|| panic!("{place}: the block is never closed"));
        out.push(Block { place, text: lines[start..end].join("\n") + "\n", expected });
        i = end + 1;
    }
    out
}

/// `<!-- error: KB0402 -->` → (Error, "KB0402").
fn marker(line: &str) -> Option<(Severity, String)> {
    let inner = line.strip_prefix("<!--")?.strip_suffix("-->")?.trim();
    let (kind, code) = inner.split_once(':')?;
    let severity = match kind.trim() {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        _ => return None,
    };
    Some((severity, code.trim().to_string()))
}

fn rendered(checked: &Checked) -> String {
    checked.diagnostics.iter().map(|d| render::human(d, &checked.program.sources, false)).collect()
}

fn codes(checked: &Checked) -> Vec<(Severity, String)> {
    checked.diagnostics.iter().map(|d| (d.severity, d.code.as_str().to_string())).collect()
}

#[test]
fn every_kpi_block_in_the_docs_checks_as_documented() {
    let root = support::root();
    let mut failures = Vec::new();
    for doc in DOCS {
        let blocks = blocks(doc);
        assert!(!blocks.is_empty(), "{doc} has no ```kpi block");
        for b in blocks {
            let checked = check::check_text(&b.place, &b.text, &root, &CheckOptions::default());
            let found = codes(&checked);
            match &b.expected {
                None if !found.is_empty() => failures.push(format!(
                    "{}: expected no diagnostics; mark a deliberate mistake with \
                     `<!-- error: CODE -->`\n{}",
                    b.place,
                    rendered(&checked)
                )),
                Some(want) if found != [want.clone()] => failures.push(format!(
                    "{}: expected exactly {:?} {}, found {found:?}\n{}",
                    b.place,
                    want.0,
                    want.1,
                    rendered(&checked)
                )),
                _ => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_docs_show_deliberate_mistakes_as_such() {
    // The markers are exercised: at least one of each kind, so a broken marker parser
    // cannot silently turn every example into a clean one.
    let all: Vec<Block> = DOCS.iter().flat_map(|d| blocks(d)).collect();
    for severity in [Severity::Error, Severity::Warning] {
        assert!(
            all.iter().any(|b| b.expected.as_ref().is_some_and(|(s, _)| *s == severity)),
            "no block marked as {severity:?}"
        );
    }
    assert_eq!(marker("<!-- error: KB0101 -->"), Some((Severity::Error, "KB0101".into())));
    assert_eq!(marker("<!-- expect KB0101 -->"), None);
}

// ---- the KPI library ------------------------------------------------------------------

fn library_files() -> Vec<PathBuf> {
    let dir = support::root().join("library");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kpi"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "library/ has {} .kpi files", files.len());
    files
}

fn name(path: &Path) -> String {
    path.strip_prefix(support::root()).unwrap_or(path).display().to_string()
}

#[test]
fn every_library_file_checks_against_its_data_without_a_diagnostic() {
    let opts = CheckOptions { schemas: Some(&FileSchemas), ..Default::default() };
    for path in library_files() {
        let checked = check::check_path(&path, &opts);
        assert!(
            checked.diagnostics.is_empty(),
            "{}: expected no diagnostics\n{}",
            name(&path),
            rendered(&checked)
        );
    }
}

#[test]
fn every_library_file_evaluates_and_every_kpi_has_a_value() {
    for path in library_files() {
        let project = Project::from_file(&path).unwrap();
        let report =
            project.scorecard().unwrap_or_else(|e| panic!("{}: eval failed\n{e}", name(&path)));
        let row = &report.rows[0];
        for (item, cell) in report.items.iter().zip(&row.cells) {
            if let Cell::Kpi(k) = cell {
                assert!(k.value.is_some(), "{}: `{}` has no value", name(&path), item.name);
            }
        }
    }
}

#[test]
fn the_library_scorecard_has_every_kpi_blend_and_view_the_guide_lists() {
    let checked = check::check_path(
        &support::root().join("library/blends.kpi"),
        &CheckOptions { schemas: Some(&FileSchemas), ..Default::default() },
    );
    let program = &checked.program;
    assert!(program.kpis.len() >= 39, "only {} KPIs", program.kpis.len());
    let guide = std::fs::read_to_string(support::root().join("docs/guide.md")).unwrap();
    let names = program
        .kpis
        .iter()
        .map(|k| &k.name)
        .chain(program.blends.iter().map(|b| &b.name))
        .chain(program.views.iter().map(|v| &v.name));
    let missing: Vec<&String> = names.filter(|n| !guide.contains(&format!("`{n}`"))).collect();
    assert!(missing.is_empty(), "docs/guide.md does not name {missing:?}");
}

/// Every definition says what it measures: a `kpi`, `blend`, `dim`, `param`, `view` or
/// `dataset` line is preceded by a `#` comment (only dims may share one), and a KPI's
/// comment also names its variant and its pitfall.
#[test]
fn every_library_definition_is_documented() {
    let mut undocumented = Vec::new();
    for path in library_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let keyword = line.split_whitespace().next().unwrap_or("");
            if !matches!(keyword, "kpi" | "blend" | "param" | "dataset" | "view" | "dim") {
                continue;
            }
            let comment: Vec<&str> =
                lines[..i].iter().rev().take_while(|l| l.starts_with('#')).copied().collect();
            let documented = match keyword {
                "kpi" => {
                    ["Variant", "Pitfall:"].iter().all(|w| comment.iter().any(|l| l.contains(w)))
                }
                "dim" => !comment.is_empty() || (i > 0 && lines[i - 1].starts_with("dim ")),
                _ => !comment.is_empty(),
            };
            if !documented {
                undocumented.push(format!("{}:{}: {line}", name(&path), i + 1));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "definitions without a comment (a KPI's names its variant and pitfall):\n{}",
        undocumented.join("\n")
    );
}

#[test]
fn every_library_file_but_the_datasets_has_tests_and_they_pass() {
    let files = library_files();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let is_datasets = path.file_name().is_some_and(|f| f == "datasets.kpi");
        assert_eq!(
            text.contains("\ntest \""),
            !is_datasets,
            "{}: every library file but datasets.kpi has `test` blocks",
            name(path)
        );
    }
    let args: Vec<String> =
        std::iter::once("test".to_string()).chain(files.iter().map(|p| name(p))).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = support::kpiblend(&support::root(), &args);
    assert!(
        out.status.success(),
        "kpiblend test library/*.kpi failed\n{}{}",
        support::stdout(&out),
        support::stderr(&out)
    );
}
