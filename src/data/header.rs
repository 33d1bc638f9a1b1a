//! The header row: validating names and choosing the columns to load.

use std::collections::HashMap;

use csv::ByteRecord;

use super::error::{LoadError, escape_text, escape_value};
use super::parse::{date_bytes, number_bytes, time_bytes};
use super::{ColumnType, LoadOptions};

/// Validates the header record and returns its names, trimmed of surrounding spaces and tabs.
///
/// Errors (all at the header's line): more than `max_columns` columns, a name that is not UTF-8,
/// an empty name, a duplicate name (naming both 1-based positions), and a single column whose
/// name contains `;` or a tab while the delimiter is something else, which is almost always a
/// file read with the wrong delimiter.
pub(crate) fn header_names(
    rec: &ByteRecord,
    line: u64,
    path: &str,
    opts: &LoadOptions,
) -> Result<Vec<String>, LoadError> {
    if rec.len() > opts.max_columns {
        return Err(LoadError::at(
            path,
            line,
            format!("header has {} columns; at most {} are allowed", rec.len(), opts.max_columns),
        )
        .with_help(
            "export only the columns the KPIs read (the limit is listed under Limits in \
             docs/language.md)",
        ));
    }
    let mut names = Vec::with_capacity(rec.len());
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(rec.len());
    for (i, raw) in rec.iter().enumerate() {
        let Ok(name) = std::str::from_utf8(raw) else {
            return Err(LoadError {
                value: Some(escape_value(raw)),
                ..LoadError::at(
                    path,
                    line,
                    format!(
                        "the name of column {} is not valid utf-8: `{}`",
                        i + 1,
                        escape_value(raw)
                    ),
                )
            }
            .with_help("save the file as UTF-8"));
        };
        let name = name.trim_matches([' ', '\t']);
        if name.is_empty() {
            return Err(LoadError::at(path, line, format!("column {} has an empty name", i + 1))
                .with_help("every column needs a name in the header row"));
        }
        if let Some(first) = seen.insert(name, i) {
            return Err(LoadError::at(
                path,
                line,
                format!(
                    "duplicate column name `{}` (columns {} and {})",
                    escape_text(name),
                    first + 1,
                    i + 1
                ),
            )
            .with_column(name)
            .with_help("rename one of them in the header row"));
        }
        names.push(name.to_owned());
    }
    if let [only] = names.as_slice() {
        if let Some(help) = delimiter_help(only, opts.delimiter) {
            return Err(LoadError::at(
                path,
                line,
                format!(
                    "found 1 column named `{}`; the delimiter is probably wrong",
                    escape_text(only)
                ),
            )
            .with_help(help));
        }
    }
    Ok(names)
}

/// "did you mean delimiter: ";"?" for a single header name that contains another common
/// delimiter (`;`, tab, `,`, `|`).
fn delimiter_help(name: &str, delimiter: u8) -> Option<String> {
    [(b';', ";"), (b'\t', "\\t"), (b',', ","), (b'|', "|")]
        .into_iter()
        .find(|&(d, _)| d != delimiter && name.as_bytes().contains(&d))
        .map(|(_, shown)| format!("did you mean delimiter: \"{shown}\"?"))
}

/// One column to load: where it is in each record and how it is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub name: String,
    pub field: usize,
    pub declared: Option<ColumnType>,
}

/// Resolves `opts.columns` and `opts.declared` against the header.
pub(crate) fn plan_columns(
    names: &[String],
    header_line: u64,
    path: &str,
    opts: &LoadOptions,
) -> Result<Vec<Wanted>, LoadError> {
    let index: HashMap<&str, usize> =
        names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let mut declared: HashMap<&str, ColumnType> = HashMap::new();
    for (name, ty) in &opts.declared {
        if !index.contains_key(name.as_str()) {
            return Err(not_found(name, names, header_line, path));
        }
        declared.entry(name.as_str()).or_insert(*ty);
    }
    let wanted_names: Vec<&str> = match &opts.columns {
        None => names.iter().map(String::as_str).collect(),
        Some(asked) => {
            let mut out: Vec<&str> = Vec::with_capacity(asked.len());
            for name in asked {
                if !index.contains_key(name.as_str()) {
                    return Err(not_found(name, names, header_line, path));
                }
                if !out.contains(&name.as_str()) {
                    out.push(name);
                }
            }
            out
        }
    };
    Ok(wanted_names
        .into_iter()
        .map(|name| Wanted {
            name: name.to_owned(),
            field: index[name],
            declared: declared.get(name).copied(),
        })
        .collect())
}

/// "column `x` not found in the header", with the most useful help we can give.
fn not_found(name: &str, names: &[String], line: u64, path: &str) -> LoadError {
    let err = LoadError::at(
        path,
        line,
        format!("column `{}` not found in the header", escape_text(name)),
    )
    .with_column(name);
    let looks_like_data = names.iter().find(|n| {
        let b = n.as_bytes();
        number_bytes(b).is_ok() || time_bytes(b).is_some() || date_bytes(b).is_some()
    });
    if let Some(value) = looks_like_data {
        return err.with_help(format!(
            "the first row looks like data (`{}`); the file needs a header row naming its columns",
            escape_text(value)
        ));
    }
    if let Some(close) = names
        .iter()
        .filter(|n| n.eq_ignore_ascii_case(name) || edit_distance(n, name) <= 2)
        .min_by_key(|n| edit_distance(n, name))
    {
        return err.with_help(format!("did you mean `{}`?", escape_text(close)));
    }
    let mut listed: Vec<String> = names.iter().take(8).map(|n| escape_text(n)).collect();
    if names.len() > listed.len() {
        listed.push("…".to_owned());
    }
    err.with_help(format!("the header has: {}", listed.join(", ")))
}

/// Levenshtein distance in characters (names are short; quadratic is fine).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("talk_time", "talk_tim"), 1);
        assert_eq!(edit_distance("agent", "agnet"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("queue", "queue"), 0);
    }

    #[test]
    fn delimiter_help_names_the_likely_delimiter() {
        assert_eq!(
            delimiter_help("a;b;c", b','),
            Some("did you mean delimiter: \";\"?".to_owned())
        );
        assert_eq!(
            delimiter_help("a\tb", b','),
            Some("did you mean delimiter: \"\\t\"?".to_owned())
        );
        assert_eq!(delimiter_help("agent", b','), None);
        assert_eq!(delimiter_help("a;b", b';'), None);
    }
}
