//! Group keys: the values of the `by` dims for a row, interned to dense group numbers.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::vector::{NO_TEXT, NULL, Vector};

/// One part of a group key. Sorts numbers before text, and null last.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Key {
    Num(f64),
    Bool(bool),
    Text(Box<str>),
    Null,
}

impl Key {
    fn rank(&self) -> u8 {
        match self {
            Key::Bool(_) => 0,
            Key::Num(_) => 1,
            Key::Text(_) => 2,
            Key::Null => 3,
        }
    }
}

impl Eq for Key {}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Num(a), Key::Num(b)) => a.total_cmp(b),
            (Key::Text(a), Key::Text(b)) => a.cmp(b),
            (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            Key::Num(x) => (if *x == 0.0 { 0 } else { x.to_bits() }).hash(state),
            Key::Bool(b) => b.hash(state),
            Key::Text(s) => s.hash(state),
            Key::Null => 0u8.hash(state),
        }
    }
}

/// Interns the values of one dim into small numbers, stable across chunks.
#[derive(Default)]
struct DimInterner {
    values: Vec<Key>,
    nums: HashMap<u64, u32, foldhash::fast::RandomState>,
    texts: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
    /// The last dictionary seen and its code translation, so a column's shared
    /// dictionary is translated once, not once per row.
    dict: Option<(super::vector::Dict, Vec<u32>)>,
}

impl DimInterner {
    fn intern(&mut self, key: Key) -> u32 {
        let id = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        let slot = match &key {
            Key::Num(x) => *self.nums.entry(if *x == 0.0 { 0 } else { x.to_bits() }).or_insert(id),
            Key::Bool(b) => *self.nums.entry(u64::from(*b) | 1 << 63).or_insert(id),
            Key::Null => *self.nums.entry(u64::MAX).or_insert(id),
            Key::Text(s) => *self.texts.entry(s.clone()).or_insert(id),
        };
        if slot == id {
            self.values.push(key);
        }
        slot
    }

    fn codes(&mut self, v: &Vector, out: &mut Vec<u32>) {
        out.clear();
        match v {
            Vector::Num(x) => out.extend(
                // `+ 0.0` makes -0 a 0: which of the two a group shows must not depend on
                // the row that came first (`hour()` of a midnight before 1970 is -0).
                x.iter()
                    .map(|&f| self.intern(if f.is_nan() { Key::Null } else { Key::Num(f + 0.0) })),
            ),
            Vector::Bool(x) => out.extend(
                x.iter()
                    .map(|&b| self.intern(if b == NULL { Key::Null } else { Key::Bool(b == 1) })),
            ),
            Vector::Text(codes, dict) => {
                let fresh = self.dict.as_ref().is_none_or(|(d, _)| !Arc::ptr_eq(d, dict));
                if fresh {
                    self.dict = Some((dict.clone(), vec![u32::MAX; dict.len()]));
                }
                let null = self.intern(Key::Null);
                for &c in codes {
                    if c == NO_TEXT {
                        out.push(null);
                        continue;
                    }
                    let cached = self.dict.as_ref().map_or(u32::MAX, |(_, t)| t[c as usize]);
                    let id = if cached == u32::MAX {
                        let id = self.intern(Key::Text(dict[c as usize].clone()));
                        if let Some((_, t)) = self.dict.as_mut() {
                            t[c as usize] = id;
                        }
                        id
                    } else {
                        cached
                    };
                    out.push(id);
                }
            }
        }
    }
}

/// Assigns a group number to each row from the values of several dims.
pub struct Grouper {
    dims: Vec<DimInterner>,
    /// Group of each combination of dim codes. With one dim (the usual case) its codes are
    /// dense, so `single[code]` is the group (`u32::MAX` for none yet) and nothing is hashed.
    combos: HashMap<Vec<u32>, u32, foldhash::fast::RandomState>,
    single: Vec<u32>,
    keys: Vec<Vec<Key>>,
    limit: usize,
    scratch: Vec<Vec<u32>>,
}

