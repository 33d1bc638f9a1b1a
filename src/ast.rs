//! The syntax tree of a `.kpi` file, as written (names unresolved, types unknown).
//!
//! Every node carries the [`Span`] of the text it came from. `syntax::parse` builds it;
//! `check` resolves it into a [`crate::program::Program`]; `fmt` prints it back.

use crate::source::Span;

/// A name with its place in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal with escapes already processed.
#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
    /// Written as `"""…"""`.
    pub triple: bool,
}

/// One parsed file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Module {
    pub items: Vec<Item>,
    /// `# …` comments, in order, for the formatter.
    pub comments: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `import "other.kpi"`
    Import(StrLit),
    Dataset(Dataset),
    Dim(Dim),
    Param(Param),
    Kpi(Kpi),
    Blend(Blend),
    View(View),
    Note(Note),
    Test(Test),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Import(s) => s.span,
            Item::Dataset(d) => d.span,
            Item::Dim(d) => d.span,
            Item::Param(p) => p.span,
            Item::Kpi(k) => k.span,
            Item::Blend(b) => b.span,
            Item::View(v) => v.span,
            Item::Note(n) => n.span,
            Item::Test(t) => t.span,
        }
    }
}

/// `csv("path", delimiter: ";")`
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSource {
    pub path: StrLit,
    pub options: Vec<(Ident, Expr)>,
    pub span: Span,
}

/// `dataset NAME = csv(...) { col: type  col -> other.col }`
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: Ident,
    pub source: CsvSource,
    pub columns: Vec<ColumnDecl>,
    pub links: Vec<Link>,
    pub span: Span,
}

/// `wait_s: int`
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDecl {
    pub name: Ident,
    pub ty: Ident,
}

/// `contact_id -> calls.contact_id`: each row of this dataset belongs to at most one
/// row of the other.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub column: Ident,
    pub target: Ident,
    pub target_column: Ident,
    pub span: Span,
}

/// `dim NAME = row-expression`
#[derive(Debug, Clone, PartialEq)]
pub struct Dim {
    pub name: Ident,
    pub expr: Expr,
    pub span: Span,
}

/// `param NAME = literal`
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `kpi NAME ["label"] = expr [unit U] [target OP v] [warn OP v] [min N] [tags a, b]`
#[derive(Debug, Clone, PartialEq)]
pub struct Kpi {
    pub name: Ident,
    pub label: Option<StrLit>,
    pub expr: Expr,
    pub unit: Option<UnitSpec>,
    pub target: Option<Bound>,
    pub warn: Option<Bound>,
    pub min: Option<Expr>,
    pub tags: Vec<Ident>,
    pub span: Span,
}

/// `unit seconds` or `unit "USD"`
#[derive(Debug, Clone, PartialEq)]
pub struct UnitSpec {
    pub name: String,
    pub quoted: bool,
    pub span: Span,
}

/// `>= 75%` in `target >= 75%`
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub op: CmpOp,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// `blend [NAME =] a with b [with c] [weights 60%, 40%] [guard expr]`
#[derive(Debug, Clone, PartialEq)]
pub struct Blend {
    pub name: Option<Ident>,
    pub components: Vec<Ident>,
    pub weights: Vec<Expr>,
    pub guard: Option<Expr>,
    pub span: Span,
}

impl Blend {
    /// The written name, or `a_with_b` for an unnamed blend.
    pub fn name(&self) -> String {
        match &self.name {
            Some(n) => n.name.clone(),
            None => {
                self.components.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join("_with_")
            }
        }
    }

    /// Where the name is (or the components, for an unnamed blend).
    pub fn name_span(&self) -> Span {
        match (&self.name, self.components.first(), self.components.last()) {
            (Some(n), _, _) => n.span,
            (None, Some(a), Some(b)) => a.span.to(b.span),
            _ => self.span,
        }
    }
}

/// `view NAME = item, ... [by dim, ...] [where row-condition]`
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub name: Ident,
    pub items: Vec<Ident>,
    pub by: Vec<Ident>,
    pub filter: Option<Expr>,
    pub span: Span,
}

/// `note 2026-03-14 "text"`
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub date: Expr,
    pub text: StrLit,
    pub span: Span,
}

