//! The embedding API: load definitions, bind data, evaluate, read results.
//!
//! ```
//! use kpiblend::Project;
//!
//! let mut project = Project::from_source(
//!     "inline.kpi",
//!     r#"
//!     dataset calls = csv("calls.csv")
//!     kpi handled = count(calls where not calls.abandoned)
//!     kpi aht = avg(calls.talk_s where not calls.abandoned) unit seconds target <= 5m
//!     "#,
//! );
//! project.bind_csv("calls", "talk_s,abandoned\n200,false\n400,false\n,true\n".as_bytes()).unwrap();
//! let report = project.scorecard().unwrap();
//! assert_eq!(report.kpi_value("handled", &[]), Some(2.0));
//! assert_eq!(report.kpi_value("aht", &[]), Some(300.0));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::check::{self, CheckOptions, Checked, SchemaSource};
use crate::data::{self, LoadOptions, Table};
use crate::diagnostic::Diagnostic;
use crate::eval::{self, Data, DataOptions, FileSchemas, Report, Request};
use crate::program::{DatasetDef, Program};
use crate::render::diagnostics;
use crate::source::SourceMap;

/// KPI definitions and the data bound to them.
pub struct Project {
    name: String,
    text: String,
    base_dir: PathBuf,
    bound: HashMap<String, Arc<Table>>,
    params: Vec<(String, String)>,
    data_paths: Vec<(String, PathBuf)>,
    load: LoadOptions,
    /// The last [`Project::check`], kept while nothing it depends on can have changed:
    /// only for definitions that import nothing and datasets that are all bound (a check
    /// that reads files, which may change, is done again on every call). Every `&mut self`
    /// method clears it.
    checked: std::sync::Mutex<Option<Checked>>,
}

/// Errors with the sources they point into; `Display` renders them as `check` does.
#[derive(Debug, Clone)]
pub struct Error {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: SourceMap,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            f.write_str(&diagnostics::human(d, &self.sources, false))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl Project {
    /// Definitions from a file; data paths resolve against its directory.
    pub fn from_file(path: &Path) -> Result<Project, Error> {
        let text = check::read_source(path).map_err(|(code, message)| Error {
            diagnostics: vec![Diagnostic::error(code, message).in_file(path.display().to_string())],
            sources: SourceMap::new(),
        })?;
        let mut p = Project::from_source(&path.display().to_string(), &text);
        p.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(p)
    }

    /// Definitions from a string; data paths resolve against the current directory.
    pub fn from_source(name: &str, text: &str) -> Project {
        Project {
            name: name.to_string(),
            text: text.to_string(),
            base_dir: PathBuf::new(),
            bound: HashMap::new(),
            params: Vec::new(),
            data_paths: Vec::new(),
            load: LoadOptions::default(),
            checked: std::sync::Mutex::new(None),
        }
    }

    /// Resolves relative paths (data, imports) against `dir`.
    pub fn set_base_dir(&mut self, dir: &Path) {
        self.changed();
        self.base_dir = dir.to_path_buf();
    }

    /// The bound tables, by dataset name.
    pub fn tables(&self) -> &HashMap<String, Arc<Table>> {
        &self.bound
    }