impl Grouper {
    pub fn new(dims: usize, limit: usize) -> Grouper {
        Grouper {
            dims: (0..dims).map(|_| DimInterner::default()).collect(),
            combos: HashMap::default(),
            single: Vec::new(),
            keys: Vec::new(),
            limit,
            scratch: vec![Vec::new(); dims],
        }
    }

    /// Group numbers for a chunk, given the dims' values for its rows. Rows that the
    /// filter drops get `u32::MAX` and form no group.
    pub fn assign(
        &mut self,
        dims: &[Vector],
        keep: Option<&[u8]>,
        rows: usize,
        out: &mut Vec<u32>,
    ) -> Result<(), usize> {
        out.clear();
        if dims.is_empty() {
            if self.keys.is_empty() {
                self.keys.push(Vec::new());
            }
            out.resize(rows, 0);
            return Ok(());
        }
        for (k, v) in dims.iter().enumerate() {
            let mut codes = std::mem::take(&mut self.scratch[k]);
            self.dims[k].codes(v, &mut codes);
            self.scratch[k] = codes;
        }
        let mut combo = vec![0u32; dims.len()];
        for i in 0..rows {
            if keep.is_some_and(|k| k[i] != super::vector::TRUE) {
                out.push(u32::MAX);
                continue;
            }
            for (k, c) in combo.iter_mut().enumerate() {
                *c = self.scratch[k][i];
            }
            let known = match combo[..] {
                [code] => self.single.get(code as usize).copied().filter(|&g| g != u32::MAX),
                _ => self.combos.get(&combo).copied(),
            };
            let g = match known {
                Some(g) => g,
                None => self.add(&combo)?,
            };
            out.push(g);
        }
        Ok(())
    }

    /// A new group for a combination of dim codes; `Err(limit)` past the limit.
    fn add(&mut self, combo: &[u32]) -> Result<u32, usize> {
        if self.keys.len() >= self.limit {
            return Err(self.limit);
        }
        let g = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        match *combo {
            [code] => {
                let code = code as usize;
                if self.single.len() <= code {
                    self.single.resize(code + 1, u32::MAX);
                }
                self.single[code] = g;
            }
            _ => {
                self.combos.insert(combo.to_vec(), g);
            }
        }
        self.keys.push(
            combo
                .iter()
                .enumerate()
                .map(|(k, &c)| self.dims[k].values[c as usize].clone())
                .collect(),
        );
        Ok(g)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn into_keys(self) -> Vec<Vec<Key>> {
        self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::vector::Vector;

    #[test]
    fn rows_with_the_same_key_share_one_group() {
        let mut one = Grouper::new(1, usize::MAX);
        let mut out = Vec::new();
        let x = Vector::Num(vec![3.0, 5.0, 3.0, f64::NAN, 5.0, f64::NAN]);
        one.assign(std::slice::from_ref(&x), None, 6, &mut out).unwrap();
        assert_eq!(out, [0, 1, 0, 2, 1, 2]);
        // The next chunk finds the groups of the first.
        one.assign(&[Vector::Num(vec![5.0, 7.0])], None, 2, &mut out).unwrap();
        assert_eq!(out, [1, 3]);

        let mut two = Grouper::new(2, usize::MAX);
        let y = Vector::Num(vec![1.0, 1.0, 2.0, 1.0, 2.0, 1.0]);
        two.assign(&[x, y], None, 6, &mut out).unwrap();
        assert_eq!(out, [0, 1, 2, 3, 4, 3]);
        // A limit counts distinct keys, not rows.
        let mut limited = Grouper::new(1, 2);
        let z = Vector::Num(vec![1.0, 2.0, 1.0, 2.0, 1.0]);
        assert_eq!(limited.assign(&[z], None, 5, &mut out), Ok(()));
        assert_eq!(limited.assign(&[Vector::Num(vec![3.0])], None, 1, &mut out), Err(2));
    }
}
