//! Small generated programs over tiny tables, and a naive reference evaluator for them
//! (the `eval_small` fuzz target and the property tests in `tests/it/props.rs`).
//!
//! A [`Case`] is one dataset `t` with two number columns `a` and `b`, a bool column `f`
//! and a text column `g` (each cell may be empty), a few KPIs over it built from
//! `count`/`sum`/`avg`/`min`/`max`/`rate` with `where`, arithmetic, comparisons,
//! `and`/`or`/`not`, `is null`, `in`, `abs`, `coalesce` and `case`, and a view grouped by
//! `g` with an optional filter. The reference evaluator runs row at a time with SQL nulls:
//! `Option<f64>` and `Option<bool>`, division by zero is null.
//!
//! Row values are computed with the same IEEE operations the engine uses, so they agree to
//! the bit; only sums can differ (the engine compensates). The reference therefore carries
//! an error bound: zero for sums of values on a coarse binary grid (which every summation
//! order gets exactly), otherwise the classic bound for a naive sum, propagated through
//! KPI-level arithmetic. A KPI whose reference value depends on the sign of a quantity
//! smaller than its error bound (a division by something that may be zero) is not compared.
//!
//! The file is shared like `checks.rs`: the fuzz crate compiles it, the integration tests
//! include it with `#[path]`. It uses only `kpiblend`, `serde_json` and `std`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use kpiblend::Project;
use kpiblend::check::{self, CheckOptions};
use kpiblend::data::{BadRows, LoadOptions};
use kpiblend::eval::group::Key;
use kpiblend::eval::{self, Cell, FileSchemas, Report, Request};

const EPS: f64 = f64::EPSILON;

// ---- a byte source ---------------------------------------------------------------------

