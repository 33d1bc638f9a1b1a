//! The one diagnostic type shared by every phase: syntax, checking, data loading and
//! evaluation. The library only builds these values; `cli::report` renders them.
//!
//! Message style follows rustc: lowercase, no trailing period, names in backticks, and
//! fixes in `help`. Every [`Code`] is stable and catalogued in `docs/diagnostics.md`
//! with a minimal input that triggers it.

use serde::Serialize;

use crate::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A span with an optional message. The primary label is where the caret points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// Where in a data file a problem was found (data diagnostics have no source span).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataLocation {
    pub path: String,
    /// 1-based physical line.
    pub line: Option<u64>,
    /// 1-based data record (the header is not a record).
    pub record: Option<u64>,
    pub column: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub labels: Vec<Label>,
    /// A file-level location when there is no span: a KPI file that cannot be read.
    pub file: Option<String>,
    pub data: Option<DataLocation>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: Vec::new(),
            file: None,
            data: None,
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message) }
    }

    /// Adds the primary label (the caret) at `span`.
    #[must_use]
    pub fn at(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.insert(0, Label { span, message: message.into(), primary: true });
        self
    }

    /// Adds a secondary label.
    #[must_use]
    pub fn also(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into(), primary: false });
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    #[must_use]
    pub fn in_file(mut self, file: impl Into<String>) -> Diagnostic {
        self.file = Some(file.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).or(self.labels.first()).map(|l| l.span)
    }
}

/// Sorts diagnostics by file and position so output is stable run to run.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| (d.primary_span().map(|s| (s.file, s.start, s.end)), d.severity);
        key(a).cmp(&key(b))
    });
}

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $name:ident = $code:literal,)*) => {
        /// Stable diagnostic codes. The doc comment of each says what triggers it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($(#[doc = $doc])* $name,)* }

        impl Code {
            pub const ALL: &[Code] = &[$(Code::$name,)*];

            /// The code as printed: `KB0101`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code,)* }
            }

            /// What the code means, from its doc comment.
            pub fn describe(self) -> &'static str {
                match self { $(Code::$name => concat!($($doc),*).trim_ascii(),)* }
            }
        }
    };
}

