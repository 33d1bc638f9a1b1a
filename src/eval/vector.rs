//! Row expressions evaluated a chunk of rows at a time, column by column.
//!
//! Nulls follow SQL: arithmetic with a null is null, division by zero is null,
//! comparisons with a null are null, `and`/`or` are three-valued, `where` keeps only
//! rows whose condition is true.

use std::sync::Arc;

use crate::calendar;
use crate::data::{Column, ColumnData};
use crate::program::*;

/// Boolean lanes: 0 false, 1 true, 2 null.
pub const FALSE: u8 = 0;
pub const TRUE: u8 = 1;
pub const NULL: u8 = 2;
/// A shared text dictionary.
pub type Dict = Arc<[Box<str>]>;

/// Null text code.
pub const NO_TEXT: u32 = u32::MAX;

/// A column of intermediate values for one chunk of rows.
#[derive(Debug, Clone)]
pub enum Vector {
    /// Numbers, dates (days) and times (seconds); NaN is null.
    Num(Vec<f64>),
    Bool(Vec<u8>),
    /// Codes into a dictionary without duplicates; `NO_TEXT` is null.
    Text(Vec<u32>, Arc<[Box<str>]>),
}

impl Vector {
    pub fn len(&self) -> usize {
        match self {
            Vector::Num(v) => v.len(),
            Vector::Bool(v) => v.len(),
            Vector::Text(v, _) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_null(&self, i: usize) -> bool {
        match self {
            Vector::Num(v) => v[i].is_nan(),
            Vector::Bool(v) => v[i] == NULL,
            Vector::Text(v, _) => v[i] == NO_TEXT,
        }
    }

    fn constant(value: &Value, n: usize) -> Vector {
        match value {
            Value::Null => Vector::Num(vec![f64::NAN; n]),
            Value::Num(x) | Value::Time(x) => Vector::Num(vec![*x; n]),
            #[allow(clippy::cast_precision_loss)]
            Value::Date(d) => Vector::Num(vec![*d as f64; n]),
            Value::Bool(b) => Vector::Bool(vec![u8::from(*b); n]),
            Value::Text(s) => Vector::Text(vec![0; n], Arc::from(vec![s.clone().into_boxed_str()])),
        }
    }
}

/// Where a chunk's values come from: the columns each dataset reaches, already
/// gathered through links for these rows.
pub struct Frame<'a> {
    pub rows: std::ops::Range<usize>,
    /// Per dataset id: the row of that dataset for each row of the root (None when the
    /// dataset is not reached); `None` as a whole for the root itself.
    pub maps: &'a [Option<Vec<u32>>],
    pub root: DatasetId,
    pub column: &'a dyn Fn(DatasetId, &str) -> Option<&'a Column>,
    /// Dictionaries of text columns, shared so codes stay stable across chunks.
    pub dicts: &'a dyn Fn(DatasetId, &str) -> Option<Dict>,
    /// The dims put in ([`RowExpr::Dim`]) evaluated so far over these rows.
    pub dims: std::cell::RefCell<std::collections::HashMap<DimId, Vector>>,
}

impl Frame<'_> {
    fn n(&self) -> usize {
        self.rows.len()
    }

    /// `e` over these rows. A deep expression holds a vector per level while its inner
    /// levels are computed, so it is computed a strip of rows at a time, keeping that
    /// below [`STRIP_BYTES`]: 1,000 nested `case`s over a 4 MiB block of short rows took
    /// gigabytes (red team).
    pub fn eval(&self, e: &RowExpr) -> Result<Vector, String> {
        let strip = strip_rows(e, self.n());
        if strip >= self.n() {
            return self.eval_here(e);
        }
        let mut parts = Vec::with_capacity(self.n().div_ceil(strip));
        let mut start = self.rows.start;
        while start < self.rows.end {
            let end = (start + strip).min(self.rows.end);
            let sub = Frame {
                rows: start..end,
                maps: self.maps,
                root: self.root,
                column: self.column,
                dicts: self.dicts,
                dims: std::cell::RefCell::default(),
            };
            parts.push(sub.eval_here(e)?);
            start = end;
        }
        concat(parts)
    }

    pub fn bools(&self, e: &RowExpr) -> Result<Vec<u8>, String> {
        match self.eval(e)? {
            Vector::Bool(v) => Ok(v),
            Vector::Num(v) if v.iter().all(|x| x.is_nan()) => Ok(vec![NULL; v.len()]),
            other => Err(format!("expected true/false values, found {}", kind(&other))),
        }
    }