    /// Overrides a param, as `--param name=value` does.
    pub fn set_param(&mut self, name: &str, value: &str) {
        self.changed();
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_string(), value.to_string()));
    }

    /// Reads a dataset from another file, as `--data name=path` does.
    pub fn set_data_path(&mut self, dataset: &str, path: &Path) {
        self.changed();
        self.data_paths.retain(|(n, _)| n != dataset);
        self.data_paths.push((dataset.to_string(), path.to_path_buf()));
    }

    /// Options for reading CSV files (bad-row policy, limits, null tokens).
    pub fn set_load_options(&mut self, load: LoadOptions) {
        self.changed();
        self.load = load;
    }

    /// Binds a dataset to CSV text from any reader (every column is loaded).
    pub fn bind_csv(&mut self, dataset: &str, reader: impl std::io::Read) -> Result<(), Error> {
        self.changed();
        let program = self.checked(None, &[]).program;
        let declared = program.dataset(dataset).map(|d| program.datasets[d].declared.clone());
        let opts = LoadOptions { declared: declared.unwrap_or_default(), ..self.load.clone() };
        let table = data::load_csv(reader, dataset, &opts).map_err(|e| Error {
            diagnostics: vec![eval::load_error(e)],
            sources: SourceMap::new(),
        })?;
        self.bound.insert(dataset.to_string(), Arc::new(table));
        Ok(())
    }

    /// Binds a dataset to a table the host built.
    pub fn bind_table(&mut self, dataset: &str, table: impl Into<Arc<Table>>) {
        self.changed();
        self.bound.insert(dataset.to_string(), table.into());
    }

    /// Checks the definitions against the bound data and the data files' headers.
    pub fn check(&self) -> Checked {
        if let Some(checked) = self.checked.lock().ok().and_then(|c| c.clone()) {
            return checked;
        }
        let schemas = BoundSchemas { bound: &self.bound };
        let checked = self.checked(Some(&schemas), &[]);
        let reads_files = checked.program.sources.files().nth(1).is_some()
            || !checked.program.tests.is_empty()
            || checked.program.datasets.iter().any(|d| !self.bound.contains_key(&d.name));
        if !reads_files && let Ok(mut cache) = self.checked.lock() {
            *cache = Some(checked.clone());
        }
        checked
    }

    /// Forgets the last check: something it depends on is about to change.
    fn changed(&mut self) {
        if let Ok(cache) = self.checked.get_mut() {
            *cache = None;
        }
    }

    fn checked(&self, schemas: Option<&dyn SchemaSource>, extra: &[(String, String)]) -> Checked {
        let opts = CheckOptions {
            params: self.params.clone(),
            data: self.data_paths.clone(),
            schemas,
            extra: extra.to_vec(),
            ..CheckOptions::default()
        };
        check::check_text(&self.name, &self.text, &self.base_dir, &opts)
    }

    /// Every KPI and blend, ungrouped.
    pub fn scorecard(&self) -> Result<Report, Error> {
        let checked = self.ready(&[])?;
        self.run(&checked.program, Request::scorecard(&checked.program))
    }

    /// A view defined in the file.
    pub fn view(&self, name: &str) -> Result<Report, Error> {
        let checked = self.ready(&[])?;
        let Some(view) = checked.program.view(name) else {
            let d = Diagnostic::error(
                crate::diagnostic::Code::UnknownName,
                format!("no view named `{name}`"),
            );
            return Err(Error { diagnostics: vec![d], sources: checked.program.sources });
        };
        self.run(&checked.program, Request::view(view))
    }

    /// KPIs and blends by name, grouped by dims, over the rows where `filter` holds
    /// (a row condition in the language, e.g. `calls.channel == "voice"`).
    pub fn query(
        &self,
        items: &[&str],
        by: &[&str],
        filter: Option<&str>,
    ) -> Result<Report, Error> {
        let mut text = format!("view __query =\n{}\n", items.join(", "));
        if !by.is_empty() {
            text.push_str(&format!("by {}\n", by.join(", ")));
        }
        if let Some(f) = filter {
            text.push_str(&format!("where {f}\n"));
        }
        let checked = self.ready(&[("<query>".to_string(), text)])?;
        let view = checked.program.view("__query").cloned();
        match view {
            Some(v) => self.run(&checked.program, Request::view(&v)),
            None => {
                Err(Error { diagnostics: checked.diagnostics, sources: checked.program.sources })
            }
        }
    }

    /// Checks `extra` definitions on top of the file (as the REPL does with what is
    /// typed) and evaluates the view `view` they define, grouped by `view`'s dims.
    pub fn evaluate_extra(
        &self,
        extra_name: &str,
        extra: &str,
        view: &str,
        cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ) -> Result<Report, Error> {
        let checked = self.ready(&[(extra_name.to_string(), extra.to_string())])?;
        let Some(v) = checked.program.view(view).cloned() else {
            return Err(Error {
                diagnostics: checked.diagnostics,
                sources: checked.program.sources,
            });
        };
        let request = Request { cancel, ..Request::view(&v) };
        self.run(&checked.program, request)
    }

    /// Checks the definitions and `extra` together, against the bound data.
    pub fn check_extra(&self, extra_name: &str, extra: &str) -> Checked {
        let schemas = BoundSchemas { bound: &self.bound };
        self.checked(Some(&schemas), &[(extra_name.to_string(), extra.to_string())])
    }

    fn ready(&self, extra: &[(String, String)]) -> Result<Checked, Error> {
        let checked = if extra.is_empty() {
            self.check()
        } else {
            self.checked(Some(&BoundSchemas { bound: &self.bound }), extra)
        };
        if checked.has_errors() {
            return Err(Error {
                diagnostics: checked.diagnostics,
                sources: checked.program.sources,
            });
        }
        Ok(checked)
    }

    fn run(&self, program: &Program, request: Request) -> Result<Report, Error> {
        let err =
            |diagnostics: Vec<Diagnostic>| Error { diagnostics, sources: program.sources.clone() };
        let mut tables = HashMap::new();
        for (id, ds) in program.datasets.iter().enumerate() {
            let table = match self.bound.get(&ds.name) {
                Some(t) => t.clone(),
                None => {
                    let opts =
                        DataOptions { load: self.load.clone(), all_columns: false, columns: None };
                    let mut load = opts.load.clone();
                    load.delimiter = ds.delimiter;
                    load.declared = ds.declared.clone();
                    load.null_tokens.extend(ds.null_tokens.iter().cloned());
                    load.columns = Some(eval::referenced_columns(program, id));
                    let path = ds.path.display().to_string();
                    Arc::new(
                        data::open_data_file(&ds.path)
                            .and_then(|f| data::load_csv(f, &path, &load))
                            .map_err(|e| err(vec![eval::load_error(e)]))?,
                    )
                }
            };
            tables.insert(ds.name.clone(), table);
        }
        let data = Data::from_tables(program, tables).map_err(err)?;
        eval::evaluate(program, &data, &request).map_err(err)
    }
}

/// Schemas from bound tables, falling back to the data files.
struct BoundSchemas<'a> {
    bound: &'a HashMap<String, Arc<Table>>,
}

impl SchemaSource for BoundSchemas<'_> {
    fn schema(&self, dataset: &DatasetDef) -> Result<crate::check::Schema, Diagnostic> {
        match self.bound.get(&dataset.name) {
            Some(t) => Ok(crate::check::Schema {
                columns: t.columns.iter().map(|c| (c.name.clone(), c.ty)).collect(),
                untyped: t.report.untyped.clone(),
                text_among_numbers: t.report.text_among_numbers.clone(),
            }),
            None => FileSchemas.schema(dataset),
        }
    }
}
