//! Type and unit rules: which operators apply to which values, what they yield, and
//! constant folding for targets, weights and params.

use super::Checker;
use super::SymKind;
use super::expr::literal;
use crate::ast::{self, BinaryOp, ExprKind, UnaryOp};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::*;
use crate::source::Span;

impl Checker<'_> {
    pub(super) fn unary_type(&mut self, op: UnaryOp, t: &Ty, operand: Span, whole: Span) -> Ty {
        match op {
            UnaryOp::Not => {
                if !t.is_bool() {
                    self.error(
                        Diagnostic::error(
                            Code::NotBoolean,
                            format!("`not` needs a true/false value, found {}", t.describe()),
                        )
                        .at(operand, format!("this is {}", t.describe())),
                    );
                    return Ty::Error;
                }
                Ty::Bool
            }
            UnaryOp::Neg => {
                if !t.is_num() {
                    self.error(
                        Diagnostic::error(
                            Code::TypeMismatch,
                            format!("cannot negate {}", t.describe()),
                        )
                        .at(whole, format!("this is {}", t.describe())),
                    );
                    return Ty::Error;
                }
                if *t == Ty::Null { Ty::Num(Unit::Plain) } else { t.clone() }
            }
        }
    }

    pub(super) fn binary_type(
        &mut self,
        op: BinaryOp,
        (lt, le): (&Ty, &ast::Expr),
        (rt, re): (&Ty, &ast::Expr),
    ) -> Ty {
        if *lt == Ty::Error || *rt == Ty::Error {
            return Ty::Error;
        }
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for (t, e) in [(lt, le), (rt, re)] {
                    if !t.is_bool() {
                        self.error(
                            Diagnostic::error(
                                Code::NotBoolean,
                                format!(
                                    "`{}` needs true/false values, found {}",
                                    op.as_str(),
                                    t.describe()
                                ),
                            )
                            .at(e.span, format!("this is {}", t.describe()))
                            .help("compare it first, e.g. `x > 0`"),
                        );
                        return Ty::Error;
                    }
                }
                Ty::Bool
            }
            BinaryOp::Cmp(_) => {
                self.comparable(lt, rt, le, re);
                Ty::Bool
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                self.arith(op, (lt, le), (rt, re))
            }
        }
    }

    pub(super) fn arith(
        &mut self,
        op: BinaryOp,
        (lt, le): (&Ty, &ast::Expr),
        (rt, re): (&Ty, &ast::Expr),
    ) -> Ty {
        let verb = match op {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "subtract",
            BinaryOp::Mul => "multiply",
            _ => "divide",
        };
        let mismatch = |this: &mut Self| {
            this.error(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!("cannot {verb} {} and {}", lt.describe(), rt.describe()),
                )
                .at(le.span.to(re.span), format!("`{}` needs numbers", op.as_str()))
                .also(le.span, format!("this is {}", lt.describe()))
                .also(re.span, format!("this is {}", rt.describe())),
            );
            Ty::Error
        };
        let unit_mismatch = |this: &mut Self, a: &Unit, b: &Unit| {
            this.error(
                Diagnostic::error(
                    Code::UnitMismatch,
                    format!("cannot {verb} {} and {}", a.name(), b.name()),
                )
                .at(le.span.to(re.span), "the units differ")
                .also(le.span, format!("in {}", a.name()))
                .also(re.span, format!("in {}", b.name())),
            );
            Ty::Error
        };
        let is_sub = op == BinaryOp::Sub;
        match (lt, rt, op) {
            (Ty::Num(a), Ty::Num(b), BinaryOp::Add | BinaryOp::Sub) => match add_units(a, b) {
                Some(u) => Ty::Num(u),
                None => unit_mismatch(self, a, b),
            },
            (Ty::Num(a), Ty::Num(b), BinaryOp::Mul) => {
                let hundred = |e: &ast::Expr| matches!(e.kind, ExprKind::Number(n) if n == 100.0);
                Ty::Num(match (a, b) {
                    (Unit::Percent, Unit::Plain) if hundred(re) => Unit::Points,
                    (Unit::Plain, Unit::Percent) if hundred(le) => Unit::Points,
                    (Unit::Plain, u) | (u, Unit::Plain) => u.clone(),
                    _ => Unit::Plain,
                })
            }
            (Ty::Num(a), Ty::Num(b), _) => Ty::Num(match (a, b) {
                (u, Unit::Plain) => u.clone(),
                (Unit::Count, Unit::Count) => Unit::Percent,
                (x, y) if x == y => Unit::Plain,
                (u, Unit::Count) => u.clone(),
                _ => Unit::Plain,
            }),
            (Ty::Time, Ty::Time, BinaryOp::Sub) => Ty::Num(Unit::Seconds),
            (Ty::Date, Ty::Date, BinaryOp::Sub) => Ty::Num(Unit::Plain),
            (Ty::Time, Ty::Num(Unit::Seconds | Unit::Plain), BinaryOp::Add | BinaryOp::Sub) => {
                Ty::Time
            }
            (Ty::Num(Unit::Seconds | Unit::Plain), Ty::Time, BinaryOp::Add) => Ty::Time,
            (Ty::Date, Ty::Num(Unit::Plain), BinaryOp::Add | BinaryOp::Sub) => Ty::Date,
            (Ty::Any | Ty::Null, t, _) | (t, Ty::Any | Ty::Null, _) => match t {
                Ty::Num(u) if op == BinaryOp::Add || is_sub => Ty::Num(u.clone()),
                Ty::Num(_) | Ty::Any | Ty::Null => Ty::Num(Unit::Plain),
                Ty::Time | Ty::Date if op == BinaryOp::Add || is_sub => Ty::Any,
                _ => mismatch(self),
            },
            _ => mismatch(self),
        }
    }

    /// Reports values that cannot be compared (`time < 5`, `percent == seconds`).
    pub(super) fn comparable(&mut self, a: &Ty, b: &Ty, ae: &ast::Expr, be: &ast::Expr) {
        let ok = match (a, b) {
            (x, y) if x.is_open() || y.is_open() => true,
            (Ty::Num(u), Ty::Num(v)) => {
                if add_units(u, v).is_none() && !(is_duration(u) && is_duration(v)) {
                    self.error(
                        Diagnostic::error(
                            Code::UnitMismatch,
                            format!("cannot compare {} with {}", u.name(), v.name()),
                        )
                        .at(ae.span.to(be.span), "the units differ")
                        .also(ae.span, format!("in {}", u.name()))
                        .also(be.span, format!("in {}", v.name())),
                    );
                }
                true
            }
            (x, y) => std::mem::discriminant(x) == std::mem::discriminant(y),
        };
        if !ok {
            self.error(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!("cannot compare {} with {}", a.describe(), b.describe()),
                )
                .at(ae.span.to(be.span), "these cannot be compared")
                .also(ae.span, format!("this is {}", a.describe()))
                .also(be.span, format!("this is {}", b.describe())),
            );
        }
    }

    /// Reports a condition that is not true/false.
    pub(super) fn condition(&mut self, t: &Ty, e: &ast::Expr, what: &str) {
        if !t.is_bool() {
            self.error(
                Diagnostic::error(
                    Code::NotBoolean,
                    format!("{what} needs a true/false condition, found {}", t.describe()),
                )
                .at(e.span, format!("this is {}", t.describe()))
                .help("compare it, e.g. `calls.wait_s > 20s`"),
            );
        }
    }

    /// The common type of the branches of `case` and `coalesce`.
    pub(super) fn unify(&mut self, acc: Ty, next: Ty, e: &ast::Expr) -> Ty {
        match (&acc, &next) {
            (Ty::Error, _) | (_, Ty::Error) => Ty::Error,
            (Ty::Null, _) => next,
            (_, Ty::Null) => acc,
            (Ty::Any, _) | (_, Ty::Any) => Ty::Any,
            (Ty::Num(a), Ty::Num(b)) => Ty::Num(add_units(a, b).unwrap_or(Unit::Plain)),
            (a, b) if a == b => acc,
            _ => {
                self.error(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!(
                            "branches have different types: {} and {}",
                            acc.describe(),
                            next.describe()
                        ),
                    )
                    .at(e.span, format!("this is {}", next.describe())),
                );
                Ty::Error
            }
        }
    }

    /// Folds a constant expression (literals, params, arithmetic). Reports and returns
    /// `None` when it is not constant.
    pub(super) fn constant(&mut self, e: &ast::Expr, what: &str) -> Option<(Value, Ty)> {
        let not_constant = |this: &mut Self| {
            this.error(
                Diagnostic::error(Code::NotConstant, format!("{what} must be a constant"))
                    .at(e.span, "not a constant")
                    .help("use a number, a percentage, a duration or a param"),
            );
            None
        };
        match &e.kind {
            ExprKind::Name(id) => match self.lookup(&id.name) {
                Some(s) if s.kind == SymKind::Param => {
                    let p = &self.program.params[s.index];
                    Some((p.value.clone(), p.ty.clone()))
                }
                Some(_) => not_constant(self),
                None => {
                    self.unknown_name(id, false);
                    None
                }
            },
            ExprKind::Unary { op: UnaryOp::Neg, operand } => {
                let (v, t) = self.constant(operand, what)?;
                match v {
                    Value::Num(n) => Some((Value::Num(-n), t)),
                    _ => not_constant(self),
                }
            }
            ExprKind::Binary {
                op: op @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div),
                lhs,
                rhs,
            } => {
                let (a, at) = self.constant(lhs, what)?;
                let (b, bt) = self.constant(rhs, what)?;
                let ty = self.arith(*op, (&at, lhs), (&bt, rhs));
                let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                    return not_constant(self);
                };
                let v = match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    _ => x / y,
                };
                if !v.is_finite() {
                    return not_constant(self);
                }
                if matches!(ty, Ty::Date | Ty::Time)
                    && !crate::calendar::value_in_range(v, ty == Ty::Time)
                {
                    self.error(
                        Diagnostic::error(
                            Code::Overflow,
                            format!("{what} {}", crate::eval::DATE_RANGE),
                        )
                        .at(e.span, "beyond the range of dates"),
                    );
                    return None;
                }
                Some((Value::Num(v), ty))
            }
            ExprKind::Column { .. }
            | ExprKind::Call { .. }
            | ExprKind::Case { .. }
            | ExprKind::Unary { .. }
            | ExprKind::Binary { .. }
            | ExprKind::IsNull { .. }
            | ExprKind::InList { .. } => not_constant(self),
            _ => Some(literal(e)),
        }
    }
}

fn is_duration(u: &Unit) -> bool {
    u.seconds_per_unit().is_some()
}

/// The unit of a sum or difference, or `None` when the units cannot be combined.
pub(super) fn add_units(a: &Unit, b: &Unit) -> Option<Unit> {
    match (a, b) {
        (x, y) if x == y => Some(x.clone()),
        (Unit::Plain, u) | (u, Unit::Plain) => Some(u.clone()),
        (Unit::Count, u) | (u, Unit::Count) if !matches!(u, Unit::Percent) && !is_duration(u) => {
            Some(u.clone())
        }
        _ => None,
    }
}