    fn eval_here(&self, e: &RowExpr) -> Result<Vector, String> {
        Ok(match e {
            RowExpr::Const(v) => Vector::constant(v, self.n()),
            RowExpr::Column { dataset, column, .. } => self.column(*dataset, column)?,
            RowExpr::Unary(UnaryOp::Neg, x) => match self.eval_here(x)? {
                Vector::Num(v) => Vector::Num(v.into_iter().map(|a| -a).collect()),
                other => return Err(format!("cannot negate {}", kind(&other))),
            },
            RowExpr::Unary(UnaryOp::Not, x) => {
                let v = self.bools_here(x)?;
                Vector::Bool(v.into_iter().map(|b| if b == NULL { NULL } else { 1 - b }).collect())
            }
            RowExpr::Binary(op, a, b) => self.binary(*op, a, b)?,
            RowExpr::IsNull(x, negated) => {
                let v = self.eval_here(x)?;
                Vector::Bool((0..v.len()).map(|i| u8::from(v.is_null(i) != *negated)).collect())
            }
            RowExpr::InList(x, list, negated) => self.in_list(x, list, *negated)?,
            RowExpr::Case { operand, whens, otherwise } => {
                self.case(operand.as_deref(), whens, otherwise.as_deref())?
            }
            RowExpr::Func(f, args) => self.func(*f, args)?,
            RowExpr::Dim(d, x) => {
                if let Some(v) = self.dims.borrow().get(d) {
                    return Ok(v.clone());
                }
                let v = self.eval_here(x)?;
                self.dims.borrow_mut().insert(*d, v.clone());
                v
            }
        })
    }

    fn bools_here(&self, e: &RowExpr) -> Result<Vec<u8>, String> {
        match self.eval_here(e)? {
            Vector::Bool(v) => Ok(v),
            // An all-null literal is a null condition.
            Vector::Num(v) if v.iter().all(|x| x.is_nan()) => Ok(vec![NULL; v.len()]),
            other => Err(format!("expected true/false values, found {}", kind(&other))),
        }
    }

    /// The values (non-null cells) of a column of the root dataset in this chunk, among
    /// the rows `keep` keeps, read in place; `None` when the column is not loaded.
    pub fn count_values(&self, name: &str, keep: Option<&[u8]>) -> Option<u64> {
        let col = (self.column)(self.root, name)?;
        let rows = self.rows.clone();
        let kept = |i: usize| keep.is_none_or(|k| k[i] == TRUE);
        let n = match &col.data {
            ColumnData::Num(v) => {
                v[rows].iter().enumerate().filter(|&(i, x)| kept(i) && !x.is_nan()).count()
            }
            ColumnData::Bool(v) => {
                v[rows].iter().enumerate().filter(|&(i, &b)| kept(i) && b != NULL).count()
            }
            ColumnData::Text { codes, .. } => {
                codes[rows].iter().enumerate().filter(|&(i, &c)| kept(i) && c != NO_TEXT).count()
            }
        };
        u64::try_from(n).ok()
    }

