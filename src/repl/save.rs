//! `:save FILE`: the session's definitions written as a KPI file that checks where it is
//! written. Relative paths (data files, test fixtures, imports) are rewritten to lead to
//! the same files from the new file's directory, and each `param` carries the value in
//! force (`:set`, `--param`). Absolute paths are left as written.
//!
//! A save never writes over a data file of the session, and writes over another existing
//! file only when it is the loaded file ("save my changes") or the user says `:save!`.
//! It writes only regular files (a save over `/dev/null` would replace the device with a
//! file). Nor does it write a file that `check` would refuse because its relative paths leave
//! the new file's project (KB0112).

use std::ops::Range;
use std::path::{Component, Path};

use super::{Reply, Session};
use crate::ast::{self, Item, TestSource};
use crate::check::{ProjectRoot, resolve_path};
use crate::render::escape::sanitize_line;
use crate::source::FileId;
use crate::syntax;

impl Session {
    pub(super) fn save(&mut self, path: &Path, overwrite: bool) -> Reply {
        let shown = sanitize_line(&path.display().to_string());
        if let Some(refusal) = self.refusal(path, &shown, overwrite) {
            return Reply::fail(refusal);
        }
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let (raw, leaving) = self.saved_text(dir);
        if let Some((written, moved)) = leaving.first() {
            // `check` would refuse the file (KB0112): say so now, before writing it.
            let project = ProjectRoot::around(dir);
            return Reply::fail(format!(
                "error: {shown} would read files outside its project: `{}` becomes `{}`; nothing was saved\n  = note: the project of {shown} is {}, and `check` refuses paths that leave it (KB0112)\n  = help: save inside the project of the session's files, or copy the data next to the new file\n",
                sanitize_line(written),
                sanitize_line(moved),
                sanitize_line(&project.describe()),
            ));
        }
        // Saved in the canonical layout (as `kpiblend fmt` would write it).
        let text = crate::format::format_source(&path.display().to_string(), &raw).unwrap_or(raw);
        match crate::write::replace_file(path, &text) {
            Ok(()) => {
                self.unsaved = false;
                let mut reply =
                    Reply::ok(format!("saved {} definitions to {shown}\n", self.stmts.len()));
                reply.err = self.unsaved_params();
                reply
            }
            Err(e) => Reply::fail(format!(
                "error: cannot write {shown}: {}\n",
                crate::check::io_reason(&e)
            )),
        }
    }

    /// A note for each `:set` (or `--param`) value of a param the session does not define
    /// itself (it comes from an import): the saved file keeps the import, not the value.
    fn unsaved_params(&self) -> String {
        self.params_in_force()
            .iter()
            .filter(|(name, _)| !self.stmts.iter().any(|s| s.name.as_ref() == Some(name)))
            .map(|(name, value)| {
                format!(
                    "note: `{name} = {}` was not saved: `{name}` is defined in an imported file\n",
                    sanitize_line(value)
                )
            })
            .collect()
    }

    /// Why `path` must not be written, if it must not.
    fn refusal(&self, path: &Path, shown: &str, overwrite: bool) -> Option<String> {
        // A path that does not exist (or cannot be resolved) is nobody's file yet.
        let target = std::fs::canonicalize(path).ok()?;
        // The save renames a new file over the old: over a device or a pipe (`/dev/null`)
        // that would put a regular file in its place.
        if std::fs::metadata(&target).is_ok_and(|m| !m.is_file()) {
            return Some(format!("error: {shown} is not a regular file; nothing was saved\n"));
        }
        let same = |p: &Path| std::fs::canonicalize(p).is_ok_and(|c| c == target);
        let data = self
            .read_from
            .iter()
            .map(|(name, r)| (name.as_str(), r.path.as_path()))
            .chain(
                self.program()
                    .into_iter()
                    .flat_map(|p| p.datasets.iter().map(|d| (d.name.as_str(), d.path.as_path()))),
            )
            .find(|(_, p)| same(p));
        if let Some((name, _)) = data {
            return Some(format!(
                "error: {shown} is the data of dataset `{name}`; nothing was saved\n"
            ));
        }
        // A file the session imports: writing the session over it would lose its
        // definitions and make it import itself.
        let imported = self.program().is_some_and(|p| {
            p.sources.files().any(|(_, f)| !f.name.starts_with('<') && same(Path::new(&f.name)))
        });
        if imported && !self.file.as_deref().is_some_and(same) {
            return Some(format!(
                "error: {shown} is imported by the session; saving over it would lose its definitions, so nothing was saved\n"
            ));
        }
        if overwrite || self.file.as_deref().is_some_and(same) {
            return None;
        }
        Some(format!(
            "error: {shown} already exists and is not the loaded file; nothing was saved\n  = help: `:save! {shown}` writes over it\n"
        ))
    }

    /// The session's statements as they are to be saved in `dir`, and the relative paths
    /// (as written, as rewritten) that would lead outside the project there.
    fn saved_text(&self, dir: &Path) -> (String, Vec<(String, String)>) {
        let text = self.source().text;
        let parsed = syntax::parse(FileId(0), &text);
        let (from, to) = (resolve_path(&self.base_dir), resolve_path(dir));
        let project = ProjectRoot::around(dir);
        let mut edits: Vec<(Range<usize>, String)> = Vec::new();
        let mut leaving = Vec::new();
        let mut path = |lit: &ast::StrLit| {
            let written = Path::new(&lit.value);
            if from != to && !written.has_root() && !written.is_absolute() {
                let target = resolve_path(&from.join(written));
                let moved = relative(&to, &target);
                if !project.contains(&target) {
                    leaving.push((lit.value.clone(), moved.clone()));
                }
                edits.push((lit.span.range(), crate::format::escaped(&moved)));
            }
        };
        for item in &parsed.module.items {
            match item {
                Item::Import(lit) => path(lit),
                Item::Dataset(d) => path(&d.source.path),
                Item::Test(t) => {
                    for data in &t.data {
                        if let TestSource::File(src) = &data.source {
                            path(&src.path);
                        }
                    }
                }
                _ => {}
            }
        }
        let params = self.params_in_force();
        for item in &parsed.module.items {
            if let Item::Param(p) = item {
                if let Some((_, value)) = params.iter().rev().find(|(n, _)| *n == p.name.name) {
                    edits.push((p.value.span.range(), value.clone()));
                }
            }
        }
        edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
        let mut out = text;
        for (range, with) in edits {
            out.replace_range(range, &with);
        }
        (out, leaving)
    }
}

/// `target` as a path relative to the directory `from` (both resolved), with `/`.
fn relative(from: &Path, target: &Path) -> String {
    let from: Vec<Component<'_>> = from.components().collect();
    let target: Vec<Component<'_>> = target.components().collect();
    let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(target[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    if parts.is_empty() { ".".into() } else { parts.join("/") }
}

#[cfg(test)]
mod tests {
    use super::relative;
    use std::path::Path;

    #[test]
    fn relative_paths_climb_to_the_common_directory() {
        let r = |a: &str, b: &str| relative(Path::new(a), Path::new(b));
        assert_eq!(r("/p/sub", "/p/data/calls.csv"), "../data/calls.csv");
        assert_eq!(r("/p", "/p/data/calls.csv"), "data/calls.csv");
        assert_eq!(r("/p/a/b", "/p/c.kpi"), "../../c.kpi");
        assert_eq!(r("/p", "/p"), ".");
    }
}
