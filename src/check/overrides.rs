//! `--param` and `--data` names that the definitions do not have. An override that
//! fits nothing would otherwise be ignored, and the results would quietly use the
//! defaults the user meant to replace.

use std::path::PathBuf;

use crate::diagnostic::{Code, Diagnostic};
use crate::suggest;

/// One error per `--param` (in `param_overrides`) that names no param in `params` and
/// per `--data` (in `data_overrides`) that names no dataset in `datasets`, with the
/// closest name as a suggestion.
pub fn unmatched_overrides(
    param_overrides: &[(String, String)],
    data_overrides: &[(String, PathBuf)],
    params: &[&str],
    datasets: &[&str],
) -> Vec<Diagnostic> {
    let params_given =
        param_overrides.iter().map(|(n, v)| (n.as_str(), format!("--param {n}={v}")));
    let data_given =
        data_overrides.iter().map(|(n, p)| (n.as_str(), format!("--data {n}={}", p.display())));
    let mut out = Vec::new();
    for (kind, known, given) in [
        ("param", params, params_given.collect::<Vec<_>>()),
        ("dataset", datasets, data_given.collect()),
    ] {
        for (name, flag) in given {
            if known.contains(&name) {
                continue;
            }
            let d =
                Diagnostic::error(Code::BadOverride, format!("{flag}: no {kind} named `{name}`"));
            out.push(match suggest::similar(name, known.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None if known.is_empty() => d.help(format!("the definitions have no {kind}")),
                None => d.help(format!("{kind}s: {}", known.join(", "))),
            });
        }
    }
    out
}