    fn column(&self, dataset: DatasetId, name: &str) -> Result<Vector, String> {
        let col = (self.column)(dataset, name)
            .ok_or_else(|| format!("column `{name}` was not loaded"))?;
        let map = if dataset == self.root {
            None
        } else {
            Some(
                self.maps
                    .get(dataset)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| format!("no link reaches the dataset of `{name}`"))?,
            )
        };
        let rows = self.rows.clone();
        Ok(match (&col.data, map) {
            (ColumnData::Num(v), None) => Vector::Num(v[rows].to_vec()),
            (ColumnData::Bool(v), None) => Vector::Bool(v[rows].to_vec()),
            (ColumnData::Text { codes, .. }, None) => {
                Vector::Text(codes[rows].to_vec(), self.dict(dataset, name)?)
            }
            (ColumnData::Num(v), Some(m)) => Vector::Num(
                m[rows]
                    .iter()
                    .map(|&r| if r == u32::MAX { f64::NAN } else { v[r as usize] })
                    .collect(),
            ),
            (ColumnData::Bool(v), Some(m)) => Vector::Bool(
                m[rows].iter().map(|&r| if r == u32::MAX { NULL } else { v[r as usize] }).collect(),
            ),
            (ColumnData::Text { codes, .. }, Some(m)) => Vector::Text(
                m[rows]
                    .iter()
                    .map(|&r| if r == u32::MAX { NO_TEXT } else { codes[r as usize] })
                    .collect(),
                self.dict(dataset, name)?,
            ),
        })
    }

    fn dict(&self, dataset: DatasetId, name: &str) -> Result<Arc<[Box<str>]>, String> {
        (self.dicts)(dataset, name).ok_or_else(|| format!("column `{name}` has no dictionary"))
    }

    fn binary(&self, op: BinaryOp, a: &RowExpr, b: &RowExpr) -> Result<Vector, String> {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let (x, y) = (self.bools_here(a)?, self.bools_here(b)?);
                Ok(Vector::Bool(x.iter().zip(&y).map(|(&p, &q)| logic(op, p, q)).collect()))
            }
            BinaryOp::Cmp(c) => compare(c, &self.eval_here(a)?, &self.eval_here(b)?),
            _ => {
                let (Vector::Num(x), Vector::Num(y)) = (self.eval_here(a)?, self.eval_here(b)?)
                else {
                    return Err(format!("`{}` needs numbers", op.as_str()));
                };
                let out: Vec<f64> = x.iter().zip(&y).map(|(&p, &q)| arith(op, p, q)).collect();
                if out.iter().any(|r| r.is_infinite()) {
                    return Err(format!("`{}` {OVERFLOW}", op.as_str()));
                }
                Ok(Vector::Num(out))
            }
        }
    }

    fn in_list(&self, x: &RowExpr, list: &[RowExpr], negated: bool) -> Result<Vector, String> {
        let v = self.eval_here(x)?;
        let mut acc = vec![FALSE; v.len()];
        for item in list {
            let Vector::Bool(eq) = compare(CmpOp::Eq, &v, &self.eval_here(item)?)? else {
                unreachable!("compare returns booleans")
            };
            for (a, e) in acc.iter_mut().zip(eq) {
                *a = logic(BinaryOp::Or, *a, e);
            }
        }
        if negated {
            acc.iter_mut().for_each(|b| *b = if *b == NULL { NULL } else { 1 - *b });
        }
        Ok(Vector::Bool(acc))
    }

    fn case(
        &self,
        operand: Option<&RowExpr>,
        whens: &[(RowExpr, RowExpr)],
        otherwise: Option<&RowExpr>,
    ) -> Result<Vector, String> {
        let n = self.n();
        let operand = operand.map(|o| self.eval_here(o)).transpose()?;
        // Which branch each row takes (whens.len() = otherwise).
        let mut branch = vec![usize::MAX; n];
        for (k, (w, _)) in whens.iter().enumerate() {
            let hit = match &operand {
                Some(o) => match compare(CmpOp::Eq, o, &self.eval_here(w)?)? {
                    Vector::Bool(b) => b,
                    _ => unreachable!("compare returns booleans"),
                },
                None => self.bools_here(w)?,
            };
            for (b, h) in branch.iter_mut().zip(hit) {
                if *b == usize::MAX && h == TRUE {
                    *b = k;
                }
            }
        }
        let mut results: Vec<Vector> =
            whens.iter().map(|(_, t)| self.eval_here(t)).collect::<Result<_, _>>()?;
        results.push(match otherwise {
            Some(o) => self.eval_here(o)?,
            None => Vector::Num(vec![f64::NAN; n]),
        });
        let pick = |i: usize| branch[i].min(whens.len());
        merge(&results, n, pick)
    }

    fn func(&self, f: ScalarFunc, args: &[RowExpr]) -> Result<Vector, String> {
        let first = self.eval_here(&args[0])?;
        let nums = |v: Vector| match v {
            Vector::Num(x) => Ok(x),
            other => Err(format!("`{}` needs numbers, found {}", f.name(), kind(&other))),
        };
        Ok(match f {
            ScalarFunc::Coalesce => {
                let mut vs = vec![first];
                for a in &args[1..] {
                    vs.push(self.eval_here(a)?);
                }
                let n = self.n();
                let pick = |i: usize| vs.iter().position(|v| !v.is_null(i)).unwrap_or(0);
                merge(&vs, n, pick)?
            }
            ScalarFunc::Lower => match first {
                Vector::Text(codes, dict) => {
                    let lowered: Vec<String> = dict.iter().map(|s| s.to_lowercase()).collect();
                    let (remap, dict) = dedupe(lowered);
                    Vector::Text(
                        codes
                            .into_iter()
                            .map(|c| if c == NO_TEXT { NO_TEXT } else { remap[c as usize] })
                            .collect(),
                        dict,
                    )
                }
                other => return Err(format!("`lower` needs text, found {}", kind(&other))),
            },
            ScalarFunc::SafeDiv => {
                let (a, b) = (nums(first)?, nums(self.eval_here(&args[1])?)?);
                let default = nums(self.eval_here(&args[2])?)?;
                let out: Vec<f64> = a
                    .iter()
                    .zip(&b)
                    .zip(&default)
                    .map(
                        |((&x, &y), &d)| {
                            if y == 0.0 && !x.is_nan() { d } else { arith(BinaryOp::Div, x, y) }
                        },
                    )
                    .collect();
                if out.iter().any(|r| r.is_infinite()) {
                    return Err(format!("`safe_div` {OVERFLOW}"));
                }
                Vector::Num(out)
            }
            ScalarFunc::Round => {
                let digits = match args.get(1) {
                    Some(d) => nums(self.eval_here(d)?)?,
                    None => vec![0.0; self.n()],
                };
                Vector::Num(
                    nums(first)?.into_iter().zip(digits).map(|(x, d)| round(x, d)).collect(),
                )
            }
            _ => {
                let is_time = self.time_arg(&args[0]);
                let values = nums(first)?;
                if is_calendar(f) && values.iter().any(|&x| !calendar::value_in_range(x, is_time)) {
                    return Err(format!("the argument of `{}` {DATE_RANGE}", f.name()));
                }
                Vector::Num(values.into_iter().map(|x| scalar(f, x, is_time)).collect())
            }
        })
    }

    /// Whether a date function's argument holds times (seconds) rather than dates
    /// (days), judged by the columns as loaded.
    fn time_arg(&self, e: &RowExpr) -> bool {
        match e {
            RowExpr::Column { dataset, column, .. } => {
                (self.column)(*dataset, column).is_some_and(|c| c.ty == ColumnType::Time)
            }
            RowExpr::Const(Value::Time(_)) => true,
            RowExpr::Binary(_, a, b) => self.time_arg(a) || self.time_arg(b),
            RowExpr::Case { whens, otherwise, .. } => {
                whens.iter().any(|(_, t)| self.time_arg(t))
                    || otherwise.as_deref().is_some_and(|o| self.time_arg(o))
            }
            RowExpr::Func(ScalarFunc::Coalesce, args) => args.iter().any(|a| self.time_arg(a)),
            RowExpr::Dim(_, x) => self.time_arg(x),
            _ => false,
        }
    }
}

