//! Typed column builders: converting one raw cell, type inference, and cell error wording.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::error::escape_value;
use super::parse::{
    NumError, bool_bytes, date_bytes, duration_bytes, int_bytes, number_bytes, time_bytes,
};
use super::{Column, ColumnData, ColumnType};

/// A converted cell, held until every cell of the row is known to be good.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Val {
    Num(f64),
    Bool(u8),
    /// Text already in the dictionary (or null).
    Code(u32),
    /// Text not in the dictionary yet; added when the row is committed.
    NewText,
}

/// Why a cell was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellError {
    Utf8,
    Bad(NumError),
}

/// How an undeclared column got its type, for the late-mismatch message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Inference {
    /// Records in the sample.
    pub sampled: usize,
    /// Whether every sampled cell was empty (so the type is only the default).
    pub all_empty: bool,
}

enum Sink {
    Num(Vec<f64>),
    Bool(Vec<u8>),
    Text(TextSink),
}

#[derive(Default)]
struct TextSink {
    codes: Vec<u32>,
    map: HashMap<Box<str>, u32>,
    /// The previous value and its code: runs of one value skip the hash lookup.
    last: Vec<u8>,
    last_code: Option<u32>,
}

/// One column being loaded.
pub(crate) struct Col {
    pub name: String,
    /// Position of the column in each record.
    pub field: usize,
    pub ty: ColumnType,
    /// `None` when the type was declared.
    pub inference: Option<Inference>,
    sink: Sink,
}

impl Col {
    pub(crate) fn new(
        name: String,
        field: usize,
        ty: ColumnType,
        inference: Option<Inference>,
    ) -> Self {
        let sink = match ty {
            ColumnType::Bool => Sink::Bool(Vec::new()),
            ColumnType::Text => Sink::Text(TextSink::default()),
            _ => Sink::Num(Vec::new()),
        };
        Col { name, field, ty, inference, sink }
    }

