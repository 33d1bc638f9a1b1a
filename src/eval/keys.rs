//! Hash (or direct) indexes on link keys: the "one" side of a many-to-one link.

use std::collections::HashMap;

use crate::data::ColumnData;

/// Where a key of the "many" side leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The key is null: no row, and not counted as missing.
    Null,
    Missing,
    Row(u32),
}

/// An index from key values to rows of the linked dataset.
#[derive(Debug, Clone)]
pub enum KeyIndex {
    /// Integer keys in a compact range (ids `1..=N`): a direct table, no hashing.
    Dense {
        min: i64,
        rows: Vec<u32>,
    },
    Hashed {
        nums: HashMap<u64, u32>,
        texts: HashMap<Box<str>, u32>,
    },
}

fn num_key(x: f64) -> u64 {
    if x == 0.0 { 0 } else { x.to_bits() }
}

impl KeyIndex {
    /// Indexes a key column; a key that appears twice is an error naming it.
    pub fn build(data: &ColumnData) -> Result<KeyIndex, String> {
        let dup = |shown: String| Err(format!("has the key {shown} more than once"));
        match data {
            ColumnData::Num(v) => {
                let ints =
                    v.iter().filter(|x| !x.is_nan()).all(|x| x.fract() == 0.0 && x.abs() < 1e15);
                let (min, max) = v
                    .iter()
                    .filter(|x| !x.is_nan())
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
                #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
                if ints && min <= max && (max - min) < (2 * v.len() + 1024) as f64 {
                    let min = min as i64;
                    let mut rows =
                        vec![u32::MAX; usize::try_from(max as i64 - min + 1).unwrap_or(0)];
                    for (r, &x) in v.iter().enumerate() {
                        if x.is_nan() {
                            continue;
                        }
                        let slot = &mut rows[usize::try_from(x as i64 - min).unwrap_or(0)];
                        if *slot != u32::MAX {
                            return dup(format!("{x}"));
                        }
                        *slot = u32::try_from(r).unwrap_or(u32::MAX);
                    }
                    return Ok(KeyIndex::Dense { min, rows });
                }
                let mut nums = HashMap::with_capacity(v.len());
                for (r, &x) in v.iter().enumerate() {
                    if !x.is_nan()
                        && nums.insert(num_key(x), u32::try_from(r).unwrap_or(u32::MAX)).is_some()
                    {
                        return dup(format!("{x}"));
                    }
                }
                Ok(KeyIndex::Hashed { nums, texts: HashMap::new() })
            }
            ColumnData::Bool(v) => {
                let mut nums = HashMap::new();
                for (r, &b) in v.iter().enumerate() {
                    if b != 2
                        && nums.insert(u64::from(b), u32::try_from(r).unwrap_or(u32::MAX)).is_some()
                    {
                        return dup(format!("{}", b == 1));
                    }
                }
                Ok(KeyIndex::Hashed { nums, texts: HashMap::new() })
            }
            ColumnData::Text { codes, dict } => {
                let mut texts = HashMap::with_capacity(codes.len());
                for (r, &c) in codes.iter().enumerate() {
                    if c != u32::MAX
                        && texts
                            .insert(dict[c as usize].clone(), u32::try_from(r).unwrap_or(u32::MAX))
                            .is_some()
                    {
                        return dup(format!(
                            "`{}`",
                            crate::render::escape::sanitize(&dict[c as usize])
                        ));
                    }
                }
                Ok(KeyIndex::Hashed { nums: HashMap::new(), texts })
            }
        }
    }

    /// The row for the key in `data` at `row`.
    #[inline]
    pub fn find(&self, data: &ColumnData, row: usize) -> Found {
        let hit = |r: Option<&u32>| r.map_or(Found::Missing, |&r| Found::Row(r));
        match (self, data) {
            (_, ColumnData::Num(v)) if v[row].is_nan() => Found::Null,
            (_, ColumnData::Bool(v)) if v[row] == 2 => Found::Null,
            (_, ColumnData::Text { codes, .. }) if codes[row] == u32::MAX => Found::Null,
            (KeyIndex::Dense { min, rows }, ColumnData::Num(v)) => {
                let x = v[row];
                #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
                let at = if x.fract() == 0.0 && x.abs() < 1e15 {
                    usize::try_from(x as i64 - min).ok()
                } else {
                    None
                };
                match at.and_then(|i| rows.get(i)) {
                    Some(&r) if r != u32::MAX => Found::Row(r),
                    _ => Found::Missing,
                }
            }
            (KeyIndex::Hashed { nums, .. }, ColumnData::Num(v)) => hit(nums.get(&num_key(v[row]))),
            (KeyIndex::Hashed { nums, .. }, ColumnData::Bool(v)) => {
                hit(nums.get(&u64::from(v[row])))
            }
            (KeyIndex::Hashed { texts, .. }, ColumnData::Text { codes, dict }) => {
                hit(texts.get(&dict[codes[row] as usize]))
            }
            _ => Found::Missing,
        }
    }

    /// Rows reached from every row of `data` (u32::MAX for none), and how many keys
    /// found no row.
    pub fn map(&self, data: &ColumnData, rows: std::ops::Range<usize>) -> (Vec<u32>, u64) {
        let mut missing = 0;
        let map = rows
            .map(|r| match self.find(data, r) {
                Found::Row(x) => x,
                Found::Missing => {
                    missing += 1;
                    u32::MAX
                }
                Found::Null => u32::MAX,
            })
            .collect();
        (map, missing)
    }
}