/// Whether `f` reads its argument as a date or a time.
pub fn is_calendar(f: ScalarFunc) -> bool {
    matches!(
        f,
        ScalarFunc::Week
            | ScalarFunc::Day
            | ScalarFunc::Month
            | ScalarFunc::Quarter
            | ScalarFunc::Weekday
            | ScalarFunc::Hour
    )
}

/// A date or time function on one value (dates in days, times in seconds).
#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
pub fn scalar(f: ScalarFunc, x: f64, is_time: bool) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let days = if is_time { (x / 86_400.0).floor() as i64 } else { x.floor() as i64 };
    match f {
        ScalarFunc::Week => calendar::week_start(days) as f64,
        ScalarFunc::Day => days as f64,
        ScalarFunc::Month => calendar::month_start(days) as f64,
        ScalarFunc::Quarter => calendar::quarter_start(days) as f64,
        ScalarFunc::Weekday => (calendar::weekday(days) + 1) as f64,
        // `+ 0.0`: a midnight before 1970 is hour 0, not -0.
        ScalarFunc::Hour => (x.rem_euclid(86_400.0) / 3600.0).floor() + 0.0,
        ScalarFunc::Abs => x.abs(),
        _ => x,
    }
}

/// SQL `round`: half away from zero, to `digits` decimals.
pub fn round(x: f64, digits: f64) -> f64 {
    if x.is_nan() || digits.is_nan() {
        return f64::NAN;
    }
    let d = digits.clamp(-15.0, 15.0).trunc();
    let p = 10f64.powf(d);
    let r = (x * p).round() / p;
    if r.is_finite() { r } else { x }
}

pub fn logic(op: BinaryOp, p: u8, q: u8) -> u8 {
    match op {
        BinaryOp::And if p == FALSE || q == FALSE => FALSE,
        BinaryOp::And if p == TRUE && q == TRUE => TRUE,
        BinaryOp::Or if p == TRUE || q == TRUE => TRUE,
        BinaryOp::Or if p == FALSE && q == FALSE => FALSE,
        _ => NULL,
    }
}

