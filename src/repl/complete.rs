//! Completion candidates and hints, independent of any line editor.

use super::Session;
use super::commands::COMMANDS;
use crate::program::{AggFunc, ScalarFunc};

const KEYWORDS: &[&str] = &[
    "and", "blend", "by", "case", "csv", "dataset", "dim", "else", "end", "expect", "false",
    "guard", "import", "in", "is", "kpi", "min", "not", "note", "null", "or", "over", "param",
    "tags", "target", "test", "then", "true", "unit", "view", "warn", "weights", "when", "where",
    "with", "within",
];

/// Where the word being completed starts, and the candidates for it.
pub fn complete(session: &Session, line: &str, pos: usize) -> (usize, Vec<String>) {
    let before = &line[..pos.min(line.len())];
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == ':'))
        .map_or(0, |i| i + 1);
    let word = &before[start..];
    if let Some(cmd) = word.strip_prefix(':')
        && start == 0
    {
        let c = COMMANDS
            .iter()
            .filter(|(c, _)| c.starts_with(cmd))
            .map(|(c, _)| format!(":{c}"))
            .collect();
        return (start, c);
    }
    if let Some((dataset, col)) = word.split_once('.') {
        let c = session
            .columns(dataset)
            .into_iter()
            .filter(|c| c.starts_with(col))
            .map(|c| format!("{dataset}.{c}"))
            .collect();
        return (start, c);
    }
    let mut c: Vec<String> = session
        .names()
        .into_iter()
        .map(|(n, _)| n)
        .chain(functions().map(String::from))
        .chain(KEYWORDS.iter().map(|k| (*k).to_string()))
        .filter(|n| n.starts_with(word) && n != word)
        .collect();
    c.sort();
    c.dedup();
    (start, c)
}

fn functions() -> impl Iterator<Item = &'static str> {
    AggFunc::NAMES
        .iter()
        .map(|(n, _)| *n)
        .chain(ScalarFunc::ALL.iter().map(|(n, _, _)| *n))
        .chain(["corr"])
}

/// A hint shown after the cursor: a function's signature after `name(`, or the rest of
/// the only name that starts with the word typed.
pub fn hint(session: &Session, line: &str, pos: usize) -> Option<String> {
    if pos < line.len() {
        return None;
    }
    if let Some(open) = line.rfind('(') {
        let name_start = line[..open]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let name = &line[name_start..open];
        let inside = &line[open + 1..];
        if !inside.contains(')') && !name.is_empty() {
            let sig = AggFunc::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| *s)
                .or_else(|| ScalarFunc::ALL.iter().find(|(n, _, _)| *n == name).map(|(_, _, s)| *s))
                .or((name == "corr").then_some("corr(kpi_a, kpi_b) over dim"));
            if let Some(sig) = sig
                && inside.is_empty()
            {
                return Some(format!("  {sig}"));
            }
        }
    }
    let (start, candidates) = complete(session, line, pos);
    let word = &line[start..pos];
    if word.len() >= 2 && candidates.len() == 1 {
        return candidates[0].strip_prefix(word).map(String::from);
    }
    None
}
