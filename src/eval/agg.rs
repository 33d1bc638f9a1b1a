//! Aggregate accumulators, one slot per group. Each can be merged with another built
//! over different rows, so chunks can be summed in any partition and merged in a fixed
//! order.

use std::collections::HashSet;

use super::vector::{NULL, TRUE, Vector};
use crate::program::AggFunc;

/// The state of one aggregate for every group seen so far.
#[derive(Debug, Clone)]
pub enum Acc {
    /// `count(dataset)`, `count(x)`: values fed.
    Count(Vec<u64>),
    /// `sum`, `avg`: count, Neumaier-compensated sum and its compensation.
    Sum(Vec<(u64, f64, f64)>),
    Min(Vec<(u64, f64)>),
    Max(Vec<(u64, f64)>),
    /// `median`, `percentile`, `stddev`: every value, selected or summed in sorted order
    /// at the end, so the result cannot depend on row order (a streaming update such as
    /// Welford's rounds differently for each order).
    Values(Vec<Vec<f64>>),
    Distinct(Vec<HashSet<DistinctKey>>),
    /// `rate`: non-null values, true values.
    Rate(Vec<(u64, u64)>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DistinctKey {
    Num(u64),
    Text(Box<str>),
}

impl Acc {
    pub fn new(func: AggFunc) -> Acc {
        match func {
            AggFunc::CountRows | AggFunc::Count => Acc::Count(Vec::new()),
            AggFunc::Sum | AggFunc::Avg => Acc::Sum(Vec::new()),
            AggFunc::Min => Acc::Min(Vec::new()),
            AggFunc::Max => Acc::Max(Vec::new()),
            AggFunc::Percentile(_) | AggFunc::Stddev => Acc::Values(Vec::new()),
            AggFunc::CountDistinct => Acc::Distinct(Vec::new()),
            AggFunc::Rate => Acc::Rate(Vec::new()),
        }
    }

    pub fn grow(&mut self, groups: usize) {
        match self {
            Acc::Count(v) => v.resize(groups, 0),
            Acc::Sum(v) => v.resize(groups, (0, 0.0, 0.0)),
            Acc::Min(v) => v.resize(groups, (0, f64::INFINITY)),
            Acc::Max(v) => v.resize(groups, (0, f64::NEG_INFINITY)),
            Acc::Values(v) => v.resize_with(groups, Vec::new),
            Acc::Distinct(v) => v.resize_with(groups, HashSet::new),
            Acc::Rate(v) => v.resize(groups, (0, 0)),
        }
    }

    /// Feeds the rows of a chunk: `groups[i]` is row i's group, `keep[i]` whether it
    /// passed the filter, `arg` the argument (absent for `count(dataset)`).
    pub fn feed(
        &mut self,
        groups: &[u32],
        keep: Option<&[u8]>,
        arg: Option<&Vector>,
    ) -> Result<(), String> {
        let kept = |i: usize| keep.is_none_or(|k| k[i] == TRUE);
        match (self, arg) {
            (Acc::Count(c), None) => {
                for (i, &g) in groups.iter().enumerate() {
                    if kept(i) {
                        c[g as usize] += 1;
                    }
                }
            }
            (Acc::Count(c), Some(v)) => {
                for (i, &g) in groups.iter().enumerate() {
                    if kept(i) && !v.is_null(i) {
                        c[g as usize] += 1;
                    }
                }
            }
            (Acc::Distinct(sets), Some(v)) => {
                for (i, &g) in groups.iter().enumerate() {
                    if !kept(i) || v.is_null(i) {
                        continue;
                    }
                    let key = match v {
                        Vector::Num(x) => DistinctKey::Num(canonical_bits(x[i])),
                        Vector::Bool(x) => DistinctKey::Num(u64::from(x[i])),
                        Vector::Text(c, d) => DistinctKey::Text(d[c[i] as usize].clone()),
                    };
                    sets[g as usize].insert(key);
                }
            }
            // A column with no values at all (its type unknown) feeds nothing.
            (Acc::Rate(_), Some(Vector::Num(x))) if x.iter().all(|v| v.is_nan()) => {}
            (Acc::Rate(r), Some(Vector::Bool(b))) => {
                for (i, &g) in groups.iter().enumerate() {
                    if kept(i) && b[i] != NULL {
                        let slot = &mut r[g as usize];
                        slot.0 += 1;
                        slot.1 += u64::from(b[i] == TRUE);
                    }
                }
            }
            (acc, Some(Vector::Num(x))) => {
                // The rows that feed, as (group, value); one loop per kind of aggregate.
                let fed = groups
                    .iter()
                    .zip(x)
                    .enumerate()
                    .filter(|&(i, (_, v))| kept(i) && !v.is_nan())
                    .map(|(_, (&g, &v))| (g as usize, v));
                match acc {
                    Acc::Sum(s) => {
                        for (g, v) in fed {
                            let (n, sum, comp) = &mut s[g];
                            *n += 1;
                            neumaier(sum, comp, v);
                        }
                    }
                    // -0 and 0 are equal, and which one `min`/`max` keeps would depend on
                    // row order: `+ 0.0` makes every zero +0.
                    Acc::Min(m) => {
                        for (g, v) in fed {
                            m[g].0 += 1;
                            m[g].1 = m[g].1.min(v + 0.0);
                        }
                    }
                    Acc::Max(m) => {
                        for (g, v) in fed {
                            m[g].0 += 1;
                            m[g].1 = m[g].1.max(v + 0.0);
                        }
                    }
                    Acc::Values(vals) => {
                        for (g, v) in fed {
                            vals[g].push(v);
                        }
                    }
                    _ => return Err("aggregate fed the wrong kind of value".into()),
                }
            }
            (_, Some(v)) => {
                return Err(format!(
                    "aggregate cannot use {}",
                    if matches!(v, Vector::Text(..)) { "text" } else { "true/false values" }
                ));
            }
            (_, None) => return Err("aggregate needs an argument".into()),
        }
        Ok(())
    }

    /// Rows or values that fed group `g` (for `min N`).
    pub fn fed(&self, g: usize) -> u64 {
        match self {
            Acc::Count(v) => v.get(g).copied().unwrap_or(0),
            Acc::Sum(v) => v.get(g).map_or(0, |s| s.0),
            Acc::Min(v) | Acc::Max(v) => v.get(g).map_or(0, |s| s.0),
            Acc::Values(v) => v.get(g).map_or(0, |s| s.len() as u64),
            Acc::Distinct(v) => v.get(g).map_or(0, |s| s.len() as u64),
            Acc::Rate(v) => v.get(g).map_or(0, |s| s.0),
        }
    }

    /// The aggregate's value for group `g`: `None` is SQL null. Groups never seen count
    /// as empty (count 0, everything else null).
    #[allow(clippy::cast_precision_loss)]
    pub fn value(&mut self, func: AggFunc, g: usize) -> Option<f64> {
        match self {
            Acc::Count(v) => Some(v.get(g).copied().unwrap_or(0) as f64),
            Acc::Distinct(v) => Some(v.get(g).map_or(0, HashSet::len) as f64),
            Acc::Sum(v) => {
                let &(n, sum, comp) = v.get(g)?;
                match (n, func) {
                    (0, _) => None,
                    (_, AggFunc::Avg) => Some((sum + comp) / n as f64),
                    _ => Some(sum + comp),
                }
            }
            Acc::Min(v) | Acc::Max(v) => v.get(g).filter(|s| s.0 > 0).map(|s| s.1),
            Acc::Values(v) => match func {
                AggFunc::Percentile(q) => percentile_cont(v.get_mut(g)?, q),
                AggFunc::Stddev => stddev_samp(v.get_mut(g)?),
                _ => None,
            },
            Acc::Rate(v) => {
                let &(n, t) = v.get(g)?;
                (n > 0).then(|| t as f64 / n as f64)
            }
        }
    }

    /// Groups held.
    pub fn len(&self) -> usize {
        match self {
            Acc::Count(v) => v.len(),
            Acc::Sum(v) => v.len(),
            Acc::Min(v) | Acc::Max(v) => v.len(),
            Acc::Values(v) => v.len(),
            Acc::Distinct(v) => v.len(),
            Acc::Rate(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `other` (over different rows, same group numbering) into `self`.
    pub fn merge(&mut self, other: Acc) {
        let n = other.len();
        self.grow(self.len().max(n));
        let map: Vec<u32> = (0..u32::try_from(n).unwrap_or(u32::MAX)).collect();
        self.merge_mapped(other, &map);
    }
}

/// Neumaier's compensated summation: the result does not depend on row order beyond
/// the last bit in practice.
fn neumaier(sum: &mut f64, comp: &mut f64, v: f64) {
    let t = *sum + v;
    if sum.abs() >= v.abs() {
        *comp += (*sum - t) + v;
    } else {
        *comp += (v - t) + *sum;
    }
    *sum = t;
}

/// -0.0 and 0.0 are one value; every NaN was already dropped as null.
fn canonical_bits(x: f64) -> u64 {
    if x == 0.0 { 0 } else { x.to_bits() }
}

/// The continuous percentile (PostgreSQL `percentile_cont`, DuckDB `quantile_cont`):
/// linear interpolation between the two nearest ranks. Selects rather than sorts.
pub fn percentile_cont(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let pos = q * (values.len() - 1) as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let lo = pos.floor() as usize;
    let frac = pos - pos.floor();
    let (_, &mut low, upper) = values.select_nth_unstable_by(lo, f64::total_cmp);
    if frac == 0.0 || upper.is_empty() {
        return Some(low);
    }
    let high = upper.iter().copied().fold(f64::INFINITY, f64::min);
    let spread = high - low;
    if spread.is_finite() {
        Some(low + spread * frac)
    } else {
        // `high - low` overflows for values near both ends of the range (1e308 and
        // -1e308) although the interpolated value fits; this form cannot overflow.
        Some(low * (1.0 - frac) + high * frac)
    }
}

/// The sample standard deviation (PostgreSQL `stddev_samp`): null below 2 values. Two
/// passes over the sorted values (the mean with compensated summation, then the squared
/// deviations), so every row order gives the same bits.
pub fn stddev_samp(values: &mut [f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss)]
    let n = values.len() as f64;
    let compensated = |terms: &mut dyn Iterator<Item = f64>| {
        let (mut sum, mut comp) = (0.0, 0.0);
        for t in terms {
            neumaier(&mut sum, &mut comp, t);
        }
        sum + comp
    };
    let mut mean = compensated(&mut values.iter().copied()) / n;
    if !mean.is_finite() {
        // The sum overflowed although every value is finite: average the parts instead.
        mean = compensated(&mut values.iter().map(|v| v / n));
    }
    let squares = compensated(&mut values.iter().map(|v| (v - mean) * (v - mean)));
    if squares.is_finite() {
        return Some((squares / (n - 1.0)).sqrt());
    }
    // The squares overflowed: scale the deviations by the largest one (the result may
    // still fit, e.g. for 1e308 and -1e308).
    let scale = values.iter().map(|v| (v - mean).abs()).fold(0.0, f64::max);
    let scaled = compensated(&mut values.iter().map(|v| ((v - mean) / scale).powi(2)));
    Some(scale * (scaled / (n - 1.0)).sqrt())
}

impl Acc {
    /// Adds `other`, whose group `i` is this accumulator's group `map[i]`.
    pub fn merge_mapped(&mut self, other: Acc, map: &[u32]) {
        fn each<T>(a: &mut [T], b: Vec<T>, map: &[u32], f: impl Fn(&mut T, T)) {
            for (i, y) in b.into_iter().enumerate() {
                f(&mut a[map[i] as usize], y);
            }
        }
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => each(a, b, map, |x, y| *x += y),
            (Acc::Sum(a), Acc::Sum(b)) => each(a, b, map, |x, y| {
                x.0 += y.0;
                neumaier(&mut x.1, &mut x.2, y.1);
                neumaier(&mut x.1, &mut x.2, y.2);
            }),
            (Acc::Min(a), Acc::Min(b)) => each(a, b, map, |x, y| *x = (x.0 + y.0, x.1.min(y.1))),
            (Acc::Max(a), Acc::Max(b)) => each(a, b, map, |x, y| *x = (x.0 + y.0, x.1.max(y.1))),
            (Acc::Values(a), Acc::Values(b)) => each(a, b, map, |x, y| x.extend(y)),
            (Acc::Distinct(a), Acc::Distinct(b)) => each(a, b, map, |x, y| x.extend(y)),
            (Acc::Rate(a), Acc::Rate(b)) => each(a, b, map, |x, y| *x = (x.0 + y.0, x.1 + y.1)),
            _ => unreachable!("merging accumulators of different aggregates"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_like_percentile_cont() {
        // PostgreSQL: percentile_cont(0.9) within group (order by x) over 1..4 = 3.7
        assert_eq!(percentile_cont(&mut [4.0, 1.0, 3.0, 2.0], 0.9), Some(3.7));
        assert_eq!(percentile_cont(&mut [5.0, 1.0, 3.0], 0.5), Some(3.0));
        assert_eq!(percentile_cont(&mut [1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(percentile_cont(&mut [7.0], 0.9), Some(7.0));
        assert_eq!(percentile_cont(&mut [2.0, 9.0], 0.0), Some(2.0));
        assert_eq!(percentile_cont(&mut [2.0, 9.0], 1.0), Some(9.0));
        assert_eq!(percentile_cont(&mut [], 0.5), None);
    }

    /// `hi - lo` overflows here although the result fits.
    #[test]
    fn percentile_of_values_at_both_ends_of_the_range_does_not_overflow() {
        assert_eq!(percentile_cont(&mut [1e308, -1e308], 0.5), Some(0.0));
        assert_eq!(percentile_cont(&mut [f64::MAX, -f64::MAX, 0.0], 0.25), Some(-f64::MAX / 2.0));
    }

    #[test]
    fn stddev_merges_partial_moments_exactly() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let mut whole = Acc::new(AggFunc::Stddev);
        whole.grow(1);
        whole.feed(&[0; 8], None, Some(&Vector::Num(xs.to_vec()))).unwrap();
        let mut a = Acc::new(AggFunc::Stddev);
        a.grow(1);
        a.feed(&[0; 3], None, Some(&Vector::Num(xs[..3].to_vec()))).unwrap();
        let mut b = Acc::new(AggFunc::Stddev);
        b.grow(1);
        b.feed(&[0; 5], None, Some(&Vector::Num(xs[3..].to_vec()))).unwrap();
        a.merge(b);
        // sample variance of xs = 32 / 7
        let expected = (32.0f64 / 7.0).sqrt();
        assert!((whole.value(AggFunc::Stddev, 0).unwrap() - expected).abs() < 1e-12);
        assert!((a.value(AggFunc::Stddev, 0).unwrap() - expected).abs() < 1e-12);
    }

    /// Blocks of a long file merge one after another: three partials give the same value.
    #[test]
    fn stddev_merges_three_partials_exactly() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let part = |range: std::ops::Range<usize>| {
            let mut acc = Acc::new(AggFunc::Stddev);
            acc.grow(1);
            let n = range.len();
            acc.feed(&vec![0; n], None, Some(&Vector::Num(xs[range].to_vec()))).unwrap();
            acc
        };
        let mut merged = part(0..3);
        merged.merge(part(3..5));
        merged.merge(part(5..8));
        // sample variance of xs = 32 / 7 (mean 5, squared deviations 9+1+1+1+0+0+4+16)
        let expected = (32.0f64 / 7.0).sqrt();
        assert!((merged.value(AggFunc::Stddev, 0).unwrap() - expected).abs() < 1e-12);
    }

    /// The sum of 1e308 and 1e308 overflows, and so do the squared deviations of 1e308
    /// and -1e308; the standard deviations themselves fit.
    #[test]
    fn stddev_of_huge_values_does_not_overflow() {
        assert_eq!(stddev_samp(&mut [1e308, 1e308]), Some(0.0));
        let sd = stddev_samp(&mut [1e308, -1e308]).unwrap();
        assert!((sd - 2f64.sqrt() * 1e308).abs() <= 1e293, "{sd}");
        assert_eq!(stddev_samp(&mut [5.0]), None);
    }
}