/// Arithmetic with SQL nulls; division by zero is null, never infinity.
/// `a op b`: NaN (null) for a division by zero; infinite when the result overflows, which
/// callers turn into an error ([`OVERFLOW`]).
pub fn arith(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        _ if b == 0.0 => f64::NAN,
        _ => a / b,
    }
}

/// The end of the message of an evaluation error for a number beyond `f64`'s range.
pub const OVERFLOW: &str = "overflows the range of numbers (beyond ±1.8e308)";

/// The end of the message of an evaluation error for a date or time beyond the range of
/// [`calendar`].
pub const DATE_RANGE: &str = "is beyond the range of dates (years -9999 to 9999)";

pub fn cmp_holds(op: CmpOp, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => ord == Equal,
        CmpOp::Ne => ord != Equal,
        CmpOp::Lt => ord == Less,
        CmpOp::Le => ord != Greater,
        CmpOp::Gt => ord == Greater,
        CmpOp::Ge => ord != Less,
    }
}

fn compare(op: CmpOp, a: &Vector, b: &Vector) -> Result<Vector, String> {
    Ok(Vector::Bool(match (a, b) {
        (Vector::Num(x), Vector::Num(y)) => x
            .iter()
            .zip(y)
            .map(|(p, q)| match p.partial_cmp(q) {
                Some(o) => u8::from(cmp_holds(op, o)),
                None => NULL,
            })
            .collect(),
        (Vector::Bool(x), Vector::Bool(y)) => x
            .iter()
            .zip(y)
            .map(
                |(&p, &q)| {
                    if p == NULL || q == NULL { NULL } else { u8::from(cmp_holds(op, p.cmp(&q))) }
                },
            )
            .collect(),
        (Vector::Text(xc, xd), Vector::Text(yc, yd)) => {
            if matches!(op, CmpOp::Eq | CmpOp::Ne) {
                // Translate x's codes into y's dictionary once, then compare codes.
                let index: std::collections::HashMap<&str, u32> = yd
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (&**s, u32::try_from(i).unwrap_or(NO_TEXT)))
                    .collect();
                let trans: Vec<u32> =
                    xd.iter().map(|s| index.get(&**s).copied().unwrap_or(NO_TEXT - 1)).collect();
                xc.iter()
                    .zip(yc)
                    .map(|(&p, &q)| {
                        if p == NO_TEXT || q == NO_TEXT {
                            NULL
                        } else {
                            u8::from((trans[p as usize] == q) == (op == CmpOp::Eq))
                        }
                    })
                    .collect()
            } else {
                xc.iter()
                    .zip(yc)
                    .map(|(&p, &q)| {
                        if p == NO_TEXT || q == NO_TEXT {
                            NULL
                        } else {
                            u8::from(cmp_holds(op, xd[p as usize].cmp(&yd[q as usize])))
                        }
                    })
                    .collect()
            }
        }
        // A null literal against anything: null.
        (Vector::Num(x), other) | (other, Vector::Num(x)) if x.iter().all(|v| v.is_nan()) => {
            vec![NULL; other.len()]
        }
        (x, y) => return Err(format!("cannot compare {} with {}", kind(x), kind(y))),
    }))
}

/// Picks, for each row, the value of vector `pick(i)`.
fn merge(vs: &[Vector], n: usize, pick: impl Fn(usize) -> usize) -> Result<Vector, String> {
    // All-null branches (a missing `else`) take the type of the others.
    let typed: Vec<&Vector> = vs
        .iter()
        .filter(|v| !matches!(v, Vector::Num(x) if x.iter().all(|f| f.is_nan())))
        .collect();
    match typed.first() {
        None | Some(Vector::Num(_)) => Ok(Vector::Num(
            (0..n)
                .map(|i| if let Vector::Num(x) = &vs[pick(i)] { x[i] } else { f64::NAN })
                .collect(),
        )),
        Some(Vector::Bool(_)) => Ok(Vector::Bool(
            (0..n).map(|i| if let Vector::Bool(x) = &vs[pick(i)] { x[i] } else { NULL }).collect(),
        )),
        Some(Vector::Text(..)) => {
            let strings: Vec<Option<&str>> = (0..n)
                .map(|i| match &vs[pick(i)] {
                    Vector::Text(c, d) if c[i] != NO_TEXT => Some(&*d[c[i] as usize]),
                    _ => None,
                })
                .collect();
            let mut index = std::collections::HashMap::new();
            let mut dict: Vec<Box<str>> = Vec::new();
            let codes = strings
                .into_iter()
                .map(|s| match s {
                    None => NO_TEXT,
                    Some(s) => *index.entry(s).or_insert_with(|| {
                        dict.push(s.into());
                        u32::try_from(dict.len() - 1).unwrap_or(NO_TEXT)
                    }),
                })
                .collect();
            Ok(Vector::Text(codes, Arc::from(dict)))
        }
    }
}

