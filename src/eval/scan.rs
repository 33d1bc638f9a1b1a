//! One pass over a dataset feeds every grouping and aggregate that reads it.
//!
//! Rows are taken in blocks. Each block is grouped and aggregated on its own (so blocks
//! can run on several threads), and the partial results are merged in block order, so
//! the result does not depend on the number of threads.

use std::collections::HashMap;
use std::sync::mpsc;

use super::agg::Acc;
use super::group::{Grouper, Key};
use super::vector::{self, Frame};
use crate::program::*;

/// One grouping computed during a scan: its dims and the aggregates it feeds.
#[derive(Debug, Clone)]
pub struct Grouping {
    pub dims: Vec<DimId>,
    pub aggs: Vec<AggId>,
}

/// One grouping's group keys and accumulators, in the same group order.
pub type Groups = (Vec<Vec<Key>>, Vec<Acc>);

/// Keys and accumulators of each grouping, over some rows.
pub struct Partial {
    sets: Vec<Groups>,
}

/// An error evaluating a block: the message, and the aggregate whose argument or filter
/// failed (none for a dim or the request's filter).
#[derive(Debug)]
pub struct BlockError {
    pub message: String,
    /// What was being evaluated, for the error's place.
    pub place: Place,
}

/// The expression a row error came from.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    Agg(AggId),
    Dim(DimId),
    /// The request's filter (a view's `where`, `--where`, the period).
    Filter,
    /// No one expression (the group limit).
    Nowhere,
}

impl From<String> for BlockError {
    fn from(message: String) -> Self {
        BlockError { message, place: Place::Nowhere }
    }
}

/// Groups a block's rows and feeds its aggregates.
pub fn feed_block(
    program: &Program,
    frame: &Frame<'_>,
    filter: Option<&RowExpr>,
    groupings: &[Grouping],
) -> Result<Partial, BlockError> {
    let keep = filter
        .map(|f| frame.bools(f))
        .transpose()
        .map_err(|message| BlockError { message, place: Place::Filter })?;
    let mut sets = Vec::with_capacity(groupings.len());
    let mut groups = Vec::new();
    // Aggregate arguments and filters are shared by groupings: evaluate each once.
    let mut masks: HashMap<AggId, Option<Vec<u8>>> = HashMap::new();
    let mut args: HashMap<AggId, Option<vector::Vector>> = HashMap::new();
    for g in groupings {
        let dims: Vec<_> = g
            .dims
            .iter()
            .map(|&d| {
                frame
                    .eval(&program.dims[d].expr)
                    .map_err(|message| BlockError { message, place: Place::Dim(d) })
            })
            .collect::<Result<_, _>>()?;
        let mut grouper = Grouper::new(g.dims.len(), usize::MAX);
        grouper
            .assign(&dims, keep.as_deref(), frame.rows.len(), &mut groups)
            .map_err(|_| "too many groups".to_string())?;
        let mut accs = Vec::with_capacity(g.aggs.len());
        for &a in &g.aggs {
            let def = &program.aggregates[a];
            // An ungrouped count of a column's values reads the column in place (the hidden
            // counts of `emptiness` are such counts, one per column read).
            if g.dims.is_empty()
                && def.func == AggFunc::Count
                && def.filter.is_none()
                && let Some(RowExpr::Column { dataset, column, .. }) = &def.arg
                && *dataset == frame.root
                && let Some(n) = frame.count_values(column, keep.as_deref())
            {
                accs.push(Acc::Count(vec![n]));
                continue;
            }
            let in_agg = |message: String| BlockError { message, place: Place::Agg(a) };
            if let std::collections::hash_map::Entry::Vacant(slot) = masks.entry(a) {
                let own =
                    def.filter.as_ref().map(|f| frame.bools(f)).transpose().map_err(in_agg)?;
                let mask = match (&keep, own) {
                    (None, m) => m,
                    (Some(k), None) => Some(k.clone()),
                    (Some(k), Some(m)) => Some(
                        k.iter().zip(m).map(|(&a, b)| vector::logic(BinaryOp::And, a, b)).collect(),
                    ),
                };
                slot.insert(mask);
                args.insert(
                    a,
                    def.arg.as_ref().map(|x| frame.eval(x)).transpose().map_err(in_agg)?,
                );
            }
            let mut acc = Acc::new(def.func);
            acc.grow(grouper.len());
            acc.feed(&groups, masks[&a].as_deref(), args[&a].as_ref()).map_err(in_agg)?;
            accs.push(acc);
        }
        sets.push((grouper.into_keys(), accs));
    }
    Ok(Partial { sets })
}

