//! Streaming scans: datasets are read from their files in blocks, on several threads,
//! and each block feeds the aggregates and is dropped. Only columns that other datasets
//! reach through links are kept, and only those columns (a survey needs its call's
//! site, not its call's notes).
//!
//! Datasets are read "one" side first, so a dataset's links can be followed while it
//! streams. Anything unusual stops with [`Stop::Fallback`] and the caller reads the
//! files with the careful loader instead.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::data::{duplicate_key, missing_keys, walk_columns};
use super::keys::KeyIndex;
use super::scan::{self, Grouping, Groups, Merged};
use super::vector::{Dict, Frame};
use super::{Data, Engine, Stop};
use crate::data::fast::{self, Blocks, Layout};
use crate::data::{Column, ColumnData, ColumnType, LoadOptions, Table};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::*;

/// Scans every job's dataset once; results are in job order.
pub(super) fn scan_all(
    engine: &Engine<'_>,
    jobs: &[(DatasetId, Vec<(usize, Grouping)>)],
    load: &LoadOptions,
) -> Result<Vec<Vec<Groups>>, Stop> {
    let program = engine.program;
    let n = program.datasets.len();
    // What each root reads, and from which datasets through which links.
    let mut own: Vec<BTreeSet<String>> = vec![BTreeSet::new(); n];
    let mut kept: Vec<BTreeSet<String>> = vec![BTreeSet::new(); n];
    let mut involved: BTreeSet<DatasetId> = BTreeSet::new();
    for (root, groupings) in jobs {
        involved.insert(*root);
        let mut exprs: Vec<&RowExpr> = Vec::new();
        for (_, g) in groupings {
            exprs.extend(g.dims.iter().map(|&d| &program.dims[d].expr));
            for &a in &g.aggs {
                exprs.extend(program.aggregates[a].arg.iter().chain(&program.aggregates[a].filter));
            }
        }
        exprs.extend(engine.filter);
        for e in exprs {
            walk_columns(e, &mut |d, c| {
                if d == *root {
                    own[d].insert(c.to_string());
                } else {
                    kept[d].insert(c.to_string());
                    involved.insert(d);
                }
            });
        }
        // Every link of a dataset that is read is followed, used or not, so duplicate
        // and missing keys are reported as the careful reader reports them.
        for link in &program.datasets[*root].links {
            own[*root].insert(link.column.clone());
            kept[link.target].insert(link.target_column.clone());
            involved.insert(link.target);
        }
    }
    // Datasets reached through others keep their link columns, and their targets the keys.
    let roots: Vec<DatasetId> = involved.iter().copied().collect();
    for &d in &roots {
        for r in &roots {
            if *r != d && program.reaches(*r, d) {
                for (from, li) in program.link_path(*r, d).unwrap_or_default() {
                    let link = &program.datasets[from].links[li];
                    if from != *r {
                        kept[from].insert(link.column.clone());
                    }
                    kept[link.target].insert(link.target_column.clone());
                    involved.insert(link.target);
                }
            }
        }
    }
    // A declared type is a promise about every row: its cells are parsed (and a bad one is
    // an error, or a skipped row) whether or not this request reads them, as in the
    // careful reader (`data::referenced_columns`).
    for &d in &involved {
        own[d].extend(program.datasets[d].declared.iter().map(|(name, _)| name.clone()));
    }
    // "One" sides first: a dataset after every dataset it reaches.
    let mut order: Vec<DatasetId> = involved.iter().copied().collect();
    order.sort_by_key(|&d| (0..n).filter(|&x| x != d && program.reaches(d, x)).count());

    let mut kept_tables: HashMap<String, Arc<Table>> = HashMap::new();
    let mut results: Vec<Option<Vec<Groups>>> = vec![None; jobs.len()];
    for d in order {
        let data = Data::from_tables(program, kept_tables.clone())
            .map_err(|mut e| Stop::Error(e.remove(0)))?;
        let job = jobs.iter().position(|(r, _)| *r == d);
        let groupings: Vec<Grouping> =
            job.map(|j| jobs[j].1.iter().map(|(_, g)| g.clone()).collect()).unwrap_or_default();
        let (groups, table) = scan_dataset(engine, d, &groupings, &own[d], &kept[d], &data, load)?;
        if let Some(j) = job {
            results[j] = Some(groups);
        }
        kept_tables.insert(program.datasets[d].name.clone(), Arc::new(table));
    }
    Ok(results.into_iter().map(Option::unwrap_or_default).collect())
}