codes! {
    // ---- syntax -------------------------------------------------------------
    /// the text does not follow the grammar
    Syntax = "KB0001",
    /// a string literal is never closed
    UnterminatedString = "KB0002",
    /// brackets or prefix operators nested deeper than the limit (256)
    TooDeep = "KB0003",
    /// a NUL byte or another control character outside a string
    ControlCharacter = "KB0004",
    /// the file is not valid UTF-8
    NotUtf8 = "KB0005",
    /// a numeric literal too large or too small to represent
    NumberOutOfRange = "KB0006",
    /// a malformed date, timestamp or escape sequence
    InvalidLiteral = "KB0007",
    /// the source file exceeds the size limit
    FileTooLarge = "KB0008",
    /// a clause, a `csv(...)` option or a `by` dim given twice, or more than one `where` in one call
    DuplicateClause = "KB0009",
    /// a KPI file that cannot be read
    CannotRead = "KB0010",
    /// dims that, put in wherever they are used, exceed the limit of expression nodes
    TooLarge = "KB0011",
    // ---- names --------------------------------------------------------------
    /// a column that the dataset's header or declarations do not have
    UnknownColumn = "KB0101",
    /// a name that is not defined
    UnknownName = "KB0102",
    /// a dataset that is not defined
    UnknownDataset = "KB0103",
    /// the same name defined twice
    Duplicate = "KB0104",
    /// a function that does not exist
    UnknownFunction = "KB0105",
    /// a column type that does not exist
    UnknownType = "KB0106",
    /// a unit that does not exist
    UnknownUnit = "KB0107",
    /// a name of the wrong kind (a dim where a KPI is needed, …)
    WrongKind = "KB0108",
    /// an imported file that cannot be found or read
    ImportNotFound = "KB0109",
    /// files that import each other
    ImportCycle = "KB0110",
    /// an unknown option of `csv(...)`
    UnknownOption = "KB0111",
    /// a path in a KPI file (data, test data, import) that is absolute or leads outside the project
    OutsideProject = "KB0112",
    /// a name starting with `__`, which kpiblend keeps for the definitions it makes itself
    ReservedName = "KB0113",
    // ---- types --------------------------------------------------------------
    /// an operator applied to values of the wrong type
    TypeMismatch = "KB0201",
    /// a function argument of the wrong type
    ArgumentType = "KB0202",
    /// a function called with the wrong number of arguments
    ArgumentCount = "KB0203",
    /// a condition (`where`, `guard`, `and`, `not`, …) that is not true/false
    NotBoolean = "KB0204",
    /// a column used outside an aggregate in a KPI
    ColumnOutsideAggregate = "KB0205",
    /// an aggregate inside another aggregate, or in a row expression
    NestedAggregate = "KB0206",
    /// a value that must be constant (a target, a param, weights, `min`) is not
    NotConstant = "KB0207",
    /// a value outside its allowed range (a percentile above 100%, a `min` below 1, a negative weight)
    OutOfRange = "KB0208",
    /// a dataset used where a value is needed
    DatasetAsValue = "KB0209",
    // ---- units --------------------------------------------------------------
    /// values with different units combined (`seconds + percent`)
    UnitMismatch = "KB0301",
    /// a target written as a whole number on a percent KPI (`75` for `75%`)
    PercentTarget = "KB0302",
    // ---- KPIs, blends, views ------------------------------------------------
    /// KPIs that depend on each other in a cycle
    Cycle = "KB0401",
    /// a blend component without a target
    ComponentWithoutTarget = "KB0402",
    /// the number of weights differs from the number of components
    WeightCount = "KB0403",
    /// a guard that names no KPI
    GuardWithoutKpi = "KB0404",
    /// a guard that rewards the opposite of a KPI's direction
    GuardAgainstDirection = "KB0405",
    /// a `warn` bound without a target, or one stricter than the target
    WarnBound = "KB0406",
    /// a link between datasets that is invalid (missing column, key types that never match, cycle)
    BadLink = "KB0407",
    /// datasets combined that no link connects (a dim, an aggregate or a grouping)
    Unreachable = "KB0408",
    // ---- data ---------------------------------------------------------------
    /// a data file that cannot be opened or read
    DataFile = "KB0501",
    /// a malformed CSV file: header, quoting, ragged rows, encoding
    CsvFormat = "KB0502",
    /// a cell that does not parse as its column's type
    BadValue = "KB0503",
    /// a duplicate key on the "one" side of a link
    DuplicateKey = "KB0504",
    /// link keys that find no row on the other side (a warning)
    MissingKey = "KB0505",
    /// a data limit exceeded (record size, columns, groups)
    DataLimit = "KB0506",
    /// rows skipped under `--bad-rows skip` (a warning)
    SkippedRows = "KB0507",
    /// a command-line `--param` or `--data` that does not fit
    BadOverride = "KB0508",
    /// durations that are negative: a time minus a later time (a warning)
    NegativeDuration = "KB0509",
    /// a dataset evaluation reads has no rows, or none passes the filter (a warning)
    NoRows = "KB0510",
    /// a column an aggregate reads has no value in any row read (a warning)
    EmptyColumn = "KB0511",
    /// a number beyond the range of numbers (about ±1.8e308), or a date or time beyond years -9999 to 9999
    Overflow = "KB0512",
    /// a division by zero made a KPI, or a row, null (a warning)
    ZeroDenominator = "KB0513",
    /// a column read as text holds numbers but for a few cells (a warning)
    TextAmongNumbers = "KB0514",
    // ---- tests -------------------------------------------------------------
    /// an `expect` that does not hold
    ExpectFailed = "KB0601",
    /// more errors than are shown
    TooManyErrors = "KB0900",
    /// evaluation stopped by Ctrl-C
    Interrupted = "KB0901",
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
