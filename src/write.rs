//! Writing a file whole: `fmt` and the REPL's `:save` replace files this way.

use std::io::Write as _;
use std::path::Path;

/// Replaces the file's contents atomically: the text goes to a temporary file next to the
/// real one (a symlink's target, not the link), is flushed to disk, then renamed over it.
/// A file that exists keeps its permissions and, where the user may give them (root
/// formatting a user's checkout), its owner and group. On an error the file is unchanged
/// and the temporary file removed.
pub fn replace_file(path: &Path, text: &str) -> std::io::Result<()> {
    let existing = std::fs::canonicalize(path).ok();
    let target = existing.as_deref().unwrap_or(path);
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.kpiblend-{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        if existing.is_some() {
            let meta = std::fs::metadata(target)?;
            file.set_permissions(meta.permissions())?;
            keep_owner(&file, &meta);
        }
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Gives the new file the old one's owner and group. Only root (or the owner, for a group
/// it is in) may; anyone else writes files they own, as every editor does.
#[cfg(unix)]
fn keep_owner(file: &std::fs::File, old: &std::fs::Metadata) {
    use std::os::unix::fs::MetadataExt as _;
    if std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())).is_err() {
        let _ = std::os::unix::fs::fchown(file, None, Some(old.gid()));
    }
}

#[cfg(not(unix))]
fn keep_owner(_: &std::fs::File, _: &std::fs::Metadata) {}
