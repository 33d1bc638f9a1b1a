//! The checked program: a logical plan that says what to compute, not where the data
//! lives. `check` builds it from the AST with every name resolved, every type known
//! and every constant folded; `eval` runs it over CSV tables, and a SQL backend can
//! compile the same plan later.

use std::path::PathBuf;

use serde::Serialize;

pub use crate::ast::{BinaryOp, CmpOp, UnaryOp};
use crate::source::{SourceMap, Span};
pub use crate::types::{ColumnType, Ty, Unit, Value};

pub type DatasetId = usize;
pub type DimId = usize;
pub type KpiId = usize;
pub type BlendId = usize;
pub type AggId = usize;

#[derive(Debug, Clone, Default)]
pub struct Program {
    pub sources: SourceMap,
    pub datasets: Vec<DatasetDef>,
    pub dims: Vec<DimDef>,
    pub params: Vec<ParamDef>,
    /// In definition order.
    pub kpis: Vec<KpiDef>,
    /// KPI ids in dependency order: a KPI comes after every KPI it uses. KPIs caught in
    /// a cycle are left out.
    pub kpi_order: Vec<KpiId>,
    pub blends: Vec<BlendDef>,
    pub views: Vec<ViewDef>,
    pub notes: Vec<NoteDef>,
    pub tests: Vec<TestDef>,
    /// Every distinct aggregate the KPIs use.
    pub aggregates: Vec<AggDef>,
}

#[derive(Debug, Clone)]
pub struct DatasetDef {
    pub name: String,
    pub span: Span,
    /// Resolved against the directory of the file that declares the dataset.
    pub path: PathBuf,
    pub delimiter: u8,
    /// The column periods are taken from (`csv(..., time: "started_at")`).
    pub time_column: Option<String>,
    /// Cell texts read as null besides the empty cell (`csv(..., null: "N/A")`).
    pub null_tokens: Vec<String>,
    pub declared: Vec<(String, ColumnType)>,
    pub links: Vec<LinkDef>,
    /// Column types: declared, or read from the data when it was available to `check`.
    pub schema: Option<Vec<(String, ColumnType)>>,
    /// Columns the data has but whose type it does not show (every sampled cell empty).
    pub untyped: Vec<String>,
}

/// `column -> target.target_column`: many rows of this dataset to one row of `target`.
#[derive(Debug, Clone)]
pub struct LinkDef {
    pub column: String,
    pub target: DatasetId,
    pub target_column: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct DimDef {
    pub name: String,
    pub span: Span,
    pub expr: RowExpr,
    /// The dataset whose rows the expression reads (others are reached through links).
    pub home: DatasetId,
    pub ty: Ty,
}

#[derive(Debug, Clone)]
pub struct ParamDef {
    pub name: String,
    pub span: Span,
    pub value: Value,
    pub ty: Ty,
}

/// An expression evaluated once per row of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub enum RowExpr {
    Const(Value),
    Column {
        dataset: DatasetId,
        column: String,
        ty: ColumnType,
    },
    Unary(UnaryOp, Box<RowExpr>),
    Binary(BinaryOp, Box<RowExpr>, Box<RowExpr>),
    IsNull(Box<RowExpr>, bool),
    InList(Box<RowExpr>, Vec<RowExpr>, bool),
    Case {
        operand: Option<Box<RowExpr>>,
        whens: Vec<(RowExpr, RowExpr)>,
        otherwise: Option<Box<RowExpr>>,
    },
    Func(ScalarFunc, Vec<RowExpr>),
    /// A dim put in where it is used: its expression, which the evaluator computes once per
    /// block however often it is put in (dims built from dims would otherwise cost twice
    /// as much with every level). Transparent to [`RowExpr::depth`] and [`RowExpr::size`].
    Dim(DimId, Box<RowExpr>),
}