/// Partials merged in block order.
pub struct Merged {
    sets: Vec<MergedSet>,
    limit: usize,
}

struct MergedSet {
    index: HashMap<Vec<Key>, u32>,
    keys: Vec<Vec<Key>>,
    accs: Vec<Acc>,
}

impl Merged {
    pub fn new(program: &Program, groupings: &[Grouping], limit: usize) -> Merged {
        let sets = groupings
            .iter()
            .map(|g| MergedSet {
                index: HashMap::new(),
                keys: Vec::new(),
                accs: g.aggs.iter().map(|&a| Acc::new(program.aggregates[a].func)).collect(),
            })
            .collect();
        Merged { sets, limit }
    }

    /// Adds a block's partial; `Err(limit)` when the groups exceed the limit.
    pub fn add(&mut self, partial: Partial) -> Result<(), usize> {
        for (set, (keys, accs)) in self.sets.iter_mut().zip(partial.sets) {
            let mut map = Vec::with_capacity(keys.len());
            for key in keys {
                let next = u32::try_from(set.keys.len()).unwrap_or(u32::MAX);
                let id = match set.index.get(&key) {
                    Some(&id) => id,
                    None => {
                        if set.keys.len() >= self.limit {
                            return Err(self.limit);
                        }
                        set.index.insert(key.clone(), next);
                        set.keys.push(key);
                        next
                    }
                };
                map.push(id);
            }
            for (global, local) in set.accs.iter_mut().zip(accs) {
                global.grow(set.keys.len());
                global.merge_mapped(local, &map);
            }
        }
        Ok(())
    }

    /// Per grouping: the keys found and the accumulators, in the same group order.
    pub fn finish(self) -> Vec<Groups> {
        self.sets
            .into_iter()
            .map(|mut s| {
                for acc in &mut s.accs {
                    acc.grow(s.keys.len());
                }
                (s.keys, s.accs)
            })
            .collect()
    }
}

/// Worker threads to use: `KPIBLEND_THREADS`, else the machine's parallelism.
pub fn default_threads() -> usize {
    std::env::var("KPIBLEND_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| {
            // Asking reads the cgroup quota from /sys or /proc each time: ask once.
            static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
            *CORES.get_or_init(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            })
        })
}

/// Runs `work` on every block, on `threads` threads, and hands the results to `merge`
/// in block order. Stops at the first error (of `work` or of `merge`).
pub fn run_ordered<B, R, E>(
    blocks: impl Iterator<Item = B> + Send,
    threads: usize,
    work: &(dyn Fn(B) -> Result<R, E> + Sync),
    mut merge: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    B: Send,
    R: Send,
    E: Send,
{
    if threads <= 1 {
        for b in blocks {
            merge(work(b)?)?;
        }
        return Ok(());
    }
    // Workers take the next block from a shared iterator (reading the file happens
    // there, one worker at a time), work on it, and send the result back; this thread
    // merges results in block order.
    let blocks = std::sync::Mutex::new(blocks.enumerate());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::sync_channel::<(usize, Result<R, E>)>(threads * 2);
        let mut workers = 0;
        for _ in 0..threads {
            let (blocks, tx, stop) = (&blocks, done_tx.clone(), &stop);
            // Row expressions are evaluated recursively (up to the parser's depth limit):
            // give workers the stack the calling thread has (see `check::on_big_stack`).
            let worker = std::thread::Builder::new().stack_size(64 << 20);
            let spawned = worker.spawn_scoped(scope, move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let next = blocks.lock().ok().and_then(|mut b| b.next());
                    let Some((i, b)) = next else { break };
                    if tx.send((i, work(b))).is_err() {
                        break;
                    }
                }
            });
            workers += usize::from(spawned.is_ok());
        }
        drop(done_tx);
        if workers == 0 {
            // No thread could be started: do the work here.
            while let Some((_, b)) = blocks.lock().ok().and_then(|mut b| b.next()) {
                merge(work(b)?)?;
            }
            return Ok(());
        }
        let mut pending: std::collections::BTreeMap<usize, Result<R, E>> =
            std::collections::BTreeMap::new();
        let mut next = 0;
        let mut result = Ok(());
        for (i, r) in done_rx.iter() {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&next) {
                next += 1;
                if result.is_ok() {
                    result = r.and_then(&mut merge);
                    if result.is_err() {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }
        result
    })
}