/// What one block gives back: its partial aggregates, the kept columns of its rows, and
/// per link the keys that found no row.
struct BlockOut {
    /// The block's size in bytes.
    bytes: u64,
    partial: Option<scan::Partial>,
    kept: Vec<Column>,
    missing: Vec<u64>,
}

#[allow(clippy::too_many_lines)]
fn scan_dataset(
    engine: &Engine<'_>,
    d: DatasetId,
    groupings: &[Grouping],
    own: &BTreeSet<String>,
    kept: &BTreeSet<String>,
    data: &Data,
    load: &LoadOptions,
) -> Result<(Vec<Groups>, Table), Stop> {
    let program = engine.program;
    let ds = &program.datasets[d];
    let schema =
        ds.schema.as_ref().ok_or_else(|| Stop::Fallback(format!("no schema for `{}`", ds.name)))?;
    let type_of = |c: &str| ds.declared.iter().chain(schema).find(|(n, _)| n == c).map(|(_, t)| *t);
    let names: BTreeSet<&String> = own.iter().chain(kept).collect();
    let wanted: Vec<(String, ColumnType)> = names
        .iter()
        .map(|c| type_of(c).map(|t| ((*c).clone(), t)))
        .collect::<Option<_>>()
        .ok_or_else(|| Stop::Fallback("a column has no type".into()))?;
    let kept_slots: Vec<usize> =
        wanted.iter().enumerate().filter(|(_, (c, _))| kept.contains(c)).map(|(i, _)| i).collect();

    // Links of this dataset, with the index of their target's key column.
    let mut hops: Vec<(usize, KeyIndex)> = Vec::new();
    for (li, link) in ds.links.iter().enumerate() {
        if let Some(col) = data.column(link.target, &link.target_column) {
            let index = KeyIndex::build(&col.data)
                .map_err(|msg| Stop::Error(duplicate_key(program, link, &msg)))?;
            hops.push((li, index));
        }
    }

    let file = crate::data::open_data_file(&ds.path).map_err(|e| Stop::Fallback(e.message))?;
    let size = file.metadata().map_or(0, |m| m.len());
    let pool: fast::Pool = std::sync::Arc::default();
    let mut blocks = Blocks::new(file, load.max_record_bytes).with_pool(pool.clone());
    let first = match blocks.next() {
        Some(b) => b.map_err(|f| Stop::Fallback(f.0))?,
        None => return Err(Stop::Fallback("empty file".into())),
    };
    let (layout, data_start) =
        Layout::from_header(&first, ds.delimiter, &wanted).map_err(|f| Stop::Fallback(f.0))?;
    if layout.width > load.max_columns {
        return Err(Stop::Fallback("too many columns".into()));
    }
    // A file that fits in its first block is scanned here: threads would wait for nothing.
    let threads = if size > 0 && first.len() as u64 >= size { 1 } else { engine.threads };
    let first_rest = first[data_start..].to_vec();
    let all = std::iter::once(Ok(first_rest)).chain(blocks);

    let work = |block: Result<Vec<u8>, fast::Fallback>| -> Result<BlockOut, Stop> {
        if engine.cancel.as_ref().is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
            return Err(Stop::Error(Diagnostic::error(Code::Interrupted, "interrupted")));
        }
        let bytes = block.map_err(|f| Stop::Fallback(f.0))?;
        let block_len = bytes.len() as u64;
        let table = fast::parse_block(&bytes, &layout).map_err(|f| Stop::Fallback(f.0))?;
        // Hand the buffer back for the next block (a few are enough to go round).
        if let Ok(mut p) = pool.lock()
            && p.len() < 8
        {
            p.push(bytes);
        }
        let rows = table.rows;
        let mut missing = vec![0; ds.links.len()];
        let partial = if groupings.is_empty() {
            None
        } else {
            // Where each row's links lead, for every dataset this one reaches.
            let mut maps: Vec<Option<Vec<u32>>> = vec![None; program.datasets.len()];
            for (li, index) in &hops {
                let link = &ds.links[*li];
                let Some(col) = table.column(&link.column) else { continue };
                let (first_hop, miss) = index.map(&col.data, 0..rows);
                missing[*li] = miss;
                for (x, beyond) in data.maps(link.target).iter().enumerate() {
                    if let Some(m) = beyond {
                        maps[x] = Some(
                            first_hop
                                .iter()
                                .map(|&r| if r == u32::MAX { u32::MAX } else { m[r as usize] })
                                .collect(),
                        );
                    }
                }
                maps[link.target] = Some(first_hop);
            }
            let dicts: HashMap<&str, Dict> = table
                .columns
                .iter()
                .filter_map(|c| match &c.data {
                    ColumnData::Text { dict, .. } => {
                        Some((c.name.as_str(), Arc::from(dict.clone())))
                    }
                    _ => None,
                })
                .collect();
            let column =
                |x: DatasetId, c: &str| if x == d { table.column(c) } else { data.column(x, c) };
            let dict = |x: DatasetId, c: &str| {
                if x == d { dicts.get(c).cloned() } else { data.dict(x, c) }
            };
            let frame = Frame {
                rows: 0..rows,
                maps: &maps,
                root: d,
                column: &column,
                dicts: &dict,
                dims: Default::default(),
            };
            let fail = |e: super::scan::BlockError| {
                Stop::Error(super::row_error(program, d, e, engine.filter_at))
            };
            Some(scan::feed_block(program, &frame, engine.filter, groupings).map_err(fail)?)
        };
        let mut columns = table.columns;
        let kept: Vec<Column> = kept_slots
            .iter()
            .rev()
            .map(|&i| columns.swap_remove(i))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        // Kept columns live until the scan ends: hold only what they use.
        let kept = kept
            .into_iter()
            .map(|mut c| {
                match &mut c.data {
                    ColumnData::Num(v) => v.shrink_to_fit(),
                    ColumnData::Bool(v) => v.shrink_to_fit(),
                    ColumnData::Text { codes, dict } => {
                        codes.shrink_to_fit();
                        dict.shrink_to_fit();
                    }
                }
                c
            })
            .collect();
        Ok(BlockOut { bytes: block_len, partial, kept, missing })
    };

    let mut merged = Merged::new(program, groupings, engine.max_groups);
    let mut kept_parts: Vec<Vec<Column>> = Vec::new();
    let mut missing = vec![0u64; ds.links.len()];
    // The header line (and a BOM) is not in the first block.
    let mut read = data_start as u64;
    scan::run_ordered(all, threads, &work, |out: BlockOut| {
        read += out.bytes;
        if let Some(progress) = engine.progress {
            (progress.0)(&ds.name, read.min(size), size);
        }
        if let Some(p) = out.partial {
            merged.add(p).map_err(|limit| Stop::Error(super::too_many_groups(limit)))?;
        }
        kept_parts.push(out.kept);
        for (m, x) in missing.iter_mut().zip(out.missing) {
            *m += x;
        }
        Ok(())
    })?;
    for (li, &m) in missing.iter().enumerate() {
        if m > 0 {
            engine
                .warnings
                .lock()
                .map_err(|_| Stop::Fallback("poisoned".into()))?
                .push(missing_keys(program, d, &ds.links[li], m));
        }
    }
    let columns: Vec<Column> = kept_slots
        .iter()
        .enumerate()
        .map(|(k, &slot)| {
            concat(
                &wanted[slot],
                kept_parts
                    .iter_mut()
                    .map(|p| std::mem::replace(&mut p[k].data, ColumnData::Num(Vec::new()))),
            )
        })
        .collect();
    let rows = columns.first().map_or(0, |c| c.data.len());
    let table = Table {
        columns,
        rows,
        report: crate::data::LoadReport {
            records_read: rows as u64,
            skipped: 0,
            first_errors: Vec::new(),
            inferred: Vec::new(),
            untyped: Vec::new(),
            text_among_numbers: Vec::new(),
        },
    };
    Ok((merged.finish(), table))
}