impl RowExpr {
    /// Calls `f` with each direct sub-expression, in order.
    pub fn for_each_child<'a>(&'a self, f: &mut dyn FnMut(&'a RowExpr)) {
        match self {
            RowExpr::Const(_) | RowExpr::Column { .. } => {}
            RowExpr::Unary(_, x) | RowExpr::IsNull(x, _) => f(x),
            RowExpr::Binary(_, a, b) => {
                f(a);
                f(b);
            }
            RowExpr::InList(x, list, _) => {
                f(x);
                list.iter().for_each(f);
            }
            RowExpr::Case { operand, whens, otherwise } => {
                operand.iter().for_each(|o| f(o));
                for (w, t) in whens {
                    f(w);
                    f(t);
                }
                otherwise.iter().for_each(|o| f(o));
            }
            RowExpr::Func(_, args) => args.iter().for_each(f),
            RowExpr::Dim(_, x) => f(x),
        }
    }

    /// Levels of nesting: 1 for a constant or a column.
    pub fn depth(&self) -> usize {
        if let RowExpr::Dim(_, x) = self {
            return x.depth();
        }
        let mut deepest = 0;
        self.for_each_child(&mut |c| deepest = deepest.max(c.depth()));
        deepest + 1
    }

    /// The number of nodes.
    pub fn size(&self) -> usize {
        if let RowExpr::Dim(_, x) = self {
            return x.size();
        }
        let mut n = 1;
        self.for_each_child(&mut |c| n += c.size());
        n
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalarFunc {
    Week,
    Day,
    Month,
    Quarter,
    Hour,
    Weekday,
    Abs,
    Round,
    Coalesce,
    Lower,
    SafeDiv,
}

impl ScalarFunc {
    pub const ALL: &[(&'static str, ScalarFunc, &'static str)] = &[
        ("week", ScalarFunc::Week, "week(time) -> date of the Monday starting its ISO week"),
        ("day", ScalarFunc::Day, "day(time) -> date"),
        ("month", ScalarFunc::Month, "month(time) -> first day of the month"),
        ("quarter", ScalarFunc::Quarter, "quarter(time) -> first day of the quarter"),
        ("hour", ScalarFunc::Hour, "hour(time) -> 0..23"),
        ("weekday", ScalarFunc::Weekday, "weekday(time) -> 1 (Monday) .. 7 (Sunday)"),
        ("abs", ScalarFunc::Abs, "abs(x)"),
        ("round", ScalarFunc::Round, "round(x [, digits])"),
        ("coalesce", ScalarFunc::Coalesce, "coalesce(a, b, ...) -> first non-null"),
        ("lower", ScalarFunc::Lower, "lower(text)"),
        (
            "safe_div",
            ScalarFunc::SafeDiv,
            "safe_div(a, b, default) -> a / b, or default where b is 0",
        ),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, f, _)| *f == self).map_or("?", |(n, _, _)| n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AggFunc {
    /// `count(dataset)`: rows
    CountRows,
    /// `count(x)`: non-null values
    Count,
    Sum,
    Avg,
    Min,
    Max,
    /// `median(x)` and `percentile(x, q)`: continuous (interpolated) percentile
    Percentile(f64),
    /// sample standard deviation
    Stddev,
    CountDistinct,
    /// share of true among non-null values
    Rate,
}

impl AggFunc {
    /// The function's name in the language.
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::CountRows | AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Percentile(0.5) => "median",
            AggFunc::Percentile(_) => "percentile",
            AggFunc::Stddev => "stddev",
            AggFunc::CountDistinct => "count_distinct",
            AggFunc::Rate => "rate",
        }
    }

    pub const NAMES: &[(&'static str, &'static str)] = &[
        ("count", "count(dataset [where c]) or count(x): rows, or non-null values"),
        ("sum", "sum(x [where c])"),
        ("avg", "avg(x [where c])"),
        ("min", "min(x [where c])"),
        ("max", "max(x [where c])"),
        ("median", "median(x [where c])"),
        ("percentile", "percentile(x, q [where c]) -> continuous percentile, q in 0%..100%"),
        ("stddev", "stddev(x [where c]) -> sample standard deviation"),
        ("count_distinct", "count_distinct(x [where c])"),
        ("rate", "rate(condition [where c]) -> share of true among non-null"),
    ];
}

/// One aggregate over the rows of `dataset` (and whatever its links reach).
#[derive(Debug, Clone, PartialEq)]
pub struct AggDef {
    pub func: AggFunc,
    pub dataset: DatasetId,
    pub arg: Option<RowExpr>,
    pub filter: Option<RowExpr>,
}

/// An expression over aggregates, KPIs and constants, evaluated once per group.
#[derive(Debug, Clone, PartialEq)]
pub enum KpiExpr {
    Const(Value),
    Agg(AggId),
    Kpi(KpiId),
    Unary(UnaryOp, Box<KpiExpr>),
    Binary(BinaryOp, Box<KpiExpr>, Box<KpiExpr>),
    IsNull(Box<KpiExpr>, bool),
    Case {
        operand: Option<Box<KpiExpr>>,
        whens: Vec<(KpiExpr, KpiExpr)>,
        otherwise: Option<Box<KpiExpr>>,
    },
    Func(ScalarFunc, Vec<KpiExpr>),
    /// Pearson correlation of two KPIs across the groups of a dim.
    Corr {
        a: KpiId,
        b: KpiId,
        over: DimId,
    },
    /// `change(kpi) over week`: the KPI in the last group of the dim minus the one before
    /// it; `previous(kpi) over week`: the KPI in the group before the last.
    Change {
        kpi: KpiId,
        over: DimId,
        previous: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bound {
    #[serde(serialize_with = "ser_cmp")]
    pub op: CmpOp,
    pub value: f64,
}

impl Bound {
    pub fn holds(&self, v: f64) -> bool {
        match self.op {
            CmpOp::Eq => v == self.value,
            CmpOp::Ne => v != self.value,
            CmpOp::Lt => v < self.value,
            CmpOp::Le => v <= self.value,
            CmpOp::Gt => v > self.value,
            CmpOp::Ge => v >= self.value,
        }
    }
}

fn ser_cmp<S: serde::Serializer>(op: &CmpOp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(op.as_str())
}

#[derive(Debug, Clone)]
pub struct KpiDef {
    pub name: String,
    pub label: Option<String>,
    pub span: Span,
    /// The whole definition, for `:show` and `explain`.
    pub def_span: Span,
    /// The expression after `=`.
    pub expr_span: Span,
    pub expr: KpiExpr,
    /// What the KPI divides by (`b` in `a / b`, `safe_div(a, b)`, `100 * a / b`): over
    /// groups, the KPI is the mean of theirs weighted by it, which explain-change needs.
    pub divisor_span: Option<Span>,
    pub ty: Ty,
    pub unit: Unit,
    pub target: Option<Bound>,
    pub warn: Option<Bound>,
    pub min: Option<u64>,
    pub tags: Vec<String>,
}

impl KpiDef {
    pub fn direction(&self) -> Option<Direction> {
        match self.target?.op {
            CmpOp::Ge | CmpOp::Gt => Some(Direction::HigherIsBetter),
            CmpOp::Le | CmpOp::Lt => Some(Direction::LowerIsBetter),
            CmpOp::Eq | CmpOp::Ne => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BlendDef {
    pub name: String,
    pub span: Span,
    pub components: Vec<KpiId>,
    /// Normalised to sum to 1.
    pub weights: Vec<f64>,
    pub guard: Option<KpiExpr>,
    /// The guard as written, for display.
    pub guard_text: Option<String>,
}

/// A KPI or a blend, as listed in a view or asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemRef {
    Kpi(KpiId),
    Blend(BlendId),
}

#[derive(Debug, Clone)]
pub struct ViewDef {
    pub name: String,
    pub span: Span,
    pub items: Vec<ItemRef>,
    pub by: Vec<DimId>,
    pub filter: Option<RowExpr>,
    /// Where the filter is written.
    pub filter_at: Option<Span>,
}

#[derive(Debug, Clone)]
pub struct NoteDef {
    /// Days since 1970-01-01.
    pub date: i64,
    pub text: String,
    pub span: Span,
}

/// A `test` block, kept as written for `kpiblend test`.
#[derive(Debug, Clone)]
pub struct TestDef {
    pub test: crate::ast::Test,
    pub base_dir: PathBuf,
    /// Each `expect` of `test`, resolved by the checker; `None` where it had an error.
    pub expects: Vec<Option<ExpectDef>>,
}

/// The words a KPI's status is written with in an `expect`, as the evaluator spells them.
pub const STATUS_WORDS: [&str; 5] = ["none", "ok", "warn", "fail", "insufficient"];
/// The words a blend's verdict is written with in an `expect`.
pub const VERDICT_WORDS: [&str; 3] = ["pass", "breach", "insufficient"];

/// An `expect` with its names resolved and its values folded.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectDef {
    pub item: ItemRef,
    pub field: ExpectField,
    /// The group picked, sorted by dim; each dim at most once.
    pub picks: Vec<(DimId, ExpectConst)>,
    pub op: CmpOp,
    pub expected: ExpectConst,
    /// `within`: zero or more, only with a number expected.
    pub within: Option<f64>,
}

impl ExpectDef {
    /// The dims the expectation's group is picked by (the grouping to evaluate).
    pub fn dims(&self) -> Vec<DimId> {
        self.picks.iter().map(|(d, _)| *d).collect()
    }
}

/// What an expectation reads from its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectField {
    /// A KPI's value.
    Value,
    Status,
    /// A blend's score (0–100).
    Score,
    Verdict,
}

impl ExpectField {
    pub fn name(self) -> &'static str {
        match self {
            ExpectField::Value => "value",
            ExpectField::Status => "status",
            ExpectField::Score => "score",
            ExpectField::Verdict => "verdict",
        }
    }

    /// The words a status or verdict is compared with.
    pub fn words(self) -> &'static [&'static str] {
        match self {
            ExpectField::Verdict => &VERDICT_WORDS,
            _ => &STATUS_WORDS,
        }
    }
}

/// A constant as written in an expectation.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectConst {
    Num(f64),
    Text(String),
    Bool(bool),
    Null,
    /// A status or verdict word.
    Word(String),
}