/// Decisions read from fuzz input; once the bytes run out every decision is 0, which always
/// picks the simplest alternative, so generation terminates.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data, pos: 0 }
    }

    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number below `n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    /// True with probability about `percent`%.
    fn chance(&mut self, percent: u8) -> bool {
        (u16::from(self.byte()) * 100 / 256) < u16::from(percent)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

// ---- units, as the checker infers them ------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Plain,
    Count,
    Percent,
    Points,
    Seconds,
}

/// The unit of a sum or difference, as `check` computes it; `None` is a unit error.
fn add_units(a: Unit, b: Unit) -> Option<Unit> {
    match (a, b) {
        (x, y) if x == y => Some(x),
        (Unit::Plain, u) | (u, Unit::Plain) => Some(u),
        (Unit::Count, u) | (u, Unit::Count) if u != Unit::Percent && u != Unit::Seconds => Some(u),
        _ => None,
    }
}

/// Whether `check` accepts comparing the two units.
fn comparable(a: Unit, b: Unit) -> bool {
    add_units(a, b).is_some() || (a == Unit::Seconds && b == Unit::Seconds)
}

// ---- the expression model ---------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

impl Arith {
    fn text(self) -> &'static str {
        match self {
            Arith::Add => "+",
            Arith::Sub => "-",
            Arith::Mul => "*",
            Arith::Div => "/",
        }
    }

    fn prec(self) -> u8 {
        match self {
            Arith::Add | Arith::Sub => 5,
            Arith::Mul | Arith::Div => 6,
        }
    }

    /// SQL arithmetic: null in, null out; division by zero is null.
    fn apply(self, x: f64, y: f64) -> Option<f64> {
        match self {
            Arith::Add => Some(x + y),
            Arith::Sub => Some(x - y),
            Arith::Mul => Some(x * y),
            Arith::Div => (y != 0.0).then(|| x / y),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    const ALL: [Cmp; 6] = [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];

    fn text(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    fn holds(self, x: f64, y: f64) -> bool {
        match self {
            Cmp::Eq => x == y,
            Cmp::Ne => x != y,
            Cmp::Lt => x < y,
            Cmp::Le => x <= y,
            Cmp::Gt => x > y,
            Cmp::Ge => x >= y,
        }
    }
}

/// A number literal: its value, how it is written, and its unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lit {
    pub value: f64,
    pub text: &'static str,
    pub unit: Unit,
}

const LITERALS: [Lit; 14] = [
    Lit { value: 0.0, text: "0", unit: Unit::Plain },
    Lit { value: 1.0, text: "1", unit: Unit::Plain },
    Lit { value: 2.0, text: "2", unit: Unit::Plain },
    Lit { value: 3.0, text: "3", unit: Unit::Plain },
    Lit { value: 0.5, text: "0.5", unit: Unit::Plain },
    Lit { value: 1.5, text: "1.5", unit: Unit::Plain },
    Lit { value: 10.0, text: "10", unit: Unit::Plain },
    Lit { value: 100.0, text: "100", unit: Unit::Plain },
    Lit { value: 1000.0, text: "1_000", unit: Unit::Plain },
    Lit { value: 250.0, text: "2.5e2", unit: Unit::Plain },
    Lit { value: 0.5, text: "50%", unit: Unit::Percent },
    Lit { value: 2.0, text: "200%", unit: Unit::Percent },
    Lit { value: 20.0, text: "20s", unit: Unit::Seconds },
    Lit { value: 120.0, text: "2m", unit: Unit::Seconds },
];

/// A row-level number.
#[derive(Debug, Clone, PartialEq)]
pub enum Num {
    Lit(Lit),
    /// `t.a` (0) or `t.b` (1).
    Col(usize),
    Null,
    Neg(Box<Num>),
    Bin(Arith, Box<Num>, Box<Num>),
    Abs(Box<Num>),
    Coalesce(Box<Num>, Box<Num>),
    /// `case when c then x [else y] end`
    Case(Box<Cond>, Box<Num>, Option<Box<Num>>),
    /// Brackets the user wrote, not needed for precedence.
    Paren(Box<Num>),
}

/// A row-level condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Lit(bool),
    /// `t.f`
    Flag,
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Cmp(Cmp, Num, Num),
    /// `x is [not] null`
    IsNull(Num, bool),
    /// `t.f is [not] null`
    FlagIsNull(bool),
    /// `t.g == "p"` or `t.g != "p"`
    TextEq(usize, bool),
    /// `t.g [not] in ("p", ...)`
    TextIn(Vec<usize>, bool),
    /// `t.g is [not] null`
    TextIsNull(bool),
    Paren(Box<Cond>),
}

/// Group keys of the text column `g`.
pub const KEYS: [&str; 3] = ["p", "q", "r"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Median,
    Stddev,
    CountDistinct,
}

impl AggFunc {
    fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Median => "median",
            AggFunc::Stddev => "stddev",
            AggFunc::CountDistinct => "count_distinct",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Agg {
    /// `count(t [where c])`
    Rows(Option<Cond>),
    /// `f(x [where c])`
    Of(AggFunc, Num, Option<Cond>),
    /// `rate(c [where w])`
    Rate(Cond, Option<Cond>),
}

/// A KPI-level expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Kpi {
    Agg(Agg),
    Lit(Lit),
    /// Another KPI, defined earlier.
    Ref(usize),
    Neg(Box<Kpi>),
    Bin(Arith, Box<Kpi>, Box<Kpi>),
    Paren(Box<Kpi>),
}

/// One row of `t`; `g` indexes [`KEYS`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    pub a: Option<f64>,
    pub b: Option<f64>,
    pub f: Option<bool>,
    pub g: Option<usize>,
}

/// How the CSV file is written; none of it changes what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub crlf: bool,
    pub bom: bool,
    /// Quote every cell.
    pub quote_all: bool,
    /// Column order: a permutation of a, b, f, g, and maybe the unused column `z`.
    pub order: Vec<usize>,
    /// A blank line after these rows.
    pub blank_after: Vec<usize>,
    pub final_newline: bool,
    /// Spelling variant per cell (`2.5` or `25e-1`, `true` or `yes`...), chosen per row.
    pub spelling: Vec<u8>,
}

/// A generated program and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub rows: Vec<Row>,
    pub layout: Layout,
    /// Declare the column types in the dataset block, instead of letting them be inferred.
    pub declare: bool,
    pub kpis: Vec<Kpi>,
    /// The view's filter.
    pub filter: Option<Cond>,
    /// Worker threads for the streaming path.
    pub threads: usize,
}

const VALUES: [f64; 10] = [0.0, 1.0, 2.0, 3.0, -1.0, -2.5, 0.5, 10.0, 4.0, 100.0];

// ---- generation ------------------------------------------------------------------------------

struct Gen<'b, 'a> {
    u: &'b mut Bytes<'a>,
    /// Units of the KPIs generated so far.
    kpi_units: Vec<Unit>,
    /// Columns `a`, `b` whose type the checker does not know.
    untyped: [bool; 2],
}

/// The type of a row number as the checker sees it: `null`, a column whose type is unknown
/// (declared nowhere and empty in every sampled row), or a number with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Null,
    Any,
    Num(Unit),
}

impl Ty {
    fn is_open(self) -> bool {
        matches!(self, Ty::Null | Ty::Any)
    }
}

/// `check`'s type of a row number; `untyped` says which of `a`, `b` have no known type.
fn num_ty(n: &Num, untyped: [bool; 2]) -> Ty {
    match n {
        Num::Lit(l) => Ty::Num(l.unit),
        Num::Col(c) => {
            if untyped[*c] {
                Ty::Any
            } else {
                Ty::Num(Unit::Plain)
            }
        }
        Num::Null => Ty::Null,
        Num::Neg(x) => match num_ty(x, untyped) {
            Ty::Null => Ty::Num(Unit::Plain),
            t => t,
        },
        Num::Paren(x) => num_ty(x, untyped),
        Num::Abs(x) => match num_ty(x, untyped) {
            Ty::Num(u) => Ty::Num(u),
            _ => Ty::Num(Unit::Plain),
        },
        Num::Bin(op, x, y) => {
            let (a, b) = (num_ty(x, untyped), num_ty(y, untyped));
            arith_ty(*op, a, b, num_is_hundred(y), num_is_hundred(x))
        }
        Num::Coalesce(x, y) => unify(unify(Ty::Null, num_ty(x, untyped)), num_ty(y, untyped)),
        Num::Case(_, x, y) => {
            let t = unify(Ty::Null, num_ty(x, untyped));
            match y {
                Some(y) => unify(t, num_ty(y, untyped)),
                None => t,
            }
        }
    }
}

/// `check`'s arithmetic typing (only called when add/sub units combine).
fn arith_ty(op: Arith, a: Ty, b: Ty, rhs_hundred: bool, lhs_hundred: bool) -> Ty {
    let add_or_sub = matches!(op, Arith::Add | Arith::Sub);
    match (a, b) {
        (Ty::Num(a), Ty::Num(b)) => Ty::Num(mul_div_unit(op, a, b, rhs_hundred, lhs_hundred)),
        (Ty::Null | Ty::Any, t) | (t, Ty::Null | Ty::Any) => match t {
            Ty::Num(u) if add_or_sub => Ty::Num(u),
            _ => Ty::Num(Unit::Plain),
        },
    }
}

/// The common type of `case` and `coalesce` branches.
fn unify(acc: Ty, next: Ty) -> Ty {
    match (acc, next) {
        (Ty::Null, t) | (t, Ty::Null) => t,
        (Ty::Any, _) | (_, Ty::Any) => Ty::Any,
        (Ty::Num(a), Ty::Num(b)) => Ty::Num(add_units(a, b).unwrap_or(Unit::Plain)),
    }
}

/// Whether `x + y` (or comparing them) is accepted.
fn combinable(x: Ty, y: Ty) -> bool {
    match (x, y) {
        (Ty::Num(a), Ty::Num(b)) => add_units(a, b).is_some(),
        _ => true,
    }
}

/// The literal `100`, in parentheses or not: the checker reads `(100)` as `100` (the
/// syntax tree has no parentheses), and `percent × 100` is points.
fn num_is_hundred(n: &Num) -> bool {
    match n {
        Num::Lit(l) => l.text == "100",
        Num::Paren(x) => num_is_hundred(x),
        _ => false,
    }
}

/// [`num_is_hundred`] for KPI expressions.
fn kpi_is_hundred(k: &Kpi) -> bool {
    match k {
        Kpi::Lit(l) => l.text == "100",
        Kpi::Paren(x) => kpi_is_hundred(x),
        _ => false,
    }
}

fn mul_div_unit(op: Arith, a: Unit, b: Unit, rhs_hundred: bool, lhs_hundred: bool) -> Unit {
    match op {
        Arith::Add | Arith::Sub => add_units(a, b).unwrap_or(Unit::Plain),
        Arith::Mul => match (a, b) {
            (Unit::Percent, Unit::Plain) if rhs_hundred => Unit::Points,
            (Unit::Plain, Unit::Percent) if lhs_hundred => Unit::Points,
            (Unit::Plain, u) | (u, Unit::Plain) => u,
            _ => Unit::Plain,
        },
        Arith::Div => match (a, b) {
            (u, Unit::Plain) => u,
            (Unit::Count, Unit::Count) => Unit::Percent,
            (x, y) if x == y => Unit::Plain,
            (u, Unit::Count) => u,
            _ => Unit::Plain,
        },
    }
}

fn num_reads_column(n: &Num) -> bool {
    match n {
        Num::Col(_) => true,
        Num::Lit(_) | Num::Null => false,
        Num::Neg(x) | Num::Abs(x) | Num::Paren(x) => num_reads_column(x),
        Num::Bin(_, x, y) | Num::Coalesce(x, y) => num_reads_column(x) || num_reads_column(y),
        Num::Case(c, x, y) => {
            cond_reads_column(c)
                || num_reads_column(x)
                || y.as_deref().is_some_and(num_reads_column)
        }
    }
}

fn cond_reads_column(c: &Cond) -> bool {
    match c {
        Cond::Lit(_) => false,
        Cond::Flag | Cond::FlagIsNull(_) | Cond::TextEq(..) | Cond::TextIn(..) => true,
        Cond::TextIsNull(_) => true,
        Cond::Not(x) | Cond::Paren(x) => cond_reads_column(x),
        Cond::And(x, y) | Cond::Or(x, y) => cond_reads_column(x) || cond_reads_column(y),
        Cond::Cmp(_, x, y) => num_reads_column(x) || num_reads_column(y),
        Cond::IsNull(x, _) => num_reads_column(x),
    }
}

impl Gen<'_, '_> {
    fn num(&mut self, depth: u32) -> Num {
        let leaf = depth == 0 || self.u.chance(35);
        if leaf {
            return match self.u.below(8) {
                0..=3 => Num::Col(self.u.below(2)),
                4..=6 => Num::Lit(self.u.pick(&LITERALS)),
                _ => Num::Col(0),
            };
        }
        let n = match self.u.below(10) {
            0 => Num::Neg(Box::new(self.num_not_null(depth - 1))),
            1..=5 => {
                let mut op = self.u.pick(&[Arith::Add, Arith::Sub, Arith::Mul, Arith::Div]);
                let x = self.operand(depth - 1);
                let mut y = self.operand(depth - 1);
                let (a, b) = (self.ty(&x), self.ty(&y));
                if a == Ty::Null && b == Ty::Null {
                    y = Num::Col(1);
                } else if matches!(op, Arith::Add | Arith::Sub) && !combinable(a, b) {
                    op = Arith::Mul;
                }
                Num::Bin(op, Box::new(x), Box::new(y))
            }
            6 => Num::Abs(Box::new(self.num_not_null(depth - 1))),
            7 => {
                let x = self.operand(depth - 1);
                let y = self.num_not_null(depth - 1);
                Num::Coalesce(Box::new(x), Box::new(y))
            }
            8 => {
                let c = self.cond(depth - 1);
                let x = self.num_not_null(depth - 1);
                let y =
                    if self.u.chance(60) { Some(Box::new(self.operand(depth - 1))) } else { None };
                Num::Case(Box::new(c), Box::new(x), y)
            }
            _ => Num::Paren(Box::new(self.num(depth - 1))),
        };
        self.fix_case_units(n)
    }

    /// `case` and `coalesce` branches must have combinable units; when they do not, the
    /// second branch becomes a column.
    fn fix_case_units(&mut self, n: Num) -> Num {
        match n {
            Num::Coalesce(x, y) => {
                let y =
                    if combinable(self.ty(&x), self.ty(&y)) { y } else { Box::new(Num::Col(1)) };
                Num::Coalesce(x, y)
            }
            Num::Case(c, x, Some(y)) => {
                let y =
                    if combinable(self.ty(&x), self.ty(&y)) { y } else { Box::new(Num::Col(1)) };
                Num::Case(c, x, Some(y))
            }
            other => other,
        }
    }

    fn ty(&self, n: &Num) -> Ty {
        num_ty(n, self.untyped)
    }

    /// An operand of arithmetic: sometimes `null`.
    fn operand(&mut self, depth: u32) -> Num {
        if self.u.chance(6) { Num::Null } else { self.num(depth) }
    }

    fn num_not_null(&mut self, depth: u32) -> Num {
        self.num(depth)
    }

    fn cond(&mut self, depth: u32) -> Cond {
        let leaf = depth == 0 || self.u.chance(35);
        if leaf {
            return match self.u.below(10) {
                0..=2 => Cond::Flag,
                3 => Cond::Lit(self.u.chance(50)),
                4 => Cond::FlagIsNull(self.u.chance(50)),
                5 => Cond::TextEq(self.u.below(KEYS.len()), self.u.chance(30)),
                6 => {
                    let n = 1 + self.u.below(3);
                    let keys = (0..n).map(|_| self.u.below(KEYS.len())).collect();
                    Cond::TextIn(keys, self.u.chance(30))
                }
                7 => Cond::TextIsNull(self.u.chance(50)),
                _ => self.comparison(0),
            };
        }
        match self.u.below(9) {
            0 => Cond::Not(Box::new(self.cond(depth - 1))),
            1 | 2 => Cond::And(Box::new(self.cond(depth - 1)), Box::new(self.cond(depth - 1))),
            3 | 4 => Cond::Or(Box::new(self.cond(depth - 1)), Box::new(self.cond(depth - 1))),
            5 | 6 => self.comparison(depth - 1),
            7 => Cond::IsNull(self.operand(depth - 1), self.u.chance(50)),
            _ => Cond::Paren(Box::new(self.cond(depth - 1))),
        }
    }

    fn comparison(&mut self, depth: u32) -> Cond {
        let op = self.u.pick(&Cmp::ALL);
        let x = self.operand(depth);
        let mut y = self.operand(depth);
        if let (Ty::Num(a), Ty::Num(b)) = (self.ty(&x), self.ty(&y))
            && !comparable(a, b)
        {
            y = Num::Col(1);
        }
        Cond::Cmp(op, x, y)
    }

    fn filter(&mut self) -> Option<Cond> {
        if self.u.chance(55) { Some(self.cond(2)) } else { None }
    }

    fn agg(&mut self) -> Agg {
        match self.u.below(10) {
            0 => Agg::Rows(self.filter()),
            1 => {
                let mut c = self.cond(2);
                if !cond_reads_column(&c) {
                    c = Cond::And(Box::new(c), Box::new(Cond::Flag));
                }
                Agg::Rate(c, self.filter())
            }
            k => {
                let func = [
                    AggFunc::Count,
                    AggFunc::Sum,
                    AggFunc::Avg,
                    AggFunc::Min,
                    AggFunc::Max,
                    AggFunc::Median,
                    AggFunc::Stddev,
                    AggFunc::CountDistinct,
                ][k - 2];
                let mut x = self.num(2);
                if !num_reads_column(&x) {
                    x = Num::Bin(Arith::Add, Box::new(x), Box::new(Num::Col(0)));
                }
                Agg::Of(func, x, self.filter())
            }
        }
    }

    /// A KPI expression that holds at least one aggregate or KPI reference.
    fn kpi(&mut self, depth: u32) -> Kpi {
        let k = self.kpi_any(depth);
        if kpi_has_source(&k) { k } else { Kpi::Agg(self.agg()) }
    }

    fn kpi_any(&mut self, depth: u32) -> Kpi {
        let leaf = depth == 0 || self.u.chance(40);
        if leaf {
            return match self.u.below(8) {
                0..=4 => Kpi::Agg(self.agg()),
                5 if !self.kpi_units.is_empty() => Kpi::Ref(self.u.below(self.kpi_units.len())),
                _ => Kpi::Lit(self.u.pick(&LITERALS)),
            };
        }
        match self.u.below(8) {
            0 => Kpi::Neg(Box::new(self.kpi_any(depth - 1))),
            1 => Kpi::Paren(Box::new(self.kpi_any(depth - 1))),
            _ => {
                let mut op = self.u.pick(&[Arith::Add, Arith::Sub, Arith::Mul, Arith::Div]);
                let x = self.kpi_any(depth - 1);
                let y = self.kpi_any(depth - 1);
                let (a, b) = (self.kpi_unit(&x), self.kpi_unit(&y));
                if matches!(op, Arith::Add | Arith::Sub) && add_units(a, b).is_none() {
                    op = Arith::Mul;
                }
                Kpi::Bin(op, Box::new(x), Box::new(y))
            }
        }
    }

    fn kpi_unit(&self, k: &Kpi) -> Unit {
        kpi_unit(k, &self.kpi_units, self.untyped)
    }
}

fn kpi_has_source(k: &Kpi) -> bool {
    match k {
        Kpi::Agg(_) | Kpi::Ref(_) => true,
        Kpi::Lit(_) => false,
        Kpi::Neg(x) | Kpi::Paren(x) => kpi_has_source(x),
        Kpi::Bin(_, x, y) => kpi_has_source(x) || kpi_has_source(y),
    }
}

/// `check`'s unit of a KPI expression, given the units of the KPIs before it.
fn kpi_unit(k: &Kpi, units: &[Unit], untyped: [bool; 2]) -> Unit {
    match k {
        Kpi::Agg(Agg::Rows(_) | Agg::Of(AggFunc::Count | AggFunc::CountDistinct, ..)) => {
            Unit::Count
        }
        Kpi::Agg(Agg::Rate(..)) => Unit::Percent,
        Kpi::Agg(Agg::Of(_, x, _)) => match num_ty(x, untyped) {
            Ty::Num(u) => u,
            Ty::Null | Ty::Any => Unit::Plain,
        },
        Kpi::Lit(l) => l.unit,
        Kpi::Ref(i) => units[*i],
        Kpi::Neg(x) | Kpi::Paren(x) => kpi_unit(x, units, untyped),
        Kpi::Bin(op, x, y) => {
            let (a, b) = (kpi_unit(x, units, untyped), kpi_unit(y, units, untyped));
            mul_div_unit(*op, a, b, kpi_is_hundred(y), kpi_is_hundred(x))
        }
    }
}

impl Case {
    /// Decodes a case from fuzz input (any bytes make a valid case).
    pub fn from_bytes(data: &[u8]) -> Case {
        let mut u = Bytes::new(data);
        let n_rows = u.below(13);
        let mut rows = Vec::with_capacity(n_rows);
        // A few columns entirely empty now and then: their type is then unknown.
        let empty = [u.chance(8), u.chance(8), u.chance(8), u.chance(8)];
        for _ in 0..n_rows {
            let num = |u: &mut Bytes<'_>, empty: bool| {
                if empty || u.chance(15) { None } else { Some(u.pick(&VALUES)) }
            };
            let a = num(&mut u, empty[0]);
            let b = num(&mut u, empty[1]);
            let f = if empty[2] || u.chance(15) { None } else { Some(u.chance(50)) };
            let g = if empty[3] || u.chance(15) { None } else { Some(u.below(KEYS.len())) };
            rows.push(Row { a, b, f, g });
        }
        let mut order: Vec<usize> = vec![0, 1, 2, 3];
        if u.chance(30) {
            order.push(4);
        }
        for i in (1..order.len()).rev() {
            let j = u.below(i + 1);
            order.swap(i, j);
        }
        let layout = Layout {
            crlf: u.chance(30),
            bom: u.chance(15),
            quote_all: u.chance(15),
            order,
            blank_after: (0..n_rows).filter(|_| u.chance(5)).collect(),
            final_newline: !u.chance(15),
            spelling: (0..n_rows).map(|_| u.byte()).collect(),
        };
        let declare = u.chance(40);
        let untyped = [
            !declare && rows.iter().all(|r| r.a.is_none()),
            !declare && rows.iter().all(|r| r.b.is_none()),
        ];
        let mut g = Gen { u: &mut u, kpi_units: Vec::new(), untyped };
        let n_kpis = 1 + g.u.below(4);
        let mut kpis = Vec::with_capacity(n_kpis);
        for _ in 0..n_kpis {
            let k = g.kpi(2);
            let unit = g.kpi_unit(&k);
            g.kpi_units.push(unit);
            kpis.push(k);
        }
        let filter = if g.u.chance(50) { Some(g.cond(2)) } else { None };
        let threads = 1 + g.u.below(2);
        Case { rows, layout, declare, kpis, filter, threads }
    }

    /// The `.kpi` source: the dataset (reading `t.csv`), a dim, the KPIs and the view `v`.
    pub fn source(&self) -> String {
        let mut s = String::from("dataset t = csv(\"t.csv\")");
        if self.declare {
            s.push_str(" {\n    a: number\n    b: number\n    f: bool\n    g: text\n}");
        }
        s.push_str("\ndim grp = t.g\n");
        for (i, k) in self.kpis.iter().enumerate() {
            let _ = writeln!(s, "kpi k{i} = {}", print_kpi(k, 0));
        }
        let names: Vec<String> = (0..self.kpis.len()).map(|i| format!("k{i}")).collect();
        let _ = write!(s, "view v = {} by grp", names.join(", "));
        if let Some(f) = &self.filter {
            let _ = write!(s, " where {}", print_cond(f, 0));
        }
        s.push('\n');
        s
    }

    /// The CSV text, laid out as `self.layout` says.
    pub fn csv(&self) -> Vec<u8> {
        let l = &self.layout;
        let eol = if l.crlf { "\r\n" } else { "\n" };
        let mut out = String::new();
        if l.bom {
            out.push('\u{feff}');
        }
        let names = ["a", "b", "f", "g", "z"];
        let header: Vec<&str> = l.order.iter().map(|&c| names[c]).collect();
        out.push_str(&header.join(","));
        for (r, row) in self.rows.iter().enumerate() {
            out.push_str(eol);
            let v = l.spelling.get(r).copied().unwrap_or(0);
            let cells: Vec<String> = l
                .order
                .iter()
                .map(|&c| {
                    let raw = match c {
                        0 => row.a.map(|x| spell_number(x, v)),
                        1 => row.b.map(|x| spell_number(x, v >> 2)),
                        2 => row.f.map(|x| spell_bool(x, v >> 4)),
                        3 => row.g.map(|k| KEYS[k].to_string()),
                        _ => Some(["x,y", "say \"hi\"", "", "1"][r % 4].to_string()),
                    };
                    quote(&raw.unwrap_or_default(), l.quote_all)
                })
                .collect();
            out.push_str(&cells.join(","));
            if l.blank_after.contains(&r) {
                out.push_str(eol);
            }
        }
        if l.final_newline {
            out.push_str(eol);
        }
        out.into_bytes()
    }

    /// Column names and rows in the form the reference reads.
    pub fn with_rows(&self, rows: Vec<Row>) -> Case {
        Case { rows, ..self.clone() }
    }
}

fn spell_number(x: f64, variant: u8) -> String {
    match (variant % 4, x) {
        (1, x) if x.fract() != 0.0 => format!("{}e-1", x * 10.0),
        (2, x) if x.fract() == 0.0 => format!("{x:.1}"),
        (3, x) if x >= 0.0 => format!("+{x}"),
        _ => format!("{x}"),
    }
}

fn spell_bool(x: bool, variant: u8) -> String {
    let words = [("true", "false"), ("yes", "no"), ("TRUE", "False"), ("y", "n")];
    let (t, f) = words[usize::from(variant % 4)];
    (if x { t } else { f }).to_string()
}

fn quote(cell: &str, all: bool) -> String {
    if all || cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

// ---- printing ---------------------------------------------------------------------------------

fn wrap(text: String, prec: u8, min: u8) -> String {
    if prec < min { format!("({text})") } else { text }
}

/// Prints a row number; `min` is the loosest precedence allowed without brackets.
pub fn print_num(n: &Num, min: u8) -> String {
    match n {
        Num::Lit(l) => l.text.to_string(),
        Num::Col(0) => "t.a".into(),
        Num::Col(_) => "t.b".into(),
        Num::Null => "null".into(),
        Num::Neg(x) => wrap(neg(&print_num(x, 7)), 7, min),
        Num::Bin(op, x, y) => {
            let p = op.prec();
            let text = format!("{} {} {}", print_num(x, p), op.text(), print_num(y, p + 1));
            wrap(text, p, min)
        }
        Num::Abs(x) => format!("abs({})", print_num(x, 0)),
        Num::Coalesce(x, y) => format!("coalesce({}, {})", print_num(x, 0), print_num(y, 0)),
        Num::Case(c, x, y) => {
            let mut s = format!("case when {} then {}", print_cond(c, 0), print_num(x, 0));
            if let Some(y) = y {
                let _ = write!(s, " else {}", print_num(y, 0));
            }
            s.push_str(" end");
            s
        }
        Num::Paren(x) => format!("({})", print_num(x, 0)),
    }
}

fn neg(operand: &str) -> String {
    if operand.starts_with('-') { format!("- {operand}") } else { format!("-{operand}") }
}

/// Prints a condition (`or` 1, `and` 2, `not` 3, comparisons 4).
pub fn print_cond(c: &Cond, min: u8) -> String {
    match c {
        Cond::Lit(b) => b.to_string(),
        Cond::Flag => "t.f".into(),
        Cond::Not(x) => wrap(format!("not {}", print_cond(x, 3)), 3, min),
        Cond::And(x, y) => wrap(format!("{} and {}", print_cond(x, 2), print_cond(y, 3)), 2, min),
        Cond::Or(x, y) => wrap(format!("{} or {}", print_cond(x, 1), print_cond(y, 2)), 1, min),
        Cond::Cmp(op, x, y) => {
            wrap(format!("{} {} {}", print_num(x, 5), op.text(), print_num(y, 5)), 4, min)
        }
        Cond::IsNull(x, negated) => {
            let not = if *negated { "not " } else { "" };
            wrap(format!("{} is {not}null", print_num(x, 5)), 4, min)
        }
        Cond::FlagIsNull(negated) => {
            wrap(format!("t.f is {}null", if *negated { "not " } else { "" }), 4, min)
        }
        Cond::TextEq(k, negated) => {
            let op = if *negated { "!=" } else { "==" };
            wrap(format!("t.g {op} \"{}\"", KEYS[*k]), 4, min)
        }
        Cond::TextIn(keys, negated) => {
            let list: Vec<String> = keys.iter().map(|&k| format!("\"{}\"", KEYS[k])).collect();
            let not = if *negated { "not " } else { "" };
            wrap(format!("t.g {not}in ({})", list.join(", ")), 4, min)
        }
        Cond::TextIsNull(negated) => {
            wrap(format!("t.g is {}null", if *negated { "not " } else { "" }), 4, min)
        }
        Cond::Paren(x) => format!("({})", print_cond(x, 0)),
    }
}

fn print_agg(a: &Agg) -> String {
    let filter = |c: &Option<Cond>| match c {
        Some(c) => format!(" where {}", print_cond(c, 0)),
        None => String::new(),
    };
    match a {
        Agg::Rows(w) => format!("count(t{})", filter(w)),
        Agg::Of(func, x, w) => format!("{}({}{})", func.name(), print_num(x, 0), filter(w)),
        Agg::Rate(c, w) => format!("rate({}{})", print_cond(c, 0), filter(w)),
    }
}

pub fn print_kpi(k: &Kpi, min: u8) -> String {
    match k {
        Kpi::Agg(a) => print_agg(a),
        Kpi::Lit(l) => l.text.to_string(),
        Kpi::Ref(i) => format!("k{i}"),
        Kpi::Neg(x) => wrap(neg(&print_kpi(x, 7)), 7, min),
        Kpi::Bin(op, x, y) => {
            let p = op.prec();
            wrap(format!("{} {} {}", print_kpi(x, p), op.text(), print_kpi(y, p + 1)), p, min)
        }
        Kpi::Paren(x) => format!("({})", print_kpi(x, 0)),
    }
}

// ---- the reference evaluator ----------------------------------------------------------------

pub fn eval_num(n: &Num, r: &Row) -> Option<f64> {
    match n {
        Num::Lit(l) => Some(l.value),
        Num::Col(0) => r.a,
        Num::Col(_) => r.b,
        Num::Null => None,
        Num::Neg(x) => eval_num(x, r).map(|v| -v),
        Num::Bin(op, x, y) => {
            let (x, y) = (eval_num(x, r)?, eval_num(y, r)?);
            op.apply(x, y)
        }
        Num::Abs(x) => eval_num(x, r).map(f64::abs),
        Num::Coalesce(x, y) => eval_num(x, r).or_else(|| eval_num(y, r)),
        Num::Case(c, x, y) => {
            if eval_cond(c, r) == Some(true) {
                eval_num(x, r)
            } else {
                y.as_deref().and_then(|y| eval_num(y, r))
            }
        }
        Num::Paren(x) => eval_num(x, r),
    }
}

/// SQL three-valued logic.
pub fn eval_cond(c: &Cond, r: &Row) -> Option<bool> {
    match c {
        Cond::Lit(b) => Some(*b),
        Cond::Flag => r.f,
        Cond::Not(x) => eval_cond(x, r).map(|b| !b),
        Cond::And(x, y) => match (eval_cond(x, r), eval_cond(y, r)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Cond::Or(x, y) => match (eval_cond(x, r), eval_cond(y, r)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Cond::Cmp(op, x, y) => Some(op.holds(eval_num(x, r)?, eval_num(y, r)?)),
        Cond::IsNull(x, negated) => Some(eval_num(x, r).is_none() != *negated),
        Cond::FlagIsNull(negated) => Some(r.f.is_none() != *negated),
        Cond::TextEq(k, negated) => r.g.map(|g| (g == *k) != *negated),
        Cond::TextIn(keys, negated) => r.g.map(|g| keys.contains(&g) != *negated),
        Cond::TextIsNull(negated) => Some(r.g.is_none() != *negated),
        Cond::Paren(x) => eval_cond(x, r),
    }
}

/// A reference value: the value, a bound on how far the engine's may be from it, and whether
/// it cannot be compared at all (it hinges on a quantity below its error bound).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Val {
    pub v: Option<f64>,
    pub err: f64,
    pub shaky: bool,
}

impl Val {
    fn exact(v: Option<f64>) -> Val {
        Val { v, err: 0.0, shaky: false }
    }
}

/// Values on the grid 2^-20 below 2^28 in magnitude: any sum of a few of them is exact in
/// every order.
fn on_grid(x: f64) -> bool {
    x.abs() < (1u64 << 28) as f64 && (x * (1u64 << 20) as f64).fract() == 0.0
}

fn aggregate(a: &Agg, rows: &[&Row]) -> Val {
    let keep = |w: &Option<Cond>, r: &Row| w.as_ref().is_none_or(|c| eval_cond(c, r) == Some(true));
    match a {
        Agg::Rows(w) => Val::exact(Some(rows.iter().filter(|r| keep(w, r)).count() as f64)),
        Agg::Rate(c, w) => {
            let (mut yes, mut n) = (0u64, 0u64);
            for r in rows.iter().filter(|r| keep(w, r)) {
                if let Some(b) = eval_cond(c, r) {
                    n += 1;
                    yes += u64::from(b);
                }
            }
            Val::exact((n > 0).then(|| yes as f64 / n as f64))
        }
        Agg::Of(func, x, w) => {
            let values: Vec<f64> =
                rows.iter().filter(|r| keep(w, r)).filter_map(|r| eval_num(x, r)).collect();
            let n = values.len();
            if *func == AggFunc::Count {
                return Val::exact(Some(n as f64));
            }
            if *func == AggFunc::CountDistinct {
                // -0 and 0 are one value.
                let mut distinct: Vec<f64> = values.iter().map(|v| v + 0.0).collect();
                distinct.sort_by(f64::total_cmp);
                distinct.dedup();
                return Val::exact(Some(distinct.len() as f64));
            }
            if n == 0 {
                return Val::exact(None);
            }
            let sum: f64 = values.iter().sum();
            let abs: f64 = values.iter().map(|v| v.abs()).sum();
            let sum_err =
                if values.iter().all(|&v| on_grid(v)) { 0.0 } else { (n as f64 + 2.0) * EPS * abs };
            match func {
                AggFunc::Sum => Val { v: Some(sum), err: sum_err, shaky: false },
                AggFunc::Avg => {
                    let avg = sum / n as f64;
                    Val {
                        v: Some(avg),
                        err: sum_err / n as f64 + 2.0 * EPS * avg.abs(),
                        shaky: false,
                    }
                }
                AggFunc::Min => Val::exact(values.iter().copied().reduce(f64::min)),
                AggFunc::Max => Val::exact(values.iter().copied().reduce(f64::max)),
                AggFunc::Median => {
                    // percentile_cont(0.5): the middle value, or between the two middle ones.
                    let mut sorted = values.clone();
                    sorted.sort_by(f64::total_cmp);
                    let (lo, hi) = (sorted[(n - 1) / 2], sorted[n / 2]);
                    let m = lo + (hi - lo) * 0.5;
                    Val { v: Some(m), err: 4.0 * EPS * lo.abs().max(hi.abs()), shaky: false }
                }
                AggFunc::Stddev => {
                    // Sample standard deviation (n - 1), null below two values; two passes.
                    if n < 2 {
                        return Val::exact(None);
                    }
                    let mean = sum / n as f64;
                    let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
                    let sd = (squares / (n as f64 - 1.0)).sqrt();
                    let spread = values.iter().map(|v| (v - mean).abs()).fold(0.0, f64::max);
                    let err = (n as f64 + 4.0) * 4.0 * EPS * (sd + spread + mean.abs());
                    Val { v: Some(sd), err, shaky: false }
                }
                AggFunc::Count | AggFunc::CountDistinct => unreachable!(),
            }
        }
    }
}

fn kpi_value(k: &Kpi, rows: &[&Row], done: &[Val]) -> Val {
    match k {
        Kpi::Agg(a) => aggregate(a, rows),
        Kpi::Lit(l) => Val::exact(Some(l.value)),
        Kpi::Ref(i) => done[*i],
        Kpi::Paren(x) => kpi_value(x, rows, done),
        Kpi::Neg(x) => {
            let v = kpi_value(x, rows, done);
            Val { v: v.v.map(|x| -x), ..v }
        }
        Kpi::Bin(op, x, y) => {
            let (a, b) = (kpi_value(x, rows, done), kpi_value(y, rows, done));
            let shaky = a.shaky || b.shaky;
            let (Some(x), Some(y)) = (a.v, b.v) else {
                return Val { v: None, err: 0.0, shaky };
            };
            if *op == Arith::Div && b.err > 0.0 && y.abs() <= b.err {
                return Val { v: None, err: 0.0, shaky: true };
            }
            let v = op.apply(x, y);
            let r = v.unwrap_or(0.0).abs();
            let err = if a.err == 0.0 && b.err == 0.0 {
                0.0
            } else {
                let e = match op {
                    Arith::Add | Arith::Sub => a.err + b.err,
                    Arith::Mul => x.abs() * b.err + y.abs() * a.err + a.err * b.err,
                    Arith::Div => {
                        (x.abs() * b.err + y.abs() * a.err) / (y.abs() * (y.abs() - b.err))
                    }
                };
                e + 2.0 * EPS * r
            };
            Val { v, err, shaky: shaky || !err.is_finite() }
        }
    }
}

/// Every KPI's reference value over `rows`.
pub fn reference(kpis: &[Kpi], rows: &[&Row]) -> Vec<Val> {
    let mut done = Vec::with_capacity(kpis.len());
    for k in kpis {
        let v = kpi_value(k, rows, &done);
        done.push(v);
    }
    done
}

/// Whether the engine's `got` matches the reference `want`; `None` when it does, else why not.
pub fn mismatch(got: Option<f64>, want: Val) -> Option<String> {
    if let Some(g) = got
        && !g.is_finite()
    {
        return Some(format!("the engine produced the non-finite value {g}"));
    }
    if want.shaky {
        return None;
    }
    match (got, want.v) {
        (None, None) => None,
        (Some(g), Some(w)) => {
            let tol = want.err + 4.0 * EPS * w.abs().max(g.abs());
            ((g - w).abs() > tol).then(|| format!("engine {g:?}, reference {w:?} (± {:e})", tol))
        }
        (g, w) => Some(format!("engine {g:?}, reference {w:?}")),
    }
}

// ---- running a case -----------------------------------------------------------------------

/// What running a case through the engine gave: the scorecard, the grouped view, and the
/// view as the streaming file path computed it (JSON), when asked for.
pub struct Outcome {
    pub scorecard: Report,
    pub view: Report,
}

/// Evaluates `case` through [`Project`] (the data bound from memory): the scorecard and the
/// view `v`. Panics if the generated program does not check (a generator or checker bug).
pub fn evaluate(case: &Case) -> Outcome {
    evaluate_with(case, &case.csv())
}

pub fn evaluate_with(case: &Case, csv: &[u8]) -> Outcome {
    let source = case.source();
    let mut project = Project::from_source("small.kpi", &source);
    if let Err(e) = project.bind_csv("t", csv) {
        panic!("the generated data does not load: {e}\n{}", String::from_utf8_lossy(csv));
    }
    let scorecard = project
        .scorecard()
        .unwrap_or_else(|e| panic!("the generated program fails: {e}\n{source}"));
    let view = project.view("v").unwrap_or_else(|e| panic!("the view fails: {e}\n{source}"));
    Outcome { scorecard, view }
}

/// Runs `case` through the engine and compares every KPI, in the scorecard, in every group
/// of the view and in its total, with the reference. Panics on the first disagreement.
pub fn check_case(case: &Case) -> Outcome {
    let out = evaluate(case);
    let source = case.source();
    let csv = String::from_utf8_lossy(&case.csv()).into_owned();
    let context = || format!("\n--- program ---\n{source}--- t.csv ---\n{csv}");
    let all: Vec<&Row> = case.rows.iter().collect();
    let want = reference(&case.kpis, &all);
    compare_row(&out.scorecard, &[], &want, "the scorecard", &context);

    let kept: Vec<&Row> = case
        .rows
        .iter()
        .filter(|r| case.filter.as_ref().is_none_or(|c| eval_cond(c, r) == Some(true)))
        .collect();
    // Groups present: every key of a kept row, sorted, null last.
    let mut seen: Vec<Option<usize>> = kept.iter().map(|r| r.g).collect();
    seen.sort_by_key(|g| g.map_or(usize::MAX, |k| k));
    seen.dedup();
    let keys: Vec<Option<usize>> =
        out.view.rows.iter().map(|row| key_of(&row.key, &context)).collect();
    for g in &seen {
        assert!(
            keys.contains(g),
            "the group {:?} has rows but is missing from the view; groups: {keys:?}{}",
            g.map(|k| KEYS[k]),
            context()
        );
    }
    let mut sorted = keys.clone();
    sorted.sort_by_key(|g| g.map_or(usize::MAX, |k| k));
    sorted.dedup();
    assert_eq!(keys, sorted, "groups are not sorted by key with null last{}", context());
    for (row, g) in out.view.rows.iter().zip(&keys) {
        let rows: Vec<&Row> = kept.iter().copied().filter(|r| r.g == *g).collect();
        let want = reference(&case.kpis, &rows);
        let what = format!("the group {:?}", g.map(|k| KEYS[k]));
        compare_row(&out.view, &row.key, &want, &what, &context);
    }
    if let Some(total) = &out.view.total {
        let want = reference(&case.kpis, &kept);
        compare_cells(&out.view, &total.cells, &want, "the view's total", &context);
    } else if !out.view.rows.is_empty() {
        panic!("a grouped view without a total{}", context());
    }
    out
}

fn key_of(key: &[Key], context: &dyn Fn() -> String) -> Option<usize> {
    match key {
        [Key::Null] => None,
        [Key::Text(t)] => match KEYS.iter().position(|k| **k == **t) {
            Some(k) => Some(k),
            None => panic!("an unknown group key {t:?}{}", context()),
        },
        other => panic!("an unexpected group key {other:?}{}", context()),
    }
}

fn compare_row(
    report: &Report,
    key: &[Key],
    want: &[Val],
    what: &str,
    context: &dyn Fn() -> String,
) {
    let Some(row) = report.rows.iter().find(|r| r.key == key) else {
        panic!("{what}: no row with key {key:?}{}", context())
    };
    compare_cells(report, &row.cells, want, what, context);
}

fn compare_cells(
    report: &Report,
    cells: &[Cell],
    want: &[Val],
    what: &str,
    context: &dyn Fn() -> String,
) {
    for (i, w) in want.iter().enumerate() {
        let name = format!("k{i}");
        let Some(at) = report.item(&name) else { panic!("`{name}` is missing{}", context()) };
        let got = match &cells[at] {
            Cell::Kpi(k) => k.value,
            Cell::Blend(_) => panic!("`{name}` is a blend{}", context()),
        };
        if let Some(why) = mismatch(got, *w) {
            panic!("{what}: `{name}`: {why}{}", context());
        }
    }
}

/// The view `v` evaluated straight from a file by the streaming path (blocks, threads), and
/// by the careful path (`--bad-rows skip` turns streaming off), as JSON and warnings. `dir` must be a
/// directory the caller owns; `t.csv` is written into it.
pub fn view_from_files(case: &Case, csv: &[u8], dir: &Path) -> (String, String) {
    std::fs::write(dir.join("t.csv"), csv).expect("writing t.csv");
    let source = case.source();
    let opts = CheckOptions { schemas: Some(&FileSchemas), ..CheckOptions::default() };
    let checked = check::check_text("small.kpi", &source, dir, &opts);
    assert!(
        !checked.has_errors(),
        "the program does not check against its file: {:?}\n{source}",
        checked.diagnostics.iter().map(|d| d.message.clone()).collect::<Vec<_>>()
    );
    let program = &checked.program;
    let Some(view) = program.view("v") else { panic!("no view `v`\n{source}") };
    let request = Request { threads: case.threads, ..Request::view(view) };
    let run = |load: &LoadOptions| match eval::evaluate_files(program, &request, load) {
        Ok(report) => outcome(&report, &format!("{}/", dir.display())),
        Err(ds) => panic!(
            "evaluating from the file fails: {:?}\n{source}",
            ds.iter().map(|d| d.message.clone()).collect::<Vec<_>>()
        ),
    };
    let streamed = run(&LoadOptions::default());
    let careful = run(&LoadOptions { bad_rows: BadRows::Skip, ..LoadOptions::default() });
    (streamed, careful)
}

/// A report as JSON, then its warnings (which JSON leaves out) with `dir` taken out of the
/// data paths they name: every path must give the same of both.
fn outcome(report: &Report, dir: &str) -> String {
    let json = serde_json::to_string(report).expect("a report serialises");
    let warnings = format!("{:?}", report.warnings.diagnostics);
    format!("{json}\nwarnings: {}", warnings.replace(dir, ""))
}

/// The whole `eval_small` property: the reference agrees with [`Project`], and the file paths
/// (streaming and careful) give byte-identical JSON to it.
pub fn eval_small(data: &[u8], dir: &Path) {
    let case = Case::from_bytes(data);
    let out = check_case(&case);
    let memory = outcome(&out.view, "");
    let (streamed, careful) = view_from_files(&case, &case.csv(), dir);
    let context = || format!("\n{}\n{}", case.source(), String::from_utf8_lossy(&case.csv()));
    assert!(memory == careful, "memory {memory}\ncareful {careful}{}", context());
    assert!(memory == streamed, "memory {memory}\nstreamed {streamed}{}", context());
}

/// Group rows by key, for tests that build their own expectations.
pub fn by_key(rows: &[Row]) -> HashMap<Option<usize>, Vec<&Row>> {
    let mut m: HashMap<Option<usize>, Vec<&Row>> = HashMap::new();
    for r in rows {
        m.entry(r.g).or_default().push(r);
    }
    m
}