fn dedupe(strings: Vec<String>) -> (Vec<u32>, Arc<[Box<str>]>) {
    let mut index = std::collections::HashMap::new();
    let mut dict: Vec<Box<str>> = Vec::new();
    let remap = strings
        .into_iter()
        .map(|s| {
            *index.entry(s.clone()).or_insert_with(|| {
                dict.push(s.into_boxed_str());
                u32::try_from(dict.len() - 1).unwrap_or(NO_TEXT)
            })
        })
        .collect();
    (remap, Arc::from(dict))
}

fn kind(v: &Vector) -> &'static str {
    match v {
        Vector::Num(_) => "numbers",
        Vector::Bool(_) => "true/false values",
        Vector::Text(..) => "text",
    }
}

/// Bytes a deep expression may hold in vectors at once, about (see [`Frame::eval`]).
const STRIP_BYTES: usize = 64 << 20;

/// Rows of `n` to compute `e` over at a time: all of them unless `e` is deep enough for
/// its levels' vectors (16 bytes a row, a number and a mask) to pass [`STRIP_BYTES`].
fn strip_rows(e: &RowExpr, n: usize) -> usize {
    // Few rows fit at any depth the checker allows: no need to walk the expression.
    if n.saturating_mul(16).saturating_mul(crate::syntax::MAX_DEPTH) <= STRIP_BYTES {
        return n;
    }
    let depth = e.depth().max(1);
    (STRIP_BYTES / 16 / depth).max(1024)
}

/// Vectors of consecutive strips as one; texts with different dictionaries are re-coded
/// into one.
fn concat(parts: Vec<Vector>) -> Result<Vector, String> {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else { return Ok(Vector::Num(Vec::new())) };
    let mut out = first;
    for part in parts {
        out = match (out, part) {
            (Vector::Num(mut a), Vector::Num(b)) => {
                a.extend(b);
                Vector::Num(a)
            }
            (Vector::Bool(mut a), Vector::Bool(b)) => {
                a.extend(b);
                Vector::Bool(a)
            }
            (Vector::Text(mut a, da), Vector::Text(b, db)) if Arc::ptr_eq(&da, &db) => {
                a.extend(b);
                Vector::Text(a, da)
            }
            (Vector::Text(a, da), Vector::Text(b, db)) => {
                let mut words: Vec<Box<str>> = da.to_vec();
                let mut at: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
                for (i, w) in da.iter().enumerate() {
                    at.insert(w, u32::try_from(i).map_err(|_| "too many texts".to_string())?);
                }
                let mut codes = a;
                for c in b {
                    codes.push(if c == NO_TEXT {
                        NO_TEXT
                    } else {
                        let w = &db[c as usize];
                        match at.get(&**w) {
                            Some(&i) => i,
                            None => {
                                let i = u32::try_from(words.len())
                                    .map_err(|_| "too many texts".to_string())?;
                                words.push(w.clone());
                                i
                            }
                        }
                    });
                }
                Vector::Text(codes, words.into())
            }
            // Strips of one expression have one type; a null strip is all-NaN numbers.
            (Vector::Num(a), other) if a.iter().all(|x| x.is_nan()) => match other {
                Vector::Bool(b) => Vector::Bool([vec![NULL; a.len()], b].concat()),
                Vector::Text(b, d) => Vector::Text([vec![NO_TEXT; a.len()], b].concat(), d),
                Vector::Num(b) => Vector::Num([a, b].concat()),
            },
            (one, Vector::Num(b)) if b.iter().all(|x| x.is_nan()) => match one {
                Vector::Bool(mut a) => {
                    a.extend(std::iter::repeat_n(NULL, b.len()));
                    Vector::Bool(a)
                }
                Vector::Text(mut a, d) => {
                    a.extend(std::iter::repeat_n(NO_TEXT, b.len()));
                    Vector::Text(a, d)
                }
                Vector::Num(mut a) => {
                    a.extend(b);
                    Vector::Num(a)
                }
            },
            (a, b) => {
                return Err(format!(
                    "a value is {} in some rows and {} in others",
                    kind(&a),
                    kind(&b)
                ));
            }
        };
    }
    Ok(out)
}