    /// Converts one raw cell without storing it. `null` says the cell is empty or a null token.
    #[inline]
    pub(crate) fn convert(&mut self, cell: &[u8], null: bool) -> Result<Val, CellError> {
        if null {
            return Ok(match self.sink {
                Sink::Num(_) => Val::Num(f64::NAN),
                Sink::Bool(_) => Val::Bool(ColumnData::BOOL_NULL),
                Sink::Text(_) => Val::Code(ColumnData::TEXT_NULL),
            });
        }
        let num = |r: Option<f64>| r.ok_or(CellError::Bad(NumError::Invalid));
        let v = match self.ty {
            ColumnType::Int => match int_bytes(cell) {
                Ok(v) => Ok(v),
                // An inferred int column widens to number; out-of-range integers don't, as
                // they are identifiers that `f64` would silently round.
                Err(e) if self.inference.is_some() && e != NumError::OutOfRange => {
                    match number_bytes(cell) {
                        Ok(v) => {
                            self.ty = ColumnType::Number;
                            Ok(v)
                        }
                        Err(_) => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
            .map_err(CellError::Bad),
            ColumnType::Number => number_bytes(cell).map_err(CellError::Bad),
            ColumnType::Duration => num(duration_bytes(cell)),
            ColumnType::Time => num(time_bytes(cell)),
            ColumnType::Date => num(date_bytes(cell)),
            ColumnType::Bool => {
                return bool_bytes(cell, true)
                    .map(|b| Val::Bool(u8::from(b)))
                    .ok_or(CellError::Bad(NumError::Invalid))
                    .map_err(|e| self.refine(e, cell));
            }
            ColumnType::Text => return self.text(cell),
        };
        v.map(Val::Num).map_err(|e| self.refine(e, cell))
    }

    fn text(&mut self, cell: &[u8]) -> Result<Val, CellError> {
        let Sink::Text(t) = &mut self.sink else {
            return Err(CellError::Bad(NumError::Invalid));
        };
        if let Some(code) = t.last_code {
            if t.last == cell {
                return Ok(Val::Code(code));
            }
        }
        let s = std::str::from_utf8(cell).map_err(|_| CellError::Utf8)?;
        match t.map.get(s) {
            Some(&code) => {
                t.last.clear();
                t.last.extend_from_slice(cell);
                t.last_code = Some(code);
                Ok(Val::Code(code))
            }
            None => Ok(Val::NewText),
        }
    }

    /// Turns a generic rejection into a more specific one: bad UTF-8 or surrounding spaces.
    fn refine(&self, e: CellError, cell: &[u8]) -> CellError {
        if e != CellError::Bad(NumError::Invalid) {
            return e;
        }
        if std::str::from_utf8(cell).is_err() {
            return CellError::Utf8;
        }
        let trimmed = cell.trim_ascii();
        if trimmed.len() != cell.len() && !trimmed.is_empty() && accepts(self.ty, trimmed) {
            return CellError::Bad(NumError::Spaces);
        }
        e
    }

    /// Stores a value produced by [`Col::convert`] for the same cell.
    #[inline]
    pub(crate) fn push(&mut self, val: Val, cell: &[u8]) {
        match (&mut self.sink, val) {
            (Sink::Num(v), Val::Num(x)) => v.push(x),
            (Sink::Bool(v), Val::Bool(b)) => v.push(b),
            (Sink::Text(t), Val::Code(c)) => t.codes.push(c),
            (Sink::Text(t), Val::NewText) => {
                // `convert` validated the UTF-8; an impossible failure stores null.
                let Ok(s) = std::str::from_utf8(cell) else {
                    t.codes.push(ColumnData::TEXT_NULL);
                    return;
                };
                let next = u32::try_from(t.map.len()).unwrap_or(ColumnData::TEXT_NULL);
                let code = *t.map.entry(s.into()).or_insert(next);
                t.codes.push(code);
                t.last.clear();
                t.last.extend_from_slice(cell);
                t.last_code = Some(code);
            }
            // A value of the wrong kind cannot come from `convert`; keep the lengths equal.
            (Sink::Num(v), _) => v.push(f64::NAN),
            (Sink::Bool(v), _) => v.push(ColumnData::BOOL_NULL),
            (Sink::Text(t), _) => t.codes.push(ColumnData::TEXT_NULL),
        }
    }

    /// The finished column.
    pub(crate) fn finish(self) -> Column {
        let data = match self.sink {
            Sink::Num(v) => ColumnData::Num(v),
            Sink::Bool(v) => ColumnData::Bool(v),
            Sink::Text(t) => {
                let mut dict: Vec<Box<str>> = vec![Box::from(""); t.map.len()];
                for (value, code) in t.map {
                    if let Some(slot) = dict.get_mut(code as usize) {
                        *slot = value;
                    }
                }
                ColumnData::Text { codes: t.codes, dict }
            }
        };
        Column { name: self.name, ty: self.ty, data }
    }

    /// The message and help for a rejected cell of this column.
    pub(crate) fn describe(&self, err: CellError, raw: &[u8]) -> (String, Option<String>) {
        let shown = escape_value(raw);
        let ty = self.ty;
        let (mut message, mut help) = match err {
            CellError::Utf8 => {
                return (
                    format!("invalid utf-8 in `{shown}`"),
                    Some("save the file as UTF-8".to_owned()),
                );
            }
            CellError::Bad(NumError::Spaces) => (
                format!("cannot parse `{shown}` as {ty} (surrounding spaces)"),
                Some("remove the spaces around the value".to_owned()),
            ),
            CellError::Bad(NumError::NonFinite) => (
                format!("cannot parse `{shown}` as {ty}: non-finite number"),
                Some("leave the cell empty for a missing value".to_owned()),
            ),
            CellError::Bad(NumError::OutOfRange) => (
                format!("cannot parse `{shown}` as {ty}: number out of range"),
                (ty == ColumnType::Int).then(|| {
                    "integers are limited to ±2^53; declare the column as `text` if these are \
                     identifiers"
                        .to_owned()
                }),
            ),
            CellError::Bad(NumError::Invalid) => {
                (format!("cannot parse `{shown}` as {ty}"), type_help(ty, raw))
            }
        };
        if let Some(inf) = self.inference {
            let rows = match inf.sampled {
                1 => "row".to_owned(),
                n => format!("{n} rows"),
            };
            let empty = match (inf.all_empty, inf.sampled) {
                (false, _) => "",
                (true, 1) => ", which was empty",
                (true, _) => ", which were all empty",
            };
            let _ = write!(
                message,
                "; column `{}` was inferred as {ty} from the first {rows}{empty}",
                self.name
            );
            // With no value sampled, the type of this one; else the cell is the odd one
            // out of a typed column, or the column is text after all.
            help = Some(if inf.all_empty {
                let fits =
                    [ColumnType::Bool, ColumnType::Int, ColumnType::Number, ColumnType::Time]
                        .into_iter()
                        .chain([ColumnType::Date])
                        .find(|&t| accepts(t, raw))
                        .unwrap_or(ColumnType::Text);
                format!("declare its type in the dataset block, e.g. `{}: {fits}`", self.name)
            } else {
                format!(
                    "`--bad-rows skip` leaves such rows out; if the column holds text, declare it in the dataset block: `{}: text`",
                    self.name
                )
            });
        }
        (message, help)
    }
}

/// Whether `cell` is a valid non-null value of type `ty`.
fn accepts(ty: ColumnType, cell: &[u8]) -> bool {
    match ty {
        ColumnType::Int => int_bytes(cell).is_ok(),
        ColumnType::Number => number_bytes(cell).is_ok(),
        ColumnType::Bool => bool_bytes(cell, true).is_some(),
        ColumnType::Text => std::str::from_utf8(cell).is_ok(),
        ColumnType::Time => time_bytes(cell).is_some(),
        ColumnType::Date => date_bytes(cell).is_some(),
        ColumnType::Duration => duration_bytes(cell).is_some(),
    }
}

/// A hint for a value that is not of the column's type.
fn type_help(ty: ColumnType, raw: &[u8]) -> Option<String> {
    let numeric = matches!(ty, ColumnType::Int | ColumnType::Number | ColumnType::Duration);
    let help = if numeric && raw.contains(&b',') {
        "numbers use `.` as the decimal separator and no thousands separators"
    } else if numeric && raw.contains(&b'_') {
        "numbers cannot contain `_` separators"
    } else if numeric && (raw.starts_with(b"0x") || raw.starts_with(b"0X")) {
        "hexadecimal numbers are not supported"
    } else if ty == ColumnType::Int && number_bytes(raw).is_ok() {
        "declare the column as `number` to allow fractions"
    } else if numeric && !raw.iter().any(u8::is_ascii_digit) {
        "leave the cell empty for a missing value, or name this text as null: `csv(\"...\", null: \"N/A\")`"
    } else {
        match ty {
            ColumnType::Duration => "expected seconds, `H:MM:SS` or `M:SS`",
            ColumnType::Time if date_bytes(raw).is_some() => {
                "this is a date without a time; declare the column as `date`"
            }
            ColumnType::Time => {
                "expected `YYYY-MM-DDTHH:MM:SS`, optionally with a fraction and `Z` or `±HH:MM`"
            }
            ColumnType::Date if time_bytes(raw).is_some() => {
                "this has a time of day; declare the column as `time`"
            }
            ColumnType::Date => "expected `YYYY-MM-DD`",
            ColumnType::Bool => "expected true/false, yes/no, y/n, t/f or 1/0",
            _ => return None,
        }
    };
    Some(help.to_owned())
}

/// Bit flags of the candidate types, in inference order.
const CANDIDATES: [ColumnType; 5] =
    [ColumnType::Bool, ColumnType::Int, ColumnType::Number, ColumnType::Time, ColumnType::Date];

/// Which candidates accept `cell`, as bits of [`CANDIDATES`] limited to `open`.
fn candidates(cell: &[u8], open: u8) -> u8 {
    let mut ok = 0;
    for (bit, ty) in CANDIDATES.iter().enumerate() {
        let flag = 1 << bit;
        if open & flag == 0 {
            continue;
        }
        let accepted = match ty {
            // Words only: 0/1 columns stay integers.
            ColumnType::Bool => bool_bytes(cell, false).is_some(),
            // Integers beyond 2^53 are identifiers; as numbers they would be rounded.
            ColumnType::Number => {
                number_bytes(cell).is_ok() && int_bytes(cell) != Err(NumError::OutOfRange)
            }
            _ => accepts(*ty, cell),
        };
        if accepted {
            ok |= flag;
        }
    }
    ok
}

/// Infers a type from the sampled non-null cells of one column: the first of bool, int,
/// number, time, date that accepts all of them, else text; number when there are none. Cells
/// that are not UTF-8 are left out (they are reported when the rows are converted).
pub(crate) fn infer<'a>(cells: impl Iterator<Item = &'a [u8]>) -> (ColumnType, bool) {
    let mut open: u8 = (1 << CANDIDATES.len()) - 1;
    let mut any = false;
    for cell in cells {
        let next = candidates(cell, open);
        if next == 0 && std::str::from_utf8(cell).is_err() {
            continue;
        }
        any = true;
        open = next;
        if open == 0 {
            return (ColumnType::Text, false);
        }
    }
    if !any {
        return (ColumnType::Number, true);
    }
    let first = CANDIDATES
        .iter()
        .enumerate()
        .find(|(bit, _)| open & (1 << bit) != 0)
        .map_or(ColumnType::Text, |(_, ty)| *ty);
    (first, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer_strs(cells: &[&str]) -> ColumnType {
        infer(cells.iter().map(|s| s.as_bytes())).0
    }

    #[test]
    fn inference_order_is_bool_int_number_time_date_text() {
        assert_eq!(infer_strs(&["yes", "No", "T", "false"]), ColumnType::Bool);
        assert_eq!(infer_strs(&["0", "1", "1"]), ColumnType::Int);
        assert_eq!(infer_strs(&["-3", "42"]), ColumnType::Int);
        assert_eq!(infer_strs(&["1", "2.5"]), ColumnType::Number);
        assert_eq!(infer_strs(&["1e3"]), ColumnType::Number);
        assert_eq!(infer_strs(&["2024-03-01T10:00:00Z", "2024-03-01 11:00:00"]), ColumnType::Time);
        assert_eq!(infer_strs(&["2024-03-01", "2024-02-29"]), ColumnType::Date);
        assert_eq!(infer_strs(&["2024-03-01", "2024-03-01T10:00:00"]), ColumnType::Text);
        assert_eq!(infer_strs(&["1", "yes"]), ColumnType::Text);
        assert_eq!(infer_strs(&["12,5"]), ColumnType::Text);
        assert_eq!(infer_strs(&["nan", "1"]), ColumnType::Text);
    }

    #[test]
    fn no_cells_infer_number_and_say_so() {
        assert_eq!(infer(std::iter::empty()), (ColumnType::Number, true));
        assert_eq!(infer([&b"1"[..]].into_iter()), (ColumnType::Int, false));
    }

    #[test]
    fn integers_too_large_for_f64_infer_text() {
        assert_eq!(infer_strs(&["12345678901234567890"]), ColumnType::Text);
        assert_eq!(infer_strs(&["9007199254740992"]), ColumnType::Int);
    }

    #[test]
    fn invalid_utf8_cells_do_not_influence_inference() {
        let cells: [&[u8]; 2] = [b"1", b"\xff"];
        assert_eq!(infer(cells.into_iter()).0, ColumnType::Int);
    }

    #[test]
    fn text_codes_are_first_seen_order_and_null_is_max() {
        let mut col = Col::new("q".into(), 0, ColumnType::Text, None);
        for cell in ["b", "a", "b", "", "c", "a"] {
            let v = col.convert(cell.as_bytes(), cell.is_empty()).unwrap();
            col.push(v, cell.as_bytes());
        }
        let c = col.finish();
        assert_eq!(
            c.data,
            ColumnData::Text {
                codes: vec![0, 1, 0, u32::MAX, 2, 1],
                dict: vec!["b".into(), "a".into(), "c".into()],
            }
        );
    }
}
