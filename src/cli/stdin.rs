//! `-` as a path means standard input, for every command that reads a KPI file. Standard
//! input can be read only once, so `-` given twice on one command line (as two files,
//! or as a file and `--data NAME=-`) is a usage error; data is never read from it.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use kpiblend::check::{self, CheckOptions, Checked};

use super::Outcome;
use super::output::eprint;

/// The name standard input goes by in diagnostics.
pub const NAME: &str = "<stdin>";

pub fn is_dash(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Refuses a command line that gives `-` more than once, or as a dataset's data; the
/// message is printed and the outcome is a usage error.
pub fn usage<'a>(
    files: impl IntoIterator<Item = &'a Path>,
    data: &[(String, PathBuf)],
) -> Result<(), Outcome> {
    let data_names: Vec<&str> = data.iter().map(|(n, _)| n.as_str()).collect();
    super::given_once("--data", &data_names)?;
    if let Some((name, _)) = data.iter().find(|(_, p)| is_dash(p)) {
        eprint(&format!(
            "error: --data {name}=-: data cannot be read from standard input\n  \
             = help: save it to a file and give its path\n"
        ));
        return Err(Outcome::Failure);
    }
    let dashes = files.into_iter().filter(|p| is_dash(p)).count();
    if dashes > 1 {
        eprint(&format!(
            "error: `-` (standard input) is given {dashes} times, but it can be read only once\n"
        ));
        return Err(Outcome::Failure);
    }
    Ok(())
}

/// All of standard input (up to one byte past the size limit, which the check then
/// refuses: `/dev/zero` on standard input ends), or why it cannot be read.
pub fn read() -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(check::MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read standard input: {}", check::io_reason(&e)))?;
    Ok(bytes)
}

/// A KPI file named on the command line: a path, or the text of standard input (read
/// once, checked as often as the command needs).
pub enum KpiFile {
    Path(PathBuf),
    Stdin(Vec<u8>),
}

impl KpiFile {
    /// Reads standard input for `-`; a read error is printed and is a failure (exit 2).
    pub fn open(path: &Path) -> Result<KpiFile, Outcome> {
        if !is_dash(path) {
            return Ok(KpiFile::Path(path.to_path_buf()));
        }
        read().map(KpiFile::Stdin).map_err(|message| {
            eprint(&format!("error: {message}\n"));
            Outcome::Failure
        })
    }

    /// Checks the file; standard input's relative paths resolve in the current directory.
    pub fn check(&self, opts: &CheckOptions<'_>) -> Checked {
        match self {
            KpiFile::Path(path) => check::check_path(path, opts),
            KpiFile::Stdin(bytes) => check::check_bytes(NAME, bytes.clone(), Path::new(""), opts),
        }
    }

    /// The name to show in messages.
    pub fn name(&self) -> String {
        match self {
            KpiFile::Path(path) => path.display().to_string(),
            KpiFile::Stdin(_) => NAME.to_string(),
        }
    }
}