/// Joins a column's blocks; text codes are translated into one dictionary.
fn concat((name, ty): &(String, ColumnType), parts: impl Iterator<Item = ColumnData>) -> Column {
    let data = match ty {
        ColumnType::Text => {
            let (mut codes, mut dict, mut index) =
                (Vec::new(), Vec::<Box<str>>::new(), HashMap::<Box<str>, u32>::new());
            for part in parts {
                let ColumnData::Text { codes: c, dict: d } = part else { continue };
                let remap: Vec<u32> = d
                    .into_iter()
                    .map(|s| {
                        *index.entry(s.clone()).or_insert_with(|| {
                            dict.push(s);
                            u32::try_from(dict.len() - 1).unwrap_or(u32::MAX)
                        })
                    })
                    .collect();
                codes.extend(
                    c.into_iter().map(|x| if x == u32::MAX { x } else { remap[x as usize] }),
                );
            }
            ColumnData::Text { codes, dict }
        }
        ColumnType::Bool => ColumnData::Bool(
            parts.flat_map(|p| if let ColumnData::Bool(v) = p { v } else { Vec::new() }).collect(),
        ),
        _ => ColumnData::Num(
            parts.flat_map(|p| if let ColumnData::Num(v) = p { v } else { Vec::new() }).collect(),
        ),
    };
    Column { name: name.clone(), ty: *ty, data }
}
