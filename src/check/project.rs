//! The project a check runs in: the git work tree that holds the KPI file given on the
//! command line (the nearest directory at or above it with a `.git`), or the file's own
//! directory outside a repository (or [`CheckOptions::root`](super::CheckOptions)). So a
//! scorecard in `scorecards/` may import `../shared/defs.kpi` of the same repository. Paths written in KPI files (data
//! files, test fixtures, imports) resolve against the directory of the file that names
//! them and must stay inside the project, so a KPI file cannot read `/etc/passwd` or
//! `../../secrets.csv`. A symlink counts where it leads. Paths given on the command line
//! (`--data NAME=PATH`) may point anywhere.
//!
//! A path is resolved by canonicalising its longest existing prefix and adding the rest
//! as written (`..` removes a component), so a missing file is judged by where it would
//! be and is then reported as missing by whoever opens it.

use std::path::{Component, Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;

#[derive(Clone)]
pub struct Project {
    /// Resolved as the paths it contains are.
    root: PathBuf,
    /// How the root was found, for messages.
    found: &'static str,
}

impl Project {
    pub fn new(root: &Path) -> Project {
        Project { root: resolve(root), found: "as configured" }
    }

    /// The project of a KPI file in `dir`: its git work tree, else `dir`.
    pub fn around(dir: &Path) -> Project {
        let dir = resolve(dir);
        match dir.ancestors().find(|d| d.join(".git").exists()) {
            Some(tree) => Project { root: tree.to_path_buf(), found: "the git work tree" },
            None => Project { root: dir, found: "the directory of the KPI file" },
        }
    }

    /// Whether `resolved` (a path made absolute by [`resolve`]) is inside the project.
    pub fn contains(&self, resolved: &Path) -> bool {
        resolved.starts_with(&self.root)
    }

    /// The project's directory and how it was found, for messages.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.root.display(), self.found)
    }

    /// An error when `written`, a path in a file whose directory is `file_dir`, is
    /// absolute or leads outside the project. `what` says what the path names ("data
    /// file", "import"); `help` how to do without it.
    pub fn confine(
        &self,
        written: &str,
        file_dir: &Path,
        span: Span,
        what: &str,
        help: &str,
    ) -> Option<Diagnostic> {
        let path = Path::new(written);
        let resolved = resolve(&file_dir.join(path));
        let inside = self.contains(&resolved);
        let absolute = path.has_root() || path.is_absolute();
        if inside && !absolute {
            return None;
        }
        let (message, label) = if inside {
            (format!("{what} `{written}` is an absolute path"), "write it relative to this file")
        } else if absolute {
            (
                format!("{what} `{written}` is outside the project"),
                "absolute paths are allowed only on the command line",
            )
        } else {
            (format!("{what} `{written}` is outside the project"), "this path leaves the project")
        };
        Some(
            Diagnostic::error(Code::OutsideProject, message)
                .at(span, label)
                .note(format!(
                    "the project is {}; this path leads to {}",
                    self.describe(),
                    resolved.display()
                ))
                .help(help.to_string()),
        )
    }
}

/// `dir` joined with a path written in a file, without the `.` steps (`kpis/./a.kpi` is
/// named `kpis/a.kpi` in messages and annotations). `..` stays: through a symlink it is
/// not the step back it looks like.
pub fn join_written(dir: &Path, written: &str) -> PathBuf {
    let joined: PathBuf =
        dir.join(written).components().filter(|c| !matches!(c, Component::CurDir)).collect();
    if joined.as_os_str().is_empty() { PathBuf::from(".") } else { joined }
}

/// `path` made absolute, its longest existing prefix canonicalised (symlinks followed)
/// and the rest added as written.
pub fn resolve(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let parts: Vec<Component<'_>> = absolute.components().collect();
    for known in (1..=parts.len()).rev() {
        let prefix: PathBuf = parts[..known].iter().collect();
        if let Ok(mut out) = std::fs::canonicalize(&prefix) {
            for part in &parts[known..] {
                match part {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(name) => out.push(name),
                    Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
                }
            }
            return out;
        }
    }
    absolute
}