/// `test "name" { calls = csv """...""" expect aht == 180 }`
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub name: StrLit,
    pub data: Vec<TestData>,
    pub expects: Vec<Expect>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestData {
    pub dataset: Ident,
    pub source: TestSource,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TestSource {
    /// `csv("fixtures/calls.csv")`
    File(CsvSource),
    /// `csv """ ... """`
    Inline(StrLit),
}

/// `expect aht_with_csat.verdict == breach`, `expect aht[site = "x"] == 240 within 1`
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub subject: Ident,
    pub field: Option<Ident>,
    pub group: Vec<(Ident, Expr)>,
    pub op: CmpOp,
    pub value: Expr,
    pub within: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `42`, `6.50`, `1_000`, `1e3`
    Number(f64),
    /// `75%`, stored as the fraction 0.75
    Percent(f64),
    /// `20s`, `6m`, `1.5h`, `2d`, stored in seconds
    Duration(f64),
    /// `2026-03-14`, stored as days since 1970-01-01
    Date(i64),
    /// `2026-03-14T09:30:00Z`, stored as seconds since 1970-01-01T00:00:00Z
    Time(f64),
    /// `"text"`
    Str(String),
    /// `true`, `false`
    Bool(bool),
    /// `null`
    Null,
    /// `aht`, `answer_within`, `calls`: a KPI, param, dim, dataset or a bare word
    Name(Ident),
    /// `calls.wait_s`
    Column { dataset: Ident, column: Ident },
    /// `-x`, `not x`
    Unary { op: UnaryOp, operand: Box<Expr> },
    /// `a + b`, `a and b`, `a <= b`
    Binary { op: BinaryOp, lhs: Box<Expr>, rhs: Box<Expr> },
    /// `x is null`, `x is not null`
    IsNull { operand: Box<Expr>, negated: bool },
    /// `x in (a, b)`, `x not in (a, b)`
    InList { operand: Box<Expr>, list: Vec<Expr>, negated: bool },
    /// `case [operand] when a then b ... [else c] end`
    Case { operand: Option<Box<Expr>>, whens: Vec<(Expr, Expr)>, otherwise: Option<Box<Expr>> },
    /// `avg(x where c)`, `percentile(x, 90%)`, `corr(a, b) over agent`
    Call { func: Ident, args: Vec<Expr>, filter: Option<Box<Expr>>, over: Option<Ident> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Cmp(CmpOp),
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Cmp(c) => c.as_str(),
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }
}

impl Expr {
    /// Visits this expression and every sub-expression, parent first. Iterative, so
    /// depth is bounded only by the parser's nesting limit, not the stack.
    pub fn walk<'a>(&'a self, mut f: impl FnMut(&'a Expr)) {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            f(e);
            match &e.kind {
                ExprKind::Unary { operand, .. } | ExprKind::IsNull { operand, .. } => {
                    stack.push(operand)
                }
                ExprKind::Binary { lhs, rhs, .. } => {
                    stack.push(rhs);
                    stack.push(lhs);
                }
                ExprKind::InList { operand, list, .. } => {
                    stack.extend(list.iter().rev());
                    stack.push(operand);
                }
                ExprKind::Case { operand, whens, otherwise } => {
                    if let Some(o) = otherwise {
                        stack.push(o);
                    }
                    for (w, t) in whens.iter().rev() {
                        stack.push(t);
                        stack.push(w);
                    }
                    if let Some(o) = operand {
                        stack.push(o);
                    }
                }
                ExprKind::Call { args, filter, .. } => {
                    if let Some(f) = filter {
                        stack.push(f);
                    }
                    stack.extend(args.iter().rev());
                }
                _ => {}
            }
        }
    }
}

impl Expr {
    /// The expression as an S-expression, spans left out: `(/ (sum calls.cost) handled)`.
    /// Parser tests compare these; they show grouping without any parentheses doubt.
    pub fn sexpr(&self) -> String {
        let list = |head: &str, parts: Vec<String>| format!("({head} {})", parts.join(" "));
        match &self.kind {
            ExprKind::Number(n) => format!("{n}"),
            ExprKind::Percent(n) => format!("{}%", n * 100.0),
            ExprKind::Duration(s) => format!("{s}s"),
            ExprKind::Date(d) => crate::calendar::format_date(*d),
            ExprKind::Time(t) => crate::calendar::format_time(*t),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Null => "null".into(),
            ExprKind::Name(n) => n.name.clone(),
            ExprKind::Column { dataset, column } => format!("{}.{}", dataset.name, column.name),
            ExprKind::Unary { op: UnaryOp::Neg, operand } => list("neg", vec![operand.sexpr()]),
            ExprKind::Unary { op: UnaryOp::Not, operand } => list("not", vec![operand.sexpr()]),
            ExprKind::Binary { op, lhs, rhs } => list(op.as_str(), vec![lhs.sexpr(), rhs.sexpr()]),
            ExprKind::IsNull { operand, negated } => {
                list(if *negated { "is-not-null" } else { "is-null" }, vec![operand.sexpr()])
            }
            ExprKind::InList { operand, list: items, negated } => {
                let mut parts = vec![operand.sexpr()];
                parts.extend(items.iter().map(Expr::sexpr));
                list(if *negated { "not-in" } else { "in" }, parts)
            }
            ExprKind::Case { operand, whens, otherwise } => {
                let mut parts: Vec<String> = operand.iter().map(|o| o.sexpr()).collect();
                parts.extend(
                    whens.iter().map(|(w, t)| format!("(when {} {})", w.sexpr(), t.sexpr())),
                );
                parts.extend(otherwise.iter().map(|o| format!("(else {})", o.sexpr())));
                list("case", parts)
            }
            ExprKind::Call { func, args, filter, over } => {
                let mut parts: Vec<String> = args.iter().map(Expr::sexpr).collect();
                parts.extend(filter.iter().map(|f| format!("(where {})", f.sexpr())));
                parts.extend(over.iter().map(|o| format!("(over {})", o.name)));
                list(&func.name, parts)
            }
        }
    }
}