impl Program {
    pub fn kpi(&self, name: &str) -> Option<KpiId> {
        self.kpis.iter().position(|k| k.name == name)
    }

    pub fn blend(&self, name: &str) -> Option<BlendId> {
        self.blends.iter().position(|b| b.name == name)
    }

    pub fn dim(&self, name: &str) -> Option<DimId> {
        self.dims.iter().position(|d| d.name == name)
    }

    pub fn dataset(&self, name: &str) -> Option<DatasetId> {
        self.datasets.iter().position(|d| d.name == name)
    }

    pub fn view(&self, name: &str) -> Option<&ViewDef> {
        self.views.iter().find(|v| v.name == name)
    }

    pub fn item(&self, name: &str) -> Option<ItemRef> {
        self.kpi(name).map(ItemRef::Kpi).or_else(|| self.blend(name).map(ItemRef::Blend))
    }

    pub fn item_name(&self, item: ItemRef) -> &str {
        match item {
            ItemRef::Kpi(k) => &self.kpis[k].name,
            ItemRef::Blend(b) => &self.blends[b].name,
        }
    }

    /// The link path from dataset `from` to dataset `to` (empty when they are the same),
    /// or `None` when `to` cannot be reached. Links form a forest (cycles are rejected),
    /// so the path is unique.
    pub fn link_path(&self, from: DatasetId, to: DatasetId) -> Option<Vec<(DatasetId, usize)>> {
        let mut path = Vec::new();
        let mut at = from;
        let mut seen = vec![false; self.datasets.len()];
        // Breadth-first over links; datasets are few, so this is cheap.
        let mut queue = std::collections::VecDeque::from([(from, Vec::new())]);
        while let Some((d, p)) = queue.pop_front() {
            if d == to {
                path = p;
                at = to;
                break;
            }
            if std::mem::replace(&mut seen[d], true) {
                continue;
            }
            for (i, link) in self.datasets[d].links.iter().enumerate() {
                let mut next = p.clone();
                next.push((d, i));
                queue.push_back((link.target, next));
            }
        }
        (at == to).then_some(path)
    }

    pub fn reaches(&self, from: DatasetId, to: DatasetId) -> bool {
        self.link_path(from, to).is_some()
    }
}
