//! Values, types and units shared by the checker and the evaluator.

use serde::Serialize;

pub use crate::data::ColumnType;

/// A unit of measure. It decides how a KPI is shown and which values may be combined.
/// Serialised as its name (`"seconds"`, `"percent"`, `"USD"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Unit {
    /// A plain number.
    Plain,
    Seconds,
    Minutes,
    Hours,
    /// A fraction shown as a percentage (0.75 is `75%`).
    Percent,
    Count,
    /// Percentage points on a −100..100 scale (NPS).
    Points,
    /// A currency or any other named unit (`unit "USD"`).
    Custom(String),
    /// A point in time (seconds since 1970), from `min`/`max` of a time column.
    Time,
    /// A day (days since 1970-01-01), from `min`/`max` of a date column.
    Date,
}

impl Unit {
    pub fn from_name(name: &str) -> Option<Unit> {
        Some(match name {
            "seconds" | "second" | "s" => Unit::Seconds,
            "minutes" | "minute" | "min" => Unit::Minutes,
            "hours" | "hour" | "h" => Unit::Hours,
            "percent" | "%" => Unit::Percent,
            "count" => Unit::Count,
            "points" => Unit::Points,
            "number" | "plain" => Unit::Plain,
            _ => return None,
        })
    }

    pub const NAMES: &[&str] =
        &["seconds", "minutes", "hours", "percent", "count", "points", "number"];

    pub fn name(&self) -> String {
        match self {
            Unit::Plain => "number".into(),
            Unit::Seconds => "seconds".into(),
            Unit::Minutes => "minutes".into(),
            Unit::Hours => "hours".into(),
            Unit::Percent => "percent".into(),
            Unit::Count => "count".into(),
            Unit::Points => "points".into(),
            Unit::Custom(s) => s.clone(),
            Unit::Time => "time".into(),
            Unit::Date => "date".into(),
        }
    }

    /// Seconds per unit, for the duration units.
    pub fn seconds_per_unit(&self) -> Option<f64> {
        match self {
            Unit::Seconds => Some(1.0),
            Unit::Minutes => Some(60.0),
            Unit::Hours => Some(3600.0),
            _ => None,
        }
    }
}

impl Serialize for Unit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// The type of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Num(Unit),
    Bool,
    Text,
    Date,
    Time,
    /// The literal `null`: fits anywhere.
    Null,
    /// Not known without the data (no header, no declaration): accepted anywhere.
    Any,
    /// Already reported; suppresses follow-on errors.
    Error,
}

impl Ty {
    pub fn describe(&self) -> String {
        match self {
            Ty::Num(Unit::Plain | Unit::Count) => "number".into(),
            Ty::Num(u) => format!("number ({})", u.name()),
            Ty::Bool => "true/false".into(),
            Ty::Text => "text".into(),
            Ty::Date => "date".into(),
            Ty::Time => "time".into(),
            Ty::Null => "null".into(),
            Ty::Any | Ty::Error => "any".into(),
        }
    }

    pub fn is_num(&self) -> bool {
        matches!(self, Ty::Num(_) | Ty::Any | Ty::Error | Ty::Null)
    }

    pub fn is_bool(&self) -> bool {
        matches!(self, Ty::Bool | Ty::Any | Ty::Error | Ty::Null)
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Ty::Any | Ty::Error | Ty::Null)
    }

    pub fn of_column(ty: ColumnType) -> Ty {
        match ty {
            ColumnType::Int | ColumnType::Number => Ty::Num(Unit::Plain),
            ColumnType::Duration => Ty::Num(Unit::Seconds),
            ColumnType::Bool => Ty::Bool,
            ColumnType::Text => Ty::Text,
            ColumnType::Time => Ty::Time,
            ColumnType::Date => Ty::Date,
        }
    }
}

/// A single value. Times are seconds since the Unix epoch (UTC), dates are days since
/// 1970-01-01, durations are seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Num(f64),
    Bool(bool),
    Text(String),
    #[serde(skip)]
    Date(i64),
    #[serde(skip)]
    Time(f64),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Num(n) | Value::Time(n) => Some(*n),
            #[allow(clippy::cast_precision_loss)]
            Value::Date(d) => Some(*d as f64),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}
