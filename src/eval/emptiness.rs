//! Datasets with no rows and columns with no value. An export that holds only a header, or
//! a column nobody fills, makes every KPI over it empty (counts 0, the rest null), which
//! reads like a quiet week; these warnings say why instead.
//!
//! Each dataset that evaluation scans gets a hidden count of its rows, and each column an
//! aggregate reads from it a hidden count of its values, computed with the other
//! aggregates in the same scan (ungrouped, under the request's filter). Columns reached
//! through links are not counted: a missing value there is a key that found no row
//! (KB0505) or a gap on the other side, not an empty column of this dataset.

use super::Engine;
use super::data::walk_column_nodes;
use crate::diagnostic::{Code, DataLocation, Diagnostic};
use crate::program::*;

/// One scanned dataset: the hidden aggregates that count its rows and its columns' values.
pub(super) struct Check {
    dataset: DatasetId,
    rows: AggId,
    columns: Vec<(String, AggId)>,
}

impl Check {
    pub(super) fn hidden(&self) -> impl Iterator<Item = AggId> + '_ {
        std::iter::once(self.rows).chain(self.columns.iter().map(|(_, a)| *a))
    }
}

/// Adds to `program` the hidden counts for the datasets and columns that `aggs` read.
pub(super) fn plan(program: &mut Program, aggs: &[AggId]) -> Vec<Check> {
    let mut checks: Vec<Check> = Vec::new();
    for &a in aggs {
        let def = program.aggregates[a].clone();
        let at = match checks.iter().position(|c| c.dataset == def.dataset) {
            Some(at) => at,
            None => {
                let rows = push(program, def.dataset, AggFunc::CountRows, None);
                checks.push(Check { dataset: def.dataset, rows, columns: Vec::new() });
                checks.len() - 1
            }
        };
        let mut read = Vec::new();
        for e in def.arg.iter().chain(&def.filter) {
            walk_column_nodes(e, &mut |node| {
                if let RowExpr::Column { dataset, .. } = node
                    && *dataset == def.dataset
                    && !read.iter().any(|n: &RowExpr| n == node)
                {
                    read.push(node.clone());
                }
            });
        }
        for node in read {
            let RowExpr::Column { column, .. } = &node else { continue };
            if checks[at].columns.iter().any(|(c, _)| c == column) {
                continue;
            }
            let column = column.clone();
            let count = push(program, def.dataset, AggFunc::Count, Some(node));
            checks[at].columns.push((column, count));
        }
    }
    checks
}

fn push(program: &mut Program, dataset: DatasetId, func: AggFunc, arg: Option<RowExpr>) -> AggId {
    program.aggregates.push(AggDef { func, dataset, arg, filter: None });
    program.aggregates.len() - 1
}

/// The warnings for datasets with no rows and columns with no value, after `compute`.
pub(super) fn warnings(engine: &Engine<'_>, checks: &[Check]) -> Vec<Diagnostic> {
    let Some(total) = engine.tables.get(&Vec::new()) else { return Vec::new() };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let count = |a: AggId| {
        total.aggs.get(&a).and_then(|(v, _)| v.first().copied().flatten()).unwrap_or(0.0) as u64
    };
    let filtered = engine.filter.is_some();
    let mut out = Vec::new();
    for check in checks {
        let ds = &engine.program.datasets[check.dataset];
        let place = |column: Option<&str>| DataLocation {
            path: ds.path.display().to_string(),
            line: None,
            record: None,
            column: column.map(str::to_string),
        };
        let rows = count(check.rows);
        if rows == 0 {
            let message = if filtered {
                format!("no row of `{}` passes the filter: its KPIs are empty", ds.name)
            } else {
                format!("`{}` has no data rows: its KPIs are empty", ds.name)
            };
            let mut d = Diagnostic::warning(Code::NoRows, message)
                .note("counts over it are 0 and every other aggregate is null");
            d.data = Some(place(None));
            out.push(d);
            continue;
        }
        for (column, agg) in &check.columns {
            if count(*agg) > 0 {
                continue;
            }
            let rows = match (rows, filtered) {
                (1, false) => "its 1 row".to_string(),
                (1, true) => "the 1 row that passes the filter".to_string(),
                (n, false) => format!("its {n} rows"),
                (n, true) => format!("the {n} rows that pass the filter"),
            };
            let mut d = Diagnostic::warning(
                Code::EmptyColumn,
                format!("column `{column}` of `{}` has no value in {rows}", ds.name),
            )
            .note("aggregates of it are null (counts 0): check the export");
            d.data = Some(place(Some(column)));
            out.push(d);
        }
    }
    out
}
